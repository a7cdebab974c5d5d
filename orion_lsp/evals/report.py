"""`orion eval --report`: the capability profile of each model over a project's turns.

Per model (the `turn_start` model of each turn): how many turns, how many
completed, mean `claims_unknown`, `tool_errors` per turn, text tool calls
the parser could not read (a reply in text tool mode that writes a
tool-call block and yields no call), the `tests` pass rate, the user's ups
and downs, and the median time to first token of its model calls. Read-only.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..storage import Database, Score
from .policy import label_turn

_CALL_BLOCK = re.compile(r"```\s*tool_call|<tool_call>", re.IGNORECASE)


@dataclass
class ModelProfile:
    model: str
    turns: int = 0
    completed: int = 0
    claims_unknown: list[float] = field(default_factory=list)
    tool_errors: list[float] = field(default_factory=list)
    text_call_failures: int = 0
    tests_pass: int = 0
    tests_runs: int = 0
    ups: int = 0
    downs: int = 0
    first_token_ms: list[int] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=lambda: {"good": 0, "bad": 0, "unlabeled": 0})

    def to_wire(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "turns": self.turns,
            "completedPct": _pct(self.completed, self.turns),
            "meanClaimsUnknown": _mean(self.claims_unknown),
            "toolErrorsPerTurn": _mean(self.tool_errors),
            "textToolCallParseFailures": self.text_call_failures,
            "testsPassRate": _pct(self.tests_pass, self.tests_runs),
            "testsRuns": self.tests_runs,
            "ups": self.ups,
            "downs": self.downs,
            "medianFirstTokenMs": (
                statistics.median(self.first_token_ms) if self.first_token_ms else None
            ),
            # Turns by labelling policy v1, the same rule `orion export` uses.
            "labels": dict(self.labels),
        }


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 1) if d else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


async def capability_report(db: Database, project_id: str) -> list[dict[str, Any]]:
    turn_model: dict[str, str] = {}
    profiles: dict[str, ModelProfile] = {}
    for turn_id, model in await db.fetchall(
        "SELECT turn_id, json_extract(payload, '$.model') FROM trace_events"
        " WHERE project_id = ? AND type = 'turn_start' ORDER BY id",
        (project_id,),
    ):
        name = str(model or "?")
        turn_model[turn_id] = name
        profiles.setdefault(name, ModelProfile(name)).turns += 1
    statuses: dict[str, str | None] = {}
    for turn_id, status in await db.fetchall(
        "SELECT turn_id, json_extract(payload, '$.status') FROM trace_events"
        " WHERE project_id = ? AND type = 'turn_end'",
        (project_id,),
    ):
        statuses[turn_id] = status
        if status == "completed" and turn_id in turn_model:
            profiles[turn_model[turn_id]].completed += 1
    await _llm_calls(db, project_id, turn_model, profiles)
    await _scores(db, project_id, turn_model, profiles)
    await _labels(db, project_id, turn_model, statuses, profiles)
    return [p.to_wire() for p in sorted(profiles.values(), key=lambda p: (-p.turns, p.model))]


async def _llm_calls(
    db: Database, project_id: str, turn_model: dict[str, str], profiles: dict[str, ModelProfile]
) -> None:
    rows = await db.fetchall(
        "SELECT turn_id, json_extract(payload, '$.firstTokenMs'),"
        " json_extract(payload, '$.toolMode'), json_extract(payload, '$.text'),"
        " json_array_length(payload, '$.toolCalls'), json_extract(payload, '$.role')"
        " FROM trace_events WHERE project_id = ? AND type = 'llm_call'",
        (project_id,),
    )
    for turn_id, ttft, mode, text, calls, role in rows:
        profile = profiles.get(turn_model.get(turn_id, ""))
        if profile is None or role == "critic":  # the critic is another model
            continue
        if isinstance(ttft, int):
            profile.first_token_ms.append(ttft)
        if mode == "text" and not calls and isinstance(text, str) and _CALL_BLOCK.search(text):
            profile.text_call_failures += 1


async def _scores(
    db: Database, project_id: str, turn_model: dict[str, str], profiles: dict[str, ModelProfile]
) -> None:
    rows = await db.fetchall(
        "SELECT turn_id, name, value, label FROM scores WHERE project_id = ? AND step = 0"
        " AND name IN ('claims_unknown', 'tool_errors', 'tests', 'user_rating')",
        (project_id,),
    )
    for turn_id, name, value, label in rows:
        profile = profiles.get(turn_model.get(turn_id, ""))
        if profile is None:
            continue
        if name == "claims_unknown" and value is not None:
            profile.claims_unknown.append(float(value))
        elif name == "tool_errors" and value is not None:
            profile.tool_errors.append(float(value))
        elif name == "tests":
            profile.tests_runs += 1
            profile.tests_pass += label == "pass"
        elif name == "user_rating":
            profile.ups += label == "up"
            profile.downs += label == "down"


async def _labels(
    db: Database,
    project_id: str,
    turn_model: dict[str, str],
    statuses: dict[str, str | None],
    profiles: dict[str, ModelProfile],
) -> None:
    scores: dict[str, list[Score]] = {t: [] for t in turn_model}
    for row in await db.fetchall(
        "SELECT project_id, turn_id, name, source, value, label FROM scores WHERE project_id = ?",
        (project_id,),
    ):
        if row[1] in scores:
            scores[row[1]].append(Score(row[0], row[1], row[2], row[3], value=row[4], label=row[5]))
    for turn_id, model in turn_model.items():
        label = label_turn(statuses.get(turn_id), scores[turn_id]).label
        profiles[model].labels[label] += 1


REPORT_COLUMNS = (
    ("model", "model"),
    ("turns", "turns"),
    ("completedPct", "completed %"),
    ("meanClaimsUnknown", "claims_unknown"),
    ("toolErrorsPerTurn", "tool_errors/turn"),
    ("textToolCallParseFailures", "text-call fails"),
    ("testsPassRate", "tests pass %"),
    ("ups", "up"),
    ("downs", "down"),
    ("medianFirstTokenMs", "median TTFT ms"),
    ("labels", "good/bad/unlabeled"),
)
