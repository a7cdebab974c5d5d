"""Seams between the turn loop and its collaborators (docs/architecture.md#seams-are-protocols).

Fakes for these live in `orion_lsp.testing`; the editor implementation lives
in `orion_lsp.server`, the terminal one in `orion_lsp.cli`.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..project import Project

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..storage import Score, TraceEvent
    from .tools.base import DocumentSource
    from .turn import TurnRequest


class TurnSink(Protocol):
    """Where a running turn reports to (the editor, the terminal)."""

    async def delta(self, turn_id: str, text: str) -> None: ...

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None: ...

    async def progress(self, turn_id: str, message: str) -> None: ...


@dataclass
class ContextBlock:
    """The repo map (or any other generated context) for the system prompt."""

    text: str
    stats: dict[str, Any] = field(default_factory=dict)


class RepoIndexView(Protocol):
    """One project's symbol index, as the server, the tools and the claim check use it."""

    @property
    def complete(self) -> float:
        """Share of the workspace indexed so far (0..1)."""

    def update_text(self, rel_path: str, text: str) -> None:
        """Re-index one file from an open buffer's text."""

    async def refresh_paths(self, rel_paths: list[str]) -> None:
        """Re-read these files from disk (watched-file events)."""

    def find(self, name: str) -> list[tuple[str, Any]]:
        """(path, definition) of every definition named `name`."""

    def file_tags(self, rel_path: str) -> Any:
        """The definitions and references of one file, or None when not indexed."""

    def known_names(self) -> Container[str]:
        """Names some indexed file defines or uses (without loading every file's tags)."""


Progress = Callable[[Project, int, int], None]  # project, files done, files total


class ContextProvider(Protocol):
    """The repo map and its indexes, one per project (`orion_lsp.context.RepoContext`).

    The server starts and feeds the indexes (`ensure`, `index_for`), reports
    `stats` in `orion.status` and `close`s it at shutdown; the CLI waits for a
    build (`wait_built`); the orchestrator asks `context_for` each turn, which
    must not wait for a full index.
    """

    def ensure(self, project: Project, progress: Progress | None = None) -> RepoIndexView:
        """The project's index, starting its background build the first time."""

    def index_for(self, root: Path) -> RepoIndexView | None: ...

    async def wait_built(self, root: Path) -> None: ...

    async def context_for(
        self,
        project: Project,
        *,
        prompt: str,
        active_file: str | None,
        touched: list[str],
        budget_tokens: int,
    ) -> ContextBlock: ...

    def stats(self) -> dict[str, Any]:
        """`orion.status`'s `repoMap`: files, symbols, buildMs, complete."""

    async def close(self) -> None: ...


class NullSink:
    async def delta(self, turn_id: str, text: str) -> None:
        return None

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        return None

    async def progress(self, turn_id: str, message: str) -> None:
        return None


@dataclass
class TurnEndNote:
    """What a turn-end check adds: trace payload keys and an optional visible note."""

    payload: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # appended to the answer (streamed like any other text)


class TurnEndCheck(Protocol):
    """Runs when a turn completes, before the answer is stored (e.g. the claim check)."""

    async def __call__(self, answer: str, root: Any, read_files: dict[str, str]) -> TurnEndNote: ...


class TurnEvaluator(Protocol):
    """Scores turns from the ledger (orion_lsp.evals); a failed score write is a StorageError."""

    async def turn_started(self, req: TurnRequest, documents: DocumentSource) -> None:
        """After `turn_start` is stored, before the first model call (the previous turn's
        `edit_kept`: does the file still hold its edits?)."""

    def end_scores(
        self,
        project_id: str,
        turn_id: str,
        events: Sequence[TraceEvent],
        end_payload: dict[str, Any],
    ) -> list[Score]:
        """The built-in evaluators' scores of a turn about to end: `events` as stored so far
        and the `turn_end` payload about to be stored with them (one transaction)."""
