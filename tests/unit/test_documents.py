"""LineIndexedDocument applies changes where an editor made them, in every encoding, fast."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from orion_lsp.positions import ENCODINGS
from orion_lsp.server.documents import LineIndexedDocument
from tests import editor_text

ALPHABET = st.sampled_from(list("ab \t\n\r\r\nx😋é€\x0b\x0c\u2028"))
TEXT = st.lists(ALPHABET, max_size=40).map("".join)


def make(cls: type[TextDocument], text: str, encoding: str = "utf-16") -> TextDocument:
    return cls("file:///t.py", source=text, version=1, position_codec=PositionCodec(encoding))


def change(sl: int, sc: int, el: int, ec: int, text: str) -> lsp.TextDocumentContentChangePartial:
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(sl, sc), lsp.Position(el, ec)), text=text
    )


def lsp_lines(text: str) -> list[str]:
    """LSP's lines with their breaks, without an empty last one (as pygls' `lines`)."""
    return [ln for ln in re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text) if ln]


edit = st.tuples(st.integers(0, 8), st.integers(0, 12), st.integers(0, 3), st.integers(0, 12), TEXT)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.sampled_from(ENCODINGS), st.lists(edit, min_size=1, max_size=6))
def test_edits_land_where_the_editor_made_them(
    text: str, encoding: str, edits: list[tuple[int, int, int, int, str]]
):
    doc, expected = make(LineIndexedDocument, text, encoding), text
    for sl, sc, extra, ec, new in edits:
        el = sl + extra
        if extra == 0:
            ec = max(ec, sc)  # editors send ranges that end after they start
        c = change(sl, sc, el, ec, new)
        expected = editor_text.apply_text_edit(expected, c.range, new, encoding)
        doc.apply_change(c)
        assert doc.source == expected
        assert list(doc.lines) == lsp_lines(expected)


@pytest.mark.parametrize(("encoding", "column"), [("utf-8", 16), ("utf-16", 13), ("utf-32", 12)])
def test_a_keystroke_after_an_emoji_on_a_crlf_line(encoding: str, column: int):
    text = 'a = 1\r\nNOTE = "😀 é EDIT_ME"  # keep\r\n\x0cb = 2\r\n'
    doc = make(LineIndexedDocument, text, encoding)
    doc.apply_change(change(1, column, 1, column + 7, "EDITED"))
    doc.apply_change(change(2, 1, 2, 2, "c"))  # the form feed is not a line break
    assert doc.source == 'a = 1\r\nNOTE = "😀 é EDITED"  # keep\r\n\x0cc = 2\r\n'


def test_an_edit_rescans_only_what_it_touched(monkeypatch: pytest.MonkeyPatch):
    """What keeps large buffers cheap, checked without a clock (the machine may be busy).

    Measured here: pygls ~50 ms, this ~5 ms per keystroke in a 6 MB buffer.
    """
    import orion_lsp.server.documents as documents

    text = "".join(f"def function_{i}(x):\r\n    return x + {i}\r\n" for i in range(150_000))
    doc = make(LineIndexedDocument, text)
    assert len(doc.lines) == 300_000  # indexed once (as at didOpen)
    scanned: list[int] = []
    breaks = documents.LINE_BREAK

    class CountingBreaks:
        def finditer(self, s: str):
            scanned.append(len(s))
            return breaks.finditer(s)

    monkeypatch.setattr(documents, "LINE_BREAK", CountingBreaks(), raising=True)
    monkeypatch.setattr(documents, "line_starts", None)  # a full rescan would fail
    monkeypatch.setattr(TextDocument, "lines", None)  # so would pygls' splitting
    for i in range(5):
        doc.apply_change(change(1000 + i * 7, 4, 1000 + i * 7, 4, "x\r\n"))
    assert max(scanned) <= len("x\r\n") + 2
    expected = text.split("\r\n")
    for i in range(5):
        n = 1000 + i * 7
        expected[n : n + 1] = [expected[n][:4] + "x", expected[n][4:]]
    assert doc.source == "\r\n".join(expected)
    assert len(doc.lines) == 300_005
