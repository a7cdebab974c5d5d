"""`shutdown` then `exit`: the process is gone at once, also right after start-up.

Editors kill a server that lingers after `exit` (eglot after 0.1 s). Right after
`initialized` the litellm warm-up thread imports for seconds and the agent half
is being built; the exit must wait for neither. These are bounds (2 s, far
above the milliseconds it takes), not speed measurements: bench/bench_exit.py
measures the figure against its 100 ms target.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from orion_lsp.testing import ScriptedModelServer, ScriptedReply
from tests.reliability.rawclient import RawServer

from .harness import model_env, rows

EXIT_BOUND_S = 2.0


def start(model: ScriptedModelServer, db: Path, workspace: Path) -> RawServer:
    server = RawServer(
        model_env(model, db),
        log_file=db.parent / "server.log",
        stderr_file=db.parent / "stderr.log",
    )
    server.initialize(workspace)
    return server


def exit_seconds(server: RawServer) -> float:
    """`shutdown` (answered), then `exit`: seconds until the process is gone."""
    server.request("shutdown", None, timeout=60)
    started = time.monotonic()
    server.notify("exit")
    code = server.wait(30)
    took = time.monotonic() - started
    assert code == 0, f"exit code {code}"
    return took


def test_exit_right_after_start_up_does_not_wait(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    server = start(model, db_path, workspace)
    try:
        # No pause: the warm-up import and the agent build have just begun.
        took = exit_seconds(server)
        assert took <= EXIT_BOUND_S, f"still running {took:.2f} s after exit"
        log = (db_path.parent / "server.log").read_text()
        assert "exit: not waiting for" in log
        assert "Traceback" not in (db_path.parent / "stderr.log").read_text()
    finally:
        server.close()
    print(json.dumps({"test": "exit_after_start_up", "seconds": round(took, 3)}))


def test_exit_after_shutdown_mid_turn_leaves_the_turn_recorded(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    server = start(model, db_path, workspace)
    try:
        model.push(ScriptedReply(text="streaming, then hanging forever", hang=True))
        started = server.command("orion.chat", {"prompt": "slow", "detach": True})
        assert started["status"] == "running"
        assert server.wait_for(lambda: server.notifications("orion/chatDelta"), 60)
        took = exit_seconds(server)
        assert took <= EXIT_BOUND_S, f"still running {took:.2f} s after exit"
    finally:
        server.close()
    # Nothing was left waiting: shutdown stopped the turn and it is closed in the ledger.
    ends = [
        (turn, json.loads(p)["status"])
        for turn, p in rows(
            db_path, "SELECT turn_id, payload FROM trace_events WHERE type='turn_end'"
        )
    ]
    assert ends == [(started["turnId"], "cancelled")]
    assert rows(db_path, "PRAGMA integrity_check") == [("ok",)]
