"""`IdLists`: integer id -> list of node ids, as flat arrays plus an overlay.

The graph keeps two of these (name -> files defining it, name -> files using
it). A build or a snapshot makes the flat form (offsets and one array: no
object per name, loaded from bytes as is); an edit copies the lists of the
few names it changes into a small overlay dict.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

_EMPTY = array("i")


class IdLists:
    def __init__(self, off: array[int] | None = None, flat: array[int] | None = None) -> None:
        self.off = off if off is not None else array("I", [0])
        self.flat = flat if flat is not None else array("i")
        self.over: dict[int, array[int]] = {}

    @classmethod
    def from_lists(cls, lists: Sequence[Iterable[int]]) -> IdLists:
        off = array("I", [0])
        flat = array("i")
        for lst in lists:
            flat.extend(lst)
            off.append(len(flat))
        return cls(off, flat)

    def get(self, n: int) -> array[int]:
        got = self.over.get(n)
        if got is not None:
            return got
        if n + 1 < len(self.off):
            a, b = self.off[n], self.off[n + 1]
            if b > a:
                return self.flat[a:b]
        return _EMPTY

    def count(self, n: int) -> int:
        got = self.over.get(n)
        if got is not None:
            return len(got)
        if n + 1 < len(self.off):
            return self.off[n + 1] - self.off[n]
        return 0

    def __contains__(self, n: object) -> bool:
        return isinstance(n, int) and self.count(n) > 0

    def add(self, n: int, i: int) -> None:
        lst = self.over.get(n)
        if lst is None:
            lst = self.over[n] = array("i", self.get(n))
        lst.append(i)

    def discard(self, n: int, i: int) -> None:
        lst = self.over.get(n)
        if lst is None:
            if i not in self.get(n):
                return
            lst = self.over[n] = array("i", self.get(n))
        if i in lst:
            lst.remove(i)

    def flatten(self) -> tuple[array[int], array[int]]:
        """Offsets and values (the snapshot's form; ids past the end have none)."""
        if not self.over:
            return self.off, self.flat
        size = max(len(self.off) - 1, max(self.over) + 1)
        out = IdLists.from_lists([self.get(n) for n in range(size)])
        return out.off, out.flat
