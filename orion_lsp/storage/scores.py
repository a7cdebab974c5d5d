"""`ScoreStore`: evaluations of turns (table `scores`, docs/protocol.md#scores).

A score is keyed by `(turn_id, step, name, source_id)`: writing it again
replaces the old value (a second rating of a turn, an evaluator re-run by
`orion eval`), so re-running never adds duplicate rows. `step` 0 is the
whole turn. `source` says who judged: `code` (a built-in evaluator), `llm`
(a critic model) or `human` (the user's rating, a rewind).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from orion_lsp.storage.database import Database, utc_now

log = logging.getLogger(__name__)

SOURCES = ("code", "llm", "human")
_COLUMNS = (
    "project_id, turn_id, step, name, value, label, source, source_id, explanation, created_at"
)
_UPSERT_SQL = (
    f"INSERT INTO scores ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (turn_id, step, name, source_id) DO UPDATE SET"
    " value = excluded.value, label = excluded.label, source = excluded.source,"
    " explanation = excluded.explanation, created_at = excluded.created_at,"
    " project_id = excluded.project_id"
)


@dataclass(frozen=True)
class Score:
    project_id: str
    turn_id: str
    name: str
    source: str
    value: float | None = None
    label: str | None = None
    step: int = 0
    source_id: str = ""
    explanation: str | None = None
    created_at: str = ""

    def __post_init__(self) -> None:
        # Programming errors, not storage failures: never shown as one.
        if self.source not in SOURCES:
            raise ValueError(f"score source must be one of {SOURCES}, not {self.source!r}")
        if self.step < 0:
            raise ValueError("score step must not be negative")

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Score:
        return cls(
            project_id=row["project_id"],
            turn_id=row["turn_id"],
            name=row["name"],
            source=row["source"],
            value=row["value"],
            label=row["label"],
            step=row["step"],
            source_id=row["source_id"],
            explanation=row["explanation"],
            created_at=row["created_at"],
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "turnId": self.turn_id,
            "step": self.step,
            "name": self.name,
            "value": self.value,
            "label": self.label,
            "source": self.source,
            "sourceId": self.source_id,
            "explanation": self.explanation,
            "createdAt": self.created_at,
        }


async def upsert_scores(
    conn: aiosqlite.Connection, scores: Sequence[Score], redactor: Any = None
) -> None:
    """Write scores inside the caller's transaction (e.g. with a rewind)."""
    now = utc_now()
    rows = []
    for s in scores:
        explanation = s.explanation
        if explanation is not None and redactor is not None:
            explanation = redactor(explanation)
        value = None if s.value is None else float(s.value)
        rows.append(
            (s.project_id, s.turn_id, s.step, s.name, value, s.label, s.source, s.source_id,
             explanation, s.created_at or now)
        )  # fmt: skip
    await conn.executemany(_UPSERT_SQL, rows)


class ScoreStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Called with the scores after they are committed (telemetry sends late
        # scores); an observer must not raise, and one that does is only logged.
        self.observers: list[Callable[[Sequence[Score]], None]] = []

    async def put(
        self,
        *scores: Score,
        alongside: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
    ) -> None:
        """Write (or replace) scores in one transaction; committed on return.

        `alongside` writes other rows in the same transaction (a rewind marks
        its turns together with their `rewound` scores).
        """
        if not scores:
            return

        async def write(conn: aiosqlite.Connection) -> None:
            if alongside is not None:
                await alongside(conn)
            await upsert_scores(conn, scores, self.db.redactor)

        await self.db.write(write)
        for observer in self.observers:
            try:
                observer(scores)
            except Exception:
                log.exception("score observer failed")

    async def for_turn(self, turn_id: str) -> list[Score]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM scores WHERE turn_id = ? ORDER BY step, name, source_id",
            (turn_id,),
        )
        return [Score.from_row(r) for r in rows]

    async def for_turns(self, turn_ids: Sequence[str]) -> dict[str, list[Score]]:
        out: dict[str, list[Score]] = {t: [] for t in turn_ids}
        ids = list(turn_ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM scores WHERE turn_id IN ({marks})"
                " ORDER BY turn_id, step, name, source_id",
                part,
            )
            for r in rows:
                out[r["turn_id"]].append(Score.from_row(r))
        return out
