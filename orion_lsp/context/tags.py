"""Tags of one file: its definitions (with signature line) and references.

This is what the index keeps per file instead of the syntax tree (a tree costs
~26x the source size; tags are a few percent of it). `extract_tags` runs
inside worker processes and for single editor buffers in-process; the result
is a small picklable value that also serialises to the `file_tags.tags` blob.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from tree_sitter import QueryCursor

from .languages import grammar, parser

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

BLOB_VERSION = 1


class Definition(NamedTuple):
    name: str
    kind: str  # class, function, method, interface, enum, type, module, macro, constant, impl
    line: int  # 1-based line of the name
    end_line: int  # 1-based last line of the whole definition (for containment)
    text: str  # the source line holding the name, right-stripped, capped


@dataclass
class FileTags:
    lang: str
    defs: list[Definition] = field(default_factory=list)
    # name -> number of reference sites in the file (definitions excluded)
    refs: dict[str, int] = field(default_factory=dict)

    def to_blob(self) -> bytes:
        doc = {"v": BLOB_VERSION, "l": self.lang, "d": [list(d) for d in self.defs], "r": self.refs}
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"), 1)

    @classmethod
    def from_blob(cls, blob: bytes) -> FileTags:
        """Decode a cached blob; raises ValueError when it is not ours or too old."""
        try:
            doc = json.loads(zlib.decompress(blob))
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"bad tags blob: {e}") from e
        if not isinstance(doc, dict) or doc.get("v") != BLOB_VERSION:
            raise ValueError("tags blob of another version")
        defs = [Definition(*d) for d in doc["d"]]
        return cls(doc["l"], defs, doc["r"])


def _line_text(src: bytes, start_byte: int) -> str:
    begin = src.rfind(b"\n", 0, start_byte) + 1
    end = src.find(b"\n", start_byte)
    if end < 0:
        end = len(src)
    # Cap in bytes first so a 1 MB single-line file costs nothing here.
    raw = src[begin : min(end, begin + MAX_LINE_CHARS * 4)]
    text = raw.decode("utf-8", "replace").rstrip()
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + "…"
    return text


def extract_tags(lang: str, src: bytes) -> FileTags:
    """Parse `src` with the grammar of `lang` and run its tags query."""
    g = grammar(lang)
    tree = parser(lang).parse(src)
    is_def = g.def_patterns
    # name node start byte -> (priority, Definition)
    defs: dict[int, tuple[int, Definition]] = {}
    # reference node start byte -> name; keyed by node so one identifier caught
    # by two patterns (call and plain identifier) counts once.
    refs: dict[int, bytes] = {}
    for pattern, caps in QueryCursor(g.query).matches(tree.root_node):
        if not is_def[pattern]:
            for nodes in caps.values():
                for n in nodes:
                    refs[n.start_byte] = n.text  # type: ignore[assignment]
            continue
        name_node = caps["name"][0]
        key = name_node.start_byte
        for cap, nodes in caps.items():
            if cap == "name":
                continue
            kind = cap[11:]  # "definition.<kind>"
            prio = _KIND_PRIORITY.get(kind, 1)
            old = defs.get(key)
            if old is not None and old[0] >= prio:
                continue
            name = (name_node.text or b"").decode("utf-8", "replace")
            line = name_node.start_point[0] + 1
            defs[key] = (
                prio,
                Definition(name, kind, line, nodes[0].end_point[0] + 1, _line_text(src, key)),
            )
    counts: Counter[bytes] = Counter()
    for start, raw in refs.items():
        if start not in defs:
            counts[raw] += 1
    out = sorted((d for _, d in defs.values()), key=lambda d: (d.line, d.name))
    # One-letter names are loop variables and parameters: they never make a
    # useful edge and they bloat the cache.
    ref_counts = {k.decode("utf-8", "replace"): v for k, v in counts.items() if len(k) > 1}
    return FileTags(lang, out, ref_counts)
