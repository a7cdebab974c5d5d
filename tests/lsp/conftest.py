from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from orion_lsp.testing import ScriptedModelServer

from .harness import Session, make_workspace, start_session


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d / "orion.db"


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture(params=["visual-studio-code", "neovim"])
def caps(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest_asyncio.fixture
async def session(
    workspace: Path, db_path: Path, model: ScriptedModelServer, caps: str
) -> AsyncIterator[Session]:
    s = await start_session(workspace, db_path, model, caps=caps)
    yield s
    await s.client.shutdown_session()
