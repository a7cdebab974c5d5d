"""Threads in the ledger (real SQLite files): a thread is born with its first
prompt, lists most recently updated first, history never crosses threads,
and deleting one removes exactly its rows, for real (not in free pages)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from orion_lsp.redact import MASK, Redactor
from orion_lsp.storage import (
    ChatStore,
    CheckpointStore,
    Database,
    HistoryLoader,
    Score,
    ScoreStore,
    ThreadBusy,
    ThreadNotFound,
    ThreadStore,
    TraceStore,
    thread_title,
)
from orion_lsp.storage.blobs import put_text


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await Database.open(tmp_path / "orion.db")
    yield database
    await database.close()


async def _turn(db: Database, project: str, thread: str, turn: str, prompt: str, answer: str):  # type: ignore[no-untyped-def]
    chats, traces = ChatStore(db), TraceStore(db)
    await traces.append(project, turn, "turn_start", {"prompt": prompt}, thread_id=thread)
    await chats.add(project, turn, "user", prompt, thread_id=thread)
    await chats.add(project, turn, "assistant", answer, thread_id=thread)
    await traces.append(project, turn, "turn_end", {"status": "completed"}, thread_id=thread)


async def test_a_thread_is_born_with_its_first_prompt_and_moves_with_each_turn(db: Database):
    store = ThreadStore(db)
    assert await store.latest("p") is None
    first = await store.choose("p")
    assert first.new
    assert await store.list("p") == []  # nothing stored until a prompt is
    await _turn(db, "p", first.thread_id, "t1", "  Fix the ünïcode bug 🐛\nin parser.py", "done")
    t = await store.get("p", first.thread_id)
    assert t.title == "Fix the ünïcode bug 🐛" == thread_title("  Fix the ünïcode bug 🐛\n...")
    await _turn(db, "p", first.thread_id, "t2", "and now something else", "ok")
    t2 = await store.get("p", first.thread_id)
    assert t2.title == t.title and t2.created_at == t.created_at
    assert t2.updated_at >= t.updated_at
    again = await store.choose("p")
    assert again.thread_id == first.thread_id and not again.new
    assert (await store.list("p"))[0].turns == 2


async def test_choose_refuses_unknown_and_other_projects_threads(db: Database):
    store = ThreadStore(db)
    await _turn(db, "p", "thread-p", "t1", "hello", "hi")
    await _turn(db, "q", "thread-q", "t2", "hello", "hi")
    assert (await store.choose("p", "thread-p")).thread_id == "thread-p"
    for bad in ("thread-q", "nope"):
        with pytest.raises(ThreadNotFound):
            await store.choose("p", bad)
    new = await store.choose("p", new=True)
    assert new.new and new.thread_id not in ("thread-p", "thread-q")


async def test_list_is_most_recently_updated_first_and_counts_shown_turns(db: Database):
    store = ThreadStore(db)
    for i in range(5):
        await _turn(db, "p", f"th{i}", f"t{i}", f"prompt {i}", "a")
    await _turn(db, "p", "th1", "t9", "back to one", "a")  # th1 is updated last
    await _turn(db, "other", "thx", "tx", "elsewhere", "a")
    listed = await store.list("p")
    assert [t.id for t in listed] == ["th1", "th4", "th3", "th2", "th0"]
    assert [t.turns for t in listed] == [2, 1, 1, 1, 1]
    assert [t.id for t in await store.list("p", 2)] == ["th1", "th4"]
    assert await store.list("p", 0) == []
    await CheckpointStore(db).mark_rewound("p", ["t9"])
    assert (await store.list("p"))[0].turns == 1
    assert set(listed[0].to_wire()) == {"threadId", "title", "createdAt", "updatedAt", "turns"}


async def test_rename_keeps_updated_at_and_redacts(tmp_path: Path):
    redactor = Redactor()
    redactor.add_secret("sk-secret-title-1234567890")
    db = await Database.open(tmp_path / "orion.db", redactor=redactor)
    try:
        store = ThreadStore(db)
        await _turn(db, "p", "th", "t1", "key sk-secret-title-1234567890 in the prompt", "a")
        assert "sk-secret" not in (await store.get("p", "th")).title
        before = await store.get("p", "th")
        renamed = await store.rename("p", "th", "  Parser\nwork sk-secret-title-1234567890 ")
        assert renamed.title == f"Parser work {MASK}"
        assert renamed.updated_at == before.updated_at
        with pytest.raises(ValueError):
            await store.rename("p", "th", " \n ")
        with pytest.raises(ThreadNotFound):
            await store.rename("q", "th", "x")
    finally:
        await db.close()


async def test_history_never_crosses_threads_and_skips_rewound_and_empty_answers(db: Database):
    history = HistoryLoader(db)
    await _turn(db, "p", "a", "a1", "alpha one", "answer a1")
    await _turn(db, "p", "b", "b1", "beta one", "answer b1")
    await _turn(db, "p", "a", "a2", "alpha two (failed)", "")
    await _turn(db, "p", "a", "a3", "alpha three", "answer a3")
    await _turn(db, "p", "a", "a4", "alpha four", "answer a4")
    await CheckpointStore(db).mark_rewound("p", ["a4"])
    model = [m.content for m in await history.for_model("a", 20)]
    assert model == ["alpha one", "answer a1", "alpha three", "answer a3"]
    shown = [m.content for m in await history.thread("a", 20)]
    assert shown == ["alpha one", "answer a1", "alpha two (failed)", "", "alpha three", "answer a3"]
    everything = await history.thread("a", 20, include_rewound=True)
    assert [m.content for m in everything][-2:] == ["alpha four", "answer a4"]
    assert everything[-1].to_wire()["rewound"] is True and "rewound" not in everything[0].to_wire()
    assert [m.content for m in await history.for_model("b", 20)] == ["beta one", "answer b1"]
    assert [m.content for m in await history.for_model("a", 2)] == ["alpha three", "answer a3"]
    assert all(m.thread_id == "a" for m in everything)


def _snapshot(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def test_delete_removes_exactly_one_threads_rows_for_real(db: Database):
    marker = "FORGET-ME-7f3a9c1e"
    keep = "KEEP-ME-0b2d4f6a"
    await _turn(db, "p", "gone", "g1", f"{marker} question", f"{marker} answer")
    await _turn(db, "p", "kept", "k1", f"{keep} question", f"{keep} answer")
    await _turn(db, "p", "gone", "g2", "second", "reply")
    checkpoints = CheckpointStore(db)
    shared = "a file both threads checkpointed\n"
    await checkpoints.record_before("p", "gone", "g1", "a.py", shared)
    await checkpoints.record_after("g1", "a.py", "changed\n")
    await checkpoints.record_before("p", "gone", "g2", "b.py", f"{marker} only here\n" * 50)
    await checkpoints.record_before("p", "kept", "k1", "a.py", shared)
    await ScoreStore(db).put(
        Score("p", "g1", "user_rating", "human", label="down", explanation=marker),
        Score("p", "k1", "user_rating", "human", label="up"),
    )
    await db.write(lambda conn: put_text(conn, f"{marker} request messages", "g2"))
    tables = ("chat_messages", "trace_events", "checkpoints", "scores", "threads")
    kept_before = {
        t: _snapshot(db.path, f"SELECT * FROM {t} WHERE {'id' if t == 'threads' else 'turn_id'}"
                     f" IN ('kept', 'k1') ORDER BY 1")
        for t in tables
    }  # fmt: skip

    counts = await ThreadStore(db).delete("p", "gone")

    assert counts["turns"] == 2 and counts["messages"] == 4 and counts["events"] == 4
    assert counts["checkpoints"] == 2 and counts["scores"] == 1
    for t in tables:
        where = "id" if t == "threads" else "turn_id"
        assert _snapshot(db.path, f"SELECT * FROM {t} WHERE {where} IN ('gone', 'g1', 'g2')") == []
        assert (
            _snapshot(db.path, f"SELECT * FROM {t} WHERE {where} IN ('kept', 'k1') ORDER BY 1")
            == kept_before[t]
        )
    # The blob the kept thread still uses stays; the deleted thread's own are gone.
    ((kept_hash,),) = _snapshot(db.path, "SELECT before_hash FROM checkpoints WHERE turn_id = 'k1'")
    assert await checkpoints.content(kept_hash) == shared
    with pytest.raises(ThreadNotFound):
        await ThreadStore(db).get("p", "gone")
    # Not in a free page, not in the WAL: the bytes are gone from the files.
    for suffix in ("", "-wal"):
        f = Path(f"{db.path}{suffix}")
        if f.exists():
            data = f.read_bytes()
            assert marker.encode() not in data, suffix
    assert keep.encode() in Path(db.path).read_bytes() + Path(f"{db.path}-wal").read_bytes()


async def test_delete_refuses_a_thread_whose_turn_is_running(db: Database):
    await _turn(db, "p", "th", "t1", "done turn", "ok")
    await TraceStore(db).append("p", "t2", "turn_start", {"prompt": "x"}, thread_id="th")
    with pytest.raises(ThreadBusy) as exc:
        await ThreadStore(db).delete("p", "th")
    assert exc.value.turn_ids == ["t2"]
    # A turn of a dead process is not running (the next start marks it interrupted).
    await db.write(
        lambda conn: conn.execute_fetchall("UPDATE trace_events SET pid = ?", (2**22 + 12345,))
    )
    await ThreadStore(db).delete("p", "th")
    assert await ThreadStore(db).list("p") == []


async def test_interrupted_turn_closes_in_its_thread(db: Database):
    await TraceStore(db).append("p", "t1", "turn_start", {"prompt": "x"}, thread_id="th")
    await ChatStore(db).add("p", "t1", "user", "x", thread_id="th")
    await db.write(
        lambda conn: conn.execute_fetchall("UPDATE trace_events SET pid = ?", (2**22 + 12345,))
    )
    assert await TraceStore(db).mark_interrupted() == ["t1"]
    rows = _snapshot(db.path, "SELECT role, thread_id FROM chat_messages ORDER BY id")
    assert rows == [("user", "th"), ("assistant", "th")]
    end = _snapshot(db.path, "SELECT thread_id, payload FROM trace_events WHERE type='turn_end'")
    assert end[0][0] == "th" and json.loads(end[0][1])["status"] == "interrupted"
    assert os.getpid()  # the live process is never taken for dead
