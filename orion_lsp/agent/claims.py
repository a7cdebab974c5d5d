"""The claim check: file paths and symbol names an answer cites, checked at turn end.

Small local models invent things: a `utils/helpers.py` that is not there, a
`validate_order()` nobody wrote. At the end of a completed turn (the
orchestrator's `end_checks` seam) this check pulls the paths and the
backticked identifiers out of the answer, outside fenced code blocks (code
the model proposes may name new things), and looks them up:

- a path is known when it exists under the root (a `:12` / `#L12` suffix is
  dropped), was read or created in this turn, or, for a bare file name, when
  a file of that name is in the workspace; paths outside the root are unknown;
- a symbol is known when the repo index defines or uses it (definitions and
  references of the workspace's files), or it occurs as a word in a file read
  or written this turn, or it is a Python keyword / builtin. For `a.b.c` the
  last part decides. The check reads the disk: when a file of the turn is not
  on disk as the model saw it (unsaved buffer, created and not yet saved),
  symbols are not flagged and `symbolsVerified` is false.

Unknown ones go into the `turn_end` payload (`claims`, data for later
evaluators) and the answer gets one short visible note. The check is cheap
(no model call) and advisory: the orchestrator logs and skips it if it fails.
"""

from __future__ import annotations

import asyncio
import builtins
import keyword
import logging
import os
import re
from collections.abc import Callable, Container
from pathlib import Path, PurePosixPath
from typing import Any

from .protocols import TurnEndNote
from .tools.paths import is_inside
from .tools.textfile import text_hash
from .tools.walk import walk_files

log = logging.getLogger(__name__)

MAX_CLAIMS = 40  # of each kind, per answer
MAX_READ_FILE_BYTES = 1_000_000
BASENAME_WALK_BUDGET = 20_000

