"""The ``search`` tool: find a string or a regex in the project's text files.

Plain substring by default (case-sensitive); ``regex: true`` uses Python's
regex syntax. Patterns run through the ``regex`` package (re-compatible
syntax, ``V0``) because it takes a ``timeout``: stdlib ``re`` cannot be
interrupted, and a pattern like ``(a|aa)+$`` would otherwise hang the turn.
The whole search shares one time budget and one byte budget. Open editor
buffers are searched instead of their files on disk. Symlinked files are
skipped (their targets inside the project are searched at their own path).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import regex

from ...positions import line_of_offset, line_starts
from .base import OpenDocument, ToolContext, ToolResult
from .common import cap_lines, ok, refused
from .paths import PathRefused, resolve_in_workspace
from .textfile import is_binary, read_disk_bytes
from .walk import WalkStats, walk_files

MAX_MATCHES = 200
MAX_LINE_CHARS = 300
TIME_BUDGET_S = 5.0
# Nominal regex timeout for one file. Measured here, `regex` overshoots its
# timeout about 3x (0.5 s -> ~1.5 s on a catastrophic pattern), so one evil
# file costs ~3 s, not the whole budget times three.
REGEX_FILE_TIMEOUT_S = 1.0
BYTE_BUDGET = 64_000_000


@dataclass
class _Outcome:
    matches: list[str] = field(default_factory=list)
    more: int = 0  # matches found beyond MAX_MATCHES
    files_searched: int = 0
    timed_out: bool = False
    bytes_exhausted: bool = False
    walk: WalkStats = field(default_factory=WalkStats)


class SearchTool:
    name = "search"
    description = (
        "Search the project's text files for a string (case-sensitive substring) or, "
        "with regex=true, a Python regular expression. Returns 'path:line: text' lines. "
        "Optional path: a file or folder to search in (default: the whole project). "
        ".gitignore'd files are skipped."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Text or regular expression to find."},
            "path": {"type": "string", "description": "File or folder relative to the root."},
            "regex": {"type": "boolean", "description": "Treat pattern as a regex."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        pattern: str = args["pattern"]
        if pattern == "":
            return refused("the pattern is empty")
        compiled: regex.Pattern[str] | None = None
        if args.get("regex"):
            import regex  # ~10 ms: off the server's start-up path

            try:
                compiled = regex.compile(pattern, regex.V0 | regex.MULTILINE)
            except regex.error as exc:
                return refused(f"invalid regular expression: {exc}")
        try:
            real, rel = resolve_in_workspace(ctx.root, args.get("path") or ".", must_exist=True)
        except PathRefused as exc:
            return refused(exc.reason)

        if real.is_dir():
            entries = await asyncio.to_thread(_list, ctx.root, real)
        else:
            entries = [(real, rel)]
        # Buffer lookups stay on the event loop; only disk work goes to a thread.
        docs = {p: d for p, _ in entries if (d := ctx.documents.get(p)) is not None}
        out = await asyncio.to_thread(_search, ctx.root, entries, docs, pattern, compiled)

        where = "the project" if rel == "." else repr(rel)
        notes = []
        if out.more:
            notes.append(f"... [truncated: {out.more} more matches; narrow with path or pattern]")
        if out.timed_out:
            notes.append(
                "... [stopped: the search ran out of time (a slow pattern or a large "
                "tree); results are incomplete: simplify the pattern or narrow the path]"
            )
        if out.bytes_exhausted or out.walk.exhausted:
            notes.append("... [stopped: too much to search; results are incomplete]")
        if not out.matches:
            content = "\n".join([f"no matches for {pattern!r} in {where}", *notes])
            return ok(content, f"no matches in {where}", count=0)
        body, left_out = cap_lines(out.matches, ctx.max_output_chars - 300, unit="matches")
        count = len(out.matches) - left_out
        content = "\n".join([body, *notes])
        summary = f"{len(out.matches) + out.more} matches in {where}"
        return ok(content, summary, truncated=bool(left_out or out.more), count=count)


def _list(root: Path, start: Path) -> list[tuple[Path, str]]:
    stats = WalkStats()
    return [
        (e.real_path, e.rel) for e in walk_files(root, start, include_symlinks=False, stats=stats)
    ]


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ..."


def _search(
    root: Path,
    entries: list[tuple[Path, str]],
    docs: dict[Path, OpenDocument],
    pattern: str,
    compiled: regex.Pattern[str] | None,
) -> _Outcome:
    out = _Outcome()
    deadline = time.monotonic() + TIME_BUDGET_S
    bytes_left = BYTE_BUDGET
    for real, rel in entries:
        if time.monotonic() > deadline:
            out.timed_out = True
            break
        doc = docs.get(real)
        if doc is not None:
            text = doc.text
        else:
            try:
                data, _cut = read_disk_bytes(root, real)
            except (PathRefused, OSError):
                continue  # vanished, unreadable, or swapped for a link: skip
            if is_binary(data):
                continue
            bytes_left -= len(data)
            if bytes_left < 0:
                out.bytes_exhausted = True
                break
            text = data.decode("utf-8", "replace")
        out.files_searched += 1
        if compiled is None:
            _plain(text, rel, pattern, out)
        elif not _regex(text, rel, compiled, deadline, out):
            out.timed_out = True
            break
    return out


def _add(out: _Outcome, rel: str, line_no: int, line: str) -> None:
    if len(out.matches) < MAX_MATCHES:
        out.matches.append(f"{rel}:{line_no}: {_clip(line)}")
    else:
        out.more += 1


def _plain(text: str, rel: str, pattern: str, out: _Outcome) -> None:
    if pattern not in text:
        return
    starts = line_starts(text)
    pos = text.find(pattern)
    while pos != -1 and out.more <= 10_000:
        line = line_of_offset(starts, pos)
        _add(out, rel, line + 1, _line_text(text, starts, line))
        if line + 1 >= len(starts):
            break
        pos = text.find(pattern, starts[line + 1])  # one result per line


def _regex(
    text: str, rel: str, compiled: regex.Pattern[str], deadline: float, out: _Outcome
) -> bool:
    """Search one text; False when the time budget ran out."""
    starts = line_starts(text)
    last_line = -1
    try:
        remaining = max(0.01, min(REGEX_FILE_TIMEOUT_S, deadline - time.monotonic()))
        for m in compiled.finditer(text, timeout=remaining):
            line = line_of_offset(starts, m.start())
            if line != last_line:
                _add(out, rel, line + 1, _line_text(text, starts, line))
                last_line = line
            if out.more > 10_000:
                break  # enough to say "many more"
    except TimeoutError:
        return False
    return True


def _line_text(text: str, starts: list[int], line: int) -> str:
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return text[starts[line] : end].rstrip("\r\n")
