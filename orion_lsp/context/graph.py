"""The index the ranking reads: names as integers, files as nodes, compact arrays.

What a map needs of a file is which names it defines (in order, with the
length of each definition's line) and which names it uses how often; the
lines themselves stay in the tags cache and are read only for the files a map
shows (`RepoIndex` loads them). Names are interned once per index
(`NameTable`); a file is a `FileEntry` of small arrays. On the CPython stdlib
copied 5x (9k files, 371k definitions) this is ~25 MB where Definition
objects, dicts of references and per-file share lists took ~480 MB.

`RepoGraph` keeps, per name, the files defining it and the files using it, and
per file its out-edges (src uses a name dst defines) and its PageRank with a
uniform teleport (`base`). It changes one file at a time in O(that file's
names): `set_file` / `remove_file` only mark what moved; `settle` (called by
the next request) recomputes the marked rows and corrects `base` by pushing
the difference from the changed rows (rank.py). A full `build` runs once per
cold index, in a thread, from the entries alone.

While the workspace is first indexed the graph is in `bulk` mode: files
arrive by the thousand, so nothing is marked, referrers are not kept, and
rows are computed on demand and not kept (a partial map is approximate by
nature); the final `build` replaces it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import not_

from .idlists import IdLists
from .rank import MAX_OUT, SETTLE_PUSHES, Row, name_weight, pagerank, push_changes, teleport

# A name defined in more files than this carries no edge: `get`, `run`,
# `__init__` would link everything to everything and cost O(n^2) edges.
MAX_DEFINERS = 12
# Definitions of these kinds do not define their name (a Rust impl refers to
# its type).
NON_DEFINING_KINDS = frozenset({"impl"})

_EMPTY_I = array("i")
_NO_ROW: Row = (array("i"), array("d"))
# (weight per reference per definer, the definers) of a name that makes edges
Edge = tuple[float, Sequence[int]]


class NameTable:
    """name <-> small integer, for every name the index has seen (append-only)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = list(names)
        self.ids: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def intern(self, name: str) -> int:
        i = self.ids.get(name)
        if i is None:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
        return i

    def get(self, name: str) -> int | None:
        return self.ids.get(name)

    def intern_all(self, names: list[str]) -> array[int]:
        """Ids of `names`, interning the new ones (the lookups run in C)."""
        ids = self.ids
        # The names not seen yet, in the file's order (so ids are reproducible).
        for name in compress(names, map(not_, map(ids.__contains__, names))):
            if name not in ids:  # a name twice in `names`
                ids[name] = len(self.names)
                self.names.append(name)
        return array("i", map(ids.__getitem__, names))

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class FileEntry:
    """One file as the ranking sees it; immutable (an edit makes a new one)."""

    content_hash: str
    size: int  # 0 with mtime_ns 0: an editor buffer, not known to be on disk
    mtime_ns: int
    def_ids: array[int]  # name id of each definition, in the file's order
    impl: bytes  # b"" or one byte per definition: 1 where it does not define its name
    text_lens: array[int]  # characters of each definition's line ('H')
    ref_ids: array[int]  # names used, with...
    ref_counts: array[int]  # ...how many times ('I')

    def defining(self) -> set[int]:
        if not self.impl:
            return set(self.def_ids)
        return {n for n, imp in zip(self.def_ids, self.impl, strict=True) if not imp}

    def impls(self) -> set[int]:
        if not self.impl:
            return set()
        return {n for n, imp in zip(self.def_ids, self.impl, strict=True) if imp}


def make_entry(
    names: NameTable,
    content_hash: str,
    size: int,
    mtime_ns: int,
    def_names: list[str],
    kinds: list[str],
    text_lens: array[int],
    ref_names: list[str],
    ref_counts: array[int],
) -> FileEntry:
    impl = b""
    if any(k in NON_DEFINING_KINDS for k in kinds):
        impl = bytes(1 if k in NON_DEFINING_KINDS else 0 for k in kinds)
    return FileEntry(
        content_hash,
        size,
        mtime_ns,
        names.intern_all(def_names),
        impl,
        text_lens,
        names.intern_all(ref_names),
        ref_counts,
    )


