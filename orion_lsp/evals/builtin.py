"""The built-in evaluators: scores read off a turn's own ledger, no model call.

They run when a turn ends (before `orion/turnEnd`) and again, with the same
result, through `orion eval`: each is a pure function of the turn's trace
events, so re-running one only replaces its rows.

- `claims_unknown`: cited paths and symbols that do not exist (the claim
  check's findings in `turn_end.claims`); only for turns the check ran on.
- `tool_errors`: `tool_result` events with `ok: false`.
- `edits_applied`, `edits_refused`: edits the editor (or disk) applied, and
  edits refused (the user said no, a rule said no). An edit the editor failed
  to apply (`error`) is neither: it is not a judgement of the edit.
- `critic`: the critic's verdict (`pass`/`revise`/`unclear`, source `llm`)
  when a critic ran and answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..storage import Score, TraceEvent

CLAIMS_UNKNOWN = "claims_unknown"
TOOL_ERRORS = "tool_errors"
EDITS_APPLIED = "edits_applied"
EDITS_REFUSED = "edits_refused"
CRITIC = "critic"
EXPLANATION_ITEMS = 20

Evaluator = Callable[[str, str, Sequence[TraceEvent]], list[Score]]


def _turn_end(events: Sequence[TraceEvent]) -> dict[str, Any] | None:
    for e in reversed(events):
        if e.type == "turn_end":
            return e.payload
    return None


def _names(items: Sequence[str]) -> str | None:
    if not items:
        return None
    shown = ", ".join(items[:EXPLANATION_ITEMS])
    more = len(items) - EXPLANATION_ITEMS
    return shown + (f" and {more} more" if more > 0 else "")


def claims_unknown(project_id: str, turn_id: str, events: Sequence[TraceEvent]) -> list[Score]:
    end = _turn_end(events)
    claims = (end or {}).get("claims")
    if not isinstance(claims, dict):
        return []  # the check did not run (the turn did not complete)
    unknown = [str(x) for x in (claims.get("unknownPaths") or [])]
    unknown += [str(x) for x in (claims.get("unknownSymbols") or [])]
    return [
        Score(
            project_id,
            turn_id,
            CLAIMS_UNKNOWN,
            "code",
            value=len(unknown),
            explanation=_names(unknown),
        )
    ]


def tool_errors(project_id: str, turn_id: str, events: Sequence[TraceEvent]) -> list[Score]:
    failed = [e.payload for e in events if e.type == "tool_result" and not e.payload.get("ok")]
    names = [f"{p.get('name')}: {p.get('summary')}" for p in failed]
    return [
        Score(
            project_id, turn_id, TOOL_ERRORS, "code", value=len(failed), explanation=_names(names)
        )
    ]


def edits(project_id: str, turn_id: str, events: Sequence[TraceEvent]) -> list[Score]:
    end = _turn_end(events)
    if end is None:
        return []
    done = [e for e in end.get("edits") or [] if isinstance(e, dict)]
    applied = [str(e.get("path")) for e in done if e.get("applied")]
    refused = [str(e.get("path")) for e in done if not e.get("applied") and not e.get("error")]
    return [
        Score(
            project_id, turn_id, EDITS_APPLIED, "code", len(applied), explanation=_names(applied)
        ),
        Score(
            project_id, turn_id, EDITS_REFUSED, "code", len(refused), explanation=_names(refused)
        ),
    ]


CRITIC_VALUES = {"pass": 1.0, "revise": 0.0}


def critic(project_id: str, turn_id: str, events: Sequence[TraceEvent]) -> list[Score]:
    verdict = (_turn_end(events) or {}).get("critic")
    if not isinstance(verdict, dict) or not verdict.get("available", True):
        return []
    label = verdict.get("verdict")
    if label not in ("pass", "revise", "unclear"):
        return []
    return [
        Score(
            project_id,
            turn_id,
            CRITIC,
            "llm",
            value=CRITIC_VALUES.get(label),
            label=label,
            source_id=str(verdict.get("criticModel") or ""),
            explanation=verdict.get("feedback") or None,
        )
    ]


# Evaluator name -> function. A name selects it in `orion eval --evaluator`.
BUILTIN: dict[str, Evaluator] = {
    CLAIMS_UNKNOWN: claims_unknown,
    TOOL_ERRORS: tool_errors,
    "edits": edits,
    CRITIC: critic,
}


def builtin_scores(project_id: str, turn_id: str, events: Sequence[TraceEvent]) -> list[Score]:
    out: list[Score] = []
    for evaluate in BUILTIN.values():
        out.extend(evaluate(project_id, turn_id, events))
    return out
