"""The composition root: Store -> Context -> Tools -> Orchestrator.

Both front ends (the language server and the `orion` CLI) get their parts
from `open_services`, so a turn in the terminal and a turn in the editor run
the same code against the same database. Nothing here runs at import time
(docs/architecture.md#the-composition-root).

Two halves: the ledger (database and stores) opens at once; the agent
(repo map, tools, orchestrator) is built by `build_agent`. The server builds
it right after answering `initialize`, which keeps start-up close to a bare
pygls server; a turn that arrives earlier simply awaits it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .config import Settings
from .redact import Redactor
from .storage import (
    ChatStore,
    CheckpointStore,
    Database,
    HistoryLoader,
    ScoreStore,
    StorageError,
    ThreadStore,
    TraceStore,
)

if TYPE_CHECKING:
    from .agent.model import Model
    from .agent.orchestrator import ToolOrchestrator
    from .agent.protocols import ContextProvider, TurnEndCheck
    from .agent.tools.base import EditApplier, Tool
    from .agent.turn import TurnRequest
    from .checkpoints.rewind import Rewinder
    from .evals.runner import Evaluations
    from .telemetry.exporter import Telemetry

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    redactor: Redactor
    db: Database | None = None
    db_error: StorageError | None = None
    chats: ChatStore | None = None
    traces: TraceStore | None = None
    history: HistoryLoader | None = None
    threads: ThreadStore | None = None
    checkpoints: CheckpointStore | None = None
    scores: ScoreStore | None = None
    telemetry: Telemetry | None = None
    orchestrator: ToolOrchestrator | None = None
    context: ContextProvider | None = None  # the repo map, once the agent half is built
    tools: list[Tool] = field(default_factory=list)
    cache_db: Database | None = None
    with_repo_map: bool = True
    extra_tools: list[Tool] = field(default_factory=list)
    # How a front end sees the tools (ACP wraps each to report it to its client).
    tool_wrapper: Callable[[list[Tool]], list[Tool]] | None = None
    _build_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def require_db(self) -> Database:
        """The database, or the start-up StorageError raised again (fail loud)."""
        if self.db_error is not None:
            raise self.db_error
        if self.db is None:
            raise StorageError(self.settings.database_path, "the database is not open")
        return self.db

    def require_threads(self) -> ThreadStore:
        self.require_db()
        assert self.threads is not None
        return self.threads

    def rewinder(self) -> Rewinder:
        from .checkpoints.rewind import Rewinder

        self.require_db()
        assert self.checkpoints is not None
        return Rewinder(self.checkpoints, self.scores)

    def evaluations(self) -> Evaluations:
        """The evaluators' service (scores), over the open ledger."""
        from .evals.runner import Evaluations

        db = self.require_db()
        assert self.traces is not None and self.scores is not None
        return Evaluations(db, self.traces, self.scores, self.redactor)

    def require_orchestrator(self) -> ToolOrchestrator:
        self.require_db()
        if self.orchestrator is None:
            raise RuntimeError("the agent is not built yet (await Services.agent())")
        return self.orchestrator

    async def agent(self) -> ToolOrchestrator:
        """The orchestrator, built on first use."""
        self.require_db()
        await self.build_agent()
        return self.require_orchestrator()

    async def build_agent(self) -> None:
        if self.orchestrator is not None or self.db is None:
            return
        async with self._build_lock:
            if self.orchestrator is None:
                await _build_agent(self)

    def update_settings(self, settings: Settings) -> None:
        self.redactor.add_secret(settings.api_key)
        self.settings = settings

    def telemetry_status(self) -> dict[str, Any]:
        if self.telemetry is None:
            return {"endpoint": None, "exported": 0, "failed": 0}
        return self.telemetry.status()

    async def close(self) -> None:
        if self.telemetry is not None:
            await self.telemetry.close()
        if self.context is not None:
            await self.context.close()
        for db in (self.cache_db, self.db):
            if db is not None:
                await db.close()


def make_model(settings: Settings, redactor: Redactor) -> Model:
    from .agent.model import LiteLLMModel

    extra = {} if settings.temperature is None else {"temperature": settings.temperature}
    return LiteLLMModel(settings.model, settings.api_base, settings.api_key, redactor, extra=extra)


