"""Issue 7, item 3: two editors' servers on one workspace and one database file.

For 60 s (ORION_RELIABILITY_SHARED_S) both servers run turns back to back while
reading history in between. Every answered turn has exactly one user and one
assistant row and one `turn_end`; nothing is lost or duplicated, and no
`database is locked` ever reaches a user.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .conftest import Starter, rows, server_env

DURATION_S = float(os.environ.get("ORION_RELIABILITY_SHARED_S", "60"))


def test_two_servers_one_database(start_server: Starter, workspace: Path, db_path: Path) -> None:
    with ScriptedModelServer(default=ScriptedReply(text="shared answer, committed once")) as model:
        env = server_env(model, db_path)
        servers = [start_server(env, workspace), start_server(env, workspace)]
        answered: dict[str, str] = {}
        pending: list[str | int | None] = [None, None]
        reads = 0
        errors: list[str] = []
        n = 0
        end = time.monotonic() + DURATION_S
        while time.monotonic() < end:
            for i, s in enumerate(servers):
                if pending[i] is not None:
                    got = s.responses(pending[i])
                    if not got:
                        continue
                    resp = got[0]
                    if "error" in resp:
                        errors.append(resp["error"]["message"])
                    else:
                        answered[resp["result"]["turnId"]] = resp["result"]["answer"]
                n += 1
                pending[i] = s.request_async(
                    "workspace/executeCommand",
                    {"command": "orion.chat", "arguments": [{"prompt": f"s{i} turn {n}"}]},
                )
                hist = s.command("orion.history", {"limit": 50})
                reads += 1
                assert len(hist["messages"]) <= 50
            time.sleep(0.005)
        for i, s in enumerate(servers):
            if pending[i] is not None:
                resp = s.wait_response(pending[i], timeout=60)
                if "error" in resp:
                    errors.append(resp["error"]["message"])
                else:
                    answered[resp["result"]["turnId"]] = resp["result"]["answer"]
        shown = [
            m
            for s in servers
            for m in (p["message"] for p in s.notifications("window/showMessage"))
        ]
        for s in servers:
            assert s.shutdown() is not None
    assert errors == [] and not [m for m in shown if "locked" in m.lower()], (errors, shown)
    assert rows(db_path, "PRAGMA integrity_check") == [("ok",)]
    msgs = rows(db_path, "SELECT turn_id, role, content FROM chat_messages")
    per_turn = Counter((t, r) for t, r, _ in msgs)
    assert all(c == 1 for c in per_turn.values()), "duplicate rows"
    stored = {t: c for t, r, c in msgs if r == "assistant"}
    for turn_id, answer in answered.items():
        assert per_turn[(turn_id, "user")] == 1 and per_turn[(turn_id, "assistant")] == 1, turn_id
        assert stored[turn_id] == answer
    assert len(msgs) == 2 * len(answered), "rows of turns nobody was told about"
    ends = Counter(
        t for (t,) in rows(db_path, "SELECT turn_id FROM trace_events WHERE type='turn_end'")
    )
    assert set(ends) == set(answered) and set(ends.values()) == {1}
    pids = {p for (p,) in rows(db_path, "SELECT DISTINCT pid FROM trace_events")}
    assert len(pids) == 2  # both servers really wrote
    print(
        json.dumps(
            {
                "test": "two_servers",
                "seconds": DURATION_S,
                "turns": len(answered),
                "history_reads": reads,
                "lost": 0,
                "duplicates": 0,
            }
        )
    )
