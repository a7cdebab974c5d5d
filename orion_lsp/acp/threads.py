"""Sessions as threads: what the ACP front end needs of the thread store.

One small adapter, so the ACP methods read as the protocol does (create,
messages, listing) whatever the thread store's own names are.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..agent.turn import TurnRequest
from ..project import Project
from ..services import Services
from ..storage import thread_title, utc_now

LIST_LIMIT = 200


class SessionThreads:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def create(self, project: Project) -> str:
        db = self._services.require_db()
        thread_id = uuid.uuid4().hex
        now = utc_now()

        async def insert(conn: Any) -> None:
            await conn.execute_fetchall(
                "INSERT INTO threads (id, project_id, title, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (thread_id, project.project_id, thread_title("New session"), now, now),
            )

        await db.write(insert)
        return thread_id

    async def messages(self, project: Project, thread_id: str) -> list[tuple[str, str]] | None:
        db = self._services.require_db()
        if await db.fetchone(
            "SELECT 1 FROM threads WHERE id = ? AND project_id = ?", (thread_id, project.project_id)
        ) is None:
            return None
        rows = await db.fetchall(
            "SELECT role, content FROM chat_messages WHERE thread_id = ? AND rewound_at IS NULL"
            " ORDER BY id",
            (thread_id,),
        )
        return [(r[0], r[1]) for r in rows]

    async def listing(self, project: Project) -> list[dict[str, Any]]:
        db = self._services.require_db()
        rows = await db.fetchall(
            "SELECT id, title, updated_at FROM threads WHERE project_id = ?"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (project.project_id, LIST_LIMIT),
        )
        return [{"threadId": r[0], "title": r[1], "updatedAt": r[2]} for r in rows]

    def bind(self, req: TurnRequest, thread_id: str) -> None:
        req.thread_id = thread_id  # type: ignore[attr-defined]
