"""`orion acp` driven by the official ACP Python SDK's client side, as Zed or
CodeCompanion would: sessions are threads of the project, prompts are turns
in the same ledger as the language server's, edits ask permission and go
through the client's fs, cancel stops a turn, errors carry Orion's texts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from acp import PROTOCOL_VERSION, RequestError, text_block

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import API_KEY, RecordingClient, acp_env, capabilities, orion_acp

SOURCE = "def greet(name):\n    return f'Grüß dich, {name} 🙂'\n"


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text(SOURCE, encoding="utf-8")
    return ws


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


async def test_new_prompt_with_a_tool_then_load_and_list(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    db = tmp_path / "orion.db"
    client = RecordingClient()
    model.push(
        ScriptedReply(text="Je lis. ", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
        ScriptedReply(text="greet says Grüß dich 🙂."),
    )  # fmt: skip
    async with orion_acp(client, acp_env(model, db), workspace) as (conn, _):
        init = await conn.initialize(protocol_version=PROTOCOL_VERSION,
                                     client_capabilities=capabilities(fs=True))  # fmt: skip
        assert init.agent_capabilities.load_session is True
        assert init.agent_capabilities.session_capabilities.list is not None
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        result = await conn.prompt(
            session_id=session.session_id, prompt=[text_block("Que fait greet? ✨")]
        )
        assert result.stop_reason == "end_turn"
        assert client.texts(session.session_id) == "Je lis. greet says Grüß dich 🙂."
        starts = client.of_kind("tool_call")
        updates = client.of_kind("tool_call_update")
        assert [(s.title, s.kind, s.status) for s in starts] == [
            ("read_file app.py", "read", "pending")]  # fmt: skip
        assert [loc.path for loc in starts[0].locations] == [str(workspace / "app.py")]
        assert [u.status for u in updates] == ["in_progress", "completed"]
        assert client.reads == [str(workspace / "app.py")]  # read through the client
        listing = await conn.list_sessions(cwd=str(workspace))
        assert [s.session_id for s in listing.sessions] == [session.session_id]
    # The turn is in the same ledger, in the session's thread.
    (thread,) = rows(db, "SELECT DISTINCT thread_id FROM chat_messages")
    assert thread == (session.session_id,)
    assert [r[0] for r in rows(db, "SELECT role FROM chat_messages ORDER BY id")] == [
        "user", "assistant"]  # fmt: skip
    names = [json.loads(p)["name"] for (p,) in rows(
        db, "SELECT payload FROM trace_events WHERE type = 'tool_call'")]  # fmt: skip
    assert names == ["read_file"]
    # A new process loads the session: the thread is replayed before the answer.
    client2 = RecordingClient()
    async with orion_acp(client2, acp_env(model, db), workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=False))  # fmt: skip
        await conn.load_session(cwd=str(workspace), session_id=session.session_id, mcp_servers=[])
        kinds = [u.session_update for _, u in client2.updates]
        assert kinds == ["user_message_chunk", "agent_message_chunk"]
        assert client2.updates[0][1].content.text == "Que fait greet? ✨"
        with pytest.raises(RequestError) as err:
            await conn.load_session(cwd=str(workspace), session_id="nope", mcp_servers=[])
        assert err.value.code == -32602
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("orion.db*"))
    assert API_KEY.encode() not in raw


def _edit_turn(model: ScriptedModelServer) -> None:
    model.push(
        ScriptedReply(text="", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
        ScriptedReply(text="", tool_calls=[ScriptedToolCall(
            "edit_file", {"path": "app.py", "oldText": "Grüß dich", "newText": "Servus"})]),
        ScriptedReply(text="Done."),
    )  # fmt: skip


async def test_a_rejected_edit_leaves_the_file_and_allow_always_lasts_the_session(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    client = RecordingClient(permission_answers=["reject_once", "allow_always"])
    async with orion_acp(client, acp_env(model, tmp_path / "orion.db"), workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=False))  # fmt: skip
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        _edit_turn(model)
        await conn.prompt(session_id=session.session_id, prompt=[text_block("Change it")])
        assert (workspace / "app.py").read_text(encoding="utf-8") == SOURCE  # rejected
        (call, options) = client.permission_requests[0]
        assert options == ["allow_once", "allow_always", "reject_once", "reject_always"]
        assert call.kind == "edit" and call.content[0].type == "diff"
        assert call.content[0].new_text.count("Servus") == 1
        failed = [u for u in client.of_kind("tool_call_update") if u.status == "failed"]
        assert len(failed) == 1
        _edit_turn(model)
        await conn.prompt(session_id=session.session_id, prompt=[text_block("Change it now")])
        assert "Servus" in (workspace / "app.py").read_text(encoding="utf-8")  # on disk: no fs
        _edit_turn(model)
        (workspace / "app.py").write_text(SOURCE, encoding="utf-8")
        await conn.prompt(session_id=session.session_id, prompt=[text_block("Once more")])
        assert len(client.permission_requests) == 2  # allow always: not asked again
        assert "Servus" in (workspace / "app.py").read_text(encoding="utf-8")
        diffs = [c for u in client.of_kind("tool_call_update") for c in (u.content or [])
                 if c.type == "diff"]  # fmt: skip
        assert diffs and all(d.path == str(workspace / "app.py") for d in diffs)


async def test_edits_go_through_the_clients_fs_and_see_unsaved_buffers(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    target = str(workspace / "app.py")
    unsaved = SOURCE.replace("Grüß dich", "Grüß dich (unsaved)")
    client = RecordingClient(buffers={target: unsaved}, permission_answers=["allow_once"])
    async with orion_acp(client, acp_env(model, tmp_path / "orion.db"), workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=True))  # fmt: skip
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        _edit_turn(model)
        await conn.prompt(session_id=session.session_id, prompt=[text_block("Change it")])
    assert client.writes == [(target, unsaved.replace("Grüß dich", "Servus"))]
    assert (workspace / "app.py").read_text(encoding="utf-8") == SOURCE  # the editor owns it
    read_request = model.requests[1]["messages"][-1]["content"]
    assert "(unsaved)" in read_request  # the model saw the buffer, not the disk


async def test_a_hostile_path_is_refused_and_never_read(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    client = RecordingClient()
    model.push(
        ScriptedReply(text="", tool_calls=[ScriptedToolCall("read_file", {"path": "../secret.txt"})]),
        ScriptedReply(text="Could not."),
    )  # fmt: skip
    async with orion_acp(client, acp_env(model, tmp_path / "orion.db"), workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=True))  # fmt: skip
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("Read it")])
    assert client.reads == []  # never asked the client for a path outside the root
    assert [u.status for u in client.of_kind("tool_call_update")][-1] == "failed"
    assert "TOP SECRET" not in json.dumps(model.requests)


async def test_cancel_stops_the_running_turn(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    db = tmp_path / "orion.db"
    client = RecordingClient()
    model.push(ScriptedReply(text="I am thinking very slowly about this", hang=True))
    async with orion_acp(client, acp_env(model, db), workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=False))  # fmt: skip
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        running = asyncio.ensure_future(
            conn.prompt(session_id=session.session_id, prompt=[text_block("slow")])
        )
        async with asyncio.timeout(60):
            while not client.texts(session.session_id):
                await asyncio.sleep(0.05)
        await conn.cancel(session_id=session.session_id)
        result = await asyncio.wait_for(running, 30)
        assert result.stop_reason == "cancelled"
    (status,) = rows(db, "SELECT json_extract(payload, '$.status') FROM trace_events"
                         " WHERE type = 'turn_end'")  # fmt: skip
    assert status == ("cancelled",)


async def test_storage_and_model_errors_carry_orions_texts(
    tmp_path: Path, workspace: Path, model: ScriptedModelServer
) -> None:
    (tmp_path / "dir.db").mkdir()
    client = RecordingClient()
    env = acp_env(model, tmp_path / "dir.db")
    async with orion_acp(client, env, workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=False))  # fmt: skip
        with pytest.raises(RequestError) as err:
            await conn.new_session(cwd=str(workspace), mcp_servers=[])
        assert err.value.code == -32803
        assert str(err.value).startswith("Orion storage error:")
        assert str(tmp_path / "dir.db") in str(err.value)
    env = acp_env(model, tmp_path / "ok.db", ORION_API_BASE="http://127.0.0.1:9/v1")
    async with orion_acp(client, env, workspace) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=capabilities(fs=False))  # fmt: skip
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        with pytest.raises(RequestError) as err:
            await conn.prompt(session_id=session.session_id, prompt=[text_block("hi")])
        assert err.value.code == -32803
        assert str(err.value).startswith("Orion model error:")
        assert API_KEY not in str(err.value) and "Traceback" not in str(err.value)
