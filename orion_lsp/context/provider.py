"""`RepoContext`: one `RepoIndex` per project, behind the orchestrator's `ContextProvider`.

The server calls `ensure(project)` after `initialize` (which starts the
background build and reports progress through the given callback), forwards
document and watched-file events to `index_for(root)`, and the orchestrator
asks `context_for(...)` each turn. A turn never waits for the build: it gets
the map of what is indexed and its `complete` share in the stats, which the
orchestrator records in the `llm_call` trace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orion_lsp.agent.protocols import ContextBlock
from orion_lsp.project import Project

from .cache import TagCache
from .mentions import mentioned_identifiers
from .service import RepoIndex

log = logging.getLogger(__name__)

Progress = Callable[[Project, int, int], None]


class RepoContext:
    def __init__(
        self,
        cache: TagCache | None = None,
        *,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self._cache = cache
        self._executor = executor
        self._indexes: dict[Path, RepoIndex] = {}
        self._builds: dict[Path, asyncio.Task[None]] = {}

    def ensure(self, project: Project, progress: Progress | None = None) -> RepoIndex:
        """The project's index, starting its background build the first time."""
        root = Path(project.root)
        index = self._indexes.get(root)
        if index is None:
            index = self._indexes[root] = RepoIndex(
                root, project.project_id, self._cache, executor=self._executor
            )
            cb = (lambda done, total: progress(project, done, total)) if progress else None
            task = asyncio.get_running_loop().create_task(index.build(cb))
            task.add_done_callback(_log_failure)
            self._builds[root] = task
        return index

    def index_for(self, root: Path) -> RepoIndex | None:
        return self._indexes.get(Path(root))

    async def wait_built(self, root: Path) -> None:
        """For tests and the CLI: wait for the background build of `root`."""
        task = self._builds.get(Path(root))
        if task is not None:
            await asyncio.shield(task)

    async def context_for(
        self,
        project: Project,
        *,
        prompt: str,
        active_file: str | None,
        touched: list[str],
        budget_tokens: int,
    ) -> ContextBlock:
        index = self.ensure(project)
        repo_map = index.render(
            focus_files=[active_file] if active_file else [],
            mentioned=mentioned_identifiers(prompt),
            touched=touched,
            budget_tokens=budget_tokens,
        )
        return ContextBlock(
            repo_map.text,
            {
                "mapTokens": repo_map.tokens,
                "mapFiles": repo_map.files,
                "mapSymbols": repo_map.symbols,
                "complete": round(repo_map.complete, 3),
                "partial": repo_map.complete < 1.0,
            },
        )

    def stats(self) -> dict[str, Any]:
        """`orion.status`'s `repoMap`: totals over the projects."""
        files = symbols = build_ms = parsed = 0
        complete = 1.0
        for index in self._indexes.values():
            s = index.stats()
            files += s["files"]
            symbols += s["symbols"]
            parsed += s["parsed"]
            build_ms = max(build_ms, s["buildMs"])
            complete = min(complete, s["complete"])
        return {
            "files": files,
            "symbols": symbols,
            "buildMs": build_ms,
            "complete": complete,
            "parsed": parsed,
        }

    async def close(self) -> None:
        for task in self._builds.values():
            task.cancel()
        for task in self._builds.values():
            try:
                await task
            except (asyncio.CancelledError, Exception):  # closing: the build's fate is moot
                pass
        self._builds.clear()
        for index in self._indexes.values():
            await index.close()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("repo map build failed", exc_info=task.exception())
