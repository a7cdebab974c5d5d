"""The background `tests` evaluator through the real server: in a trusted workspace a
turn's edit is tested after its answer and `orion/turnScores` brings the scores; in
an untrusted one (the default) the workspace's test command never runs."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import Session, rows, start_session

# The runs take a turn's files before and after it from its checkpoints (threads
# and rewind, issue 11): until the checkpoint recorder exists there is nothing to test.
pytest.importorskip("orion_lsp.checkpoints.recorder")

GREET = 'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"\n'
CHECK = (
    "import pathlib, sys\n"
    "from pkg.greet import greet\n"
    "pathlib.Path('marker.txt').write_text('ran')\n"
    "sys.exit(0 if greet('x') == 'Hi, x!' else 3)\n"
)


def configure(workspace: Path) -> None:
    (workspace / "check.py").write_text(CHECK)
    (workspace / ".orion").mkdir(exist_ok=True)
    command = f"{sys.executable} check.py"
    (workspace / ".orion" / "config.toml").write_text(
        f"[eval]\ntest_command = {json.dumps(command)}\non_turn_end = true\n"
    )


def edit_turn() -> list[ScriptedReply]:
    return [
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {
                        "path": "pkg/greet.py",
                        "oldText": 'return f"Hello, {name}!"',
                        "newText": 'return f"Hi, {name}!"',
                    },
                )
            ]
        ),
        ScriptedReply(text="Shorter now."),
    ]


async def start(workspace: Path, db: Path, model: ScriptedModelServer, trusted: bool) -> Session:
    s = await start_session(
        workspace, db, model, init_options={"workspaceTrusted": trusted} if trusted else None
    )
    scores: list[dict[str, Any]] = []
    s.turn_scores = scores  # type: ignore[attr-defined]

    @s.client.feature("orion/turnScores")
    def _scores(params: Any) -> None:
        from .harness import _plain

        scores.append(_plain(params))

    return s


async def test_a_trusted_workspace_tests_the_turn_and_reports_its_scores(
    workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    configure(workspace)
    s = await start(workspace, db_path, model, trusted=True)
    try:
        # The edit lands in the editor's buffer only: the runs take the files
        # before and after the turn from its checkpoints, not from the disk.
        model.push(*edit_turn())
        result = await s.chat("Shorter greeting")
        assert result["edits"] == [{"path": "pkg/greet.py", "applied": True}]
        async with asyncio.timeout(60):
            while not s.turn_scores:  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
        (note,) = s.turn_scores  # type: ignore[attr-defined]
        assert note["turnId"] == result["turnId"]
        got = {x["name"]: (x["label"], x["value"]) for x in note["scores"]}
        assert got == {"tests_before": ("fail", 3.0), "tests": ("pass", 0.0)}
        assert rows(
            db_path, "SELECT name, label FROM scores WHERE name LIKE 'tests%' ORDER BY name"
        ) == [("tests", "pass"), ("tests_before", "fail")]
        assert not (workspace / "marker.txt").exists()
        status = await s.command("orion.status", {})
        assert status["workspaceTrusted"] is True and status["testRuns"]["started"] == 1
    finally:
        await s.client.shutdown_session()


async def test_an_untrusted_workspace_never_runs_its_test_command(
    workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    configure(workspace)
    s = await start(workspace, db_path, model, trusted=False)
    try:
        model.push(*edit_turn())
        result = await s.chat("Shorter greeting")
        assert result["edits"] == [{"path": "pkg/greet.py", "applied": True}]
        # Decided when the turn ended, before it answered: no run was started.
        status = await s.command("orion.status", {})
        assert status["workspaceTrusted"] is False
        assert status["testRuns"] == {"started": 0, "running": 0}
        assert not (workspace / "marker.txt").exists()
        assert rows(db_path, "SELECT count(*) FROM scores WHERE name LIKE 'tests%'") == [(0,)]
    finally:
        await s.client.shutdown_session()
