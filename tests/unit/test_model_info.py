"""Context-window discovery against small real HTTP servers, and fitting messages into a window."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orion_lsp.agent.litellm_setup import NO_RETRY_KWARGS, import_litellm
from orion_lsp.agent.window.discover import (
    context_window,
    context_window_info,
    ollama_extra_params,
)
from orion_lsp.agent.window.fit import FitReport, estimate_tokens, fit_messages
from orion_lsp.testing import ScriptedModelServer

Route = Callable[[Any], tuple[int, Any]]


class JSONServer:
    """A loopback HTTP server answering fixed JSON routes; records request bodies."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                owner.seen.append((method, self.path, body))
                route = owner.routes.get((method, self.path))
                status, payload = route(body) if route else (404, {"detail": "Not Found"})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[dict[tuple[str, str], Route]], JSONServer]]:
    servers: list[JSONServer] = []

    def start(routes: dict[tuple[str, str], Route]) -> JSONServer:
        servers.append(JSONServer(routes))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def ollama_show(parameters: str = "", context_length: int | None = 32768) -> Route:
    info = {"general.architecture": "qwen2"}
    if context_length:
        info["qwen2.context_length"] = context_length
    return lambda body: (200, {"parameters": parameters, "model_info": info, "details": {}})


async def test_ollama_num_ctx_parameter_wins(serve: Any) -> None:
    srv = serve({("POST", "/api/show"): ollama_show("stop <|im_end|>\nnum_ctx 8192\n")})
    info = await context_window_info("ollama_chat/qwen2.5-coder:7b", srv.root)
    assert info is not None and (info.tokens, info.source) == (8192, "ollama /api/show num_ctx")
    # The model name without the provider prefix is what Ollama is asked about.
    assert srv.seen[0] == ("POST", "/api/show", {"model": "qwen2.5-coder:7b"})


async def test_ollama_context_length_and_cap(serve: Any) -> None:
    srv = serve({("POST", "/api/show"): ollama_show(context_length=16384)})
    assert await context_window("ollama/qwen2.5-coder:7b", srv.root) == 16384
    srv = serve({("POST", "/api/show"): ollama_show(context_length=131072)})
    info = await context_window_info("ollama/qwen2.5-coder:7b", srv.root, ollama_cap=32768)
    assert info is not None and info.tokens == 32768 and "capped" in info.source
    srv = serve({("POST", "/api/show"): ollama_show(context_length=None)})
    assert await context_window("ollama/x", srv.root) is None


async def test_llama_cpp_props(serve: Any) -> None:
    srv = serve(
        {("GET", "/props"): lambda _: (200, {"default_generation_settings": {"n_ctx": 4096}})}
    )
    info = await context_window_info("openai/local", srv.root + "/v1")
    assert info is not None and (info.tokens, info.source) == (4096, "llama.cpp /props")


async def test_vllm_model_list(serve: Any) -> None:
    models = {
        "object": "list",
        "data": [
            {"id": "other", "max_model_len": 1},
            {"id": "Qwen/Qwen2.5-Coder-7B", "max_model_len": 32768},
        ],
    }
    srv = serve({("GET", "/v1/models"): lambda _: (200, models)})
    assert await context_window("hosted_vllm/Qwen/Qwen2.5-Coder-7B", srv.root + "/v1") == 32768


async def test_lm_studio_api(serve: Any) -> None:
    srv = serve(
        {
            ("GET", "/v1/models"): lambda _: (200, {"data": [{"id": "qwen"}]}),
            ("GET", "/api/v0/models/qwen"): lambda _: (
                200,
                {"id": "qwen", "max_context_length": 32768, "loaded_context_length": 8192},
            ),
        }
    )
    assert await context_window("lm_studio/qwen", srv.root + "/v1") == 8192


async def test_llama_cpp_python_probe(serve: Any) -> None:
    # The exact refusal llama-cpp-python 0.3.36 sends for a prompt over its window.
    def completions(body: Any) -> tuple[int, Any]:
        n = len(body["prompt"]) // 2
        msg = (
            f"This model's maximum context length is 2048 tokens, however you requested "
            f"{n + 1} tokens ({n} in your prompt; 1 for the completion)."
        )
        return 400, {"error": {"message": msg, "code": "context_length_exceeded"}}

    srv = serve(
        {
            ("POST", "/extras/tokenize/count"): lambda _: (200, {"count": 1}),
            ("POST", "/v1/completions"): completions,
            ("GET", "/v1/models"): lambda _: (200, {"data": [{"id": "smollm2"}]}),
        }
    )
    info = await context_window_info("openai/smollm2", srv.root + "/v1")
    assert info is not None and (info.tokens, info.source) == (
        2048,
        "llama-cpp-python context error",
    )
    probe = [b for m, p, b in srv.seen if p == "/v1/completions"][0]
    assert probe["max_tokens"] == 1 and len(probe["prompt"]) >= 2_000_000


