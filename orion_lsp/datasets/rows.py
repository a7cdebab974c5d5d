"""Dataset rows in Hugging Face TRL's conversational format or OpenAI's chat format.

Messages are stored as Orion sent them (OpenAI wire shape). `trl` turns tool
call arguments into objects (TRL's chat templates render dicts) and keeps each
tool reply's `name`; `openai` keeps arguments as JSON text and tool replies
with their `tool_call_id`, as OpenAI fine-tuning reads them. Text-tool-mode
turns have no `tool_calls` anywhere: the model wrote its calls as text, and
that text is what it is trained on.

Row shapes (the keys are exactly these):
- sft: `{"messages": [...], "tools": [...]}` (the last request's messages
  followed by its reply, so the last message is the assistant's);
- dpo: `{"prompt": [...], "chosen": [msg], "rejected": [msg], "tools": [...]}`;
- kto: `{"prompt": [...], "completion": [msg], "label": bool}`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

TRL, OPENAI = "trl", "openai"
FORMATS = (TRL, OPENAI)


def message(m: dict[str, Any], fmt: str) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.get("role"), "content": _content(m.get("content"))}
    calls = m.get("tool_calls")
    if calls:
        out["tool_calls"] = [_call(c, fmt) for c in calls]
    if m.get("role") == "tool":
        if fmt == OPENAI:
            out["tool_call_id"] = m.get("tool_call_id")
        else:
            out["name"] = m.get("name")
    return out


def messages(ms: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    return [message(m, fmt) for m in ms]


def tools(specs: Any) -> list[dict[str, Any]]:
    return copy.deepcopy(specs) if isinstance(specs, list) else []


def sft_row(request: dict[str, Any], reply: dict[str, Any], fmt: str) -> dict[str, Any]:
    return {
        "messages": messages([*request.get("messages", []), reply], fmt),
        "tools": tools(request.get("tools")),
    }


def dpo_row(
    request: dict[str, Any], chosen: dict[str, Any], rejected: dict[str, Any], fmt: str
) -> dict[str, Any]:
    return {
        "prompt": messages(request.get("messages", []), fmt),
        "chosen": [message(chosen, fmt)],
        "rejected": [message(rejected, fmt)],
        "tools": tools(request.get("tools")),
    }


def kto_row(
    request: dict[str, Any], completion: dict[str, Any], good: bool, fmt: str
) -> dict[str, Any]:
    return {
        "prompt": messages(request.get("messages", []), fmt),
        "completion": [message(completion, fmt)],
        "label": bool(good),
    }


def _call(c: dict[str, Any], fmt: str) -> dict[str, Any]:
    fn = c.get("function") or {}
    args = fn.get("arguments")
    if fmt == TRL:
        args = _as_object(args)
        return {"type": "function", "function": {"name": fn.get("name"), "arguments": args}}
    if not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    return {
        "id": c.get("id"),
        "type": "function",
        "function": {"name": fn.get("name"), "arguments": args},
    }


def _as_object(args: Any) -> Any:
    if isinstance(args, str):
        try:
            value = json.loads(args or "{}")
        except ValueError:
            return {"_raw": args}  # what the model wrote, kept (a chat template needs a dict)
        return value if isinstance(value, dict) else {"_value": value}
    return args if isinstance(args, dict) else {}


def _content(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
