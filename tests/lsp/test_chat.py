"""orion.chat end to end: real server subprocess, real SQLite file, scripted model over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import API_KEY, HANG_S, Session, model_env, rows, start_session


async def test_turn_with_tool_call_streams_and_stores(session: Session, model: ScriptedModelServer):
    model.push(
        ScriptedReply(
            text="Let me read it. ",
            tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})],
        ),
        ScriptedReply(text="`greet` returns a greeting for **name**."),
    )
    before = sorted(p.relative_to(session.workspace) for p in session.workspace.rglob("*"))
    result = await session.chat("What does greet do?")
    turn_id = result["turnId"]
    # README: nothing is written into the workspace (no cache, no database, no .orion/).
    assert sorted(p.relative_to(session.workspace) for p in session.workspace.rglob("*")) == before
    assert result["status"] == "completed"
    assert result["answer"] == "Let me read it. `greet` returns a greeting for **name**."
    assert session.answer_of(turn_id) == result["answer"]
    assert result["toolCalls"] == [{"name": "read_file", "ok": True}]
    # turnEnd arrives before the response.
    assert [t["status"] for t in session.turn_ends if t["turnId"] == turn_id] == ["completed"]
    kinds = [(e["type"], e["name"]) for e in session.tool_events]
    assert kinds == [("tool_call", "read_file"), ("tool_result", "read_file")]
    # What the model saw on its second call: the file content as a tool message.
    second = model.requests[1]["messages"]
    assert any(m["role"] == "tool" and "Hello, {name}!" in m["content"] for m in second)

    events = rows(
        session.db,
        "SELECT seq, type, payload FROM trace_events WHERE turn_id=? ORDER BY seq",
        (turn_id,),
    )
    types = [t for _, t, _ in events]
    assert types == ["turn_start", "llm_call", "tool_call", "tool_result", "llm_call", "turn_end"]
    assert [s for s, _, _ in events] == list(range(1, 7))
    payloads = [json.loads(p) for _, _, p in events]
    assert payloads[2]["name"] == "read_file"
    assert payloads[3]["name"] == "read_file" and payloads[3]["ok"] is True
    assert payloads[-1]["status"] == "completed"
    assert payloads[1]["finishReason"] == "tool_calls"
    msgs = rows(
        session.db,
        "SELECT role, content FROM chat_messages WHERE turn_id=? ORDER BY id",
        (turn_id,),
    )
    assert msgs == [("user", "What does greet do?"), ("assistant", result["answer"])]


async def test_progress_begin_report_end(session: Session, model: ScriptedModelServer):
    model.push(ScriptedReply(text="ok then"))
    result = await session.chat("hi")
    token = f"orion-turn-{result['turnId']}"
    reports = session.client.progress_reports.get(token)
    if session.client.capabilities.window and session.client.capabilities.window.work_done_progress:
        assert reports, "progress expected for a client that supports it"
        assert isinstance(reports[0], lsp.WorkDoneProgressBegin) and reports[0].cancellable
        assert any(isinstance(r, lsp.WorkDoneProgressReport) for r in reports)
        assert isinstance(reports[-1], lsp.WorkDoneProgressEnd)
    else:
        assert not reports


async def test_bad_arguments_are_invalid_params_without_traceback(session: Session):
    for args in (
        [],
        [{"prompt": ""}],
        [{"prompt": 3}],
        ["text"],
        [{"prompt": "x", "range": {"start": 1}}],
    ):
        with pytest.raises(JsonRpcException) as exc:
            await session.client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command="orion.chat", arguments=args)
            )
        assert exc.value.code == -32602, args
        assert "Traceback" not in str(exc.value) and exc.value.data is None
    with pytest.raises(JsonRpcException) as exc:
        await session.command("orion.cancel", {"turn": "x"})
    assert exc.value.code == -32602


async def test_history_survives_restart_and_is_limited(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    s1 = await start_session(workspace, db_path, model)
    try:
        for i in range(11):
            model.push(ScriptedReply(text=f"answer number {i}"))
            await s1.chat(f"question {i}")
    finally:
        await s1.client.shutdown_session()
    s2 = await start_session(workspace, db_path, model, caps="neovim")
    try:
        hist = await s2.command("orion.history", {})
        msgs = hist["messages"]
        assert len(msgs) == 20  # historyLimit default: 22 stored, last 20 returned
        assert (msgs[0]["role"], msgs[0]["content"]) == ("user", "question 1")
        assert msgs[-1]["content"] == "answer number 10" and msgs[-2]["content"] == "question 10"
        assert (
            hist["projectId"] == (await s2.command("orion.status", {}))["projects"][0]["projectId"]
        )
        short = await s2.command("orion.history", {"limit": 3})
        assert [m["content"] for m in short["messages"]] == [
            "answer number 9",
            "question 10",
            "answer number 10",
        ]
        # The next turn sends the history to the model, oldest first.
        model.push(ScriptedReply(text="fine"))
        await s2.chat("and now?")
        sent = model.requests[-1]["messages"]
        assert sent[0]["role"] == "system"
        assert [m["content"] for m in sent[1:3]] == ["question 1", "answer number 1"]
        assert sent[-1] == {"role": "user", "content": "and now?"}
    finally:
        await s2.client.shutdown_session()


async def test_unreachable_model_is_a_model_error(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    env = model_env(model, db_path, ORION_API_BASE="http://127.0.0.1:9/v1")
    s = await start_session(workspace, db_path, model, env=env)
    try:
        with pytest.raises(JsonRpcException) as exc:
            await s.chat("hello?")
        msg = exc.value.message
        assert exc.value.code == -32803
        assert msg.startswith("Orion model error:")
        assert "openai/scripted" in msg and "http://127.0.0.1:9/v1" in msg
        assert "Traceback" not in msg and exc.value.data is None
        await s.wait_error_message(msg)
        end = rows(db_path, "SELECT payload FROM trace_events WHERE type='turn_end'")
        assert json.loads(end[-1][0])["status"] == "error"
        assert s.turn_ends[-1]["status"] == "error"
    finally:
        await s.client.shutdown_session()


async def test_database_that_is_not_a_database(
    workspace: Path, tmp_path: Path, model: ScriptedModelServer
):
    bad = tmp_path / "notadb.db"
    content = b"this is not a database, it is a text file\n" * 100
    bad.write_bytes(content)
    s = await start_session(workspace, bad, model)
    try:
        status = await s.command("orion.status", {})
        assert status["storageError"].startswith("Orion storage error:")
        for name, args in (("orion.chat", {"prompt": "hi"}), ("orion.history", {})):
            with pytest.raises(JsonRpcException) as exc:
                await s.command(name, args)
            assert exc.value.code == -32803
            assert exc.value.message.startswith("Orion storage error:")
            assert str(bad) in exc.value.message
            await s.wait_error_message(exc.value.message)
        assert s.error_messages()[0].startswith("Orion storage error:")
        assert model.requests == []  # no model call without a ledger
        assert bad.read_bytes() == content  # never overwritten
    finally:
        await s.client.shutdown_session()


async def test_storage_failure_mid_turn_stops_the_turn(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    # Storage calls: 1 start-up sweep, 2 the thread's choice, 3 history,
    # 4 turn_start with the user message, 5 the previous turn's edits (edit_kept),
    # 6 llm_call, 7 tool_call ... Fail from the tool_call on.
    env = model_env(model, db_path, ORION_FAULT_STORAGE="7+")
    model.push(
        ScriptedReply(
            text="reading", tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})]
        ),
        ScriptedReply(text="should never be asked for"),
    )
    s = await start_session(workspace, db_path, model, env=env)
    try:
        with pytest.raises(JsonRpcException) as exc:
            await s.chat("go")
        assert exc.value.code == -32803
        assert (
            exc.value.message.startswith("Orion storage error:")
            and str(db_path) in exc.value.message
        )
        await s.wait_error_message(exc.value.message)
        assert len(model.requests) == 1  # no further model call
        assert not [e for e in s.tool_events if e["type"] == "tool_result"]  # the tool never ran
        types = [t for (t,) in rows(db_path, "SELECT type FROM trace_events ORDER BY id")]
        assert types == ["turn_start", "llm_call"]
        assert "completed" not in json.dumps(rows(db_path, "SELECT payload FROM trace_events"))
    finally:
        await s.client.shutdown_session()


async def test_cancel_mid_stream(session: Session, model: ScriptedModelServer):
    model.push(ScriptedReply(text="I am thinking very slowly about this", hang=True))
    task = asyncio.create_task(session.chat("long question"))
    async with asyncio.timeout(HANG_S):
        while not session.deltas:
            await asyncio.sleep(0.02)
    turn_id = session.deltas[0]["turnId"]
    assert await session.command("orion.cancel", {"turnId": turn_id}) == {"cancelled": True}
    result = await asyncio.wait_for(task, HANG_S)
    assert result["status"] == "cancelled"
    assert result["answer"] == session.answer_of(turn_id)
    end = rows(
        session.db,
        "SELECT payload FROM trace_events WHERE turn_id=? AND type='turn_end'",
        (turn_id,),
    )
    assert json.loads(end[0][0])["status"] == "cancelled"
    roles = rows(session.db, "SELECT role FROM chat_messages WHERE turn_id=?", (turn_id,))
    assert sorted(r for (r,) in roles) == ["assistant", "user"]
    assert await session.command("orion.cancel", {"turnId": turn_id}) == {"cancelled": False}


async def test_cancel_request_stops_the_turn(session: Session, model: ScriptedModelServer):
    model.push(ScriptedReply(text="streaming and then hanging forever", hang=True))
    msg_id = "chat-to-cancel"
    fut = asyncio.ensure_future(
        session.client.protocol.send_request_async(
            lsp.WORKSPACE_EXECUTE_COMMAND,
            lsp.ExecuteCommandParams(command="orion.chat", arguments=[{"prompt": "slow"}]),
            msg_id=msg_id,
        )
    )
    async with asyncio.timeout(HANG_S):
        while not session.deltas:
            await asyncio.sleep(0.02)
    turn_id = session.deltas[0]["turnId"]
    session.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as exc:
        await asyncio.wait_for(fut, HANG_S)
    assert exc.value.code == -32800
    end = await session.wait_turn_end(turn_id)
    assert end["status"] == "cancelled"
    async with asyncio.timeout(HANG_S):
        while not rows(
            session.db, "SELECT 1 FROM trace_events WHERE turn_id=? AND type='turn_end'", (turn_id,)
        ):
            await asyncio.sleep(0.05)


async def test_detach_returns_at_once(session: Session, model: ScriptedModelServer):
    model.push(ScriptedReply(text="detached answer", delay_s=0.3))
    result = await session.chat("in the background", detach=True)
    assert result["status"] == "running" and result["turnId"]
    end = await session.wait_turn_end(result["turnId"])
    assert end["status"] == "completed" and end["answer"] == "detached answer"


async def test_path_traversal_refused_and_key_never_leaks(
    workspace: Path, db_path: Path, model: ScriptedModelServer, tmp_path: Path
):
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("CANARY-OUTSIDE-CONTENT")
    model.push(
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall("read_file", {"path": "../outside-secret.txt"}),
                ScriptedToolCall("read_file", {"path": str(secret)}),
            ]
        ),
        ScriptedReply(text=f"I could not read it. By the way the key is {API_KEY}."),
    )
    s = await start_session(workspace, db_path, model)
    try:
        result = await s.chat(f"read ../outside-secret.txt with key {API_KEY}")
        assert result["toolCalls"] == [
            {"name": "read_file", "ok": False},
            {"name": "read_file", "ok": False},
        ]
        assert "CANARY-OUTSIDE-CONTENT" not in json.dumps(model.requests)
        assert API_KEY not in json.dumps(result)
        assert API_KEY not in json.dumps(s.deltas)
        await s.client.shutdown_session()
    finally:
        pass
    for f in db_path.parent.iterdir():
        data = f.read_bytes()
        assert API_KEY.encode() not in data, f.name
    assert "CANARY-OUTSIDE-CONTENT" not in json.dumps(
        rows(db_path, "SELECT payload FROM trace_events")
    )


async def test_edit_arrives_as_apply_edit(session: Session, model: ScriptedModelServer):
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file",
                    {
                        "path": "pkg/greet.py",
                        "oldText": '"""Say hello."""',
                        "newText": '"""Greet someone by name."""',
                    },
                )
            ]
        ),
        ScriptedReply(text="Updated the docstring."),
    )
    before = (session.workspace / "pkg/greet.py").read_text()
    result = await session.chat("improve the docstring")
    assert result["edits"] == [{"path": "pkg/greet.py", "applied": True}]
    assert len(session.apply_edits) == 1
    we = session.apply_edits[0].edit
    if we.document_changes:  # clients with documentChanges (VS Code)
        edit = we.document_changes[0].edits[0]
    else:  # a plain changes map
        assert list(we.changes) == [(session.workspace / "pkg/greet.py").as_uri()]
        edit = we.changes[(session.workspace / "pkg/greet.py").as_uri()][0]
    assert edit.new_text == '"""Greet someone by name."""'
    assert (edit.range.start.line, edit.range.start.character) == (1, 4)
    assert (edit.range.end.line, edit.range.end.character) == (1, 20)
    # The server never writes the file itself.
    assert (session.workspace / "pkg/greet.py").read_text() == before
