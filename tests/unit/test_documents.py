"""LineIndexedDocument edits exactly like pygls' TextDocument, only faster."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from orion_lsp.server import documents
from orion_lsp.server.documents import LineIndexedDocument, line_starts

ALPHABET = st.sampled_from(list("ab \t\n\r\r\nx😋é\x0b\u2028"))
TEXT = st.lists(ALPHABET, max_size=40).map("".join)


def make(cls: type[TextDocument], text: str) -> TextDocument:
    return cls("file:///t.py", source=text, version=1, position_codec=PositionCodec())


def change(sl: int, sc: int, el: int, ec: int, text: str) -> lsp.TextDocumentContentChangePartial:
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(sl, sc), lsp.Position(el, ec)), text=text
    )


@given(TEXT)
def test_line_starts_match_splitlines(text: str):
    starts = line_starts(text)
    ends = [*starts[1:], len(text)] if starts else []
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == text.splitlines(True)


edit = st.tuples(st.integers(0, 8), st.integers(0, 6), st.integers(0, 3), st.integers(0, 6), TEXT)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.lists(edit, min_size=1, max_size=6))
def test_edits_match_pygls(text: str, edits: list[tuple[int, int, int, int, str]]):
    ours, theirs = make(LineIndexedDocument, text), make(TextDocument, text)
    for sl, sc, extra, ec, new in edits:
        el = sl + extra
        if extra == 0:
            ec = max(ec, sc)  # editors send ranges that end after they start
        # pygls mutates the change's positions while converting: give each its own.
        theirs.apply_change(change(sl, sc, el, ec, new))
        ours.apply_change(change(sl, sc, el, ec, new))
        assert ours.source == theirs.source
        assert list(ours.lines) == list(theirs.lines)


def test_large_buffer_edits_rescan_only_the_lines_they_touch(monkeypatch: pytest.MonkeyPatch):
    # Cheap by construction, not by a stopwatch: after the index is built once (as
    # at didOpen), an edit anywhere in a 6 MB buffer rescans a few lines' worth of
    # text, the same as in a tiny one. (pygls re-splits the whole buffer per edit;
    # bench/ measures what that costs.)
    text = "".join(f"def function_{i}(x):\n    return x + {i}\n" for i in range(150_000))
    ours, theirs = make(LineIndexedDocument, text), make(TextDocument, text)
    assert len(ours.lines) == 300_000  # index once (as at didOpen)
    scanned: list[int] = []

    def counting_line_starts(text: str, base: int = 0) -> list[int]:
        scanned.append(len(text))
        return line_starts(text, base)

    monkeypatch.setattr(documents, "line_starts", counting_line_starts)
    for i, new in enumerate(["x", "two\nlines", "", "\r\n", "é😋"]):
        line = 1000 + i * 70_000
        edit = change(line, 0, line, 3, new)
        ours.apply_change(edit)
        theirs.apply_change(change(line, 0, line, 3, new))
        assert ours.source == theirs.source
        assert list(ours.lines[line - 2 : line + 3]) == list(theirs.lines[line - 2 : line + 3])
    assert len(scanned) == 5  # one rescan per edit, never a rebuild of the index
    assert max(scanned) <= 4 * 40, scanned  # the lines around the edit, ~20-30 chars each
