"""The language server: lifecycle, settings, and the executeCommand boundary.

`OrionProtocol` replaces pygls' executeCommand dispatch so that a command
handler sees the whole `ExecuteCommandParams` (its `workDoneToken`), so that
argument errors never carry a traceback, and so that `$/cancelRequest`
cancels the handler's task, which stops the turn (see turns.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .. import __version__
from ..config import Settings, SettingsError, load_settings
from ..processes import pid_alive
from ..project import Project, ProjectSet, project_for, uri_to_path
from ..redact import Redactor
from ..services import Services, open_services
from ..storage import StorageError
from .commands import BY_NAME, COMMANDS, CommandHandlers
from .documents import LineIndexedWorkspace
from .errors import OrionRpcError, to_rpc_error
from .indexing import Indexer
from .stock_clients import StockClientAnswers
from .turn_requests import TurnRequests
from .turns import TurnRunner

if TYPE_CHECKING:
    from ..agent.turn import TurnOutcome, TurnRequest
    from ..evals.background import BackgroundTests
    from ..storage import Score

log = logging.getLogger(__name__)

# A background evaluator's scores landed (docs/protocol.md): {turnId, scores}.
TURN_SCORES = "orion/turnScores"
PARENT_POLL_SECONDS = 3.0


class OrionProtocol(LanguageServerProtocol):
    @lsp_method(lsp.WORKSPACE_EXECUTE_COMMAND)
    # pygls' version is a generator; an async handler is what lets $/cancelRequest
    # cancel the running command (pygls cancels the handler's task).
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: lsp.ExecuteCommandParams
    ) -> Any:
        server: OrionLanguageServer = self._server  # type: ignore[assignment]
        return await server.execute_command(params)


class OrionLanguageServer(LanguageServer):
    def __init__(self, *, environ: dict[str, str] | None = None) -> None:
        super().__init__("orion-lsp", __version__, protocol_cls=OrionProtocol)
        self._environ = dict(os.environ) if environ is None else environ
        self.redactor = Redactor.from_environment(self._environ)
        self.projects = ProjectSet()
        self.services = Services(settings=Settings(), redactor=self.redactor)
        self.indexer = Indexer(self)
        self._background_tests: BackgroundTests | None = None  # made on first use
        answers = StockClientAnswers(
            self, self.redactor, lambda: [p.root for p in self.projects.projects]
        )
        self.turns = TurnRunner(
            self,
            lambda: self.services.agent(),
            self.redactor,
            self.show_error,
            answers,
            after_turn=self._after_turn,
        )
        self.handlers = CommandHandlers(self, TurnRequests(self.projects, self.turns.documents))
        self._pending_start_error: str | None = None
        self._init_options: dict[str, Any] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._parent_watch: asyncio.Future[Any] | None = None
        for command in COMMANDS:
            # Registered so `initialize` advertises them; OrionProtocol dispatches.
            self.command(command.name)(_advertised_only)

    # -- the executeCommand boundary ---------------------------------------------------

    async def execute_command(self, params: lsp.ExecuteCommandParams) -> Any:
        command = BY_NAME.get(params.command)
        try:
            if command is None:
                raise OrionRpcError(-32602, f"Unknown command {params.command!r}")
            return await self.handlers.run(command, params.arguments, params.work_done_token)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = to_rpc_error(exc, self.redactor)
            # Every failing command shows its error here, a turn's too (also one
            # that fails before it starts, e.g. on a start-up storage error). A
            # detached turn answers at once: turns.py shows what fails later.
            if err.show:
                self.show_error(err.message)
            raise err from None

    def show_error(self, message: str) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Error, message=message))

    # -- after a turn: the background `tests` evaluator (docs/evaluation.md) -----------

    @property
    def background_tests(self) -> BackgroundTests:
        if self._background_tests is None:
            from ..evals.background import BackgroundTests  # not on the start-up path

            self._background_tests = BackgroundTests(
                lambda: self.services.evaluations(), self._send_scores, self._show_storage_error
            )
        return self._background_tests

    def test_runs(self) -> dict[str, int]:
        """Background test runs started since start-up, and running now (orion.status)."""
        if self._background_tests is None:
            return {"started": 0, "running": 0}
        return self._background_tests.status()

    def _after_turn(self, req: TurnRequest, outcome: TurnOutcome) -> None:
        if not outcome.edits:
            return  # nothing changed: nothing to test
        trusted = self.services.settings.workspace_trusted
        self.background_tests.after_turn(
            req.project, outcome.turn_id, outcome.edits, trusted=trusted
        )

    async def _send_scores(self, turn_id: str, scores: list[Score]) -> None:
        self.protocol.notify(
            TURN_SCORES, {"turnId": turn_id, "scores": [s.to_wire() for s in scores]}
        )

    def _show_storage_error(self, exc: StorageError) -> None:
        self.show_error(self.redactor(str(exc)))

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would send "Error in server: <exception text>" to the client; the text
        # may carry paths or provider messages. Keep it in the local log only.
        log.error(
            "server error (%s): %s", getattr(source, "__name__", source), self.redactor(str(error))
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def on_initialize(self, params: lsp.InitializeParams) -> None:
        self._use_line_indexed_documents()
        self._init_options = (
            params.initialization_options
            if isinstance(params.initialization_options, dict)
            else None
        )
        for root in _roots(params):
            self.projects.add(project_for(root))
        try:
            settings = load_settings(self._init_options, None, self._environ)
        except SettingsError as exc:
            self.show_error(f"Orion settings error: {exc}; using defaults")
            settings = load_settings(None, None, self._environ)
        opened = await open_services(settings, redactor=self.redactor, eager=False)
        self.services = opened
        if opened.db_error is not None:
            self._pending_start_error = str(opened.db_error)
        else:
            self._pending_start_error = None
            await self._close_interrupted_turns()
        if params.process_id:
            # Not in `_background`: it must outlive `shutdown` (a client may die
            # between shutdown and exit).
            self._parent_watch = asyncio.ensure_future(self._watch_parent(params.process_id))

    async def on_initialized(self) -> None:
        if self._pending_start_error:
            # Shown once; every command that needs storage answers the same text.
            self.show_error(self._pending_start_error)
        self.spawn(self._warm_model_client())
        # In the background, so `shutdown` in the first second cancels it
        # instead of closing the database under a half-built agent.
        self.spawn(self._after_initialized())

    async def _after_initialized(self) -> None:
        try:
            await self.refresh_configuration()
            # The agent half (repo map, tools, orchestrator) is built now, after the
            # initialize response, so start-up stays close to a bare pygls server.
            await self.services.build_agent()
            await self.indexer.start(self.projects.projects)
        except Exception:
            # A turn builds what is missing itself, and shows what fails then.
            log.exception("start-up after initialized failed")

    async def refresh_configuration(self) -> None:
        caps = self.client_capabilities.workspace
        if not (caps and caps.configuration):
            return
        try:
            result = await self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section="orion")])
            )
        except Exception as exc:
            log.info("workspace/configuration failed: %s", exc)
            return
        section = result[0] if result else None
        if not isinstance(section, dict):
            return
        try:
            settings = load_settings(self._init_options, section, self._environ)
        except SettingsError as exc:
            self.show_error(f"Orion settings error: {exc}")
            return
        if settings.database_path != self.services.settings.database_path:
            log.warning("databasePath changed in configuration; takes effect after a restart")
            settings = _keep_db(settings, self.services.settings)
        self.services.update_settings(settings)

    def _use_line_indexed_documents(self) -> None:
        """Large buffers stay cheap to edit (documents.py says why)."""
        ws = self.protocol.workspace
        self.protocol._workspace = LineIndexedWorkspace(
            ws.root_uri,
            ws._sync_kind,
            list(ws.folders.values()),
            ws.position_encoding,
        )

    async def on_shutdown(self) -> None:
        await self.turns.cancel_all()
        if self._background_tests is not None:
            await self._background_tests.cancel()  # their commands' process groups die too
        for task in list(self._background):
            task.cancel()
        await self.services.close()

    def repo_map_stats(self) -> dict[str, Any]:
        ctx = self.services.context
        if ctx is not None and hasattr(ctx, "stats"):
            return dict(ctx.stats())
        return {"files": 0, "symbols": 0, "buildMs": 0}

    def add_workspace_folders(
        self, added: Sequence[lsp.WorkspaceFolder], removed: Sequence[lsp.WorkspaceFolder]
    ) -> list[Project]:
        for f in removed:
            path = uri_to_path(f.uri)
            if path is not None:
                self.projects.remove_root(path)
        new = []
        for f in added:
            path = uri_to_path(f.uri)
            if path is not None:
                p = project_for(path)
                self.projects.add(p)
                new.append(p)
        return new

    # -- background work -----------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _warm_model_client(self) -> None:
        # litellm takes seconds to import: do it off the request path, in a thread.
        from ..agent.litellm_setup import import_litellm

        try:
            await asyncio.get_running_loop().run_in_executor(None, import_litellm)
        except Exception:
            log.exception("warming litellm failed")

    async def _close_interrupted_turns(self) -> None:
        traces = self.services.traces
        if traces is None:
            return
        try:
            closed = await traces.mark_interrupted()
        except StorageError as exc:
            # Fail loud (docs/protocol.md#storage-errors): a transient fault here
            # would otherwise pass unseen, since the next command may well
            # succeed. Shown after `initialized`, like an open failure;
            # commands keep working.
            self._pending_start_error = self.redactor(str(exc))
            log.error("could not close interrupted turns: %s", self._pending_start_error)
            return
        if closed:
            log.info("marked %d interrupted turn(s)", len(closed))

    async def _watch_parent(self, pid: int) -> None:
        """The editor died without closing our stdin: exit rather than linger."""
        while True:
            await asyncio.sleep(PARENT_POLL_SECONDS)
            if not pid_alive(pid):
                log.warning("parent process %d is gone; exiting", pid)
                os._exit(0)


async def _advertised_only(*args: Any) -> None:
    raise OrionRpcError(-32603, "command dispatch bypassed OrionProtocol")


def _keep_db(new: Settings, old: Settings) -> Settings:
    from dataclasses import replace

    return replace(new, database_path=old.database_path)


def _roots(params: lsp.InitializeParams) -> list[str]:
    roots: list[str] = []
    for folder in params.workspace_folders or []:
        path = uri_to_path(folder.uri)
        if path is not None:
            roots.append(str(path))
    if roots:
        return roots
    if params.root_uri:
        path = uri_to_path(params.root_uri)
        if path is not None:
            return [str(path)]
    if params.root_path:
        return [params.root_path]
    return []


def create_language_server(environ: dict[str, str] | None = None) -> OrionLanguageServer:
    """Build the server and register its features (the LSP side of the composition root)."""
    from . import features

    server = OrionLanguageServer(environ=environ)
    features.register(server)
    return server
