"""What a turn sees of an ACP client, and what the client sees of a turn.

The orchestrator knows nothing of ACP: it talks to the same seams as in the
editor and the terminal (`TurnSink`, `DocumentSource`, `EditApplier`, tools).
Here those seams speak ACP:

- `AcpSink.delta` -> `agent_message_chunk`.
- Every tool is wrapped in a `ReportingTool`, which sends `tool_call`
  (pending, with its kind and the file locations it touches), then
  `tool_call_update` (in_progress, then completed/failed, with the result's
  summary, and a `diff` content for an edit). Before a tool that reads or
  edits a file runs, the file is fetched through the client's
  `fs/read_text_file` when the client advertises it, so the model sees the
  unsaved buffer; the path is confined to the project root first, exactly as
  the tool itself would confine it.
- `AcpEditApplier` asks `session/request_permission` (allow once / allow
  always / reject once / reject always; "always" lasts for the session;
  sensitive paths always ask), then writes through `fs/write_text_file` or,
  when the client cannot, to disk inside the root (the CLI's applier). A
  rejection is a refused edit, as a refused `applyEdit` in the LSP.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import helpers
from acp.schema import PermissionOption, ToolCallLocation, ToolCallUpdate

from ..agent.guard import sensitive_reason
from ..agent.tools.base import EditFailed, FileEdit, OpenDocument, Tool, ToolContext, ToolResult
from ..agent.tools.disk_applier import DiskEditApplier
from ..agent.tools.paths import PathRefused, resolve_in_workspace

if TYPE_CHECKING:
    from acp.interfaces import Client

    from ..project import Project

log = logging.getLogger(__name__)

READ_KINDS = {"read_file": "read", "list_files": "read", "symbols": "read", "find_symbol": "read"}
KINDS = {**READ_KINDS, "search": "search", "edit_file": "edit", "create_file": "edit"}
# Tools whose `path` names one file the client may hold in an unsaved buffer.
FILE_TOOLS = ("read_file", "symbols", "edit_file", "create_file")

ALLOW_ONCE, ALLOW_ALWAYS, REJECT_ONCE, REJECT_ALWAYS = (
    "allow_once", "allow_always", "reject_once", "reject_always")  # fmt: skip
PERMISSION_OPTIONS = [
    PermissionOption(option_id=ALLOW_ONCE, name="Allow", kind="allow_once"),
    PermissionOption(option_id=ALLOW_ALWAYS, name="Allow always (this session)", kind="allow_always"),
    PermissionOption(option_id=REJECT_ONCE, name="Reject", kind="reject_once"),
    PermissionOption(option_id=REJECT_ALWAYS, name="Reject always (this session)", kind="reject_always"),
]  # fmt: skip


@dataclass
class AcpSession:
    """One ACP session: a thread of a project, and what the client can do."""

    session_id: str  # == the thread id
    project: Project
    client: Client
    can_read: bool
    can_write: bool
    allow_always: bool = False
    reject_always: bool = False
    # real path -> the client's text of the file, fetched this turn
    buffers: dict[str, OpenDocument] = field(default_factory=dict)
    current_call: str | None = None  # the tool call whose edit asks permission
    last_diff: Any = None
    calls: int = 0

    def next_call_id(self, turn_id: str) -> str:
        self.calls += 1
        return f"{turn_id}-{self.calls}"


class SessionRegistry:
    """turn id -> the session running it (tools and the applier get only the turn id)."""

    def __init__(self) -> None:
        self._by_turn: dict[str, AcpSession] = {}

    def bind(self, turn_id: str, session: AcpSession) -> None:
        self._by_turn[turn_id] = session

    def unbind(self, turn_id: str) -> None:
        self._by_turn.pop(turn_id, None)

    def get(self, turn_id: str) -> AcpSession | None:
        return self._by_turn.get(turn_id)


class AcpSink:
    def __init__(self, session: AcpSession) -> None:
        self._session = session

    async def delta(self, turn_id: str, text: str) -> None:
        if text:
            await self._session.client.session_update(
                self._session.session_id, helpers.update_agent_message_text(text)
            )

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        # Known tools report through ReportingTool (with ids, kinds, locations). An
        # unknown tool name never reaches a tool: report its refusal here.
        if name in KINDS or type != "tool_result":
            return
        call_id = self._session.next_call_id(turn_id)
        await self._session.client.session_update(
            self._session.session_id,
            helpers.start_tool_call(call_id, name, kind="other", status="failed"),
        )

    async def progress(self, turn_id: str, message: str) -> None:
        return None


class AcpDocuments:
    """The client's text of files fetched this turn; None for the rest (disk is read)."""

    def __init__(self, registry: SessionRegistry, turn_id: str) -> None:
        self._registry = registry
        self._turn_id = turn_id

    def get(self, path: Path) -> OpenDocument | None:
        session = self._registry.get(self._turn_id)
        if session is None:
            return None
        return session.buffers.get(_key(path))


