"""The critic: scripted critic models (pass, revise, down) through the real litellm."""

from __future__ import annotations

import asyncio
import socket
from types import ModuleType
from typing import Any

import pytest

from orion_lsp.agent.critic import CriticVerdict, critique, parse_verdict, revision_prompt
from orion_lsp.agent.litellm_setup import import_litellm
from orion_lsp.agent.model import LiteLLMModel
from orion_lsp.redact import Redactor
from orion_lsp.testing import ScriptedModelServer, ScriptedReply

QUESTION = "Where is the order total computed?"
ANSWER = "In `shop/orders.py`, `Order.total()` on line 42 sums the line items."
TOOL_RESULTS: list[Any] = [
    {
        "name": "read_file",
        "arguments": {"path": "shop/orders.py"},
        "ok": True,
        "content": "40 class Order:\n41     def total(self):\n42         return sum(i.price for i in self.items)",
    },
    "list_files: shop/orders.py shop/cart.py",
]


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    return import_litellm()


async def _critique(litellm: ModuleType, base: str, **kw: Any) -> CriticVerdict:
    # The critic is a Model like the main one: the real client, the real litellm.
    model = LiteLLMModel(ScriptedModelServer.model, base, None, Redactor())
    return await critique(
        model,
        kw.pop("answer", ANSWER),
        kw.pop("tool_results", TOOL_RESULTS),
        QUESTION,
        **kw,
    )


async def test_pass(litellm: ModuleType) -> None:
    with ScriptedModelServer([ScriptedReply(text="PASS")]) as srv:
        verdict = await _critique(litellm, srv.base_url)
        body = srv.requests[0]
    assert (verdict.passed, verdict.verdict, verdict.available) == (True, "pass", True)
    assert verdict.raw == "PASS" and verdict.feedback == ""
    # The critic saw the question, every tool result and the answer; one request, no tools.
    user = body["messages"][-1]["content"]
    assert QUESTION in user and ANSWER in user
    assert "read_file({'path': 'shop/orders.py'})" in user and "42         return sum" in user
    assert "list_files: shop/orders.py" in user
    assert "tools" not in body and body["temperature"] == 0 and body["max_tokens"] == 300


async def test_revise_carries_the_unsupported_claims(litellm: ModuleType) -> None:
    reply = "**Verdict:** REVISE\n- `Order.discount()` is not in the tool results\n- line 90"
    with ScriptedModelServer([ScriptedReply(text=reply)]) as srv:
        verdict = await _critique(litellm, srv.base_url, answer=ANSWER + " See Order.discount().")
    assert (verdict.passed, verdict.verdict, verdict.available) == (False, "revise", True)
    assert verdict.feedback == "- `Order.discount()` is not in the tool results\n- line 90"
    assert verdict.raw == reply
    prompt = revision_prompt(verdict)
    assert "Order.discount()" in prompt and "Revise your answer" in prompt
    # The revision gets no tools, so the prompt must not ask it to call one.
    assert "tool first" not in prompt and "call a tool" not in prompt
    trace = verdict.to_trace()
    assert trace["verdict"] == "revise" and trace["criticModel"] == "openai/scripted"


@pytest.mark.parametrize("status", [500, 503, 401])
async def test_critic_error_never_fails_the_turn(litellm: ModuleType, status: int) -> None:
    with ScriptedModelServer(
        [ScriptedReply(status=status, error_message="critic exploded key=sk-secretsecret123")]
    ) as srv:
        verdict = await _critique(litellm, srv.base_url)
        assert len(srv.requests) == 1  # no retries for the critic
    assert verdict.passed and not verdict.available and verdict.verdict == "unavailable"
    assert verdict.feedback.startswith("critic unavailable: ")
    assert "sk-secretsecret123" not in verdict.feedback


async def test_critic_down(litellm: ModuleType) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verdict = await _critique(litellm, f"http://127.0.0.1:{port}/v1")
    assert verdict.passed and not verdict.available
    assert verdict.feedback.startswith("critic unavailable: ")
    assert "Connection error" in verdict.feedback or "onnect" in verdict.feedback


async def test_critic_timeout(litellm: ModuleType) -> None:
    with ScriptedModelServer([ScriptedReply(text="PASS", delay_s=3)]) as srv:
        verdict = await _critique(litellm, srv.base_url, timeout_s=0.3)
    assert verdict.passed and not verdict.available and "Timeout" in verdict.feedback
    assert "0.3 s" in verdict.feedback


async def test_unclear_verdict_keeps_the_answer(litellm: ModuleType) -> None:
    with ScriptedModelServer([ScriptedReply(text="Hmm, interesting code base.")]) as srv:
        verdict = await _critique(litellm, srv.base_url)
    assert verdict.passed and verdict.available and verdict.verdict == "unclear"
    assert verdict.feedback == "critic gave no PASS/REVISE verdict"


async def test_cancellation_is_not_swallowed(litellm: ModuleType) -> None:
    with ScriptedModelServer([ScriptedReply(text="PASS", delay_s=5)]) as srv:
        task = asyncio.create_task(_critique(litellm, srv.base_url))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_large_tool_results_are_bounded(litellm: ModuleType) -> None:
    big = [{"name": "read_file", "content": "x" * 50_000}] * 10
    with ScriptedModelServer([ScriptedReply(text="PASS")]) as srv:
        await _critique(litellm, srv.base_url, tool_results=big)
        user = srv.requests[0]["messages"][-1]["content"]
    assert len(user) < 25_000
    assert "critic input limit reached" in user


@pytest.mark.parametrize(
    ("raw", "verdict"),
    [
        ("PASS", "pass"),
        ("pass.", "pass"),
        ("Verdict: PASS\nAll claims are in the results.", "pass"),
        ("OK", "pass"),
        ("REVISE\n- app.py:9", "revise"),
        ("## Result\n**revise**", "revise"),
        ("The answer does not pass: helper() is missing", "revise"),
        ("I cannot pass this answer", "revise"),
        ("FAIL - no such file", "revise"),
        ("", "unclear"),
        ("I looked at the code.", "unclear"),
        ("This is ok but REVISE: line 3", "revise"),  # "ok" inside a sentence is not a verdict
    ],
)
def test_parse_verdict_variants(raw: str, verdict: str) -> None:
    assert parse_verdict(raw)[0] == verdict


def test_critic_settings_have_their_own_server() -> None:
    from orion_lsp.config import load_settings

    base = {"model": "openai/main", "apiBase": "http://main:1/v1", "criticModel": "openai/c"}
    same = load_settings(base, environ={}).for_critic()
    assert (same.model, same.api_base) == ("openai/c", "http://main:1/v1")
    own = load_settings({**base, "criticApiBase": "http://critic:2/v1"}, environ={}).for_critic()
    assert own.api_base == "http://critic:2/v1"
    env = load_settings(base, environ={"ORION_CRITIC_API_BASE": "http://env:3/v1"})
    assert env.for_critic().api_base == "http://env:3/v1"
    assert env.public()["criticApiBase"] == "http://env:3/v1"
