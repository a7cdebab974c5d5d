"""`orion chat --new|--thread`, `orion threads`, `orion history --thread`,
`orion forget` and `orion rewind` as a user runs them: subprocesses, a real
database, the scripted model over HTTP, files on disk."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.unit.test_cli import make_env, model, orion
from tests.unit.test_storage_schema_v4 import _write_v3_database

__all__ = ["model"]  # the fixture, shared with test_cli


def _chat(env: dict[str, str], ws: Path, *args: str) -> dict[str, str]:
    out = orion("chat", "--project-id", "p-th", "--workspace", str(ws), *args, env=env)
    assert out.returncode == 0, out.stderr
    tail = out.stderr.strip().splitlines()[-1]  # "[turn T completed, thread H]"
    turn, _, thread = tail.strip("[]").partition(", thread ")
    return {"turn": turn.split()[1], "thread": thread}


def _json(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    out = orion(*args, "--json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_threads_from_the_terminal(tmp_path: Path, model: ScriptedModelServer):
    ws = tmp_path / "ws"
    ws.mkdir()
    env = make_env(model, tmp_path / "orion.db")
    model.push(*(ScriptedReply(text=f"answer {i}") for i in range(5)))
    a = _chat(env, ws, "alpha one")
    assert _chat(env, ws, "alpha two")["thread"] == a["thread"]  # the latest continues
    b = _chat(env, ws, "--new", "beta one")
    assert b["thread"] != a["thread"]
    assert "alpha" not in json.dumps(model.requests[-1]["messages"])
    _chat(env, ws, "--thread", a["thread"], "alpha three")
    assert "beta" not in json.dumps(model.requests[-1]["messages"])
    assert "alpha two" in json.dumps(model.requests[-1]["messages"])
    listed = _json(env, "threads", "--project-id", "p-th")
    assert [t["threadId"] for t in listed["threads"]] == [a["thread"], b["thread"]]
    assert [(t["title"], t["turns"]) for t in listed["threads"]] == [
        ("alpha one", 3),
        ("beta one", 1),
    ]
    assert set(listed["threads"][0]) == {"threadId", "title", "createdAt", "updatedAt", "turns"}
    hist = _json(env, "history", "--project-id", "p-th", "--thread", b["thread"])
    assert [m["content"] for m in hist["messages"]] == ["beta one", "answer 2"]
    assert hist["threadId"] == b["thread"]
    text = orion("threads", "--project-id", "p-th", env=env).stdout
    assert "alpha one" in text and "3 turns" in text
    bad = orion(
        "chat", "--project-id", "p-th", "--workspace", str(ws), "--thread", "nope", "x", env=env
    )
    assert bad.returncode == 2 and "unknown thread" in bad.stderr
    assert orion("history", "--project-id", "p-th", "--thread", "nope", env=env).returncode == 2
    both = orion("chat", "--project-id", "p-th", "--new", "--thread", a["thread"], "x", env=env)
    assert both.returncode == 2
    gone = orion("forget", "--project-id", "p-th", "--thread", b["thread"], env=env)
    assert gone.returncode == 0, gone.stderr
    assert "1 turns, 2 messages" in gone.stderr
    assert [t["threadId"] for t in _json(env, "threads", "--project-id", "p-th")["threads"]] == [
        a["thread"]
    ]
    assert orion("forget", "--project-id", "p-th", "--thread", b["thread"], env=env).returncode == 2


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


ORIGINAL = "def add(a, b):\r\n    return a + b  # ünïcode 🙂\r\n"


@pytest.fixture
def git_ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_bytes(ORIGINAL.encode())
    (ws / "notes.txt").write_text("untracked, never touched\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # fmt: skip
    for cmd in (["git", "init", "-q"], ["git", "add", "calc.py"], ["git", "commit", "-qm", "c"]):
        subprocess.run(cmd, cwd=ws, env=env, check=True)
    return ws


def _edit_turn(model: ScriptedModelServer) -> None:
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "calc.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {
                        "path": "calc.py",
                        "oldText": "def add(a, b):\n",
                        "newText": 'def add(a, b):\n    """Sum."""\n',
                    },
                ),
                ScriptedToolCall("create_file", {"path": "sub/dir/new.py", "content": "x = 1\n"}),
            ]
        ),
        ScriptedReply(text="Edited and created."),
    )


def test_rewind_on_disk_restores_and_removes_and_never_touches_git(
    tmp_path: Path, git_ws: Path, model: ScriptedModelServer
):
    env = make_env(model, tmp_path / "orion.db")
    git_before = _tree(git_ws / ".git")
    model.push(ScriptedReply(text="first answer"))
    first = _chat(env, git_ws, "a question first")
    _edit_turn(model)
    turn = _chat(env, git_ws, "edit calc and create a module")
    assert (
        (git_ws / "calc.py").read_bytes()
        == 'def add(a, b):\r\n    """Sum."""\r\n    return a + b  # ünïcode 🙂\r\n'.encode()
    )
    assert (git_ws / "sub/dir/new.py").read_text() == "x = 1\n"
    args = ["rewind", "--project-id", "p-th", "--turn", turn["turn"], "--workspace", str(git_ws)]
    dry = _json(env, *args, "--dry-run")
    assert dry["files"] == ["calc.py", "sub/dir/new.py"] and dry["conflicts"] == []
    done = _json(env, *args)
    assert done["rewoundTurns"] == [turn["turn"]]
    assert [r["applied"] for r in done["restored"]] == [True, True]
    assert (git_ws / "calc.py").read_bytes() == ORIGINAL.encode()
    assert not (git_ws / "sub/dir/new.py").exists()
    assert _tree(git_ws / ".git") == git_before
    assert {p for p in _tree(git_ws) if not p.startswith(".git/")} == {"calc.py", "notes.txt"}
    hist = _json(env, "history", "--project-id", "p-th")
    assert [m["turnId"] for m in hist["messages"]] == [first["turn"]] * 2
    rewound = _json(env, "history", "--project-id", "p-th", "--include-rewound")
    assert [m.get("rewound", False) for m in rewound["messages"]] == [False, False, True, True]
    again = orion(*args, env=env)
    assert again.returncode == 2 and "rewound already" in again.stderr


def test_rewind_conflict_on_disk_restores_nothing_until_forced(
    tmp_path: Path, git_ws: Path, model: ScriptedModelServer
):
    env = make_env(model, tmp_path / "orion.db")
    _edit_turn(model)
    turn = _chat(env, git_ws, "edit calc and create a module")
    edited = (git_ws / "calc.py").read_bytes()
    (git_ws / "calc.py").write_bytes(edited + b"# the user's own line\n")
    args = ["rewind", "--project-id", "p-th", "--turn", turn["turn"], "--workspace", str(git_ws)]
    out = orion(*args, env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("Orion rewind conflict: calc.py changed since")
    assert "new.py" not in out.stderr
    assert (git_ws / "calc.py").read_bytes() == edited + b"# the user's own line\n"
    assert (git_ws / "sub/dir/new.py").exists()  # nothing at all was restored
    forced = orion(*args, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert (git_ws / "calc.py").read_bytes() == ORIGINAL.encode()
    assert not (git_ws / "sub/dir/new.py").exists()


def test_a_database_of_the_previous_release_keeps_its_history_in_one_thread(
    tmp_path: Path, model: ScriptedModelServer
):
    db = tmp_path / "orion.db"
    _write_v3_database(db)  # schema 3 and rows, as the release before threads left it
    env = make_env(model, db)
    listed = _json(env, "threads", "--project-id", "alpha-1")
    (thread,) = listed["threads"]
    assert thread["turns"] == 2 and thread["title"].startswith("Pourquoi ça casse? 🚀 x")
    hist = _json(env, "history", "--project-id", "alpha-1")
    assert [m["content"] for m in hist["messages"]][-2:] == ["a later prompt", "a later answer"]
    ws = tmp_path / "ws"
    ws.mkdir()
    model.push(ScriptedReply(text="continuing"))
    out = orion("chat", "--project-id", "alpha-1", "--workspace", str(ws), "and now?", env=env)
    assert out.returncode == 0, out.stderr
    sent = json.dumps(model.requests[-1]["messages"], ensure_ascii=False)
    assert "Parce que." in sent and "a later answer" in sent  # the old turns are its history
    assert "short" not in sent  # another project's
    con = sqlite3.connect(db)
    try:
        (n,) = con.execute(
            "SELECT COUNT(DISTINCT thread_id) FROM chat_messages WHERE project_id = 'alpha-1'"
        ).fetchone()
        assert n == 1
        assert con.execute("PRAGMA user_version").fetchone()[0] >= 5
    finally:
        con.close()
