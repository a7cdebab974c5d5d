"""One turn's ledger events as GenAI spans (no SDK here: plain descriptions).

Follows the OpenTelemetry GenAI semantic conventions as published in
opentelemetry-semantic-conventions 0.66b2 (schema 1.44; status "Development",
so these are the names we pin; docs/protocol.md#opentelemetry-export lists them):

- `invoke_agent orion` for the turn (`turn_start` .. `turn_end`),
- a child `chat {model}` per model call attempt (`llm_call`; its start is the
  event's time minus its `durationMs`, since the event is written when the
  call ends), critic calls included,
- a child `execute_tool {name}` per tool use (`tool_call` .. `tool_result`,
  paired by call id), error status when the result is not ok,
- each score as a `gen_ai.evaluation.result` event on the turn's span.

Message and tool content is added only when `capture_content` is on; the
ledger already holds it redacted, and the exporter redacts once more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

AGENT_NAME = "orion"
INTERNAL = "internal"
CLIENT = "client"

# litellm's provider prefix -> gen_ai.provider.name
_PROVIDERS = {
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "openai": "openai",
    "hosted_vllm": "vllm",
    "lm_studio": "lm_studio",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
}

Attributes = dict[str, str | bool | int | float | list[str]]


class LedgerEvent(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> str: ...


class LedgerScore(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def label(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def explanation(self) -> str | None: ...
    @property
    def created_at(self) -> str: ...


@dataclass
class SpanEvent:
    name: str
    time_ns: int
    attributes: Attributes


@dataclass
class SpanSpec:
    key: str  # unique inside the turn: "turn", "llm:<seq>", "tool:<seq>"
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: Attributes
    parent: str | None = None
    error: str | None = None  # set: the span's status is ERROR with this description
    events: list[SpanEvent] = field(default_factory=list)


def time_ns(created_at: str) -> int:
    """ISO-8601 with 'Z' (the ledger's format) -> nanoseconds since the epoch."""
    dt = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return int(dt.timestamp() * 1000) * 1_000_000


def provider_name(model: str | None) -> str | None:
    if not model or "/" not in model:
        return None
    return _PROVIDERS.get(model.split("/", 1)[0], model.split("/", 1)[0])


def turn_spans(
    turn_id: str,
    project_id: str,
    events: Sequence[LedgerEvent],
    scores: Iterable[LedgerScore] = (),
    *,
    capture_content: bool = False,
) -> list[SpanSpec]:
    """The spans of one turn; [] when its `turn_start` is not in `events`."""
    start = next((e for e in events if e.type == "turn_start"), None)
    if start is None:
        return []
    end = next((e for e in reversed(events) if e.type == "turn_end"), None)
    t0 = time_ns(start.created_at)
    t1 = max(t0, time_ns((end or events[-1]).created_at))
    sp = start.payload
    model = sp.get("model") if isinstance(sp.get("model"), str) else None
    status = str((end.payload if end else {}).get("status") or "running")
    attrs: Attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": AGENT_NAME,
        "orion.project_id": project_id,
        "orion.turn_id": turn_id,
        "orion.status": status,
    }
    _put(attrs, "gen_ai.conversation.id", sp.get("threadId"))
    _put(attrs, "gen_ai.request.model", model)
    _put(attrs, "gen_ai.provider.name", provider_name(model))
    _put(attrs, "orion.source", sp.get("source"))
    replay = sp.get("replayOf")
    if isinstance(replay, dict):
        _put(attrs, "orion.replay_of.turn_id", replay.get("turnId"))
    turn = SpanSpec("turn", f"invoke_agent {AGENT_NAME}", INTERNAL, t0, t1, attrs)
    if status == "error":
        turn.error = str((end.payload if end else {}).get("error") or "error")
    spans = [turn]
    answer: list[str] = []
    open_tools: dict[str, SpanSpec] = {}
    for seq, e in enumerate(events, start=1):
        p = e.payload
        at = min(max(time_ns(e.created_at), t0), t1)
        if e.type == "llm_call":
            span = _chat_span(f"llm:{seq}", p, at, t0, capture_content)
            if isinstance(p.get("text"), str) and p.get("role") != "critic":
                answer.append(p["text"])
            spans.append(span)
        elif e.type == "tool_call":
            span = _tool_span(f"tool:{seq}", p, at, capture_content)
            open_tools[str(p.get("id") or seq)] = span
            spans.append(span)
        elif e.type == "tool_result":
            call_id = str(p.get("id") or "")
            found = open_tools.pop(call_id, None) or _oldest(open_tools)
            if found is None:
                continue
            span = found
            span.end_ns = max(span.start_ns, at)
            if p.get("ok") is False:
                span.error = str(p.get("summary") or "tool error")
                span.attributes["error.type"] = "tool_error"
            if capture_content and isinstance(p.get("content"), str):
                span.attributes["gen_ai.tool.call.result"] = p["content"]
    for span in open_tools.values():  # a turn stopped while a tool ran
        span.end_ns = t1
        span.error = span.error or "no result (turn ended first)"
    if capture_content:
        _put(turn.attributes, "gen_ai.input.messages", _messages("user", sp.get("prompt")))
        _put(turn.attributes, "gen_ai.output.messages", _messages("assistant", "".join(answer)))
    for score in scores:
        turn.events.append(evaluation_event(score, t1, capture_content=capture_content))
    return spans


