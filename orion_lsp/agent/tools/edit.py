"""The ``edit_file`` and ``create_file`` tools: checked edits sent to the applier.

``edit_file`` enforces *read before claim*: the file must have been read in
this turn and its current text (the open buffer when open) must still hash to
what was read; ``oldText`` must occur exactly once. The tool never writes:
it computes a ``FileEdit`` (full old/new text, the replaced span) and hands it
to ``ctx.applier`` (``workspace/applyEdit`` in the editor, the disk in the CLI).

An applier that refuses an edit for a reason the model should know (the user
denied a sensitive path, see ``agent/guard.py``; the buffer changed while the
user was asked) raises ``EditRefused``; one that could not apply it (the
editor answered applyEdit with an error) raises ``EditFailed``. Either reason
becomes the tool error and goes into ``ctx.edits`` as ``refused`` or ``error``.
Results of edits to sensitive paths carry ``sensitive`` in their trace data.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from ...positions import line_of_offset, line_starts
from ...storage import StorageError
from ..guard import EditRefused, sensitive_reason
from .base import EditFailed, FileEdit, ToolContext, ToolResult
from .common import ok, refused
from .paths import PathRefused, check_syntax, resolve_in_workspace
from .textfile import MAX_READ_BYTES, LoadedText, load_text, split_lines, text_hash

log = logging.getLogger(__name__)

SNIPPET_LINES = 12


def _occurrences(text: str, needle: str, limit: int = 100) -> list[int]:
    """Start offsets of ``needle`` in ``text``, overlapping ones included."""
    found: list[int] = []
    pos = text.find(needle)
    while pos != -1 and len(found) < limit:
        found.append(pos)
        pos = text.find(needle, pos + 1)
    return found


def _snippet(text: str, first_line: int, n_lines: int) -> str:
    lines = split_lines(text)
    lo = max(0, first_line - 2)
    hi = min(len(lines), first_line + max(n_lines, 1) + 2, lo + SNIPPET_LINES)
    return "\n".join(f"{i + 1}| {lines[i]}" for i in range(lo, hi))


async def _apply(ctx: ToolContext, edit: FileEdit) -> dict[str, Any]:
    """What became of the edit, also recorded in ``ctx.edits``.

    ``{"applied": True}``, or ``applied: False`` with ``refused`` (the user or a
    rule said no, and why) or ``error`` (the editor or disk could not apply it):
    a failure is never reported to the model as a refusal.
    """
    outcome: dict[str, Any]
    try:
        applied = bool(await ctx.applier.apply(edit, ctx.turn_id))
    except (asyncio.CancelledError, KeyboardInterrupt, StorageError):
        # StorageError: the checkpoint before the change could not be stored
        # (orion_lsp/checkpoints); the edit was not made and the turn stops.
        raise
    except EditRefused as exc:
        # The applier says why (user denied, sensitive path, buffer moved on).
        outcome = {"applied": False, "refused": exc.reason}
    except EditFailed as exc:
        outcome = {"applied": False, "error": exc.reason}
    except Exception as exc:
        log.exception("edit applier failed for %s", edit.rel_path)
        outcome = {"applied": False, "error": f"applying the edit failed ({type(exc).__name__})"}
    else:
        outcome = (
            {"applied": True}
            if applied
            else {"applied": False, "refused": "the user or editor refused it"}
        )
    ctx.edits.append({"path": edit.rel_path, **outcome})
    return outcome


def _why(outcome: dict[str, Any]) -> str:
    """How an edit did not happen, for the model: refused, or failed (and why)."""
    return str(outcome.get("error") or outcome["refused"])


def _sensitive(rel: str) -> dict[str, Any]:
    """Trace data: edits of sensitive paths say so (they needed the user's yes)."""
    reason = sensitive_reason(rel)
    return {"sensitive": reason} if reason else {}


class EditFileTool:
    name = "edit_file"
    description = (
        "Replace text in a file you have read in this turn. oldText must be copied "
        "exactly from the file (without the 'N| ' line-number prefixes read_file shows) "
        "and must occur exactly once; include a few surrounding lines to make it unique. "
        "newText replaces it. The user may refuse the edit."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File relative to the project root."},
            "oldText": {"type": "string", "description": "Exact text to replace (once)."},
            "newText": {"type": "string", "description": "Replacement text."},
        },
        "required": ["path", "oldText", "newText"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        old_text: str = args["oldText"]
        new_text: str = args["newText"]
        try:
            real, rel = resolve_in_workspace(ctx.root, args["path"], must_exist=False)
        except PathRefused as exc:
            return refused(exc.reason)
        if rel not in ctx.read_files:
            if not real.exists() and ctx.documents.get(real) is None:
                return refused(f"{rel!r} does not exist; use create_file for a new file")
            return refused(f"read the file first: call read_file on {rel!r} before editing it")
        try:
            loaded = await _load_strict(ctx, real, rel)
        except PathRefused as exc:
            return refused(exc.reason)
        text = loaded.text
        if text_hash(text) != ctx.read_files[rel]:
            return refused(f"the file changed since you read it; read {rel!r} again before editing")
        if old_text == "":
            return refused("oldText is empty; copy the exact text to replace from the file")
        if old_text == new_text:
            return refused("oldText and newText are the same; nothing to change")

        hits = _occurrences(text, old_text)
        if not hits and "\r\n" in text and "\n" in old_text and "\r" not in old_text:
            # Models write "\n"; the file uses CRLF. Match (and write) CRLF.
            old_text = old_text.replace("\n", "\r\n")
            new_text = new_text.replace("\r\n", "\n").replace("\n", "\r\n")
            hits = _occurrences(text, old_text)
        if not hits:
            return refused(
                f"oldText matched 0 times in {rel!r}; copy it exactly from read_file "
                "output (whitespace included, without the 'N| ' prefixes)"
            )
        if len(hits) > 1:
            n = f"{len(hits)}+" if len(hits) >= 100 else str(len(hits))
            return refused(
                f"oldText matched {n} times in {rel!r}; include more surrounding lines "
                "so it matches exactly once"
            )

        start = hits[0]
        end = start + len(old_text)
        starts = line_starts(text)
        s_line, e_line = line_of_offset(starts, start), line_of_offset(starts, end)
        new_content = text[:start] + new_text + text[end:]
        edit = FileEdit(
            path=real,
            rel_path=rel,
            create=False,
            old_content=text,
            new_content=new_content,
            start=start,
            end=end,
            new_text=new_text,
            version=loaded.version,
        )
        outcome = await _apply(ctx, edit)
        if not outcome["applied"]:
            return refused(
                f"the edit to {rel!r} was not applied: {_why(outcome)}; "
                + (
                    "read the file again before trying again"
                    if "error" in outcome
                    else "the file is unchanged"
                ),
                path=rel,
                **outcome,
                **_sensitive(rel),
            )
        ctx.read_files[rel] = text_hash(new_content)
        new_lines = new_text.count("\n") + 1
        content = (
            f"edited {rel}: replaced lines {s_line + 1}-{e_line + 1} "
            f"({e_line - s_line + 1} lines -> {new_lines} lines). Now:\n"
            + _snippet(new_content, s_line, new_lines)
        )
        return ok(
            content,
            f"edited {rel} at line {s_line + 1}",
            path=rel,
            applied=True,
            **_sensitive(rel),
        )


async def _load_strict(ctx: ToolContext, real: Path, rel: str) -> LoadedText:
    if ctx.documents.get(real) is not None:
        return load_text(ctx, real, rel, strict=True)
    return await asyncio.to_thread(load_text, ctx, real, rel, strict=True)


class CreateFileTool:
    name = "create_file"
    description = (
        "Create a new file with the given content (parent folders are created). "
        "Refused if the file exists: use read_file then edit_file to change it."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "New file, relative to the project root."},
            "content": {"type": "string", "description": "The whole content of the file."},
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        user_path: str = args["path"]
        content: str = args["content"]
        try:
            check_syntax(user_path)
            if user_path.endswith("/") or user_path.rstrip("/").split("/")[-1] in (".", ".."):
                return refused(f"{user_path!r} names a folder; give a file name")
            real, rel = resolve_in_workspace(ctx.root, user_path, must_exist=False)
        except PathRefused as exc:
            return refused(exc.reason)
        if rel == ".":
            return refused("the project root is a folder; give a file name")
        problem = _create_problem(ctx.root, user_path, real, rel)
        if problem is None and ctx.documents.get(real) is not None:
            problem = f"{rel!r} is open in the editor; read it and use edit_file to change it"
        if problem is not None:
            return refused(problem)
        if len(content.encode("utf-8", "surrogatepass")) > MAX_READ_BYTES:
            return refused(f"content is larger than {MAX_READ_BYTES} bytes")

        edit = FileEdit(
            path=real,
            rel_path=rel,
            create=True,
            old_content="",
            new_content=content,
            start=0,
            end=0,
            new_text=content,
            version=None,
        )
        outcome = await _apply(ctx, edit)
        if not outcome["applied"]:
            return refused(
                f"{rel!r} was not created: {_why(outcome)}",
                path=rel,
                **outcome,
                **_sensitive(rel),
            )
        # What the model wrote counts as read: it may edit it next without re-reading.
        ctx.read_files[rel] = text_hash(content)
        n = len(split_lines(content))
        return ok(
            f"created {rel} ({n} lines)",
            f"created {rel}",
            path=rel,
            applied=True,
            **_sensitive(rel),
        )


def _create_problem(root: Path, user_path: str, real: Path, rel: str) -> str | None:
    """Why ``create_file`` cannot create ``real``, or None (a few stat calls)."""
    # lexists on the name as given catches a dangling symlink too.
    given = Path(os.path.realpath(root)) / user_path
    if os.path.lexists(given) or real.exists():
        return f"{rel!r} already exists; read it and use edit_file to change it"
    # Existing ancestors must be folders (resolve_in_workspace checked that they
    # are inside the root, so this loop stops at the root at the latest).
    parent = real.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot create {rel!r}: {parent.name!r} in its path is a file"
    return None
