"""Keeps the repo map current from editor events.

- After `initialized`: the background build of each workspace folder, with
  `$/progress` "Indexing workspace" and a percentage.
- didOpen/didChange/didSave: the buffer text replaces the file's tags
  (didChange debounced, so typing does not re-parse on every key).
- didClose and `workspace/didChangeWatchedFiles` (registered dynamically when
  the client allows it): re-read from disk; deleted files leave the map.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..project import Project, uri_to_path

if TYPE_CHECKING:
    from .server import OrionLanguageServer

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.2


class Indexer:
    def __init__(self, server: OrionLanguageServer) -> None:
        self._ls = server
        self._pending: dict[str, asyncio.TimerHandle] = {}

    @property
    def _context(self) -> Any:
        return self._ls.services.context

    async def start(self, projects: list[Project]) -> None:
        if self._context is None:
            return
        for project in projects:
            token = await self._progress_token()
            reporter = _Reporter(self._ls, token)
            reporter.begin(project)
            self._context.ensure(project, progress=reporter.update)
            self._ls.spawn(self._finish_progress(project, reporter))
        await self._register_watcher()

    async def _finish_progress(self, project: Project, reporter: _Reporter) -> None:
        try:
            await self._context.wait_built(project.root)
        except Exception:
            log.exception("indexing %s failed", project.root)
        finally:
            reporter.end()

    async def _progress_token(self) -> str | None:
        window = getattr(self._ls.client_capabilities, "window", None)
        if not (window and window.work_done_progress):
            return None
        token = f"orion-index-{uuid.uuid4().hex[:8]}"
        try:
            await self._ls.work_done_progress.create_async(token)
        except Exception:
            return None
        return token

    async def _register_watcher(self) -> None:
        ws = getattr(self._ls.client_capabilities, "workspace", None)
        dyn = getattr(ws, "did_change_watched_files", None) if ws else None
        if not (dyn and dyn.dynamic_registration):
            return
        try:
            await self._ls.client_register_capability_async(
                lsp.RegistrationParams(
                    registrations=[
                        lsp.Registration(
                            id="orion-watched-files",
                            method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                                watchers=[lsp.FileSystemWatcher(glob_pattern="**/*")]
                            ),
                        )
                    ]
                )
            )
        except Exception as exc:
            log.info("file watcher registration refused: %s", exc)

    # -- document events -----------------------------------------------------------------

    def _locate(self, uri: str) -> tuple[Any, str] | None:
        if self._context is None:
            return None
        path = uri_to_path(uri)
        if path is None:
            return None
        project = self._ls.projects.for_path(path)
        if project is None:
            return None
        index = self._context.index_for(project.root)
        if index is None:
            return None
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(project.root):
            return None
        return index, real.relative_to(project.root).as_posix()

    def text_changed(self, uri: str, *, debounce: bool) -> None:
        located = self._locate(uri)
        if located is None:
            return
        if uri in self._pending:
            self._pending.pop(uri).cancel()
        if debounce:
            loop = asyncio.get_running_loop()
            self._pending[uri] = loop.call_later(DEBOUNCE_S, self._update_now, uri)
        else:
            self._update_now(uri)

    def _update_now(self, uri: str) -> None:
        self._pending.pop(uri, None)
        located = self._locate(uri)
        if located is None:
            return
        index, rel = located
        try:
            doc = self._ls.workspace.text_documents.get(uri)
            if doc is not None:
                index.update_text(rel, doc.source)
        except Exception:  # the map is an aid: never let it break document sync
            log.exception("repo map update failed for %s", rel)

    def flush(self) -> None:
        """Apply pending debounced updates now (a turn is about to use the map)."""
        for uri in list(self._pending):
            self._pending.pop(uri).cancel()
            self._update_now(uri)

    async def from_disk(self, uris: list[str]) -> None:
        by_index: dict[int, tuple[Any, list[str]]] = {}
        for uri in uris:
            located = self._locate(uri)
            if located is None:
                continue
            index, rel = located
            by_index.setdefault(id(index), (index, []))[1].append(rel)
        for index, rels in by_index.values():
            try:
                await index.refresh_paths(rels)
            except Exception:
                log.exception("repo map refresh failed")


class _Reporter:
    """`$/progress` for one project's build; updates at most every 5 %."""

    def __init__(self, server: OrionLanguageServer, token: str | None) -> None:
        self._ls = server
        self._token = token
        self._last = -1
        self._ended = False

    def begin(self, project: Project) -> None:
        if self._token is None:
            return
        self._ls.work_done_progress.begin(
            self._token,
            lsp.WorkDoneProgressBegin(
                title="Indexing workspace",
                message=project.root.name,
                percentage=0,
                cancellable=False,
            ),
        )

    def update(self, project: Project, done: int, total: int) -> None:
        if self._token is None or self._ended or total <= 0:
            return
        pct = min(100, int(done * 100 / total))
        if pct - self._last < 5 and pct != 100:
            return
        self._last = pct
        self._ls.work_done_progress.report(
            self._token, lsp.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=pct)
        )

    def end(self) -> None:
        if self._token is None or self._ended:
            return
        self._ended = True
        self._ls.work_done_progress.end(self._token, lsp.WorkDoneProgressEnd(message="Indexed"))