async def test_unknown_server_and_unreachable_give_none() -> None:
    with ScriptedModelServer() as srv:  # answers /v1/models only, without a window
        assert await context_window("openai/scripted", srv.base_url) is None
    # Nothing listens there; must not raise or hang.
    assert await context_window("openai/x", "http://127.0.0.1:9/v1", http_timeout=0.5) is None


async def test_litellm_model_info_without_network() -> None:
    import_litellm()
    info = await context_window_info("gpt-4o-mini", None)
    assert info is not None and info.tokens == 128000 and info.source == "litellm model info"
    assert await context_window("openai/not-a-real-model-xyz", None) is None


def test_ollama_extra_params() -> None:
    assert ollama_extra_params("ollama_chat/qwen2.5-coder:7b", 8192) == {"num_ctx": 8192}
    assert ollama_extra_params("ollama/llama3", 4096) == {"num_ctx": 4096}
    assert ollama_extra_params("openai/smollm2", 2048) == {}
    assert ollama_extra_params("ollama/llama3", None) == {}


async def test_litellm_sends_num_ctx_to_ollama(serve: Any) -> None:
    # Through the real litellm: the option must reach Ollama's /api/chat body.
    chat = {
        "model": "qwen",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "hi"},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 3,
        "eval_count": 1,
    }
    srv = serve({("POST", "/api/chat"): lambda _: (200, chat)})
    litellm = import_litellm()
    resp = await litellm.acompletion(
        model="ollama_chat/qwen",
        api_base=srv.root,
        messages=[{"role": "user", "content": "hello"}],
        **ollama_extra_params("ollama_chat/qwen", 8192),
        **NO_RETRY_KWARGS,
    )
    assert resp.choices[0].message.content == "hi"
    body = [b for m, p, b in srv.seen if p == "/api/chat"][0]
    assert body["options"]["num_ctx"] == 8192


# --- fit_messages -------------------------------------------------------------


def msg(role: str, chars: int, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": "x" * chars, **extra}


def test_fits_untouched() -> None:
    msgs = [msg("system", 30), msg("user", 30)]
    out, report = fit_messages(msgs, window=1000, reserve_for_reply=100)
    assert out == msgs and report.dropped_messages == 0 and report.over_by == 0


def test_drops_oldest_exchanges_first_and_keeps_protected() -> None:
    system = msg("system", 300)
    old_user, old_reply = msg("user", 600, n=1), msg("assistant", 600, n=2)
    mid_user = msg("user", 300, n=3)
    call = msg("assistant", 0, tool_calls=[{"function": {"name": "read_file", "arguments": "{}"}}])
    result = msg("tool", 300, tool_call_id="c1")
    mid_reply = msg("assistant", 300, n=4)
    current = msg("user", 300, n=5)
    msgs = [system, old_user, old_reply, mid_user, call, result, mid_reply, current]
    # Room for system + mid exchange + current, not for the old exchange.
    window = 100 + sum(
        estimate_tokens(m["content"]) + 6 for m in [system, mid_user, result, mid_reply, current]
    )
    window += 6 + estimate_tokens("read_file{}")
    out, report = fit_messages(msgs, window=window, reserve_for_reply=100)
    assert out == [system, mid_user, call, result, mid_reply, current]
    assert report.dropped_messages == 2 and report.over_by == 0
    assert report.dropped_tokens == 2 * (estimate_tokens("x" * 600) + 6)
    assert msgs[1] is old_user  # input untouched


def test_tool_messages_of_the_current_turn_are_never_dropped() -> None:
    msgs = [
        msg("system", 30),
        msg("user", 3000),
        msg("assistant", 3000),
        msg("user", 30),
        msg("assistant", 0, tool_calls=[{"function": {"name": "read_file", "arguments": "{}"}}]),
        msg("tool", 3000, tool_call_id="c"),
    ]
    out, report = fit_messages(msgs, window=600, reserve_for_reply=100)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool"]
    assert report.over_by > 0  # the caller must shrink the map or the tool result
    assert report.to_trace()["overBy"] == report.over_by


def test_nothing_to_drop_reports_overflow() -> None:
    msgs = [msg("system", 9000), msg("user", 30)]
    out, report = fit_messages(msgs, window=1000, reserve_for_reply=200)
    assert out == msgs
    assert isinstance(report, FitReport) and report.dropped_messages == 0
    assert report.over_by == report.tokens_after - 800 > 0


def test_custom_counter() -> None:
    msgs = [msg("user", 10), msg("assistant", 10), msg("user", 10)]
    out, report = fit_messages(msgs, window=30, reserve_for_reply=0, count=lambda s: len(s))
    assert len(out) == 1 and report.tokens_after == 16
