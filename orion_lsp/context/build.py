"""Building a `RepoIndex`: walk, restore the snapshot, parse what changed, link.

A restart with the tags cache loads the index snapshot (snapshot.py) and is
usable at once; files whose size or mtime moved since are re-checked (by
content hash) and re-parsed only when their content changed, then applied
one by one like edits. A cold build parses in a pool of worker processes
(the parse holds the GIL) and applies results as they arrive in bulk mode
(graph.py), so chat can use a partial map meanwhile; the full link (rows,
PageRank, shares) runs once at the end, in a thread, and is then saved as the
new snapshot. On a long build (tens of thousands of files) the graph is also
re-linked now and then so the partial map ranks well.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import time
from collections.abc import Callable, Coroutine
from pathlib import Path, PurePosixPath
from typing import Any

from . import snapshot
from .cache import SKIPPED, CachedMeta, CachedTags, MemoryTagCache, TagCache
from .files import FileEntry as WalkEntry
from .files import IgnoreRules, walk_files
from .graph import FileEntry, NameTable, RepoGraph, make_entry
from .heap import release_free_heap
from .shares import ShareCache
from .tags import BlobNames, blob_names
from .worker import ParseResult, parse_batch, parse_one

log = logging.getLogger(__name__)

# Fewer files than this to parse: do it in-process, a pool start costs more.
POOL_THRESHOLD = 24
# Files per pool task: big enough to amortise pickling, small enough to
# balance two workers and report progress often.
BATCH_FILES = 24
WORKERS = 2
# Blobs read from the cache per batch (files whose tags are cached but not in
# the snapshot: an older snapshot, or none).
STORE_BATCH = 400
# A restart applies changed files one by one (cheap per file) unless there
# are more than this share of them: then it re-links the whole graph.
INCREMENTAL_SHARE = 0.05
# During a cold build, re-link for the partial map when this long has passed
# since the last link started, and the index grew by half since.
RELINK_AFTER_S = 60.0
# During a cold build, give the heap that parse results churned through back
# to the system after this many files, and before the final link (heap.py).
TRIM_EVERY_FILES = 2000


def _pool_context() -> Any:
    # The server is asyncio + threads: a plain fork could copy a held lock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def link(
    names: NameTable, entries: dict[str, FileEntry], save: bool
) -> tuple[RepoGraph, ShareCache, bytes | None]:
    """The full graph of `entries`, its shares and (save) its snapshot: runs in a thread."""
    graph = RepoGraph.build(names, entries)
    shares = ShareCache.build(graph)
    return graph, shares, snapshot.dump(graph, shares) if save else None


class Builder:
    """The build half of `RepoIndex` (state shared with it)."""

    def __init__(
        self,
        root: Any,
        project_id: str,
        store: TagCache,
        executor: concurrent.futures.Executor | None,
    ) -> None:
        self.root = Path(root).resolve()
        self.project_id = project_id
        self._store = store
        self._executor = executor
        self._names = NameTable()
        self._graph = RepoGraph(self._names, bulk=True)
        self._shares = ShareCache(self._graph)
        # path -> compact entry; the graph holds the same objects.
        self._entries: dict[str, FileEntry] = {}
        # Bumped by every editor/watcher change of a path, so a build result
        # computed from older content does not overwrite it.
        self._gen: dict[str, int] = {}
        self._changed_since_link: set[str] = set()
        self._linking: asyncio.Task[None] | None = None  # a background re-link
        self._relinking = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._symbols = 0
        self._total = 0  # indexable files found by the last walk (0: not walked)
        self._done = 0
        self._walked = False
        self._walked_paths: set[str] = set()
        self._build_ms = 0
        self._rules: IgnoreRules | None = None
        self.reparsed = 0  # files parsed by the last build (tests, bench)
        # Where time goes (orion repomap --stats): walk/link wall seconds,
        # parse/tags CPU seconds over the workers, last request's rank/render.
        self.phases: dict[str, float] = {}

    # ---- the build ---------------------------------------------------------------------

    async def build(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Index the workspace: snapshot and cached tags where content is unchanged, parse the rest."""
        t0 = time.perf_counter()
        walked, rules = await asyncio.to_thread(self._walk)
        self.phases["walk_s"] = round(time.perf_counter() - t0, 3)
        self._rules = rules
        meta: dict[str, CachedMeta] = await self._cache_call("load_meta", self.project_id) or {}
        restored = await self._restore()
        on_disk = {e.rel_path: e for e in walked}
        self._total = len(walked)
        self._walked_paths = set(on_disk)
        self._walked = True
        todo, from_store, done = self._plan(walked, meta)
        gone = [p for p in self._entries if p not in on_disk and p not in self._gen]
        changes = len(todo) + len(from_store) + len(gone)
        incremental = restored and changes <= max(64, INCREMENTAL_SHARE * len(walked))
        if not incremental:
            self._graph.bulk = True  # many arrivals ahead: link once at the end
        self._done = done
        if progress:
            progress(done, self._total)
        for p in gone:
            self._drop(p)
        stale = [p for p in meta if p not in on_disk]
        if stale:
            await self._cache_call("delete", self.project_id, stale)
        todo += await self._apply_cached(from_store, on_disk, progress)
        await self._parse_all(todo, meta, progress)
        self._done = self._total
        if not incremental:
            if self.reparsed >= TRIM_EVERY_FILES:
                release_free_heap()  # before the link doubles the graph for a moment
            await self._relink(save=True)
        self._build_ms = int((time.perf_counter() - t0) * 1000)
        log.info(
            "indexed %s: %d files (%d parsed) in %d ms",
            self.root,
            len(self._entries),
            self.reparsed,
            self._build_ms,
        )

    def _walk(self) -> tuple[list[WalkEntry], IgnoreRules]:
        entries = list(walk_files(self.root))
        # walk_files builds its own rules; keep one with every nested
        # .gitignore loaded for later single-path checks.
        rules = IgnoreRules(self.root)
        for d in sorted({str(PurePosixPath(e.rel_path).parent) for e in entries} - {"."}):
            parts = d.split("/")
            for k in range(1, len(parts) + 1):
                rules.enter("/".join(parts[:k]))
        return entries, rules

    def _plan(
        self, walked: list[WalkEntry], meta: dict[str, CachedMeta]
    ) -> tuple[list[tuple[str, str | None]], list[str], int]:
        """(files to parse with a known hash, files whose cached blob is current, files ready)."""
        todo: list[tuple[str, str | None]] = []
        from_store: list[str] = []
        done = 0
        for e in walked:
            ent = self._entries.get(e.rel_path)
            if ent is not None and ent.size == e.size and ent.mtime_ns == e.mtime_ns:
                done += 1
                continue
            m = meta.get(e.rel_path)
            if m is not None and m.size == e.size and m.mtime_ns == e.mtime_ns:
                if m.skipped:
                    done += 1  # generated or binary when last read, unchanged since
                else:
                    from_store.append(e.rel_path)
                continue
            known = ent.content_hash if ent is not None else m.content_hash if m else None
            todo.append((e.rel_path, known))
        return todo, from_store, done

    async def _restore(self) -> bool:
        """Install the snapshot when there is a valid one (before anything is indexed)."""
        data = await self._cache_call("load_snapshot", self.project_id)
        if not data or self._entries:
            return False
        t = time.perf_counter()
        try:
            graph, shares = await asyncio.to_thread(snapshot.load, data)
        except (ValueError, IndexError) as e:
            log.info("ignoring the repo map snapshot of %s: %s", self.root, e)
            return False
        if self._entries:  # an editor buffer arrived meanwhile: start clean
            return False
        self._names = graph.names
        self._graph, self._shares = graph, shares
        self._entries = {p: e for p, e in zip(graph.files, graph.entries, strict=True) if p and e}
        self._symbols = sum(len(e.def_ids) for e in self._entries.values())
        self.phases["restore_s"] = round(time.perf_counter() - t, 3)
        return True

    async def _apply_cached(
        self,
        paths: list[str],
        on_disk: dict[str, WalkEntry],
        progress: Callable[[int, int], None] | None,
    ) -> list[tuple[str, str | None]]:
        """Entries from cached blobs (decoded in a thread, interned here); the rest to parse."""
        missing: list[tuple[str, str | None]] = []
        for k in range(0, len(paths), STORE_BATCH):
            batch = paths[k : k + STORE_BATCH]
            try:
                got = await asyncio.to_thread(_cached_names, self._store, self.project_id, batch)
            except Exception as e:  # caches may degrade (docs/architecture.md)
                self._degrade("read_blobs", e)
                got = {}
            for p in batch:
                hit = got.get(p)
                w = on_disk[p]
                if hit is None:
                    missing.append((p, None))
                    continue
                h, names = hit
                self._set(p, _entry(self._names, h, w.size, w.mtime_ns, names))
                self._done += 1
            if progress:
                progress(self._done, self._total)
        return missing

    async def _parse_all(
        self,
        todo: list[tuple[str, str | None]],
        meta: dict[str, CachedMeta],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.reparsed = 0
        parse_cpu = tags_cpu = 0.0
        to_save: list[tuple[str, CachedTags]] = []
        last_link = time.perf_counter()
        linked_size = len(self._entries)
        since_trim = 0
        async for results in self._parse(todo):
            since_trim += len(results)
            if since_trim >= TRIM_EVERY_FILES:
                since_trim = 0
                release_free_heap()
            for r, gen in results:
                self._done += 1
                parse_cpu += r.parse_s
                tags_cpu += r.tags_s
                if self._gen.get(r.rel_path, 0) != gen:
                    continue  # the editor changed it meanwhile: its version wins
                self._apply_result(r, meta, to_save)
            if progress:
                progress(self._done, self._total)
            if len(to_save) >= 200:
                await self._cache_call("save_many", self.project_id, to_save)
                to_save = []
            now = time.perf_counter()
            if (
                self._graph.bulk
                and not self._relinking
                and now - last_link > RELINK_AFTER_S
                and len(self._entries) > 1.5 * linked_size
            ):
                last_link, linked_size = now, len(self._entries)
                self._linking = self._spawn(self._relink(save=False, bulk=True))
        if to_save:
            await self._cache_call("save_many", self.project_id, to_save)
        if self._linking is not None:
            await self._linking
        self.phases["parse_cpu_s"] = round(parse_cpu, 3)
        self.phases["tags_cpu_s"] = round(tags_cpu, 3)

    def _apply_result(
        self, r: ParseResult, meta: dict[str, CachedMeta], to_save: list[tuple[str, CachedTags]]
    ) -> None:
        if r.status == "parsed" and r.blob is not None:
            self.reparsed += 1
            names = blob_names(r.raw, compressed=False) if r.raw else blob_names(r.blob)
            self._set(r.rel_path, _entry(self._names, r.content_hash, r.size, r.mtime_ns, names))
            to_save.append((r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, r.blob)))
        elif r.status == "unchanged":
            old = self._entries.get(r.rel_path)
            if old is not None:
                from dataclasses import replace

                self._set(r.rel_path, replace(old, size=r.size, mtime_ns=r.mtime_ns))
                # Same content, new mtime: remember it so the next start skips the read.
                to_save.append((r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, None)))
            else:
                # Known to the cache only: its blob holds the names.
                got = _cached_names(self._store, self.project_id, [r.rel_path]).get(r.rel_path)
                if got is None:
                    m = meta.get(r.rel_path)
                    if m is not None and m.skipped:  # still not indexable, new mtime
                        skip = CachedTags(r.content_hash, r.size, r.mtime_ns, SKIPPED)
                        to_save.append((r.rel_path, skip))
                    return
                self._set(r.rel_path, _entry(self._names, got[0], r.size, r.mtime_ns, got[1]))
                to_save.append((r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, None)))
        else:
            self._drop(r.rel_path)
            if r.content_hash:  # read and found not indexable: remember that
                to_save.append(
                    (r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, SKIPPED))
                )

    async def _parse(self, todo: list[tuple[str, str | None]]) -> Any:
        root = str(self.root)
        gens = {rel: self._gen.get(rel, 0) for rel, _ in todo}
        if len(todo) < POOL_THRESHOLD:
            for rel, known in todo:
                yield [(parse_one(root, rel, known), gens[rel])]
                await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        own = self._executor is None
        executor = self._executor or concurrent.futures.ProcessPoolExecutor(
            max_workers=WORKERS, mp_context=_pool_context()
        )
        try:
            batches = [todo[i : i + BATCH_FILES] for i in range(0, len(todo), BATCH_FILES)]
            futures = [loop.run_in_executor(executor, parse_batch, root, b) for b in batches]
            for fut in asyncio.as_completed(futures):
                results: list[ParseResult] = await fut
                yield [(r, gens[r.rel_path]) for r in results]
        finally:
            if own:
                # Workers hold grammars (~30 MB each); free them once built,
                # reaping them off the event loop.
                await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)

    # ---- linking -----------------------------------------------------------------------

    async def _relink(self, *, save: bool, bulk: bool = False) -> None:
        """Rebuild the graph from the entries in a thread, then swap it in."""
        t = time.perf_counter()
        entries = dict(self._entries)
        self._changed_since_link = set()
        self._relinking = True
        try:
            graph, shares, blob = await asyncio.to_thread(link, self._names, entries, save)
        finally:
            self._relinking = False
            self._linking = None
        graph.bulk = bulk
        for p in self._changed_since_link:
            e = self._entries.get(p)
            if e is not None:
                graph.set_file(p, e)
            else:
                graph.remove_file(p)
        self._changed_since_link = set()
        self._graph, self._shares = graph, shares
        self.phases["link_s"] = round(time.perf_counter() - t, 3)
        self.phases.pop("restore_s", None)
        if blob is not None:
            await self._cache_call("save_snapshot", self.project_id, blob)

    def _rebuild_if_drifted(self) -> None:
        """After many changes, re-link (and save the snapshot) in the background."""
        if self._relinking or self._graph.bulk:
            return
        if len(self._changed_since_link) > max(64, 0.02 * len(self._entries)):
            self._linking = self._spawn(self._relink(save=True))

    # ---- state -------------------------------------------------------------------------

    def _set(self, rel_path: str, entry: FileEntry) -> None:
        old = self._entries.get(rel_path)
        self._entries[rel_path] = entry
        self._symbols += len(entry.def_ids) - (len(old.def_ids) if old is not None else 0)
        self._graph.set_file(rel_path, entry)
        self._changed_since_link.add(rel_path)
        if self._walked and rel_path not in self._walked_paths:
            # A file created after the walk (editor or watcher): count it as
            # found and done, so `complete` stays a share of the workspace.
            self._walked_paths.add(rel_path)
            self._total += 1
            self._done += 1

    def _drop(self, rel_path: str) -> None:
        old = self._entries.pop(rel_path, None)
        if old is not None:
            self._symbols -= len(old.def_ids)
            self._graph.remove_file(rel_path)
            self._changed_since_link.add(rel_path)

    async def _cache_call(self, op: str, *args: Any) -> Any:
        """Call the cache; a failing cache is logged and replaced by memory, never fatal."""
        try:
            return await getattr(self._store, op)(*args)
        except Exception as e:  # caches may degrade (docs/architecture.md)
            self._degrade(op, e)
            return None

    def _degrade(self, op: str, e: BaseException) -> None:
        if isinstance(self._store, MemoryTagCache):
            log.warning("repo map memory cache %s failed: %s", op, e)
            return
        log.warning("repo map cache %s failed, going on in memory: %s", op, e)
        # Tags already cached are gone with it: shown files are re-parsed from disk.
        self._store = MemoryTagCache()

    async def close(self) -> None:
        """Stop background work (re-links, cache writes) of this index."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # closing: their fate is moot
                pass

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- reading -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "files": len(self._entries),
            "symbols": self._symbols,
            "buildMs": self._build_ms,
            "complete": self.complete,
            "parsed": self.reparsed,  # by the last build: 0 on a restart with nothing changed
        }

    @property
    def complete(self) -> float:
        if not self._walked:
            return 0.0
        if self._total == 0:
            return 1.0
        return min(1.0, self._done / self._total)


def _cached_names(
    store: TagCache, project_id: str, paths: list[str]
) -> dict[str, tuple[str, BlobNames]]:
    """path -> (content hash, names) from cached blobs; pure, safe in a thread."""
    out = {}
    for p, (h, blob) in store.read_blobs(project_id, paths).items():
        try:
            out[p] = (h, blob_names(blob))
        except ValueError:
            continue  # an older blob format: parse the file again
    return out


def _entry(names: NameTable, h: str, size: int, mtime_ns: int, b: BlobNames) -> FileEntry:
    return make_entry(
        names, h, size, mtime_ns, b.def_names, b.kinds, b.text_lens, b.ref_names, b.ref_counts
    )
