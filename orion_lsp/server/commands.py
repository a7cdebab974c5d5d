"""`workspace/executeCommand`: the one table of Orion's commands.

Each `Command` says everything the server needs to know about one command:
its name (advertised in `initialize`), how its arguments are parsed (a bad
argument is `-32602`), and either a `handler` that answers it or, for a
command that runs a turn, a `turn` function that builds the `TurnRequest`
(`TurnRunner` then streams, stores and answers it, detached or not).
Registration (server.py), dispatch and the error boundary
(`OrionLanguageServer.execute_command`) read only this table.

To add a command:
1. write its argument parser in arguments.py (one JSON object, camelCase keys,
   `InvalidArguments` for anything wrong; a turn command's arguments carry
   `detach`);
2. write a `CommandHandlers` method: `async def x(self, args) -> dict` that
   calls one service, or, for a turn, `def x_turn(self, args) -> TurnRequest`
   built with `self.requests` (which resolves `uri` once);
3. add one `Command(...)` line to `COMMANDS`, a test in tests/lsp, and its
   section in docs/protocol.md#commands.
Errors need no handling in the command: `errors.to_rpc_error` maps them at
the boundary, which also sends the showMessage the protocol asks for
(docs/protocol.md#errors; docs/architecture.md#thin-handlers says why).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..agent.turn import TurnRequest
from . import code_actions
from .arguments import (
    CancelArgs,
    ChatArgs,
    DeleteThreadArgs,
    FeedbackArgs,
    HistoryArgs,
    RenameThreadArgs,
    RewindArgs,
    ThreadsArgs,
    parse_cancel,
    parse_chat,
    parse_delete_thread,
    parse_feedback,
    parse_history,
    parse_rename_thread,
    parse_rewind,
    parse_status,
    parse_threads,
)
from .errors import InvalidArguments
from .thread_commands import ThreadCommands
from .turn_requests import TurnRequests

if TYPE_CHECKING:
    from .server import OrionLanguageServer


class CommandHandlers:
    """The commands' work, given parsed arguments (thin: one service call each)."""

    def __init__(self, server: OrionLanguageServer, requests: TurnRequests) -> None:
        self._ls = server
        self.requests = requests
        self.threads_ = ThreadCommands(server, requests.project)

    async def run(self, command: Command, arguments: Any, work_done_token: Any) -> Any:
        args = command.parse(arguments)
        if command.turn is not None:
            req = command.turn(self, args)
            # Every turn command carries `threadId` / `newThread` (docs/protocol.md#threads).
            await self.threads_.choose_thread(req, args.thread)
            self._ls.indexer.flush()  # the turn's repo map sees the latest buffers
            return await self._ls.turns.run(
                req, work_done_token=work_done_token, detach=args.detach
            )
        assert command.handler is not None
        return await command.handler(self, args)

    def chat_turn(self, args: ChatArgs) -> TurnRequest:
        target = self.requests.target(args.uri)
        return self.requests.request(target, args.prompt, source="chat", selection=args.range)

    def code_action_turn(self, args: code_actions.CodeActionArgs) -> TurnRequest:
        return code_actions.build_request(self.requests, args)

    async def history(self, args: HistoryArgs) -> dict[str, Any]:
        return await self.threads_.history(args)

    async def threads(self, args: ThreadsArgs) -> dict[str, Any]:
        return await self.threads_.threads(args)

    async def rename_thread(self, args: RenameThreadArgs) -> dict[str, Any]:
        return await self.threads_.rename(args)

    async def delete_thread(self, args: DeleteThreadArgs) -> dict[str, Any]:
        return await self.threads_.delete(args)

    async def rewind(self, args: RewindArgs) -> dict[str, Any]:
        return await self.threads_.rewind(args)

    async def status(self, args: None) -> dict[str, Any]:
        services = self._ls.services
        s = services.settings
        db = services.db
        result: dict[str, Any] = {
            "projects": [
                {"projectId": p.project_id, "root": str(p.root)} for p in self._ls.projects.projects
            ],
            "databasePath": str(db.path) if db is not None else s.database_path,
            "schemaVersion": db.schema_version if db is not None else None,
            "model": s.model,
            "criticModel": s.critic_model,
            "repoMap": self._ls.repo_map_stats(),
            "runningTurns": self._ls.turns.running(),
            # Whether the client said this workspace may run its test command.
            "workspaceTrusted": s.workspace_trusted,
            "testRuns": self._ls.test_runs(),
            "telemetry": services.telemetry_status(),
        }
        if services.db_error is not None:
            result["storageError"] = str(services.db_error)
        return result

    async def cancel(self, args: CancelArgs) -> dict[str, Any]:
        return {"cancelled": self._ls.turns.cancel(args.turn_id)}

    async def feedback(self, args: FeedbackArgs) -> dict[str, Any]:
        from ..evals.feedback import UnknownTurn, rate_turn

        services = self._ls.services
        db = services.require_db()
        assert services.scores is not None
        try:
            await rate_turn(db, services.scores, args.turn_id, args.rating, args.comment)
        except UnknownTurn as exc:
            raise InvalidArguments(str(exc)) from None
        return {"turnId": args.turn_id, "rating": args.rating}


@dataclass(frozen=True)
class Command:
    """One row of the table: exactly one of `handler` and `turn` is set."""

    name: str
    parse: Callable[[Any], Any]
    handler: Callable[[CommandHandlers, Any], Awaitable[dict[str, Any]]] | None = None
    turn: Callable[[CommandHandlers, Any], TurnRequest] | None = None

    @property
    def runs_turn(self) -> bool:
        return self.turn is not None


COMMANDS: tuple[Command, ...] = (
    Command("orion.chat", parse_chat, turn=CommandHandlers.chat_turn),
    Command("orion.history", parse_history, handler=CommandHandlers.history),
    Command("orion.status", parse_status, handler=CommandHandlers.status),
    Command("orion.cancel", parse_cancel, handler=CommandHandlers.cancel),
    Command("orion.feedback", parse_feedback, handler=CommandHandlers.feedback),
    Command(
        code_actions.COMMAND, code_actions.parse_code_action, turn=CommandHandlers.code_action_turn
    ),
    Command("orion.threads", parse_threads, handler=CommandHandlers.threads),
    Command("orion.renameThread", parse_rename_thread, handler=CommandHandlers.rename_thread),
    Command("orion.deleteThread", parse_delete_thread, handler=CommandHandlers.delete_thread),
    Command("orion.rewind", parse_rewind, handler=CommandHandlers.rewind),
)
BY_NAME = {c.name: c for c in COMMANDS}
