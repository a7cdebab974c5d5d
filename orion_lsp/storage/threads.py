"""Threads: the conversations inside a project (docs/protocol.md#threads).

`thread_title` is the one rule for a new thread's title; migration 4 applies
the same rule in SQL (`migrations._TITLE_SQL`) to the threads it backfills,
and tests/unit/test_storage_schema_v4.py checks that both agree.

`ThreadStore` lists, picks, renames and deletes threads. A thread row is
written together with its first user message (`ChatStore.add`), so a turn
that never got that far leaves no empty thread behind. Deleting a thread is
a real delete, in one transaction: its messages, trace events, checkpoints,
scores and every blob only its turns referenced (storage/blobs.py). The
connection runs with `secure_delete` (database.py), so the freed pages are
zeroed, and the WAL is checkpointed and truncated afterwards.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from orion_lsp.storage.blobs import release_turns
from orion_lsp.storage.database import Database
from orion_lsp.storage.errors import StorageError
from orion_lsp.storage.trace import live_open_turns

log = logging.getLogger(__name__)

TITLE_MAX_CHARS = 80
UNTITLED = "Untitled"
_BLANKS = " \t\r\n"
# A title the user gives (orion.renameThread) may be longer than a derived one.
RENAME_MAX_CHARS = 200


def thread_title(prompt: str) -> str:
    """The first line of the prompt, trimmed, cut to at most 80 characters."""
    text = prompt.strip(_BLANKS)
    first = text.split("\n", 1)[0].strip(" \t\r")
    return first[:TITLE_MAX_CHARS] or UNTITLED


def new_thread_id() -> str:
    return uuid.uuid4().hex


class ThreadNotFound(LookupError):
    """No such thread in this project: a usage error (-32602, exit 2), not storage."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"unknown thread {thread_id!r} in this project")
        self.thread_id = thread_id


class ThreadBusy(RuntimeError):
    """A turn of the thread is still running (here or in another process)."""

    def __init__(self, thread_id: str, turn_ids: Sequence[str]) -> None:
        super().__init__(
            f"a turn of thread {thread_id!r} is still running ({', '.join(turn_ids)}); "
            "cancel it first"
        )
        self.turn_ids = list(turn_ids)


@dataclass(frozen=True)
class Thread:
    id: str
    project_id: str
    title: str
    created_at: str
    updated_at: str
    turns: int = 0  # turns shown in the thread (rewound ones are not counted)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Thread:
        keys = row.keys()
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            title=row["title"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            turns=row["turns"] if "turns" in keys else 0,
        )

    def to_wire(self) -> dict[str, Any]:
        """One entry of `orion.threads` (docs/protocol.md#threads)."""
        return {
            "threadId": self.id,
            "title": self.title,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "turns": self.turns,
        }


@dataclass(frozen=True)
class ThreadChoice:
    """The thread a turn goes to; `new` when its row is written with the first prompt."""

    thread_id: str
    new: bool


# The turn count reads the partial index of migration 5 (no table lookups).
_LIST_SQL = (
    "SELECT t.id, t.project_id, t.title, t.created_at, t.updated_at,"
    " (SELECT COUNT(*) FROM chat_messages AS m WHERE m.thread_id = t.id"
    "  AND m.role = 'user' AND m.rewound_at IS NULL) AS turns"
    " FROM threads AS t WHERE t.project_id = ?"
    " ORDER BY t.updated_at DESC, t.id DESC LIMIT ?"
)


class ThreadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, project_id: str, limit: int = 50) -> list[Thread]:
        """The project's threads, most recently updated first."""
        if limit <= 0:
            return []
        rows = await self.db.fetchall(_LIST_SQL, (project_id, limit))
        return [Thread.from_row(r) for r in rows]

    async def get(self, project_id: str, thread_id: str) -> Thread:
        """The thread, or ThreadNotFound (also for another project's thread)."""
        row = await self.db.fetchone(
            "SELECT id, project_id, title, created_at, updated_at FROM threads"
            " WHERE id = ? AND project_id = ?",
            (thread_id, project_id),
        )
        if row is None:
            raise ThreadNotFound(thread_id)
        return Thread.from_row(row)

    async def find(self, thread_id: str) -> Thread | None:
        """The thread with this id, whatever its project (the caller checks the project)."""
        row = await self.db.fetchone(
            "SELECT id, project_id, title, created_at, updated_at FROM threads WHERE id = ?",
            (thread_id,),
        )
        return None if row is None else Thread.from_row(row)

    async def latest(self, project_id: str) -> Thread | None:
        """The most recently updated thread of the project, if it has one."""
        row = await self.db.fetchone(
            "SELECT id, project_id, title, created_at, updated_at FROM threads"
            " WHERE project_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1",
            (project_id,),
        )
        return None if row is None else Thread.from_row(row)

    async def choose(
        self, project_id: str, thread_id: str | None = None, *, new: bool = False
    ) -> ThreadChoice:
        """Where a turn goes: the given thread, a new one, else the latest (or a new one)."""
        if thread_id is not None and new:
            raise ValueError("give a thread id or ask for a new thread, not both")
        if thread_id is not None:
            await self.get(project_id, thread_id)
            return ThreadChoice(thread_id, new=False)
        if not new:
            latest = await self.latest(project_id)
            if latest is not None:
                return ThreadChoice(latest.id, new=False)
        return ThreadChoice(new_thread_id(), new=True)

    async def rename(self, project_id: str, thread_id: str, title: str) -> Thread:
        """Set the title (redacted like every stored text); updated_at does not change."""
        title = clean_title(title)
        if self.db.redactor is not None:
            title = self.db.redactor(title)

        async def update(conn: aiosqlite.Connection) -> int:
            rows = await conn.execute_fetchall(
                "UPDATE threads SET title = ? WHERE id = ? AND project_id = ? RETURNING id",
                (title, thread_id, project_id),
            )
            return len(list(rows))

        if not await self.db.write(update):
            raise ThreadNotFound(thread_id)
        return await self.get(project_id, thread_id)

    async def delete(self, project_id: str, thread_id: str) -> dict[str, int]:
        """Forget the thread: every row of its turns, in one transaction.

        Refused (ThreadBusy) while one of its turns runs, which would go on
        writing into the thread. Returns how many rows of each kind went.
        """
        await self.get(project_id, thread_id)
        running = await live_open_turns(self.db, thread_id)
        if running:
            raise ThreadBusy(thread_id, running)

        async def delete_all(conn: aiosqlite.Connection) -> dict[str, int]:
            return await _delete_thread(conn, project_id, thread_id)

        counts = await self.db.write(delete_all)
        await self._truncate_wal()
        return counts

    async def _truncate_wal(self) -> None:
        """Copy the WAL into the file and truncate it, so the deleted pages leave it too.

        The delete is committed already; when another connection still reads
        an older snapshot the WAL cannot be truncated now, and its frames go at
        the next checkpoint (docs/storage.md says what remains where).
        """
        try:
            row = await self.db.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
        except StorageError as exc:
            log.warning("WAL checkpoint after a thread delete failed: %s", exc)
            return
        if row is not None and row[0]:
            log.info("WAL not truncated after a thread delete: a reader holds an old snapshot")


def clean_title(title: str) -> str:
    """A title as stored: one line, trimmed, non-empty, at most RENAME_MAX_CHARS."""
    one_line = " ".join(title.split())
    if not one_line:
        raise ValueError("a thread title must not be empty")
    return one_line[:RENAME_MAX_CHARS]


async def _ids(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[str]:
    return [str(r[0]) for r in await conn.execute_fetchall(sql, params)]


async def _delete(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> int:
    cursor = await conn.execute(sql, params)
    try:
        return int(cursor.rowcount)
    finally:
        await cursor.close()


async def _delete_thread(
    conn: aiosqlite.Connection, project_id: str, thread_id: str
) -> dict[str, int]:
    turn_ids = sorted(
        set(
            await _ids(
                conn,
                "SELECT DISTINCT turn_id FROM chat_messages WHERE thread_id = ?"
                " UNION SELECT DISTINCT turn_id FROM trace_events WHERE thread_id = ?"
                " UNION SELECT DISTINCT turn_id FROM checkpoints WHERE thread_id = ?",
                (thread_id, thread_id, thread_id),
            )
        )
    )
    counts = {"turns": len(turn_ids), "messages": 0, "events": 0, "checkpoints": 0, "scores": 0}
    for start in range(0, len(turn_ids), 500):  # below SQLite's variable limit
        part = turn_ids[start : start + 500]
        marks = ",".join("?" * len(part))
        where = f"turn_id IN ({marks}) AND project_id = ?"
        params = [*part, project_id]
        for table, key in (
            ("scores", "scores"),
            ("checkpoints", "checkpoints"),
            ("trace_events", "events"),
            ("chat_messages", "messages"),
        ):
            counts[key] += await _delete(conn, f"DELETE FROM {table} WHERE {where}", params)
    counts["blobs"] = await release_turns(conn, turn_ids)
    await conn.execute_fetchall(
        "DELETE FROM threads WHERE id = ? AND project_id = ?", (thread_id, project_id)
    )
    return counts
