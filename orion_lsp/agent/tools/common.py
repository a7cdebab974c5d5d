"""Small helpers shared by the tools: results, refusals, output caps."""

from __future__ import annotations

from typing import Any

from .base import ToolResult

SUMMARY_CHARS = 160


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def ok(content: str, summary: str, *, truncated: bool = False, **data: Any) -> ToolResult:
    return ToolResult(
        ok=True, content=content, summary=one_line(summary), data=data, truncated=truncated
    )


def refused(message: str, **data: Any) -> ToolResult:
    """A refusal the model can act on; the message is what it reads."""
    return ToolResult(ok=False, content=message, summary=one_line(message), data=data)


def cap_lines(lines: list[str], max_chars: int, *, unit: str = "lines") -> tuple[str, int]:
    """Join as many whole lines as fit in ``max_chars``; the rest becomes a marker.

    Returns the text and how many lines were left out.
    """
    out: list[str] = []
    used = 0
    # Room for the marker itself, so the total stays under the cap.
    budget = max(0, max_chars - 60)
    for i, line in enumerate(lines):
        cost = len(line) + 1
        if used + cost > budget and out:
            rest = len(lines) - i
            out.append(f"... [truncated: {rest} more {unit}]")
            return "\n".join(out), rest
        if used + cost > budget:
            # A single line longer than the whole budget: cut it visibly.
            out.append(line[:budget] + " ... [line cut]")
            used = budget
            continue
        out.append(line)
        used += cost
    return "\n".join(out), 0
