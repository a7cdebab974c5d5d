"""The scripted model server, driven through the real litellm (never mocked)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import openai
import pytest

import orion_lsp
from orion_lsp.agent.litellm_setup import NO_RETRY_KWARGS, import_litellm
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

MESSAGES = [{"role": "user", "content": "hello"}]
# Waits longer than this are hangs. Only a hang detector (a loaded machine is slow),
# never a speed check: speed is measured in bench/.
HANG_S = 60
READ_TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    # ~4 s: once per module.
    return import_litellm()


@pytest.fixture
def server() -> Any:
    with ScriptedModelServer() as srv:
        yield srv


async def call(litellm: ModuleType, srv: ScriptedModelServer | str, **kwargs: Any) -> Any:
    """litellm.acompletion as the orchestrator makes it, against a server or a base URL."""
    params: dict[str, Any] = {
        "model": ScriptedModelServer.model,
        "api_base": srv if isinstance(srv, str) else srv.base_url,
        "api_key": "x",
        "messages": MESSAGES,
        **NO_RETRY_KWARGS,
    }
    params.update(kwargs)
    return await litellm.acompletion(**params)


async def collect(stream: Any) -> tuple[list[str], dict[int, dict[str, str]], list[Any]]:
    """Content pieces, tool calls assembled by index, and every chunk."""
    pieces: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    chunks: list[Any] = []
    async for chunk in stream:
        chunks.append(chunk)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            pieces.append(delta.content)
        for tc in delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                slot["id"] = tc.id
            if tc.function.name:
                slot["name"] += tc.function.name
            if tc.function.arguments:
                slot["arguments"] += tc.function.arguments
    return pieces, calls, chunks


def finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


async def test_streamed_text_reassembles_exactly(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    # Repetitive text would trip litellm's repeated-chunk guard if pieces were equal.
    text = "Hello, wörld! ✓ " + "x" * 600 + "\nend"
    server.push(ScriptedReply(text=text))
    pieces, calls, chunks = await collect(await call(litellm, server, stream=True))
    assert "".join(pieces) == text
    assert len(pieces) > 10
    assert all(a != b for a, b in zip(pieces, pieces[1:], strict=False))
    assert calls == {}
    assert finish_reasons(chunks) == ["stop"]


async def test_streamed_tool_calls_assemble(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    args = {"path": "src/main.py", "startLine": 1, "endLine": 40}
    server.push(
        ScriptedReply(
            text="Let me look.",
            tool_calls=[
                ScriptedToolCall("read_file", args),
                ScriptedToolCall("search", '{"pattern": "foo", '),  # malformed on purpose
            ],
        )
    )
    pieces, calls, chunks = await collect(
        await call(litellm, server, stream=True, tools=[READ_TOOL])
    )
    assert "".join(pieces) == "Let me look."
    assert [calls[0]["name"], calls[1]["name"]] == ["read_file", "search"]
    assert json.loads(calls[0]["arguments"]) == args
    assert calls[1]["arguments"] == '{"pattern": "foo", '
    assert calls[0]["id"] and calls[0]["id"] != calls[1]["id"]
    assert finish_reasons(chunks) == ["tool_calls"]


async def test_non_stream_completion(litellm: ModuleType, server: ScriptedModelServer) -> None:
    server.push(
        ScriptedReply(
            text="partial",
            finish_reason="length",
            usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        ),
        ScriptedReply(tool_calls=[ScriptedToolCall("list_files", {"glob": "*.py"})]),
    )
    first = await call(litellm, server)
    assert first.choices[0].message.content == "partial"
    assert first.choices[0].finish_reason == "length"
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (7, 3)

    second = await call(litellm, server, tools=[READ_TOOL])
    msg = second.choices[0].message
    assert second.choices[0].finish_reason == "tool_calls"
    assert msg.tool_calls[0].function.name == "list_files"
    assert json.loads(msg.tool_calls[0].function.arguments) == {"glob": "*.py"}
    assert second.usage.prompt_tokens > 0 and second.usage.completion_tokens > 0


async def test_stream_usage_when_requested(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    usage = {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}
    server.push(ScriptedReply(text="counted answer", usage=usage))
    stream = await call(litellm, server, stream=True, stream_options={"include_usage": True})
    _, _, chunks = await collect(stream)
    seen = [getattr(c, "usage", None) for c in chunks]
    usages = [u for u in seen if u is not None and u.prompt_tokens]
    assert usages and (usages[-1].prompt_tokens, usages[-1].completion_tokens) == (123, 45)
    assert server.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("status", "error_name"),
    [(400, "BadRequestError"), (429, "RateLimitError"), (500, "InternalServerError")],
)
async def test_error_status_surfaces_with_message(
    litellm: ModuleType, server: ScriptedModelServer, status: int, error_name: str, stream: bool
) -> None:
    server.push(ScriptedReply(status=status, error_message=f"scripted failure {status}"))
    with pytest.raises(getattr(litellm, error_name)) as info:
        response = await call(litellm, server, stream=stream)
        if stream:
            await collect(response)
    assert f"scripted failure {status}" in str(info.value)
    assert info.value.status_code == status
    # NO_RETRY_KWARGS: the OpenAI SDK would otherwise retry a 429/500 twice
    # (retries happen before the exception is raised, so the count is final).
    assert len(server.requests) == 1


async def test_script_exhausted_is_one_500(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    server.push(ScriptedReply(text="only one"))
    first = await call(litellm, server)
    assert first.choices[0].message.content == "only one"
    with pytest.raises(litellm.InternalServerError, match="scripted model: script exhausted"):
        await call(litellm, server, stream=True)
    assert len(server.requests) == 2  # one request, one 500: no SDK retry (nor its back-off)


async def test_default_reply_repeats(litellm: ModuleType) -> None:
    with ScriptedModelServer(
        [ScriptedReply(text="first")], default=ScriptedReply(text="again")
    ) as srv:
        answers = [(await call(litellm, srv)).choices[0].message.content for _ in range(3)]
    assert answers == ["first", "again", "again"]


async def test_concurrent_calls_each_get_one_reply(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    # Parallel turns (two editors, or a critic beside the main model) share a server.
    answers = [f"answer number {i}" for i in range(30)]
    server.push(*(ScriptedReply(text=a, chunk_delay_s=0.01) for a in answers))

    async def one() -> str:
        pieces, _, _ = await collect(await call(litellm, server, stream=True))
        return "".join(pieces)

    got = await asyncio.wait_for(asyncio.gather(*(one() for _ in answers)), HANG_S)
    assert sorted(got) == sorted(answers)
    assert len(server.requests) == 30 and server.remaining == 0


async def test_hang_then_cancel_closes_the_stream(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    server.push(ScriptedReply(text="thinking about it", hang=True), ScriptedReply(text="next"))
    received: list[str] = []
    got_text = asyncio.Event()

    async def consume() -> None:
        stream = await call(litellm, server, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
                if "".join(received) == "thinking about it":
                    got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), HANG_S)
    await asyncio.sleep(0.2)
    assert not task.done()  # the stream really hangs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # returns although the stream never ends: the cancel reached it
    # The HTTP connection was closed, and the server noticed and keeps serving.
    assert server.wait_for_disconnects(1, timeout=HANG_S) == 1
    assert (await call(litellm, server)).choices[0].message.content == "next"


async def test_hang_ends_with_an_error_when_server_stops(litellm: ModuleType) -> None:
    srv = ScriptedModelServer([ScriptedReply(text="half an answer", hang=True)]).start()
    stream = await call(litellm, srv, stream=True)
    pieces: list[str] = []

    async def consume() -> None:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)

    task = asyncio.create_task(consume())
    # Stop once all the text is in (it hangs after that), not after a guessed delay.
    async with asyncio.timeout(HANG_S):
        while "".join(pieces) != "half an answer":
            await asyncio.sleep(0.01)
    await asyncio.to_thread(srv.stop)
    # Cut short without the final chunk: the client must not see a clean finish.
    # litellm 1.110.2 raises MidStreamFallbackError("... Connection error ..."), an openai.APIError.
    with pytest.raises(openai.APIError, match="Connection error"):
        await asyncio.wait_for(task, HANG_S)
    assert "".join(pieces) == "half an answer"


async def test_non_stream_hang_then_cancel(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    server.push(ScriptedReply(text="never sent", hang=True))
    task = asyncio.create_task(call(litellm, server))
    server_requests = await asyncio.to_thread(server.wait_for_requests, 1)
    assert server_requests[0]["messages"] == MESSAGES  # recorded before answering
    await asyncio.sleep(0.2)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.wait_for_disconnects, 1, HANG_S) == 1


async def test_stop_cuts_a_delayed_answer(litellm: ModuleType) -> None:
    # An hour's delay: if stop() did not cut it, the call below could only time out.
    srv = ScriptedModelServer([ScriptedReply(text="too late", delay_s=3600)]).start()
    task = asyncio.create_task(call(litellm, srv))
    await asyncio.to_thread(srv.wait_for_requests, 1)
    await asyncio.to_thread(srv.stop)
    with pytest.raises(openai.APIError):
        await asyncio.wait_for(task, HANG_S)
    assert srv.disconnects == 0  # the server left, not the client


async def test_delays(litellm: ModuleType, server: ScriptedModelServer) -> None:
    server.push(
        ScriptedReply(text="slow", delay_s=0.4),
        ScriptedReply(text="abcdefghij", chunk_delay_s=0.05),
    )
    started = time.monotonic()
    await call(litellm, server)
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    pieces, _, _ = await collect(await call(litellm, server, stream=True))
    # role chunk + 3 text pieces + finish chunk, 50 ms after each.
    assert "".join(pieces) == "abcdefghij"
    assert time.monotonic() - started >= 0.2


async def test_requests_recorded_with_headers(
    litellm: ModuleType, server: ScriptedModelServer
) -> None:
    server.push(ScriptedReply(text="a"), ScriptedReply(text="b"))
    await call(litellm, server, tools=[READ_TOOL], api_key="sk-test-key-123")
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "more"},
    ]
    _, _, _ = await collect(await call(litellm, server, messages=messages, stream=True))
    reqs = server.wait_for_requests(2)
    assert reqs[0]["messages"] == MESSAGES
    assert reqs[0]["model"] == "scripted"
    assert reqs[0]["tools"][0]["function"]["name"] == "read_file"
    assert "stream" not in reqs[0] or reqs[0]["stream"] is False
    assert reqs[1]["stream"] is True
    assert [m["content"] for m in reqs[1]["messages"]] == ["hello", "a", "more"]
    assert server.request_headers[0]["authorization"] == "Bearer sk-test-key-123"
    assert server.request_headers[1]["authorization"] == "Bearer x"
    with pytest.raises(TimeoutError, match="expected 3 requests, got 2"):
        server.wait_for_requests(3, timeout=0.2)


async def test_route_without_v1_prefix(litellm: ModuleType, server: ScriptedModelServer) -> None:
    server.push(ScriptedReply(text="no prefix"))
    response = await call(litellm, server.base_url.removesuffix("/v1"))
    assert response.choices[0].message.content == "no prefix"


def test_models_listed_and_unknown_paths_404(server: ScriptedModelServer) -> None:
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as resp:
        assert [m["id"] for m in json.load(resp)["data"]] == ["scripted"]
    for path, data in [("/embeddings", b"{}"), ("/nothing", None)]:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.base_url + path, data=data, timeout=5)
        assert info.value.code == 404
        assert "no route" in json.load(info.value)["error"]["message"]
    assert server.requests == []  # a 404 takes no scripted reply


def test_client_disconnect_mid_stream_does_not_crash(server: ScriptedModelServer) -> None:
    server.push(
        ScriptedReply(text="x" * 2000, chunk_delay_s=0.01), ScriptedReply(text="still here")
    )
    body = json.dumps({"model": "scripted", "messages": MESSAGES, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body)
        assert b"200" in sock.recv(200)
    assert server.wait_for_disconnects(1, timeout=HANG_S) == 1
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps({"model": "scripted", "messages": MESSAGES}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.load(resp)["choices"][0]["message"]["content"] == "still here"


def test_reply_from_dict_rejects_unknown_fields() -> None:
    reply = ScriptedReply.from_dict(
        {"text": "t", "tool_calls": [{"name": "n", "arguments": {"a": 1}}]}
    )
    assert reply.tool_calls == [ScriptedToolCall("n", {"a": 1})]
    assert reply.effective_finish_reason() == "tool_calls"
    # Empty Lua tables arrive as {} or []: both mean "none".
    lua = ScriptedReply.from_dict({"tool_calls": [{"name": "n", "arguments": []}]})
    assert lua.tool_calls[0].arguments_json() == "{}"
    assert ScriptedReply.from_dict({"text": "t", "tool_calls": {}}).tool_calls == []
    with pytest.raises(ValueError, match="tool_call"):
        ScriptedReply.from_dict({"tool_call": []})
    with pytest.raises(ValueError, match="args"):
        ScriptedReply.from_dict({"tool_calls": [{"name": "n", "args": {}}]})


async def test_import_litellm_keeps_stdout_clean(
    litellm: ModuleType, server: ScriptedModelServer, capfd: pytest.CaptureFixture[str]
) -> None:
    assert import_litellm() is litellm
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert litellm.suppress_debug_info is True
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)  # what a server does for --log-file
    try:
        server.push(ScriptedReply(text="fine"), ScriptedReply(status=500, error_message="bad"))
        await collect(await call(litellm, server, stream=True))
        with pytest.raises(litellm.InternalServerError):
            await call(litellm, server)
    finally:
        root.setLevel(old_level)
    out, _ = capfd.readouterr()
    assert out == ""


def _repo_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(orion_lsp.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


async def test_cli_serve(litellm: ModuleType, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "replies": [
                    {
                        "text": "from the CLI",
                        "tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}],
                    }
                ],
                "default": {"text": "default answer"},
            }
        )
    )
    port_file, requests_file = tmp_path / "url", tmp_path / "requests.jsonl"
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "orion_lsp.testing", "serve", "--script", str(script)],
        *["--port-file", str(port_file), "--requests-file", str(requests_file)],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_repo_env(),
    )
    try:
        assert proc.stdout is not None
        base_url = (await asyncio.wait_for(proc.stdout.readline(), HANG_S)).decode().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert port_file.read_text().strip() == base_url
        pieces, calls, _ = await collect(await call(litellm, base_url, stream=True))
        assert "".join(pieces) == "from the CLI"
        assert calls[0]["name"] == "read_file"
        assert json.loads(calls[0]["arguments"]) == {"path": "a.py"}
        again = await call(litellm, base_url)
        assert again.choices[0].message.content == "default answer"
        lines = requests_file.read_text().splitlines()
        assert [json.loads(line)["messages"] for line in lines] == [MESSAGES, MESSAGES]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), HANG_S)
    assert proc.returncode == 0, err


def test_cli_rejects_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"txt": "typo"}]}))
    cmd = [sys.executable, "-m", "orion_lsp.testing", "serve", "--script", str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_repo_env(), timeout=HANG_S)
    assert done.returncode == 2
    assert "txt" in done.stderr and "Traceback" not in done.stderr


async def test_every_orion_call_is_built_by_one_function(litellm: ModuleType) -> None:
    """The model client and doctor's probe share `completion_kwargs`: one request each,
    a placeholder key only for keyless local servers, the user's key otherwise."""
    from orion_lsp.agent.litellm_setup import completion_kwargs
    from orion_lsp.agent.toolmode.probe import probe_tool_mode

    local = completion_kwargs("openai/x", "http://h/v1", None, [], timeout_s=5)
    assert local["api_key"] == "orion-local" and local["max_retries"] == 0
    assert "api_key" not in completion_kwargs("ollama_chat/q", None, None, [], timeout_s=5)
    assert completion_kwargs("openai/x", None, "sk-real", [], timeout_s=5)["api_key"] == "sk-real"
    with ScriptedModelServer(default=ScriptedReply(status=500)) as srv:
        with pytest.raises(litellm.InternalServerError):
            await probe_tool_mode(srv.model, srv.base_url, None, timeout_s=5)
        assert len(srv.requests) == 1  # no hidden retries in the probe either
