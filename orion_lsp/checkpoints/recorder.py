"""`CheckpointingApplier`: a checkpoint before a turn's first change of each file.

Every edit a tool makes goes through the turn's `EditApplier` (the editor's
`workspace/applyEdit`, the CLI's disk writer, an ACP client), so wrapping it
is the one place that sees them all. The content stored is the one the edit
was computed against (`FileEdit.old_content`: the open buffer, else the
disk), or "absent" for a created file. A storage failure here raises
`StorageError` and the edit is not applied: a change Orion could not undo is
never made, and the turn stops (fail loud).
"""

from __future__ import annotations

from ..agent.tools.base import EditApplier, FileEdit
from ..storage import CheckpointStore


class CheckpointingApplier:
    def __init__(
        self,
        inner: EditApplier,
        store: CheckpointStore,
        project_id: str,
        thread_id: str | None,
    ) -> None:
        self._inner = inner
        self._store = store
        self._project_id = project_id
        self._thread_id = thread_id

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        before = None if edit.create else edit.old_content
        await self._store.record_before(
            self._project_id, self._thread_id, turn_id, edit.rel_path, before
        )
        applied = await self._inner.apply(edit, turn_id)
        if applied:
            await self._store.record_after(turn_id, edit.rel_path, edit.new_content)
        return applied
