"""Built-in evaluators, `edit_kept`, feedback and the capability report over a real
ledger file: scores are read off the stored events and upserted (re-runs add no rows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.evals.builtin import builtin_scores
from orion_lsp.evals.edit_kept import applied_edits, edit_kept
from orion_lsp.evals.feedback import UnknownTurn, rate_turn
from orion_lsp.evals.report import capability_report
from orion_lsp.evals.runner import EVALUATORS, Evaluations, UnknownEvaluator, select
from orion_lsp.redact import Redactor
from orion_lsp.storage import Database, ScoreStore, TraceStore


@pytest.fixture
async def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = await Database.open(tmp_path / "orion.db", redactor=Redactor())
    yield db, TraceStore(db), ScoreStore(db)
    await db.close()


async def store_turn(
    traces: TraceStore, turn: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    for type_, payload in events:
        await traces.append("p", turn, type_, payload)


def edit_events(call_id: str, path: str, old: str, new: str, applied: bool = True) -> list:
    return [
        ("tool_call", {"name": "edit_file", "id": call_id,
                       "arguments": {"path": path, "oldText": old, "newText": new}}),
        ("tool_result", {"name": "edit_file", "id": call_id, "ok": applied,
                         "summary": "edited", "data": {"path": path, "applied": applied}}),
    ]  # fmt: skip


TURN = [
    ("turn_start", {"prompt": "fix it", "model": "m1"}),
    ("llm_call", {"step": 1, "firstTokenMs": 40, "toolMode": "native", "text": "", "toolCalls": [{}]}),
    ("tool_call", {"name": "read_file", "id": "c0", "arguments": {"path": "nope.py"}}),
    ("tool_result", {"name": "read_file", "id": "c0", "ok": False, "summary": "no such file"}),
    *edit_events("c1", "a.py", "x = 1", "x = 2"),
    ("llm_call", {"step": 2, "firstTokenMs": 60, "toolMode": "native", "text": "done", "toolCalls": []}),
    ("turn_end", {
        "status": "completed",
        "claims": {"unknownPaths": ["utils/helpers.py"], "unknownSymbols": ["validate()"]},
        "critic": {"verdict": "revise", "available": True, "criticModel": "crit",
                   "feedback": "helpers.py does not exist"},
        "edits": [{"path": "a.py", "applied": True}, {"path": "b.py", "applied": False}],
    }),
]  # fmt: skip


async def test_builtin_scores_from_the_ledger(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(traces, "t1", TURN)
    got = {s.name: s for s in builtin_scores("p", "t1", await traces.events("p", "t1"))}
    assert set(got) == {"claims_unknown", "tool_errors", "edits_applied", "edits_refused", "critic"}
    assert got["claims_unknown"].value == 2
    assert got["claims_unknown"].explanation == "utils/helpers.py, validate()"
    assert (got["tool_errors"].value, got["tool_errors"].source) == (1, "code")
    assert got["tool_errors"].explanation == "read_file: no such file"
    assert (got["edits_applied"].value, got["edits_refused"].value) == (1, 1)
    c = got["critic"]
    assert (c.label, c.source, c.source_id, c.value) == ("revise", "llm", "crit", 0.0)


async def test_an_unfinished_turn_has_no_claims_or_critic_score(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(
        traces,
        "t2",
        [
            ("turn_start", {"model": "m1"}),
            (
                "turn_end",
                {"status": "error", "critic": {"verdict": "unavailable", "available": False}},
            ),
        ],
    )
    names = {s.name for s in builtin_scores("p", "t2", await traces.events("p", "t2"))}
    assert names == {"tool_errors", "edits_applied", "edits_refused"}


async def test_evaluations_rerun_replaces_rows(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(traces, "t1", TURN)
    ev = Evaluations(db, traces, scores, Redactor())
    await ev.evaluate("p", ["t1"], select(None) - {"tests"})
    await ev.evaluate("p", ["t1"], select(None) - {"tests"})
    await ev.evaluate("p", ["t1"], select(["tool_errors"]))
    rows = _rows(db.path, "SELECT name, count(*) FROM scores GROUP BY name ORDER BY name")
    assert rows == [
        ("claims_unknown", 1),
        ("critic", 1),
        ("edits_applied", 1),
        ("edits_refused", 1),
        ("tool_errors", 1),
    ]


def test_evaluator_selection_takes_evaluator_or_score_names() -> None:
    assert select(["edits_refused"]) == {"edits"}
    assert select(["tests_before", "critic"]) == {"tests", "critic"}
    assert select(None) == set(EVALUATORS)
    with pytest.raises(UnknownEvaluator, match="known:"):
        select(["vibes"])


async def test_edit_kept_follows_the_file_as_it_is_now(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(
        traces,
        "t1",
        [
            *edit_events("c1", "a.py", "return 1", "return 'é🚀'"),
            *edit_events("c2", "b.py", "x", "y", applied=False),
            # Later in the same turn the first edit is changed again: only the last counts.
            *edit_events("c3", "c.py", "v = 0", "v = 1"),
            *edit_events("c4", "c.py", "v = 1", "v = 2"),
        ],
    )
    events = await traces.events("p", "t1")
    assert applied_edits(events) == [("a.py", "return 'é🚀'"), ("c.py", "v = 2")]
    files = {"a.py": "def f():\n    return 'é🚀'\n", "c.py": "v = 2\n"}
    kept = edit_kept("p", "t1", events, files.get)
    assert (kept[0].name, kept[0].value, kept[0].source) == ("edit_kept", 1, "code")
    files["a.py"] = "def f():\n    return 1\n"  # the user undid it
    undone = edit_kept("p", "t1", events, files.get)
    assert undone[0].value == 0 and undone[0].explanation == "no longer contains the edit: a.py"
    assert edit_kept("p", "t1", events, {}.get)[0].value == 0  # deleted files too


async def test_feedback_replaces_and_refuses_unknown_turns(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(traces, "t1", TURN)
    await rate_turn(db, scores, "t1", "up")
    await rate_turn(db, scores, "t1", "down", "  wrong file  ")
    rows = _rows(
        db.path,
        "SELECT name, value, label, source, explanation FROM scores WHERE name='user_rating'",
    )
    assert rows == [("user_rating", 0.0, "down", "human", "wrong file")]
    with pytest.raises(UnknownTurn):
        await rate_turn(db, scores, "nope", "up")
    with pytest.raises(UnknownTurn):
        await rate_turn(db, scores, "t1", "up", project_id="other")


async def test_capability_report_per_model(ledger) -> None:  # type: ignore[no-untyped-def]
    db, traces, scores = ledger
    await store_turn(traces, "t1", TURN)
    await store_turn(
        traces,
        "t2",
        [
            ("turn_start", {"model": "small"}),
            ("llm_call", {"firstTokenMs": 300, "toolMode": "text", "toolCalls": [],
                          "text": "```tool_call\n{name: read_file\n```"}),
            ("turn_end", {"status": "max_steps", "edits": []}),
        ],
    )  # fmt: skip
    ev = Evaluations(db, traces, scores, Redactor())
    await ev.evaluate("p", ["t1", "t2"], select(None) - {"tests"})
    await rate_turn(db, scores, "t1", "up")
    report = {r["model"]: r for r in await capability_report(db, "p")}
    assert report["m1"] == {
        "model": "m1",
        "turns": 1,
        "completedPct": 100.0,
        "meanClaimsUnknown": 2.0,
        "toolErrorsPerTurn": 1.0,
        "textToolCallParseFailures": 0,
        "testsPassRate": None,
        "testsRuns": 0,
        "ups": 1,
        "downs": 0,
        "medianFirstTokenMs": 50.0,
        # Policy v1: rated up, but it cites two paths that do not exist.
        "labels": {"good": 0, "bad": 1, "unlabeled": 0},
    }
    assert report["small"]["labels"] == {"good": 0, "bad": 1, "unlabeled": 0}  # max_steps
    assert report["small"]["completedPct"] == 0.0
    assert report["small"]["textToolCallParseFailures"] == 1
    assert report["small"]["meanClaimsUnknown"] is None


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def test_turn_end_and_its_scores_commit_together(ledger) -> None:  # type: ignore[no-untyped-def]
    from orion_lsp.storage import FailNth, StorageError

    db, traces, scores = ledger
    await store_turn(traces, "t1", TURN[:-1])
    ev = Evaluations(db, traces, scores, Redactor())
    events = await traces.events("p", "t1")
    end = TURN[-1][1]
    got = ev.end_scores("p", "t1", events, end)
    assert {s.name for s in got} >= {"claims_unknown", "critic", "tool_errors"}
    db.fault_hook = FailNth(1)
    with pytest.raises(StorageError):
        await traces.append("p", "t1", "turn_end", end, scores=got)
    db.fault_hook = None
    assert _rows(db.path, "SELECT count(*) FROM scores") == [(0,)]
    await traces.append("p", "t1", "turn_end", end, scores=got)
    assert _rows(db.path, "SELECT count(*) FROM scores") == [(len(got),)]
