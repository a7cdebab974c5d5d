"""Context-window discovery and fitting a prompt into it, so nothing is truncated silently.

Local servers do not tell a client its window unless asked, and Ollama cuts
an over-long prompt without an error unless `num_ctx` is sent per request.
`context_window_info` asks, cheapest source first:

- Ollama (`ollama/`, `ollama_chat/`): `POST /api/show`; the Modelfile's
  `num_ctx` parameter when set, else `model_info.<arch>.context_length`,
  capped at `ollama_cap` because Ollama allocates the KV cache for whatever
  `num_ctx` we send (131072 for a 7B model would not fit a laptop).
- A server at `api_base`: llama.cpp's `GET /props`
  (`default_generation_settings.n_ctx`), vLLM's `max_model_len` and
  LM Studio's `loaded_context_length` in the model list, then
  llama-cpp-python, which exposes its `n_ctx` nowhere: it is recognised by its
  `/extras/tokenize/count` route and asked with a 1,000,000-token prompt, which
  it refuses *before* evaluating with "maximum context length is N" (~0.5 s,
  measured on 0.3.36; a window that large cannot be served on a CPU anyway).
- `litellm.get_model_info` (bundled cost map, no network) for hosted models.

`fit_messages` then drops the oldest history (whole exchanges) until the
prompt fits, never the system prompt nor the current user message and what
follows it, and reports what it dropped; the caller shrinks the repo map if
that was not enough (`FitReport.over_by`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "FitReport",
    "WindowInfo",
    "context_window",
    "context_window_info",
    "estimate_tokens",
    "fit_messages",
    "is_ollama",
    "message_tokens",
    "ollama_extra_params",
]

OLLAMA_DEFAULT_BASE = "http://localhost:11434"
# Measured: SmolLM2's tokenizer gives 3.4 characters per token on our Python
# sources and docs; chars/4 would under-count by ~15% and overflow. 3.0 errs
# on the side of dropping a little early rather than being cut by the server.
CHARS_PER_TOKEN = 3.0
# Chat templates add role markers around every message.
MESSAGE_OVERHEAD_TOKENS = 6
_PROBE_TOKENS = 1_000_000
_CTX_ERROR_RE = re.compile(
    r"(?:maximum context length is|context window of|n_ctx\D{0,5})\s*(\d{3,8})", re.I
)


@dataclass(frozen=True)
class WindowInfo:
    tokens: int
    source: str  # e.g. "ollama /api/show num_ctx", "llama.cpp /props", "litellm model info"


def is_ollama(model: str) -> bool:
    return model.startswith(("ollama/", "ollama_chat/"))


def ollama_extra_params(model: str, window: int | None) -> dict[str, Any]:
    """Extra `litellm.acompletion` kwargs: `num_ctx` for Ollama, nothing otherwise.

    litellm puts `num_ctx` into Ollama's per-request `options`; without it
    Ollama uses its default (2048-4096) and drops the start of a longer prompt
    silently.
    """
    if window and is_ollama(model):
        return {"num_ctx": int(window)}
    return {}


async def context_window(
    model: str,
    api_base: str | None,
    *,
    http_timeout: float = 2.0,
    api_key: str | None = None,
    ollama_cap: int = 32768,
) -> int | None:
    """The model's context window in tokens, or None when nothing tells it."""
    info = await context_window_info(
        model, api_base, http_timeout=http_timeout, api_key=api_key, ollama_cap=ollama_cap
    )
    return info.tokens if info else None


async def context_window_info(
    model: str,
    api_base: str | None,
    *,
    http_timeout: float = 2.0,
    api_key: str | None = None,
    ollama_cap: int = 32768,
) -> WindowInfo | None:
    """Like `context_window`, with where the number came from (for `orion doctor`)."""
    import httpx  # a litellm dependency; imported here to keep import time low

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(timeout=http_timeout, headers=headers) as client:
        if is_ollama(model):
            return await _ollama(client, model, api_base or OLLAMA_DEFAULT_BASE, ollama_cap)
        if api_base:
            found = await _openai_compatible(client, model, api_base)
            if found:
                return found
    return _litellm_info(model)


