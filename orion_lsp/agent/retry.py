"""Retry policy and the one retry loop for model calls: which failures are worth
another attempt, when, and how many.

The OpenAI SDK under litellm retries on its own, invisibly; we turn that off
(`litellm_setup.NO_RETRY_KWARGS`) and retry here, so every attempt is one HTTP
request and one `llm_call` trace event.

Decisions (measured against litellm 1.110.2 through the scripted server):
- Retried: connection refused or reset, timeouts, HTTP 408/409/425/429 and 5xx.
  litellm reports a refused connection as `InternalServerError` (status 500)
  with `httpx.ConnectError` underneath, so the cause chain is read first to
  tell "refused" from a real 500 in the trace. A refused connection is retried
  too: a local server that is (re)loading a model refuses for a few seconds,
  and with the default 3 attempts a server that is really down costs ~1.5 s.
- Not retried: 401/403 (auth), 404 (model or URL not found), 400/422 (bad
  request), and any context-window error whatever its status (the same prompt
  would fail again; the caller must shrink it: see `window/fit.py`).
- Not retried once any output reached the user (`after_output=True`): a retry
  would stream the answer twice. litellm raises `MidStreamFallbackError`
  (status 500) for a stream cut short, which would otherwise look retryable.
- Cancellation is never retried; unknown exceptions (our own bugs) neither.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

__all__ = [
    "MAX_ATTEMPTS",
    "Attempt",
    "Decision",
    "backoff_delays",
    "call_with_retries",
    "decide",
]

Action = Literal["retry", "fatal"]
T = TypeVar("T")

# Attempts per model call (the first one included).
MAX_ATTEMPTS = 3

_CONTEXT_RE = re.compile(
    r"context[ _-]?(window|length|size)|maximum context|context_length_exceeded"
    r"|too many tokens|prompt is too long|exceeds? the (available )?context|n_ctx",
    re.IGNORECASE,
)
_REFUSED = {"ConnectError", "ConnectionRefusedError", "ClientConnectorError"}
_LOST = {
    "ConnectionResetError",
    "ConnectionAbortedError",
    "BrokenPipeError",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "ClientPayloadError",
    "ServerDisconnectedError",
    "ClientOSError",
    "IncompleteRead",
    "APIConnectionError",
}
_TIMEOUT = {
    "Timeout",
    "APITimeoutError",
    "TimeoutException",
    "ReadTimeout",
    "ConnectTimeout",
    "PoolTimeout",
    "TimeoutError",
    "ServerTimeoutError",
}
_RETRY_STATUS = {408, 409, 425, 429}
_FATAL_NAMES = {
    "AuthenticationError": "auth",
    "PermissionDeniedError": "forbidden",
    "NotFoundError": "not_found",
    "BadRequestError": "bad_request",
    "UnprocessableEntityError": "bad_request",
    "ContentPolicyViolationError": "bad_request",
}
_RETRY_NAMES = {
    "RateLimitError": "rate_limited",
    "InternalServerError": "server_error",
    "ServiceUnavailableError": "server_error",
    "BadGatewayError": "server_error",
}


@dataclass(frozen=True)
class Decision:
    action: Action
    # A short stable label for traces and `orion doctor`: connection_refused,
    # connection_lost, timeout, rate_limited, server_error, auth, forbidden,
    # not_found, bad_request, context_window, mid_stream, cancelled, unknown.
    kind: str
    status: int | None = None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (litellm wraps openai wraps httpx ...)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    for value in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def decide(exc: BaseException, *, after_output: bool = False) -> Decision:
    """Classify a failed model call, with the reason (see the module docstring)."""
    chain = _chain(exc)
    names = set().union(*(_names(e) for e in chain))
    status = next((s for s in map(_status, chain) if s is not None), None)
    if names & {"CancelledError", "KeyboardInterrupt", "SystemExit"}:
        return Decision("fatal", "cancelled", status)
    text = " ".join(str(e) for e in chain)
    if "ContextWindowExceededError" in names or _CONTEXT_RE.search(text):
        return Decision("fatal", "context_window", status)
    if after_output:
        return Decision("fatal", "mid_stream", status)
    # Transport failures first: litellm labels them with a synthetic 500.
    if names & _REFUSED:
        return Decision("retry", "connection_refused", status)
    if names & _TIMEOUT:
        return Decision("retry", "timeout", status)
    if names & _LOST or "MidStreamFallbackError" in names:
        return Decision("retry", "connection_lost", status)
    if status is not None:
        if status in _RETRY_STATUS or status >= 500:
            kind = {429: "rate_limited", 408: "timeout"}.get(status, "server_error")
            return Decision("retry", kind, status)
        if 400 <= status < 500:
            kind = {401: "auth", 403: "forbidden", 404: "not_found"}.get(status, "bad_request")
            return Decision("fatal", kind, status)
    for name, kind in _FATAL_NAMES.items():
        if name in names:
            return Decision("fatal", kind, status)
    for name, kind in _RETRY_NAMES.items():
        if name in names:
            return Decision("retry", kind, status)
    return Decision("fatal", "unknown", status)


def backoff_delays(
    max_attempts: int = 3,
    base: float = 0.5,
    cap: float = 8.0,
    *,
    rng: random.Random | None = None,
) -> list[float]:
    """Seconds to wait before attempts 2..max_attempts (so max_attempts - 1 values).

    Exponential (base, 2*base, 4*base, ... capped at `cap`) with "equal jitter":
    each delay is uniform in [d/2, d]. Half keeps a floor, so a flapping server
    gets a real pause; the random half keeps two editors on one Ollama from
    retrying in lockstep.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    rand = rng or random.Random()
    out: list[float] = []
    for i in range(max_attempts - 1):
        d = min(cap, base * (2**i))
        out.append(d / 2 + rand.uniform(0, d / 2))
    return out


@dataclass(frozen=True)
class Attempt:
    """One failed try of a call, as the retry loop decided about it."""

    number: int  # 1-based
    duration_ms: int
    kind: str  # Decision.kind
    status: int | None
    will_retry: bool
    delay_s: float | None = None  # wait before the next attempt


async def call_with_retries(
    fn: Callable[[int], Awaitable[T]],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    base: float = 0.5,
    cap: float = 8.0,
    on_failure: Callable[[Attempt, Exception], Awaitable[None]] | None = None,
    after_output: Callable[[], bool] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `fn(attempt_number)` until it succeeds, fails fatally, or `max_attempts` are used.

    `on_failure` is awaited after every failed attempt, before the wait (store
    the trace event there, so the trace shows the retry as it happens).
    `after_output()` tells whether the failed attempt already streamed text to
    the user (then it is not retried). The last exception is re-raised as is.
    """
    delays = backoff_delays(max_attempts, base, cap, rng=rng)
    for number in range(1, max_attempts + 1):
        started = time.monotonic()
        try:
            return await fn(number)
        except Exception as exc:
            decision = decide(exc, after_output=bool(after_output and after_output()))
            retry = decision.action == "retry" and number < max_attempts
            delay = delays[number - 1] if retry else None
            ms = int((time.monotonic() - started) * 1000)
            if on_failure is not None:
                attempt = Attempt(number, ms, decision.kind, decision.status, retry, delay)
                await on_failure(attempt, exc)
            if delay is None:
                raise
            await sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises
