"""Sessions as threads: what the ACP front end needs of the thread store.

A session is a thread, and its id is the thread's id from the start. As in
the language server, a thread's row is written by its first turn (titled by
its first prompt), so `session/new` only picks the id; a session that never
gets a prompt leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from ..agent.turn import TurnRequest
from ..project import Project
from ..services import Services
from ..storage.threads import ThreadNotFound, new_thread_id

LIST_LIMIT = 200
REPLAY_LIMIT = 1000  # messages replayed by session/load


class SessionThreads:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._unstarted: set[str] = set()  # ids handed out by session/new, no turn yet

    async def create(self, project: Project) -> str:
        self._services.require_db()
        thread_id = new_thread_id()
        self._unstarted.add(thread_id)
        return thread_id

    async def messages(self, project: Project, thread_id: str) -> list[tuple[str, str]] | None:
        """The thread's messages, oldest first; None when it is not this project's."""
        if thread_id in self._unstarted:
            return []
        try:
            await self._services.require_threads().get(project.project_id, thread_id)
        except ThreadNotFound:
            return None
        history = self._services.history
        assert history is not None
        rows = await history.thread(thread_id, REPLAY_LIMIT)
        return [(m.role, m.content) for m in rows]

    async def listing(self, project: Project) -> list[dict[str, Any]]:
        threads = await self._services.require_threads().list(project.project_id, LIST_LIMIT)
        return [t.to_wire() for t in threads]

    def bind(self, req: TurnRequest, thread_id: str) -> None:
        req.thread_id = thread_id
        req.new_thread = thread_id in self._unstarted

    def started(self, thread_id: str) -> None:
        self._unstarted.discard(thread_id)
