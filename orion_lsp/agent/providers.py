"""What Orion knows about a provider from the litellm model string's prefix."""

from __future__ import annotations

OLLAMA_DEFAULT_BASE = "http://localhost:11434"
_OLLAMA = ("ollama/", "ollama_chat/")
# Local OpenAI-compatible servers: the SDK wants *a* key, they ignore it.
_KEYLESS = ("openai/", "hosted_vllm/", "lm_studio/")


def is_ollama(model: str) -> bool:
    return model.startswith(_OLLAMA)


def ollama_name(model: str) -> str:
    """The name `ollama pull` knows (`ollama_chat/qwen2.5-coder:7b` -> `qwen2.5-coder:7b`)."""
    return model.split("/", 1)[1]


def wants_placeholder_key(model: str) -> bool:
    return model.startswith(_KEYLESS)


def default_base(model: str) -> str | None:
    """The base URL litellm uses when `apiBase` is unset, where Orion knows it."""
    return OLLAMA_DEFAULT_BASE if is_ollama(model) else None
