"""`RepoIndex`: the per-project repo map service behind the dynamic system prompt.

Built in the background after `initialize` (`build`: a restart loads the
index snapshot and re-parses only changed files; a cold build parses in a
process pool), kept current from `textDocument/didOpen|didChange|didSave`
(`update_text`) and `workspace/didChangeWatchedFiles` (`refresh_paths`,
`remove`), and asked for a ranked map per turn (`render`) without ever
waiting for a full index: a map made while indexing says it is partial.

Memory: the server holds the compact graph (graph.py), never every
definition; the lines of the files a map shows are read from the tags cache
(or re-parsed from disk when the cache is gone) and kept in a small LRU.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections import OrderedDict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .build import Builder
from .cache import CachedTags, MemoryTagCache, TagCache
from .files import SKIP_DIRS, IgnoreRules, looks_indexable, wanted_name
from .graph import FileEntry, NameTable, RepoGraph
from .languages import language_for_path
from .mentions import mentioned_identifiers
from .rank import personalized
from .render import fit, parents_of, ranked_entries, tokens_of
from .tags import Definition, FileTags, blob_names, extract_tags
from .worker import ParseResult, content_hash, parse_one

log = logging.getLogger(__name__)

__all__ = ["RepoIndex", "RepoMap", "mentioned_identifiers"]

# Weights of the request's personalization seeds.
FOCUS_WEIGHT = 10.0
MENTIONED_FILE_WEIGHT = 5.0
TOUCHED_WEIGHT = 3.0
MENTIONED_DEFINER_WEIGHT = 2.0
# Decoded tags of recently shown files (a map shows ~50-200).
LRU_FILES = 512


@dataclass
class RepoMap:
    text: str
    files: int  # files shown
    tokens: int  # tokens_of(text)
    complete: float  # share of the workspace indexed when the map was made
    symbols: int = 0  # definitions shown


class RepoIndex(Builder):
    """The tags of one project root, and the ranked map made from them."""

    def __init__(
        self,
        root: Any,
        project_id: str,
        cache: TagCache | None = None,
        *,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        super().__init__(root, project_id, cache or MemoryTagCache(), executor)
        self._overlay: dict[str, FileTags] = {}  # editor buffers' tags (not in the cache)
        self._lru: OrderedDict[str, tuple[str, FileTags, list[int]]] = OrderedDict()

    # ---- incremental updates -----------------------------------------------

    def indexable(self, rel_path: str) -> bool:
        """Would the index keep this path (language, ignore rules, skipped dirs)?"""
        if not wanted_name(rel_path):
            return False
        parts = rel_path.split("/")
        if any(p in SKIP_DIRS or p in ("", "..") for p in parts[:-1]):
            return False
        rules = self._rules
        if rules is None:
            rules = self._rules = IgnoreRules(self.root)
        for k in range(1, len(parts)):
            rules.enter("/".join(parts[:k]))
            if rules.ignored("/".join(parts[:k]), is_dir=True):
                return False
        return not rules.ignored(rel_path)

    def update_text(self, rel_path: str, text: str) -> None:
        """An editor buffer's text (didOpen/didChange/didSave): re-tag it now.

        Parses one file and marks what it changes in the graph; ranking work
        waits for the next request (`render`).
        """
        if not self.indexable(rel_path):
            return
        self._gen[rel_path] = self._gen.get(rel_path, 0) + 1
        if len(text) > 1_000_000:  # too big either way: skip the encode of a huge buffer
            self._drop(rel_path)
            return
        lang = language_for_path(rel_path)
        data = text.encode("utf-8", "surrogatepass")
        if lang is None or not looks_indexable(data) or len(data) > 1_000_000:
            self._drop(rel_path)
            return
        old = self._entries.get(rel_path)
        h = content_hash(data)
        if old is not None and old.content_hash == h:
            return
        tags = extract_tags(lang, data)
        # size/mtime 0: this content is the buffer's, not known to be on disk.
        self._set(rel_path, entry_of_tags(self._names, tags, h, 0, 0))
        self._overlay[rel_path] = tags

    def remove(self, rel_path: str) -> None:
        """A file deleted on disk."""
        self._gen[rel_path] = self._gen.get(rel_path, 0) + 1
        self._drop(rel_path)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.create_task(self._cache_call("delete", self.project_id, [rel_path]))

    async def refresh_paths(self, rel_paths: list[str]) -> None:
        """Files created/changed/deleted on disk (workspace/didChangeWatchedFiles)."""
        to_save: list[tuple[str, CachedTags]] = []
        gone: list[str] = []
        for rel in dict.fromkeys(rel_paths):
            self._gen[rel] = self._gen.get(rel, 0) + 1
            if not self.indexable(rel) or not (self.root / rel).is_file():
                if rel in self._entries:
                    gone.append(rel)
                self._drop(rel)
                continue
            old = self._entries.get(rel)
            r: ParseResult = await asyncio.to_thread(
                parse_one, str(self.root), rel, old.content_hash if old else None
            )
            if r.status == "unchanged" and old is not None:
                self._set(rel, replace(old, size=r.size, mtime_ns=r.mtime_ns), keep_overlay=True)
                to_save.append((rel, CachedTags(r.content_hash, r.size, r.mtime_ns, None)))
            elif r.status == "parsed" and r.blob is not None:
                self._set(rel, self._entry_of_blob(r.blob, r.content_hash, r.size, r.mtime_ns))
                to_save.append((rel, CachedTags(r.content_hash, r.size, r.mtime_ns, r.blob)))
            else:
                gone.append(rel)
                self._drop(rel)
        if to_save:
            await self._cache_call("save_many", self.project_id, to_save)
        if gone:
            await self._cache_call("delete", self.project_id, gone)
        self._rebuild_if_drifted()

    def _set(self, rel_path: str, entry: FileEntry, *, keep_overlay: bool = False) -> None:
        super()._set(rel_path, entry)
        self._lru.pop(rel_path, None)
        if not keep_overlay:
            self._overlay.pop(rel_path, None)

    def _drop(self, rel_path: str) -> None:
        super()._drop(rel_path)
        self._lru.pop(rel_path, None)
        self._overlay.pop(rel_path, None)

    # ---- reading -------------------------------------------------------------

    def file_tags(self, rel_path: str) -> FileTags | None:
        return self._load_tags([rel_path]).get(rel_path)

    def find(self, name: str) -> list[tuple[str, Definition]]:
        """Definitions named exactly `name`, by path then line."""
        g = self._graph
        nodes = set(g.definer_nodes(name)) | set(g.impl_nodes(name))
        paths = sorted(p for p in (g.files[i] for i in nodes) if p is not None)
        tags = self._load_tags(paths)
        return [(p, d) for p in paths if p in tags for d in tags[p].defs if d.name == name]

    def defined_names_like(self, low: str, limit: int) -> list[str]:
        """Defined names equal to `low` ignoring case, then containing it (find_symbol)."""
        g = self._graph
        same: list[str] = []
        partial: list[str] = []
        for n, name in enumerate(self._names.names):
            if n not in g.definers and n not in g.impls:
                continue
            dl = name.lower()
            if dl == low:
                same.append(name)
            elif len(low) >= 3 and low in dl and len(partial) < limit:
                partial.append(name)
        return (same + partial)[:limit]

    def known_names(self) -> Container[str]:
        """Names some indexed file defines or uses (the claim check asks)."""
        return _KnownNames(self._names, self._graph)

    def linked_files(self, rel_path: str) -> set[str]:
        """Files the references of `rel_path` point at (its edges in the graph)."""
        g = self._graph
        g.settle()
        i = g.node(rel_path)
        if i is None:
            return set()
        return {p for p in (g.files[j] for j in g.row(i)[0]) if p is not None}

    def render(
        self,
        *,
        focus_files: Sequence[str] = (),
        mentioned: Iterable[str] = (),
        touched: Sequence[str] = (),
        budget_tokens: int = 4096,
    ) -> RepoMap:
        """The ranked map for one request, from whatever is indexed now."""
        complete = self.complete
        note = self._partial_note(complete)
        if budget_tokens <= 0 or tokens_of(note) > budget_tokens:
            return RepoMap("", 0, 0, complete)
        if not self._entries:
            return RepoMap(note, 0, tokens_of(note), complete)
        t0 = time.perf_counter()
        g, shares = self._graph, self._shares
        g.settle()
        shares.refresh()
        base = g.base_rank()
        mentioned_set = set(mentioned)
        seeds = self._seeds(g, base, focus_files, touched, mentioned_set)
        ranks = personalized(g, seeds, base)
        names = self._names
        mentioned_ids = {
            n for n in map(names.get, mentioned_set) if n is not None and n in g.definers
        }
        focus_refs: set[int] = set()
        for f in focus_files:
            e = self._entries.get(f)
            if e is not None:
                focus_refs.update(n for n in e.ref_ids if n in g.definers)
        t1 = time.perf_counter()
        entries = ranked_entries(
            g,
            shares,
            ranks,
            mentioned=mentioned_ids,
            focus_refs=focus_refs,
            max_chars=budget_tokens * 8,
        )
        paths = {g.files[e.node] for e in entries if e.def_index >= 0}
        loaded = self._load_tags([p for p in paths if p is not None])
        by_node = {g.index[p]: t for p, t in loaded.items() if p in g.index}
        entries = [e for e in entries if e.def_index < 0 or e.node in by_node]

        def parents(node: int) -> list[int]:
            return self._parents(g.files[node] or "", by_node[node])

        text, nfiles = fit(entries, g.files, by_node, parents, budget_tokens - tokens_of(note))
        if text and note:
            text = note + text
        nsym = sum(1 for line in text.splitlines() if "│" in line)
        t2 = time.perf_counter()
        self.phases["rank_ms"] = round((t1 - t0) * 1000, 1)
        self.phases["render_ms"] = round((t2 - t1) * 1000, 1)
        return RepoMap(text, nfiles, tokens_of(text), complete, nsym)

    def _seeds(
        self,
        g: RepoGraph,
        base: list[float],
        focus_files: Sequence[str],
        touched: Sequence[str],
        mentioned: set[str],
    ) -> dict[int, float]:
        seeds: dict[int, float] = {}

        def seed(i: int | None, w: float) -> None:
            if i is not None and g.files[i] is not None:
                seeds[i] = seeds.get(i, 0.0) + w

        for f in focus_files:
            seed(g.node(f), FOCUS_WEIGHT)
        for f in touched:
            seed(g.node(f), TOUCHED_WEIGHT)
        files: set[int] = set()
        for m in mentioned:
            i = g.node(m)
            if i is not None:
                files.add(i)
            files.update(g.by_basename.get(m, ()))
        for i in files:
            seed(i, MENTIONED_FILE_WEIGHT)
        for m in mentioned:
            ds = g.definer_nodes(m)
            # Split among the definers by their base rank: the `urlopen` the
            # project leans on, not the test helper of the same name.
            total = sum(base[i] for i in ds)
            for i in ds:
                seed(i, MENTIONED_DEFINER_WEIGHT * (base[i] / total if total > 0 else 1 / len(ds)))
        return seeds

    def _partial_note(self, complete: float) -> str:
        if complete >= 1.0:
            return ""
        if not self._walked:
            return "(partial map: the workspace is still being listed)\n"
        return (
            f"(partial map: {self._done:,} of {self._total:,} files indexed so far;"
            " files not indexed yet are missing)\n"
        )

    # ---- the lines of shown files ------------------------------------------------

    def _load_tags(self, paths: Sequence[str]) -> dict[str, FileTags]:
        """Tags of these indexed files: buffer, LRU, cache, else the disk."""
        out: dict[str, FileTags] = {}
        missing: list[str] = []
        for p in paths:
            entry = self._entries.get(p)
            if entry is None:
                continue
            buf = self._overlay.get(p)
            if buf is not None:
                out[p] = buf
                continue
            hit = self._lru.get(p)
            if hit is not None and hit[0] == entry.content_hash:
                self._lru.move_to_end(p)
                out[p] = hit[1]
                continue
            missing.append(p)
        if not missing:
            return out
        blobs: dict[str, tuple[str, bytes]] = {}
        try:
            blobs = self._store.read_blobs(self.project_id, missing)
        except Exception as e:  # caches may degrade (docs/architecture.md)
            self._degrade("read_blobs", e)
        for p in missing:
            entry = self._entries[p]
            tags = None
            got = blobs.get(p)
            if got is not None and got[0] == entry.content_hash:
                try:
                    tags = FileTags.from_blob(got[1])
                except ValueError:
                    tags = None
            if tags is None:
                tags = self._tags_from_disk(p, entry)
            if tags is not None and len(tags.defs) == len(entry.def_ids):
                self._remember(p, entry.content_hash, tags)
                out[p] = tags
        return out

    def _tags_from_disk(self, rel: str, entry: FileEntry) -> FileTags | None:
        """Re-parse one file whose cached tags are gone (the cache degraded)."""
        r = parse_one(str(self.root), rel)
        if r.status != "parsed" or r.blob is None:
            return None
        if r.content_hash != entry.content_hash:
            # Changed on disk behind our back: index the new content for next time.
            self._spawn(self.refresh_paths([rel]))
            return None
        self._spawn(
            self._cache_call(
                "save_many",
                self.project_id,
                [(rel, CachedTags(r.content_hash, r.size, r.mtime_ns, r.blob))],
            )
        )
        return FileTags.from_blob(r.blob)

    def _remember(self, rel: str, h: str, tags: FileTags) -> None:
        self._lru[rel] = (h, tags, [])
        if len(self._lru) > LRU_FILES:
            self._lru.popitem(last=False)

    def _parents(self, rel: str, tags: FileTags) -> list[int]:
        hit = self._lru.get(rel)
        if hit is not None and hit[1] is tags:
            if not hit[2] and tags.defs:
                hit[2].extend(parents_of(tags.defs))
            return hit[2]
        return parents_of(tags.defs)

    def _entry_of_blob(self, blob: bytes, h: str, size: int, mtime_ns: int) -> FileEntry:
        b = blob_names(blob)
        return make_entry_from_names(self._names, h, size, mtime_ns, b)


class _KnownNames:
    def __init__(self, names: NameTable, graph: RepoGraph) -> None:
        self._names, self._graph = names, graph

    def __contains__(self, name: object) -> bool:
        n = self._names.get(name) if isinstance(name, str) else None
        if n is None:
            return False
        g = self._graph
        # While indexing, who uses a name is not tracked yet: any name seen counts.
        return g.bulk or n in g.definers or n in g.referrers


def entry_of_tags(names: NameTable, tags: FileTags, h: str, size: int, mtime_ns: int) -> FileEntry:
    from array import array

    from .graph import make_entry

    return make_entry(
        names,
        h,
        size,
        mtime_ns,
        [d.name for d in tags.defs],
        [d.kind for d in tags.defs],
        array("H", (min(len(d.text), 65535) for d in tags.defs)),
        list(tags.refs),
        array("I", tags.refs.values()),
    )


def make_entry_from_names(names: NameTable, h: str, size: int, mtime_ns: int, b: Any) -> FileEntry:
    from .graph import make_entry

    return make_entry(
        names, h, size, mtime_ns, b.def_names, b.kinds, b.text_lens, b.ref_names, b.ref_counts
    )
