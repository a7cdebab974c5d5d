"""`workspace/executeCommand`: orion.chat, orion.history, orion.status, orion.cancel,
orion.codeAction (runs a code action's turn; see code_actions.py).

Thin handlers (docs/architecture.md#thin-handlers): parse arguments, call one
service, and let `errors.to_rpc_error` map what goes wrong. The commands'
arguments and results: docs/protocol.md#commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agent.turn import Selection, TurnRequest
from ..project import Project, uri_to_path
from . import code_actions
from .arguments import Range, parse_cancel, parse_chat, parse_history, parse_status
from .errors import InvalidArguments

if TYPE_CHECKING:
    from .server import OrionLanguageServer

CHAT = "orion.chat"
HISTORY = "orion.history"
STATUS = "orion.status"
CANCEL = "orion.cancel"
CODE_ACTION = code_actions.COMMAND
COMMANDS = (CHAT, HISTORY, STATUS, CANCEL, CODE_ACTION)

# The active file is added as context only up to this size (read_file serves the rest).
MAX_ACTIVE_FILE_BYTES = 512 * 1024


class CommandHandlers:
    def __init__(self, server: OrionLanguageServer) -> None:
        self._ls = server

    def table(self) -> dict[str, Any]:
        return {
            CHAT: self.chat,
            HISTORY: self.history,
            STATUS: self.status,
            CANCEL: self.cancel,
            CODE_ACTION: self.code_action,
        }

    async def chat(self, arguments: Any, work_done_token: Any = None) -> dict[str, Any]:
        args = parse_chat(arguments)
        project = self.project_for(args.uri)
        req = TurnRequest(project=project, prompt=args.prompt, source="chat")
        if args.uri:
            self.add_document_context(req, args.uri, args.range)
        self._ls.indexer.flush()
        return await self._ls.turns.run(req, work_done_token=work_done_token, detach=args.detach)

    async def code_action(self, arguments: Any, work_done_token: Any = None) -> dict[str, Any]:
        args = code_actions.parse_code_action(arguments)
        req = code_actions.build_request(self, args)
        self._ls.indexer.flush()
        return await self._ls.turns.run(req, work_done_token=work_done_token, detach=args.detach)

    async def history(self, arguments: Any, work_done_token: Any = None) -> dict[str, Any]:
        args = parse_history(arguments)
        project = self.project_for(args.uri)
        services = self._ls.services
        services.require_db()
        assert services.history is not None
        limit = args.limit or services.settings.history_limit
        messages = await services.history.last(project.project_id, limit)
        return {
            "projectId": project.project_id,
            "messages": [m.to_wire() for m in messages],
        }

    async def status(self, arguments: Any, work_done_token: Any = None) -> dict[str, Any]:
        parse_status(arguments)
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
        }
        if services.db_error is not None:
            result["storageError"] = str(services.db_error)
        return result

    async def cancel(self, arguments: Any, work_done_token: Any = None) -> dict[str, Any]:
        args = parse_cancel(arguments)
        return {"cancelled": self._ls.turns.cancel(args.turn_id)}

    # -- helpers shared with code actions -------------------------------------------

    def project_for(self, uri: str | None) -> Project:
        projects = self._ls.projects
        if uri is None:
            project = projects.first()
            if project is None:
                raise InvalidArguments("no workspace folder is open; open a folder or pass 'uri'")
            return project
        path = uri_to_path(uri)
        if path is None:
            raise InvalidArguments(f"'uri' must be a file: URI, got {uri[:80]!r}")
        project = projects.for_path(path)
        if project is None:
            raise InvalidArguments("'uri' is not inside an open workspace folder")
        return project

    def add_document_context(self, req: TurnRequest, uri: str, rng: Range | None) -> None:
        path = uri_to_path(uri)
        if path is None:
            return
        real = Path(os.path.realpath(path))
        root = req.project.root
        if not real.is_relative_to(root):
            return
        req.active_file = real.relative_to(root).as_posix()
        doc = self._ls.turns.documents.get(real)
        text: str | None = doc.text if doc is not None else _read_small(real)
        req.active_text = text
        if rng is not None and not rng.empty and text is not None:
            req.selection = Selection(
                rng.start_line,
                rng.start_character,
                rng.end_line,
                rng.end_character,
                slice_range(text, rng),
            )


def _read_small(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_ACTIVE_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def _utf16_to_index(line: str, character: int) -> int:
    """LSP columns count UTF-16 code units; Python indexes code points."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def slice_range(text: str, rng: Range) -> str:
    lines = text.splitlines(keepends=True)
    if rng.start_line >= len(lines):
        return ""
    start = sum(len(line) for line in lines[: rng.start_line]) + _utf16_to_index(
        lines[rng.start_line], rng.start_character
    )
    if rng.end_line >= len(lines):
        end = len(text)
    else:
        end = sum(len(line) for line in lines[: rng.end_line]) + _utf16_to_index(
            lines[rng.end_line], rng.end_character
        )
    return text[start:end]
