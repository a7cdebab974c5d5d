"""What runs in the index's worker processes: read, check and tag files.

Top-level functions only (they are pickled by name into `spawn`/`forkserver`
workers). A worker reads the files itself, so only paths go out and only tags
come back: never source text, never trees. It is also called in-process for
small batches, where starting a pool would cost more than the parse. Only
the tags blob comes back: the index reads the names it needs from it
(`tags.blob_names`) without building Definition objects in the server.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from pathlib import Path
from typing import NamedTuple

from .files import MAX_FILE_BYTES, looks_indexable
from .languages import language_for_path
from .tags import extract_tags

log = logging.getLogger(__name__)


class ParseResult(NamedTuple):
    rel_path: str
    # "parsed": blob is set; "unchanged": content hash equals the cached one;
    # "skipped": binary, generated, minified, too big, unreadable, or gone.
    status: str
    content_hash: str
    size: int
    mtime_ns: int
    blob: bytes | None  # FileTags.to_blob(), for the cache
    # The same uncompressed: the index reads the names from it without paying
    # a decompression in the server's process.
    raw: bytes | None = None
    parse_s: float = 0.0  # CPU seconds in tree-sitter's parser (for --stats)
    tags_s: float = 0.0  # CPU seconds in the query, the lexer and the blob


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
            return ParseResult(rel_path, "skipped", "", st.st_size, st.st_mtime_ns, None)
        data = path.read_bytes()
    except OSError:
        return ParseResult(rel_path, "skipped", "", 0, 0, None)
    h = content_hash(data)
    if known_hash is not None and h == known_hash:
        return ParseResult(rel_path, "unchanged", h, st.st_size, st.st_mtime_ns, None)
    if not looks_indexable(data):
        return ParseResult(rel_path, "skipped", h, st.st_size, st.st_mtime_ns, None)
    timing = [0.0]
    t = time.process_time()
    tags = extract_tags(lang, data, timing)
    raw = tags.to_raw()
    blob = zlib.compress(raw, 1)
    total = time.process_time() - t
    return ParseResult(
        rel_path, "parsed", h, st.st_size, st.st_mtime_ns, blob, raw, timing[0], total - timing[0]
    )


def parse_batch(root: str, items: list[tuple[str, str | None]]) -> list[ParseResult]:
    """Parse a batch of (rel_path, cached content hash or None)."""
    out = []
    for rel, known in items:
        try:
            out.append(parse_one(root, rel, known))
        except Exception:  # one bad file must not lose the batch
            log.exception("tagging %s failed", rel)
            out.append(ParseResult(rel, "skipped", "", 0, 0, None))
    return out