def evaluation_event(score: LedgerScore, default_ns: int, *, capture_content: bool) -> SpanEvent:
    attrs: Attributes = {
        "gen_ai.evaluation.name": score.name,
        "orion.score.source": score.source,
        "orion.score.step": score.step,
    }
    if score.value is not None:
        attrs["gen_ai.evaluation.score.value"] = float(score.value)
    _put(attrs, "gen_ai.evaluation.score.label", score.label)
    _put(attrs, "orion.score.source_id", score.source_id or None)
    if capture_content:  # a user's comment is content
        _put(attrs, "gen_ai.evaluation.explanation", score.explanation)
    at = time_ns(score.created_at) if score.created_at else default_ns
    return SpanEvent("gen_ai.evaluation.result", at, attrs)


def _chat_span(key: str, p: dict[str, Any], at: int, t0: int, capture: bool) -> SpanSpec:
    critic = p.get("role") == "critic"
    model = p.get("criticModel") if critic else p.get("model")
    model = model if isinstance(model, str) else "unknown"
    duration = p.get("durationMs")
    start = at - int(duration) * 1_000_000 if isinstance(duration, int | float) else at
    attrs: Attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    _put(attrs, "gen_ai.provider.name", provider_name(model))
    _put(attrs, "orion.step", p.get("step"))
    _put(attrs, "orion.attempt", p.get("attempt"))
    if critic:
        attrs["orion.role"] = "critic"
        _put(attrs, "orion.critic.verdict", p.get("verdict"))
    raw_tokens = p.get("tokens")
    tokens: dict[str, Any] = raw_tokens if isinstance(raw_tokens, dict) else {}
    _put(attrs, "gen_ai.usage.input_tokens", tokens.get("prompt_tokens"))
    _put(attrs, "gen_ai.usage.output_tokens", tokens.get("completion_tokens"))
    if isinstance(p.get("finishReason"), str):
        attrs["gen_ai.response.finish_reasons"] = [p["finishReason"]]
    span = SpanSpec(key, f"chat {model}", CLIENT, max(t0, start), at, attrs, parent="turn")
    if p.get("error"):
        span.error = str(p["error"])
        attrs["error.type"] = str(p.get("errorKind") or "model_error")
    if capture:
        request = p.get("request")
        if isinstance(request, dict) and isinstance(request.get("messages"), list):
            attrs["gen_ai.input.messages"] = _dumps(request["messages"])
        _put(attrs, "gen_ai.output.messages", _messages("assistant", p.get("text")))
    return span


def _tool_span(key: str, p: dict[str, Any], at: int, capture: bool) -> SpanSpec:
    name = str(p.get("name") or "unknown")
    attrs: Attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
    }
    _put(attrs, "gen_ai.tool.call.id", p.get("id"))
    if capture and p.get("arguments") is not None:
        attrs["gen_ai.tool.call.arguments"] = _dumps(p["arguments"])
    return SpanSpec(key, f"execute_tool {name}", INTERNAL, at, at, attrs, parent="turn")


def _oldest(open_tools: dict[str, SpanSpec]) -> SpanSpec | None:
    if not open_tools:
        return None
    first = next(iter(open_tools))
    return open_tools.pop(first)


def _messages(role: str, text: Any) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    return _dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _put(attrs: Attributes, key: str, value: Any) -> None:
    if isinstance(value, str | bool | int | float) and value != "":
        attrs[key] = value
