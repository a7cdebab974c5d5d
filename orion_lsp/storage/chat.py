"""Chat history: `ChatStore` writes one row per user prompt / assistant answer,
`HistoryLoader` reads the last N of a project (`orion.history`, `orion history`,
and the history the orchestrator replays to the model).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

import aiosqlite

from orion_lsp.storage.database import Database, utc_now

ROLES = ("user", "assistant")
_COLUMNS = "id, project_id, turn_id, role, content, created_at"


@dataclass(frozen=True)
class ChatMessage:
    id: int
    project_id: str
    turn_id: str
    role: str
    content: str
    created_at: str  # ISO-8601 UTC with ms, 'Z'

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ChatMessage:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            turn_id=row["turn_id"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
        )

    def to_wire(self) -> dict[str, str]:
        """The shape `orion.history` and `orion history --json` show.

        See docs/protocol.md#orionhistory.
        """
        return {
            "role": self.role,
            "content": self.content,
            "turnId": self.turn_id,
            "createdAt": self.created_at,
        }


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, project_id: str, turn_id: str, role: Literal["user", "assistant"], content: str
    ) -> ChatMessage:
        """Store one message; it is committed when this returns.

        The content passes through the database's redactor first, and the
        returned message carries what was stored.
        """
        if role not in ROLES:
            # A programming error, not a storage failure: do not show it as one.
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if self.db.redactor is not None:
            content = self.db.redactor(content)
        created_at = utc_now()

        async def insert(conn: aiosqlite.Connection) -> int:
            rows = await conn.execute_fetchall(
                "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (project_id, turn_id, role, content, created_at),
            )
            return int(next(iter(rows))[0])

        new_id = await self.db.write(insert)
        return ChatMessage(new_id, project_id, turn_id, role, content, created_at)


class HistoryLoader:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def last(self, project_id: str, limit: int = 20) -> list[ChatMessage]:
        """The last `limit` messages of the project, oldest first."""
        if limit <= 0:
            # SQLite reads a negative LIMIT as "no limit"; nobody means that.
            return []
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM chat_messages"
            " WHERE project_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (project_id, limit),
        )
        return [ChatMessage.from_row(r) for r in rows]
