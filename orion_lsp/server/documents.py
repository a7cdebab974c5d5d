"""Open editor buffers that stay cheap to edit when they are large.

pygls 2.1 applies every incremental `didChange` by splitting the whole
document into lines and writing it back out in Python: ~50 ms per keystroke
in a 10 MB buffer on these machines, during which the server answers nothing
(`orion.status` waited 370-760 ms at p95 in the reliability test). This
document keeps the offsets where lines start, so an edit is one string splice
plus a rescan of the few lines it touched; line boundaries, and thus every
position, are exactly those of `str.splitlines` that pygls uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, overload

from lsprotocol import types as lsp
from pygls.workspace import TextDocument, Workspace

# The boundaries `str.splitlines()` splits on (pygls' `lines` uses it).
_LINE_END = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def line_starts(text: str, base: int = 0) -> list[int]:
    """Offsets (plus `base`) where the lines of `text` start, as `splitlines` cuts them."""
    if not text:
        return []
    starts = [base]
    end = len(text)
    for m in _LINE_END.finditer(text):
        if m.end() < end:
            starts.append(base + m.end())
    return starts


class _Lines(Sequence[str]):
    """A read-only view of a document's lines, without splitting the document."""

    def __init__(self, source: str, starts: list[int]) -> None:
        self._source = source
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self._starts)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("line index out of range")
        end = self._starts[i + 1] if i + 1 < n else len(self._source)
        return self._source[self._starts[i] : end]

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class LineIndexedDocument(TextDocument):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._starts: list[int] | None = None

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = line_starts(self.source)
        return self._starts

    @property
    def lines(self) -> Sequence[str]:
        return _Lines(self.source, self._line_starts())

    def _apply_full_change(self, change: lsp.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._starts = None

    def _apply_incremental_change(self, change: lsp.TextDocumentContentChangePartial) -> None:
        src = self.source
        starts = self._line_starts()
        n = len(starts)
        view = _Lines(src, starts)
        rng = self._position_codec.range_from_client_units(view, change.range)
        sl, el = rng.start.line, rng.end.line
        if sl >= n:  # an edit at the very end of the file (as pygls does it)
            self._source = src + change.text
            self._starts = None
            return
        line_end = starts[sl + 1] if sl + 1 < n else len(src)
        start = min(starts[sl] + rng.start.character, line_end)
        if el < n:
            end_line_end = starts[el + 1] if el + 1 < n else len(src)
            end = min(starts[el] + rng.end.character, end_line_end)
        else:
            end = len(src)
        new = src[:start] + change.text + src[end:]
        delta = len(new) - len(src)
        # Rescan from the line before the edit (a "\r" + "\n" may join across it) to
        # the line after it; shift every later line start by the size change.
        first = max(sl - 1, 0)
        after = min(max(el, sl) + 2, n)
        window_end = (starts[after] if after < n else len(src)) + delta
        rescanned = line_starts(new[starts[first] : window_end], starts[first])
        tail = starts[after:]
        if delta:
            tail = [s + delta for s in tail]
        self._source = new
        self._starts = starts[:first] + rescanned + tail


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
