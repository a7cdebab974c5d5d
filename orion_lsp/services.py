"""The composition root: Store -> Context -> Tools -> Orchestrator (HOUSE_STYLE habit 1).

Both front ends (the language server and the `orion` CLI) get their parts
from `open_services`, so a turn in the terminal and a turn in the editor run
the same code against the same database. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .agent.model import LiteLLMModel, Model
from .agent.model_cache import ModelInfoCache
from .agent.orchestrator import ToolOrchestrator
from .agent.protocols import ContextProvider, TurnEndCheck
from .agent.tools.base import Tool
from .agent.tools.registry import default_tools
from .config import Settings
from .redact import Redactor
from .storage import ChatStore, Database, HistoryLoader, StorageError, TraceStore

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
    orchestrator: ToolOrchestrator | None = None
    context: Any = None  # orion_lsp.context service, when available
    tools: list[Tool] = field(default_factory=list)
    cache_db: Database | None = None

    def require_db(self) -> Database:
        """The database, or the start-up StorageError raised again (fail loud)."""
        if self.db_error is not None:
            raise self.db_error
        if self.db is None:
            raise StorageError(self.settings.database_path, "the database is not open")
        return self.db

    def require_orchestrator(self) -> ToolOrchestrator:
        self.require_db()
        assert self.orchestrator is not None
        return self.orchestrator

    def update_settings(self, settings: Settings) -> None:
        self.redactor.add_secret(settings.api_key)
        self.settings = settings

    async def close(self) -> None:
        if self.context is not None and hasattr(self.context, "close"):
            await self.context.close()
        for db in (self.cache_db, self.db):
            if db is not None:
                await db.close()


def make_model(settings: Settings, redactor: Redactor) -> Model:
    return LiteLLMModel(settings.model, settings.api_base, settings.api_key, redactor)


def _tools(context: Any) -> list[Tool]:
    if context is None:
        return default_tools()
    from .context.tools import FindSymbolTool, tree_sitter_symbols

    return [*default_tools(symbol_provider=tree_sitter_symbols), FindSymbolTool(context.index_for)]


def _claim_check(context: Any) -> TurnEndCheck:
    """File paths and symbols an answer cites, checked against the workspace and index."""
    from .agent.claims import ClaimCheck

    return ClaimCheck(getattr(context, "index_for", None))


async def open_services(
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    context: ContextProvider | None = None,
    extra_tools: list[Tool] | None = None,
    with_repo_map: bool = True,
) -> Services:
    """Open the database and wire the parts. A database that cannot be opened
    does not raise: the error is kept and raised by every use (CONTRACT "Storage")."""
    redactor = redactor or Redactor.from_environment()
    redactor.add_secret(settings.api_key)
    services = Services(settings=settings, redactor=redactor, context=context)
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
    if context is None and with_repo_map:
        from .context.cache import SqliteTagCache
        from .context.provider import RepoContext

        # The tag cache may degrade to memory (it is a cache); the ledger never
        # does. Its own connection keeps bulk cache writes off the ledger's lock,
        # and ledger fault injection (ORION_FAULT_STORAGE) off the cache.
        try:
            services.cache_db = await Database.open(settings.database_path)
            services.cache_db.fault_hook = None
            context = RepoContext(SqliteTagCache(services.cache_db))
        except StorageError as exc:
            log.warning("repo map cache unavailable, using memory: %s", exc)
            context = RepoContext(None)
        services.context = context
    services.tools = _tools(services.context) + list(extra_tools or [])
    services.orchestrator = ToolOrchestrator(
        settings=lambda: services.settings,
        model_factory=lambda s: make_model(s, services.redactor),
        tools=services.tools,
        chats=services.chats,
        traces=services.traces,
        history=services.history,
        redactor=redactor,
        context=context,
        model_cache=ModelInfoCache(services.cache_db),
        end_checks=[_claim_check(services.context)],
    )
    return services
