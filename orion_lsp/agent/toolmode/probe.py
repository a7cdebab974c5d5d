"""`orion doctor`'s tool-mode probe: does this model call tools natively?

One small request with a single `ping` tool. A native `tool_calls` answer
means `native`; a tool call written as text means `text`; anything else
means the model does not call tools on its own (`text` is the better bet:
the format is then spelled out in the prompt). The result is cached per
model so `toolMode: auto` uses it.
"""

from __future__ import annotations

import asyncio

from ..litellm_setup import completion_kwargs, import_litellm
from . import NATIVE, TEXT
from .textcalls import parse_text_tool_calls

_PING = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Answer the health check. Always call this when asked to ping.",
        "parameters": {
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
    },
}


async def probe_tool_mode(
    model: str, api_base: str | None, api_key: str | None, timeout_s: float = 60.0
) -> tuple[str, str]:
    """(mode, how it was decided)."""
    litellm = import_litellm()
    kwargs = completion_kwargs(
        model,
        api_base,
        api_key,
        [{"role": "user", "content": "Call the ping tool with message 'hello'."}],
        timeout_s=timeout_s,
        tools=[_PING],
        tool_choice="auto",
        max_tokens=64,
        temperature=0,
        stream=False,
    )
    async with asyncio.timeout(timeout_s + 5):
        response = await litellm.acompletion(**kwargs)
    message = response.choices[0].message
    if getattr(message, "tool_calls", None):
        return NATIVE, "the model returned native tool_calls"
    _visible, calls = parse_text_tool_calls(str(message.content or ""), known_tools=["ping"])
    if calls:
        return TEXT, "the model wrote the tool call as text"
    return TEXT, "the model did not call the tool; tools will be described in the prompt"
