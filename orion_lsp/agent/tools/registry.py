"""The tool registry: the default tool set, their OpenAI specs, and ``run_tool``.

``run_tool`` is the one boundary between the model's raw tool call and the
tools. It parses the JSON arguments, validates them against the tool's
schema (telling the model exactly what was wrong), and turns any unexpected
exception into an ``ok=False`` result with a short message, logging the
traceback locally. It never raises (except on cancellation), so a tool bug
cannot end a turn and no traceback or machine path reaches the model. The
one exception that does end the turn is ``StorageError`` (a checkpoint the
ledger could not store, see orion_lsp/checkpoints): storage fails loud.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ...storage import StorageError
from .base import Tool, ToolContext, ToolResult
from .common import one_line, refused
from .edit import CreateFileTool, EditFileTool
from .listing import ListFilesTool
from .read import ReadFileTool
from .search import SearchTool
from .symbols import SymbolProvider, SymbolsTool

log = logging.getLogger(__name__)

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def default_tools(symbol_provider: SymbolProvider | None = None) -> list[Tool]:
    """The six workspace tools (docs/protocol.md#tools).

    ``symbol_provider`` replaces the regex symbols.
    """
    return [
        ReadFileTool(),
        ListFilesTool(),
        SearchTool(),
        SymbolsTool(symbol_provider),
        EditFileTool(),
        CreateFileTool(),
    ]


def tool_specs(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """OpenAI-style function specs, as litellm's ``tools=`` expects."""
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
            },
        }
        for t in tools
    ]


def _type_ok(value: Any, expected: str) -> bool:
    types = _JSON_TYPES.get(expected)
    if types is None:
        return True  # a schema type we do not check
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False  # bool is an int in Python, not in JSON
    return isinstance(value, types)


def validate_arguments(schema: Mapping[str, Any], args: Any) -> tuple[dict[str, Any], str | None]:
    """Check arguments against the subset of JSON schema the tools use.

    Returns the arguments to pass on (``null`` optional values dropped, which
    small models send for "not given") and an error message, or None.
    """
    if not isinstance(args, dict):
        return {}, f"the arguments must be a JSON object, got {type(args).__name__}"
    props: Mapping[str, Any] = schema.get("properties", {})
    required: Sequence[str] = schema.get("required", [])
    expected = ", ".join(
        f"{k} ({p.get('type', 'any')}{'' if k in required else ', optional'})"
        for k, p in props.items()
    )
    cleaned = {k: v for k, v in args.items() if not (v is None and k not in required)}
    missing = [k for k in required if k not in cleaned or cleaned[k] is None]
    if missing:
        return cleaned, f"missing required argument(s): {', '.join(missing)}; expected: {expected}"
    if schema.get("additionalProperties") is False:
        unknown = sorted(k for k in cleaned if k not in props)
        if unknown:
            return cleaned, f"unknown argument(s): {', '.join(unknown)}; expected: {expected}"
    for key, value in cleaned.items():
        want = props.get(key, {}).get("type")
        if want and not _type_ok(value, want):
            got = "null" if value is None else type(value).__name__
            return cleaned, f"argument {key!r} must be {want}, got {got}"
    return cleaned, None


def _parse(raw_arguments: str | dict[str, Any] | None) -> tuple[Any, str | None]:
    if raw_arguments is None:
        return {}, None
    if isinstance(raw_arguments, dict):
        return raw_arguments, None
    if not isinstance(raw_arguments, str):
        return None, "the arguments must be a JSON object"
    if raw_arguments.strip() == "":
        return {}, None  # some models send "" for a call without arguments
    try:
        return json.loads(raw_arguments), None
    except json.JSONDecodeError as exc:
        return None, f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})"


def _cap(result: ToolResult, max_chars: int) -> ToolResult:
    """The one output cap: the last line of defence (tools cut their own output at
    line boundaries first, and say so with `truncated`)."""
    if len(result.content) <= max_chars:
        return result
    cut = result.content[: max(0, max_chars - 80)]
    rest = result.content.count("\n", len(cut)) + 1
    content = f"{cut}\n... [truncated: {rest} more lines]"
    return replace(result, content=content, truncated=True)


async def run_tool(
    tools_by_name: Mapping[str, Tool],
    name: str,
    raw_arguments: str | dict[str, Any] | None,
    ctx: ToolContext,
) -> ToolResult:
    """Run one tool call from the model; every failure is an ``ok=False`` result."""
    tool = tools_by_name.get(name)
    if tool is None:
        known = ", ".join(sorted(tools_by_name))
        return refused(f"unknown tool {one_line(str(name), 60)!r}; available tools: {known}")
    args, error = _parse(raw_arguments)
    if error is None:
        args, error = validate_arguments(tool.parameters, args)
    if error is not None:
        return refused(f"{name}: {error}")
    try:
        result = await tool.run(args, ctx)
    except (asyncio.CancelledError, StorageError):
        raise
    except Exception as exc:
        # The traceback stays in the local log; exception texts can carry
        # absolute paths (OSError) or other internals, so the model only
        # gets the type and, for OS errors, the errno text.
        log.exception("tool %s failed", name)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else ""
        msg = f"{name} failed unexpectedly ({type(exc).__name__}{': ' + detail if detail else ''})"
        return refused(msg)
    return _cap(result, ctx.max_output_chars)
