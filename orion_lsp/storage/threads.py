"""Threads: the conversations inside a project (docs/protocol.md#threads).

`thread_title` is the one rule for a new thread's title; migration 4 applies
the same rule in SQL (`migrations._TITLE_SQL`) to the threads it backfills,
and tests/unit/test_storage_schema_v4.py checks that both agree.
"""

from __future__ import annotations

TITLE_MAX_CHARS = 80
UNTITLED = "Untitled"
_BLANKS = " \t\r\n"


def thread_title(prompt: str) -> str:
    """The first line of the prompt, trimmed, cut to at most 80 characters."""
    text = prompt.strip(_BLANKS)
    first = text.split("\n", 1)[0].strip(" \t\r")
    return first[:TITLE_MAX_CHARS] or UNTITLED
