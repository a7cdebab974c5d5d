"""Turn ranked files into the repo map text, fitted to a token budget.

Each definition gets a score: its file's (personalized) rank times its share
(shares.py), boosted when the prompt mentions its name or the focus files use
it. Entries are drawn best-first from a heap of files keyed by rank x best
share, so a request computes share lists only for the files it shows, and
counts characters from the definition line lengths the index keeps. Only then
are the lines of the chosen files read (`load`), and a binary search finds
how many entries fit the budget once rendered, counting tokens as
characters / 4. A definition is shown with its enclosing definitions (class
of a method) and without body.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from .graph import RepoGraph
from .shares import ShareCache, factor
from .tags import Definition, FileTags

# Boosts applied per request.
MENTIONED_BOOST = 10.0
USED_BY_FOCUS_BOOST = 3.0
# A file with no definitions is listed by path, weighted like a weak entry.
BARE_FILE_SHARE = 0.05
# Best share assumed for a file not ranked yet while a build is in progress.
BULK_TOP_GUESS = 1.0
# Characters of a typical map entry ("NNNN│", a signature line, a newline).
TYPICAL_ENTRY_CHARS = 24


def tokens_of(text: str) -> int:
    """The documented token count (docs/protocol.md#orion-verbs): characters / 4, rounded up."""
    return (len(text) + 3) // 4


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
    node: int
    def_index: int  # -1: the file by path only


def ranked_entries(
    graph: RepoGraph,
    shares: ShareCache,
    rank: Sequence[float],
    *,
    mentioned: Collection[int],
    focus_refs: Collection[int],
    max_chars: int,
) -> list[Entry]:
    """Best-first entries until their bare text alone exceeds `max_chars`."""
    # (-score, node, position in the node's share list | -1 bare file | -2 boosted, def)
    heap: list[tuple[float, int, int, int]] = []
    entries = graph.entries
    for i in graph.live_nodes():
        r = rank[i]
        if r <= 0.0:
            continue
        e = entries[i]
        if e is not None and not e.def_ids:
            heap.append((-(r * BARE_FILE_SHARE), i, -1, -1))
        else:
            # The node's best share; its full list is made only when popped.
            # While a build arrives in bulk, unknown ones are guessed (cheap).
            top = shares.top[i]
            if top != top:
                top = BULK_TOP_GUESS if graph.bulk else shares.top_of(i)
            heap.append((-(r * top), i, 0, -1))
    # Boosted definitions enter the heap on their own, with their boosted score.
    # A map shows about max_chars // TYPICAL_ENTRY_CHARS entries, so only that
    # many of the best boosted ones are looked up (a file of very short lines
    # may show a few more definitions at their unboosted score).
    candidates: list[tuple[float, int, int]] = []
    norm = shares.norm_of
    for n in set(mentioned) | set(focus_refs):
        boost = (MENTIONED_BOOST if n in mentioned else 1.0) * (
            USED_BY_FOCUS_BOOST if n in focus_refs else 1.0
        )
        fb = factor(graph, n) * boost
        candidates.extend((-(rank[i] * fb / norm(i)), i, n) for i in graph.definers.get(n))
    keep = max_chars // TYPICAL_ENTRY_CHARS + 1
    if len(candidates) > keep:
        candidates = heapq.nsmallest(keep, candidates)
    boosted: dict[int, set[int]] = {}
    for score, i, n in candidates:
        e = entries[i]
        if e is None:
            continue
        ids = e.def_ids
        if n not in ids:
            continue
        k = ids.index(n)  # in C; a name defined twice in a file is rare
        found = [k] if ids.count(n) == 1 else [j for j, m in enumerate(ids) if m == n]
        boosted.setdefault(i, set()).update(found)
        heap.extend((score, i, -2, j) for j in found)
    heapq.heapify(heap)
    out: list[Entry] = []
    used = 0
    while heap and used <= max_chars:
        neg, i, pos, extra = heapq.heappop(heap)
        if pos == -1:
            out.append(Entry(-neg, i, -1))
            used += len(graph.files[i] or "") + 2
            continue
        e = entries[i]
        assert e is not None
        if pos == -2:
            out.append(Entry(-neg, i, extra))
            used += e.text_lens[extra] + 6
            continue
        lst = shares.shares(i)
        share, k = lst[pos]
        if pos + 1 < len(lst):
            heapq.heappush(heap, (-(rank[i] * lst[pos + 1][0]), i, pos + 1, -1))
        if k in boosted.get(i, ()):
            continue
        out.append(Entry(-neg, i, k))
        used += e.text_lens[k] + 6
    return out


def render_entries(
    entries: Sequence[Entry],
    paths: Sequence[str | None],
    tags: Mapping[int, FileTags],
    parents: Callable[[int], list[int]],
) -> tuple[str, int]:
    """Text of the first entries, grouped by file in rank order; (text, files)."""
    chosen: dict[int, set[int]] = {}
    for e in entries:
        s = chosen.setdefault(e.node, set())
        if e.def_index < 0:
            continue
        par = parents(e.node)
        i = e.def_index
        while i >= 0 and i not in s:
            s.add(i)
            i = par[i]
    lines: list[str] = []
    for node, idxs in chosen.items():
        lines.append(f"{paths[node]}:")
        defs = tags[node].defs if idxs else []
        for i in sorted(idxs):
            d = defs[i]
            lines.append(f"{d.line:4d}│{d.text}")
    text = "\n".join(lines) + ("\n" if lines else "")
    return text, len(chosen)


def fit(
    entries: Sequence[Entry],
    paths: Sequence[str | None],
    tags: Mapping[int, FileTags],
    parents: Callable[[int], list[int]],
    budget_tokens: int,
) -> tuple[str, int]:
    """The longest prefix of `entries` whose rendering fits the budget."""
    lo, hi = 0, len(entries)
    best = ("", 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        text, nfiles = render_entries(entries[:mid], paths, tags, parents)
        if tokens_of(text) <= budget_tokens:
            best = (text, nfiles)
            lo = mid + 1
        else:
            hi = mid - 1
    return best
