"""Turn ranked files into the repo map text, fitted to a token budget.

Each definition gets a score: its file's (personalized) rank times a share
that depends on the name (see `rank.name_weight`) and on how many files
reference it, boosted when the prompt mentions it or the focus files use it.
Entries are drawn best-first (a lazy merge of per-file lists, so a request
touches only what can fit), then a binary search finds how many of them fit
the budget once rendered, counting tokens as characters / 4. A definition is
shown with its enclosing definitions (class of a method) and without body.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .rank import FileGraph, name_weight
from .tags import Definition, FileTags

# Boosts applied per request.
MENTIONED_BOOST = 10.0
USED_BY_FOCUS_BOOST = 3.0
# A file with no definitions is listed by path, weighted like a weak entry.
BARE_FILE_SHARE = 0.05


def tokens_of(text: str) -> int:
    """The documented token count (docs/protocol.md#orion-verbs): characters / 4, rounded up."""
    return (len(text) + 3) // 4


@dataclass
class StaticShares:
    """Per-graph, request-independent part of each definition's score."""

    # file -> [(share, def index)] best first
    order: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    # file -> name -> [(share, def index)], to find boosted names fast
    by_name: dict[str, dict[str, list[tuple[float, int]]]] = field(default_factory=dict)

    def set_file(self, path: str, ft: FileTags | None, graph: FileGraph) -> None:
        if ft is None or not ft.defs:
            self.order.pop(path, None)
            self.by_name.pop(path, None)
            return
        lst = file_shares(ft, graph)
        self.order[path] = lst
        names: dict[str, list[tuple[float, int]]] = {}
        for share, i in lst:
            names.setdefault(ft.defs[i].name, []).append((share, i))
        self.by_name[path] = names

    # file -> def index -> index of the enclosing def or -1
    parents: dict[str, list[int]] = field(default_factory=dict)


def static_shares(tags: Mapping[str, FileTags], graph: FileGraph) -> StaticShares:
    out = StaticShares()
    for f, ft in tags.items():
        out.set_file(f, ft, graph)
    return out


def file_shares(ft: FileTags, graph: FileGraph) -> list[tuple[float, int]]:
    """[(share, def index)] best first: how a file's rank splits among its defs."""
    factors = []
    for i, d in enumerate(ft.defs):
        nd = len(graph.definers.get(d.name, ())) or 1
        used = graph.ref_files(d.name)
        factors.append((name_weight(d.name, nd) * (1.0 + math.log1p(used)), i))
    # sqrt, not sum: a big central file should show more than one definition.
    norm = math.sqrt(sum(w for w, _ in factors)) or 1.0
    lst = [(w / norm, i) for w, i in factors]
    lst.sort(key=lambda t: (-t[0], t[1]))
    return lst


def parents_of(defs: Sequence[Definition]) -> list[int]:
    """Index of the innermost enclosing definition of each def (defs sorted by line)."""
    parents = [-1] * len(defs)
    stack: list[int] = []
    for i, d in enumerate(defs):
        while stack and defs[stack[-1]].end_line < d.line:
            stack.pop()
        # Same-line definitions (a one-line class) do not contain each other.
        while stack and defs[stack[-1]].line == d.line:
            stack.pop()
        parents[i] = stack[-1] if stack else -1
        stack.append(i)
    return parents


@dataclass(frozen=True)
class Entry:
    score: float
    path: str
    def_index: int  # -1: the file by path only


def ranked_entries(
    tags: Mapping[str, FileTags],
    graph: FileGraph,
    shares: StaticShares,
    rank: Sequence[float],
    *,
    mentioned: Collection[str],
    focus_refs: Collection[str],
    max_chars: int,
) -> list[Entry]:
    """Best-first entries until their bare text alone exceeds `max_chars`."""
    # (-score, path, position in the file's list | -1 bare file | -2 boosted, def)
    heap: list[tuple[float, str, int, int]] = []
    boosted: dict[str, set[int]] = {}
    for f in graph.files:
        r = rank[graph.index[f]]
        lst = shares.order.get(f)
        if lst is None:
            heap.append((-(r * BARE_FILE_SHARE), f, -1, -1))
            continue
        heap.append((-(r * lst[0][0]), f, 0, -1))
    # Boosted definitions enter the heap on their own, with their boosted score.
    names = set(mentioned) | set(focus_refs)
    for name in names:
        for f in graph.definers.get(name, ()):
            if f not in tags:
                continue
            r = rank[graph.index[f]]
            for share, i in shares.by_name.get(f, {}).get(name, ()):
                boost = 1.0
                if name in mentioned:
                    boost *= MENTIONED_BOOST
                if name in focus_refs:
                    boost *= USED_BY_FOCUS_BOOST
                boosted.setdefault(f, set()).add(i)
                heap.append((-(r * share * boost), f, -2, i))
    heapq.heapify(heap)
    out: list[Entry] = []
    used = 0
    while heap and used <= max_chars:
        neg, f, pos, extra = heapq.heappop(heap)
        if pos == -1:
            out.append(Entry(-neg, f, -1))
            used += len(f) + 2
            continue
        if pos == -2:
            out.append(Entry(-neg, f, extra))
            used += len(tags[f].defs[extra].text) + 6
            continue
        lst = shares.order[f]
        share, i = lst[pos]
        if pos + 1 < len(lst):
            r = rank[graph.index[f]]
            heapq.heappush(heap, (-(r * lst[pos + 1][0]), f, pos + 1, -1))
        if i in boosted.get(f, ()):
            continue
        out.append(Entry(-neg, f, i))
        used += len(tags[f].defs[i].text) + 6
    return out


def render_entries(
    entries: Sequence[Entry], tags: Mapping[str, FileTags], parents: dict[str, list[int]]
) -> tuple[str, int]:
    """Text of the first entries, grouped by file in rank order; (text, files)."""
    chosen: dict[str, set[int]] = {}
    for e in entries:
        s = chosen.setdefault(e.path, set())
        if e.def_index < 0:
            continue
        ft = tags[e.path]
        par = parents.get(e.path)
        if par is None:
            par = parents[e.path] = parents_of(ft.defs)
        i = e.def_index
        while i >= 0 and i not in s:
            s.add(i)
            i = par[i]
    lines: list[str] = []
    for path, idxs in chosen.items():
        lines.append(f"{path}:")
        defs = tags[path].defs
        for i in sorted(idxs):
            d = defs[i]
            lines.append(f"{d.line:4d}│{d.text}")
    text = "\n".join(lines) + ("\n" if lines else "")
    return text, len(chosen)


def fit(
    entries: Sequence[Entry],
    tags: Mapping[str, FileTags],
    parents: dict[str, list[int]],
    budget_tokens: int,
) -> tuple[str, int]:
    """The longest prefix of `entries` whose rendering fits the budget."""
    lo, hi = 0, len(entries)
    best = ("", 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        text, nfiles = render_entries(entries[:mid], tags, parents)
        if tokens_of(text) <= budget_tokens:
            best = (text, nfiles)
            lo = mid + 1
        else:
            hi = mid - 1
    return best
