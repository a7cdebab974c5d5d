"""Retry policy, checked on the exceptions the real litellm raises against a real HTTP server."""

from __future__ import annotations

import asyncio
import random
import socket
from types import ModuleType
from typing import Any

import pytest

from orion_lsp.agent.litellm_setup import NO_RETRY_KWARGS, import_litellm
from orion_lsp.agent.retry import Attempt, backoff_delays, call_with_retries, decide
from orion_lsp.testing import ScriptedModelServer, ScriptedReply

# What llama-cpp-python 0.3.36 answers to a prompt over its window (measured).
LLAMA_CPP_CONTEXT_ERROR = (
    "This model's maximum context length is 2048 tokens, however you requested 3000 tokens "
    "(2999 in your prompt; 1 for the completion). Please reduce your prompt; or completion length."
)


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    return import_litellm()


async def _call(
    litellm: ModuleType,
    base: str,
    *,
    stream: bool = False,
    timeout_s: float = 10,
    parts: list[str] | None = None,
) -> str:
    resp = await litellm.acompletion(
        model=ScriptedModelServer.model,
        api_base=base,
        api_key="x",
        messages=[{"role": "user", "content": "hi"}],
        stream=stream,
        timeout=timeout_s,
        **NO_RETRY_KWARGS,
    )
    if not stream:
        return str(resp.choices[0].message.content)
    parts = [] if parts is None else parts
    async for chunk in resp:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


async def _raised(litellm: ModuleType, reply: ScriptedReply, **kw: Any) -> BaseException:
    with ScriptedModelServer([reply]) as srv:
        with pytest.raises(Exception) as info:
            await _call(litellm, srv.base_url, **kw)
        assert len(srv.requests) == 1  # no hidden SDK retries
    return info.value


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("status", "message", "action", "kind"),
    [
        (500, "boom", "retry", "server_error"),
        (502, "bad gateway", "retry", "server_error"),
        (503, "loading model", "retry", "server_error"),
        (429, "slow down", "retry", "rate_limited"),
        (408, "request timeout", "retry", "timeout"),
        (401, "invalid api key", "fatal", "auth"),
        (403, "forbidden", "fatal", "forbidden"),
        (404, "model 'qwen' not found", "fatal", "not_found"),
        (400, "bad request", "fatal", "bad_request"),
        (422, "unprocessable", "fatal", "bad_request"),
        (400, LLAMA_CPP_CONTEXT_ERROR, "fatal", "context_window"),
        # A context error is fatal whatever status a server gives it.
        (500, "the request exceeds the available context size", "fatal", "context_window"),
    ],
)
async def test_http_errors(
    litellm: ModuleType, stream: bool, status: int, message: str, action: str, kind: str
) -> None:
    exc = await _raised(litellm, ScriptedReply(status=status, error_message=message), stream=stream)
    d = decide(exc)
    assert (d.action, d.kind) == (action, kind), repr(exc)
    assert d.status == status


async def test_connection_refused_is_retried_and_named(litellm: ModuleType) -> None:
    # litellm reports this as InternalServerError(500); the trace must say "refused".
    with pytest.raises(Exception) as info:
        await _call(litellm, f"http://127.0.0.1:{_closed_port()}/v1")
    assert decide(info.value).kind == "connection_refused"
    assert decide(info.value).action == "retry"


async def test_timeout_is_retried(litellm: ModuleType) -> None:
    exc = await _raised(litellm, ScriptedReply(text="late", delay_s=2), timeout_s=0.3)
    assert (decide(exc).action, decide(exc).kind) == ("retry", "timeout")


async def test_stream_cut_midway(litellm: ModuleType) -> None:
    srv = ScriptedModelServer([ScriptedReply(text="partial answer here", hang=True)]).start()
    parts: list[str] = []
    try:
        task = asyncio.create_task(_call(litellm, srv.base_url, stream=True, parts=parts))
        # Cut it only once text has arrived: "midway" by what was received, not by a delay.
        async with asyncio.timeout(60):
            while not parts:
                await asyncio.sleep(0.01)
        srv.stop()
        with pytest.raises(Exception) as info:
            await task
    finally:
        srv.stop()
    assert decide(info.value).action == "retry"
    assert decide(info.value).kind == "connection_lost"
    # Text already reached the editor: a retry would stream it twice.
    assert decide(info.value, after_output=True).kind == "mid_stream"
    assert decide(info.value, after_output=True).action == "fatal"


