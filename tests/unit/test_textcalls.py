"""The text tool-call parser: the documented format, known slips, and generated near-misses."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orion_lsp.agent.toolmode.textcalls import (
    ParsedCall,
    parse_text_tool_calls,
    text_tool_instructions,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file of the project.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "startLine": {"type": "integer"}},
                "required": ["path"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_files",
            "description": "List files.",
            "parameters": {"type": "object", "properties": {"glob": {"type": "string"}}},
        },
    },
]


def test_instructions_name_every_tool_and_show_the_format() -> None:
    text = text_tool_instructions(TOOLS)
    assert "- read_file(path: string, startLine?: integer): Read a file of the project." in text
    assert "- list_files(glob?: string): List files." in text
    # The example inside the instructions must itself parse as one call.
    example = text[
        text.index("```tool_call") : text.index("```", text.index("```tool_call") + 3) + 3
    ]
    visible, calls = parse_text_tool_calls(example)
    assert calls == [ParsedCall("read_file", {"path": "src/app.py"})]
    assert visible == ""


def test_instructions_accept_bare_function_objects() -> None:
    text = text_tool_instructions([t["function"] for t in TOOLS])
    assert "- read_file(path: string, startLine?: integer)" in text


def test_documented_format_with_prose_around() -> None:
    reply = (
        "Let me read the file first.\n\n"
        '```tool_call\n{"name": "read_file", "arguments": {"path": "app/models.py"}}\n```\n'
    )
    visible, calls = parse_text_tool_calls(reply)
    assert visible == "Let me read the file first."
    assert calls == [ParsedCall("read_file", {"path": "app/models.py"})]
    assert calls[0].arguments_json() == '{"path": "app/models.py"}'


def test_several_blocks_keep_order() -> None:
    reply = (
        '```tool_call\n{"name": "list_files", "arguments": {}}\n```\nand\n'
        '```tool_call\n{"name": "read_file", "arguments": {"path": "b.py"}}\n```'
    )
    visible, calls = parse_text_tool_calls(reply)
    assert [c.name for c in calls] == ["list_files", "read_file"]
    assert visible == "and"


def test_array_of_calls_in_one_block() -> None:
    reply = '```tool_call\n[{"name": "list_files", "arguments": {}}, {"name": "read_file", "arguments": {"path": "x"}}]\n```'
    _, calls = parse_text_tool_calls(reply)
    assert calls == [ParsedCall("list_files", {}), ParsedCall("read_file", {"path": "x"})]


def test_known_slips() -> None:
    want = ParsedCall("read_file", {"path": "a.py", "startLine": 3})
    slips = [
        "```json\n{'name': 'read_file', 'arguments': {'path': 'a.py', 'startLine': 3,},}\n```",
        '{name: "read_file", arguments: {path: "a.py", startLine: 3}}',
        '<tool_call>{"name": "read_file", "arguments": {"path": "a.py", "startLine": 3}}</tool_call>',
        '```tool_call\n{"name": "read_file", "arguments": {"path": "a.py", "startLine": 3}}',
        '```tool_call {"name": "read_file", "arguments": {"path": "a.py", "startLine": 3}} ```',
        '{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\", \\"startLine\\": 3}"}',
        '{"type": "function", "function": {"name": "read_file", "arguments": {"path": "a.py", "startLine": 3}}}',
        '{"name": "read_file", "parameters": {"path": "a.py", "startLine": 3}}',
        '```\n{"name": "read_file", "arguments": {"path": "a.py", "startLine": 3}\n```',  # lost brace
    ]
    for slip in slips:
        visible, calls = parse_text_tool_calls(slip)
        assert calls == [want], slip
        assert "read_file" not in visible, slip


def test_python_literals_and_raw_newlines_in_strings() -> None:
    reply = '```tool_call\n{"name": "edit_file", "arguments": {"path": "a.py", "oldText": "x = 1\n", "newText": "x = None\n", "dry": True}}\n```'
    _, calls = parse_text_tool_calls(reply)
    assert calls == [
        ParsedCall(
            "edit_file",
            {"path": "a.py", "oldText": "x = 1\n", "newText": "x = None\n", "dry": True},
        )
    ]


def test_plain_answers_with_json_and_code_are_not_calls() -> None:
    reply = (
        'The config is {"a": 1}. Use:\n```python\nd = {"name": x, "arguments": y}\n```\n'
        "```json\n"
        '{"name": "Alice", "age": 3}\n'
        "```\nDon't worry, it's fine."
    )
    visible, calls = parse_text_tool_calls(reply)
    assert calls == []
    assert visible == reply.strip()


def test_known_tools_filter_examples_out() -> None:
    reply = '```tool_call\n{"name": "delete_everything", "arguments": {}}\n```'
    visible, calls = parse_text_tool_calls(reply, known_tools=["read_file"])
    assert calls == []
    assert "delete_everything" in visible
    _, calls = parse_text_tool_calls(reply)
    assert calls == [ParsedCall("delete_everything", {})]


def test_cut_string_is_not_a_call() -> None:
    # A reply cut by max_tokens inside newText must not become a half edit.
    reply = '```tool_call\n{"name": "edit_file", "arguments": {"path": "a.py", "newText": "def f(\n'
    visible, calls = parse_text_tool_calls(reply)
    assert calls == []
    assert "edit_file" in visible


def test_unicode_escapes_and_surrogates() -> None:
    args = {"pattern": "caf\u00e9 \U0001f600"}
    reply = json.dumps({"name": "search", "arguments": args}, ensure_ascii=True)
    _, calls = parse_text_tool_calls(reply)
    assert calls == [ParsedCall("search", args)]


# --- generated near-misses ----------------------------------------------------

names = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True)
keys = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
# Any text, including quotes, backslashes, braces and fences inside strings.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.one_of(texts, st.integers(-(10**9), 10**9), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=6,
)
arguments = st.dictionaries(keys, values, max_size=4)


def _render(value: Any, style: dict[str, bool]) -> str:
    """JSON with the slips small models make."""
    comma = "," if style["trailing_comma"] else ""
    if isinstance(value, dict):
        items = [f"{_key(k, style)}: {_render(v, style)}" for k, v in value.items()]
        return "{" + ", ".join(items) + (comma if items else "") + "}"
    if isinstance(value, list):
        items = [_render(v, style) for v in value]
        return "[" + ", ".join(items) + (comma if items else "") + "]"
    if isinstance(value, str):
        return _string(value, style)
    if style["python_literals"] and (value is None or isinstance(value, bool)):
        return repr(value)
    return json.dumps(value)


def _string(value: str, style: dict[str, bool]) -> str:
    if not style["single_quotes"]:
        return json.dumps(value, ensure_ascii=style["ascii"])
    body = json.dumps(value, ensure_ascii=style["ascii"])[1:-1]
    body = body.replace('\\"', '"').replace("'", "\\'")
    return f"'{body}'"


def _key(key: str, style: dict[str, bool]) -> str:
    return key if style["bare_keys"] else _string(key, style)


styles = st.fixed_dictionaries(
    {
        "trailing_comma": st.booleans(),
        "single_quotes": st.booleans(),
        "bare_keys": st.booleans(),
        "python_literals": st.booleans(),
        "ascii": st.booleans(),
    }
)
wrappers = st.sampled_from(
    [
        "```tool_call\n{}\n```",
        "```json\n{}\n```",
        "```\n{}\n```",
        "```tool_call\n{}",  # closing fence missing
        "<tool_call>\n{}\n</tool_call>",
        "{}",  # no fence at all
    ]
)
prose = st.sampled_from(["", "Let me check.", "I'll read it: ", "Don't panic!", "ok"])


@settings(max_examples=300, deadline=None)
@given(names, arguments, styles, wrappers, prose, prose)
def test_near_misses_parse_to_the_intended_call(
    name: str, args: dict[str, Any], style: dict[str, bool], wrapper: str, before: str, after: str
) -> None:
    body = _render({"name": name, "arguments": args}, style)
    block = wrapper.replace("{}", body, 1)
    # Prose after an unclosed fence would be inside the block: a real model's
    # reply ends there, so the generated one does too.
    tail = "" if wrapper == "```tool_call\n{}" else after
    reply = f"{before}\n{block}\n{tail}"
    visible, calls = parse_text_tool_calls(reply)
    assert calls == [ParsedCall(name, args)], reply
    assert (
        visible == f"{before}\n\n{tail}".strip()
        or visible == re.sub(r"\s+", " ", f"{before} {tail}").strip()
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, arguments), min_size=2, max_size=4), styles)
def test_several_generated_calls_keep_their_order(
    pairs: list[tuple[str, dict[str, Any]]], style: dict[str, bool]
) -> None:
    reply = "\n".join(
        f"step {i}\n```tool_call\n{_render({'name': n, 'arguments': a}, style)}\n```"
        for i, (n, a) in enumerate(pairs)
    )
    _, calls = parse_text_tool_calls(reply)
    assert calls == [ParsedCall(n, a) for n, a in pairs]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    visible, calls = parse_text_tool_calls(text)
    assert isinstance(visible, str)
    assert all(isinstance(c, ParsedCall) and isinstance(c.arguments, dict) for c in calls)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_characters="{[<"), max_size=300))
def test_text_without_objects_is_all_visible(text: str) -> None:
    visible, calls = parse_text_tool_calls(text)
    assert calls == []
    assert visible == text.strip()


def _consistent(got: Any, want: Any) -> bool:
    """`got` holds nothing that `want` lacks (lists may be cut short)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in want and _consistent(v, want[k]) for k, v in got.items()
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) <= len(want)
            and all(_consistent(g, w) for g, w in zip(got, want, strict=False))
        )
    return got == want and type(got) is type(want)


@settings(max_examples=300, deadline=None)
@given(names, arguments, st.integers(min_value=1, max_value=60))
def test_truncated_calls_never_invent_arguments(name: str, args: dict[str, Any], cut: int) -> None:
    # A reply cut short (finish_reason=length) yields no call, or a call whose
    # arguments hold only values the model really wrote: never a cut number.
    full = json.dumps({"name": name, "arguments": args})
    _, calls = parse_text_tool_calls(full[: max(1, len(full) - cut)])
    for call in calls:
        assert call.name == name
        assert _consistent(call.arguments, args)
