"""`Database`: the one aiosqlite connection behind chat history and traces.

Implements docs/protocol.md#storage: WAL, a busy timeout, writes in
`BEGIN IMMEDIATE` transactions under one in-process writer lock, numbered
migrations, and fail-loud errors. Every read and write goes through
`Database._call`, the single choke point that runs the fault hook and turns
`sqlite3.Error`/`OSError` into `StorageError`.

Durability: `synchronous=NORMAL` in WAL mode. Each commit is appended to the
WAL without an fsync; the WAL is synced at checkpoints. A committed row
survives the process being killed (the OS already has the pages), which is the
failure that matters here (kill -9 mid-turn, then `mark_interrupted`);
only a power loss or kernel crash can lose the last commits, never corrupt the
file. `FULL` would fsync on every commit, and every trace event is its own
commit (docs/protocol.md#tables): bench/bench_storage.py measures the
difference (per-row FULL commits ran at 0.6-2.8k rows/s on these disks).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiosqlite

from orion_lsp.storage import faults
from orion_lsp.storage.errors import StorageError, describe, storage_error
from orion_lsp.storage.migrations import LATEST_VERSION, MIGRATIONS, Migration

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any]

# How long a writer waits for another process (another editor's server) to
# finish its transaction before SQLITE_BUSY surfaces. Our transactions last
# well under a millisecond, so 10 s only matters when something is badly wrong.
BUSY_TIMEOUT_MS = 10_000
_SQLITE_HEADER = b"SQLite format 3\x00"

# Set while a write() callback runs, to catch the deadlock of calling back
# into the Database (whose lock is held) instead of using the given connection.
_in_write: contextvars.ContextVar[bool] = contextvars.ContextVar("orion_in_write", default=False)


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and 'Z', the format of every created_at."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _split_target(path: Path | str) -> tuple[Path, str, bool]:
    """(filesystem path, what to hand to sqlite3.connect, is it a URI).

    A string starting with 'file:' is an SQLite URI (e.g. '?mode=ro' to open a
    database read-only); anything else is a plain filesystem path.
    """
    if isinstance(path, str) and path.startswith("file:"):
        return Path(unquote(urlsplit(path).path)), path, True
    fs = Path(path).expanduser()
    return fs, str(fs), False


class Database:
    """An open Orion database. Build it with `await Database.open(path)`."""

    path: Path
    schema_version: int
    sqlite_version: str
    fault_hook: Callable[[str], None] | None

    def __init__(
        self, path: Path, conn: aiosqlite.Connection, redactor: Callable[[str], str] | None
    ):
        self.path = path
        self.redactor = redactor
        self.schema_version = 0
        self.sqlite_version = sqlite3.sqlite_version
        self.fault_hook = None
        self._conn: aiosqlite.Connection | None = conn
        # One lock for reads and writes: the single connection is shared, and a
        # read interleaved into another task's open write transaction would see
        # rows that may still be rolled back. Operations take well under 1 ms.
        self._lock = asyncio.Lock()

    # ---- opening -----------------------------------------------------------

    @classmethod
    async def open(
        cls, path: Path | str, *, redactor: Callable[[str], str] | None = None
    ) -> Database:
        fs_path, target, uri = _split_target(path)
        try:
            return await cls._open(fs_path, target, uri, redactor)
        except StorageError as e:
            # SQLite says only SQLITE_CANTOPEN; the user needs to know which
            # directory is wrong and how.
            problem = _directory_problem(fs_path)
            if problem is None:
                raise
            raise StorageError(e.path, f"{e.cause}: {problem}") from e

    @classmethod
    async def _open(
        cls, fs_path: Path, target: str, uri: bool, redactor: Callable[[str], str] | None
    ) -> Database:
        where = str(fs_path)
        hook = faults.hook_from_env()  # before connecting: a typo raises, nothing leaks
        try:
            fs_path.parent.mkdir(parents=True, exist_ok=True)
            _check_existing_file(fs_path, where)
        except OSError as e:
            raise storage_error(where, e, redactor) from e
        # Registered before connecting (no await since the check): a concurrent
        # open of the same file in this process must not read its header while
        # this connection takes its locks.
        _register_open(fs_path)
        conn = aiosqlite.connect(
            target, uri=uri, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        try:
            await conn
        except (sqlite3.Error, OSError) as e:
            # aiosqlite 0.22 stops its worker thread after a failed connect
            # without waiting; the thread then reports to the event loop, which
            # may be closed by then. Wait for it while the loop still runs.
            thread = getattr(conn, "_thread", None)
            if thread is not None:
                await asyncio.to_thread(thread.join, 5)
            _unregister_open(fs_path)
            raise storage_error(where, e, redactor) from e
        conn.row_factory = sqlite3.Row
        db = cls(fs_path, conn, redactor)
        try:
            await db._prepare()
        except BaseException:
            await db._close_quietly()
            raise
        db.fault_hook = hook
        return db

    async def _prepare(self) -> None:
        conn = self._require_conn()

        async def setup() -> None:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Check the version BEFORE anything that writes (journal_mode=WAL
            # rewrites the header): a newer file must stay byte-for-byte intact.
            version = await self._user_version(conn)
            if version > LATEST_VERSION:
                raise storage_error(
                    str(self.path),
                    f"database schema {version} is newer than this orion ({LATEST_VERSION})",
                    self.redactor,
                )
            rows = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            mode = next(iter(rows))[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL journal mode (got {mode})")
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages:
            # deleting a thread is how a user makes Orion forget (threads.py).
            await conn.execute("PRAGMA secure_delete = ON")
            rows = await conn.execute_fetchall("SELECT sqlite_version()")
            self.sqlite_version = next(iter(rows))[0]
            self.schema_version = version

        await self._call("open", setup, count=False)
        for migration in MIGRATIONS[self.schema_version :]:
            await self._call(
                "migrate", functools.partial(self._migrate, conn, migration), count=False
            )

    @staticmethod
    async def _user_version(conn: aiosqlite.Connection) -> int:
        rows = await conn.execute_fetchall("PRAGMA user_version")
        return int(next(iter(rows))[0])

    async def _migrate(self, conn: aiosqlite.Connection, migration: Migration) -> None:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            current = await self._user_version(conn)
            if current > LATEST_VERSION:  # ...possibly a newer orion
                raise storage_error(
                    str(self.path),
                    f"database schema {current} is newer than this orion ({LATEST_VERSION})",
                    self.redactor,
                )
            if current < migration.version:
                for statement in migration.statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utc_now()),
                )
                await conn.execute(f"PRAGMA user_version = {int(migration.version)}")
                current = migration.version
                log.info("database %s migrated to schema %d", self.path, current)
            await conn.execute("COMMIT")
        except BaseException:
            await self._rollback(conn)
            raise
        self.schema_version = max(self.schema_version, current)

    # ---- public operations -------------------------------------------------

    async def close(self) -> None:
        if self._conn is None:
            return
        async with self._lock:  # let a running write finish first
            conn, self._conn = self._conn, None
            if conn is not None:
                _unregister_open(self.path)
                try:
                    await conn.close()
                except sqlite3.Error as e:
                    raise storage_error(str(self.path), e, self.redactor) from e

    @property
    def closed(self) -> bool:
        return self._conn is None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        self._check_not_in_write()
        async with self._lock:
            conn = self._require_conn()
            rows = await self._call("fetchall", lambda: conn.execute_fetchall(sql, params))
            return list(rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        self._check_not_in_write()

        async def one() -> sqlite3.Row | None:
            conn = self._require_conn()
            async with conn.execute(sql, params) as cursor:
                row: sqlite3.Row | None = await cursor.fetchone()
                return row

        async with self._lock:
            return await self._call("fetchone", one)

    async def write(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `fn(conn)` inside BEGIN IMMEDIATE ... COMMIT; committed on return.

        `fn` must use the connection it is given, not this Database (its lock
        is held), and must read or close every cursor it opens (prefer
        `conn.execute_fetchall`): an unfinished statement makes COMMIT fail. The transaction runs in its own task and the caller awaits it
        through `asyncio.shield`: cancelling the caller (e.g. `$/cancelRequest`
        stopping a turn) cannot leave a transaction open or the lock held; the
        write then still commits or rolls back as a unit.
        """
        self._check_not_in_write()
        task = asyncio.ensure_future(self._locked_write(fn))
        # If the caller is cancelled, nobody awaits the task: fetch its
        # exception so asyncio does not log "exception was never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def _locked_write(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            conn = self._require_conn()
            return await self._call("write", lambda: self._transaction(conn, fn))

    async def _transaction(
        self, conn: aiosqlite.Connection, fn: Callable[[aiosqlite.Connection], Awaitable[T]]
    ) -> T:
        await conn.execute("BEGIN IMMEDIATE")
        token = _in_write.set(True)
        try:
            result = await fn(conn)
            await conn.execute("COMMIT")
        except BaseException:
            # SQLite already rolled back after e.g. SQLITE_FULL at COMMIT.
            await self._rollback(conn)
            raise
        finally:
            _in_write.reset(token)
        return result

    # ---- the choke point ---------------------------------------------------

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]], *, count: bool = True) -> T:
        """Run one storage operation: fault hook first, errors -> StorageError."""
        try:
            if count and self.fault_hook is not None:
                self.fault_hook(op)
            return await fn()
        except StorageError:
            raise
        except (sqlite3.Error, OSError) as e:
            log.error("storage %s failed on %s: %s", op, self.path, type(e).__name__)
            raise storage_error(str(self.path), e, self.redactor) from e

    def _require_conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise storage_error(str(self.path), "database is closed", self.redactor)
        return self._conn

    @staticmethod
    def _check_not_in_write() -> None:
        if _in_write.get():
            raise RuntimeError(
                "use the connection passed to the write() callback, not the Database"
            )

    async def _rollback(self, conn: aiosqlite.Connection) -> None:
        if not conn.in_transaction:
            return
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.Error as e:
            # The original error is what the caller must see; this is only context.
            log.error("rollback failed on %s: %s", self.path, type(e).__name__)

    async def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _unregister_open(self.path)
            try:
                await conn.close()
            except sqlite3.Error:
                log.debug("close after a failed open also failed", exc_info=True)


