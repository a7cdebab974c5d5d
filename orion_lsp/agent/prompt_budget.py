"""Fitting a turn's prompt into the model's context window, never silently.

The window is learned once per (model, base URL) (`model_info`), then before
every model call the oldest history is dropped first; if the prompt still
does not fit, the repo map is left out. What was dropped goes into the
`llm_call` trace. Ollama additionally gets `num_ctx` so it does not truncate.
"""

from __future__ import annotations

import logging
from typing import Any

from .model_cache import ModelInfoCache
from .model_info import FitReport, context_window, fit_messages, message_tokens

log = logging.getLogger(__name__)

CACHE_KEY = "contextWindow"
UNKNOWN = "unknown"


def reply_reserve(window: int) -> int:
    return max(128, min(1024, window // 4))


def map_budget(context_tokens: int, window: int | None) -> int:
    """The repo map gets at most a third of a known window."""
    if window is None:
        return context_tokens
    return max(0, min(context_tokens, window // 3))


class WindowFinder:
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


def fit_turn(
    messages: list[dict[str, Any]], current: int, window: int
) -> tuple[list[dict[str, Any]], FitReport]:
    """Fit `messages`; everything from index `current` (this turn's prompt) on is kept."""
    head = messages[: current + 1]
    tail = messages[current + 1 :]
    # The current turn's later messages (tool round-trips) come off the budget first.
    tail_tokens = sum(message_tokens(m) for m in tail)
    kept, report = fit_messages(head, max(1, window - tail_tokens), reply_reserve(window))
    return kept + tail, report
