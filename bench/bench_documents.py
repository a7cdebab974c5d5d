"""Incremental `didChange` on a large open buffer: `LineIndexedDocument` vs pygls' `TextDocument`.

The baseline is pygls 2.1's own `TextDocument`, which re-splits the whole
buffer into lines on every incremental change; Orion's document keeps line
offsets and rescans only the lines an edit touches. Both get the same edits
on the same 6 MB text (300,000 lines), alternating, so machine load hits both
alike. That the rescan is bounded is asserted exactly in
tests/unit/test_documents.py; this prints what it buys.

Target: Orion's median per edit <= 1/3 of pygls'.

    .venv/bin/python bench/bench_documents.py [--edits 40]

Exit status is 0 even when the target is missed (MISSED is printed).
"""

from __future__ import annotations

import argparse
import statistics
import time

from lsprotocol import types as lsp
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from orion_lsp.server.documents import LineIndexedDocument

TARGET_RATIO = 1 / 3


def _document(cls: type[TextDocument], text: str) -> TextDocument:
    doc = cls("file:///bench.py", source=text, version=1, position_codec=PositionCodec())
    _ = doc.lines  # index once, as at didOpen
    return doc


def _edit(doc: TextDocument, line: int) -> float:
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(line, 0), lsp.Position(line, 0)), text="x"
    )
    t0 = time.perf_counter()
    doc.apply_change(change)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40)
    args = parser.parse_args()
    text = "".join(f"def function_{i}(x):\n    return x + {i}\n" for i in range(150_000))
    theirs, ours = _document(TextDocument, text), _document(LineIndexedDocument, text)
    slow: list[float] = []
    fast: list[float] = []
    for i in range(args.edits):
        line = 1000 + i * 7
        slow.append(_edit(theirs, line))
        fast.append(_edit(ours, line))
    if ours.source != theirs.source:
        raise SystemExit("the two documents disagree: the benchmark is void")
    pygls_ms = statistics.median(slow) * 1000
    orion_ms = statistics.median(fast) * 1000
    ratio = orion_ms / pygls_ms
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    print(f"6 MB buffer, {args.edits} incremental edits each, median per edit:")
    print(f"  pygls TextDocument   {pygls_ms:8.3f} ms")
    print(f"  LineIndexedDocument  {orion_ms:8.3f} ms")
    print(f"  ratio {ratio:.4f}x (target <= {TARGET_RATIO:.2f}x): {verdict}")


if __name__ == "__main__":
    main()
