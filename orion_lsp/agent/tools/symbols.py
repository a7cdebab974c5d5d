"""The ``symbols`` tool: the definitions in a file (or in the files of a folder).

The default provider is deliberately simple: line-based regexes for Python,
JS/TS, Go, Rust, Java and the C family. It is pluggable: the tree-sitter index
(``orion_lsp.context``) passes its own ``SymbolProvider`` to
``SymbolsTool``/``default_tools`` and this module's regexes go unused.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import ToolContext, ToolResult
from .common import cap_lines, ok, refused
from .paths import PathRefused, resolve_in_workspace
from .textfile import LoadedText, load_text, split_lines
from .walk import WalkStats, walk_files

# (rel_path, text) -> [(kind, name, 1-based line)], in file order.
SymbolProvider = Callable[[str, str], list[tuple[str, str, int]]]

MAX_FOLDER_FILES = 300

_JS_KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "function", "else", "do"}
_C_KEYWORDS = _JS_KEYWORDS | {"sizeof", "defined", "typedef", "case", "goto", "new", "delete"}

_Rule = tuple[str, "re.Pattern[str]"]


def _rules(*pairs: tuple[str, str]) -> list[_Rule]:
    return [(kind, re.compile(rx)) for kind, rx in pairs]


_PY = _rules(
    ("class", r"^\s*class\s+(\w+)"),
    ("function", r"^\s*(?:async\s+)?def\s+(\w+)"),
)
_JS = _rules(
    ("class", r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+(\w+)"),
    ("function", r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(\w+)"),
    ("interface", r"^\s*(?:export\s+)?(?:declare\s+)?interface\s+(\w+)"),
    ("type", r"^\s*(?:export\s+)?(?:declare\s+)?type\s+(\w+)\s*(?:<[^=]*>)?\s*="),
    ("enum", r"^\s*(?:export\s+)?(?:const\s+)?enum\s+(\w+)"),
    (
        "function",
        r"^\s*(?:export\s+)?(?:const|let|var)\s+(\w+)\s*(?::[^=]+)?=\s*(?:async\s+)?"
        r"(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|\w+\s*=>)",
    ),
    (
        "method",
        r"^\s+(?:(?:public|private|protected|static|async|readonly|override|get|set)\s+)*"
        r"(\w+)\s*(?:<[^>]*>)?\([^;]*\)\s*(?::[^{;]+)?\{\s*$",
    ),
)
_GO = _rules(
    ("method", r"^func\s+\([^)]*\)\s*(\w+)"),
    ("function", r"^func\s+(\w+)"),
    ("struct", r"^type\s+(\w+)\s+struct\b"),
    ("interface", r"^type\s+(\w+)\s+interface\b"),
    ("type", r"^type\s+(\w+)\b"),
)
_RUST = _rules(
    (
        "function",
        r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?(?:const\s+)?(?:async\s+)?"
        r"(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)",
    ),
    ("struct", r"^\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)"),
    ("enum", r"^\s*(?:pub(?:\([^)]*\))?\s+)?enum\s+(\w+)"),
    ("trait", r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?trait\s+(\w+)"),
    ("impl", r"^\s*(?:unsafe\s+)?impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(\w+)"),
    ("module", r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)"),
    ("type", r"^\s*(?:pub(?:\([^)]*\))?\s+)?type\s+(\w+)"),
)
_JAVA = _rules(
    (
        "class",
        r"^\s*(?:(?:public|private|protected|static|final|abstract|sealed|non-sealed)\s+)*"
        r"(?:class|record)\s+(\w+)",
    ),
    (
        "interface",
        r"^\s*(?:(?:public|private|protected|static|abstract|sealed)\s+)*@?interface\s+(\w+)",
    ),
    ("enum", r"^\s*(?:(?:public|private|protected|static)\s+)*enum\s+(\w+)"),
    (
        "method",
        r"^\s+(?:(?:public|private|protected|static|final|abstract|synchronized|native|default)\s+)*"
        r"(?:<[^>]+>\s+)?[\w.<>\[\], ?]+\s+(\w+)\s*\([^;]*$",
    ),
)
_C = _rules(
    ("struct", r"^\s*(?:typedef\s+)?struct\s+(\w+)\s*\{?\s*$"),
    ("class", r"^\s*(?:template\s*<[^>]*>\s*)?class\s+(\w+)[^;]*$"),
    ("enum", r"^\s*(?:typedef\s+)?enum\s+(?:class\s+)?(\w+)[^;]*$"),
    ("union", r"^\s*(?:typedef\s+)?union\s+(\w+)[^;]*$"),
    ("namespace", r"^\s*namespace\s+(\w+)"),
    # A definition starts at column 0 in conventional C/C++ style.
    ("function", r"^[A-Za-z_][\w\s\*&:<>,~]*?\b([A-Za-z_~][\w:~]*)\s*\([^;]*$"),
)

_BY_SUFFIX: dict[str, list[_Rule]] = {
    ".py": _PY,
    ".pyi": _PY,
    ".js": _JS,
    ".jsx": _JS,
    ".mjs": _JS,
    ".cjs": _JS,
    ".ts": _JS,
    ".tsx": _JS,
    ".mts": _JS,
    ".go": _GO,
    ".rs": _RUST,
    ".java": _JAVA,
    ".c": _C,
    ".h": _C,
    ".cc": _C,
    ".cpp": _C,
    ".cxx": _C,
    ".hpp": _C,
    ".hh": _C,
}


def regex_symbols(rel_path: str, text: str) -> list[tuple[str, str, int]]:
    """The default provider: (kind, name, 1-based line) by line-based regexes."""
    rules = _BY_SUFFIX.get(Path(rel_path).suffix.lower())
    if rules is None:
        return []
    keywords = _C_KEYWORDS if rules is _C else _JS_KEYWORDS
    found: list[tuple[str, str, int]] = []
    for n, line in enumerate(split_lines(text), start=1):
        if len(line) > 500:
            continue  # minified code: nothing useful, and slow
        for kind, rx in rules:
            m = rx.match(line)
            if m and m.group(1) not in keywords:
                found.append((kind, m.group(1), n))
                break
    return found


class SymbolsTool:
    name = "symbols"
    description = (
        "List the definitions (classes, functions, methods, structs, ...) in a file with "
        "their line numbers, or in every source file under a folder."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File or folder relative to the root."},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    def __init__(self, provider: SymbolProvider | None = None) -> None:
        self.provider: SymbolProvider = provider or regex_symbols

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            real, rel = resolve_in_workspace(ctx.root, args["path"], must_exist=True)
        except PathRefused as exc:
            return refused(exc.reason)
        if real.is_dir():
            return await self._folder(ctx, real, rel)
        try:
            loaded = await self._load(ctx, real, rel)
        except PathRefused as exc:
            return refused(exc.reason)
        syms = self.provider(rel, loaded.text)
        if not syms:
            return ok(f"{rel}: no definitions found", f"no symbols in {rel}", path=rel, count=0)
        lines = [f"{line}: {kind} {name}" for kind, name, line in syms]
        body, left_out = cap_lines(lines, ctx.max_output_chars - 200, unit="symbols")
        summary = f"{len(syms)} symbols in {rel}"
        return ok(f"{rel}\n{body}", summary, truncated=bool(left_out), path=rel, count=len(syms))

    async def _load(self, ctx: ToolContext, real: Path, rel: str) -> LoadedText:
        if ctx.documents.get(real) is not None:
            return load_text(ctx, real, rel)
        return await asyncio.to_thread(load_text, ctx, real, rel)

    async def _folder(self, ctx: ToolContext, real: Path, rel: str) -> ToolResult:
        entries = await asyncio.to_thread(
            lambda: list(walk_files(ctx.root, real, include_symlinks=False, stats=WalkStats()))
        )
        lines: list[str] = []
        files = 0
        for entry in entries:
            if files >= MAX_FOLDER_FILES:
                lines.append(f"... [stopped after {MAX_FOLDER_FILES} files; narrow the path]")
                break
            if Path(entry.rel).suffix.lower() not in _BY_SUFFIX and self.provider is regex_symbols:
                continue
            try:
                loaded = await self._load(ctx, entry.real_path, entry.rel)
            except PathRefused:
                continue
            syms = self.provider(entry.rel, loaded.text)
            files += 1
            lines.extend(f"{entry.rel}:{line}: {kind} {name}" for kind, name, line in syms)
        where = "the project" if rel == "." else rel
        if not lines:
            return ok(f"no definitions found in {where}", f"no symbols in {where}", count=0)
        body, left_out = cap_lines(lines, ctx.max_output_chars - 200, unit="symbols")
        summary = f"symbols of {files} files in {where}"
        return ok(body, summary, truncated=bool(left_out), path=rel, count=len(lines))
