"""Running turns for the editor: progress, cancellation, detach, `orion/turnEnd`.

A turn runs in its own task so that `$/cancelRequest` (which cancels the
request's handler), `orion.cancel` and `window/workDoneProgress/cancel` can
all stop it, and so that a detached turn outlives its request. The turn task
always sends `orion/turnEnd` and ends the progress before the request is
answered (docs/protocol.md#notifications).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..agent.turn import ERROR, TurnOutcome, TurnRequest
from ..redact import Redactor
from .editor_io import EditorSink, LspEditApplier, WorkspaceDocuments
from .errors import OrionRpcError, to_rpc_error
from .stock_clients import StockClientAnswers

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from ..agent.orchestrator import ToolOrchestrator

log = logging.getLogger(__name__)


class TurnRunner:
    def __init__(
        self,
        server: LanguageServer,
        orchestrator: Callable[[], Awaitable[ToolOrchestrator]],
        redactor: Redactor,
        show_error: Callable[[str], None],
        answers: StockClientAnswers,
        after_turn: Callable[[TurnRequest, TurnOutcome], None] | None = None,
    ) -> None:
        self._server = server
        self._answers = answers
        self._orchestrator = orchestrator
        self._redact = redactor
        self._show_error = show_error
        # Work that follows a finished turn without delaying its answer (the
        # background `tests` evaluator).
        self._after_turn = after_turn
        self._documents = WorkspaceDocuments(server)
        self._applier = LspEditApplier(server, self._documents)
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._detached: set[asyncio.Task[Any]] = set()

    @property
    def documents(self) -> WorkspaceDocuments:
        return self._documents

    def running(self) -> list[str]:
        return list(self._tasks)

    async def run(
        self, req: TurnRequest, *, work_done_token: Any = None, detach: bool = False
    ) -> dict[str, Any]:
        orchestrator = await self._orchestrator()  # raises the start-up StorageError, if any
        token = await self._progress_token(req.turn_id, work_done_token)
        sink = EditorSink(self._server, self._redact, token)
        task = asyncio.create_task(self._run(orchestrator, req, sink), name=f"turn-{req.turn_id}")
        self._tasks[req.turn_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(req.turn_id, None))
        if detach:
            self._detached.add(task)
            task.add_done_callback(self._detached_done)
            return {
                "projectId": req.project.project_id,
                "turnId": req.turn_id,
                "threadId": req.thread_id,
                "status": "running",
            }
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # $/cancelRequest cancelled this request: stop the turn, let it record
            # `turn_end` and send `orion/turnEnd`, then answer -32800.
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise

    def cancel(self, turn_id: str) -> bool:
        task = self._tasks.get(turn_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    async def _run(
        self, orchestrator: ToolOrchestrator, req: TurnRequest, sink: EditorSink
    ) -> dict[str, Any]:
        end: dict[str, Any] = {"turnId": req.turn_id, "status": ERROR}
        try:
            outcome = await orchestrator.run(
                req, sink, documents=self._documents, applier=self._applier
            )
            result = outcome.as_result()
            # `edits` too: a detached turn's client learns them from here only.
            end = {
                "turnId": req.turn_id,
                "status": outcome.status,
                "answer": outcome.answer,
                "edits": result["edits"],
            }
            if outcome.error:
                end["error"] = outcome.error
            if self._after_turn is not None:
                self._after_turn(req, outcome)  # starts tasks; runs after turnEnd is sent
            return result
        except asyncio.CancelledError:
            end = {"turnId": req.turn_id, "status": "cancelled"}
            raise
        except Exception as exc:
            err = to_rpc_error(exc, self._redact)
            end = {"turnId": req.turn_id, "status": ERROR, "error": err.message}
            raise err from None
        finally:
            sink.turn_end({**end, "threadId": req.thread_id})
            self._end_progress(sink.progress_token, end["status"])
            self._answers.turn_ended(req.prompt, end)

    def _detached_done(self, task: asyncio.Task[Any]) -> None:
        self._detached.discard(task)
        if task.cancelled():
            return
        err = task.exception()  # already in turnEnd; no request will carry it
        if isinstance(err, OrionRpcError) and err.show:
            self._show_error(err.message)

    async def _progress_token(self, turn_id: str, client_token: Any) -> Any:
        progress = self._server.work_done_progress
        token = client_token
        if token is None:
            if not _client_supports_progress(self._server):
                return None
            token = f"orion-turn-{turn_id}"
            try:
                await progress.create_async(token)
            except Exception as exc:  # a client may refuse: the turn runs without progress
                log.info("progress token refused: %s", exc)
                return None
        progress.begin(
            token,
            lsp.WorkDoneProgressBegin(title="Orion", message="Thinking", cancellable=True),
        )
        future = progress.tokens.get(token)
        if future is not None:
            # window/workDoneProgress/cancel cancels this future: stop the turn.
            future.add_done_callback(lambda f: self.cancel(turn_id) if f.cancelled() else None)
        return token

    def _end_progress(self, token: Any, status: str) -> None:
        if token is None:
            return
        progress = self._server.work_done_progress
        try:
            progress.end(token, lsp.WorkDoneProgressEnd(message=f"Orion: {status}"))
        finally:
            progress.tokens.pop(token, None)


def _client_supports_progress(server: LanguageServer) -> bool:
    try:
        window = server.client_capabilities.window
    except Exception:
        return False
    return bool(window and window.work_done_progress)
