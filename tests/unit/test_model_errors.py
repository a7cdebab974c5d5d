"""What a user reads when the model fails: real litellm, a closed port, the scripted server."""

from __future__ import annotations

import logging
import socket

import pytest

from orion_lsp.agent.model import LiteLLMModel, ModelError
from orion_lsp.redact import Redactor
from orion_lsp.testing import ScriptedModelServer, ScriptedReply


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _error(name: str, base: str | None, on_text=None) -> ModelError:
    async def ignore(_text: str) -> None:
        return None

    model = LiteLLMModel(name, base, None, Redactor())
    with pytest.raises(ModelError) as info:
        await model.complete([{"role": "user", "content": "hi ü 🙂"}], None, on_text or ignore)
    return info.value


def _assert_clean(message: str) -> None:
    assert message.startswith("Orion model error:")
    assert " object at 0x" not in message and "<ssl" not in message
    assert "InternalServerError" not in message and "litellm." not in message
    assert "Traceback" not in message and "\n" not in message


async def test_unreachable_openai_compatible_server_names_the_url_tried(caplog) -> None:
    port = _closed_port()
    base = f"http://127.0.0.1:{port}/v1"
    with caplog.at_level(logging.INFO):
        exc = await _error("openai/local", base)
    message = str(exc)
    _assert_clean(message)
    assert message.startswith(f"Orion model error: openai/local at {base}: ")
    assert f"cannot connect to {base}/chat/completions." in message
    assert message.count("cannot connect") == 1 and exc.kind == "connection_refused"
    # The same failure is not also on the terminal as a warning (the log file gets INFO).
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_unreachable_ollama_says_serve_and_pull(caplog) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    with caplog.at_level(logging.INFO):
        message = str(await _error("ollama_chat/qwen2.5-coder:7b", base))
    _assert_clean(message)
    assert message.startswith(f"Orion model error: ollama_chat/qwen2.5-coder:7b at {base}: ")
    assert "`ollama serve`" in message and "`ollama pull qwen2.5-coder:7b`" in message
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_ollama_default_base_is_named() -> None:
    from orion_lsp.agent.model_errors import endpoint

    assert endpoint("ollama_chat/q", None) == "ollama_chat/q at http://localhost:11434"
    assert endpoint("gpt-4o", None) == "gpt-4o at the provider default URL"


async def test_refused_key_says_which_setting() -> None:
    with ScriptedModelServer(
        [ScriptedReply(status=401, error_message="credentials rejected")]
    ) as srv:
        message = str(await _error(srv.model, srv.base_url))
    _assert_clean(message)
    assert "the API key was refused: credentials rejected" in message and "ORION_API_KEY" in message
    assert message.count("credentials rejected") == 1


async def test_an_error_of_the_callback_is_not_a_model_error() -> None:
    async def broken(_text: str) -> None:
        raise RuntimeError("editor went away")

    model = LiteLLMModel(ScriptedModelServer.model, None, None, Redactor())
    with ScriptedModelServer([ScriptedReply(text="streamed text")]) as srv:
        model.api_base = srv.base_url
        with pytest.raises(RuntimeError, match="editor went away"):
            await model.complete([{"role": "user", "content": "hi"}], None, broken)
