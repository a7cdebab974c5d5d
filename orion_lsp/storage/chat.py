"""Chat history: `ChatStore` writes one row per user prompt / assistant answer,
`HistoryLoader` reads a thread's messages (`orion.history`, `orion history`,
and the history the orchestrator replays to the model).

A user message with a thread id also writes its thread: the row is created
with the first prompt (titled by `thread_title`) and its `updated_at` moves
with every later prompt, in the same transaction as the message.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import aiosqlite

from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.threads import thread_title

ROLES = ("user", "assistant")
_COLUMNS = "id, project_id, turn_id, role, content, created_at, thread_id, rewound_at"
_M_COLUMNS = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))

# A new thread gets its title from its first prompt; a known one only moves
# `updated_at` (and never changes project: the caller checked it, the WHERE keeps it so).
# `updated_at` is strictly later than every other thread's of the project (by
# a millisecond if the clock has not moved on), so "the most recently updated
# thread" is never a tie.
_LATEST_UPDATE_SQL = "SELECT MAX(updated_at) FROM threads WHERE project_id = ?"
_TOUCH_THREAD_SQL = (
    "INSERT INTO threads (id, project_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at"
    " WHERE threads.project_id = excluded.project_id"
)


@dataclass(frozen=True)
class ChatMessage:
    id: int
    project_id: str
    turn_id: str
    role: str
    content: str
    created_at: str  # ISO-8601 UTC with ms, 'Z'
    thread_id: str | None = None
    rewound_at: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ChatMessage:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            turn_id=row["turn_id"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
            thread_id=row["thread_id"],
            rewound_at=row["rewound_at"],
        )

    def to_wire(self) -> dict[str, Any]:
        """The shape `orion.history` and `orion history --json` show.

        See docs/protocol.md#orionhistory.
        """
        wire: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "turnId": self.turn_id,
            "createdAt": self.created_at,
            "threadId": self.thread_id,
        }
        if self.rewound_at is not None:
            wire["rewound"] = True
        return wire


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        project_id: str,
        turn_id: str,
        role: Literal["user", "assistant"],
        content: str,
        *,
        thread_id: str | None = None,
    ) -> ChatMessage:
        """Store one message; it is committed when this returns.

        The content passes through the database's redactor first (so does a
        new thread's title, taken from it), and the returned message carries
        what was stored.
        """
        pending = self.prepare(project_id, turn_id, role, content, thread_id=thread_id)
        await self.db.write(pending.write)
        return pending.message

    def prepare(
        self,
        project_id: str,
        turn_id: str,
        role: Literal["user", "assistant"],
        content: str,
        *,
        thread_id: str | None = None,
    ) -> PendingMessage:
        """A message to write inside another store's transaction (`add` is this
        plus its own transaction): a turn's answer commits with its `turn_end`."""
        if role not in ROLES:
            # A programming error, not a storage failure: do not show it as one.
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if self.db.redactor is not None:
            content = self.db.redactor(content)
        return PendingMessage(project_id, turn_id, role, content, utc_now(), thread_id)


@dataclass
class PendingMessage:
    """One redacted chat row, written by `write(conn)`; `message` once it has run."""

    project_id: str
    turn_id: str
    role: str
    content: str
    created_at: str
    thread_id: str | None
    id: int | None = None

    async def write(self, conn: aiosqlite.Connection) -> None:
        if self.thread_id is not None and self.role == "user":
            rows = await conn.execute_fetchall(_LATEST_UPDATE_SQL, (self.project_id,))
            updated = _after(self.created_at, next(iter(rows))[0])
            await conn.execute_fetchall(
                _TOUCH_THREAD_SQL,
                (
                    self.thread_id,
                    self.project_id,
                    thread_title(self.content),
                    self.created_at,
                    updated,
                ),
            )
        rows = await conn.execute_fetchall(
            "INSERT INTO chat_messages"
            " (project_id, turn_id, role, content, created_at, thread_id)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self.project_id,
                self.turn_id,
                self.role,
                self.content,
                self.created_at,
                self.thread_id,
            ),
        )
        self.id = int(next(iter(rows))[0])

    @property
    def message(self) -> ChatMessage:
        if self.id is None:
            raise RuntimeError("the message has not been written")
        return ChatMessage(
            self.id,
            self.project_id,
            self.turn_id,
            self.role,
            self.content,
            self.created_at,
            self.thread_id,
        )


def _after(now: str, latest: str | None) -> str:
    """`now`, or one millisecond after `latest` when the clock has not passed it."""
    if latest is None or now > latest:
        return now
    later = datetime.fromisoformat(latest.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return later.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HistoryLoader:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def last(self, project_id: str, limit: int = 20) -> list[ChatMessage]:
        """The last `limit` messages of the project, any thread, oldest first."""
        if limit <= 0:
            # SQLite reads a negative LIMIT as "no limit"; nobody means that.
            return []
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM chat_messages"
            " WHERE project_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (project_id, limit),
        )
        return [ChatMessage.from_row(r) for r in rows]

    async def thread(
        self, thread_id: str, limit: int = 20, *, include_rewound: bool = False
    ) -> list[ChatMessage]:
        """The last `limit` messages of one thread, oldest first (what the user sees).

        Rewound turns are left out unless `include_rewound`.
        """
        if limit <= 0:
            return []
        rewound = "" if include_rewound else " AND rewound_at IS NULL"
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM chat_messages"
            f" WHERE thread_id = ?{rewound} ORDER BY id DESC LIMIT ?) ORDER BY id",
            (thread_id, limit),
        )
        return [ChatMessage.from_row(r) for r in rows]

    async def for_model(self, thread_id: str, limit: int = 20) -> list[ChatMessage]:
        """The history a turn sends to the model: the thread's last `limit` messages.

        Never a rewound turn, and never a turn whose answer is empty (a turn
        that failed before saying anything): its question alone, unanswered,
        would read to the model as a question it ignored, and some chat
        templates refuse two user messages in a row.
        """
        if limit <= 0:
            return []
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM (SELECT {_M_COLUMNS} FROM chat_messages AS m"
            " WHERE m.thread_id = ? AND m.rewound_at IS NULL AND NOT EXISTS"
            "  (SELECT 1 FROM chat_messages AS a WHERE a.turn_id = m.turn_id"
            "   AND a.role = 'assistant' AND trim(a.content, ' ' || char(9, 10, 13)) = '')"
            " ORDER BY m.id DESC LIMIT ?) ORDER BY id",
            (thread_id, limit),
        )
        return [ChatMessage.from_row(r) for r in rows]
