"""Context-window discovery: how many tokens the model can take, asked once.

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

`WindowFinder` caches the answer per (model, base URL); `fit.py` then fits
each request into the window.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ..model_cache import ModelInfoCache
from ..providers import OLLAMA_DEFAULT_BASE, is_ollama

log = logging.getLogger(__name__)

__all__ = [
    "WindowFinder",
    "WindowInfo",
    "context_window",
    "context_window_info",
    "ollama_extra_params",
]

_PROBE_TOKENS = 1_000_000
_CTX_ERROR_RE = re.compile(
    r"(?:maximum context length is|context window of|n_ctx\D{0,5})\s*(\d{3,8})", re.I
)


@dataclass(frozen=True)
class WindowInfo:
    tokens: int
    source: str  # e.g. "ollama /api/show num_ctx", "llama.cpp /props", "litellm model info"


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
        from ..litellm_setup import import_litellm

        info = import_litellm().get_model_info(model)
    except Exception:  # not in litellm's map: unknown, not an error
        return None
    n = _positive_int(info.get("max_input_tokens")) or _positive_int(info.get("max_tokens"))
    return WindowInfo(n, "litellm model info") if n else None


CACHE_KEY = "contextWindow"
UNKNOWN = "unknown"


class WindowFinder:
    """The window of a (model, base URL), discovered once and cached."""

    def __init__(self, cache: ModelInfoCache) -> None:
        self._cache = cache

    async def window(self, model: str, api_base: str | None, api_key: str | None) -> int | None:
        cached = await self._cache.get(model, api_base, CACHE_KEY)
        if cached is not None:
            return int(cached) if cached.isdigit() else None
        try:
            tokens = await context_window(model, api_base, api_key=api_key)
        except Exception as exc:  # discovery is best effort; the fit then does nothing
            log.info("context window discovery failed for %s: %s", model, exc)
            return None
        await self._cache.set(model, api_base, CACHE_KEY, tokens if tokens else UNKNOWN)
        return tokens