async def open_services(
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    context: ContextProvider | None = None,
    extra_tools: list[Tool] | None = None,
    with_repo_map: bool = True,
    eager: bool = True,
    tool_wrapper: Callable[[list[Tool]], list[Tool]] | None = None,
) -> Services:
    """Open the database and wire the parts. A database that cannot be opened
    does not raise: the error is kept and raised by every use
    (docs/protocol.md#storage-errors)."""
    redactor = redactor or Redactor.from_environment()
    redactor.add_secret(settings.api_key)
    services = Services(
        settings=settings,
        redactor=redactor,
        context=context,
        with_repo_map=with_repo_map,
        extra_tools=list(extra_tools or []),
        tool_wrapper=tool_wrapper,
    )
    try:
        services.db = await Database.open(settings.database_path, redactor=redactor)
    except StorageError as exc:
        # Not logged as an error here: every use raises it to the user (fail loud).
        log.info("%s", exc)
        services.db_error = exc
        return services
    db = services.db
    services.chats = ChatStore(db)
    services.traces = TraceStore(db)
    services.history = HistoryLoader(db)
    services.threads = ThreadStore(db)
    services.checkpoints = CheckpointStore(db)
    services.scores = ScoreStore(db)
    services.telemetry = _telemetry(settings, redactor, services.traces, services.scores)
    if eager:
        await services.build_agent()
    return services


async def _build_agent(services: Services) -> None:
    from .agent.model_cache import ModelInfoCache
    from .agent.orchestrator import ToolOrchestrator

    settings = services.settings
    if services.context is None and services.with_repo_map:
        from .context.cache import SqliteTagCache
        from .context.provider import RepoContext

        # The tag cache may degrade to memory (it is a cache); the ledger never
        # does. Its own connection keeps bulk cache writes off the ledger's lock,
        # and ledger fault injection (ORION_FAULT_STORAGE) off the cache.
        try:
            services.cache_db = await Database.open(settings.database_path)
            services.cache_db.fault_hook = None
            services.context = RepoContext(SqliteTagCache(services.cache_db))
        except StorageError as exc:
            log.warning("repo map cache unavailable, using memory: %s", exc)
            services.context = RepoContext(None)
    services.tools = _tools(services.context) + services.extra_tools
    if services.tool_wrapper is not None:
        services.tools = services.tool_wrapper(services.tools)
    assert services.chats and services.traces and services.history
    assert services.threads and services.checkpoints
    services.orchestrator = ToolOrchestrator(
        settings=lambda: services.settings,
        model_factory=lambda s: make_model(s, services.redactor),
        tools=services.tools,
        chats=services.chats,
        traces=services.traces,
        history=services.history,
        threads=services.threads,
        record_edits=_checkpointing(services.checkpoints),
        redactor=services.redactor,
        context=services.context,
        model_cache=ModelInfoCache(services.cache_db),
        end_checks=[_claim_check(services.context)],
        evaluator=services.evaluations(),
    )


def _telemetry(
    settings: Settings, redactor: Redactor, traces: TraceStore, scores: ScoreStore
) -> Telemetry | None:
    """The OTLP export of finished turns, when an endpoint is configured (else None)."""
    import os

    from .telemetry.config import TelemetryConfig

    config = TelemetryConfig.resolve(settings.otlp_endpoint, os.environ)
    if not config.enabled:
        return None
    from .telemetry.exporter import Telemetry

    # Message content is exported only when captured: then the requests are resolved.
    read_events = traces.resolved_events if config.capture_content else traces.events
    telemetry = Telemetry(config, redactor, read_events, scores.for_turn)

    def on_event(event: Any) -> None:
        if event.type == "turn_end":
            telemetry.turn_finished(event.project_id, event.turn_id)

    traces.observers.append(on_event)
    scores.observers.append(telemetry.scores_written)
    return telemetry


def _tools(context: ContextProvider | None) -> list[Tool]:
    from .agent.tools.registry import default_tools

    if context is None:
        return default_tools()
    from .context.tools import FindSymbolTool, IndexResolver, tree_sitter_symbols

    # FindSymbolTool names the concrete RepoIndex; it uses only what RepoIndexView says.
    index_for = cast("IndexResolver", context.index_for)
    return [*default_tools(symbol_provider=tree_sitter_symbols), FindSymbolTool(index_for)]


def _claim_check(context: ContextProvider | None) -> TurnEndCheck:
    """File paths and symbols an answer cites, checked against the workspace and index."""
    from .agent.claims import ClaimCheck

    return ClaimCheck(context.index_for if context is not None else None)


def _checkpointing(
    checkpoints: CheckpointStore,
) -> Callable[[EditApplier, TurnRequest], EditApplier]:
    """Every edit of a turn is checkpointed before it is applied (rewind)."""
    from .checkpoints.recorder import CheckpointingApplier

    def wrap(inner: EditApplier, req: TurnRequest) -> EditApplier:
        return CheckpointingApplier(inner, checkpoints, req.project.project_id, req.thread_id)

    return wrap
