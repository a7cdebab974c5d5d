"""Migration 4 (threads, checkpoints, scores, blobs) on real SQLite files: a
database written by the release before it keeps every row and gains threads;
the thread-title rule is the same in SQL and Python; blobs are stored once,
chunked, and really deleted; scores replace on their key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion_lsp.storage import BlobStore, Database, Score, ScoreStore, thread_title
from orion_lsp.storage.blobs import chunks, put_text, read_text, release_turns, text_hash
from orion_lsp.storage.migrations import _TITLE_SQL, MIGRATIONS


def _write_v3_database(path: Path) -> None:
    """A file as the release with schema 3 left it (its migrations, then rows)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:3]:
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2026-11-01T00:00:00.000Z')",
            (migration.version, migration.name),
        )
    conn.execute("PRAGMA user_version = 3")
    rows = [
        ("alpha-1", "t1", "user", "\r\n  Pourquoi ça casse? 🚀 " + "x" * 100 + "\r\nsecond line"),
        ("alpha-1", "t1", "assistant", "Parce que."),
        ("beta-2", "t2", "user", "short"),
        ("alpha-1", "t3", "user", "a later prompt"),
        ("beta-2", "t2", "assistant", "ok"),
        ("alpha-1", "t3", "assistant", "a later answer"),
    ]
    for i, (project, turn, role, content) in enumerate(rows):
        conn.execute(
            "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (project, turn, role, content, f"2026-11-01T00:00:0{i}.000Z"),
        )
    for project, turn in (("alpha-1", "t1"), ("beta-2", "t2"), ("alpha-1", "t3")):
        for seq, type_ in enumerate(("turn_start", "llm_call", "turn_end"), start=1):
            payload = json.dumps({"prompt": "p"} if type_ == "turn_start" else {"n": seq})
            conn.execute(
                "INSERT INTO trace_events (project_id, turn_id, seq, type, payload, created_at)"
                " VALUES (?, ?, ?, ?, ?, '2026-11-01T00:00:00.000Z')",
                (project, turn, seq, type_, payload),
            )
    conn.close()


