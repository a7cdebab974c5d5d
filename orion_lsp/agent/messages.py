"""Chat messages sent to the model: the dynamic system prompt and the tool round-trips."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..config import Settings
from ..storage import ChatMessage
from .model import ModelReply
from .protocols import ContextBlock
from .turn import TurnRequest

# The active file goes into the prompt only up to this many characters: the
# model can read the rest with read_file.
ACTIVE_FILE_CHARS = 12_000


@cache
def _base_prompt() -> str:
    # A plain path (package data sits beside the module): importlib.resources
    # costs ~25 ms of server start-up.
    return (Path(__file__).parent / "prompts" / "system.md").read_text("utf-8")


def system_prompt(req: TurnRequest, context: ContextBlock, extra: str = "") -> str:
    parts = [_base_prompt().format(project_id=req.project.project_id).strip()]
    if extra:
        parts.append(extra.strip())
    parts.append(f"Project root: {req.project.root.name}/ (paths are relative to it)")
    if context.text:
        parts.append("## Repository map (ranked; bodies elided)\n" + context.text.strip())
    if req.active_file:
        block = f"## Active file: {req.active_file}"
        if req.active_text is not None:
            text = req.active_text
            if len(text) > ACTIVE_FILE_CHARS:
                text = text[:ACTIVE_FILE_CHARS] + "\n... [active file truncated; use read_file]"
            block += "\n```\n" + text + "\n```"
        parts.append(block)
    if req.selection is not None:
        s = req.selection
        parts.append(
            f"## Selection in {req.active_file or 'the active file'} "
            f"(lines {s.start_line + 1}-{s.end_line + 1})\n```\n{s.text}\n```"
        )
    return "\n\n".join(parts)


def build_messages(
    req: TurnRequest,
    history: list[ChatMessage],
    context: ContextBlock,
    settings: Settings,
    extra_system: str = "",
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(req, context, extra_system)}
    ]
    for m in history:
        if m.content:
            messages.append({"role": m.role, "content": m.content})
    user = req.prompt
    if req.task:
        user = f"{req.task}\n\n{req.prompt}" if req.prompt else req.task
    messages.append({"role": "user", "content": user})
    return messages


def assistant_tool_message(reply: ModelReply, *, text_mode: bool = False) -> dict[str, Any]:
    if text_mode:
        # The model wrote its calls as text; it reads them back the same way.
        return {"role": "assistant", "content": reply.text}
    return {
        "role": "assistant",
        # llama.cpp's server answers 500 to content: null beside tool calls.
        "content": reply.text or "",
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _valid_json(c.arguments)},
            }
            for c in reply.tool_calls
        ],
    }


def _valid_json(raw: str) -> str:
    # Echoing malformed arguments back makes some servers reject the whole request.
    try:
        json.loads(raw)
        return raw
    except (json.JSONDecodeError, TypeError):
        return "{}"


def tool_message(
    call_id: str, name: str, content: str, *, text_mode: bool = False
) -> dict[str, Any]:
    if text_mode:
        return {"role": "user", "content": f"[tool result: {name}]\n{content}"}
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}
