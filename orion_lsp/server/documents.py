"""Open editor buffers: cheap to edit when large, exact in every position encoding.

pygls 2.1 applies every incremental `didChange` by splitting the whole
document into lines and writing it back out in Python: ~50 ms per keystroke
in a 10 MB buffer on these machines, during which the server answers nothing
(`orion.status` waited 370-760 ms at p95 in the reliability test). This
document keeps the offsets where lines start, so an edit is one string splice
plus a rescan of the text it touched.

Its lines are LSP's (`orion_lsp/positions.py`: "\\n", "\\r\\n", "\\r") and a
change's range is read in the negotiated position encoding, where pygls cuts
lines with `str.splitlines` (a form feed or U+2028 starts a new line there,
and not in any editor) and clamps a column past the end of the last line to
one character before it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from typing import Any, overload

from lsprotocol import types as lsp
from pygls.workspace import TextDocument, Workspace

from ..positions import LINE_BREAK, TextPositions, encoding_of, line_starts


class _Lines(Sequence[str]):
    """A read-only view of a document's lines (with their breaks), without splitting it.

    Like pygls' `lines`: a text that ends with a line break has no empty last line.
    """

    def __init__(self, source: str, starts: list[int]) -> None:
        self._source = source
        self._starts = starts
        self._n = len(starts) - (1 if starts[-1] == len(source) else 0)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("line index out of range")
        end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self._source)
        return self._source[self._starts[i] : end]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class LineIndexedDocument(TextDocument):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._starts: list[int] | None = None

    def line_starts(self) -> list[int]:
        """Where LSP's lines begin (kept up to date by each change; do not modify)."""
        if self._starts is None:
            self._starts = line_starts(self.source)
        return self._starts

    @property
    def lines(self) -> Sequence[str]:
        return _Lines(self.source, self.line_starts())

    def _apply_full_change(self, change: lsp.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._starts = None

    def _apply_incremental_change(self, change: lsp.TextDocumentContentChangePartial) -> None:
        src = self.source
        starts = self.line_starts()
        at = TextPositions(src, encoding_of(self._position_codec.encoding), starts)
        rng = change.range
        start = at.offset(rng.start.line, rng.start.character)
        end = max(start, at.offset(rng.end.line, rng.end.character))
        text = change.text
        self._source = src[:start] + text + src[end:]
        # A line start is decided by the one or two characters before it, so
        # only starts in [start, start + len(text)] of the new text can differ:
        # those before stay, those after the old `end` move by the size change.
        delta = len(text) - (end - start)
        lo = max(start - 1, 0)
        window = self._source[lo : start + len(text) + 1]
        fresh = [
            lo + m.end()
            for m in LINE_BREAK.finditer(window)
            if start <= lo + m.end() <= start + len(text)
        ]
        head = starts[: max(bisect_left(starts, start), 1)]
        tail = [s + delta for s in starts[bisect_right(starts, end) :]]
        self._starts = head + fresh + tail


class LineIndexedWorkspace(Workspace):
    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LineIndexedDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )
