"""What the scripted model answers: one ``ScriptedReply`` per chat completion request.

The same fields are read from the JSON script of ``python -m orion_lsp.testing serve``,
so Python tests and editor tests describe replies the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class ScriptedToolCall:
    name: str
    # A dict is sent as JSON; a str is sent as-is (to script malformed arguments).
    arguments: dict[str, Any] | str = field(default_factory=dict)

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class ScriptedReply:
    text: str = ""
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    status: int = 200
    error_message: str = "scripted error"
    delay_s: float = 0.0  # before the response headers
    chunk_delay_s: float = 0.0  # between streamed chunks
    # Stream the content (non-stream: send nothing), then never finish until the client
    # leaves or stop() is called (cancel tests).
    hang: bool = False
    finish_reason: str | None = None  # default: "tool_calls" or "stop"
    usage: dict[str, int] | None = None  # default: estimated from the text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptedReply:
        """Build a reply from script JSON; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ScriptedReply fields: {sorted(unknown)}")
        kwargs = dict(data)
        # Lua's json encoder writes an empty table as {} or [] alike: accept both as empty.
        kwargs["tool_calls"] = [
            tc if isinstance(tc, ScriptedToolCall) else _tool_call_from_dict(tc)
            for tc in data.get("tool_calls") or []
        ]
        return cls(**kwargs)

    def effective_finish_reason(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


def _tool_call_from_dict(data: dict[str, Any]) -> ScriptedToolCall:
    unknown = set(data) - {"name", "arguments"}
    if unknown or "name" not in data:
        raise ValueError(f"a scripted tool call needs name (and arguments), got {sorted(data)}")
    return ScriptedToolCall(data["name"], data.get("arguments") or {})


def load_script(path: str | Path) -> tuple[list[ScriptedReply], ScriptedReply | None]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    replies = [ScriptedReply.from_dict(r) for r in data.get("replies", [])]
    default = ScriptedReply.from_dict(data["default"]) if data.get("default") else None
    return replies, default
