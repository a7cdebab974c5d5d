"""The exact request of a real turn is a replayable datapoint: a real SmolLM2 turn
(temperature 0) on the real llama.cpp server, its stored request read back from the
ledger (`orion traces --turn T --json`) and sent again byte for byte over plain HTTP
(no litellm), gives the very reply that was stored (marker `realmodel`)."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from tests.e2e.test_realmodel import smollm2  # noqa: F401  (module-scoped server fixture)
from tests.lsp.harness import resolved_traces, start_session

# llama-cpp-python's server keeps the KV cache of the previous request and
# re-evaluates only what follows the common prefix, so a greedy reply depends
# (in floating point) on what it evaluated before. Before the turn and before
# the resend the test sends the same unrelated raw completion, which shares no
# token with a chat prompt beyond a BOS (whose KV is computed once, by the
# first request): both calls are then evaluated in one batch from the same state.
pytestmark = pytest.mark.realmodel

RESET_PROMPT = "Zebra crossings, 42 of them."


def pin_cache_state(base: str, model: str) -> None:
    r = httpx.post(
        f"{base}/completions",
        json={"model": model, "prompt": RESET_PROMPT, "max_tokens": 1, "temperature": 0},
        headers={"Authorization": "Bearer orion-local"},
        timeout=180,
    )
    assert r.status_code == 200, r.text


def resend(base: str, model: str, request: dict[str, Any]) -> str:
    """POST the stored request as the body litellm sent, read the stream's text."""
    body: dict[str, Any] = {"model": model, "messages": request["messages"], **request["params"]}
    if request["tools"]:
        body["tools"] = request["tools"]
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    parts: list[str] = []
    with httpx.stream(
        "POST",
        f"{base}/chat/completions",
        content=data,
        headers={"Content-Type": "application/json", "Authorization": "Bearer orion-local"},
        timeout=180,
    ) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


async def test_a_stored_request_sent_again_gives_the_stored_reply(smollm2, tmp_path):  # noqa: F811
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "prices.py").write_text("def total(prices):\n    return sum(prices)\n")
    db = tmp_path / "orion.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(
        ORION_MODEL="openai/smollm2", ORION_API_BASE=smollm2, ORION_DB=str(db),
        ORION_TEMPERATURE="0",
    )  # fmt: skip
    s = await start_session(ws, db, None, env=env)  # type: ignore[arg-type]
    try:
        pin_cache_state(smollm2, "smollm2")
        result = await s.chat("In one sentence, what does a Python list hold?")
        assert result["status"] == "completed", result
    finally:
        await s.client.shutdown_session()
    events = resolved_traces(db, result["projectId"], result["turnId"])
    calls = [e["payload"] for e in events if e["type"] == "llm_call" and "text" in e["payload"]]
    assert calls, "no completed model call stored"
    call = calls[0]  # the call right after the pinned state
    request = call["request"]
    assert request["params"]["temperature"] == 0
    assert request["messages"][-1] == {
        "role": "user",
        "content": "In one sentence, what does a Python list hold?",
    }
    assert call["text"].strip()
    pin_cache_state(smollm2, "smollm2")
    again = resend(smollm2, "smollm2", request)
    assert again == call["text"]
