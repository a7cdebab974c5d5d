"""Tags of one file: its definitions (with signature line) and references.

This is what the index keeps per file instead of the syntax tree (a tree costs
~26x the source size; tags are a few percent of it). Definitions come from
the language's tags query; references from a lexer (references.py says why). `extract_tags` runs
inside worker processes and for single editor buffers in-process; the result
is a small picklable value that also serialises to the `file_tags.tags` blob.
"""

from __future__ import annotations

import struct
import time
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from tree_sitter import Node, QueryCursor

from .languages import grammar, parser
from .references import reference_counts

# Signature lines longer than this are cut: minified or generated code would
# otherwise blow the map budget with one line.
MAX_LINE_CHARS = 160

# When one name node is captured by several definition patterns, keep the
# most specific kind (a function in a class body is a method; a Go struct is
# a class rather than a bare type).
_KIND_PRIORITY = {
    "method": 6,
    "impl": 6,
    "class": 5,
    "interface": 5,
    "enum": 5,
    "module": 5,
    "macro": 5,
    "constant": 4,
    "type": 3,
    "function": 2,
}
_CAPTURE_PRIORITY = {f"definition.{k}": v for k, v in _KIND_PRIORITY.items()}

# The cache blob: zlib over a fixed header of section lengths and the
# sections (names and lines joined by "\n", numbers as arrays), so the index
# can read a file's names without building its Definition objects
# (`blob_names`) and a full decode is a few splits, not a JSON parse.
_MAGIC = b"OTG2"
_HEADER = struct.Struct("<4s9I")


class Definition(NamedTuple):
    name: str
    kind: str  # class, function, method, interface, enum, type, module, macro, constant, impl
    line: int  # 1-based line of the name
    end_line: int  # 1-based last line of the whole definition (for containment)
    text: str  # the source line holding the name, right-stripped, capped


class BlobNames(NamedTuple):
    """What the ranking needs of a file, read from its blob."""

    def_names: list[str]
    kinds: list[str]
    text_lens: array[int]  # characters of each definition's line
    ref_names: list[str]
    ref_counts: array[int]


