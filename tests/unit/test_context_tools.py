"""symbols/find_symbol tools, the RepoContext provider and `orion repomap`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orion_lsp.context.cli import repomap_main
from orion_lsp.context.provider import RepoContext
from orion_lsp.context.tools import context_tools
from orion_lsp.project import project_for
from orion_lsp.testing.fakes import make_context

FIXTURE_REPO = Path(__file__).parent.parent / "fixtures" / "repomap" / "repo"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPO, dst)
    return dst


async def test_tools_from_the_index(repo: Path) -> None:
    ctx_provider = RepoContext()
    project = project_for(repo)
    ctx_provider.ensure(project)
    await ctx_provider.wait_built(project.root)
    symbols, find = context_tools(ctx_provider.index_for)
    ctx = make_context(repo)

    r = await symbols.run({"path": "engine/src/lib.rs"}, ctx)
    assert r.ok and "10: method rank_documents" in r.content and "1: class Engine" in r.content
    r = await symbols.run({"path": "../outside.py"}, ctx)
    assert not r.ok

    r = await find.run({"name": "slugify"}, ctx)
    assert r.ok and r.content.startswith("app/util.py:1: function slugify")
    r = await find.run({"name": "apiclient"}, ctx)  # wrong case: loose match
    assert r.ok and "web/client.ts:6: class ApiClient" in r.content and "similar" in r.content
    r = await find.run({"name": "nothing_like_this"}, ctx)
    assert r.ok and r.data["count"] == 0
    r = await find.run({"name": "two words"}, ctx)
    assert not r.ok


async def test_provider_context_block_and_status(repo: Path) -> None:
    rc = RepoContext()
    project = project_for(repo)
    rc.ensure(project)
    await rc.wait_built(project.root)
    block = await rc.context_for(
        project, prompt="where is ServeItems?", active_file=None, touched=[], budget_tokens=80
    )
    assert "ServeItems" in block.text
    assert block.stats["complete"] == 1.0 and 0 < block.stats["mapTokens"] <= 80
    assert rc.stats()["files"] == 9 and rc.stats()["symbols"] > 20
    await rc.close()


def test_cli_prints_map_and_stats(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        repomap_main(
            [str(repo), "--tokens", "100", "--focus", "web/view.tsx", "--stats", "--no-cache"]
        )
        == 0
    )
    out = capsys.readouterr().out
    body, stats = out.rsplit("\n# files:", 1)
    assert len(body.rstrip("\n")) <= 100 * 4 + 1
    assert "web/client.ts:" in body
    assert "symbols:" in stats and "build:" in stats


def test_cli_usage_errors(tmp_path: Path) -> None:
    assert repomap_main([str(tmp_path / "missing")]) == 2
    assert repomap_main(["--tokens", "x"]) == 2
