"""What a prompt names: identifiers and file names, the request's ranking seeds."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w./\\-]*\w\.[A-Za-z][\w+]*")


def mentioned_identifiers(prompt: str) -> set[str]:
    """Identifiers and file names in a prompt (file names with and without folders)."""
    out: set[str] = set()
    for m in _PATHLIKE.finditer(prompt):
        p = m.group(0).replace("\\", "/").strip("./") if m.group(0) != "." else ""
        if p:
            out.add(p)
            out.add(PurePosixPath(p).name)
    for m in _IDENT.finditer(prompt):
        if len(m.group(0)) >= 2:
            out.add(m.group(0))
    return out
