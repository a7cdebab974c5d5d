"""Seams between the turn loop and its collaborators (docs/architecture.md#seams-are-protocols).

Fakes for these live in `orion_lsp.testing`; the editor implementation lives
in `orion_lsp.server`, the terminal one in `orion_lsp.cli`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..project import Project


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
