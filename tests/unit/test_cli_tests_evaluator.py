"""The `tests` evaluator as a user meets it: `orion chat` in a workspace whose check
fails before the turn's edit and passes after it, with `[eval] on_turn_end = true`,
then `orion eval`; a hanging check is killed at the time limit. Subprocesses, a real
database, the scripted model over HTTP."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.processes import running
from tests.unit.test_cli import make_env, orion

# The runs take a turn's files before and after it from its checkpoints (threads
# and rewind, issue 11): until the checkpoint recorder exists there is nothing to test.
pytest.importorskip("orion_lsp.checkpoints.recorder")

BUGGY = "def add(a, b):\n    return a - b\n"


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def workspace(tmp_path: Path, check: str, command: str | None = None, **eval_keys: object) -> Path:
    ws = tmp_path / "ws"
    (ws / ".orion").mkdir(parents=True)
    (ws / "calc.py").write_text(BUGGY)
    (ws / ".gitignore").write_text("*.log\nbuild/\n")
    (ws / "noise.log").write_text("ignored\n")
    (ws / "check.py").write_text(check)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in eval_keys.items())
    (ws / ".orion" / "config.toml").write_text(
        f"[eval]\ntest_command = {json.dumps(command or f'{sys.executable} check.py')}\n{extra}"
    )
    return ws


def fix_turn() -> list[ScriptedReply]:
    return [
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "calc.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {"path": "calc.py", "oldText": "return a - b", "newText": "return a + b"},
                )
            ]
        ),
        ScriptedReply(text="Fixed `add` in calc.py."),
    ]


CHECK = (
    "import os, pathlib, calc\n"
    "pathlib.Path('marker.txt').write_text('ran')\n"
    "assert not os.path.exists('noise.log'), 'ignored files are not copied'\n"
    "assert calc.add(2, 2) == 4, 'add is wrong'\n"
)


def test_chat_runs_the_check_before_and_after_the_turn_outside_the_workspace(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    ws = workspace(tmp_path, CHECK, on_turn_end=True)
    db = tmp_path / "orion.db"
    env = make_env(model, db)
    model.push(*fix_turn())
    out = orion("chat", "--project-id", "p", "--workspace", str(ws), "fix add", env=env)
    assert out.returncode == 0, out.stderr
    assert "[tests] pass (exit 0)" in out.stderr and "[tests_before] fail (exit 1)" in out.stderr
    assert (ws / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not (ws / "marker.txt").exists()  # the check ran in a scratch copy only
    got = {
        name: (value, label, explanation)
        for name, value, label, explanation in rows(
            db, "SELECT name, value, label, explanation FROM scores WHERE name LIKE 'tests%'"
        )
    }
    assert got["tests"][:2] == (0.0, "pass")
    assert got["tests_before"][:2] == (1.0, "fail")
    assert "add is wrong" in got["tests_before"][2]

    # orion eval runs it again: the same scores, no new rows.
    count = rows(db, "SELECT count(*) FROM scores")
    again = orion("eval", "--project-id", "p", "--workspace", str(ws), "--evaluator", "tests",
                  "--json", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    scores = {s["name"]: s["label"] for s in json.loads(again.stdout)["turns"][0]["scores"]}
    assert scores == {"tests_before": "fail", "tests": "pass"}
    assert rows(db, "SELECT count(*) FROM scores") == count
    assert not (ws / "marker.txt").exists()


def test_without_on_turn_end_only_orion_eval_runs_the_check(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    ws = workspace(tmp_path, CHECK)
    db = tmp_path / "orion.db"
    env = make_env(model, db)
    model.push(*fix_turn())
    out = orion("chat", "--project-id", "p", "--workspace", str(ws), "fix add", env=env)
    assert out.returncode == 0 and "[tests]" not in out.stderr
    assert rows(db, "SELECT count(*) FROM scores WHERE name LIKE 'tests%'") == [(0,)]
    ev = orion("eval", "--project-id", "p", "--workspace", str(ws), env=env)
    assert ev.returncode == 0, ev.stderr
    assert rows(db, "SELECT name, label FROM scores WHERE name LIKE 'tests%' ORDER BY name") == [
        ("tests", "pass"),
        ("tests_before", "fail"),
    ]


def test_a_hanging_check_is_killed_at_the_time_limit(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    pidfile = tmp_path / "child.pid"
    # The shell starts a child that would sleep two minutes and waits for it.
    hang = f"sleep 120 & echo $! >> {pidfile}; wait"
    ws = workspace(tmp_path, CHECK, hang, on_turn_end=True, test_timeout_seconds=5)
    db = tmp_path / "orion.db"
    env = make_env(model, db)
    model.push(*fix_turn())
    started = time.monotonic()
    out = orion("chat", "--project-id", "p", "--workspace", str(ws), "fix add", env=env)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 200  # below the two runs' 2 x 120 s
    assert rows(
        db, "SELECT name, value, label, explanation FROM scores WHERE name LIKE 'tests%'"
        " ORDER BY name",
    ) == [("tests", None, "fail", "timeout"), ("tests_before", None, "fail", "timeout")]  # fmt: skip
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2
    for pid in pids:  # each run's grandchild died with its process group
        assert not running(pid), pid
