"""Per-language tags: each .scm query against its fixture file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orion_lsp.context.languages import LANGUAGES, available_languages, language_for_path
from orion_lsp.context.tags import FileTags, extract_tags

FIXTURES = Path(__file__).parent.parent / "fixtures" / "repomap" / "lang"

# file -> (expected (name, kind, line) definitions, expected references)
EXPECTED: dict[str, tuple[set[tuple[str, str, int]], set[str]]] = {
    "sample.py": (
        {
            ("MAX_RETRIES", "constant", 3),
            ("Greeter", "class", 6),
            ("greet", "method", 7),
            ("shout", "method", 11),
            ("format_greeting", "function", 15),
            ("fetch_remote", "function", 19),
        },
        {"Base", "format_greeting", "fspath"},
    ),
    "sample.js": (
        {
            ("formatGreeting", "function", 3),
            ("Greeter", "class", 7),
            ("greet", "method", 8),
            ("makeGreeter", "function", 13),
            ("legacyGreet", "function", 15),
        },
        {"helper", "formatGreeting", "Greeter", "makeGreeter"},
    ),
    "sample.ts": (
        {
            ("Greeting", "interface", 1),
            ("Name", "type", 5),
            ("Mood", "enum", 7),
            ("Greeter", "class", 12),
            ("greet", "method", 14),
            ("formatGreeting", "function", 19),
            ("makeGreeter", "function", 23),
        },
        {"Greeting", "Name", "formatGreeting", "Greeter"},
    ),
    "sample.tsx": (
        {
            ("ButtonProps", "interface", 3),
            ("GreetButton", "function", 7),
            ("Panel", "function", 11),
        },
        {"ButtonProps", "sayHello", "GreetButton"},
    ),
    "sample.go": (
        {
            ("Greeter", "class", 5),
            ("Speaker", "interface", 9),
            ("Speak", "method", 10),
            ("Name", "type", 13),
            ("Greet", "method", 15),
            ("FormatGreeting", "function", 19),
        },
        {"FormatGreeting", "Sprintf", "Greeter"},
    ),
    "sample.rs": (
        {
            ("Greeter", "class", 3),
            ("Mood", "enum", 7),
            ("Speaker", "interface", 12),
            ("speak", "method", 13),
            ("Greeter", "impl", 16),
            ("greet", "method", 17),
            ("format_greeting", "function", 22),
            ("inner", "module", 26),
        },
        {"format_greeting", "format", "String"},
    ),
    "Sample.java": (
        {
            ("Greeter", "class", 3),
            ("Greeter", "method", 6),
            ("greet", "method", 10),
            ("Speaker", "interface", 15),
            ("greet", "method", 16),
            ("Mood", "enum", 19),
        },
        {"Formatter", "formatGreeting", "Speaker", "String"},
    ),
    "sample.c": (
        {
            ("SQUARE", "macro", 3),
            ("greeter", "class", 5),
            ("greeter_t", "type", 9),
            ("mood", "enum", 11),
            ("format_greeting", "function", 13),
            ("make_buffer", "function", 15),
            ("greet", "function", 19),
        },
        {"format_greeting", "make_buffer", "malloc", "greeter_t"},
    ),
    "sample.cpp": (
        {
            ("greet", "module", 3),
            ("Greeter", "class", 5),
            ("Greeter", "method", 7),
            ("greet", "method", 8),
            ("size", "method", 9),
            ("greet", "method", 14),
            ("format_greeting", "function", 18),
            ("Point", "class", 22),
        },
        {"format_greeting", "name_", "string"},
    ),
}


def test_every_language_has_a_fixture_and_loads() -> None:
    covered = {language_for_path(name) for name in EXPECTED}
    assert covered == set(LANGUAGES)
    assert all(available_languages().values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_tags(name: str) -> None:
    lang = language_for_path(name)
    assert lang is not None
    tags = extract_tags(lang, (FIXTURES / name).read_bytes())
    defs = {(d.name, d.kind, d.line) for d in tags.defs}
    want_defs, want_refs = EXPECTED[name]
    assert defs == want_defs
    assert want_refs <= set(tags.refs), want_refs - set(tags.refs)
    # A definition's own name is not a reference to it.
    if name == "sample.py":
        assert "fetch_remote" not in tags.refs
        assert tags.refs["format_greeting"] == 1


def test_definition_line_is_the_signature_and_end_line_spans_the_body() -> None:
    tags = extract_tags("python", (FIXTURES / "sample.py").read_bytes())
    by_name = {d.name: d for d in tags.defs}
    assert by_name["Greeter"].text == "class Greeter(Base):"
    assert by_name["greet"].text == "    def greet(self, name):"
    assert by_name["Greeter"].end_line == 12


def test_long_lines_are_capped() -> None:
    src = b"def f(" + b", ".join(b"a%d" % i for i in range(200)) + b"):\n    pass\n"
    (d,) = extract_tags("python", src).defs
    assert len(d.text) <= 161 and d.text.endswith("…")


def test_blob_round_trip_and_rejects_garbage() -> None:
    tags = extract_tags("go", (FIXTURES / "sample.go").read_bytes())
    back = FileTags.from_blob(tags.to_blob())
    assert back == tags
    with pytest.raises(ValueError):
        FileTags.from_blob(b"not a blob")


def test_syntax_errors_still_give_tags() -> None:
    tags = extract_tags("python", b"def good():\n    pass\n\ndef broken(:\n")
    assert "good" in {d.name for d in tags.defs}
