"""A 50k-file repository through the real server: background index, partial maps, restart.

Slow tier (`make test-slow`): the workspace is the CPython stdlib hard-linked
28 times under renamed folders (~50k files, no download). Asserts properties,
never timings: indexing reports progress; a turn during indexing works and
its map says it is partial; once indexed the map is whole; a server started
again on the same database restores the index (parses nothing) and its
first map is whole. bench/repomap/bench_repomap.py measures the times.
"""

from __future__ import annotations

import asyncio
import json
import os
import sysconfig
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from orion_lsp.context.files import walk_files
from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .harness import Session, rows, start_session

pytestmark = pytest.mark.slow

COPIES = 28
INDEX_TIMEOUT_S = 3600  # a bound for a loaded 2-core machine, not a target


def make_big_workspace(root: Path) -> tuple[Path, int]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    ws = root / "monorepo"
    files = [e.rel_path for e in walk_files(stdlib)]
    for k in range(COPIES):
        for rel in files:
            out = ws / f"service_{k:02d}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            os.link(stdlib / rel, out)
    (ws / "service_00" / "needle_module.py").write_text(
        "def find_the_needle_in_the_monorepo(haystack):\n    return 'nädel 🪡'\n", "utf-8"
    )
    return ws, COPIES * len(files) + 1


async def status(session: Session) -> dict:
    return (await session.command("orion.status", {}))["repoMap"]


async def wait_complete(session: Session) -> dict:
    async with asyncio.timeout(INDEX_TIMEOUT_S):
        while True:
            s = await status(session)
            if s.get("complete", 0) >= 1:
                return s
            await asyncio.sleep(1)


def system_prompt(model: ScriptedModelServer) -> str:
    return model.requests[-1]["messages"][0]["content"]


def llm_call_map_stats(db: Path, turn_id: str) -> dict:
    sql = "SELECT payload FROM trace_events WHERE turn_id = ? AND type = 'llm_call'"
    return json.loads(rows(db, sql, (turn_id,))[0][0])["map"]


async def test_a_50k_file_repository(tmp_path: Path) -> None:
    ws, nfiles = make_big_workspace(tmp_path)
    assert nfiles > 50_000
    db = tmp_path / "data" / "orion.db"
    db.parent.mkdir()
    with ScriptedModelServer(default=ScriptedReply(text="Looked at the map.")) as model:
        session = await start_session(ws, db, model, caps="visual-studio-code")
        try:
            # Indexing runs in the background and reports progress.
            async with asyncio.timeout(600):
                while not any(
                    str(t).startswith("orion-index-") for t in session.client.progress_reports
                ):
                    await asyncio.sleep(0.2)
            token = next(
                t for t in session.client.progress_reports if str(t).startswith("orion-index-")
            )
            reports = session.client.progress_reports[token]
            assert isinstance(reports[0], lsp.WorkDoneProgressBegin)

            # A turn while indexing: it works, and its map says it is partial.
            s = await status(session)
            assert s["complete"] < 1
            during = await session.chat("where is find_the_needle_in_the_monorepo defined?")
            assert during["status"] == "completed"
            assert "(partial map: " in system_prompt(model)
            stats = llm_call_map_stats(db, during["turnId"])
            assert stats["partial"] is True and stats["complete"] < 1

            done = await wait_complete(session)
            assert done["files"] > 50_000 and done["parsed"] > 50_000
            reported = [r for r in reports if isinstance(r, lsp.WorkDoneProgressReport)]
            assert any(0 < (r.percentage or 0) < 100 for r in reported)
            async with asyncio.timeout(60):
                while not isinstance(reports[-1], lsp.WorkDoneProgressEnd):
                    await asyncio.sleep(0.1)

            after = await session.chat("and find_the_needle_in_the_monorepo now?")
            prompt = system_prompt(model)
            assert "(partial map: " not in prompt
            assert "service_00/needle_module.py:" in prompt
            assert llm_call_map_stats(db, after["turnId"])["partial"] is False
        finally:
            await session.client.shutdown_session()

        # Restart on the same database: the index is restored, nothing re-parsed.
        session = await start_session(ws, db, model, caps="visual-studio-code")
        try:
            again = await wait_complete(session)
            assert again["parsed"] == 0 and again["files"] == done["files"]
            turn = await session.chat("find_the_needle_in_the_monorepo?")
            assert turn["status"] == "completed"
            assert "service_00/needle_module.py:" in system_prompt(model)
            assert llm_call_map_stats(db, turn["turnId"])["partial"] is False
        finally:
            await session.client.shutdown_session()
