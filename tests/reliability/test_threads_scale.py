"""Threads at scale and a big file (issue "Conversations and checkpoints", reliability tier).

- 1,000 threads in a project are all listed by `orion.threads {limit: 1000}`,
  most recently updated first, with their titles and turn counts, and none of
  another project's (how fast: bench/bench_threads.py).
- A turn that edits an open buffer of more than 1 MB (non-ASCII, CRLF) is
  rewound through the client's applyEdit: one edit of the changed span, and
  the buffer is byte-exact afterwards.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orion_lsp.project import derive_project_id
from orion_lsp.storage.threads import thread_title
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.lsp.harness import start_session

from .conftest import Starter, server_env


def _fill(db: Path, project_id: str, n: int) -> None:
    con = sqlite3.connect(db)
    with con:
        for i in range(n):
            tid, turn = f"thread-{i:04d}", f"turn-{i:04d}"
            at = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
            prompt = f"Question {i}: pourquoi ça casse? 🚀\nsecond line"
            con.execute(
                "INSERT INTO threads (id, project_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (tid, project_id, thread_title(prompt), at, at),
            )
            for role, text in (("user", prompt), ("assistant", f"answer {i}")):
                con.execute(
                    "INSERT INTO chat_messages (project_id, turn_id, role, content, created_at, thread_id)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (project_id, turn, role, text, at, tid),
                )
        con.execute(
            "INSERT INTO threads (id, project_id, title, created_at, updated_at)"
            " VALUES ('other', 'someone-else', 'not ours', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')"
        )
    con.close()


def test_a_thousand_threads_are_listed_in_order(
    start_server: Starter, workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    server = start_server(server_env(model, db_path), workspace)  # creates the schema
    assert server.command("orion.threads", {})["threads"] == []
    _fill(db_path, derive_project_id(workspace), 1000)
    listed = server.command("orion.threads", {"limit": 1000})["threads"]
    assert len(listed) == 1000 and len({t["threadId"] for t in listed}) == 1000
    stamps = [t["updatedAt"] for t in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert all(t["turns"] == 1 for t in listed)
    assert {t["title"] for t in listed} == {
        f"Question {i}: pourquoi ça casse? 🚀" for i in range(1000)
    }
    assert "other" not in {t["threadId"] for t in listed}
    assert len(server.command("orion.threads", {})["threads"]) == 50  # the default limit
    server.close()


def _big_text() -> str:
    line = "    total = value * scale  # ünïcode 🚀 ça marche\r\n"
    body = "".join(f"def f_{i}(value, scale):\r\n{line}    return total\r\n" for i in range(16_000))
    assert len(body.encode()) > 1_000_000
    return body


async def test_rewind_of_an_open_buffer_larger_than_1_mb(
    workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    text = _big_text()
    (workspace / "big.py").write_text("# on disk: not what the buffer holds\n")
    model.push(
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall("read_file", {"path": "big.py", "startLine": 1, "endLine": 5})
            ]
        ),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {
                        "path": "big.py",
                        "oldText": "def f_8000(value, scale):",
                        "newText": "def f_8000(value, scale=2):  # 👋",
                    },
                )
            ]
        ),
        ScriptedReply(text="Changed f_8000."),
    )
    s = await start_session(workspace, db_path, model, caps="neovim")
    try:
        s.follow_edits = True
        uri = await s.open("big.py", text)
        turn = await s.chat("give f_8000 a default scale")
        assert turn["edits"] == [{"path": "big.py", "applied": True}], turn
        assert "scale=2):  # 👋" in s.buffers[uri][0]
        before = len(s.apply_edits)
        result = await s.command("orion.rewind", {"turnId": turn["turnId"]})
        assert result["restored"] == [{"path": "big.py", "applied": True}]
        (restore,) = s.apply_edits[before:]
        (change,) = restore.edit.document_changes
        assert len(change.edits) == 1 and len(change.edits[0].new_text) < 100  # only the span
        assert s.buffers[uri][0] == text
    finally:
        await s.client.shutdown_session()
