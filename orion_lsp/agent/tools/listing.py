"""The ``list_files`` tool: the project's files, sorted, .gitignore honoured."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import ToolContext, ToolResult
from .common import cap_lines, ok, refused
from .paths import PathRefused, resolve_in_workspace
from .walk import WalkStats, glob_matcher, walk_files

MAX_ENTRIES = 2000


class ListFilesTool:
    name = "list_files"
    description = (
        "List the files of the project (recursively, sorted, paths relative to the "
        "project root). Files ignored by .gitignore and folders like .git, "
        "node_modules and .venv are left out. Optional path: a folder to list. "
        "Optional glob: a filter like '*.py' (any depth), 'src/**/*.ts' or 'tests/'."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Folder relative to the root (default: the root).",
            },
            "glob": {"type": "string", "description": "Filter, gitignore-style pattern."},
        },
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = args.get("path") or "."
        glob = args.get("glob")
        try:
            real, rel = resolve_in_workspace(ctx.root, path, must_exist=True)
        except PathRefused as exc:
            return refused(exc.reason)
        if not real.is_dir():
            return refused(f"{rel!r} is a file, not a folder; use read_file to read it")
        try:
            matcher = glob_matcher(glob) if glob else None
        except Exception as exc:  # pathspec raises several types on bad patterns
            return refused(f"invalid glob {glob!r}: {exc}")

        def collect() -> tuple[list[str], int, WalkStats]:
            stats = WalkStats()
            found: list[str] = []
            matched = 0
            start_prefix = "" if rel == "." else rel + "/"
            for entry in walk_files(ctx.root, real, stats=stats):
                if matcher is not None:
                    below = entry.rel[len(start_prefix) :]
                    # Either relative to the root or to the listed folder.
                    if not (matcher.match_file(entry.rel) or matcher.match_file(below)):
                        continue
                matched += 1
                if len(found) < MAX_ENTRIES:
                    found.append(entry.rel)
            return found, matched, stats

        found, matched, stats = await asyncio.to_thread(collect)
        where = "the project" if rel == "." else repr(rel)
        if not found:
            what = f"no files matching {glob!r}" if glob else "no files"
            return ok(f"{what} in {where} (ignored files are not listed)", f"{what} in {where}")
        body, left_out = cap_lines(found, ctx.max_output_chars - 200, unit="files")
        if left_out:
            body = body.rsplit("\n", 1)[0]  # replaced by the fuller marker below
        shown = len(found) - left_out
        notes = []
        if matched > shown:
            more = f"{matched - shown}" + ("+" if stats.exhausted else "")
            notes.append(f"... [truncated: {more} more files; narrow with path or glob]")
        elif stats.exhausted:
            notes.append("... [truncated: the folder is too large to walk completely]")
        content = "\n".join([body, *notes])
        summary = f"listed {shown} files in {where}"
        return ok(content, summary, truncated=bool(notes), path=rel, count=shown)
