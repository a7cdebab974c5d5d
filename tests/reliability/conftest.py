"""Fixtures of the reliability tier: real server processes over raw stdio, a real
SQLite file, the scripted model over real HTTP, and a zygote that forks warm servers."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply
from tests.lsp.harness import make_workspace

from .rawclient import RawServer
from .zygote import ZygoteClient

REPO_ROOT = str(Path(__file__).resolve().parents[2])
API_KEY = "sk-orion-reliability-CANARY-7c1d9e2f4a6b"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything in this folder belongs to the reliability tier.
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.reliability)


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def server_env(model: ScriptedModelServer | None, db: Path | str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORION_", "OPENAI_", "LITELLM_", "ANTHROPIC_"))
    }
    env.update(ORION_DB=str(db), ORION_API_KEY=API_KEY)
    if model is not None:
        env.update(ORION_MODEL=model.model, ORION_API_BASE=model.base_url)
    env.update(extra)
    return env


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
    with ScriptedModelServer(default=ScriptedReply(text="default scripted answer")) as srv:
        yield srv


@pytest.fixture(scope="session")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZygoteClient]:
    z = ZygoteClient(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


Starter = Callable[..., RawServer]


@pytest.fixture
def start_server(tmp_path: Path, zygote: ZygoteClient) -> Iterator[Starter]:
    """start_server(env, workspace=None, warm=True, ...) -> an initialized RawServer."""
    started: list[RawServer] = []
    counter = iter(range(1_000_000))

    def start(
        env: dict[str, str],
        workspace: Path | None = None,
        *,
        warm: bool = True,
        process_id: int | None = None,
        init_options: dict[str, Any] | None = None,
        **kw: Any,
    ) -> RawServer:
        n = next(counter)
        server = RawServer(
            env,
            log_file=tmp_path / f"server-{n}.log",
            stderr_file=tmp_path / f"server-{n}.stderr",
            spawn=zygote.spawn if warm else None,
            **kw,
        )
        started.append(server)
        if workspace is not None:
            server.initialize(workspace, process_id=process_id, init_options=init_options)
        return server

    yield start
    for s in started:
        s.close()
