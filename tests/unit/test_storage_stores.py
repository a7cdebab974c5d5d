"""ChatStore/HistoryLoader/TraceStore on real SQLite files: order, limits, seq,
interrupted turns, redaction at rest, and several writers on one file."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orion_lsp.redact import MASK, Redactor
from orion_lsp.storage import ChatStore, Database, HistoryLoader, TraceStore

ROOT = Path(__file__).resolve().parents[2]
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await Database.open(tmp_path / "orion.db")
    yield database
    await database.close()


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ORION_FAULT_STORAGE", None)
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_history_last_n_oldest_first_per_project(db: Database) -> None:
    chat = ChatStore(db)
    for i in range(30):
        await chat.add("p1", f"t{i}", "user" if i % 2 == 0 else "assistant", f"p1-{i}")
        await chat.add("p2", f"u{i}", "user", f"p2-{i}")
    loader = HistoryLoader(db)
    last = await loader.last("p1", 20)
    assert [m.content for m in last] == [f"p1-{i}" for i in range(10, 30)]
    assert [m.role for m in last[:2]] == ["user", "assistant"]
    assert all(m.project_id == "p1" for m in last)
    assert [m.content for m in await loader.last("p1")] == [m.content for m in last]  # default 20
    assert [m.content for m in await loader.last("p2", 3)] == ["p2-27", "p2-28", "p2-29"]
    assert len(await loader.last("p1", 1000)) == 30
    assert await loader.last("p1", 0) == []
    assert await loader.last("p1", -1) == []
    assert await loader.last("nobody") == []


async def test_chat_add_returns_the_committed_row(db: Database, tmp_path: Path) -> None:
    msg = await ChatStore(db).add("p", "t1", "user", "héllo\nwörld")
    assert msg.id > 0 and msg.turn_id == "t1" and msg.role == "user"
    assert ISO_MS_Z.match(msg.created_at)
    # Committed: another connection sees it at once.
    other = await Database.open(tmp_path / "orion.db")
    try:
        assert await HistoryLoader(other).last("p") == [msg]
    finally:
        await other.close()
    with pytest.raises(ValueError, match="role"):
        await ChatStore(db).add("p", "t1", "system", "x")  # type: ignore[arg-type]


async def test_trace_seq_order_and_turn_queries(db: Database) -> None:
    traces = TraceStore(db)
    assert await traces.last_turn_id("p") is None
    assert await traces.turn_ids("p") == []
    seen = []
    for turn in ("a", "b", "c"):
        seen.append(await traces.append("p", turn, "turn_start", {"prompt": turn}))
    for i in range(3):  # interleaved turns
        for turn in ("a", "b", "c"):
            seen.append(await traces.append("p", turn, "tool_call", {"name": "read_file", "i": i}))
    await traces.append("other", "z", "turn_start", {})
    events = await traces.events("p", "b")
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.type for e in events] == ["turn_start", "tool_call", "tool_call", "tool_call"]
    assert [e.payload.get("i") for e in events] == [None, 0, 1, 2]
    assert events[0].payload == {"prompt": "b"}
    assert all(ISO_MS_Z.match(e.created_at) for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events == [e for e in seen if e.turn_id == "b"]  # append returns what is stored
    assert await traces.events("other", "b") == []  # turn belongs to its project
    assert await traces.last_turn_id("p") == "c"
    assert await traces.turn_ids("p") == ["c", "b", "a"]
    assert await traces.turn_ids("p", 2) == ["c", "b"]
    assert await traces.last_turn_id("other") == "z"
    with pytest.raises(ValueError, match="type"):
        await traces.append("p", "a", "thinking", {})
    with pytest.raises(TypeError):
        await traces.append("p", "a", "llm_call", ["not", "a", "dict"])  # type: ignore[arg-type]


async def test_mark_interrupted_closes_only_turns_of_dead_processes(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    # A real server-like process starts a turn and is killed with SIGKILL mid-turn.
    proc = run_python(
        """
        import asyncio, sys
        from orion_lsp.storage import Database, TraceStore
        async def main():
            db = await Database.open(sys.argv[1])
            t = TraceStore(db)
            await t.append("p", "killed-turn", "turn_start", {"prompt": "x"})
            await t.append("p", "killed-turn", "llm_call", {"model": "m"})
            print("ready", flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
        """,
        str(path),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    db = await Database.open(path)
    try:
        traces = TraceStore(db)
        await traces.append("p", "done-turn", "turn_start", {})
        await traces.append("p", "done-turn", "turn_end", {"status": "completed"})
        await traces.append("p", "live-turn", "turn_start", {})  # this process: still running
        assert await traces.mark_interrupted() == ["killed-turn"]
        events = await traces.events("p", "killed-turn")
        assert [(e.seq, e.type) for e in events] == [
            (1, "turn_start"),
            (2, "llm_call"),
            (3, "turn_end"),
        ]
        assert events[-1].payload == {"status": "interrupted"}
        assert [e.type for e in await traces.events("p", "live-turn")] == ["turn_start"]
        assert await traces.mark_interrupted() == []  # idempotent
        # Rows without an owner (written before migration 3) count as dead.
        await db.write(
            lambda c: c.execute("UPDATE trace_events SET pid = NULL WHERE turn_id = 'live-turn'")
        )
        assert await traces.mark_interrupted() == ["live-turn"]
    finally:
        await db.close()


SECRET = "sk-live-9f8e7d6c5b4a39281706"
KNOWN = 'hunter2"quoted\\value'


async def test_redaction_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    db = await Database.open(path, redactor=Redactor([KNOWN]))
    try:
        msg = await ChatStore(db).add("p", "t", "user", f"my key is {SECRET} and pw {KNOWN}")
        assert SECRET not in msg.content and KNOWN not in msg.content and MASK in msg.content
        ev = await TraceStore(db).append(
            "p",
            "t",
            "tool_result",
            {
                "name": "read_file",
                "ok": True,
                "summary": f"Authorization: Bearer {SECRET}",
                "api_key": 123456789,  # a non-string value under a secret-looking key
                "nested": [{"password": "correct-horse-battery"}, KNOWN],
            },
        )
        text = json.dumps(ev.payload)
        assert SECRET not in text and "123456789" not in text and "correct-horse" not in text
        assert "hunter2" not in text
        assert ev.payload["name"] == "read_file" and ev.payload["ok"] is True
        stored = await TraceStore(db).events("p", "t")
        assert stored[0].payload == ev.payload  # valid JSON, keys kept
        # At rest: neither the main file nor the WAL holds a secret.
        files = [p for p in tmp_path.iterdir() if p.name.startswith("orion.db")]  # noqa: ASYNC240
        assert any(p.name.endswith("-wal") for p in files)
        blob = b"".join(p.read_bytes() for p in files)
        assert b"read_file" in blob  # the grep does see stored text
        for needle in (SECRET, "123456789", "correct-horse", "hunter2"):
            assert needle.encode() not in blob, needle
    finally:
        await db.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # noqa: ASYNC240
    assert SECRET.encode() not in blob and b"hunter2" not in blob


async def test_no_redactor_stores_text_verbatim(db: Database) -> None:
    msg = await ChatStore(db).add("p", "t", "user", f"key {SECRET}")
    assert SECRET in msg.content  # the redactor is what masks, not an accident


async def test_two_connections_interleaved_writers(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    a, b = await Database.open(path), await Database.open(path)
    try:
        n = 150

        async def writer(db: Database, name: str) -> None:
            traces, chat = TraceStore(db), ChatStore(db)
            for i in range(n):
                # Both connections append to the SAME turns: seq needs the lock.
                await traces.append("p", f"turn-{i % 3}", "tool_call", {"w": name, "i": i})
                if i % 10 == 0:
                    await chat.add("p", f"turn-{i % 3}", "user", f"{name}-{i}")

        await asyncio.gather(writer(a, "a"), writer(b, "b"), writer(a, "a2"))
        for turn in ("turn-0", "turn-1", "turn-2"):
            events = await TraceStore(b).events("p", turn)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
        rows = await a.fetchall("SELECT payload FROM trace_events")
        got = sorted((json.loads(r[0])["w"], json.loads(r[0])["i"]) for r in rows)
        assert got == sorted((w, i) for w in ("a", "b", "a2") for i in range(n))
        assert len(await HistoryLoader(a).last("p", 1000)) == 3 * n // 10
    finally:
        await a.close()
        await b.close()


async def test_two_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    db = await Database.open(path)
    await db.close()
    code = """
        import asyncio, sys
        from orion_lsp.storage import ChatStore, Database, TraceStore
        async def main():
            db = await Database.open(sys.argv[1])
            t, c = TraceStore(db), ChatStore(db)
            for i in range(200):
                await t.append("p", f"turn-{i % 4}", "llm_call", {"w": sys.argv[2], "i": i})
                await c.add("p", f"turn-{i % 4}", "assistant", f"{sys.argv[2]}-{i}")
            await db.close()
        asyncio.run(main())
    """
    procs = [run_python(code, str(path), name) for name in ("x", "y")]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "locked" not in err
    db = await Database.open(path)
    try:
        rows = await db.fetchall("SELECT turn_id, seq, payload FROM trace_events")
        assert len(rows) == 400
        assert len({(r[0], r[1]) for r in rows}) == 400
        assert sorted((json.loads(r[2])["w"], json.loads(r[2])["i"]) for r in rows) == sorted(
            (w, i) for w in "xy" for i in range(200)
        )
        for turn in range(4):
            seqs = [e.seq for e in await TraceStore(db).events("p", f"turn-{turn}")]
            assert seqs == list(range(1, 101))
        assert len(await HistoryLoader(db).last("p", 1000)) == 400
    finally:
        await db.close()


def test_payload_redaction_never_stores_broken_json() -> None:
    from orion_lsp.storage.payload import encode_payload

    # A redactor that mangles JSON structure: the text falls back to a string.
    text = encode_payload({"a": 1, "status": "ok"}, lambda s: s.replace("}", ""))
    assert "redacted" in json.loads(text)
    # Without a match the payload is stored as given, compactly.
    assert json.loads(encode_payload({"n": [1, 2], "s": "x"}, Redactor())) == {
        "n": [1, 2],
        "s": "x",
    }
    # Non-JSON values are stored as text rather than failing a turn.
    assert json.loads(encode_payload({"path": Path("/a/b")}, None)) == {"path": "/a/b"}


async def test_storage_error_text_never_carries_bound_values(db: Database) -> None:
    from orion_lsp.storage import StorageError

    async def bad(conn):  # type: ignore[no-untyped-def]
        await conn.execute(
            "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ("p", "t", f"role-{SECRET}", f"content {SECRET}", "now"),
        )

    with pytest.raises(StorageError) as info:
        await db.write(bad)
    assert SECRET not in str(info.value) and SECRET not in info.value.cause
    assert str(info.value).startswith("Orion storage error: ")
