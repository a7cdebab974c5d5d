"""Fitting a turn's prompt into the model's context window, never silently.

Before every model call the oldest history is dropped first (whole
exchanges: `fit_messages`), never the system prompt nor this turn's prompt
and what follows it; if the prompt still does not fit, the caller leaves the
repo map out (`FitReport.over_by`), and past that it raises `PromptTooLarge`
instead of letting the server cut it. What was dropped goes into the
`llm_call` trace. Tokens are estimated (`estimate_tokens`, `message_tokens`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Measured: SmolLM2's tokenizer gives 3.4 characters per token on our Python
# sources and docs; chars/4 would under-count by ~15% and overflow. 3.0 errs
# on the side of dropping a little early rather than being cut by the server.
CHARS_PER_TOKEN = 3.0
# Chat templates add role markers around every message.
MESSAGE_OVERHEAD_TOKENS = 6


def reply_reserve(window: int) -> int:
    return max(128, min(1024, window // 4))


def map_budget(context_tokens: int, window: int | None) -> int:
    """The repo map gets at most a third of a known window."""
    if window is None:
        return context_tokens
    return max(0, min(context_tokens, window // 3))


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

    @property
    def over_by(self) -> int:
        """Tokens still over budget after dropping all history (shrink the map)."""
        return max(0, self.tokens_after - self.budget)

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
    report.tokens_after = total
    gone = set(dropped)
    kept = [m for i, m in enumerate(msgs) if i not in gone]
    if dropped:
        log.info("context fit: %s", json.dumps(report.to_trace()))
    return kept, report


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


class PromptTooLarge(Exception):
    def __init__(self, report: FitReport) -> None:
        super().__init__(
            f"the prompt needs about {report.tokens_after} tokens but the model's context "
            f"window is {report.window} (with {report.reserve_for_reply} kept for the reply), "
            "even without history and the repo map; shorten the prompt or selection"
        )
        self.report = report
