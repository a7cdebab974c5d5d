"""Orion itself against the real local model: the real server subprocess, real SQLite,
real llama.cpp with SmolLM2 (marker `realmodel`, run by `make test-realmodel`)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.e2e.test_realmodel import smollm2  # noqa: F401  (module-scoped server fixture)
from tests.lsp.harness import rows, start_session

pytestmark = [pytest.mark.realmodel]


def env_for(base: str, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(ORION_MODEL="openai/smollm2", ORION_API_BASE=base, ORION_DB=str(db))
    return env


async def _wait_until_idle(base: str) -> None:
    from orion_lsp.agent.litellm_setup import NO_RETRY_KWARGS, import_litellm

    litellm = import_litellm()
    async with asyncio.timeout(120):
        while True:
            try:
                await litellm.acompletion(
                    model="openai/smollm2",
                    api_base=base,
                    api_key="orion-local",
                    messages=[{"role": "user", "content": "hi"}],
                    max_tokens=1,
                    **NO_RETRY_KWARGS,
                )
                return
            except Exception:
                await asyncio.sleep(1)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "prices.py").write_text(
        'def total(prices):\n    """Sum of the prices."""\n    return sum(prices)\n'
    )
    return ws


async def test_chat_turn_streams_real_tokens_and_is_stored(smollm2, workspace, tmp_path):  # noqa: F811
    db = tmp_path / "orion.db"
    s = await start_session(workspace, db, None, env=env_for(smollm2, db))  # type: ignore[arg-type]
    try:
        result = await s.chat("In one sentence, what is Python?")
        assert result["status"] == "completed"
        turn = result["turnId"]
        pieces = [d["delta"] for d in s.deltas if d["turnId"] == turn]
        assert len(pieces) >= 3, pieces  # streamed, not one blob
        assert "".join(pieces) == result["answer"] and result["answer"].strip()
        stored = rows(
            db, "SELECT role, content FROM chat_messages WHERE turn_id=? ORDER BY id", (turn,)
        )
        assert stored == [
            ("user", "In one sentence, what is Python?"),
            ("assistant", result["answer"]),
        ]
        types = [
            t
            for (t,) in rows(
                db, "SELECT type FROM trace_events WHERE turn_id=? ORDER BY seq", (turn,)
            )
        ]
        assert types[0] == "turn_start" and types[-1] == "turn_end" and "llm_call" in types
        llm = [
            json.loads(p)
            for (p,) in rows(
                db, "SELECT payload FROM trace_events WHERE turn_id=? AND type='llm_call'", (turn,)
            )
        ]
        assert llm[0]["window"] == 2048  # learned from the real server
        assert llm[0]["tokens"]["completion_tokens"] > 0
    finally:
        await s.client.shutdown_session()


async def test_cancel_during_a_real_stream(smollm2, workspace, tmp_path):  # noqa: F811
    db = tmp_path / "orion.db"
    s = await start_session(workspace, db, None, env=env_for(smollm2, db))  # type: ignore[arg-type]
    try:
        task = asyncio.create_task(s.chat("Write a very long story about a lighthouse keeper."))
        async with asyncio.timeout(120):
            while len(s.deltas) < 3:
                await asyncio.sleep(0.05)
        turn = s.deltas[0]["turnId"]
        assert await s.command("orion.cancel", {"turnId": turn}) == {"cancelled": True}
        result = await asyncio.wait_for(task, 30)
        assert result["status"] == "cancelled"
        end = rows(
            db, "SELECT payload FROM trace_events WHERE turn_id=? AND type='turn_end'", (turn,)
        )
        assert json.loads(end[0][0])["status"] == "cancelled"
        # llama-cpp-python keeps generating the abandoned stream for a while (a new
        # stream meanwhile ends early, which Orion reports as a model error); once it
        # answers again, so does Orion.
        await _wait_until_idle(smollm2)
        again = await s.chat("Say hi.")
        assert again["status"] == "completed"
    finally:
        await s.client.shutdown_session()


async def test_history_larger_than_the_window_is_dropped_and_recorded(smollm2, workspace, tmp_path):  # noqa: F811
    db = tmp_path / "orion.db"
    s = await start_session(workspace, db, None, env=env_for(smollm2, db))  # type: ignore[arg-type]
    try:
        pid = (await s.command("orion.status", {}))["projects"][0]["projectId"]
        # History is per thread: ten long turns of one thread, then a turn in it.
        thread = uuid.uuid4().hex
        con = sqlite3.connect(db)
        with con:
            con.execute(
                "INSERT INTO threads(id, project_id, title, created_at, updated_at)"
                " VALUES (?,?,?,?,?)",
                (thread, pid, "long", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:09.000Z"),
            )
            for i in range(10):
                tid = uuid.uuid4().hex
                for role, text in (
                    ("user", f"question {i} " + "lorem ipsum " * 60),
                    ("assistant", f"answer {i} " + "dolor sit " * 60),
                ):
                    con.execute(
                        "INSERT INTO chat_messages(project_id, turn_id, role, content,"
                        " created_at, thread_id) VALUES (?,?,?,?,?,?)",
                        (pid, tid, role, text, f"2026-01-01T00:00:{i:02d}.000Z", thread),
                    )
        con.close()
        result = await s.chat("Reply with one word: ready?", threadId=thread)
        assert result["status"] == "completed"
        llm = [
            json.loads(p)
            for (p,) in rows(
                db,
                "SELECT payload FROM trace_events WHERE turn_id=? AND type='llm_call'",
                (result["turnId"],),
            )
        ]
        assert llm[0]["fit"]["droppedMessages"] > 0 and llm[0]["fit"]["overBy"] == 0

        with pytest.raises(JsonRpcException) as exc:
            await s.chat("Summarize: " + "a very long text " * 2500)
        assert exc.value.code == -32803 and "context window is 2048" in exc.value.message
    finally:
        await s.client.shutdown_session()
