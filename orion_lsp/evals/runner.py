"""Running evaluators over stored turns and writing their scores.

`Evaluations` is the one service behind three callers: the end of every turn
(the built-in evaluators, before `orion/turnEnd`), the background `tests`
run after a turn (`[eval] on_turn_end = true`), and `orion eval`. Scores are
upserted on `(turn_id, step, name, source_id)`, so running an evaluator
again replaces its rows and never adds duplicates. A failed write is a
`StorageError` like any other ledger write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..storage import Database, Score, ScoreStore, TraceEvent, TraceStore
from . import builtin
from .config import EvalConfig
from .edit_kept import current_text, edit_kept
from .tests_eval import TESTS, TESTS_BEFORE, TurnFiles, run_tests
from .turn_files import turn_files

if TYPE_CHECKING:
    from ..agent.tools.base import DocumentSource
    from ..agent.turn import TurnRequest

log = logging.getLogger(__name__)

# Evaluator name -> the score names it writes (`--evaluator` takes either).
EVALUATORS: dict[str, tuple[str, ...]] = {
    builtin.CLAIMS_UNKNOWN: (builtin.CLAIMS_UNKNOWN,),
    builtin.TOOL_ERRORS: (builtin.TOOL_ERRORS,),
    "edits": (builtin.EDITS_APPLIED, builtin.EDITS_REFUSED),
    builtin.CRITIC: (builtin.CRITIC,),
    TESTS: (TESTS, TESTS_BEFORE),
}


class UnknownEvaluator(ValueError):
    pass


def select(names: Iterable[str] | None) -> set[str]:
    """Evaluator names for `--evaluator` values (evaluator or score names); all when none."""
    if not names:
        return set(EVALUATORS)
    chosen: set[str] = set()
    for name in names:
        hits = {e for e, scores in EVALUATORS.items() if name == e or name in scores}
        if not hits:
            known = ", ".join(sorted({*EVALUATORS, *(s for v in EVALUATORS.values() for s in v)}))
            raise UnknownEvaluator(f"unknown evaluator {name!r} (known: {known})")
        chosen |= hits
    return chosen


@dataclass
class TurnEvaluation:
    turn_id: str
    scores: list[Score] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why an evaluator did not score


class Evaluations:
    def __init__(
        self, db: Database, traces: TraceStore, scores: ScoreStore, redact: Callable[[str], str]
    ) -> None:
        self._db = db
        self._traces = traces
        self._scores = scores
        self._redact = redact

    # -- the orchestrator's TurnEvaluator seam ------------------------------------------

    def end_scores(
        self,
        project_id: str,
        turn_id: str,
        events: Sequence[TraceEvent],
        end_payload: dict[str, Any],
    ) -> list[Score]:
        last = events[-1] if events else None
        end = TraceEvent(
            id=0,
            project_id=project_id,
            turn_id=turn_id,
            seq=(last.seq if last else 0) + 1,
            type="turn_end",
            payload=end_payload,
            created_at="",
        )
        return builtin.builtin_scores(project_id, turn_id, [*events, end])

    async def turn_started(self, req: TurnRequest, documents: DocumentSource) -> None:
        """`edit_kept` for the previous turn of this turn's thread."""
        if req.source == "replay":
            return  # a replay sample belongs to no thread: it follows nothing
        project_id = req.project.project_id
        previous, events = await previous_edits(self._db, project_id, req.turn_id)
        if previous is None:
            return
        read = current_text(req.project.root, documents)
        # A few small reads (the buffers live on the event loop): not worth a thread.
        scores = edit_kept(project_id, previous, events, read)
        await self._scores.put(*scores)

    async def put(self, scores: Sequence[Score]) -> None:
        await self._scores.put(*scores)

    async def run_tests(
        self, project_id: str, turn_id: str, root: Path, config: EvalConfig
    ) -> TurnEvaluation:
        """The `tests` evaluator on one turn (the caller checked trust and the command)."""
        result = TurnEvaluation(turn_id)
        files = await turn_files(self._db, turn_id)
        if not files.after:
            result.notes.append("tests: the turn changed no files")
            return result
        result.scores = await self._tests_scores(project_id, turn_id, root, config, files)
        await self._scores.put(*result.scores)
        return result

    async def evaluate(
        self,
        project_id: str,
        turn_ids: Sequence[str],
        evaluators: set[str],
        *,
        root: Path | None = None,
        config: EvalConfig | None = None,
    ) -> list[TurnEvaluation]:
        """Run `evaluators` over stored turns (`orion eval`); `tests` needs root and config."""
        out = []
        for turn_id in turn_ids:
            events = await self._traces.events(project_id, turn_id)
            result = TurnEvaluation(turn_id)
            result.scores = _builtin(project_id, turn_id, events, evaluators)
            await self._scores.put(*result.scores)
            if TESTS in evaluators:
                if root is None or config is None or config.test_command is None:
                    result.notes.append("tests: no [eval] test_command in .orion/config.toml")
                else:
                    tests = await self.run_tests(project_id, turn_id, root, config)
                    result.scores += tests.scores
                    result.notes += tests.notes
            out.append(result)
        return out

    async def _tests_scores(
        self, project_id: str, turn_id: str, root: Path, config: EvalConfig, files: TurnFiles
    ) -> list[Score]:
        verdicts = await run_tests(root, config, files, self._redact)
        return [
            Score(
                project_id,
                turn_id,
                v.name,
                "code",
                value=v.value,
                label=v.label,
                explanation=v.explanation or None,
            )
            for v in verdicts
        ]


def _builtin(
    project_id: str, turn_id: str, events: Sequence[TraceEvent], evaluators: set[str]
) -> list[Score]:
    scores: list[Score] = []
    for name, evaluate in builtin.BUILTIN.items():
        if name in evaluators:
            scores.extend(evaluate(project_id, turn_id, events))
    return scores


# The turn before a turn in its thread (in its project, for rows from before threads).
_PREVIOUS_TURN_SQL = (
    "SELECT p.turn_id FROM trace_events AS t JOIN trace_events AS p"
    " ON p.project_id = t.project_id AND p.type = 'turn_start' AND p.id < t.id"
    " AND p.thread_id IS t.thread_id"
    " WHERE t.turn_id = ? AND t.project_id = ? AND t.type = 'turn_start'"
    " ORDER BY p.id DESC LIMIT 1"
)


async def previous_edits(
    db: Database, project_id: str, turn_id: str
) -> tuple[str | None, list[TraceEvent]]:
    """The previous turn of `turn_id`'s thread and its edit tools' events (one query:
    it runs before every turn's first model call)."""
    rows = await db.fetchall(
        "SELECT id, project_id, turn_id, seq, type, payload, created_at FROM trace_events"
        f" WHERE turn_id = ({_PREVIOUS_TURN_SQL}) AND project_id = ?"
        " AND type IN ('tool_call', 'tool_result')"
        " AND json_extract(payload, '$.name') IN ('edit_file', 'create_file') ORDER BY seq",
        (turn_id, project_id, project_id),
    )
    events = [TraceEvent.from_row(r) for r in rows]
    return (events[0].turn_id if events else None), events
