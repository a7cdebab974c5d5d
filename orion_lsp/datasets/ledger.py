"""A project's turns read back from the ledger, one at a time.

`iter_turns` walks `turn_start` rows in pages (by row id), so an export of
10,000 turns holds one page of ids and one turn at a time. Each `TurnRecord`
carries the turn's model steps with their exact requests resolved from the
blob store (on demand, one query a request) and the reply as the model gave it:

- native tool calls: `{"role": "assistant", "content": text, "tool_calls": [...]}`
  in the OpenAI wire shape (arguments as JSON text, as the model sent them);
- text tool mode: `{"role": "assistant", "content": text}`, the calls left in
  the text exactly as the model wrote them.

Failed attempts (retries) and critic calls are not steps. Deleted threads are
simply not there: deleting a thread deletes its rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..evals.policy import Label, label_turn
from ..storage import Score, ScoreStore, TraceEvent, TraceStore
from ..storage.requests import resolve_request

PAGE = 200


@dataclass
class Step:
    step: int
    stored: dict[str, Any]  # the request as stored (blob references)
    reply: dict[str, Any]  # the assistant message the model returned
    model: str
    text_mode: bool
    _fetch: Any = None
    _request: dict[str, Any] | None = None

    async def request(self) -> dict[str, Any]:
        """`{messages, tools, params}` exactly as sent (read from the blob store once)."""
        if self._request is None:
            self._request = await resolve_request(self._fetch, self.stored)
        return self._request

    @property
    def key(self) -> str:
        """The identity of the request (its messages and tools; not sampling params)."""
        refs = self.stored.get("messageRefs")
        if refs is not None:
            data = json.dumps([refs, self.stored.get("toolsRef")])
        else:  # a request stored whole (older rows)
            data = json.dumps([self.stored.get("messages"), self.stored.get("tools")],
                              sort_keys=True, ensure_ascii=False)  # fmt: skip
        return hashlib.sha256(data.encode()).hexdigest()


@dataclass
class TurnRecord:
    turn_id: str
    project_id: str
    status: str | None
    source: str | None
    model: str | None
    replay_of: dict[str, Any] | None
    steps: list[Step]
    scores: list[Score]
    label: Label
    critic: dict[str, Any] | None = None
    revision_step: int | None = None  # the step that answered the critic's request
    read_paths: list[str] = field(default_factory=list)

    @property
    def is_replay(self) -> bool:
        return self.source == "replay"

    def step(self, n: int) -> Step | None:
        return next((s for s in self.steps if s.step == n), None)


async def iter_turn_starts(traces: TraceStore, project_id: str) -> AsyncIterator[TraceEvent]:
    """Every `turn_start` of the project, oldest first, a page at a time."""
    last = 0
    while True:
        rows = await traces.db.fetchall(
            "SELECT id, project_id, turn_id, seq, type, payload, created_at FROM trace_events"
            " WHERE project_id = ? AND type = 'turn_start' AND id > ? ORDER BY id LIMIT ?",
            (project_id, last, PAGE),
        )
        if not rows:
            return
        for row in rows:
            yield TraceEvent.from_row(row)
        last = int(rows[-1]["id"])


async def iter_turns(
    traces: TraceStore, scores: ScoreStore, project_id: str
) -> AsyncIterator[TurnRecord]:
    """The project's turns, oldest first: a page of turns' events and scores per query."""
    page: list[str] = []
    async for start in iter_turn_starts(traces, project_id):
        page.append(start.turn_id)
        if len(page) == PAGE:
            for record in await _load_page(traces, scores, project_id, page):
                yield record
            page = []
    for record in await _load_page(traces, scores, project_id, page):
        yield record


async def _load_page(
    traces: TraceStore, scores: ScoreStore, project_id: str, turn_ids: list[str]
) -> list[TurnRecord]:
    if not turn_ids:
        return []
    marks = ",".join("?" * len(turn_ids))
    rows = await traces.db.fetchall(
        "SELECT id, project_id, turn_id, seq, type, payload, created_at FROM trace_events"
        f" WHERE project_id = ? AND turn_id IN ({marks}) ORDER BY turn_id, seq",
        (project_id, *turn_ids),
    )
    events: dict[str, list[TraceEvent]] = {t: [] for t in turn_ids}
    for row in rows:
        events[row["turn_id"]].append(TraceEvent.from_row(row))
    turn_scores = await scores.for_turns(turn_ids)
    return [_record(traces, project_id, t, events[t], turn_scores.get(t, [])) for t in turn_ids]


async def load_turn(
    traces: TraceStore, scores: ScoreStore, project_id: str, turn_id: str
) -> TurnRecord:
    events = await traces.events(project_id, turn_id)
    return _record(traces, project_id, turn_id, events, await scores.for_turn(turn_id))


def _record(
    traces: TraceStore,
    project_id: str,
    turn_id: str,
    events: list[TraceEvent],
    turn_scores: list[Score],
) -> TurnRecord:
    start = next((e.payload for e in events if e.type == "turn_start"), {})
    end = next((e.payload for e in reversed(events) if e.type == "turn_end"), {})
    steps: list[Step] = []
    revision_step = None
    read_paths: list[str] = []
    critic = end.get("critic") if isinstance(end.get("critic"), dict) else None
    seen_critic = False
    for e in events:
        p = e.payload
        if e.type == "tool_call" and isinstance(p.get("arguments"), dict):
            path = p["arguments"].get("path")
            if isinstance(path, str):
                read_paths.append(path)
        if e.type != "llm_call":
            continue
        if p.get("role") == "critic":
            seen_critic = True
            continue
        if p.get("error") or "text" not in p or not isinstance(p.get("request"), dict):
            continue
        step = Step(
            step=int(p.get("step") or len(steps) + 1),
            stored=p["request"],
            reply=reply_message(p),
            model=str(p.get("model") or start.get("model") or ""),
            text_mode=bool(p.get("textToolCalls")) or p.get("toolMode") == "text",
            _fetch=traces.db.fetchall,
        )
        steps.append(step)
        if seen_critic and revision_step is None:
            revision_step = step.step
    status = end.get("status") if isinstance(end.get("status"), str) else None
    return TurnRecord(
        turn_id=turn_id,
        project_id=project_id,
        status=status,
        source=start.get("source"),
        model=start.get("model"),
        replay_of=start.get("replayOf") if isinstance(start.get("replayOf"), dict) else None,
        steps=steps,
        scores=turn_scores,
        label=label_turn(status, turn_scores),
        critic=critic,
        revision_step=revision_step,
        read_paths=read_paths,
    )


def reply_message(p: dict[str, Any]) -> dict[str, Any]:
    text = p.get("text") or ""
    calls = p.get("toolCalls") or []
    text_mode = bool(p.get("textToolCalls")) or p.get("toolMode") == "text"
    if text_mode or not calls:
        return {"role": "assistant", "content": text}
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": c.get("id"),
                "type": "function",
                "function": {"name": c.get("name"), "arguments": c.get("arguments") or "{}"},
            }
            for c in calls
        ],
    }
