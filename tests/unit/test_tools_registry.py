"""Registry: specs, argument validation and run_tool's never-raise boundary."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.agent.tools import default_tools, run_tool, tool_specs
from orion_lsp.agent.tools.base import ToolContext, ToolResult
from orion_lsp.testing.fakes import make_context

PROTOCOL_TOOLS = {
    "read_file": ({"path"}, {"path", "startLine", "endLine"}),
    "list_files": (set(), {"path", "glob"}),
    "search": ({"pattern"}, {"pattern", "path", "regex"}),
    "symbols": ({"path"}, {"path"}),
    "edit_file": ({"path", "oldText", "newText"}, {"path", "oldText", "newText"}),
    "create_file": ({"path", "content"}, {"path", "content"}),
}


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("hello\n")
    return tmp_path


@pytest.fixture()
def tools() -> dict[str, Any]:
    return {t.name: t for t in default_tools()}


def test_specs_match_the_protocol() -> None:
    specs = tool_specs(default_tools())
    json.dumps(specs)  # must be plain JSON for litellm
    by_name = {s["function"]["name"]: s for s in specs}
    assert set(by_name) == set(PROTOCOL_TOOLS)
    for name, (required, props) in PROTOCOL_TOOLS.items():
        spec = by_name[name]
        assert spec["type"] == "function"
        params = spec["function"]["parameters"]
        assert params["type"] == "object"
        assert set(params.get("required", [])) == required
        assert set(params["properties"]) == props
        assert len(spec["function"]["description"]) > 20


async def test_run_tool_parses_json_string(ws: Path, tools: dict[str, Any]) -> None:
    r = await run_tool(tools, "read_file", '{"path": "a.txt"}', make_context(ws))
    assert r.ok and "1| hello" in r.content


@pytest.mark.parametrize(
    ("name", "raw", "words"),
    [
        ("read_file", "{not json", "not valid JSON"),
        ("read_file", "[1, 2]", "must be a JSON object"),
        ("read_file", "{}", "missing required argument(s): path"),
        ("read_file", {"path": 3}, "'path' must be string, got int"),
        ("read_file", {"path": "a.txt", "startLine": "2"}, "'startLine' must be integer, got str"),
        ("read_file", {"path": "a.txt", "startLine": True}, "'startLine' must be integer"),
        ("read_file", {"path": "a.txt", "start_line": 2}, "unknown argument(s): start_line"),
        ("search", {"pattern": "x", "regex": "yes"}, "'regex' must be boolean"),
        ("edit_file", {"path": "a.txt", "oldText": "x"}, "missing required argument(s): newText"),
        ("nope", "{}", "unknown tool 'nope'"),
    ],
)
async def test_bad_calls_are_results_not_exceptions(
    ws: Path, tools: dict[str, Any], name: str, raw: Any, words: str
) -> None:
    r = await run_tool(tools, name, raw, make_context(ws))
    assert not r.ok
    assert words in r.content, r.content
    if name == "nope":
        assert "read_file" in r.content  # lists what exists


async def test_optional_nulls_and_empty_arguments(ws: Path, tools: dict[str, Any]) -> None:
    r = await run_tool(tools, "list_files", "", make_context(ws))
    assert r.ok and "a.txt" in r.content
    r = await run_tool(tools, "list_files", {"path": None, "glob": None}, make_context(ws))
    assert r.ok and "a.txt" in r.content


async def test_unexpected_exception_becomes_short_error(
    ws: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        name = "boom"
        description = "explodes"
        parameters: dict[str, Any] = {"type": "object", "properties": {}}

        async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
            raise FileNotFoundError(2, "No such file or directory", f"{ctx.root}/secret/path")

    with caplog.at_level(logging.ERROR):
        r = await run_tool({"boom": Exploding()}, "boom", "{}", make_context(ws))
    assert not r.ok
    assert r.content == "boom failed unexpectedly (FileNotFoundError: No such file or directory)"
    assert str(ws) not in r.content and "Traceback" not in r.content
    assert any(rec.exc_info for rec in caplog.records)  # the traceback is logged locally


async def test_output_is_capped_even_if_a_tool_forgets(ws: Path) -> None:
    class Verbose:
        name = "verbose"
        description = "talks"
        parameters: dict[str, Any] = {"type": "object", "properties": {}}

        async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
            return ToolResult(True, "\n".join(["x" * 50] * 1000), "lots")

    r = await run_tool(
        {"verbose": Verbose()}, "verbose", {}, make_context(ws, max_output_chars=1000)
    )
    assert r.ok and len(r.content) <= 1000 and "[truncated:" in r.content
