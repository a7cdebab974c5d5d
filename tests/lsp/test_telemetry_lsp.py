"""The language server exports finished turns over OTLP in the background and
counts them in `orion.status` (`telemetry: {endpoint, exported, failed}`); a dead
collector is counted as failed and the answer is unaffected."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from orion_lsp.testing.otlp_receiver import OtlpReceiver

from .harness import API_KEY, HANG_S, model_env, start_session


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


async def _status_until(session: Any, predicate: Any, timeout: float = HANG_S) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            status = await session.command("orion.status", {})
            if predicate(status["telemetry"]):
                return dict(status["telemetry"])
            await asyncio.sleep(0.1)


async def test_status_counts_exported_turns(
    workspace: Path, db_path: Path, model: ScriptedModelServer, receiver: OtlpReceiver
) -> None:
    env = model_env(model, db_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    session = await start_session(workspace, db_path, model, env=env)
    try:
        model.push(
            ScriptedReply(text="", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
            ScriptedReply(text="Read it."),
        )
        result = await session.chat("What does app.py do? ✨")
        assert result["status"] == "completed"
        telemetry = await _status_until(session, lambda t: t["exported"] == 1)
        assert telemetry == {
            "endpoint": receiver.endpoint + "/v1/traces", "exported": 1, "failed": 0}  # fmt: skip
        spans = receiver.wait_for(lambda s: any(x.name == "execute_tool read_file" for x in s))
        (turn,) = [s for s in spans if s.name == "invoke_agent orion"]
        assert turn.attributes["orion.turn_id"] == result["turnId"]
        for body in receiver.bodies:
            assert API_KEY.encode() not in body
    finally:
        await session.client.shutdown_session()


async def test_a_dead_collector_is_counted_not_felt(
    workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = model_env(model, db_path, OTEL_EXPORTER_OTLP_ENDPOINT=dead)
    session = await start_session(workspace, db_path, model, env=env)
    try:
        model.push(ScriptedReply(text="Still answered."))
        result = await session.chat("hello")
        assert (result["status"], result["answer"]) == ("completed", "Still answered.")
        telemetry = await _status_until(session, lambda t: t["failed"] == 1)
        assert telemetry["exported"] == 0
        assert session.error_messages() == []  # the ledger has the turn: not an editor error
    finally:
        await session.client.shutdown_session()


async def test_status_without_an_endpoint(
    workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    session = await start_session(workspace, db_path, model)
    try:
        status = await session.command("orion.status", {})
        assert status["telemetry"] == {"endpoint": None, "exported": 0, "failed": 0}
    finally:
        await session.client.shutdown_session()
