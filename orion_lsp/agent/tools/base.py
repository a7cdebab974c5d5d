"""The seam between the orchestrator and the tools the model may call.

A tool gets validated JSON arguments and a ``ToolContext`` (workspace root,
open editor buffers, the edit applier, what was read this turn) and returns a
``ToolResult``. Refusals are results with ``ok=False``, never exceptions, so
the orchestrator can store them and hand them back to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    # What the model sees (may be long, already capped by the tool).
    content: str
    # One line for the editor (`orion/toolEvent.summary`) and the trace.
    summary: str
    # Structured extras for the trace (e.g. {"path": ..., "applied": true}).
    data: dict[str, Any] = field(default_factory=dict)
    # The content was cut to the output limit (the model is told where); `tool_result.truncated`.
    truncated: bool = False


@dataclass(frozen=True)
class OpenDocument:
    text: str
    version: int | None


class DocumentSource(Protocol):
    """Open editor buffers: tools must read these, not stale disk."""

    def get(self, path: Path) -> OpenDocument | None:
        """The open buffer for an absolute real path, or None when not open."""


@dataclass(frozen=True)
class FileEdit:
    """One edit a tool wants to make, already checked (read before claim)."""

    path: Path  # absolute real path inside the root
    rel_path: str  # POSIX path relative to the root, as the model named it
    create: bool  # True: a new file with `new_content`
    old_content: str  # full text the edit was computed against ("" on create)
    new_content: str  # full text after the edit
    # `old_content[start:end]` (code-point offsets; 0, 0 on create) becomes
    # `new_text`. Offsets, not LSP positions: the editor's applier converts them
    # in the position encoding it negotiated, the disk applier needs none.
    start: int
    end: int
    new_text: str
    # Version of the open buffer the edit was computed against, if open.
    version: int | None = None


class EditFailed(Exception):
    """The editor or the disk could not apply an edit: a failure, not anyone's refusal.

    The model and the turn's result must not hear "refused" for this (a client
    that errors on `workspace/applyEdit` said nothing of the user's choice).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EditApplier(Protocol):
    """Where edits go: `workspace/applyEdit` in the editor, the disk in the CLI."""

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        """Apply one edit; True when it was applied, False when the user refused it.

        Raises `EditRefused` (agent/guard.py) to refuse it for a stated reason and
        `EditFailed` when it could not be applied.
        """


@dataclass
class ToolContext:
    root: Path  # absolute real path of the project root
    turn_id: str
    documents: DocumentSource
    applier: EditApplier
    # rel_path -> sha256 of the text the model read this turn (read before claim)
    read_files: dict[str, str] = field(default_factory=dict)
    # What each edit/create of this turn came to: {"path", "applied"}, plus
    # "refused" or "error" (why, for the model and the turn's result) when not applied.
    edits: list[dict[str, Any]] = field(default_factory=list)
    # Upper bound on characters returned to the model by a single tool call.
    max_output_chars: int = 20_000


class Tool(Protocol):
    name: str
    description: str
    # JSON schema of the arguments (OpenAI "function.parameters").
    parameters: dict[str, Any]

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...


class NoDocuments:
    """A DocumentSource with nothing open (the CLI)."""

    def get(self, path: Path) -> OpenDocument | None:
        return None
