"""Tool calls as text, for models without native tool calling (`toolMode`).

- `native`: tools go in the request's `tools`; calls come back as `tool_calls`.
- `text`: the system prompt describes a ```tool_call block
  (`textcalls.text_tool_instructions`); calls are parsed from the reply
  (`textcalls.parse_text_tool_calls`), and streamed text is held back from
  the first fence so the user never sees the raw call (`gate.TextCallGate`).
- `auto`: native, unless this model was seen writing tool calls as text; that
  observation (or `orion doctor`'s probe, `probe.py`) is cached per model in
  the database.
"""

from __future__ import annotations

from ..model_cache import ModelInfoCache
from .gate import TextCallGate

NATIVE, TEXT, AUTO = "native", "text", "auto"
CACHE_KEY = "toolMode"


async def resolve(setting: str, model: str, api_base: str | None, cache: ModelInfoCache) -> str:
    if setting in (NATIVE, TEXT):
        return setting
    cached = await cache.get(model, api_base, CACHE_KEY)
    return cached if cached in (NATIVE, TEXT) else NATIVE


__all__ = ["AUTO", "CACHE_KEY", "NATIVE", "TEXT", "TextCallGate", "resolve"]
