"""Seams between the turn loop and its collaborators (HOUSE_STYLE habit 3).

Fakes for these live in `orion_lsp.testing`; the editor implementation lives
in `orion_lsp.server`, the terminal one in `orion_lsp.cli`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


class ContextProvider(Protocol):
    """Builds the repo map for a turn; must not wait for a full index."""

    async def context_for(
        self,
        project: Project,
        *,
        prompt: str,
        active_file: str | None,
        touched: list[str],
        budget_tokens: int,
    ) -> ContextBlock: ...


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