class RepoGraph:
    """Definers, referrers, edges and base rank of the indexed files."""

    def __init__(self, names: NameTable, *, bulk: bool = False) -> None:
        self.names = names
        self.bulk = bulk
        self.files: list[str | None] = []  # node -> path (None: removed)
        self.index: dict[str, int] = {}
        self.entries: list[FileEntry | None] = []
        self.definers = IdLists()  # name id -> nodes defining it
        self.impls: dict[int, array[int]] = {}  # name id -> nodes with an impl of it (rare)
        self.referrers = IdLists()  # name id -> nodes using it
        self.rows: list[Row | None] = []  # None: to recompute
        self.base = array("d")  # PageRank, uniform teleport; sums to ~base_sum
        self.base_sum = 0.0
        self.live = 0
        # Rows changed since `base` was right: node -> row `base` was computed with.
        self._changed: dict[int, Row | None] = {}
        # Residual rank still to push (signed), kept between requests.
        self._residual: dict[int, float] = {}
        self._edges: dict[int, Edge | None] = {}
        # Files whose definitions' shares may have moved (render.py caches them).
        self.share_dirty: set[int] = set()
        self.version = 0  # bumped by every change
        # file name (last path component) -> nodes, for file names in prompts
        self.by_basename: dict[str, list[int]] = {}

    # ---- building -------------------------------------------------------------------

    @classmethod
    def build(cls, names: NameTable, entries: Mapping[str, FileEntry]) -> RepoGraph:
        """The whole graph from scratch (runs in a thread: touches only its arguments)."""
        g = cls(names)
        size = len(names)
        # Arrays, not lists: 860k references at 9k files would be as many int objects.
        def_lists = [array("i") for _ in range(size)]
        ref_lists = [array("i") for _ in range(size)]
        for i, path in enumerate(sorted(entries)):
            e = entries[path]
            g.files.append(path)
            g.index[path] = i
            g.entries.append(e)
            for n in e.defining():
                def_lists[n].append(i)
            for n in e.ref_ids:
                ref_lists[n].append(i)
            for n in e.impls():
                g.impls.setdefault(n, array("i")).append(i)
        nfiles = g.live = len(g.files)
        g.definers = IdLists.from_lists(def_lists)
        g.referrers = IdLists.from_lists(ref_lists)
        del ref_lists
        edges = {
            n: (name_weight(names.names[n], len(ds)) / len(ds), ds)
            for n, ds in enumerate(def_lists)
            if 0 < len(ds) <= MAX_DEFINERS
        }
        rows = [g._row(i, edges.get) for i in range(nfiles)]
        g.rows = list(rows)
        g.base = array("d", pagerank(rows, []))
        g.base_sum = math.fsum(g.base)
        g._rebuild_basenames()
        return g

    def _add_node(self, path: str, entry: FileEntry) -> int:
        i = len(self.files)
        self.files.append(path)
        self.index[path] = i
        self.entries.append(entry)
        self.rows.append(None)
        # A file arriving in bulk into a ranked graph (a restart with many
        # changes, a long build) gets an average rank until the next link.
        guess = self.base_sum / self.live if self.bulk and self.live and self.base_sum > 0 else 0.0
        self.base.append(guess)
        self.base_sum += guess
        self.live += 1
        self.by_basename.setdefault(path.rsplit("/", 1)[-1], []).append(i)
        # In bulk, who uses a name is left to the full build: rows need only
        # the definers, and these appends were most of a cold build's own time.
        refs = set() if self.bulk else set(entry.ref_ids)
        self._link(i, set(), entry.defining(), set(), refs)
        for n in entry.impls():
            self.impls.setdefault(n, array("i")).append(i)
        return i

    def _link(
        self, i: int, old_defs: set[int], new_defs: set[int], old_refs: set[int], new_refs: set[int]
    ) -> None:
        definers, referrers = self.definers, self.referrers
        for n in old_defs - new_defs:
            definers.discard(n, i)
        for n in new_defs - old_defs:
            definers.add(n, i)
        for n in old_refs - new_refs:
            referrers.discard(n, i)
        for n in new_refs - old_refs:
            referrers.add(n, i)

    # ---- changes --------------------------------------------------------------------

    def set_file(self, path: str, entry: FileEntry) -> None:
        """Add or replace one file; marks what moved, recomputes nothing."""
        self.version += 1
        i = self.index.get(path)
        if i is None:
            i = self._add_node(path, entry)
            if not self.bulk:
                # Its teleport share enters the base rank through the residual.
                self._residual[i] = self._residual.get(i, 0.0) + teleport(self.live)
            old_defs: set[int] = set()
            new_defs = entry.defining()
            changed_refs = set(entry.ref_ids)
        else:
            old = self.entries[i]
            assert old is not None
            self.entries[i] = entry
            old_defs, new_defs = old.defining(), entry.defining()
            old_refs, new_refs = set(old.ref_ids), set(entry.ref_ids)
            if self.bulk:
                old_refs = new_refs = set()
            self._link(i, old_defs, new_defs, old_refs, new_refs)
            for n in old.impls() - entry.impls():
                _discard(self.impls, n, i)
            for n in entry.impls() - old.impls():
                self.impls.setdefault(n, array("i")).append(i)
            changed_refs = old_refs ^ new_refs
        self._touch(i, old_defs ^ new_defs, changed_refs)

    def remove_file(self, path: str) -> None:
        i = self.index.pop(path, None)
        if i is None:
            return
        self.version += 1
        entry = self.entries[i]
        assert entry is not None
        defs = entry.defining()
        self._link(i, defs, set(), set(entry.ref_ids), set())
        for n in entry.impls():
            _discard(self.impls, n, i)
        self.files[i] = None
        self.entries[i] = None
        self.live -= 1
        same_name = self.by_basename.get(path.rsplit("/", 1)[-1], [])
        if i in same_name:
            same_name.remove(i)
        # settle() takes its rank out, with what its old row passed on.
        self._touch(i, defs, set(entry.ref_ids))

    def _touch(self, i: int, changed_defs: set[int], changed_refs: set[int]) -> None:
        if self.bulk:
            return
        self._mark_row(i)
        for n in changed_defs:
            self._edges.pop(n, None)
            for j in self.referrers.get(n):
                self._mark_row(j)
        # Shares depend on how many files define and use each name.
        self.share_dirty.add(i)
        for n in changed_defs | changed_refs:
            self.share_dirty.update(self.definers.get(n))

    def _mark_row(self, i: int) -> None:
        if i not in self._changed:
            self._changed[i] = self.rows[i]
        self.rows[i] = None

    def settle(self, max_pushes: int = SETTLE_PUSHES) -> None:
        """Recompute the rows changed since the last request and correct `base` (bounded work)."""
        if self.bulk:
            return
        changed, self._changed = self._changed, {}
        if changed or self._residual:
            self.base_sum += push_changes(self, changed, self._residual, max_pushes)

    # ---- reading --------------------------------------------------------------------

    def row(self, i: int) -> Row:
        """Out-edges of node i: (destinations, transition probabilities summing to 1)."""
        r = self.rows[i]
        if r is None:
            if self.entries[i] is None:
                return _NO_ROW
            r = self._row(i)
            if not self.bulk:
                self.rows[i] = r
        return r

    def _row(self, i: int, edge_of: Callable[[int], Edge | None] | None = None) -> Row:
        entry = self.entries[i]
        if entry is None:
            return _NO_ROW
        acc: dict[int, float] = {}
        get = acc.get
        if edge_of is None:
            edge_of = self._edge
        for n, count in zip(entry.ref_ids, entry.ref_counts, strict=True):
            e = edge_of(n)
            if e is None:
                continue
            w = e[0] * math.sqrt(count)
            for j in e[1]:
                acc[j] = get(j, 0.0) + w
        acc.pop(i, None)
        if not acc:
            return _NO_ROW
        items = (
            sorted(acc.items(), key=lambda t: -t[1])[:MAX_OUT]
            if len(acc) > MAX_OUT
            else acc.items()
        )
        total = sum(w for _, w in items)
        return array("i", (j for j, _ in items)), array("d", (w / total for _, w in items))

    def _edge(self, n: int) -> Edge | None:
        """(weight per reference per definer, definers) of name n, or None: no edge."""
        if not self.bulk and n in self._edges:
            return self._edges[n]
        ds = self.definers.get(n)
        e = None
        if 0 < len(ds) <= MAX_DEFINERS:
            e = (name_weight(self.names.names[n], len(ds)) / len(ds), ds)
        if not self.bulk:
            self._edges[n] = e
        return e

    def _rebuild_basenames(self) -> None:
        self.by_basename = {}
        for i, f in enumerate(self.files):
            if f is not None:
                self.by_basename.setdefault(f.rsplit("/", 1)[-1], []).append(i)

    def node(self, path: str) -> int | None:
        return self.index.get(path)

    def definer_nodes(self, name: str) -> array[int]:
        n = self.names.get(name)
        return self.definers.get(n) if n is not None else _EMPTY_I

    def impl_nodes(self, name: str) -> array[int]:
        n = self.names.get(name)
        return self.impls.get(n, _EMPTY_I) if n is not None else _EMPTY_I

    def ref_files(self, n: int) -> int:
        return self.referrers.count(n)

    def definers_count(self, n: int) -> int:
        return self.definers.count(n)

    def live_nodes(self) -> Iterable[int]:
        return (i for i, f in enumerate(self.files) if f is not None)

    def base_rank(self) -> list[float]:
        """`base` normalised to sum 1 (negative residue of signed pushes clamped)."""
        if self.base_sum <= 0:
            u = 1.0 / max(1, self.live)
            return [u if f is not None else 0.0 for f in self.files]
        s = self.base_sum
        return [b / s if b > 0 else 0.0 for b in self.base]


def _discard(index: dict[int, array[int]], n: int, i: int) -> None:
    arr = index.get(n)
    if arr is None:
        return
    try:
        arr.remove(i)
    except ValueError:
        return
    if not arr:
        del index[n]
