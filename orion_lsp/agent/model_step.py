"""One model call of a turn: stream, redact, parse text tool calls, retry, record.

Each attempt is one `llm_call` trace event (so retries are visible). Text is
streamed to the editor as it arrives, through a `StreamRedactor` (a secret
split across chunks never gets out) and, in text tool mode, a `TextCallGate`
(the raw tool-call block is not shown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..redact import Redactor, StreamRedactor
from .model import Model, ModelError, ModelReply, ToolCallRequest
from .retry import Attempt, call_with_retries
from .toolmode import TEXT, TextCallGate
from .toolmode.textcalls import parse_text_tool_calls
from .turn import TurnTimeout
from .window.fit import FitReport

Emit = Callable[[str], Awaitable[None]]
Record = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class StepRequest:
    model: Model
    messages: list[dict[str, Any]]
    tool_specs: list[dict[str, Any]]
    tool_names: list[str]
    mode: str  # native | text
    step: int
    remaining_s: float
    trace_base: dict[str, Any] = field(default_factory=dict)
    fit: FitReport | None = None


@dataclass
class StepResult:
    reply: ModelReply
    text_calls_seen: bool = False  # native mode, but the model wrote calls as text


async def call_model(
    req: StepRequest, redactor: Redactor, emit: Emit, record: Record
) -> StepResult:
    """The step's reply; raises ModelError when the last attempt failed, TurnTimeout
    when the turn's time ran out (retries and their waits included)."""
    streamed = False
    gate: TextCallGate | None = None
    redacting = StreamRedactor(redactor)

    async def attempt(number: int) -> tuple[int, ModelReply]:
        nonlocal streamed, gate, redacting
        streamed, redacting = False, StreamRedactor(redactor)
        gate = TextCallGate() if req.mode == TEXT else None

        async def on_text(text: str) -> None:
            nonlocal streamed
            streamed = True
            shown = gate.feed(text) if gate is not None else text
            await emit(redacting.feed(shown))

        try:
            tools = None if req.mode == TEXT else req.tool_specs
            return number, await req.model.complete(req.messages, tools, on_text)
        finally:
            await emit(redacting.flush())

    async def failed(attempt: Attempt, exc: Exception) -> None:
        if isinstance(exc, ModelError):  # anything else is not the model's failure
            await record(
                {
                    **_trace_base(req, attempt.number),
                    "durationMs": attempt.duration_ms,
                    "error": str(exc),
                    "errorKind": exc.kind,
                    "willRetry": attempt.will_retry,
                }
            )

    try:
        async with asyncio.timeout(req.remaining_s):
            number, reply = await call_with_retries(
                attempt, on_failure=failed, after_output=lambda: streamed
            )
    except TimeoutError:
        raise TurnTimeout("Orion turn time limit reached while waiting for the model") from None
    result = StepResult(reply)
    if gate is not None:
        visible, calls = parse_text_tool_calls(reply.text, known_tools=req.tool_names)
        await emit(redacting.feed(gate.rest(reply.text, visible, bool(calls))))
        await emit(redacting.flush())
        reply.tool_calls = _as_requests(calls, req.step)
    elif not reply.tool_calls and reply.text:
        # `auto`: a model without native tool calls may still write them as text.
        _visible, calls = parse_text_tool_calls(reply.text, known_tools=req.tool_names)
        if calls:
            reply.tool_calls = _as_requests(calls, req.step)
            result.text_calls_seen = True
    await record(
        {
            **_trace_base(req, number),
            "durationMs": reply.duration_ms,
            "firstTokenMs": reply.first_token_ms,
            "finishReason": reply.finish_reason,
            "tokens": reply.usage or None,
            "text": reply.text,
            "toolCalls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.tool_calls
            ],
            "textToolCalls": req.mode == TEXT or result.text_calls_seen,
        }
    )
    return result


def _trace_base(req: StepRequest, attempt: int) -> dict[str, Any]:
    base = {
        **req.trace_base,
        "model": req.model.name,
        "step": req.step,
        "attempt": attempt,
        "toolMode": req.mode,
        "messages": len(req.messages),
        "promptChars": sum(len(str(m.get("content") or "")) for m in req.messages),
        # Exactly what goes to the model (the ledger stores each message once).
        "request": req.model.request(req.messages, None if req.mode == TEXT else req.tool_specs),
    }
    if req.fit is not None:
        base["fit"] = req.fit.to_trace()
    return base


def _as_requests(calls: list[Any], step: int) -> list[ToolCallRequest]:
    return [
        ToolCallRequest(id=f"text_{step}_{i}", name=c.name, arguments=c.arguments_json())
        for i, c in enumerate(calls)
    ]
