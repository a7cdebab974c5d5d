"""Which tree-sitter grammar and tags query serve which file.

Grammars come from the individual PyPI wheels (``tree-sitter-python`` ...),
which ship compiled parsers and never download anything at run time (unlike
``tree-sitter-language-pack`` 1.x). Tags queries are our own data files in
``queries/<lang>-tags.scm``. Languages and queries are loaded lazily and once
per process: the index parses in worker processes, each of which builds its
own copies on first use.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath

from tree_sitter import Language, Parser, Query

log = logging.getLogger(__name__)

# extension -> language name
EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    # .h is ambiguous; the C grammar reads C headers exactly and most C++
    # headers well enough for names.
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
}

# language -> (module, function returning the language pointer, query file)
_GRAMMARS: dict[str, tuple[str, str, str]] = {
    "python": ("tree_sitter_python", "language", "python"),
    "javascript": ("tree_sitter_javascript", "language", "javascript"),
    "typescript": ("tree_sitter_typescript", "language_typescript", "typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx", "typescript"),
    "go": ("tree_sitter_go", "language", "go"),
    "rust": ("tree_sitter_rust", "language", "rust"),
    "java": ("tree_sitter_java", "language", "java"),
    "c": ("tree_sitter_c", "language", "c"),
    "cpp": ("tree_sitter_cpp", "language", "cpp"),
}

LANGUAGES: tuple[str, ...] = tuple(_GRAMMARS)


def language_for_path(path: str) -> str | None:
    """The language name for a file path, or None when we do not index it."""
    return EXTENSIONS.get(PurePosixPath(path).suffix.lower())


@dataclass(frozen=True)
class Grammar:
    name: str
    language: Language
    query: Query
    # pattern index -> True when the pattern captures a definition (@name)
    def_patterns: tuple[bool, ...]


def query_text(lang: str) -> str:
    qfile = _GRAMMARS[lang][2]
    return (files("orion_lsp.context") / "queries" / f"{qfile}-tags.scm").read_text("utf-8")


@cache
def grammar(lang: str) -> Grammar:
    """Load (once per process) the grammar and compiled tags query of `lang`."""
    module_name, func, _ = _GRAMMARS[lang]
    module = importlib.import_module(module_name)
    language = Language(getattr(module, func)())
    query = Query(language, query_text(lang))
    def_patterns = _definition_patterns(query_text(lang), query.pattern_count)
    return Grammar(lang, language, query, def_patterns)


def _definition_patterns(text: str, count: int) -> tuple[bool, ...]:
    """Which patterns are definitions: those capturing `@name`.

    tree-sitter does not expose a pattern's capture names, so we read them
    from the query text: every top-level S-expression is one pattern, in order.
    """
    out: list[bool] = []
    depth = 0
    chunk: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":  # comment to end of line
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch == '"':  # string literal (predicate arguments), may hold brackets
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            chunk.append(text[i : j + 1])
            i = j + 1
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        chunk.append(ch)
        i += 1
        if depth == 0 and ch in ")]":
            # A pattern ends when its outer group closes, but captures and
            # quantifiers may follow on the same line: `(...) @definition.x`.
            j = i
            while j < n and text[j] not in "\n;":
                j += 1
            chunk.append(text[i:j])
            i = j
            out.append("@name" in "".join(chunk))
            chunk = []
    if len(out) != count:
        raise ValueError(f"tags query: found {len(out)} patterns, tree-sitter has {count}")
    return tuple(out)


@cache
def parser(lang: str) -> Parser:
    return Parser(grammar(lang).language)


def available_languages() -> dict[str, bool]:
    """Which languages load here (for `orion doctor`)."""
    out: dict[str, bool] = {}
    for lang in LANGUAGES:
        try:
            grammar(lang)
            out[lang] = True
        except Exception:  # a broken wheel must not stop the doctor report
            log.exception("tree-sitter grammar %s failed to load", lang)
            out[lang] = False
    return out