async def test_migration_4_keeps_rows_and_backfills_one_thread_per_project(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orion.db"
    _write_v3_database(path)
    before = (
        sqlite3.connect(path)
        .execute(
            "SELECT id, project_id, turn_id, role, content, created_at FROM chat_messages ORDER BY id"
        )
        .fetchall()
    )
    db = await Database.open(path)
    try:
        assert db.schema_version == MIGRATIONS[-1].version >= 4
        threads = {
            r["project_id"]: r
            for r in await db.fetchall("SELECT * FROM threads ORDER BY project_id")
        }
        assert set(threads) == {"alpha-1", "beta-2"}
        first = before[0][4]
        assert threads["alpha-1"]["title"] == thread_title(first)
        assert threads["alpha-1"]["title"].startswith("Pourquoi ça casse? 🚀 x")
        assert len(threads["alpha-1"]["title"]) == 80
        assert threads["beta-2"]["title"] == "short"
        assert threads["alpha-1"]["created_at"] == "2026-11-01T00:00:00.000Z"
        assert threads["alpha-1"]["updated_at"] == "2026-11-01T00:00:05.000Z"
        after = await db.fetchall(
            "SELECT id, project_id, turn_id, role, content, created_at, thread_id, rewound_at"
            " FROM chat_messages ORDER BY id"
        )
        assert [tuple(r)[:6] for r in after] == before
        for r in after:
            assert r["thread_id"] == threads[r["project_id"]]["id"]
            assert r["rewound_at"] is None
        events = await db.fetchall("SELECT * FROM trace_events ORDER BY id")
        for e in events:
            assert e["thread_id"] == threads[e["project_id"]]["id"]
            payload = json.loads(e["payload"])
            if e["type"] == "turn_start":
                assert payload == {"prompt": "p", "threadId": e["thread_id"]}
            else:
                assert "threadId" not in payload
    finally:
        await db.close()


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(_TEXT | st.builds(lambda a, b: f"{a}\n{b}", _TEXT, _TEXT))
def test_thread_title_is_the_same_rule_in_sql_and_python(prompt: str) -> None:
    conn = sqlite3.connect(":memory:")
    (sql_title,) = conn.execute(
        f"SELECT {_TITLE_SQL.format(text='?')}", (prompt,) * _TITLE_SQL.count("{text}")
    ).fetchone()
    assert sql_title == thread_title(prompt)
    assert 1 <= len(sql_title) <= 80
    assert "\n" not in sql_title


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await Database.open(tmp_path / "orion.db")
    yield database
    await database.close()


def _big_text(n_lines: int = 6000) -> str:
    return "".join(f"def f_{i}(x):  # ünïcødé 🙂\r\n    return x * {i}\r\n" for i in range(n_lines))


async def test_blobs_round_trip_small_and_chunked_text(db: Database) -> None:
    store = BlobStore(db)
    small = "héllo 🙂\r\n"
    big = _big_text()
    assert len(big.encode()) > 200_000
    h_small = await store.put(small, "t1")
    h_big = await store.put(big, "t1")
    assert h_small == text_hash(small) and h_big == text_hash(big)
    assert await store.get(h_small) == small
    assert await store.get(h_big) == big
    assert await store.get("0" * 64) is None
    assert "".join(chunks(big)) == big
    kinds = {r[0]: r[1] for r in await db.fetchall("SELECT hash, kind FROM blobs")}
    assert kinds[h_small] == "text" and kinds[h_big] == "chunks"


async def test_an_edited_big_text_stores_only_what_changed(db: Database) -> None:
    store = BlobStore(db)
    text = _big_text()
    await store.put(text, "t1")
    (n_before,) = (await db.fetchall("SELECT COUNT(*) FROM blobs"))[0]
    lines = text.splitlines(keepends=True)
    lines[len(lines) // 2] = "    return 'changed in the middle'\r\n"
    edited = "".join(lines)
    await store.put(edited, "t2")
    (n_after,) = (await db.fetchall("SELECT COUNT(*) FROM blobs"))[0]
    # The new list, the chunk holding the changed line, and at most the next
    # chunk when the change moved a boundary.
    assert 2 <= n_after - n_before <= 3
    assert await store.get(text_hash(edited)) == edited
    # The same text again stores nothing new.
    await store.put(edited, "t3")
    assert (await db.fetchall("SELECT COUNT(*) FROM blobs"))[0][0] == n_after


async def test_release_turns_deletes_exactly_the_unreferenced_blobs(db: Database) -> None:
    text = _big_text()
    lines = text.splitlines(keepends=True)
    lines[10] = "changed\n"
    edited = "".join(lines)

    async def put_all(conn):  # type: ignore[no-untyped-def]
        a = await put_text(conn, text, "t1")
        b = await put_text(conn, edited, "t2")
        c = await put_text(conn, "shared", "t1")
        await put_text(conn, "shared", "t2")
        return a, b, c

    a, b, c = await db.write(put_all)
    await db.write(lambda conn: release_turns(conn, ["t1"]))
    assert await read_text(db.fetchall, a) is None
    assert await read_text(db.fetchall, b) == edited  # shares chunks with a: still whole
    assert await read_text(db.fetchall, c) == "shared"
    await db.write(lambda conn: release_turns(conn, ["t2"]))
    assert (await db.fetchall("SELECT COUNT(*) FROM blobs"))[0][0] == 0
    assert (await db.fetchall("SELECT COUNT(*) FROM blob_refs"))[0][0] == 0


async def test_scores_replace_on_their_key(db: Database) -> None:
    scores = ScoreStore(db)
    await scores.put(
        Score("p", "t1", "user_rating", "human", label="up", explanation="nice"),
        Score("p", "t1", "tool_errors", "code", value=2),
        Score("p", "t1", "critic", "llm", label="pass", source_id="model-a"),
        Score("p", "t1", "critic", "llm", label="revise", source_id="model-b"),
    )
    await scores.put(Score("p", "t1", "user_rating", "human", label="down", explanation=None))
    got = {(s.name, s.source_id): s for s in await scores.for_turn("t1")}
    assert len(got) == 4
    assert got[("user_rating", "")].label == "down"
    assert got[("user_rating", "")].explanation is None
    assert got[("tool_errors", "")].value == 2.0
    assert got[("critic", "model-b")].label == "revise"
    (n,) = (await db.fetchall("SELECT COUNT(*) FROM scores"))[0]
    assert n == 4
    assert (await scores.for_turns(["t1", "t9"]))["t9"] == []
    with pytest.raises(ValueError):
        Score("p", "t1", "x", "robot")
