"""Tool calls written as text, for models without native tool calling.

Small local models (SmolLM2, base models, many GGUF chat templates) ignore the
`tools` parameter. In `toolMode: text` the orchestrator puts
`text_tool_instructions(tools)` into the system prompt and, instead of reading
`tool_calls` from the API reply, runs `parse_text_tool_calls(reply_text)`.

The documented format is a fenced block per call::

    ```tool_call
    {"name": "read_file", "arguments": {"path": "app/models.py"}}
    ```

Small models slip, so the parser is deliberately lenient: other fence tags
(``json``, ``tool``, none), a missing closing fence, ``<tool_call>`` tags
(Qwen/Hermes habit), bare JSON objects in prose, trailing commas, single
quotes, unquoted keys, Python ``True/False/None``, raw newlines in strings,
``arguments`` double-encoded as a JSON string, the OpenAI ``{"function": ...}``
wrapper, and several calls in one reply or one block. It never raises: text
it cannot read as a call stays visible text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

# What close_at_eof hands back unchanged: an object or an array being parsed.
_Container = TypeVar("_Container", dict[str, Any], list[Any])

__all__ = [
    "ParsedCall",
    "parse_text_tool_calls",
    "text_tool_instructions",
]

FENCE_TAG = "tool_call"


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: dict[str, Any]
    # The text the call was read from (for the trace); not part of equality.
    raw: str = field(default="", compare=False)

    def arguments_json(self) -> str:
        """The arguments as JSON text, the shape native `tool_calls` carry."""
        return json.dumps(self.arguments, ensure_ascii=False)


def text_tool_instructions(tool_specs: Iterable[Mapping[str, Any]]) -> str:
    """The system-prompt section that teaches the text format.

    `tool_specs` are OpenAI-style specs (``{"type": "function", "function":
    {"name", "description", "parameters"}}``) or their inner ``function``
    objects; the same list the orchestrator would pass as `tools`.
    """
    lines = [
        "## Tools",
        "You can call tools. To call one, write a fenced block tagged tool_call holding one",
        'JSON object with "name" and "arguments", then stop and wait for the result:',
        "",
        f"```{FENCE_TAG}",
        '{"name": "read_file", "arguments": {"path": "src/app.py"}}',
        "```",
        "",
        "Rules: one call per block; several blocks are allowed; use double quotes;",
        "paths are relative to the project root. The result comes back in the next",
        "message. When you have what you need, answer in plain text without a tool_call block.",
        "",
        "Available tools:",
    ]
    for spec in tool_specs:
        fn = spec.get("function", spec)
        name = fn.get("name", "?")
        desc = " ".join(str(fn.get("description", "")).split())
        params = fn.get("parameters") or {}
        props: Mapping[str, Any] = params.get("properties") or {}
        required = set(params.get("required") or [])
        args = ", ".join(
            f"{key}{'' if key in required else '?'}: {_type_name(value)}"
            for key, value in props.items()
        )
        lines.append(f"- {name}({args}){': ' + desc if desc else ''}")
    return "\n".join(lines) + "\n"


def _type_name(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {_type_name(schema.get('items'))}"
    return str(kind)


# ```tool_call / ```json / ```tool / ``` ... closing fence or end of text.
_FENCE_RE = re.compile(
    r"(?P<open>```[ \t]*(?P<tag>[A-Za-z_][\w-]*)?[ \t]*\r?\n)(?P<body>.*?)(?:\r?\n?```|\Z)",
    re.DOTALL,
)
_TAG_RE = re.compile(
    r"<(?P<tag>tool_call|function_call|tool)>(?P<body>.*?)(?:</(?P=tag)>|\Z)", re.DOTALL
)
# Fence tags that announce a tool call; in other fences (```json, ```python,
# untagged) only an object that looks exactly like a call is taken.
# Leftovers when the parser took a call out of a one-line or unclosed fence.
_DANGLING_FENCE_RE = re.compile(
    r"```[ \t]*(?:tool_calls?|tool|tool_code|function_call|json)?[ \t]*(?:```|(?=\n|\Z))"
)
_CALL_TAGS = {"tool_call", "tool_calls", "tool", "tool_code", "function_call", "call"}
_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARG_KEYS = ("arguments", "args", "parameters", "params", "input")


def parse_text_tool_calls(
    text: str, known_tools: Iterable[str] | None = None
) -> tuple[str, list[ParsedCall]]:
    """Split a reply into (visible text, tool calls).

    `known_tools`, when given, limits calls to those names: a JSON example in
    an answer that names no tool stays visible text. Never raises.
    """
    try:
        known = set(known_tools) if known_tools is not None else None
        return _parse(text, known)
    except Exception:  # this function never raises: keep the reply as text
        log.exception("text tool-call parser failed; treating reply as plain text")
        return text.strip(), []


def _parse(text: str, known: set[str] | None) -> tuple[str, list[ParsedCall]]:
    found: list[tuple[int, int, list[ParsedCall]]] = []  # (start, end, calls)

    def taken(start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in found)

    for m in _TAG_RE.finditer(text):
        calls = _calls_from(m.group("body"), known, strict=False)
        if calls:
            found.append((m.start(), m.end(), calls))
    for m in _FENCE_RE.finditer(text):
        if taken(m.start(), m.end()):
            continue
        tag = (m.group("tag") or "").lower()
        calls = _calls_from(m.group("body"), known, strict=tag not in _CALL_TAGS)
        if calls:
            found.append((m.start(), m.end(), calls))
    # Bare objects in prose (the model forgot the fence).
    for start, end, body in _bare_objects(text):
        if taken(start, end):
            continue
        calls = _calls_from(body, known, strict=True)
        if calls:
            found.append((start, end, calls))
    if not found:
        return text.strip(), []
    found.sort()
    visible: list[str] = []
    calls_out: list[ParsedCall] = []
    pos = 0
    for start, end, calls in found:
        visible.append(text[pos:start])
        calls_out.extend(calls)
        pos = end
    visible.append(text[pos:])
    joined = _DANGLING_FENCE_RE.sub("", "".join(visible))
    joined = re.sub(r"\n{3,}", "\n\n", joined).strip()
    return joined, calls_out


def _calls_from(body: str, known: set[str] | None, *, strict: bool) -> list[ParsedCall]:
    """Calls in one block. strict: every value must be a call, else none."""
    try:
        values = parse_values(body)
    except (LenientJSONError, RecursionError):
        return []
    items: list[Any] = []
    for value in values:
        items.extend(value if isinstance(value, list) else [value])
    calls = [_as_call(item, body, known) for item in items]
    good = [c for c in calls if c is not None]
    if not good or (strict and len(good) != len(calls)):
        return []
    return good


def _as_call(value: Any, raw: str, known: set[str] | None) -> ParsedCall | None:
    if not isinstance(value, dict):
        return None
    # OpenAI wrapper: {"type": "function", "function": {"name", "arguments"}}
    inner = value.get("function")
    if isinstance(inner, dict) and "name" in inner:
        value = inner
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if not name or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
        return None
    if known is not None and name not in known:
        return None
    args_key = next((k for k in _ARG_KEYS if k in value), None)
    if args_key is None:
        # {"name": "list_files"} alone is a call without arguments, but only
        # when nothing else is in the object (else it is probably data).
        extra = set(value) - {"name", "type", "id"}
        return ParsedCall(name, {}, raw) if not extra else None
    args = value[args_key]
    if isinstance(args, str):
        # Double-encoded: "arguments": "{\"path\": \"a.py\"}"
        try:
            decoded = parse_values(args)
        except (LenientJSONError, RecursionError):
            return None
        args = decoded[0] if len(decoded) == 1 else None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return ParsedCall(name, args, raw)


def _bare_objects(text: str) -> Iterable[tuple[int, int, str]]:
    """Top-level balanced {...} spans outside strings, that mention a name key."""
    i, n = 0, len(text)
    while i < n:
        start = text.find("{", i)
        if start < 0:
            return
        end = _balanced_end(text, start)
        if end is None:
            # Unclosed: take the rest (a reply cut mid-call is still a call
            # if the lenient parser can close it).
            end = n
        body = text[start:end]
        if any(f"{k}" in body for k in _NAME_KEYS):
            yield start, end, body
        i = end if end > start else start + 1


def _balanced_end(text: str, start: int) -> int | None:
    depth = 0
    quote: str | None = None
    prev = ""  # last non-space character outside strings
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
                prev = ch
        elif ch in "\"'":
            # An apostrophe in prose ("don't") is not a string start: only a
            # quote right after a structural character opens a string.
            if ch == '"' or prev in ("{", "[", ",", ":"):
                quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        if not ch.isspace() and not quote:
            prev = ch
        i += 1
    return None


# --- a small lenient JSON reader ---------------------------------------------
# json.loads first would be faster, but the reader must also tell where values
# end and accept what models write; replies are short, so one pass is cheap.

_NUMBER_RE = re.compile(r"-?(?:\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_$][\w$-]*")
_LITERALS: dict[str, Any] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\"}
_MAX_DEPTH = 64


class LenientJSONError(ValueError):
    pass


def parse_values(text: str) -> list[Any]:
    """All JSON-ish values in `text`, separated by whitespace or commas.

    Raises LenientJSONError on anything that is not values (prose, an
    unterminated string). Objects left unclosed at the end are closed when the
    text ends after a complete value (a forgotten last brace is the commonest
    slip); a reply cut inside a string, a number or after a comma fails.
    """
    reader = _Reader(text)
    values: list[Any] = []
    while True:
        reader.skip(",")
        if reader.eof():
            return values
        values.append(reader.value(0))


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def eof(self) -> bool:
        return self.i >= len(self.s)

    def skip(self, extra: str = "") -> None:
        while self.i < len(self.s) and (self.s[self.i].isspace() or self.s[self.i] in extra):
            self.i += 1

    def fail(self, what: str) -> LenientJSONError:
        return LenientJSONError(f"{what} at {self.i}")

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("too deep")
        self.skip()
        if self.eof():
            raise self.fail("value expected")
        ch = self.s[self.i]
        if ch == "{":
            return self.obj(depth + 1)
        if ch == "[":
            return self.arr(depth + 1)
        if ch in "\"'":
            return self.string()
        m = _NUMBER_RE.match(self.s, self.i)
        if m:
            self.i = m.end()
            text = m.group()
            return float(text) if any(c in text for c in ".eE") else int(text)
        m = _IDENT_RE.match(self.s, self.i)
        if m and m.group() in _LITERALS:
            self.i = m.end()
            return _LITERALS[m.group()]
        raise self.fail("value expected")

    def obj(self, depth: int) -> dict[str, Any]:
        self.i += 1
        out: dict[str, Any] = {}
        while True:
            self.skip(",")
            if self.eof():
                return self.close_at_eof(out)
            ch = self.s[self.i]
            if ch == "}":
                self.i += 1
                return out
            if ch in "\"'":
                key = self.string()
            else:
                m = _IDENT_RE.match(self.s, self.i)
                if not m:
                    raise self.fail("key expected")
                key = m.group()
                self.i = m.end()
            self.skip()
            # The colon is what makes a bare key unambiguous.
            if self.eof() or self.s[self.i] != ":":
                raise self.fail("':' expected")
            self.i += 1
            out[key] = self.value(depth)
            self.skip()
            if not self.eof() and self.s[self.i] not in ",}":
                raise self.fail("',' or '}' expected")

    def close_at_eof(self, value: _Container) -> _Container:
        # Close an unclosed object/array only when the text ends right after a
        # complete string, object or array: a reply cut inside a number, after
        # a comma or after an opening brace may have lost data, so it fails.
        if self.s.rstrip()[-1:] in ("}", "]", '"', "'"):
            return value
        raise self.fail("text ends inside an object")

    def arr(self, depth: int) -> list[Any]:
        self.i += 1
        out: list[Any] = []
        while True:
            self.skip(",")
            if self.eof():
                return self.close_at_eof(out)
            if self.s[self.i] == "]":
                self.i += 1
                return out
            out.append(self.value(depth))
            self.skip()
            if not self.eof() and self.s[self.i] not in ",]":
                raise self.fail("',' or ']' expected")

    def string(self) -> str:
        quote = self.s[self.i]
        self.i += 1
        parts: list[str] = []
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if ch == quote:
                self.i += 1
                return "".join(parts)
            if ch == "\\" and self.i + 1 < len(s):
                esc = s[self.i + 1]
                if esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", s[self.i + 2 : self.i + 6]):
                    code = int(s[self.i + 2 : self.i + 6], 16)
                    self.i += 6
                    # Surrogate pairs, as json.dumps(ensure_ascii=True) writes them.
                    low = s[self.i : self.i + 6]
                    if 0xD800 <= code < 0xDC00 and re.fullmatch(
                        r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", low
                    ):
                        code = 0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                        self.i += 6
                    parts.append(chr(code))
                    continue
                parts.append(_ESCAPES.get(esc, esc))  # \" \' and unknown: the char itself
                self.i += 2
                continue
            parts.append(ch)  # raw newlines too: models write them in code
            self.i += 1
        raise self.fail("unterminated string")