# Real paths of databases this process has open through SQLite, with a count.
# POSIX advisory locks belong to the process: closing ANY descriptor of the
# file drops every lock SQLite holds on it. Reading the header of a database
# that is already open here (e.g. the repo-map cache's second connection)
# would make another process believe it is the last user of the file, so it
# checkpoints and deletes the -wal file while we still write into it: rows
# committed afterwards would be lost. Per process by nature, hence module level.
_OPEN_HERE: dict[str, int] = {}


def _register_open(path: Path) -> None:
    key = os.path.realpath(path)
    _OPEN_HERE[key] = _OPEN_HERE.get(key, 0) + 1


def _unregister_open(path: Path) -> None:
    key = os.path.realpath(path)
    n = _OPEN_HERE.get(key, 0) - 1
    if n > 0:
        _OPEN_HERE[key] = n
    else:
        _OPEN_HERE.pop(key, None)


def _check_existing_file(path: Path, where: str) -> None:
    """Refuse, without opening it, a file SQLite would reject or misuse.

    SQLite itself refuses a non-database file, but only after opening it; we
    never hand it one, so the file cannot be touched (no -wal/-shm beside it).
    Skipped for a file this process already has open (see `_OPEN_HERE`).
    """
    if os.path.realpath(path) in _OPEN_HERE:
        return
    if path.is_dir():
        raise StorageError(where, "EISDIR: the database path is a directory")
    if not path.exists():
        return
    with path.open("rb") as f:
        head = f.read(len(_SQLITE_HEADER))
    # An empty file is a valid empty database to SQLite.
    if head and head != _SQLITE_HEADER:
        raise StorageError(where, "SQLITE_NOTADB: file is not a database")


def _directory_problem(path: Path) -> str | None:
    """What is wrong with the directory that should hold `path`, or None if nothing.

    Only called after opening failed. Writability is tried by creating (and
    removing) a temp file: permission bits say nothing when running as root, a
    read-only mount or a full quota shows only when writing.
    """
    directory = path.parent
    if not directory.exists():
        ancestor = directory
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"{ancestor} is not a directory"
        reason = _not_writable(ancestor)
        suffix = f" and cannot be created in {ancestor} ({reason})" if reason else ""
        return f"the directory {directory} does not exist{suffix}"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    reason = _not_writable(directory)
    if reason is not None:
        return f"the directory {directory} is not writable ({reason})"
    return None


def _not_writable(directory: Path) -> str | None:
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".orion-write-test-")
    except OSError as e:
        return describe(e)
    os.close(fd)
    os.unlink(probe)
    return None