class ReportingTool:
    """A tool as the ACP client sees it: reported, and reading through the client."""

    def __init__(self, inner: Tool, registry: SessionRegistry) -> None:
        self.inner = inner
        self.name = inner.name
        self.description = inner.description
        self.parameters = inner.parameters
        self._registry = registry

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        session = self._registry.get(ctx.turn_id)
        if session is None:  # not an ACP turn (the same tools serve every front end)
            return await self.inner.run(args, ctx)
        call_id = session.next_call_id(ctx.turn_id)
        path = _confined(ctx.root, args.get("path"))
        locations = [ToolCallLocation(path=str(path))] if path is not None else None
        title = _title(self.name, args)
        await session.client.session_update(
            session.session_id,
            helpers.start_tool_call(
                call_id,
                title,
                kind=KINDS.get(self.name, "other"),  # type: ignore[arg-type]
                status="pending",
                locations=locations,
                raw_input=args,
            ),
        )
        if path is not None and self.name in FILE_TOOLS and session.can_read:
            await _fetch(session, path)
        await session.client.session_update(
            session.session_id, helpers.update_tool_call(call_id, status="in_progress")
        )
        session.current_call, session.last_diff = call_id, None
        try:
            result = await self.inner.run(args, ctx)
        finally:
            session.current_call = None
        content = [helpers.tool_content(helpers.text_block(result.summary))]
        if session.last_diff is not None:
            content.insert(0, session.last_diff)
        await session.client.session_update(
            session.session_id,
            helpers.update_tool_call(
                call_id, status="completed" if result.ok else "failed", content=content
            ),
        )
        return result


class AcpEditApplier:
    def __init__(self, registry: SessionRegistry) -> None:
        self._registry = registry

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        session = self._registry.get(turn_id)
        if session is None:
            return False
        old = None if edit.create else edit.old_content
        diff = helpers.tool_diff_content(str(edit.path), edit.new_content, old)
        session.last_diff = diff
        if not await self._permitted(session, edit, diff):
            return False
        if session.can_write:
            try:
                await session.client.write_text_file(
                    session_id=session.session_id, path=str(edit.path), content=edit.new_content
                )
            except Exception as exc:  # the client's failure, not the user's refusal
                raise EditFailed(f"the ACP client could not write the file ({exc})") from None
        elif not await DiskEditApplier(session.project.root, allow_sensitive=True).apply(
            edit, turn_id
        ):
            return False
        session.buffers[_key(edit.path)] = OpenDocument(edit.new_content, None)
        return True

    async def _permitted(self, session: AcpSession, edit: FileEdit, diff: Any) -> bool:
        sensitive = sensitive_reason(edit.rel_path) is not None
        if session.reject_always:
            return False
        if session.allow_always and not sensitive:
            return True
        call = ToolCallUpdate(
            tool_call_id=session.current_call or session.next_call_id(f"perm-{edit.rel_path}"),
            title=f"{'Create' if edit.create else 'Edit'} {edit.rel_path}",
            kind="edit",
            status="pending",
            content=[diff],
            locations=[ToolCallLocation(path=str(edit.path))],
        )
        response = await session.client.request_permission(
            session_id=session.session_id, tool_call=call, options=PERMISSION_OPTIONS
        )
        outcome = response.outcome
        chosen = getattr(outcome, "option_id", None) if outcome.outcome == "selected" else None
        if chosen == ALLOW_ALWAYS:
            session.allow_always = True
        elif chosen == REJECT_ALWAYS:
            session.reject_always = True
        return chosen in (ALLOW_ONCE, ALLOW_ALWAYS)


def wrap_tools(tools: list[Tool], registry: SessionRegistry) -> list[Tool]:
    return [ReportingTool(t, registry) for t in tools]


def _confined(root: Path, user_path: Any) -> Path | None:
    """The real path the tool would use, or None (no path, or refused: the tool says why)."""
    if not isinstance(user_path, str) or not user_path:
        return None
    try:
        real, _rel = resolve_in_workspace(root, user_path, must_exist=False)
    except PathRefused:
        return None
    return real


async def _fetch(session: AcpSession, path: Path) -> None:
    """The client's text of `path` (its unsaved buffer), when the client has the file."""
    if not _exists(path):
        return  # a file to create: nothing to read, and some clients error on it
    try:
        response = await session.client.read_text_file(
            session_id=session.session_id, path=str(path)
        )
    except Exception as exc:  # the tool then reads the disk, as without the capability
        log.info("fs/read_text_file failed for %s: %s", path.name, type(exc).__name__)
        return
    session.buffers[_key(path)] = OpenDocument(response.content, None)


def _key(path: Path) -> str:
    # One real path per file, however the tool or the client spelled it (a
    # symlink, a relative path); a few syscalls, called once per tool.
    return os.path.realpath(path)


def _exists(path: Path) -> bool:
    return path.exists()


def _title(name: str, args: dict[str, Any]) -> str:
    for key in ("path", "pattern", "name", "glob"):
        value = args.get(key)
        if isinstance(value, str) and value:
            return f"{name} {value[:120]}"
    return name