async def _get_json(client: Any, method: str, url: str, body: Any = None) -> Any:
    """JSON from a request, or None on any failure (a probe must never raise)."""
    try:
        resp = await client.request(method, url, json=body)
        if resp.status_code != 200:
            return None
        return resp.json()
    except Exception as exc:  # unreachable, timeout, not JSON: just no answer
        log.debug("context window probe %s %s failed: %r", method, url, exc)
        return None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


async def _ollama(client: Any, model: str, base: str, cap: int) -> WindowInfo | None:
    name = model.split("/", 1)[1]
    data = await _get_json(client, "POST", f"{base.rstrip('/')}/api/show", {"model": name})
    if not isinstance(data, dict):
        return None
    # "parameters" is Modelfile text: "num_ctx 8192\nstop ..." (the author's choice wins).
    match = re.search(r"(?m)^\s*num_ctx\s+(\d+)", str(data.get("parameters") or ""))
    if match and int(match.group(1)) > 0:
        return WindowInfo(int(match.group(1)), "ollama /api/show num_ctx")
    info = data.get("model_info") or {}
    lengths = [
        n
        for key, value in info.items()
        if key.endswith(".context_length") and (n := _positive_int(value))
    ]
    if lengths:
        n = max(lengths)
        if n > cap:
            return WindowInfo(cap, f"ollama /api/show context_length {n}, capped")
        return WindowInfo(n, "ollama /api/show context_length")
    return None


async def _openai_compatible(client: Any, model: str, api_base: str) -> WindowInfo | None:
    base = api_base.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    alias = model.split("/", 1)[1] if "/" in model else model

    props = await _get_json(client, "GET", f"{root}/props")
    if isinstance(props, dict):
        settings = props.get("default_generation_settings") or {}
        n = _positive_int(settings.get("n_ctx")) or _positive_int(props.get("n_ctx"))
        if n:
            return WindowInfo(n, "llama.cpp /props")

    models = await _get_json(client, "GET", f"{base}/models")
    entries = models.get("data") if isinstance(models, dict) else None
    if isinstance(entries, list):
        mine = [e for e in entries if isinstance(e, dict) and e.get("id") == alias] or [
            e for e in entries if isinstance(e, dict)
        ][:1]
        for entry in mine:
            for key, label in (
                ("max_model_len", "vLLM /v1/models max_model_len"),
                ("loaded_context_length", "LM Studio loaded_context_length"),
                ("context_length", "/v1/models context_length"),
            ):
                n = _positive_int(entry.get(key))
                if n:
                    return WindowInfo(n, label)
            meta = entry.get("meta") or {}  # llama-server: meta.n_ctx_train
            n = _positive_int(meta.get("n_ctx")) if isinstance(meta, dict) else None
            if n:
                return WindowInfo(n, "llama.cpp /v1/models meta.n_ctx")

    # LM Studio's own API lists the loaded window.
    lms = await _get_json(client, "GET", f"{root}/api/v0/models/{alias}")
    if isinstance(lms, dict):
        n = _positive_int(lms.get("loaded_context_length")) or _positive_int(
            lms.get("max_context_length")
        )
        if n:
            return WindowInfo(n, "LM Studio /api/v0/models")

    count = await _get_json(client, "POST", f"{root}/extras/tokenize/count", {"input": "probe"})
    if isinstance(count, dict) and "count" in count:
        return await _llama_cpp_python_probe(client, alias, root)
    return None


async def _llama_cpp_python_probe(client: Any, alias: str, root: str) -> WindowInfo | None:
    body = {"model": alias, "prompt": " a" * _PROBE_TOKENS, "max_tokens": 1}
    try:
        resp = await client.post(f"{root}/v1/completions", json=body, timeout=30.0)
        text = resp.text
    except Exception as exc:
        log.debug("llama-cpp-python window probe failed: %r", exc)
        return None
    match = _CTX_ERROR_RE.search(text)
    if resp.status_code >= 400 and match:
        return WindowInfo(int(match.group(1)), "llama-cpp-python context error")
    return None


