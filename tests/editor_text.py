"""What an editor does with LSP positions: the tests' oracle.

Written apart from `orion_lsp.positions` (character by character, from the
spec's words) so a test can tell whether the server's positions land where
an editor puts them: lines end at "\\n", "\\r\\n" or "\\r"; `character` counts
code units of the negotiated encoding; past the end of a line is its end.
"""

from __future__ import annotations

import re
from typing import Any

from lsprotocol import types as lsp

_UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}
_CODEC = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}


def _lines(text: str) -> list[tuple[str, str]]:
    """(content, line break) pairs; the last line has an empty break."""
    parts = re.split(r"(\r\n|\r|\n)", text)
    return list(zip(parts[0::2], [*parts[1::2], ""], strict=True))


def _width(ch: str, encoding: str) -> int:
    return len(ch.encode(_CODEC[encoding], "surrogatepass")) // _UNIT_BYTES[encoding]


def offset(text: str, line: int, character: int, encoding: str) -> int:
    """The string offset an editor finds at (line, character)."""
    lines = _lines(text)
    if line >= len(lines):
        return len(text)
    base = sum(len(c) + len(b) for c, b in lines[:line])
    content = lines[line][0]
    units = 0
    for i, ch in enumerate(content):
        if units + _width(ch, encoding) > character:
            return base + i
        units += _width(ch, encoding)
    return base + len(content)


def position(text: str, at: int, encoding: str) -> lsp.Position:
    """The position an editor sends for a string offset (never inside a CRLF)."""
    base = 0
    for n, (content, brk) in enumerate(_lines(text)):
        if base <= at <= base + len(content):
            units = sum(_width(ch, encoding) for ch in content[: at - base])
            return lsp.Position(line=n, character=units)
        base += len(content) + len(brk)
    raise ValueError(f"offset {at} is past the end or inside a line break")


def range_of(text: str, needle: str, encoding: str) -> lsp.Range:
    """The range an editor sends when the user selects the one `needle` in `text`."""
    assert text.count(needle) == 1, needle
    at = text.index(needle)
    return lsp.Range(position(text, at, encoding), position(text, at + len(needle), encoding))


def apply_text_edit(text: str, rng: Any, new_text: str, encoding: str) -> str:
    start = offset(text, rng.start.line, rng.start.character, encoding)
    end = offset(text, rng.end.line, rng.end.character, encoding)
    return text[:start] + new_text + text[end:]


def text_edits(edit: lsp.WorkspaceEdit) -> dict[str, list[Any]]:
    """uri -> the text edits of a workspace edit, whichever form it took."""
    out: dict[str, list[Any]] = {}
    for uri, edits in (edit.changes or {}).items():
        out.setdefault(uri, []).extend(edits)
    for change in edit.document_changes or []:
        if isinstance(change, lsp.TextDocumentEdit):
            out.setdefault(change.text_document.uri, []).extend(change.edits)
    return out
