"""What runs in the index's worker processes: read, check and tag files.

Top-level functions only (they are pickled by name into `spawn`/`forkserver`
workers). A worker reads the files itself, so only paths go out and only tags
come back: never source text, never trees. It is also called in-process for
small batches, where starting a pool would cost more than the parse.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import NamedTuple

from .files import MAX_FILE_BYTES, looks_indexable
from .languages import language_for_path
from .tags import FileTags, extract_tags

log = logging.getLogger(__name__)


class ParseResult(NamedTuple):
    rel_path: str
    # "parsed": tags is set; "unchanged": content hash equals the cached one;
    # "skipped": binary, generated, minified, too big, unreadable, or gone.
    status: str
    content_hash: str
    size: int
    mtime_ns: int
    tags: FileTags | None
    blob: bytes | None


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def parse_one(root: str, rel_path: str, known_hash: str | None = None) -> ParseResult:
    path = Path(root) / rel_path
    lang = language_for_path(rel_path)
    try:
        # Stat before reading: if the file changes in between, the next
        # restart sees a newer mtime and re-checks it.
        st = path.stat()
        if lang is None or st.st_size > MAX_FILE_BYTES:
            return ParseResult(rel_path, "skipped", "", st.st_size, st.st_mtime_ns, None, None)
        data = path.read_bytes()
    except OSError:
        return ParseResult(rel_path, "skipped", "", 0, 0, None, None)
    h = content_hash(data)
    if known_hash is not None and h == known_hash:
        return ParseResult(rel_path, "unchanged", h, st.st_size, st.st_mtime_ns, None, None)
    if not looks_indexable(data):
        return ParseResult(rel_path, "skipped", h, st.st_size, st.st_mtime_ns, None, None)
    tags = extract_tags(lang, data)
    return ParseResult(rel_path, "parsed", h, st.st_size, st.st_mtime_ns, tags, tags.to_blob())


def parse_batch(root: str, items: list[tuple[str, str | None]]) -> list[ParseResult]:
    """Parse a batch of (rel_path, cached content hash or None)."""
    out = []
    for rel, known in items:
        try:
            out.append(parse_one(root, rel, known))
        except Exception:  # one bad file must not lose the batch
            log.exception("tagging %s failed", rel)
            out.append(ParseResult(rel, "skipped", "", 0, 0, None, None))
    return out
