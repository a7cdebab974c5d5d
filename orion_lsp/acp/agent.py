"""`OrionAcpAgent`: the ACP methods over Orion's services, behind one error boundary.

Sessions are threads (docs/protocol.md#acp-front-end): `session/new` starts a
thread in the project of `cwd`, `session/load` replays a thread's messages as
`session/update` notifications before it answers, `session/list` lists the
project's threads, newest first. `session/prompt` runs one turn through the
same orchestrator as the language server and answers its stop reason;
`session/cancel` cancels the running turn's task, which the orchestrator
records as `cancelled`.

Errors: every method runs inside `_boundary`, the one place that maps what
went wrong to a JSON-RPC error: bad input -32602, a storage or model failure
-32803 with the same `Orion storage error:` / `Orion model error:` text as the
LSP, anything else -32603 with a fixed text (the details, redacted, go to the
log on stderr; never a traceback to the client).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from acp import PROTOCOL_VERSION, RequestError, helpers
from acp.schema import (
    AgentCapabilities,
    ClientCapabilities,
    Implementation,
    InitializeResponse,
    ListSessionsResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    SessionCapabilities,
    SessionInfo,
    SessionListCapabilities,
    StopReason,
    Usage,
)

from .. import __version__
from ..agent.model import ModelError
from ..agent.turn import CANCELLED, COMPLETED, MAX_STEPS, TurnRequest
from ..project import Project, project_for
from ..services import Services
from ..storage import StorageError
from .bridge import AcpDocuments, AcpEditApplier, AcpSession, AcpSink, SessionRegistry
from .threads import SessionThreads

log = logging.getLogger(__name__)

RPC_REQUEST_FAILED = -32803
T = TypeVar("T")
_STOP_REASONS: dict[str, StopReason] = {
    COMPLETED: "end_turn",
    CANCELLED: "cancelled",
    MAX_STEPS: "max_turn_requests",
}


def _boundary(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(self: OrionAcpAgent, *args: Any, **kwargs: Any) -> T:
        try:
            return await fn(self, *args, **kwargs)
        except (RequestError, asyncio.CancelledError):
            raise
        except (StorageError, ModelError) as exc:
            raise RequestError(RPC_REQUEST_FAILED, self.redact(str(exc))) from None
        except Exception as exc:
            log.error("acp %s failed: %s", fn.__name__, self.redact(repr(exc)))
            raise RequestError(
                -32603, "Orion internal error (details in the agent's log)"
            ) from None

    return wrapper


def invalid(message: str) -> RequestError:
    return RequestError(-32602, message)


class OrionAcpAgent:
    def __init__(self, services: Services, registry: SessionRegistry) -> None:
        self.services = services
        self.redact = services.redactor
        self._registry = registry
        self._client: Any = None
        self._caps = ClientCapabilities()
        self._sessions: dict[str, AcpSession] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._threads = SessionThreads(services)

    def on_connect(self, conn: Any) -> None:
        self._client = conn

    # -- lifecycle ----------------------------------------------------------------------

    @_boundary
    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        self._caps = client_capabilities or ClientCapabilities()
        return InitializeResponse(
            protocol_version=min(int(protocol_version), PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(embedded_context=True),
                session_capabilities=SessionCapabilities(list=SessionListCapabilities()),
            ),
            agent_info=Implementation(name="orion", title="Orion", version=__version__),
        )

    @_boundary
    async def authenticate(self, method_id: str, **kwargs: Any) -> None:
        return None  # no authentication: a local agent; the model key is in the environment

    # -- sessions are threads -----------------------------------------------------------

    @_boundary
    async def new_session(
        self, cwd: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> NewSessionResponse:
        project = self._project(cwd)
        thread_id = await self._threads.create(project)
        self._open(thread_id, project)
        return NewSessionResponse(session_id=thread_id)

    @_boundary
    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> LoadSessionResponse:
        project = self._project(cwd)
        messages = await self._threads.messages(project, session_id)
        if messages is None:
            raise invalid(f"unknown session {session_id[:64]!r} for this project")
        session = self._open(session_id, project)
        for role, content in messages:
            update = (
                helpers.update_user_message_text(content)
                if role == "user"
                else helpers.update_agent_message_text(content)
            )
            await session.client.session_update(session_id, update)
        return LoadSessionResponse()

    @_boundary
    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> ListSessionsResponse:
        if cwd is None:
            raise invalid("session/list needs cwd: Orion lists the threads of one project")
        project = self._project(cwd)
        threads = await self._threads.listing(project)
        return ListSessionsResponse(
            sessions=[
                SessionInfo(
                    session_id=t["threadId"],
                    cwd=str(project.root),
                    title=t["title"],
                    updated_at=t["updatedAt"],
                )
                for t in threads
            ]
        )

    # -- turns --------------------------------------------------------------------------

    @_boundary
    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        session = self._sessions.get(session_id)
        if session is None:
            raise invalid(f"unknown session {session_id[:64]!r}: session/new or session/load first")
        if session_id in self._running:
            raise invalid("a prompt is already running in this session")
        text, attached = prompt_parts(prompt)
        if not text.strip():
            raise invalid("the prompt has no text")
        orchestrator = await self.services.agent()
        # The typed text is the stored user message; attachments are context only.
        req = TurnRequest(project=session.project, prompt=text, source="acp", task=attached)
        self._threads.bind(req, session_id)
        self._registry.bind(req.turn_id, session)
        session.buffers.clear()
        task = asyncio.ensure_future(
            orchestrator.run(
                req,
                AcpSink(session),
                documents=AcpDocuments(self._registry, req.turn_id),
                applier=AcpEditApplier(self._registry),
            )
        )
        self._running[session_id] = task
        try:
            outcome = await asyncio.shield(task)
            self._threads.started(session_id)
        except asyncio.CancelledError:
            # The request itself was cancelled (the connection is closing): stop the turn.
            task.cancel()
            raise
        finally:
            self._running.pop(session_id, None)
            self._registry.unbind(req.turn_id)
        usage = await self._usage(session, req)
        return PromptResponse(
            stop_reason=_STOP_REASONS.get(outcome.status, "end_turn"), usage=usage
        )

    @_boundary
    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        task = self._running.get(session_id)
        if task is not None and not task.done():
            task.cancel()

    # -- helpers ------------------------------------------------------------------------

    def _project(self, cwd: str) -> Project:
        if not isinstance(cwd, str) or not os.path.isabs(cwd):
            raise invalid("cwd must be an absolute path")
        if not os.path.isdir(cwd):
            raise invalid(f"cwd is not a directory: {cwd[:200]}")
        return project_for(Path(cwd))

    def _open(self, session_id: str, project: Project) -> AcpSession:
        fs = self._caps.fs
        session = AcpSession(
            session_id=session_id,
            project=project,
            client=self._client,
            can_read=bool(fs and fs.read_text_file),
            can_write=bool(fs and fs.write_text_file),
        )
        old = self._sessions.get(session_id)
        if old is not None:  # a reload keeps what the user chose for the session
            session.allow_always, session.reject_always = old.allow_always, old.reject_always
        self._sessions[session_id] = session
        return session

    async def _usage(self, session: AcpSession, req: TurnRequest) -> Usage | None:
        """Tokens of the turn (summed over its model calls) and a usage_update for the window."""
        traces = self.services.traces
        if traces is None:
            return None
        events = await traces.events(req.project.project_id, req.turn_id)
        tokens_in = tokens_out = last_prompt = 0
        window = 0
        for e in events:
            if e.type == "turn_start" and isinstance(e.payload.get("window"), int):
                window = int(e.payload["window"])
            tokens = e.payload.get("tokens") if e.type == "llm_call" else None
            if isinstance(tokens, dict):
                tokens_in += int(tokens.get("prompt_tokens") or 0)
                tokens_out += int(tokens.get("completion_tokens") or 0)
                last_prompt = int(tokens.get("prompt_tokens") or 0) + int(
                    tokens.get("completion_tokens") or 0
                )
        if window and last_prompt:
            from acp.schema import UsageUpdate

            await session.client.session_update(
                session.session_id,
                UsageUpdate(session_update="usage_update", used=last_prompt, size=window),
            )
        if not tokens_in and not tokens_out:
            return None
        return Usage(
            input_tokens=tokens_in, output_tokens=tokens_out, total_tokens=tokens_in + tokens_out
        )


def prompt_parts(blocks: list[Any]) -> tuple[str, str | None]:
    """(the prompt as typed: its text blocks, what the client attached as context)."""
    typed: list[str] = []
    attached: list[str] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            typed.append(block.text)
        elif kind == "resource_link":
            attached.append(f"The user refers to {block.name}: {block.uri}")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if isinstance(text, str):
                attached.append(f"Attached {resource.uri}:\n```\n{text}\n```")
    return "\n".join(typed), ("\n\n".join(attached) or None)
