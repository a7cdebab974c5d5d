"""One model call of a turn: stream, redact, parse text tool calls, retry, record.

Each attempt is one `llm_call` trace event (so retries are visible). Text is
streamed to the editor as it arrives, through a `StreamRedactor` (a secret
split across chunks never gets out) and, in text tool mode, a `TextCallGate`
(the raw tool-call block is not shown).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..redact import Redactor, StreamRedactor
from .model import Model, ModelError, ModelReply, ToolCallRequest
from .model_info import FitReport
from .retry import backoff_delays
from .textcalls import parse_text_tool_calls
from .toolmode import TEXT, TextCallGate
from .turn import TurnTimeout

MAX_ATTEMPTS = 3

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
    delays = backoff_delays(MAX_ATTEMPTS)
    attempt = 0
    while True:
        attempt += 1
        streamed = False
        redacting = StreamRedactor(redactor)
        gate = TextCallGate() if req.mode == TEXT else None

        async def on_text(
            text: str, gate: TextCallGate | None = gate, redacting: StreamRedactor = redacting
        ) -> None:
            nonlocal streamed
            streamed = True
            shown = gate.feed(text) if gate is not None else text
            await emit(redacting.feed(shown))

        base = {
            **req.trace_base,
            "model": req.model.name,
            "step": req.step,
            "attempt": attempt,
            "toolMode": req.mode,
            "messages": len(req.messages),
            "promptChars": sum(len(str(m.get("content") or "")) for m in req.messages),
        }
        if req.fit is not None:
            base["fit"] = req.fit.to_trace()
        started = time.monotonic()
        try:
            try:
                async with asyncio.timeout(req.remaining_s):
                    reply = await req.model.complete(
                        req.messages, None if req.mode == TEXT else req.tool_specs, on_text
                    )
            finally:
                await emit(redacting.flush())
        except TimeoutError:
            raise TurnTimeout("Orion turn time limit reached while waiting for the model") from None
        except ModelError as exc:
            retry = exc.retryable and not streamed and attempt < MAX_ATTEMPTS
            await record(
                {
                    **base,
                    "durationMs": int((time.monotonic() - started) * 1000),
                    "error": str(exc),
                    "errorKind": exc.kind,
                    "willRetry": retry,
                }
            )
            if not retry:
                raise
            await asyncio.sleep(delays[attempt - 1])
            continue
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
                **base,
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


def _as_requests(calls: list[Any], step: int) -> list[ToolCallRequest]:
    return [
        ToolCallRequest(id=f"text_{step}_{i}", name=c.name, arguments=c.arguments_json())
        for i, c in enumerate(calls)
    ]
