"""orion_lsp.positions against an editor's reading of the spec (tests/editor_text.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion_lsp.positions import (
    ENCODINGS,
    TextPositions,
    addressable,
    encoding_of,
    line_starts,
    slice_range,
)
from tests import editor_text

# Non-ASCII of every UTF-8 width, non-BMP, every LSP line break, and breaks
# that only str.splitlines knows (form feed, U+2028), which are not LSP's.
ALPHABET = st.sampled_from(list("ab \t\n\r\r\nxé€😀𝄞\x0c\u2028"))
TEXT = st.lists(ALPHABET, max_size=30).map("".join)
ENCODING = st.sampled_from(ENCODINGS)

LINE = 'NOTE = "😀 é EDIT_ME"  # keep\r\n'


@pytest.mark.parametrize(
    ("encoding", "column"),
    [("utf-8", 16), ("utf-16", 13), ("utf-32", 12)],  # where EDIT_ME starts
)
def test_a_column_after_an_emoji_and_an_accent(encoding: str, column: int) -> None:
    at = TextPositions(LINE + LINE, encoding)
    start = LINE.index("EDIT_ME")
    assert at.position(start) == (0, column)
    assert at.offset(0, column) == start
    assert at.position(len(LINE) + start) == (1, column)
    assert slice_range(LINE, (0, column), (0, column + 7), encoding) == "EDIT_ME"


def test_past_the_end_of_a_line_is_before_its_break() -> None:
    at = TextPositions("ab\r\ncd\rx\x0cy\u2028z", "utf-16")
    assert at.starts == [0, 4, 7]  # form feed and U+2028 are inside the last line
    assert at.offset(0, 99) == 2 and at.offset(1, 99) == 6
    assert at.offset(2, 99) == len(at.text) and at.offset(7, 0) == len(at.text)


def test_inside_a_character_is_its_start() -> None:
    assert TextPositions("a😀b", "utf-16").offset(0, 2) == 1
    assert TextPositions("a😀b", "utf-8").offset(0, 3) == 1
    assert TextPositions("a€b", "utf-8").offset(0, 2) == 1


def test_encoding_names() -> None:
    from lsprotocol.types import PositionEncodingKind

    assert encoding_of(PositionEncodingKind.Utf8) == "utf-8"
    assert encoding_of("utf-32") == "utf-32"
    assert encoding_of(None) == "utf-16" and encoding_of("latin-1") == "utf-16"


@settings(max_examples=300, deadline=None)
@given(TEXT, ENCODING, st.data())
def test_offsets_and_positions_agree_with_an_editor(text: str, encoding: str, data) -> None:
    at = TextPositions(text, encoding)
    # Every offset that is not inside a CRLF round-trips, as an editor sees it.
    for off in range(len(text) + 1):
        if 0 < off < len(text) and text[off - 1 : off + 1] == "\r\n":
            continue
        line, character = at.position(off)
        assert editor_text.position(text, off, encoding) == _pos(line, character)
        assert at.offset(line, character) == off
    line = data.draw(st.integers(0, len(at.starts) + 1))
    character = data.draw(st.integers(0, 12))
    assert at.offset(line, character) == editor_text.offset(text, line, character, encoding)


@given(TEXT, st.integers(0, 30), st.integers(0, 30), TEXT)
def test_addressable_spans_keep_the_result(text: str, a: int, b: int, new: str) -> None:
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    s, e, n = addressable(text, start, end, new)
    assert text[:s] + n + text[e:] == text[:start] + new + text[end:]
    for off in (s, e):
        assert not (0 < off < len(text) and text[off - 1 : off + 1] == "\r\n")


def _pos(line: int, character: int):
    from lsprotocol.types import Position

    return Position(line=line, character=character)


@given(st.lists(st.sampled_from(["a", "é", "\n", "\r\n", "\r", "\x0c"]), max_size=30).map("".join))
def test_line_starts_with_and_without_lone_carriage_returns(text: str) -> None:
    # Two ways to find them (str.split without a lone "\r", else the regex): one answer.
    expected = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    assert line_starts(text) == expected
