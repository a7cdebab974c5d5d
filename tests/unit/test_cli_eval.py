"""`orion eval` and `orion rate` as a user runs them (subprocesses, a real database,
the scripted model over HTTP)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.unit.test_cli import make_env, orion


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_eval_scores_a_stored_turn_and_rerunning_adds_no_rows(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def main():\n    return 1\n")
    db = tmp_path / "orion.db"
    env = make_env(model, db)
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "missing.py"})]),
        ScriptedReply(text="See `helpers/util.py` for `main`."),
    )
    out = orion("chat", "--project-id", "p", "--workspace", str(ws), "where is main?", env=env)
    assert out.returncode == 0, out.stderr
    turn = rows(db, "SELECT turn_id FROM trace_events WHERE type='turn_start'")[0][0]
    # The turn's own end already wrote the built-in scores.
    at_end = rows(db, "SELECT name, value FROM scores ORDER BY name")
    assert ("tool_errors", 1.0) in at_end and ("claims_unknown", 1.0) in at_end
    first = orion("eval", "--project-id", "p", "--workspace", str(ws), "--json", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert [t["turnId"] for t in data["turns"]] == [turn]
    got = {s["name"]: s for s in data["turns"][0]["scores"]}
    assert got["tool_errors"]["value"] == 1 and got["claims_unknown"]["value"] == 1
    assert got["claims_unknown"]["explanation"] == "helpers/util.py"
    assert "tests: no [eval] test_command in .orion/config.toml" in data["turns"][0]["notes"]
    before = rows(db, "SELECT count(*) FROM scores")
    again = orion("eval", "--project-id", "p", "--workspace", str(ws), "--all", env=env)
    assert again.returncode == 0 and "tool_errors" in again.stdout
    assert rows(db, "SELECT count(*) FROM scores") == before

    only = orion("eval", "--project-id", "p", "--turn", turn, "--evaluator", "tool_errors",
                 "--json", env=env)  # fmt: skip
    assert [s["name"] for s in json.loads(only.stdout)["turns"][0]["scores"]] == ["tool_errors"]
    bad = orion("eval", "--project-id", "p", "--evaluator", "vibes", env=env)
    assert bad.returncode == 2 and "unknown evaluator" in bad.stderr
    assert orion("eval", "--project-id", "p", "--turn", "nope", env=env).returncode == 1

    up = orion("rate", "--project-id", "p", "--turn", turn, "up", env=env)
    assert up.returncode == 0, up.stderr
    down = orion("rate", "--project-id", "p", "--turn", turn, "down", "--comment", "non, ça 🚀",
                 env=env)  # fmt: skip
    assert down.returncode == 0
    assert rows(db, "SELECT label, explanation, source FROM scores WHERE name='user_rating'") == [
        ("down", "non, ça 🚀", "human")
    ]
    assert orion("rate", "--project-id", "other", "--turn", turn, "up", env=env).returncode == 2

    report = orion("eval", "--project-id", "p", "--report", "--json", env=env)
    profile = json.loads(report.stdout)["models"]
    assert [(m["model"], m["turns"], m["downs"]) for m in profile] == [(model.model, 1, 1)]
    table = orion("eval", "--project-id", "p", "--report", env=env)
    assert table.returncode == 0 and "claims_unknown" in table.stdout
