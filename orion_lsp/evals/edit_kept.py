"""`edit_kept`: did the user keep what the previous turn of the thread changed?

Undoing an applied edit is a judgement too. When a turn starts, the
previous turn of its thread is looked at: for every edit it applied, the
file as it is now (the open buffer, else the disk) should still contain the
edit's new text. Score `edit_kept` (source `code`) on that previous turn:
1 when every edit is still there, 0 when any is gone (the explanation names
those files). Edits whose new text is empty (pure deletions) or was stored
redacted cannot be looked for and do not count, nor does an edit a later
edit of the same turn changed again (its text is expected to be gone).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..agent.tools.base import DocumentSource
from ..redact import MASK
from ..storage import Score, TraceEvent

EDIT_KEPT = "edit_kept"
_NEW_TEXT = {"edit_file": "newText", "create_file": "content"}


def applied_edits(events: Sequence[TraceEvent]) -> list[tuple[str, str]]:
    """(path, new text) of each edit the turn applied and did not change again."""
    calls: dict[str, dict[str, Any]] = {}
    done: list[tuple[str, str, str]] = []  # path, old text, new text
    for e in events:
        p = e.payload
        if e.type == "tool_call" and p.get("name") in _NEW_TEXT:
            calls[str(p.get("id"))] = p
        elif e.type == "tool_result" and p.get("name") in _NEW_TEXT and p.get("ok"):
            data = p.get("data") or {}
            call = calls.get(str(p.get("id")))
            args = call.get("arguments") if call else None
            if not data.get("applied") or not isinstance(args, dict):
                continue
            text = args.get(_NEW_TEXT[p["name"]])
            path = data.get("path") or args.get("path")
            if isinstance(text, str) and isinstance(path, str):
                done.append((path, str(args.get("oldText") or ""), text))
    out = []
    for i, (path, _old, new) in enumerate(done):
        later = [old for p, old, _ in done[i + 1 :] if p == path]
        if new and MASK not in new and not any(_overlaps(new, old) for old in later):
            out.append((path, new))
    return out


def _overlaps(new: str, later_old: str) -> bool:
    if not later_old:
        return False
    if new in later_old or later_old in new:
        return True
    lines = {line.strip() for line in new.splitlines() if line.strip()}
    return any(line.strip() in lines for line in later_old.splitlines())


def current_text(root: Path, documents: DocumentSource) -> Callable[[str], str | None]:
    def read(rel: str) -> str | None:
        path = Path(os.path.realpath(root / rel))
        doc = documents.get(path)
        if doc is not None:
            return doc.text
        try:
            return path.read_text("utf-8", errors="replace")
        except OSError:
            return None

    return read


def edit_kept(
    project_id: str,
    turn_id: str,
    events: Sequence[TraceEvent],
    read: Callable[[str], str | None],
) -> list[Score]:
    edits = applied_edits(events)
    if not edits:
        return []
    gone: list[str] = []
    for path, text in edits:
        now = read(path)
        if now is None or text not in now:
            gone.append(path)
    gone = list(dict.fromkeys(gone))
    explanation = ("no longer contains the edit: " + ", ".join(gone)) if gone else None
    return [
        Score(
            project_id,
            turn_id,
            EDIT_KEPT,
            "code",
            value=0 if gone else 1,
            explanation=explanation,
        )
    ]
