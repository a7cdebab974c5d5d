"""How a file's rank splits among its definitions (request-independent part).

A definition's factor depends on its name only: `name_weight` (long
descriptive names up, private and ubiquitous down) times `1 + log1p(files
using it)`. A file's share of a definition is factor / sqrt(sum of the file's
factors): sqrt, not sum, so a big central file shows more than one
definition. The best share of every file (`top`) and the norm are kept in two
arrays (computed for all files by the full build, in its thread; recomputed
for the files an edit touches), so a request orders files by rank x top share
and computes the full list only for the files it shows.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict

from .graph import RepoGraph
from .rank import name_weight

# Share lists kept between requests (a request shows ~50-200 files).
MAX_CACHED_LISTS = 4096
UNKNOWN = math.nan


def factor(graph: RepoGraph, n: int) -> float:
    nd = graph.definers_count(n) or 1
    return name_weight(graph.names.names[n], nd) * (1.0 + math.log1p(graph.ref_files(n)))


class ShareCache:
    """Per-node norm and best share, and a bounded cache of full share lists."""

    def __init__(self, graph: RepoGraph) -> None:
        self.graph = graph
        size = len(graph.files)
        self.norm = array("d", [UNKNOWN]) * size
        self.top = array("d", [UNKNOWN]) * size
        self._lists: OrderedDict[int, list[tuple[float, int]]] = OrderedDict()

    @classmethod
    def build(cls, graph: RepoGraph) -> ShareCache:
        """Norms and tops of every node (the full build's thread calls this)."""
        out = cls(graph)
        cache: dict[int, float] = {}
        for i in range(len(graph.files)):
            out._compute(i, cache)
        return out

    def refresh(self) -> None:
        """Forget what the graph's changes since the last request may have moved."""
        g = self.graph
        grow = len(g.files) - len(self.norm)
        if grow > 0:
            self.norm.extend(array("d", [UNKNOWN]) * grow)
            self.top.extend(array("d", [UNKNOWN]) * grow)
        if g.bulk:
            return  # counts move with every file that arrives: approximate until built
        for i in g.share_dirty:
            self.norm[i] = self.top[i] = UNKNOWN
            self._lists.pop(i, None)
        g.share_dirty.clear()

    def top_of(self, i: int) -> float:
        t = self.top[i]
        if t != t:  # NaN: not computed yet
            self._compute(i, {})
            t = self.top[i]
        return t

    def norm_of(self, i: int) -> float:
        v = self.norm[i]
        if v != v:
            self._compute(i, {})
            v = self.norm[i]
        return v

    def _compute(self, i: int, cache: dict[int, float]) -> None:
        entry = self.graph.entries[i]
        if entry is None or not entry.def_ids:
            self.norm[i], self.top[i] = 1.0, 0.0
            return
        best = total = 0.0
        for n in entry.def_ids:
            f = cache.get(n)
            if f is None:
                f = cache[n] = factor(self.graph, n)
            total += f
            best = max(best, f)
        norm = math.sqrt(total) or 1.0
        self.norm[i], self.top[i] = norm, best / norm

    def shares(self, i: int) -> list[tuple[float, int]]:
        """[(share, definition index)] of node i, best first."""
        lst = self._lists.get(i)
        if lst is not None:
            self._lists.move_to_end(i)
            return lst
        entry = self.graph.entries[i]
        if entry is None:
            return []
        norm = self.norm_of(i)
        cache: dict[int, float] = {}
        lst = []
        for k, n in enumerate(entry.def_ids):
            f = cache.get(n)
            if f is None:
                f = cache[n] = factor(self.graph, n)
            lst.append((f / norm, k))
        lst.sort(key=lambda t: (-t[0], t[1]))
        self._lists[i] = lst
        if len(self._lists) > MAX_CACHED_LISTS:
            self._lists.popitem(last=False)
        return lst