@dataclass
class FileTags:
    lang: str
    defs: list[Definition] = field(default_factory=list)
    # name -> number of reference sites in the file (definitions excluded)
    refs: dict[str, int] = field(default_factory=dict)

    def to_blob(self) -> bytes:
        return zlib.compress(self.to_raw(), 1)

    def to_raw(self) -> bytes:
        """The blob before compression (what `blob_names(raw, compressed=False)` reads)."""
        defs = self.defs
        sections = [
            self.lang.encode(),
            _join(d.name for d in defs),
            _join(d.kind for d in defs),
            array("i", (d.line for d in defs)).tobytes(),
            array("i", (d.end_line for d in defs)).tobytes(),
            array("H", (min(len(d.text), 65535) for d in defs)).tobytes(),
            _join(d.text for d in defs),
            _join(self.refs),
            array("I", self.refs.values()).tobytes(),
        ]
        head = _HEADER.pack(_MAGIC, *(len(x) for x in sections))
        return head + b"".join(sections)

    @classmethod
    def from_blob(cls, blob: bytes) -> FileTags:
        """Decode a cached blob; raises ValueError when it is not ours or too old."""
        lang, names, kinds, lines, ends, _lens, texts, refs, counts = _sections(blob)
        n = len(lines) // 4
        defs = list(
            map(
                Definition,
                _split(names, n),
                _split(kinds, n),
                _ints("i", lines),
                _ints("i", ends),
                _split(texts, n),
            )
        )
        ref_names = _split(refs, len(counts) // 4)
        return cls(lang.decode(), defs, dict(zip(ref_names, _ints("I", counts), strict=True)))


def blob_names(blob: bytes, *, compressed: bool = True) -> BlobNames:
    """The names in a blob (ValueError when it is not ours), without its lines."""
    _lang, names, kinds, lines, _ends, lens, _texts, refs, counts = _sections(blob, compressed)
    n = len(lines) // 4
    return BlobNames(
        _split(names, n),
        _split(kinds, n),
        _ints("H", lens),
        _split(refs, len(counts) // 4),
        _ints("I", counts),
    )


def _join(items: Iterable[str]) -> bytes:
    return "\n".join(items).encode("utf-8", "surrogatepass")


def _split(raw: bytes, n: int) -> list[str]:
    if n == 0:
        return []
    out = raw.decode("utf-8", "surrogatepass").split("\n")
    if len(out) != n:
        raise ValueError("bad tags blob: section length")
    return out


def _ints(code: str, raw: bytes) -> array[int]:
    a = array(code)
    a.frombytes(raw)
    return a


def _sections(blob: bytes, compressed: bool = True) -> list[bytes]:
    try:
        data = zlib.decompress(blob) if compressed else blob
    except zlib.error as e:
        raise ValueError(f"bad tags blob: {e}") from e
    if len(data) < _HEADER.size or data[:4] != _MAGIC:
        raise ValueError("tags blob of another version")
    lengths = _HEADER.unpack_from(data)[1:]
    out, pos = [], _HEADER.size
    for n in lengths:
        out.append(data[pos : pos + n])
        pos += n
    if pos != len(data):
        raise ValueError("bad tags blob: length")
    return out


def _line_text(src: bytes, begin: int) -> str:
    """The line starting at byte `begin`, right-stripped and capped."""
    end = src.find(b"\n", begin)
    if end < 0:
        end = len(src)
    # Cap in bytes first so a 1 MB single-line file costs nothing here.
    raw = src[begin : min(end, begin + MAX_LINE_CHARS * 4)]
    text = raw.decode("utf-8", "replace").rstrip()
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + "…"
    return text


def extract_tags(lang: str, src: bytes, parse_cpu: list[float] | None = None) -> FileTags:
    """Parse `src` with the grammar of `lang`, run its definitions query, lex its references.

    `parse_cpu[0]` gets the CPU seconds of the parse alone (for --stats).
    """
    g = grammar(lang)
    t = time.process_time()
    tree = parser(lang).parse(src)
    if parse_cpu is not None:
        parse_cpu[0] += time.process_time() - t
    cursor = QueryCursor(g.query)
    if g.max_start_depth is not None:
        cursor.set_max_start_depth(g.max_start_depth)
    # name node start byte -> (priority, capture, name node, definition node):
    # the best kind per name first, Definitions made once at the end.
    best: dict[int, tuple[int, str, Node, Node]] = {}
    priority = _CAPTURE_PRIORITY
    for _pattern, caps in cursor.matches(tree.root_node):
        names = caps.get("name")
        if not names:
            continue
        name_node = names[0]
        key = name_node.start_byte
        for cap, nodes in caps.items():
            if cap == "name":
                continue
            prio = priority.get(cap, 1)
            old = best.get(key)
            if old is None or old[0] < prio:
                best[key] = (prio, cap, name_node, nodes[0])
    out = []
    for _prio, cap, name_node, def_node in best.values():
        row, column = name_node.start_point
        out.append(
            Definition(
                (name_node.text or b"").decode("utf-8", "replace"),
                cap[11:],  # "definition.<kind>"
                row + 1,
                def_node.end_point[0] + 1,
                _line_text(src, name_node.start_byte - column),
            )
        )
    out.sort(key=lambda d: (d.line, d.name))
    counts = reference_counts(lang, src)
    # A definition's own name is not a reference to it.
    for d in out:
        raw = d.name.encode("utf-8", "surrogatepass")
        n = counts.get(raw, 0)
        if n > 1:
            counts[raw] = n - 1
        elif n:
            counts.pop(raw)
    # One decode for all the names (they hold no newline).
    ref_names = b"\n".join(counts).decode("utf-8", "replace").split("\n") if counts else []
    return FileTags(lang, out, dict(zip(ref_names, counts.values(), strict=True)))