# Extensions that make a bare word a file name (`greet.py`), not `obj.attr`.
FILE_EXTENSIONS = frozenset(
    "py pyi js mjs cjs jsx ts tsx mts cts go rs java c h cc cpp cxx hpp hh kt swift rb php "
    "cs scala lua sh bash zsh fish md rst txt toml yaml yml json jsonc ini cfg conf lock xml "
    "html css scss sql proto gradle mk cmake dockerfile env".split()
)
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]{1,200})`")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# A path-looking token: segments of word characters, dots and dashes joined by "/",
# or a single segment with a known extension.
_PATH = re.compile(
    r"(?<![\w./@-])((?:\.{1,2}/|/)?(?:[\w.-]+/)*[\w-][\w.-]*\.[A-Za-z0-9]{1,10})(?![\w/])"
)
_LINE_SUFFIX = re.compile(r"(?::\d+(?:[:-]\d+)?|#L\d+(?:-L?\d+)?)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?$")
_CALL = re.compile(r"^([A-Za-z_][\w.:]*)\(.*\)$")
_COMMON = frozenset(
    {
        "self",
        "this",
        "cls",
        "true",
        "false",
        "null",
        "nil",
        "none",
        "undefined",
        "void",
        "int",
        "str",
        "bool",
        "float",
        "string",
        "number",
        "object",
        "any",
        "async",
        "await",
        "const",
        "let",
        "var",
        "func",
        "fn",
        "pub",
        "impl",
        "struct",
        "enum",
        "main",
        "args",
        "kwargs",
    }
)
_BUILTINS = frozenset(dir(builtins)) | frozenset(keyword.kwlist)

IndexFor = Callable[[Path], Any]


def _prose(answer: str) -> str:
    """The answer without fenced code blocks and URLs."""
    return _URL.sub(" ", _FENCE.sub("\n", answer))


def _clean_path(token: str) -> str:
    token = token.strip().strip("'\"()[]<>,;")
    return _LINE_SUFFIX.sub("", token)


def extract_paths(answer: str) -> list[str]:
    """File paths the answer cites (inline code or plain text), in order, unique."""
    prose = _prose(answer)
    found: list[str] = []
    candidates: list[str] = []
    for m in _INLINE.finditer(prose):
        inner = _clean_path(m.group(1))
        if " " not in inner and ("/" in inner and not inner.endswith("/")):
            candidates.append(inner)
        elif " " not in inner:
            candidates.extend(x.group(1) for x in _PATH.finditer(inner))
    candidates.extend(x.group(1) for x in _PATH.finditer(_INLINE.sub(" ", prose)))
    for raw in candidates:
        path = _clean_path(raw)
        suffix = PurePosixPath(path).suffix.lower().lstrip(".")
        if "/" not in path and suffix not in FILE_EXTENSIONS:
            continue  # `obj.attr`, `e.g.`, `v1.2`
        if "/" in path and not suffix and "." not in PurePosixPath(path).name:
            # `src/pkg` (a folder) is fine; `and/or` is prose: require a known part.
            if not re.search(r"[A-Za-z]", path) or path.count("/") == 1 and len(path) < 8:
                continue
        if path and path not in found:
            found.append(path)
    return found[:MAX_CLAIMS]


def extract_symbols(answer: str) -> list[str]:
    """Identifiers cited in inline code (`name`, `name()`, `A.b`), in order, unique."""
    out: list[str] = []
    for m in _INLINE.finditer(_prose(answer)):
        token = m.group(1).strip()
        call = _CALL.match(token)
        if call:
            token = call.group(1)
        if not _IDENT.match(token):
            continue
        token = token.removesuffix("()")
        last = re.split(r"\.|::", token)[-1]
        if len(last) < 3 or last.lower() in _COMMON or last in _BUILTINS:
            continue
        if PurePosixPath(token).suffix.lower().lstrip(".") in FILE_EXTENSIONS and "." in token:
            continue  # a file name, checked as a path
        if token not in out:
            out.append(token)
    return out[:MAX_CLAIMS]


class ClaimCheck:
    """A `TurnEndCheck`; `index_for(root)` gives the repo index (or None)."""

    def __init__(self, index_for: IndexFor | None = None) -> None:
        self._index_for = index_for

    async def __call__(self, answer: str, root: Any, read_files: dict[str, str]) -> TurnEndNote:
        # Stat calls and a bounded walk: off the event loop.
        return await asyncio.to_thread(self.check, answer, Path(root), read_files)

    def check(self, answer: str, root: Path, read_files: dict[str, str]) -> TurnEndNote:
        root = Path(os.path.realpath(root))
        paths = extract_paths(answer)
        symbols = extract_symbols(answer)
        if not paths and not symbols:
            return TurnEndNote({"claims": {"paths": 0, "symbols": 0}})
        files = _Files(root)
        unknown_paths = [p for p in paths if not _path_known(root, p, read_files, files)]
        index = self._index(root)
        unknown_symbols: list[str] = []
        verified = True
        if symbols:
            texts, verified = _read_texts(root, read_files)
            names = _index_names(index, files)
            unknown = [s for s in symbols if not _symbol_known(s, index, names, texts)]
            if verified:
                unknown_symbols = unknown
        payload: dict[str, Any] = {
            "paths": len(paths),
            "symbols": len(symbols),
            "unknownPaths": unknown_paths,
            "unknownSymbols": unknown_symbols,
            # False when a file read or written this turn differs on disk from
            # what the model saw (unsaved buffers): symbols are then not flagged.
            "symbolsVerified": verified,
            "indexComplete": getattr(index, "complete", None) if index is not None else None,
        }
        note = None
        if unknown_paths or unknown_symbols:
            cited = [f"`{x}`" for x in [*unknown_paths, *unknown_symbols]]
            shown = ", ".join(cited[:8]) + (f" and {len(cited) - 8} more" if len(cited) > 8 else "")
            note = f"\n\n> Orion note: not found in this workspace: {shown}."
        return TurnEndNote({"claims": payload}, note)

    def _index(self, root: Path) -> Any:
        if self._index_for is None:
            return None
        try:
            return self._index_for(root)
        except Exception:  # the index is an aid: no index, no symbol lookup there
            log.exception("claim check: repo index unavailable")
            return None


class _Files:
    """The workspace's file list, walked once per check and only when needed."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._rels: list[str] | None = None

    @property
    def rels(self) -> list[str]:
        if self._rels is None:
            try:
                walk = walk_files(self._root, self._root, budget=BASENAME_WALK_BUDGET)
                self._rels = [e.rel for e in walk]
            except OSError:
                self._rels = []
        return self._rels


def _path_known(root: Path, path: str, read_files: dict[str, str], files: _Files) -> bool:
    rel = path.removeprefix("./")
    if os.path.isabs(rel):
        real = os.path.realpath(rel)
        if not is_inside(str(root), real):
            return False
        rel = os.path.relpath(real, root)
    norm = os.path.normpath(rel)
    if norm == ".." or norm.startswith("../"):
        return False
    if norm in read_files or rel in read_files:
        return True
    if is_inside(str(root), os.path.realpath(root / norm)) and os.path.lexists(root / norm):
        return True
    if "/" not in norm:
        # A bare `greet.py` for `pkg/greet.py`.
        names = {PurePosixPath(r).name for r in [*read_files, *files.rels]}
        return norm in names
    # `pkg/greet.py` said of `src/pkg/greet.py`: a known path suffix is fine.
    return any(r.endswith("/" + norm) for r in [*read_files, *files.rels])


def _read_texts(root: Path, read_files: dict[str, str]) -> tuple[list[str], bool]:
    """The disk texts of the files of this turn, and whether each is what the model saw."""
    texts: list[str] = []
    complete = True
    for rel, digest in list(read_files.items())[:50]:
        real = os.path.realpath(root / rel)
        if not is_inside(str(root), real):
            continue
        try:
            with open(real, "rb") as fh:
                data = fh.read(MAX_READ_FILE_BYTES)
        except OSError:
            complete = False  # created in an unsaved buffer, or gone
            continue
        text = data.decode("utf-8", "replace")
        if text_hash(text) != digest:
            complete = False  # an unsaved buffer (or changed since): not what it saw
        texts.append(text)
    return texts, complete


def _index_names(index: Any, files: _Files) -> Container[str]:
    """Every name the index knows a file defines or uses (parameters included)."""
    if hasattr(index, "known_names"):
        known: Container[str] = index.known_names()
        return known
    names: set[str] = set()
    if index is None or not hasattr(index, "file_tags"):
        return names
    for rel in files.rels:
        tags = index.file_tags(rel)
        if tags is not None:
            names.update(d.name for d in tags.defs)
            names.update(tags.refs)
    return names


def _symbol_known(symbol: str, index: Any, names: Container[str], texts: list[str]) -> bool:
    last = [p for p in re.split(r"\.|::", symbol) if p][-1]
    if last in _BUILTINS or last in names:
        return True
    if index is not None:
        try:
            if index.find(last):
                return True
        except Exception:
            log.exception("claim check: index lookup failed")
    word = re.compile(rf"(?<![\w]){re.escape(last)}(?![\w])")
    return any(word.search(t) for t in texts)