def test_cancellation_and_unknown_errors_are_fatal() -> None:
    assert decide(asyncio.CancelledError()).kind == "cancelled"
    assert decide(ValueError("our own bug")).action == "fatal"
    assert decide(ConnectionResetError("reset by peer")).kind == "connection_lost"
    assert decide(TimeoutError()).kind == "timeout"


def test_causes_are_followed_through_wrappers() -> None:
    class ModelError(Exception):
        pass

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise ModelError("Orion model error: openai/x at http://127.0.0.1:1/v1") from inner
    except ModelError as exc:
        assert decide(exc).kind == "connection_refused"


def test_backoff_delays_grow_jittered_and_capped() -> None:
    assert backoff_delays(1) == []
    rng = random.Random(7)
    for _ in range(200):
        delays = backoff_delays(6, base=0.5, cap=3.0, rng=rng)
        assert len(delays) == 5
        for i, d in enumerate(delays):
            nominal = min(3.0, 0.5 * 2**i)
            assert nominal / 2 <= d <= nominal
    # Jitter: two runs differ; a seeded rng repeats.
    assert backoff_delays(4) != backoff_delays(4)
    assert backoff_delays(4, rng=random.Random(1)) == backoff_delays(4, rng=random.Random(1))
    with pytest.raises(ValueError):
        backoff_delays(0)


async def test_call_with_retries_recovers_and_records_each_attempt(litellm: ModuleType) -> None:
    replies = [ScriptedReply(status=503, error_message="loading"), ScriptedReply(status=429)]
    replies.append(ScriptedReply(text="hello after retries"))
    attempts: list[Attempt] = []
    numbers: list[int] = []
    slept: list[float] = []

    async def record(a: Attempt, exc: Exception) -> None:
        attempts.append(a)

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    async def call(number: int) -> str:
        numbers.append(number)
        return await _call(litellm, srv.base_url, stream=True)

    with ScriptedModelServer(replies) as srv:
        out = await call_with_retries(
            call, on_failure=record, sleep=fake_sleep, rng=random.Random(3)
        )
        assert len(srv.requests) == 3
    assert out == "hello after retries"
    assert numbers == [1, 2, 3]
    assert [(a.number, a.kind, a.will_retry) for a in attempts] == [
        (1, "server_error", True),
        (2, "rate_limited", True),
    ]
    assert slept == backoff_delays(3, rng=random.Random(3))
    assert attempts[0].delay_s == slept[0] and attempts[0].status == 503


async def test_call_with_retries_stops_on_fatal_and_on_limit(litellm: ModuleType) -> None:
    async def no_sleep(_: float) -> None:
        return None

    with ScriptedModelServer([ScriptedReply(status=401, error_message="bad key")]) as srv:
        attempts: list[Attempt] = []

        async def record(a: Attempt, exc: Exception) -> None:
            attempts.append(a)

        with pytest.raises(Exception, match="bad key"):
            await call_with_retries(
                lambda _n: _call(litellm, srv.base_url), on_failure=record, sleep=no_sleep
            )
        assert len(srv.requests) == 1
        assert attempts[0].kind == "auth" and not attempts[0].will_retry

    with ScriptedModelServer(default=ScriptedReply(status=500)) as srv:
        with pytest.raises(litellm.InternalServerError):
            await call_with_retries(
                lambda _n: _call(litellm, srv.base_url), max_attempts=4, sleep=no_sleep
            )
        assert len(srv.requests) == 4


async def test_output_already_streamed_is_not_retried() -> None:
    calls = 0

    async def flaky(_number: int) -> str:
        nonlocal calls
        calls += 1
        raise ConnectionResetError("reset by peer")

    async def no_sleep(_: float) -> None:
        return None

    with pytest.raises(ConnectionResetError):
        await call_with_retries(flaky, after_output=lambda: True, sleep=no_sleep)
    assert calls == 1
