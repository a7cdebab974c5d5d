"""`Rewinder`: `orion.rewind` / `orion rewind`, files and conversation back together.

Rewinding turn T takes T and every later turn of its thread (not rewound
yet) back: each file they changed returns to its content before the first of
them changed it (or is removed, when one of them created it), and the turns
are marked rewound (left out of the model's history and of the default
history view, traces kept, score `rewound`).

Order, so that a failure or a kill leaves nothing half done that a second
run would not finish:
1. every file's current content is read (the open buffer, else the disk)
   and compared with what the last of those turns left. A file that differs
   is a conflict, unless it already is what rewind would restore (a rewind
   interrupted earlier); any conflict restores nothing (`RewindConflict`)
   unless `force`;
2. every checkpoint is read from the ledger (a storage error stops here,
   before any file is touched);
3. one restore per file through the `RestoreTarget` (an undoable
   `workspace/applyEdit` in the editor, an atomic write on disk);
4. when every file is restored, the turns are marked, in one transaction.

Paths inside `.git` are never read or written (reported as not applied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

from ..storage import CheckpointStore, FileChange, ScoreStore, ThreadBusy
from ..storage.blobs import text_hash
from ..storage.trace import live_open_turns

CONFLICT_PREFIX = "Orion rewind conflict: "
GIT_NOTE = "rewind never reads or writes inside .git"


class NotRewindable(ValueError):
    """The turn cannot be rewound (unknown, another project's, no thread, rewound already)."""


class RewindConflict(Exception):
    """Files changed since the turns left them; nothing was restored."""

    def __init__(self, turn_id: str, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        names = ", ".join(self.paths)
        super().__init__(
            f"{CONFLICT_PREFIX}{names} changed since Orion left {'it' if len(paths) == 1 else 'them'}"
            f" (rewinding turn {turn_id}); nothing was restored. Rewind with force to restore anyway."
        )


class Unreadable(Exception):
    """The current file cannot be compared (outside the root now, not text, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Restored:
    path: str
    applied: bool
    note: str | None = None  # why not, or what was done instead (e.g. emptied)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"path": self.path, "applied": self.applied}
        if self.note:
            wire["note"] = self.note
        return wire


class RestoreTarget(Protocol):
    """Where files are read and restored: the editor's buffers, or the disk."""

    async def read(self, path: str) -> str | None:
        """The current text of `path` (relative to the root); None when it does not exist.

        Raises `Unreadable` when it cannot be compared."""

    async def restore(
        self, path: str, content: str | None, expected: str | None, *, force: bool
    ) -> Restored:
        """Make `path` hold `content` (None: remove it).

        Unless `force`, only while it still holds `expected` (None: absent),
        what `read` returned: a file changed in between is not overwritten."""


@dataclass(frozen=True)
class PlannedFile:
    path: str
    before_hash: str | None  # what rewind restores; None: the file did not exist
    after_hash: str  # what the last of the rewound turns left


@dataclass(frozen=True)
class RewindPlan:
    turn_id: str
    project_id: str
    thread_id: str
    turns: list[str]
    files: list[PlannedFile]


def is_git_path(path: str) -> bool:
    return any(part.lower() == ".git" for part in PurePosixPath(path).parts)


def plan_files(changes: Sequence[FileChange]) -> list[PlannedFile]:
    """Per path: the content before the first change and after the last (changes in order)."""
    first: dict[str, FileChange] = {}
    last: dict[str, FileChange] = {}
    for c in changes:
        first.setdefault(c.path, c)
        last[c.path] = c
    return [PlannedFile(p, first[p].before_hash, last[p].after_hash) for p in first]


def _digest(text: str | None) -> str | None:
    return None if text is None else text_hash(text)


class Rewinder:
    def __init__(self, checkpoints: CheckpointStore, scores: ScoreStore | None = None) -> None:
        self._checkpoints = checkpoints
        self._scores = scores

    async def plan(self, project_id: str, turn_id: str) -> RewindPlan:
        ref = await self._checkpoints.turn(turn_id)
        if ref is None or ref.project_id != project_id:
            raise NotRewindable(f"unknown turn {turn_id!r} in this project")
        if ref.thread_id is None:
            raise NotRewindable(f"turn {turn_id!r} belongs to no thread")
        if ref.rewound_at is not None:
            raise NotRewindable(f"turn {turn_id!r} was rewound already ({ref.rewound_at})")
        running = await live_open_turns(self._checkpoints.db, ref.thread_id)
        if running:
            raise ThreadBusy(ref.thread_id, running)
        turns = await self._checkpoints.turns_from(ref)
        files = plan_files(await self._checkpoints.changes(turns))
        return RewindPlan(turn_id, project_id, ref.thread_id, turns, files)

    async def run(
        self,
        project_id: str,
        turn_id: str,
        target: RestoreTarget,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        plan = await self.plan(project_id, turn_id)
        skipped = [f for f in plan.files if is_git_path(f.path)]
        files = [f for f in plan.files if not is_git_path(f.path)]
        current: dict[str, str | None] = {}
        conflicts: list[str] = []
        done: set[str] = set()
        for f in files:
            try:
                text = await target.read(f.path)
            except Unreadable:
                conflicts.append(f.path)
                continue
            current[f.path] = text
            digest = _digest(text)
            if digest == f.before_hash:
                done.add(f.path)  # already as rewind leaves it (e.g. an interrupted rewind)
            elif digest != f.after_hash:
                conflicts.append(f.path)
        if dry_run:
            return {
                "turnId": turn_id,
                "threadId": plan.thread_id,
                "dryRun": True,
                "files": [f.path for f in plan.files],
                "conflicts": conflicts,
                "rewoundTurns": plan.turns,
            }
        if conflicts and not force:
            raise RewindConflict(turn_id, conflicts)
        contents = {
            f.path: None
            if f.before_hash is None
            else await self._checkpoints.content(f.before_hash)
            for f in files
            if f.path not in done
        }
        restored: list[Restored] = []
        for f in files:
            if f.path in done:
                restored.append(Restored(f.path, True))
                continue
            expected = current.get(f.path)
            restored.append(await target.restore(f.path, contents[f.path], expected, force=force))
        restored.extend(Restored(f.path, False, GIT_NOTE) for f in skipped)
        complete = all(r.applied for r in restored if not is_git_path(r.path))
        if complete:
            await self._checkpoints.mark_rewound(project_id, plan.turns, self._scores)
        return {
            "turnId": turn_id,
            "threadId": plan.thread_id,
            "restored": [r.to_wire() for r in restored],
            "rewoundTurns": plan.turns if complete else [],
        }
