"""`TraceStore`: the per-turn event ledger (`trace_events`) behind `orion traces`.

Every event is its own committed transaction (docs/protocol.md#tables:
committed before the turn goes on). `seq` is computed inside the same BEGIN IMMEDIATE
transaction as the insert, so two processes appending to one file can never
produce duplicate or missing sequence numbers. Each row also records the pid
of the writing process so `mark_interrupted` can close turns whose process
died (kill -9) without touching turns another live editor is running.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import aiosqlite

from orion_lsp.processes import pid_alive
from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.errors import StorageError
from orion_lsp.storage.payload import encode_payload
from orion_lsp.storage.requests import (
    MissingBlob,
    RequestPacker,
    resolve_request,
    store_request_blobs,
)
from orion_lsp.storage.scores import Score, upsert_scores

if TYPE_CHECKING:  # chat imports threads, which imports this module
    from orion_lsp.storage.chat import PendingMessage

log = logging.getLogger(__name__)

EVENT_TYPES = ("turn_start", "llm_call", "tool_call", "tool_result", "turn_end")
_COLUMNS = "id, project_id, turn_id, seq, type, payload, created_at"

# Single statement: the next seq comes from the UNIQUE (turn_id, seq) index.
_APPEND_SQL = (
    "INSERT INTO trace_events"
    " (project_id, turn_id, seq, type, payload, created_at, pid, thread_id)"
    " SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM trace_events WHERE turn_id = ?"
    " RETURNING id, seq"
)


# The assistant message of a turn its process never finished (kill -9, crash, power).
INTERRUPTED_NOTE = "[interrupted: the Orion server stopped before this turn finished]"


async def _close_history(
    conn: aiosqlite.Connection, project_id: str, turn_id: str, now: str
) -> None:
    rows = await conn.execute_fetchall(
        "SELECT role, thread_id FROM chat_messages WHERE turn_id = ? AND project_id = ?",
        (turn_id, project_id),
    )
    roles = {r[0]: r[1] for r in rows}
    if "user" not in roles or "assistant" in roles:
        return
    texts = []
    for (payload,) in await conn.execute_fetchall(
        "SELECT payload FROM trace_events WHERE turn_id = ? AND type = 'llm_call' ORDER BY seq",
        (turn_id,),
    ):
        try:
            text = json.loads(payload).get("text")
        except (ValueError, AttributeError):
            text = None
        if isinstance(text, str):
            texts.append(text)
    answer = "".join(texts)
    content = f"{answer}\n\n{INTERRUPTED_NOTE}" if answer else INTERRUPTED_NOTE
    await conn.execute_fetchall(
        "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at, thread_id)"
        " VALUES (?, ?, 'assistant', ?, ?, ?)",
        (project_id, turn_id, content, now, roles["user"]),
    )


@dataclass(frozen=True)
class TraceEvent:
    id: int
    project_id: str
    turn_id: str
    seq: int
    type: str
    payload: dict[str, Any]
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TraceEvent:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            turn_id=row["turn_id"],
            seq=row["seq"],
            type=row["type"],
            payload=json.loads(row["payload"]),
            created_at=row["created_at"],
        )


class TraceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._packer = RequestPacker(db.redactor)
        # Called with each event after it is committed (e.g. telemetry export on
        # turn_end). An observer must not raise; if one does, it is logged and the
        # turn goes on: the event is already in the ledger.
        self.observers: list[Callable[[TraceEvent], None]] = []

    async def append(
        self,
        project_id: str,
        turn_id: str,
        type: str,
        payload: dict[str, Any],
        *,
        thread_id: str | None = None,
        scores: Sequence[Score] = (),
        messages: Sequence[PendingMessage] = (),
    ) -> TraceEvent:
        """Append one event (seq = 1, 2, 3... within the turn); committed on return.

        The payload is redacted and stored as JSON; the returned event carries
        the stored (redacted) payload. `thread_id` files the event under its
        thread (None: a turn in no thread, e.g. a replay sample). `scores` are
        upserted in the same transaction (a turn_end and the turn's built-in
        scores: both or neither). `messages` are chat rows of the same
        transaction (a turn's answer row with its turn_end: a kill between two
        commits would leave an answer whose turn is later marked interrupted).
        """
        if type not in EVENT_TYPES:
            raise ValueError(f"trace event type must be one of {EVENT_TYPES}, not {type!r}")
        packed = None
        if isinstance(payload, dict) and isinstance(payload.get("request"), dict):
            # An exact model request: its messages go to the blob store, once each.
            packed = self._packer.pack(payload["request"])
            payload = {**payload, "request": packed.stored}
        text = encode_payload(payload, self.db.redactor)
        created_at = utc_now()
        params = (project_id, turn_id, type, text, created_at, os.getpid(), thread_id, turn_id)

        async def insert(conn: aiosqlite.Connection) -> tuple[int, int]:
            if packed is not None:
                await store_request_blobs(conn, packed, turn_id)
            rows = await conn.execute_fetchall(_APPEND_SQL, params)
            row = next(iter(rows))
            if scores:
                await upsert_scores(conn, scores, self.db.redactor)
            for message in messages:
                await message.write(conn)
            return int(row[0]), int(row[1])

        new_id, seq = await self.db.write(insert)
        event = TraceEvent(new_id, project_id, turn_id, seq, type, json.loads(text), created_at)
        for observer in self.observers:
            try:
                observer(event)
            except Exception:
                log.exception("trace observer failed")
        return event

    async def events(self, project_id: str, turn_id: str) -> list[TraceEvent]:
        """The events of one turn, ordered by seq."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM trace_events WHERE turn_id = ? AND project_id = ?"
            " ORDER BY seq",
            (turn_id, project_id),
        )
        return [TraceEvent.from_row(r) for r in rows]

    async def resolved_events(self, project_id: str, turn_id: str) -> list[TraceEvent]:
        """The events of one turn with every request resolved in full."""
        return [await self.resolved(e) for e in await self.events(project_id, turn_id)]

    async def resolved(self, event: TraceEvent) -> TraceEvent:
        """The event with its `request` (if any) resolved in full from the blob store."""
        stored = event.payload.get("request")
        if not isinstance(stored, dict):
            return event
        try:
            request = await resolve_request(self.db.fetchall, stored)
        except (MissingBlob, ValueError) as exc:  # the ledger lost or mangled a blob
            raise StorageError(str(self.db.path), f"turn {event.turn_id}: {exc}") from None
        return replace(event, payload={**event.payload, "request": request})

    async def last_turn_id(self, project_id: str) -> str | None:
        """The most recently started turn of the project, or None."""
        row = await self.db.fetchone(
            "SELECT turn_id FROM trace_events WHERE project_id = ? AND type = 'turn_start'"
            " ORDER BY id DESC LIMIT 1",
            (project_id,),
        )
        return None if row is None else str(row[0])

    async def turn_ids(self, project_id: str, limit: int = 20) -> list[str]:
        """The project's most recently started turns, most recent first."""
        if limit <= 0:
            return []
        rows = await self.db.fetchall(
            "SELECT turn_id FROM trace_events WHERE project_id = ? AND type = 'turn_start'"
            " ORDER BY id DESC LIMIT ?",
            (project_id, limit),
        )
        return [str(r[0]) for r in rows]

    async def mark_interrupted(self) -> list[str]:
        """Close turns left open by a dead process with turn_end {status: 'interrupted'}.

        A turn is open when it has a turn_start and no turn_end. It is closed
        only when the process that started it is gone (its pid no longer
        exists), so a second editor's server starting up does not end the
        first one's running turn. Returns the closed turn ids, oldest first.

        In the same transaction, a closed turn that has its user message but no
        assistant message gets one: the text of its completed model calls (from
        their `llm_call` events) followed by `INTERRUPTED_NOTE`, so history keeps
        one user and one assistant row per turn and shows that the turn did not
        finish (docs/protocol.md#trace-events).
        """
        payload = encode_payload({"status": "interrupted"}, None)

        async def close_open_turns(conn: aiosqlite.Connection) -> list[str]:
            rows = await conn.execute_fetchall(
                "SELECT s.project_id, s.turn_id, s.pid, s.thread_id FROM trace_events AS s"
                " WHERE s.type = 'turn_start' AND NOT EXISTS (SELECT 1 FROM trace_events AS e"
                "   WHERE e.type = 'turn_end' AND e.turn_id = s.turn_id)"
                " ORDER BY s.id"
            )
            closed: list[str] = []
            now = utc_now()
            for project_id, turn_id, pid, thread_id in rows:
                if pid_alive(pid):
                    continue
                # execute_fetchall consumes the RETURNING row: an unread
                # statement would make the COMMIT fail with SQLITE_BUSY.
                await conn.execute_fetchall(
                    _APPEND_SQL,
                    (
                        project_id,
                        turn_id,
                        "turn_end",
                        payload,
                        now,
                        os.getpid(),
                        thread_id,
                        turn_id,
                    ),
                )
                await _close_history(conn, project_id, turn_id, now)
                closed.append(turn_id)
            return closed

        closed = await self.db.write(close_open_turns)
        if closed:
            log.warning("marked %d interrupted turn(s): %s", len(closed), ", ".join(closed))
        return closed


async def live_open_turns(db: Database, thread_id: str) -> list[str]:
    """Turns of the thread that started, have not ended, and whose process lives.

    Deleting or rewinding a thread under a running turn would race its writes.
    """
    rows = await db.fetchall(
        "SELECT s.turn_id, s.pid FROM trace_events AS s"
        " WHERE s.thread_id = ? AND s.type = 'turn_start' AND NOT EXISTS"
        " (SELECT 1 FROM trace_events AS e WHERE e.type = 'turn_end' AND e.turn_id = s.turn_id)"
        " ORDER BY s.id",
        (thread_id,),
    )
    return [str(r[0]) for r in rows if pid_alive(r[1])]
