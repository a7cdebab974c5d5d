"""OpenTelemetry export: spans built from ledger events, the OTEL_* settings, and
real `orion chat` turns sent by the real SDK exporter to an in-process OTLP/HTTP
receiver (names, parent links, GenAI attributes, content only when asked,
secrets in no byte, a dead collector costing the turn nothing)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.telemetry.config import TelemetryConfig, parse_headers
from orion_lsp.telemetry.spans import turn_spans
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from orion_lsp.testing.otlp_receiver import OtlpReceiver, ReceivedSpan

API_KEY = "sk-canary-telemetry-0123456789abcdef"
HEADER_SECRET = "phx-header-secret-9876543210"


@dataclass
class Ev:
    type: str
    payload: dict[str, Any]
    created_at: str


@dataclass
class Sc:
    name: str
    source: str
    value: float | None = None
    label: str | None = None
    source_id: str = ""
    step: int = 0
    explanation: str | None = None
    created_at: str = "2026-12-01T10:00:02.000Z"


EVENTS = [
    Ev("turn_start", {"prompt": "Où est greet? 🙂", "model": "ollama_chat/qwen", "threadId": "th1"},
       "2026-12-01T10:00:00.000Z"),
    Ev("llm_call", {"model": "ollama_chat/qwen", "step": 1, "durationMs": 300, "finishReason":
       "tool_calls", "tokens": {"prompt_tokens": 120, "completion_tokens": 8}, "text": "Je lis. "},
       "2026-12-01T10:00:00.400Z"),
    Ev("tool_call", {"name": "read_file", "id": "c1", "arguments": {"path": "app.py"}},
       "2026-12-01T10:00:00.410Z"),
    Ev("tool_call", {"name": "search", "id": "c2", "arguments": {"pattern": "x"}},
       "2026-12-01T10:00:00.420Z"),
    Ev("tool_result", {"name": "read_file", "id": "c1", "ok": True, "content": "def greet"},
       "2026-12-01T10:00:00.450Z"),
    Ev("tool_result", {"name": "search", "id": "c2", "ok": False, "summary": "bad regex"},
       "2026-12-01T10:00:00.460Z"),
    Ev("llm_call", {"model": "ollama_chat/qwen", "step": 2, "durationMs": 500, "error": "boom",
       "errorKind": "server_error"}, "2026-12-01T10:00:01.000Z"),
    Ev("turn_end", {"status": "completed"}, "2026-12-01T10:00:01.500Z"),
]  # fmt: skip


def test_turn_spans_follow_the_genai_conventions() -> None:
    scores = [Sc("tool_errors", "code", value=1), Sc("user_rating", "human", label="up",
              explanation="merci")]  # fmt: skip
    spans = {s.key: s for s in turn_spans("t1", "p1", EVENTS, scores)}
    turn = spans["turn"]
    assert turn.name == "invoke_agent orion" and turn.parent is None
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.agent.name"] == "orion"
    assert turn.attributes["gen_ai.conversation.id"] == "th1"
    assert turn.attributes["gen_ai.provider.name"] == "ollama"
    assert (turn.attributes["orion.project_id"], turn.attributes["orion.turn_id"]) == ("p1", "t1")
    assert turn.attributes["orion.status"] == "completed" and turn.error is None
    assert turn.end_ns - turn.start_ns == 1_500_000_000
    chats = [s for s in spans.values() if s.name.startswith("chat ")]
    assert [c.name for c in chats] == ["chat ollama_chat/qwen"] * 2
    first, failed = chats
    assert first.parent == "turn" and first.kind == "client"
    assert first.end_ns - first.start_ns == 300_000_000
    assert first.attributes["gen_ai.usage.input_tokens"] == 120
    assert first.attributes["gen_ai.usage.output_tokens"] == 8
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert failed.error == "boom" and failed.attributes["error.type"] == "server_error"
    tools = {s.attributes["gen_ai.tool.name"]: s for s in spans.values() if s.name.startswith("ex")}
    assert set(tools) == {"read_file", "search"}
    assert tools["read_file"].name == "execute_tool read_file" and tools["read_file"].error is None
    assert tools["read_file"].end_ns - tools["read_file"].start_ns == 40_000_000  # paired by id
    assert tools["search"].error == "bad regex"
    assert [e.attributes["gen_ai.evaluation.name"] for e in turn.events] == [
        "tool_errors", "user_rating"]  # fmt: skip
    assert turn.events[0].attributes["gen_ai.evaluation.score.value"] == 1.0
    assert turn.events[1].attributes["gen_ai.evaluation.score.label"] == "up"
    # Off by default: no message or tool content, no user comment.
    everything = json.dumps(
        [(s.attributes, [e.attributes for e in s.events]) for s in spans.values()]
    )
    for content in ("Où est greet", "Je lis", "app.py", "def greet", "merci"):
        assert content not in everything


def test_content_only_when_capture_is_on() -> None:
    spans = {s.key: s for s in turn_spans("t1", "p1", EVENTS, capture_content=True)}
    assert "Où est greet? 🙂" in str(spans["turn"].attributes["gen_ai.input.messages"])
    tool = next(s for s in spans.values() if s.attributes.get("gen_ai.tool.name") == "read_file")
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"path": "app.py"}
    assert tool.attributes["gen_ai.tool.call.result"] == "def greet"


def test_a_turn_without_turn_start_has_no_spans() -> None:
    assert turn_spans("t1", "p1", EVENTS[1:]) == []


def test_config_follows_the_otel_variables() -> None:
    off = TelemetryConfig.resolve(None, {})
    assert not off.enabled and off.public_endpoint is None
    c = TelemetryConfig.resolve(
        "http://setting:1", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318/"}
    )
    assert c.endpoint == "http://a:4318/v1/traces"
    c = TelemetryConfig.resolve(
        "http://setting:1",
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://u:pw@b:9/custom?x=1",
            "OTEL_EXPORTER_OTLP_HEADERS": "api_key=one,x-team=a%20b",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api_key=two",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True",
            "OTEL_SERVICE_NAME": "orion-ci",
        },
    )
    assert c.endpoint == "http://u:pw@b:9/custom?x=1"
    assert c.public_endpoint == "http://b:9/custom"
    assert c.headers == {"api_key": "two", "x-team": "a b"}
    assert c.capture_content and c.service_name == "orion-ci"
    assert TelemetryConfig.resolve("http://s:1", {}).endpoint == "http://s:1/v1/traces"
    assert parse_headers("bad,=x,k=v") == {"k": "v"}


# -- real turns through the real exporter ------------------------------------------------


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


def _env(model: ScriptedModelServer, db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORION_", "OTEL_", "OPENAI_", "LITELLM_"))
    }
    env.update(ORION_MODEL=model.model, ORION_API_BASE=model.base_url, ORION_DB=str(db))
    env.update(ORION_API_KEY=API_KEY)
    env.update(extra)
    return env


def _chat(env: dict[str, str], ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orion_lsp.cli", *args],
        env=env,
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet(name):\n    return f'Grüß dich, {name} 🙂'\n")
    return ws


def _script_turn(model: ScriptedModelServer) -> None:
    model.push(
        ScriptedReply(text="Je lis. ", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
        ScriptedReply(text=f"greet lives in app.py (key {API_KEY})."),
    )  # fmt: skip


def _one_trace(spans: list[ReceivedSpan]) -> bool:
    return any(s.name == "invoke_agent orion" for s in spans) and len(spans) >= 4


def test_a_cli_turn_reaches_the_collector_as_genai_spans(
    tmp_path: Path, model: ScriptedModelServer, receiver: OtlpReceiver
) -> None:
    ws, db = _workspace(tmp_path), tmp_path / "orion.db"
    _script_turn(model)
    env = _env(
        model,
        db,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS=f"x-api-key={HEADER_SECRET}",
    )
    done = _chat(env, ws, "chat", "--project-id", "p-otel", "--workspace", str(ws), "Où est greet?")
    assert done.returncode == 0, done.stderr
    spans = receiver.wait_for(_one_trace)
    (turn,) = [s for s in spans if s.name == "invoke_agent orion"]
    con = sqlite3.connect(db)
    (turn_id,) = con.execute("SELECT DISTINCT turn_id FROM trace_events").fetchone()
    (start,) = con.execute("SELECT payload FROM trace_events WHERE type = 'turn_start'").fetchone()
    con.close()
    assert turn.parent_span_id == ""
    assert turn.trace_id == turn_id  # the trace id is the turn id
    assert turn.attributes["orion.turn_id"] == turn_id
    assert turn.attributes["orion.project_id"] == "p-otel"
    assert turn.attributes["orion.status"] == "completed"
    assert turn.attributes["gen_ai.agent.name"] == "orion"
    thread = json.loads(start).get("threadId")
    assert turn.attributes.get("gen_ai.conversation.id") == thread
    assert turn.resource["service.name"] == "orion"
    chats = sorted((s for s in spans if s.name == f"chat {model.model}"), key=lambda s: s.start_ns)
    tools = [s for s in spans if s.name == "execute_tool read_file"]
    assert len(chats) == 2 and len(tools) == 1
    for child in chats + tools:
        assert child.trace_id == turn.trace_id and child.parent_span_id == turn.span_id
        assert turn.start_ns <= child.start_ns <= child.end_ns <= turn.end_ns
    assert all(c.attributes["gen_ai.usage.input_tokens"] > 0 for c in chats)
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert tools[0].attributes["gen_ai.tool.name"] == "read_file"
    assert tools[0].status_code != 2
    for s in spans:  # content is off by default
        assert not {"gen_ai.input.messages", "gen_ai.tool.call.arguments"} & set(s.attributes)
    assert all(h.get("x-api-key") == HEADER_SECRET for h in receiver.headers)
    for body in receiver.bodies:
        assert API_KEY.encode() not in body
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("orion.db*"))
    assert API_KEY.encode() not in raw and HEADER_SECRET.encode() not in raw


def test_message_content_is_exported_redacted_when_asked(
    tmp_path: Path, model: ScriptedModelServer, receiver: OtlpReceiver
) -> None:
    ws, db = _workspace(tmp_path), tmp_path / "orion.db"
    _script_turn(model)
    env = _env(
        model,
        db,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint + "/v1/traces",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
    )
    done = _chat(env, ws, "chat", "--project-id", "p-otel", "--workspace", str(ws), "Où est greet?")
    assert done.returncode == 0, done.stderr
    spans = receiver.wait_for(_one_trace)
    (turn,) = [s for s in spans if s.name == "invoke_agent orion"]
    assert "Où est greet?" in turn.attributes["gen_ai.input.messages"]
    assert "greet lives in app.py" in turn.attributes["gen_ai.output.messages"]
    (tool,) = [s for s in spans if s.name == "execute_tool read_file"]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"path": "app.py"}
    assert "Grüß dich" in tool.attributes["gen_ai.tool.call.result"]
    for body in receiver.bodies:
        assert API_KEY.encode() not in body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_collector_never_fails_a_turn_and_export_resends(
    tmp_path: Path, model: ScriptedModelServer, receiver: OtlpReceiver
) -> None:
    ws, db = _workspace(tmp_path), tmp_path / "orion.db"
    _script_turn(model)
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = _env(model, db, OTEL_EXPORTER_OTLP_ENDPOINT=dead)
    done = _chat(env, ws, "chat", "--project-id", "p-otel", "--workspace", str(ws), "Où est greet?")
    assert done.returncode == 0, done.stderr
    assert "greet lives in app.py" in done.stdout
    assert done.stderr.count("telemetry:") <= 1  # logged once at most
    # The turn stayed in the ledger: re-send it once the collector is up.
    env = _env(model, db, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    sent = _chat(env, ws, "traces", "export", "--otlp", "--project-id", "p-otel", "--all")
    assert sent.returncode == 0, sent.stderr
    assert "exported 1 of 1 turn(s)" in sent.stderr
    assert receiver.wait_for(_one_trace)
    # Without an endpoint, export says what to set.
    env = _env(model, db)
    usage = _chat(env, ws, "traces", "export", "--otlp", "--project-id", "p-otel")
    assert usage.returncode == 2 and "OTEL_EXPORTER_OTLP_ENDPOINT" in usage.stderr


async def test_the_turns_kept_for_late_scores_are_bounded(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver
) -> None:
    """A server that runs for weeks keeps the last DONE_KEPT turns, not every turn;
    a late score of a forgotten turn is skipped (`traces export` re-sends it)."""
    from orion_lsp.redact import Redactor
    from orion_lsp.telemetry import exporter

    monkeypatch.setattr(exporter, "DONE_KEPT", 3)

    async def events(_project: str, _turn: str) -> list[Ev]:
        return EVENTS

    async def scores(_turn: str) -> list[Sc]:
        return []

    config = TelemetryConfig.resolve(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
    tel = exporter.Telemetry(config, Redactor(), events, scores)
    turns = [f"turn{k:02d}" + "0" * 26 for k in range(5)]
    for t in turns:
        assert await tel.export_turn("p", t)
    assert list(tel._done) == turns[-3:]
    late = Sc("rating", "user")
    late.turn_id = turns[0]  # type: ignore[attr-defined]
    tel._emit_late([late])  # forgotten: skipped, no KeyError
    await tel.flush()
    assert receiver.wait_for(lambda spans: len({s.trace_id for s in spans}) == 5)
    await tel.close()
