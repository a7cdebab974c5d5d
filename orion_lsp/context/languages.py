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
import re
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
    query: Query  # definitions only (references are lexical: references.py)
    # Matches start no deeper than this (None: anywhere). Set per query file by
    # a `; orion: max-start-depth N` line: the query cursor then skips whole
    # subtrees (function bodies), which cut its cost 5x on the stdlib.
    max_start_depth: int | None


_DEPTH = re.compile(r"^;\s*orion:\s*max-start-depth\s+(\d+)\s*$", re.MULTILINE)


def query_text(lang: str) -> str:
    qfile = _GRAMMARS[lang][2]
    return (files("orion_lsp.context") / "queries" / f"{qfile}-tags.scm").read_text("utf-8")


@cache
def grammar(lang: str) -> Grammar:
    """Load (once per process) the grammar and compiled tags query of `lang`."""
    module_name, func, _ = _GRAMMARS[lang]
    module = importlib.import_module(module_name)
    language = Language(getattr(module, func)())
    text = query_text(lang)
    depth = _DEPTH.search(text)
    return Grammar(lang, language, Query(language, text), int(depth.group(1)) if depth else None)


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
