"""The tree-sitter-backed `symbols(path)` and `find_symbol(name)` tools.

`symbols` is the tools package's `SymbolsTool` (it owns path confinement and
reads the open buffer before the disk) with our tree-sitter provider instead
of its line regexes. `find_symbol` answers from the project's `RepoIndex`, so
it costs no file reads; the index already holds the editor's unsaved buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from orion_lsp.agent.tools.base import Tool, ToolContext, ToolResult
from orion_lsp.agent.tools.common import cap_lines, ok, refused
from orion_lsp.agent.tools.symbols import SymbolsTool

from .languages import language_for_path
from .service import RepoIndex
from .tags import Definition, extract_tags

MAX_MATCHES = 60

IndexResolver = Callable[[Path], "RepoIndex | None"]


def tree_sitter_symbols(rel_path: str, text: str) -> list[tuple[str, str, int]]:
    """A `SymbolProvider`: (kind, name, 1-based line) of a file's definitions."""
    lang = language_for_path(rel_path)
    if lang is None:
        return []
    tags = extract_tags(lang, text.encode("utf-8", "surrogatepass"))
    return [(d.kind, d.name, d.line) for d in tags.defs]


class FindSymbolTool:
    name = "find_symbol"
    description = (
        "Find where a class, function, method or type is defined in the project, by name. "
        "Returns path:line and the definition line for each match (exact name first, then "
        "case-insensitive and partial matches)."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The identifier to look for."},
        },
        "required": ["name"],
        "additionalProperties": False,
    }

    def __init__(self, resolve: IndexResolver) -> None:
        self._resolve = resolve

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        name = str(args.get("name", "")).strip()
        if not name or len(name) > 200 or any(c.isspace() for c in name):
            return refused("give one identifier, e.g. find_symbol(name='RepoIndex')")
        index = self._resolve(ctx.root)
        if index is None:
            return refused("the symbol index of this project is not available yet")
        exact = index.find(name)
        matches = exact or _loose(index, name)
        note = ""
        if index.complete < 1.0:
            note = f"\n(index {index.complete:.0%} complete; a missing name may not be indexed yet)"
        if not matches:
            return ok(
                f"no definition named {name!r} found{note}",
                f"find_symbol {name}: none",
                name=name,
                count=0,
            )
        lines = [f"{p}:{d.line}: {d.kind} {d.name} | {d.text.strip()}" for p, d in matches]
        kind = "" if exact else " (no exact match; similar names)"
        body, _ = cap_lines(lines, ctx.max_output_chars - 200, unit="matches")
        return ok(
            f"{body}{kind}{note}",
            f"find_symbol {name}: {len(matches)} matches",
            name=name,
            count=len(matches),
        )


def _loose(index: RepoIndex, name: str) -> list[tuple[str, Definition]]:
    """Same name in another case first, then names containing it (from the name index)."""
    out: list[tuple[str, Definition]] = []
    for similar in index.defined_names_like(name.lower(), MAX_MATCHES):
        out.extend(index.find(similar))
        if len(out) >= MAX_MATCHES:
            break
    return out[:MAX_MATCHES]


def context_tools(resolve: IndexResolver) -> list[Tool]:
    """`symbols` (tree-sitter) and `find_symbol` (from the index)."""
    return [SymbolsTool(tree_sitter_symbols), FindSymbolTool(resolve)]
