"""`RepoIndex`: the per-project repo map service behind the dynamic system prompt.

Built in the background after `initialize` (`build`, process pool, tags cache
so a restart re-parses only changed files), kept current from
`textDocument/didOpen|didChange|didSave` (`update_text`) and
`workspace/didChangeWatchedFiles` (`refresh_paths`, `remove`), and asked for a
ranked map per turn (`render`) without ever waiting for a full index: a map
reports how complete the index was when it was made.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from . import rank as rank_mod
from .cache import CachedTags, TagCache
from .files import SKIP_DIRS, IgnoreRules, looks_indexable, walk_files, wanted_name
from .languages import language_for_path
from .render import StaticShares, fit, ranked_entries, static_shares, tokens_of
from .tags import Definition, FileTags, extract_tags
from .worker import ParseResult, content_hash, parse_batch, parse_one

log = logging.getLogger(__name__)

# Fewer files than this to parse: do it in-process, a pool start costs more.
POOL_THRESHOLD = 24
# Files per pool task: big enough to amortise pickling, small enough to
# balance two workers and report progress often.
BATCH_FILES = 24
WORKERS = 2

# Weights of the request's personalization seeds.
FOCUS_WEIGHT = 10.0
MENTIONED_FILE_WEIGHT = 5.0
TOUCHED_WEIGHT = 3.0
MENTIONED_DEFINER_WEIGHT = 2.0


@dataclass
class RepoMap:
    text: str
    files: int  # files shown
    tokens: int  # tokens_of(text)
    complete: float  # share of the workspace indexed when the map was made
    symbols: int = 0  # definitions shown


@dataclass
class _FileState:
    tags: FileTags
    content_hash: str
    size: int
    mtime_ns: int


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w./\\-]*\w\.[A-Za-z][\w+]*")


def mentioned_identifiers(prompt: str) -> set[str]:
    """Identifiers and file names in a prompt (file names with and without folders)."""
    out: set[str] = set()
    for m in _PATHLIKE.finditer(prompt):
        p = m.group(0).replace("\\", "/").strip("./") if m.group(0) != "." else ""
        if p:
            out.add(p)
            out.add(PurePosixPath(p).name)
    for m in _IDENT.finditer(prompt):
        if len(m.group(0)) >= 2:
            out.add(m.group(0))
    return out


def _make_graph(tags: dict[str, FileTags]) -> tuple[rank_mod.FileGraph, StaticShares]:
    """The graph and static shares of a snapshot of the tags (the graph owns it)."""
    graph = rank_mod.FileGraph(tags)
    return graph, static_shares(tags, graph)


def _pool_context() -> Any:
    # The server is asyncio + threads: a plain fork could copy a held lock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class RepoIndex:
    """The tags of one project root, and the ranked map made from them."""

    def __init__(
        self,
        root: Path,
        project_id: str,
        cache: TagCache | None = None,
        *,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.project_id = project_id
        self._cache = cache
        self._executor = executor
        self._files: dict[str, _FileState] = {}
        # path -> tags of the same files; the graph reads this dict live.
        self._tags: dict[str, FileTags] = {}
        # Bumped by every editor/watcher change of a path, so a build result
        # computed from older content does not overwrite it.
        self._gen: dict[str, int] = {}
        self._total = 0  # indexable files found by the last walk (0: not walked)
        self._done = 0
        self._walked = False
        self._walked_paths: set[str] = set()
        self._version = 0  # bumped by every change of the indexed tags
        self._build_ms = 0
        self._rules: IgnoreRules | None = None
        self._graph: rank_mod.FileGraph | None = None
        self._shares: StaticShares | None = None
        self._parents: dict[str, list[int]] = {}
        self.reparsed = 0  # files parsed by the last build (tests, bench)

    # ---- building ----------------------------------------------------------

    async def build(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Index the workspace: cached tags where content is unchanged, parse the rest."""
        t0 = time.perf_counter()
        cached = await self._cache_call("load", self.project_id) or {}
        entries, rules = await asyncio.to_thread(self._walk)
        self._rules = rules
        on_disk = {e.rel_path for e in entries}
        self._total = len(entries)
        self._walked_paths = set(on_disk)
        self._walked = True
        todo: list[tuple[str, str | None]] = []
        done = 0
        for n, e in enumerate(entries):
            c = cached.get(e.rel_path)
            if c is not None and c.size == e.size and c.mtime_ns == e.mtime_ns:
                try:
                    self._set(
                        e.rel_path,
                        _FileState(FileTags.from_blob(c.tags), c.content_hash, c.size, c.mtime_ns),
                    )
                    done += 1
                    continue
                except ValueError:
                    log.debug("dropping unreadable cached tags of %s", e.rel_path)
            todo.append((e.rel_path, c.content_hash if c is not None else None))
            if n % 200 == 199:
                await asyncio.sleep(0)  # decoding a large cache must not stall the loop
        self._done = done
        if progress:
            progress(done, self._total)
        stale = [p for p in cached if p not in on_disk]
        for p in list(self._files):
            if p not in on_disk and p not in self._gen:
                self._drop(p)
        if stale:
            await self._cache_call("delete", self.project_id, stale)
        self.reparsed = 0
        to_save: list[tuple[str, CachedTags]] = []
        async for results in self._parse(todo):
            for r in results:
                self._done += 1
                self._apply_result(r, cached, to_save)
            if progress:
                progress(self._done, self._total)
            if len(to_save) >= 200:
                await self._cache_call("save_many", self.project_id, to_save)
                to_save = []
        if to_save:
            await self._cache_call("save_many", self.project_id, to_save)
        self._done = self._total
        # Link the graph now, off the event loop, so the first turn after the
        # build does not pay it. Dropped if an edit lands meanwhile.
        version = self._version
        graph, shares = await asyncio.to_thread(_make_graph, dict(self._tags))
        if version == self._version:
            self._graph, self._shares = graph, shares
        self._build_ms = int((time.perf_counter() - t0) * 1000)
        log.info(
            "indexed %s: %d files (%d parsed) in %d ms",
            self.root,
            len(self._files),
            self.reparsed,
            self._build_ms,
        )

    def _walk(self) -> tuple[list[Any], IgnoreRules]:
        entries = list(walk_files(self.root))
        # walk_files builds its own rules; keep one with every nested
        # .gitignore loaded for later single-path checks.
        rules = IgnoreRules(self.root)
        for d in sorted({str(PurePosixPath(e.rel_path).parent) for e in entries} - {"."}):
            parts = d.split("/")
            for k in range(1, len(parts) + 1):
                rules.enter("/".join(parts[:k]))
        return entries, rules

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

    def _apply_result(
        self,
        item: tuple[ParseResult, int],
        cached: dict[str, CachedTags],
        to_save: list[tuple[str, CachedTags]],
    ) -> None:
        r, gen = item
        if self._gen.get(r.rel_path, 0) != gen:
            return  # the editor changed it meanwhile: its version wins
        if r.status == "parsed" and r.tags is not None and r.blob is not None:
            self.reparsed += 1
            self._set(r.rel_path, _FileState(r.tags, r.content_hash, r.size, r.mtime_ns))
            to_save.append((r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, r.blob)))
        elif r.status == "unchanged":
            c = cached[r.rel_path]
            try:
                tags = FileTags.from_blob(c.tags)
            except ValueError:
                return
            self._set(r.rel_path, _FileState(tags, r.content_hash, r.size, r.mtime_ns))
            # Same content, new mtime: remember it so the next start skips the read.
            to_save.append((r.rel_path, CachedTags(r.content_hash, r.size, r.mtime_ns, c.tags)))
        else:
            self._drop(r.rel_path)

    async def _cache_call(self, op: str, *args: Any) -> Any:
        """Call the cache; a failing cache is logged and dropped, never fatal."""
        if self._cache is None:
            return None
        try:
            return await getattr(self._cache, op)(*args)
        except Exception as e:  # caches may degrade (docs/architecture.md)
            log.warning("repo map cache %s failed, going on in memory: %s", op, e)
            self._cache = None
            return None

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
        """An editor buffer's text (didOpen/didChange/didSave): re-tag it now."""
        if not self.indexable(rel_path):
            return
        if len(text) > 1_000_000:  # too big either way: skip the encode of a huge buffer
            self._gen[rel_path] = self._gen.get(rel_path, 0) + 1
            self._drop(rel_path)
            return
        lang = language_for_path(rel_path)
        data = text.encode("utf-8", "surrogatepass")
        self._gen[rel_path] = self._gen.get(rel_path, 0) + 1
        if lang is None or not looks_indexable(data) or len(data) > 1_000_000:
            self._drop(rel_path)
            return
        old = self._files.get(rel_path)
        h = content_hash(data)
        if old is not None and old.content_hash == h:
            return
        tags = extract_tags(lang, data)
        # size/mtime 0: this content is the buffer's, not known to be on disk.
        self._set(rel_path, _FileState(tags, h, 0, 0))

    def remove(self, rel_path: str) -> None:
        """A file deleted on disk."""
        self._gen[rel_path] = self._gen.get(rel_path, 0) + 1
        self._drop(rel_path)
        if self._cache is not None:
            # Fire and forget within the running loop, if any.
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
            if not self.indexable(rel) or not (self.root / rel).is_file():
                if rel in self._files:
                    gone.append(rel)
                self._gen[rel] = self._gen.get(rel, 0) + 1
                self._drop(rel)
                continue
            self._gen[rel] = self._gen.get(rel, 0) + 1
            old = self._files.get(rel)
            r = await asyncio.to_thread(
                parse_one, str(self.root), rel, old.content_hash if old else None
            )
            if r.status == "unchanged" and old is not None:
                old.size, old.mtime_ns = r.size, r.mtime_ns
                to_save.append(
                    (rel, CachedTags(r.content_hash, r.size, r.mtime_ns, old.tags.to_blob()))
                )
            elif r.status == "parsed" and r.tags is not None and r.blob is not None:
                self._set(rel, _FileState(r.tags, r.content_hash, r.size, r.mtime_ns))
                to_save.append((rel, CachedTags(r.content_hash, r.size, r.mtime_ns, r.blob)))
            else:
                gone.append(rel)
                self._drop(rel)
        if to_save:
            await self._cache_call("save_many", self.project_id, to_save)
        if gone:
            await self._cache_call("delete", self.project_id, gone)

    def _set(self, rel_path: str, state: _FileState) -> None:
        self._version += 1
        old = self._files.get(rel_path)
        self._files[rel_path] = state
        self._tags[rel_path] = state.tags
        if self._walked and rel_path not in self._walked_paths:
            # A file created after the walk (editor or watcher): count it as
            # found and done, so `complete` stays a share of the workspace.
            self._walked_paths.add(rel_path)
            self._total += 1
            self._done += 1
        self._parents.pop(rel_path, None)
        if old is None or self._graph is None or self._shares is None:
            self._graph = self._shares = None  # the file set changed: rebuild lazily
            return
        # Same file set: re-link this file in place (cheap) instead of a rebuild.
        self._graph.tags[rel_path] = state.tags
        touched = self._graph.update(rel_path, old.tags, state.tags)
        for f in touched:
            self._shares.set_file(f, self._tags.get(f), self._graph)

    def _drop(self, rel_path: str) -> None:
        if self._files.pop(rel_path, None) is not None:
            self._version += 1
            self._tags.pop(rel_path, None)
            self._graph = self._shares = None
            self._parents.pop(rel_path, None)

    # ---- reading -------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "files": len(self._files),
            "symbols": sum(len(s.tags.defs) for s in self._files.values()),
            "buildMs": self._build_ms,
            "complete": self.complete,
        }

    @property
    def complete(self) -> float:
        if not self._walked:
            return 0.0
        if self._total == 0:
            return 1.0
        return min(1.0, self._done / self._total)

    def file_tags(self, rel_path: str) -> FileTags | None:
        s = self._files.get(rel_path)
        return s.tags if s is not None else None

    def find(self, name: str) -> list[tuple[str, Definition]]:
        """Definitions named exactly `name`, by path then line."""
        graph = self._ensure_graph()
        out: list[tuple[str, Definition]] = []
        files = set(graph.definers.get(name, ()))
        # impl blocks are not definers in the graph but are worth finding.
        for path in sorted(self._files if not files else files | self._impl_files(name)):
            for d in self._files[path].tags.defs:
                if d.name == name:
                    out.append((path, d))
        return out

    def _impl_files(self, name: str) -> set[str]:
        return {
            p
            for p, s in self._files.items()
            if any(d.name == name and d.kind == "impl" for d in s.tags.defs)
        }

    def all_definitions(self) -> Iterable[tuple[str, Definition]]:
        for path in sorted(self._files):
            for d in self._files[path].tags.defs:
                yield path, d

    def _ensure_graph(self) -> rank_mod.FileGraph:
        if self._graph is None:
            self._graph, self._shares = _make_graph(dict(self._tags))
        return self._graph

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
        if budget_tokens <= 0 or not self._files:
            return RepoMap("", 0, 0, complete)
        graph = self._ensure_graph()
        assert self._shares is not None
        tags = self._tags
        mentioned_set = set(mentioned)
        seeds: dict[str, float] = {}

        def seed(path: str, w: float) -> None:
            if path in graph.index:
                seeds[path] = seeds.get(path, 0.0) + w

        for f in focus_files:
            seed(f, FOCUS_WEIGHT)
        for f in touched:
            seed(f, TOUCHED_WEIGHT)
        if mentioned_set:
            for f in graph.files:
                if f in mentioned_set or PurePosixPath(f).name in mentioned_set:
                    seed(f, MENTIONED_FILE_WEIGHT)
            for name in mentioned_set:
                ds = graph.definers.get(name, ())
                # Split among the definers by their base rank: the `urlopen`
                # the project leans on, not the test helper of the same name.
                total = sum(graph.base[graph.index[f]] for f in ds)
                for f in ds:
                    seed(f, MENTIONED_DEFINER_WEIGHT * graph.base[graph.index[f]] / total)
        ranks = rank_mod.personalized(graph, seeds)
        focus_refs: set[str] = set()
        for f in focus_files:
            ft = tags.get(f)
            if ft is not None:
                focus_refs.update(n for n in ft.refs if n in graph.definers)
        entries = ranked_entries(
            tags,
            graph,
            self._shares,
            ranks,
            mentioned={n for n in mentioned_set if n in graph.definers},
            focus_refs=focus_refs,
            max_chars=budget_tokens * 8,
        )
        text, nfiles = fit(entries, tags, self._parents, budget_tokens)
        nsym = sum(1 for line in text.splitlines() if "│" in line)
        return RepoMap(text, nfiles, tokens_of(text), complete, nsym)
