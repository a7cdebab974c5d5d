"""`CheckpointStore`: files as a turn found them, for rewind (table `checkpoints`).

A checkpoint row is written before a turn's first change of a file: the
content the edit was computed against (the open buffer, else the disk),
stored as a blob (storage/blobs.py: content-addressed, so a file edited by
ten turns is not stored ten times), or `before_hash` NULL for a file the turn
creates. When the change is applied, `after_hash` records what the turn left
(rewind compares it with the file's current content; the text is a blob too,
for the evaluators). A row whose change was never applied keeps `after_hash`
NULL and is no change.

Rewind reads the thread's turns from the one asked for, and marks them
rewound (`chat_messages.rewound_at`, a `rewound` score) in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from orion_lsp.storage.blobs import put_text, read_text
from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.errors import storage_error
from orion_lsp.storage.scores import Score, ScoreStore

REWOUND_SCORE = "rewound"
_BATCH = 500  # ids per IN (...), below SQLite's variable limit


@dataclass(frozen=True)
class TurnRef:
    """Where a turn lives: its project and thread, and the order of its prompt."""

    turn_id: str
    project_id: str
    thread_id: str | None
    message_id: int
    rewound_at: str | None


@dataclass(frozen=True)
class FileChange:
    """One file a turn changed: its content before (None: absent) and after (hashes)."""

    turn_id: str
    path: str
    before_hash: str | None
    after_hash: str


class CheckpointStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_before(
        self,
        project_id: str,
        thread_id: str | None,
        turn_id: str,
        path: str,
        content: str | None,
    ) -> None:
        """Keep `content` (None: the file does not exist) unless the turn changed it already.

        A turn's earlier attempt that was refused (after_hash still NULL) is
        replaced: the content before the first *applied* change is the one
        that counts. Committed on return; a failure is a StorageError.
        """

        async def record(conn: aiosqlite.Connection) -> None:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT after_hash FROM checkpoints WHERE turn_id = ? AND path = ?",
                    (turn_id, path),
                )
            )
            if rows and rows[0][0] is not None:
                return
            before = None if content is None else await put_text(conn, content, turn_id)
            await conn.execute_fetchall(
                "INSERT INTO checkpoints"
                " (project_id, thread_id, turn_id, path, before_hash, after_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, NULL, ?)"
                " ON CONFLICT (turn_id, path) DO UPDATE SET before_hash = excluded.before_hash"
                " WHERE checkpoints.after_hash IS NULL",
                (project_id, thread_id, turn_id, path, before, utc_now()),
            )

        await self.db.write(record)

    async def record_after(self, turn_id: str, path: str, content: str) -> None:
        """The change was applied: remember what the turn left.

        Stored as a blob too (the `tests` evaluator runs the project as the
        turn left it); it is the next turn's "before", so the blob store keeps
        it once.
        """

        async def record(conn: aiosqlite.Connection) -> None:
            digest = await put_text(conn, content, turn_id)
            await conn.execute_fetchall(
                "UPDATE checkpoints SET after_hash = ? WHERE turn_id = ? AND path = ?",
                (digest, turn_id, path),
            )

        await self.db.write(record)

    async def turn(self, turn_id: str) -> TurnRef | None:
        """The turn's project, thread and prompt row; None when no prompt of it is stored."""
        row = await self.db.fetchone(
            "SELECT turn_id, project_id, thread_id, id, rewound_at FROM chat_messages"
            " WHERE turn_id = ? AND role = 'user' ORDER BY id LIMIT 1",
            (turn_id,),
        )
        if row is None:
            return None
        return TurnRef(row[0], row[1], row[2], int(row[3]), row[4])

    async def turns_from(self, ref: TurnRef) -> list[str]:
        """This turn and the later ones of its thread that are not rewound, in order."""
        rows = await self.db.fetchall(
            "SELECT turn_id FROM chat_messages WHERE thread_id = ? AND role = 'user'"
            " AND id >= ? AND rewound_at IS NULL ORDER BY id",
            (ref.thread_id, ref.message_id),
        )
        return list(dict.fromkeys(str(r[0]) for r in rows))

    async def changes(self, turn_ids: Sequence[str]) -> list[FileChange]:
        """The applied changes of these turns, in the order of `turn_ids`, then as made."""
        order = {t: i for i, t in enumerate(turn_ids)}
        found: list[tuple[int, int, FileChange]] = []
        ids = list(turn_ids)
        for start in range(0, len(ids), _BATCH):
            part = ids[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            for r in await self.db.fetchall(
                "SELECT id, turn_id, path, before_hash, after_hash FROM checkpoints"
                f" WHERE turn_id IN ({marks}) AND after_hash IS NOT NULL",
                part,
            ):
                change = FileChange(r[1], r[2], r[3], r[4])
                found.append((order[change.turn_id], int(r[0]), change))
        return [c for _, _, c in sorted(found, key=lambda x: (x[0], x[1]))]

    async def changed_paths(self, turn_ids: Sequence[str]) -> dict[str, list[str]]:
        """turn id -> the paths it changed (for the history view's rewind buttons)."""
        out: dict[str, list[str]] = {}
        for change in await self.changes(turn_ids):
            out.setdefault(change.turn_id, []).append(change.path)
        return out

    async def content(self, digest: str) -> str:
        """The stored text of a checkpoint; a missing blob is a storage error."""
        try:
            text = await read_text(self.db.fetchall, digest)
        except LookupError as exc:
            raise storage_error(str(self.db.path), str(exc), self.db.redactor) from exc
        if text is None:
            raise storage_error(
                str(self.db.path), f"checkpoint blob {digest[:12]} is missing", self.db.redactor
            )
        return text

    async def mark_rewound(
        self, project_id: str, turn_ids: Sequence[str], scores: ScoreStore | None = None
    ) -> str:
        """Mark the turns rewound and score them `rewound`, in one transaction.

        The scores go through the shared ScoreStore (its observers, e.g.
        telemetry, see them). Returns the time stored in `rewound_at`.
        """
        now = utc_now()
        rewound = [Score(project_id, t, REWOUND_SCORE, "human", value=1) for t in turn_ids]

        async def mark(conn: aiosqlite.Connection) -> None:
            ids = list(turn_ids)
            for start in range(0, len(ids), _BATCH):
                part = ids[start : start + _BATCH]
                marks = ",".join("?" * len(part))
                await conn.execute_fetchall(
                    f"UPDATE chat_messages SET rewound_at = ? WHERE turn_id IN ({marks})"
                    " AND project_id = ? AND rewound_at IS NULL",
                    [now, *part, project_id],
                )

        await (scores or ScoreStore(self.db)).put(*rewound, alongside=mark)
        return now