def _litellm_info(model: str) -> WindowInfo | None:
    try:
        from .litellm_setup import import_litellm

        info = import_litellm().get_model_info(model)
    except Exception:  # not in litellm's map: unknown, not an error
        return None
    n = _positive_int(info.get("max_input_tokens")) or _positive_int(info.get("max_tokens"))
    return WindowInfo(n, "litellm model info") if n else None


# --- fitting ----------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(message: dict[str, Any], count: Callable[[str], int] = estimate_tokens) -> int:
    """Estimated tokens of one chat message: content, tool calls, role markers."""
    content = message.get("content")
    if isinstance(content, list):  # multi-part content
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    n = MESSAGE_OVERHEAD_TOKENS + count(str(content or ""))
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        n += count(str(fn.get("name", "")) + str(fn.get("arguments", "")))
    return n


@dataclass
class FitReport:
    """What `fit_messages` did; `to_trace()` goes into the `llm_call` event."""

    window: int
    reserve_for_reply: int
    budget: int
    tokens_before: int
    tokens_after: int
    dropped_messages: int = 0
    dropped_tokens: int = 0
    # Indexes (in the input list) of the dropped messages, oldest first.
    dropped_indexes: list[int] = field(default_factory=list)

    @property
    def over_by(self) -> int:
        """Tokens still over budget after dropping all history (shrink the map)."""
        return max(0, self.tokens_after - self.budget)

    @property
    def dropped(self) -> bool:
        return self.dropped_messages > 0

    def to_trace(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "budget": self.budget,
            "tokensBefore": self.tokens_before,
            "tokensAfter": self.tokens_after,
            "droppedMessages": self.dropped_messages,
            "droppedTokens": self.dropped_tokens,
            "overBy": self.over_by,
        }

    def summary(self) -> str:
        """One line for the user, e.g. in the answer or `orion/toolEvent`."""
        parts = []
        if self.dropped:
            parts.append(
                f"dropped the {self.dropped_messages} oldest history messages "
                f"(~{self.dropped_tokens} tokens) to fit the {self.window}-token window"
            )
        if self.over_by:
            parts.append(f"still ~{self.over_by} tokens over the window")
        return "; ".join(parts)


def fit_messages(
    messages: Sequence[dict[str, Any]],
    window: int,
    reserve_for_reply: int,
    *,
    count: Callable[[str], int] = estimate_tokens,
) -> tuple[list[dict[str, Any]], FitReport]:
    """Drop the oldest history until `messages` fit `window - reserve_for_reply`.

    Protected: the leading system message(s), and the last user message with
    everything after it (the current turn, with its tool calls and results).
    History is dropped a whole exchange at a time (a user message and the
    replies and tool messages up to the next user message), so no tool result
    is left without its call. The input list is not modified.
    """
    msgs = list(messages)
    budget = max(0, window - reserve_for_reply)
    sizes = [message_tokens(m, count) for m in msgs]
    total = sum(sizes)
    report = FitReport(window, reserve_for_reply, budget, total, total)
    if total <= budget:
        return msgs, report
    head = 0
    while head < len(msgs) and msgs[head].get("role") == "system":
        head += 1
    users = [i for i, m in enumerate(msgs) if m.get("role") == "user" and i >= head]
    current = users[-1] if users else len(msgs)
    # Exchanges in the history [head, current): each starts at a user message
    # (or at `head` for leading non-user messages).
    starts = sorted({head, *(i for i in users if i < current)})
    exchanges = [(s, e) for s, e in zip(starts, [*starts[1:], current], strict=True) if s < e]
    dropped: list[int] = []
    for start, end in exchanges:
        if total <= budget:
            break
        for i in range(start, end):
            dropped.append(i)
            total -= sizes[i]
            report.dropped_tokens += sizes[i]
    report.dropped_messages = len(dropped)
    report.dropped_indexes = dropped
    report.tokens_after = total
    gone = set(dropped)
    kept = [m for i, m in enumerate(msgs) if i not in gone]
    if dropped:
        log.info("context fit: %s", json.dumps(report.to_trace()))
    return kept, report
