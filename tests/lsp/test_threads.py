"""Threads and rewind against the real server (pytest-lsp, real SQLite, the scripted
model over HTTP): what the model receives never crosses threads, the default
continues the latest thread, delete removes exactly one thread's rows, rewind
restores an edit and removes a created file through the client's applyEdit, a
conflict restores nothing, force does, and a git workspace's `.git` is
byte-identical before and after."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import Session, rows, start_session

GREET = 'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"\n'


def _sent(model: ScriptedModelServer, i: int = -1) -> str:
    return json.dumps(model.requests[i]["messages"], ensure_ascii=False)


async def test_two_threads_never_see_each_other(session: Session, model: ScriptedModelServer):
    model.push(
        ScriptedReply(text="alpha answer one"),
        ScriptedReply(text="alpha answer two"),
        ScriptedReply(text="beta answer one"),
        ScriptedReply(text="alpha answer three"),
        ScriptedReply(text="beta answer two"),
    )
    a1 = await session.chat("alpha question one 🚀\nwith a second line")
    a2 = await session.chat("alpha question two")  # neither key: the latest thread
    assert a2["threadId"] == a1["threadId"]
    assert "alpha question one" in _sent(model)
    b1 = await session.chat("beta question one", newThread=True)
    assert b1["threadId"] != a1["threadId"]
    assert "alpha" not in _sent(model)
    a3 = await session.chat("alpha question three", threadId=a1["threadId"])
    sent = _sent(model)
    assert "alpha answer two" in sent and "beta" not in sent
    b2 = await session.chat("beta question two")  # the latest is alpha now
    assert b2["threadId"] == a1["threadId"]
    assert [t["threadId"] for t in session.turn_ends] == [a1["threadId"]] * 2 + [
        b1["threadId"],
        a1["threadId"],
        a1["threadId"],
    ]
    listed = await session.command("orion.threads", {})
    assert [t["threadId"] for t in listed["threads"]] == [a1["threadId"], b1["threadId"]]
    assert [t["turns"] for t in listed["threads"]] == [4, 1]
    assert listed["threads"][0]["title"] == "alpha question one 🚀"
    hist = await session.command("orion.history", {"threadId": b1["threadId"]})
    assert [m["content"] for m in hist["messages"]] == ["beta question one", "beta answer one"]
    assert {m["threadId"] for m in hist["messages"]} == {b1["threadId"]}
    default = await session.command("orion.history", {})
    assert default["threadId"] == a1["threadId"] and len(default["messages"]) == 8
    starts = rows(session.db, "SELECT payload FROM trace_events WHERE type = 'turn_start'")
    payloads = [json.loads(p) for (p,) in starts]
    assert {p["threadId"] for p in payloads} == {a1["threadId"], b1["threadId"]}
    assert {p["root"] for p in payloads} == {str(session.workspace.resolve())}
    _ = a3


async def test_unknown_or_foreign_thread_is_invalid_params(
    session: Session, model: ScriptedModelServer
):
    for args in ({"threadId": "nope"}, {"threadId": 3}, {"threadId": "x", "newThread": True}):
        with pytest.raises(JsonRpcException) as exc:
            await session.chat("hi", **args)
        assert exc.value.code == -32602, args
    assert model.requests == []
    for name, args in (
        ("orion.renameThread", {"threadId": "nope", "title": "x"}),
        ("orion.renameThread", {"threadId": "nope"}),
        ("orion.deleteThread", {"threadId": "nope"}),
        ("orion.rewind", {"turnId": "nope"}),
        ("orion.history", {"threadId": "nope"}),
        ("orion.threads", {"limit": 0}),
    ):
        with pytest.raises(JsonRpcException) as exc:
            await session.command(name, args)
        assert exc.value.code == -32602, (name, args)


async def test_rename_and_delete_exactly_one_thread(session: Session, model: ScriptedModelServer):
    model.push(ScriptedReply(text="kept answer"), ScriptedReply(text="FORGET-ME answer"))
    kept = await session.chat("kept question")
    gone = await session.chat("FORGET-ME question", newThread=True)
    renamed = await session.command(
        "orion.renameThread", {"threadId": kept["threadId"], "title": "  Parser\nwork ✓ "}
    )
    assert renamed == {"threadId": kept["threadId"], "title": "Parser work ✓"}
    before = {
        t: rows(session.db, f"SELECT * FROM {t} WHERE turn_id = ? ORDER BY id", (kept["turnId"],))
        for t in ("chat_messages", "trace_events")
    }
    result = await session.command("orion.deleteThread", {"threadId": gone["threadId"]})
    assert result == {"threadId": gone["threadId"], "deleted": True}
    for t in ("chat_messages", "trace_events"):
        assert rows(session.db, f"SELECT * FROM {t} WHERE turn_id = ?", (gone["turnId"],)) == []
        assert (
            rows(session.db, f"SELECT * FROM {t} WHERE turn_id = ? ORDER BY id", (kept["turnId"],))
            == before[t]
        )
    assert rows(session.db, "SELECT id, title FROM threads") == [
        (kept["threadId"], "Parser work ✓")
    ]
    data = session.db.read_bytes() + Path(f"{session.db}-wal").read_bytes()
    assert b"FORGET-ME" not in data
    listed = await session.command("orion.threads", {})
    assert [t["title"] for t in listed["threads"]] == ["Parser work ✓"]


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _git_workspace(ws: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "HOME": str(ws.parent), "PATH": "/usr/bin:/bin"}  # fmt: skip
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "start"]):
        subprocess.run(cmd, cwd=ws, env=env, check=True)


def _edit_turn(model: ScriptedModelServer) -> None:
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {
                        "path": "pkg/greet.py",
                        "oldText": '"""Say hello."""',
                        "newText": '"""Grüße 👋."""',
                    },
                ),
                ScriptedToolCall("create_file", {"path": "pkg/new_ü.py", "content": "x = 1\r\n"}),
            ]
        ),
        ScriptedReply(text="Edited greet.py and created pkg/new_ü.py."),
    )


async def test_rewind_restores_an_edit_and_removes_a_created_file(
    workspace: Path, db_path: Path, model: ScriptedModelServer, caps: str
):
    _git_workspace(workspace)
    git_before = _tree(workspace / ".git")
    tree_before = _tree(workspace)
    s = await start_session(workspace, db_path, model, caps=caps)
    try:
        s.follow_edits = True
        uri = await s.open("pkg/greet.py", GREET)
        model.push(ScriptedReply(text="plain answer"))
        first = await s.chat("just a question")
        _edit_turn(model)
        turn = await s.chat("edit greet and add a module", threadId=first["threadId"])
        assert turn["edits"] == [
            {"path": "pkg/greet.py", "applied": True},
            {"path": "pkg/new_ü.py", "applied": True},
        ]
        assert "Grüße 👋" in s.buffers[uri][0]
        new_uri = (workspace / "pkg" / "new_ü.py").as_uri()
        assert s.buffers[new_uri][0] == "x = 1\r\n"
        hist = await s.command("orion.history", {})
        assert hist["messages"][-1]["changedFiles"] == ["pkg/greet.py", "pkg/new_ü.py"]
        plan = await s.command("orion.rewind", {"turnId": first["turnId"], "dryRun": True})
        assert plan["files"] == ["pkg/greet.py", "pkg/new_ü.py"] and plan["conflicts"] == []
        assert plan["rewoundTurns"] == [first["turnId"], turn["turnId"]]
        n_edits = len(s.apply_edits)
        result = await s.command("orion.rewind", {"turnId": first["turnId"]})
        assert result["rewoundTurns"] == [first["turnId"], turn["turnId"]]
        assert result["restored"] == [
            {"path": "pkg/greet.py", "applied": True},
            {"path": "pkg/new_ü.py", "applied": True},
        ]
        sent = s.apply_edits[n_edits:]
        assert len(sent) == 2  # one undoable workspace edit per file
        assert s.buffers[uri][0] == GREET
        assert isinstance(sent[1].edit.document_changes[0], lsp.DeleteFile)
        assert not (workspace / "pkg" / "new_ü.py").exists() and new_uri not in s.buffers
        assert (await s.command("orion.history", {}))["messages"] == []
        everything = await s.command("orion.history", {"includeRewound": True})
        assert [m.get("rewound") for m in everything["messages"]] == [True] * 4
        assert rows(
            s.db,
            "SELECT turn_id, name, value, source FROM scores WHERE name = 'rewound' ORDER BY turn_id",
        ) == sorted(
            [(first["turnId"], "rewound", 1.0, "human"), (turn["turnId"], "rewound", 1.0, "human")]
        )
        n_events = rows(
            s.db, "SELECT COUNT(*) FROM trace_events WHERE turn_id = ?", (turn["turnId"],)
        )
        assert n_events[0][0] >= 6  # the traces stay
        with pytest.raises(JsonRpcException) as exc:
            await s.command("orion.rewind", {"turnId": turn["turnId"]})
        assert exc.value.code == -32602
        # The next turn's history leaves the rewound turns out.
        model.push(ScriptedReply(text="after the rewind"))
        await s.chat("what now?")
        assert "just a question" not in _sent(model) and "Grüße" not in _sent(model)
    finally:
        await s.client.shutdown_session()
    assert _tree(workspace / ".git") == git_before
    assert _tree(workspace) == tree_before  # nothing written, nothing left behind


async def test_a_conflict_restores_nothing_and_force_restores(
    session: Session, model: ScriptedModelServer
):
    session.follow_edits = True
    uri = await session.open("pkg/greet.py", GREET)
    _edit_turn(model)
    turn = await session.chat("edit greet and add a module")
    # The user types in the buffer after the turn.
    text, version = session.buffers[uri]
    typed = text + "# the user's line\n"
    session.buffers[uri] = (typed, version + 1)
    end = len(text.split("\n")) - 1
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version + 1),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(lsp.Position(end, 0), lsp.Position(end, 0)),
                    text="# the user's line\n",
                )
            ],
        )
    )
    n_edits = len(session.apply_edits)
    with pytest.raises(JsonRpcException) as exc:
        await session.command("orion.rewind", {"turnId": turn["turnId"]})
    assert exc.value.code == -32803
    assert (
        exc.value.message.startswith("Orion rewind conflict:")
        and "pkg/greet.py" in exc.value.message
    )
    assert "new_ü.py" not in exc.value.message  # only the changed file is named
    assert len(session.apply_edits) == n_edits  # nothing at all was restored
    assert (session.workspace / "pkg" / "new_ü.py").exists()
    assert exc.value.message in session.error_messages()
    result = await session.command("orion.rewind", {"turnId": turn["turnId"], "force": True})
    assert [r["applied"] for r in result["restored"]] == [True, True]
    assert session.buffers[uri][0] == GREET


async def test_a_client_without_delete_gets_the_created_file_emptied(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    from pytest_lsp import client_capabilities

    caps = client_capabilities("visual-studio-code")
    assert caps.workspace and caps.workspace.workspace_edit
    caps.workspace.workspace_edit.resource_operations = [lsp.ResourceOperationKind.Create]
    s = await start_session(workspace, db_path, model, caps=caps)
    try:
        s.follow_edits = True
        await s.open("pkg/greet.py", GREET)
        _edit_turn(model)
        turn = await s.chat("edit greet and add a module")
        result = await s.command("orion.rewind", {"turnId": turn["turnId"]})
        created = result["restored"][1]
        assert created["path"] == "pkg/new_ü.py" and created["applied"] is True
        assert created["note"].startswith("emptied")
        assert not any(
            isinstance(c, lsp.DeleteFile)
            for e in s.apply_edits
            for c in (e.edit.document_changes or [])
        )
        assert s.buffers[(workspace / "pkg" / "new_ü.py").as_uri()][0] == ""
    finally:
        await s.client.shutdown_session()
