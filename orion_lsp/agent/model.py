"""The model client: one streamed chat completion through litellm.

`LiteLLMModel.complete` streams text to a callback as it arrives, assembles
tool-call deltas, and returns the whole reply. Everything is async so a
cancelled turn stops the HTTP stream. litellm is imported lazily (it costs
seconds) and never on the server's start-up path.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..redact import Redactor
from .model_errors import endpoint, failure_reason, provider_text

log = logging.getLogger(__name__)

TextCallback = Callable[[str], Awaitable[None]]


class ModelError(Exception):
    """The model was unreachable or failed. str() is safe to show a user."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind  # retry.Decision.kind: connection_refused, auth, context_window ...


@dataclass
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it


@dataclass
class ModelReply:
    text: str
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    duration_ms: int = 0
    first_token_ms: int | None = None


class Model(Protocol):
    name: str
    api_base: str | None

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        on_text: TextCallback,
    ) -> ModelReply: ...

    def add_params(self, params: dict[str, Any]) -> None: ...

    def error(self, reason: str, **kw: Any) -> ModelError: ...

    def request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """What `complete` sends for these arguments: `{messages, tools, params}` (the ledger's
        exact request; no key, base URL or client time-out)."""
        ...


class LiteLLMModel:
    """A `Model` backed by `litellm.acompletion(stream=True)`."""

    def __init__(
        self,
        name: str,
        api_base: str | None,
        api_key: str | None,
        redactor: Redactor,
        *,
        timeout_s: float = 120.0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.api_base = api_base
        self._api_key = api_key
        self._redact = redactor
        self._timeout_s = timeout_s
        self._extra = dict(extra or {})

    def add_params(self, params: dict[str, Any]) -> None:
        """Provider options for every call (e.g. Ollama's num_ctx)."""
        self._extra.update(params)

    def error(self, reason: str, **kw: Any) -> ModelError:
        text = f"Orion model error: {endpoint(self.name, self.api_base)}: {reason}"
        return ModelError(self._redact(text), **kw)

    def _params(self) -> dict[str, Any]:
        """The request's parameters besides messages and tools (what goes into the body)."""
        return {
            "stream": True,
            # Token counts arrive in the last chunk only when asked for.
            "stream_options": {"include_usage": True},
            **self._extra,
        }

    def request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        return {"messages": list(messages), "tools": tools or None, "params": self._params()}

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        on_text: TextCallback,
    ) -> ModelReply:
        from .litellm_setup import completion_kwargs, import_litellm

        litellm = import_litellm()
        kwargs = completion_kwargs(
            self.name,
            self.api_base,
            self._api_key,
            messages,
            timeout_s=self._timeout_s,
            **self._params(),
        )
        if tools:
            kwargs["tools"] = tools
        started = time.monotonic()
        text_parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        usage: dict[str, int] = {}
        first_token_ms: int | None = None
        in_callback = False  # an error of the caller's callback is not the model's
        try:
            stream = await litellm.acompletion(**kwargs)
            async for chunk in stream:
                chunk_usage = getattr(chunk, "usage", None)
                if chunk_usage:
                    usage = _usage_dict(chunk_usage)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
                delta = choice.delta
                if delta is None:
                    continue
                content = getattr(delta, "content", None)
                if content:
                    if first_token_ms is None:
                        first_token_ms = int((time.monotonic() - started) * 1000)
                    text_parts.append(content)
                    in_callback = True
                    await on_text(content)
                    in_callback = False
                for tc in getattr(delta, "tool_calls", None) or []:
                    idx = tc.index if getattr(tc, "index", None) is not None else len(calls)
                    slot = calls.setdefault(idx, {"id": "", "name": "", "arguments": ""})
                    if tc.id:
                        slot["id"] = tc.id
                    fn = getattr(tc, "function", None)
                    if fn is not None:
                        if fn.name:
                            # Set, not append: llama.cpp repeats the name in every chunk.
                            slot["name"] = fn.name
                        if fn.arguments:
                            slot["arguments"] += fn.arguments
        except ModelError:
            raise
        except Exception as exc:  # litellm/openai/httpx errors: one boundary, no traceback out
            if in_callback:
                raise
            raise self._map_error(exc) from exc
        tool_calls = [
            ToolCallRequest(
                id=c["id"] or f"call_{i}",
                name=c["name"],
                arguments=c["arguments"] or "{}",
            )
            for i, c in sorted(calls.items())
            if c["name"]
        ]
        return ModelReply(
            text="".join(text_parts),
            tool_calls=tool_calls,
            finish_reason=finish_reason,
            usage=usage,
            duration_ms=int((time.monotonic() - started) * 1000),
            first_token_ms=first_token_ms,
        )

    def _map_error(self, exc: BaseException) -> ModelError:
        from .retry import decide

        kind = decide(exc).kind
        # The raw provider text goes to the log file only; the user gets one clear line.
        log.info("model call failed (%s): %s", kind, self._redact(provider_text(exc)))
        return self.error(failure_reason(exc, self.name, self.api_base, kind), kind=kind)


def _usage_dict(usage: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, key, None)
        if value is None and isinstance(usage, dict):
            value = usage.get(key)
        if isinstance(value, int):
            out[key] = value
    return out


def parse_arguments(raw: str) -> dict[str, Any] | str:
    """Arguments as a dict, or an error message for the model."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        return f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return "arguments must be a JSON object"
    return value
