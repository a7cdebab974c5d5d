"""Values that describe a turn: what is asked, and how it ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..project import Project

COMPLETED = "completed"
CANCELLED = "cancelled"
MAX_STEPS = "max_steps"
ERROR = "error"


class TurnTimeout(Exception):
    """The turn's time limit (`turnTimeoutSeconds`) ran out: stored as an error, not raised."""


def new_turn_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Selection:
    start_line: int  # 0-based, as LSP
    start_character: int
    end_line: int
    end_character: int
    text: str


@dataclass
class TurnRequest:
    project: Project
    prompt: str  # as typed: this, and only this, is stored as the user message
    turn_id: str = field(default_factory=new_turn_id)
    active_file: str | None = None  # relative to the project root
    active_text: str | None = None
    selection: Selection | None = None
    # Extra instructions for this turn (a code action's task). Not stored as the user message.
    task: str | None = None
    source: str = "chat"  # chat | code_action | cli
    # The thread the turn continues or starts (storage/threads.py `ThreadStore.choose`);
    # None: the orchestrator picks the project's latest thread (or a new one).
    thread_id: str | None = None
    new_thread: bool = False  # thread_id is new: its row is written with this prompt


@dataclass
class TurnOutcome:
    turn_id: str
    project_id: str
    status: str
    answer: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    thread_id: str | None = None
    # Extra turn_end payload from turn-end checks (claims, critic verdicts).
    extra: dict[str, Any] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        return {
            "projectId": self.project_id,
            "turnId": self.turn_id,
            "threadId": self.thread_id,
            "status": self.status,
            "answer": self.answer,
            "toolCalls": [{"name": c["name"], "ok": c["ok"]} for c in self.tool_calls],
            # Not applied: "refused" or "error" says how (tools/edit.py).
            "edits": [
                {k: e[k] for k in ("path", "applied", "refused", "error") if k in e}
                for e in self.edits
            ],
        }
