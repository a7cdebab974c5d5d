"""One running turn, and how it ended.

`RunningTurn` holds what every step of the loop shares (request, model, tool
context, sink, settings, plan, messages, answer so far, steps, deadline) and
which of the turn's rows are already in the ledger, so that writing its end
is idempotent. `ending_of` is the one place that maps how a turn stopped to
what is stored (`status`, `error`) and whether the error goes on to the caller.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..storage import StorageError, TraceEvent
from .model import Model, ModelError
from .protocols import TurnSink
from .tools.base import ToolContext
from .turn import CANCELLED, ERROR, TurnOutcome, TurnRequest, TurnTimeout
from .turn_plan import TurnPlan

# The error stored for a turn stopped by the ledger itself (the user gets the
# full StorageError text; the ledger row needs no database path in it).
STORAGE_ERROR = "storage error"
INTERNAL_ERROR = "internal error"


@dataclass(frozen=True)
class Ending:
    """How a turn ended: what `turn_end` stores, and the error raised after it, if any."""

    status: str
    error: str | None = None
    reraise: BaseException | None = None


def ending_of(exc: BaseException) -> Ending:
    """The ending of a turn stopped by `exc`.

    Cancellation and the time limit are results (the caller gets the outcome);
    storage and model failures are stored, then raised so the front end can
    report them (-32803). Anything else is a bug: the turn is still closed in
    the ledger, and the exception goes on to the front end's error boundary.
    """
    if isinstance(exc, asyncio.CancelledError):
        return Ending(CANCELLED)
    if isinstance(exc, TurnTimeout):
        return Ending(ERROR, str(exc))
    if isinstance(exc, StorageError):
        return Ending(ERROR, STORAGE_ERROR, exc)
    if isinstance(exc, ModelError):
        return Ending(ERROR, str(exc), exc)
    return Ending(ERROR, INTERNAL_ERROR, exc)


@dataclass
class RunningTurn:
    req: TurnRequest
    model: Model
    ctx: ToolContext
    sink: TurnSink
    settings: Settings
    started: float = field(default_factory=time.monotonic)
    messages: list[dict[str, Any]] = field(default_factory=list)
    current: int = 0  # index in `messages` of this turn's user message
    answer: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    critic: dict[str, Any] | None = None
    end_extra: dict[str, Any] = field(default_factory=dict)  # from the turn-end checks
    # `in_ledger`: its turn_start and user row are stored; `closed`: its turn_end and answer.
    in_ledger: bool = False
    closed: bool = False
    # The turn's trace events as stored (redacted): what the evaluators read at its end.
    events: list[TraceEvent] = field(default_factory=list)
    _plan: TurnPlan | None = None

    @property
    def turn_id(self) -> str:
        return self.req.turn_id

    @property
    def plan(self) -> TurnPlan:
        if self._plan is None:
            raise RuntimeError("the turn has no plan yet")
        return self._plan

    @plan.setter
    def plan(self, plan: TurnPlan) -> None:
        self._plan = plan

    @property
    def text(self) -> str:
        return "".join(self.answer)

    def remaining_s(self) -> float:
        return self.started + self.settings.turn_timeout_s - time.monotonic()

    async def say(self, text: str) -> None:
        """Add text to the answer and stream it to the sink."""
        if text:
            self.answer.append(text)
            await self.sink.delta(self.turn_id, text)

    def outcome(self, ending: Ending) -> TurnOutcome:
        return TurnOutcome(
            turn_id=self.turn_id,
            project_id=self.req.project.project_id,
            status=ending.status,
            answer=self.text,
            tool_calls=self.tool_calls,
            edits=list(self.ctx.edits),
            error=ending.error,
            thread_id=self.req.thread_id,
            extra=self.end_extra,
        )

    def end_payload(self, ending: Ending) -> dict[str, Any]:
        return {
            **self.end_extra,
            "critic": self.critic,
            "status": ending.status,
            "error": ending.error,
            "steps": self.steps,
            "durationMs": int((time.monotonic() - self.started) * 1000),
            "answerChars": len(self.text),
            "toolCalls": self.tool_calls,
            "edits": list(self.ctx.edits),
        }
