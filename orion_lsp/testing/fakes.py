"""In-memory fakes of the tool seams; they ship with the package.

See docs/architecture.md#seams-are-protocols.

``MemoryDocuments`` stands in for the editor's open buffers and
``RecordingApplier`` for ``workspace/applyEdit``: it records every edit and
answers with a scripted accept/refuse. ``MemoryRestoreTarget`` is a workspace
in a dict for rewind.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..agent.tools.base import EditApplier, FileEdit, OpenDocument, ToolContext
from ..checkpoints.rewind import Restored


class MemoryDocuments:
    """Open buffers keyed by absolute real path."""

    def __init__(self) -> None:
        self.docs: dict[str, OpenDocument] = {}

    def open(self, path: Path, text: str, version: int | None = 1) -> None:
        self.docs[os.path.realpath(path)] = OpenDocument(text, version)

    def get(self, path: Path) -> OpenDocument | None:
        return self.docs.get(str(path))


class RecordingApplier:
    """Records edits; ``accept=False`` plays a user who refuses them."""

    def __init__(self, accept: bool = True, documents: MemoryDocuments | None = None) -> None:
        self.accept = accept
        self.edits: list[tuple[FileEdit, str]] = []
        # When given, accepted edits update these buffers like an editor would.
        self.documents = documents

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        self.edits.append((edit, turn_id))
        if self.accept and self.documents is not None:
            old = self.documents.get(edit.path)
            if old is not None:
                version = None if old.version is None else old.version + 1
                self.documents.docs[str(edit.path)] = OpenDocument(edit.new_content, version)
        return self.accept


def make_context(
    root: Path,
    *,
    documents: MemoryDocuments | None = None,
    applier: EditApplier | None = None,
    turn_id: str = "turn-1",
    max_output_chars: int = 20_000,
) -> ToolContext:
    """A ToolContext over ``root`` with in-memory buffers and a recording applier."""
    docs = documents if documents is not None else MemoryDocuments()
    return ToolContext(
        root=Path(os.path.realpath(root)),
        turn_id=turn_id,
        documents=docs,
        applier=applier if applier is not None else RecordingApplier(documents=docs),
        max_output_chars=max_output_chars,
    )


class RecordingSink:
    """A `TurnSink` that keeps what a turn reports (deltas, tool events, progress)."""

    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.tools: list[tuple[str, str, bool | None]] = []
        self.progress_messages: list[str] = []

    async def delta(self, turn_id: str, text: str) -> None:
        self.deltas.append(text)

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        self.tools.append((type, name, ok))

    async def progress(self, turn_id: str, message: str) -> None:
        self.progress_messages.append(message)


class MemoryRestoreTarget:
    """A workspace held in a dict, for rewind (`checkpoints.rewind.RestoreTarget`).

    `files` maps relative paths to text; `refuse` names paths whose restore
    fails (an editor that declines the edit); every restore is recorded.
    """

    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files: dict[str, str] = dict(files or {})
        self.refuse: set[str] = set()
        self.restores: list[tuple[str, str | None]] = []
        self.reads: list[str] = []

    async def read(self, path: str) -> str | None:
        self.reads.append(path)
        return self.files.get(path)

    async def restore(
        self, path: str, content: str | None, expected: str | None, *, force: bool
    ) -> Restored:
        self.restores.append((path, content))
        if path in self.refuse:
            return Restored(path, False, "refused by the test")
        if not force and self.files.get(path) != expected:
            return Restored(path, False, "changed meanwhile")
        if content is None:
            self.files.pop(path, None)
        else:
            self.files[path] = content
        return Restored(path, True)
