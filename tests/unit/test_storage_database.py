"""Database: opening, migrations, refusing bad files, fail-loud errors, faults, concurrency."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from orion_lsp.storage import (
    LATEST_VERSION,
    ChatStore,
    Database,
    FailNth,
    HistoryLoader,
    StorageError,
    TraceStore,
)
from orion_lsp.storage.migrations import MIGRATIONS

PREFIX = "Orion storage error: "


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


async def test_open_creates_parents_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "orion.db"
    db = await Database.open(path)
    try:
        assert db.path == path
        assert db.schema_version == LATEST_VERSION == len(MIGRATIONS)
        assert db.sqlite_version == sqlite3.sqlite_version
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA user_version"))[0] == LATEST_VERSION
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] >= 5000
        # 1 = NORMAL: see the durability note in database.py
        assert (await db.fetchone("PRAGMA synchronous"))[0] == 1
        rows = await db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, LATEST_VERSION + 1))
        tables = {
            r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {
            "chat_messages", "trace_events", "file_tags", "model_info",
            "threads", "checkpoints", "scores", "blobs", "blob_refs",
        } <= tables  # fmt: skip
        cols = [r["name"] for r in await db.fetchall("PRAGMA table_info(chat_messages)")]
        # The contract's columns first, in order; later migrations only add.
        assert cols[:6] == ["id", "project_id", "turn_id", "role", "content", "created_at"]
        assert "thread_id" in cols
        cols = [r["name"] for r in await db.fetchall("PRAGMA table_info(scores)")]
        assert cols == [
            "id", "project_id", "turn_id", "step", "name", "value", "label",
            "source", "source_id", "explanation", "created_at",
        ]  # fmt: skip
        cols = [r["name"] for r in await db.fetchall("PRAGMA table_info(trace_events)")]
        assert cols[:7] == ["id", "project_id", "turn_id", "seq", "type", "payload", "created_at"]
        cols = [r["name"] for r in await db.fetchall("PRAGMA table_info(file_tags)")]
        assert cols == [
            "project_id",
            "path",
            "content_hash",
            "size",
            "mtime_ns",
            "tags",
            "updated_at",
        ]
    finally:
        await db.close()


async def test_reopen_is_idempotent_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    db = await Database.open(path)
    await ChatStore(db).add("p", "t", "user", "hello")
    await db.close()
    for _ in range(2):
        db = await Database.open(path)
        assert db.schema_version == LATEST_VERSION
        n = (await db.fetchone("SELECT count(*) FROM schema_migrations"))[0]
        assert n == LATEST_VERSION
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["hello"]
        await db.close()


async def test_upgrade_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in MIGRATIONS[0].statements:
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'x', '2026-01-01T00:00:00.000Z')")
    conn.execute(
        "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
        " VALUES ('p', 't', 'user', 'from v1', '2026-01-01T00:00:00.000Z')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    db = await Database.open(path)
    try:
        assert db.schema_version == LATEST_VERSION
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["from v1"]
        # a row written before the pid column existed has pid NULL
        await TraceStore(db).append("p", "t2", "turn_start", {})
    finally:
        await db.close()


async def test_two_processes_opening_a_fresh_file_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    dbs = await asyncio.gather(*(Database.open(path) for _ in range(3)))
    try:
        assert all(d.schema_version == LATEST_VERSION for d in dbs)
        n = (await dbs[0].fetchone("SELECT count(*) FROM schema_migrations"))[0]
        assert n == LATEST_VERSION
    finally:
        for d in dbs:
            await d.close()


@pytest.mark.parametrize("wal", [False, True])
async def test_newer_schema_is_refused_and_untouched(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE chat_messages (id INTEGER PRIMARY KEY, future TEXT)")
    conn.execute("INSERT INTO chat_messages (future) VALUES ('keep me')")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 96}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    names = siblings(path)
    with pytest.raises(StorageError) as info:
        await Database.open(path)
    msg = str(info.value)
    assert msg.startswith(PREFIX)
    assert str(path) in msg
    assert (
        f"database schema {LATEST_VERSION + 96} is newer than this orion ({LATEST_VERSION})" in msg
    )
    assert info.value.path == str(path)
    assert path.read_bytes() == before
    assert siblings(path) == names


async def test_non_database_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StorageError) as info:
        await Database.open(path)
    assert str(info.value).startswith(PREFIX)
    assert str(path) in str(info.value)
    assert "not a database" in info.value.cause
    assert path.read_bytes() == content
    assert siblings(path) == {"notes.db"}


async def test_corrupt_database_body_is_storage_error(tmp_path: Path) -> None:
    # A valid header with garbage after it gets past our check to SQLite itself.
    path = tmp_path / "corrupt.db"
    content = b"SQLite format 3\x00" + b"\xff" * 4080
    path.write_bytes(content)
    with pytest.raises(StorageError) as info:
        await Database.open(path)
    assert str(info.value).startswith(PREFIX)
    assert path.read_bytes() == content


async def test_directory_and_bad_parent_are_storage_errors(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError, match="directory"):
        await Database.open(tmp_path / "dir.db")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError) as info:
        await Database.open(tmp_path / "file" / "orion.db")
    assert str(tmp_path / "file" / "orion.db") in str(info.value)


async def test_open_error_says_what_is_wrong_with_the_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file" / "orion.db", tmp_path / "file" / "sub" / "orion.db"):
        with pytest.raises(StorageError) as info:
            await Database.open(path)
        assert f"{tmp_path / 'file'} is not a directory" in info.value.cause
    assert (tmp_path / "file").read_text() == "x"


def _unwritable_directory() -> Path:
    """A directory even root cannot create files in (tests run as root, where
    chmod stops nothing): /sys in a container. Skips where there is none."""
    import tempfile

    sys_dir = Path("/sys")
    try:
        fd, probe = tempfile.mkstemp(dir=sys_dir)
    except OSError:
        return sys_dir
    os.close(fd)
    os.unlink(probe)
    pytest.skip("no unwritable directory here (/sys is writable)")


async def test_open_error_in_an_unwritable_directory_says_so() -> None:
    directory = _unwritable_directory()
    with pytest.raises(StorageError) as info:
        await Database.open(directory / "orion-test.db")
    assert info.value.cause.startswith("SQLITE_CANTOPEN")
    assert f"the directory {directory} is not writable (" in info.value.cause
    with pytest.raises(StorageError) as info:
        await Database.open(directory / "orion-missing" / "orion.db")
    assert f"the directory {directory / 'orion-missing'} does not exist" in info.value.cause
    assert not (directory / "orion-missing").exists()


async def test_read_only_database(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    db = await Database.open(path)
    await ChatStore(db).add("p", "t", "user", "written while writable")
    await db.close()

    ro = await Database.open(f"file:{path}?mode=ro")
    try:
        assert ro.path == path
        assert [m.content for m in await HistoryLoader(ro).last("p")] == ["written while writable"]
        with pytest.raises(StorageError) as info:
            await ChatStore(ro).add("p", "t", "assistant", "nope")
        assert str(info.value).startswith(PREFIX)
        assert str(path) in str(info.value)
        assert "SQLITE_READONLY" in info.value.cause
    finally:
        await ro.close()

    with pytest.raises(StorageError, match="SQLITE_CANTOPEN"):
        await Database.open(f"file:{tmp_path / 'missing.db'}?mode=ro")


async def test_read_only_old_schema_cannot_migrate(tmp_path: Path) -> None:
    path = tmp_path / "v0.db"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.close()
    with pytest.raises(StorageError, match="SQLITE_READONLY"):
        await Database.open(f"file:{path}?mode=ro")


async def test_full_disk_is_storage_error_and_connection_survives(tmp_path: Path) -> None:
    path = tmp_path / "orion.db"
    db = await Database.open(path)
    try:
        chat = ChatStore(db)
        await chat.add("p", "t", "user", "before")
        pages = (await db.fetchone("PRAGMA page_count"))[0]
        await db.fetchall(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError) as info:
            for _ in range(50):
                await chat.add("p", "t", "assistant", "x" * 8000)
        msg = str(info.value)
        assert msg.startswith(PREFIX)
        assert str(path) in msg
        assert info.value.cause.startswith("SQLITE_FULL")
        # Rolled back, nothing half-written, and the connection still works.
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["before"]
        await db.fetchall("PRAGMA max_page_count = 1000000")
        await chat.add("p", "t", "assistant", "after")
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["before", "after"]
    finally:
        await db.close()


async def test_write_rolls_back_on_error_and_releases_the_lock(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "orion.db")
    try:

        async def half(conn):  # type: ignore[no-untyped-def]
            await conn.execute(
                "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
                " VALUES ('p', 't', 'user', 'half', 'now')"
            )
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await db.write(half)

        async def bad_role(conn):  # type: ignore[no-untyped-def]
            await conn.execute(
                "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
                " VALUES ('p', 't', 'system', 'x', 'now')"
            )

        with pytest.raises(StorageError, match="CHECK constraint"):
            await db.write(bad_role)

        async def reenter(conn):  # type: ignore[no-untyped-def]
            await conn.execute(
                "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
                " VALUES ('p', 't', 'user', 'reenter', 'now')"
            )
            await db.fetchall("SELECT 1")  # would deadlock on the held lock

        with pytest.raises(RuntimeError, match="connection passed"):
            await asyncio.wait_for(db.write(reenter), 5)
        assert (await db.fetchone("SELECT count(*) FROM chat_messages"))[0] == 0
        await ChatStore(db).add("p", "t", "user", "fine")
        assert (await db.fetchone("SELECT count(*) FROM chat_messages"))[0] == 1
    finally:
        await db.close()


async def test_cancelled_caller_does_not_leave_a_transaction_open(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "orion.db")
    try:
        started = asyncio.Event()

        async def slow(conn):  # type: ignore[no-untyped-def]
            started.set()
            await asyncio.sleep(0.05)
            await conn.execute(
                "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
                " VALUES ('p', 't', 'user', 'slow', 'now')"
            )

        caller = asyncio.ensure_future(db.write(slow))
        await started.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        # The shielded transaction finished as a unit and released the lock.
        await ChatStore(db).add("p", "t", "assistant", "next")
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["slow", "next"]
    finally:
        await db.close()


async def test_closed_database_raises_storage_error(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "orion.db")
    await db.close()
    await db.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await HistoryLoader(db).last("p")
    with pytest.raises(StorageError, match="closed"):
        await ChatStore(db).add("p", "t", "user", "x")


async def test_fault_hook_fails_the_kth_call(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "orion.db")
    try:
        hook = FailNth(2)
        db.fault_hook = hook
        chat = ChatStore(db)
        await chat.add("p", "t", "user", "one")  # call 1
        with pytest.raises(StorageError) as info:
            await chat.add("p", "t", "assistant", "two")  # call 2: injected
        assert str(info.value).startswith(PREFIX) and str(db.path) in str(info.value)
        assert "injected fault" in info.value.cause
        assert hook.failed == ["write"]
        assert [m.content for m in await HistoryLoader(db).last("p")] == ["one"]  # call 3
        db.fault_hook = FailNth(1, onwards=True)
        for _ in range(3):
            with pytest.raises(StorageError):
                await db.fetchone("SELECT 1")
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("spec", "expect"), [("2", [True, False, True, True]), ("2+", [True, False, False, False])]
)
async def test_fault_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, expect: list[bool]
) -> None:
    monkeypatch.setenv("ORION_FAULT_STORAGE", spec)
    db = await Database.open(tmp_path / "orion.db")  # migrations are not counted
    try:
        results = []
        for i in range(4):
            try:
                await TraceStore(db).append("p", "t", "llm_call", {"i": i})
                results.append(True)
            except StorageError:
                results.append(False)
        assert results == expect
    finally:
        db.fault_hook = None
        await db.close()


async def test_fault_env_var_typo_is_loud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION_FAULT_STORAGE", "second")
    with pytest.raises(ValueError, match="ORION_FAULT_STORAGE"):
        await Database.open(tmp_path / "orion.db")
