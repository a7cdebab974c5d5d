"""Loading file text for the tools: open editor buffer first, then the disk.

The editor's unsaved buffer is the truth the user sees, so every read, search
and edit check uses it when the file is open (``ToolContext.documents``).
From disk, files are read through ``open_confined``, refused when binary (a
NUL byte in the first 8 KB) and capped in size. Also here: the lines the
model sees (LSP's line breaks, as in ``orion_lsp/positions.py``) and the
read-before-claim hash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ...positions import LINE_BREAK
from .base import ToolContext
from .paths import PathRefused, open_confined

MAX_READ_BYTES = 1_000_000
BINARY_SNIFF_BYTES = 8192


class NotText(PathRefused):
    """The file is binary (or not valid UTF-8 where that matters)."""


@dataclass(frozen=True)
class LoadedText:
    text: str
    # Version of the open buffer, None when read from disk.
    version: int | None
    from_buffer: bool
    # True when the disk file was larger than the cap and `text` is a prefix.
    truncated: bool = False


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def read_disk_bytes(root: Path, real_path: Path, limit: int = MAX_READ_BYTES) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a confined regular file, and whether it was cut."""
    fd = open_confined(root, real_path)
    try:
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit


def is_binary(data: bytes) -> bool:
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


def load_text(ctx: ToolContext, real_path: Path, rel: str, *, strict: bool = False) -> LoadedText:
    """The current text of a file: the open buffer, else the disk.

    ``strict`` (used by edits) refuses files that are too large to hold whole
    or are not valid UTF-8, since writing them back would change bytes the
    model never saw.
    """
    doc = ctx.documents.get(real_path)
    if doc is not None:
        return LoadedText(doc.text, doc.version, from_buffer=True)
    data, truncated = read_disk_bytes(ctx.root, real_path)
    if is_binary(data):
        raise NotText(f"{rel!r} looks like a binary file (it contains NUL bytes); not shown")
    if strict:
        if truncated:
            raise NotText(
                f"{rel!r} is larger than {MAX_READ_BYTES} bytes; too large to edit with this tool"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotText(
                f"{rel!r} is not valid UTF-8; editing it would change bytes you cannot see"
            ) from exc
        return LoadedText(text, None, from_buffer=False)
    # A cut in the middle of a multi-byte character decodes to one U+FFFD.
    return LoadedText(data.decode("utf-8", "replace"), None, from_buffer=False, truncated=truncated)


def split_lines(text: str) -> list[str]:
    """Lines without their terminators; a trailing newline adds no empty line."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    if text == "":
        return []
    return lines
