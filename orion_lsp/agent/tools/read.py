"""The ``read_file`` tool: numbered lines of a file (open buffer first).

Reading records the hash of the file's full current text in
``ctx.read_files``; ``edit_file`` checks it (read before claim).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .base import ToolContext, ToolResult
from .common import cap_lines, ok, refused
from .paths import PathRefused, resolve_in_workspace
from .textfile import MAX_READ_BYTES, load_text, split_lines, text_hash


class ReadFileTool:
    name = "read_file"
    description = (
        "Read a text file of the project. Returns lines prefixed with their 1-based "
        "number and '| ' (the prefix is not part of the file). Use startLine/endLine "
        "(1-based, inclusive) for part of a long file. You must read a file in this "
        "turn before edit_file can change it."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Path relative to the project root."},
            "startLine": {"type": "integer", "description": "First line (1-based)."},
            "endLine": {"type": "integer", "description": "Last line (1-based, inclusive)."},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        start_line = args.get("startLine")
        end_line = args.get("endLine")
        if start_line is not None and start_line < 1:
            return refused("startLine must be 1 or more")
        if end_line is not None and end_line < 1:
            return refused("endLine must be 1 or more")
        if start_line is not None and end_line is not None and end_line < start_line:
            return refused(f"endLine ({end_line}) is before startLine ({start_line})")
        try:
            real, rel = resolve_in_workspace(ctx.root, args["path"], must_exist=False)
            if ctx.documents.get(real) is None:
                # Disk I/O off the event loop; the buffer lookup stays on it.
                loaded = await asyncio.to_thread(load_text, ctx, real, rel)
            else:
                loaded = load_text(ctx, real, rel)
        except PathRefused as exc:
            return refused(exc.reason)

        lines = split_lines(loaded.text)
        total = len(lines)
        if not loaded.truncated:
            ctx.read_files[rel] = text_hash(loaded.text)
        if total == 0:
            return ok(f"{rel}: (empty file)", f"read {rel} (empty)", path=rel, lines=0)
        first = start_line or 1
        last = min(end_line or total, total)
        if first > total:
            return refused(f"{rel} has only {total} lines; startLine {first} is past the end")
        numbered = [f"{n}| {lines[n - 1]}" for n in range(first, last + 1)]
        body, left_out = cap_lines(numbered, ctx.max_output_chars - 200)
        shown_last = last - left_out
        header = f"{rel} (lines {first}-{shown_last} of {total}"
        header += ", from the open editor buffer)" if loaded.from_buffer else ")"
        notes = []
        if left_out:
            notes.append(f"(read on with startLine={shown_last + 1})")
        if loaded.truncated:
            notes.append(
                f"... [truncated: the file is larger than {MAX_READ_BYTES} bytes; "
                "only the beginning was read, and it cannot be edited with edit_file]"
            )
        content = "\n".join([header, body, *notes])
        return ok(
            content,
            f"read {rel} lines {first}-{shown_last} of {total}",
            truncated=bool(left_out) or loaded.truncated,
            path=rel,
            lines=shown_last - first + 1,
        )
