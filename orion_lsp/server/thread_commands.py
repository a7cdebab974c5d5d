"""`orion.threads`, `orion.history`, `orion.renameThread`, `orion.deleteThread`,
`orion.rewind`, and the thread a turn command goes to (docs/protocol.md#threads).

Thin: each parses nothing (arguments.py did), finds the project the thread or
turn belongs to among the open workspace folders (a thread or turn of a
project this server does not have open is an unknown one: -32602), and calls
one service. Rewind restores through `EditorRestoreTarget`, one undoable
`workspace/applyEdit` per file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..agent.turn import TurnRequest
from ..conversations import history_object, threads_object
from ..project import Project
from ..storage import ThreadNotFound
from .arguments import (
    DeleteThreadArgs,
    HistoryArgs,
    RenameThreadArgs,
    RewindArgs,
    ThreadKeys,
    ThreadsArgs,
)
from .errors import InvalidArguments
from .rewind_edits import EditorRestoreTarget

if TYPE_CHECKING:
    from .server import OrionLanguageServer


class ThreadCommands:
    def __init__(
        self, server: OrionLanguageServer, project_for: Callable[[str | None], Project]
    ) -> None:
        self._ls = server
        self._project_for = project_for

    def _open_project(self, project_id: str, what: str) -> Project:
        for p in self._ls.projects.projects:
            if p.project_id == project_id:
                return p
        raise InvalidArguments(f"unknown {what} (its project is not open in this editor)")

    async def choose_thread(self, req: TurnRequest, keys: ThreadKeys) -> None:
        """Put the turn in its thread before it starts: -32602 for an unknown or foreign id."""
        threads = self._ls.services.require_threads()
        try:
            choice = await threads.choose(
                req.project.project_id, keys.thread_id, new=keys.new_thread
            )
        except ThreadNotFound as exc:
            raise InvalidArguments(str(exc)) from None
        req.thread_id = choice.thread_id
        req.new_thread = choice.new

    async def threads(self, args: ThreadsArgs) -> dict[str, Any]:
        project = self._project_for(args.uri)
        return await threads_object(self._ls.services, project.project_id, args.limit)

    async def history(self, args: HistoryArgs) -> dict[str, Any]:
        project = self._project_for(args.uri)
        services = self._ls.services
        services.require_db()
        limit = args.limit or services.settings.history_limit
        try:
            return await history_object(
                services, project.project_id, args.thread_id, limit, args.include_rewound
            )
        except ThreadNotFound as exc:
            raise InvalidArguments(str(exc)) from None

    async def _thread_project(self, thread_id: str) -> Project:
        thread = await self._ls.services.require_threads().find(thread_id)
        if thread is None:
            raise InvalidArguments(f"unknown thread {thread_id!r}")
        return self._open_project(thread.project_id, f"thread {thread_id!r}")

    async def rename(self, args: RenameThreadArgs) -> dict[str, Any]:
        project = await self._thread_project(args.thread_id)
        thread = await self._ls.services.require_threads().rename(
            project.project_id, args.thread_id, args.title
        )
        return {"threadId": thread.id, "title": thread.title}

    async def delete(self, args: DeleteThreadArgs) -> dict[str, Any]:
        project = await self._thread_project(args.thread_id)
        await self._ls.services.require_threads().delete(project.project_id, args.thread_id)
        return {"threadId": args.thread_id, "deleted": True}

    async def rewind(self, args: RewindArgs) -> dict[str, Any]:
        services = self._ls.services
        services.require_db()
        assert services.checkpoints is not None
        ref = await services.checkpoints.turn(args.turn_id)
        if ref is None:
            raise InvalidArguments(f"unknown turn {args.turn_id!r}")
        project = self._open_project(ref.project_id, f"turn {args.turn_id!r}")
        target = EditorRestoreTarget(self._ls, self._ls.turns.documents, project.root)
        return await services.rewinder().run(
            project.project_id, args.turn_id, target, force=args.force, dry_run=args.dry_run
        )
