"""Content-addressed, compressed text in the ledger (tables `blobs`, `blob_refs`).

Two kinds of stored text repeat a lot: the messages of a turn's model
requests (the system prompt and the growing history are resent at every
step) and file checkpoints (a file edited by ten turns differs a little each
time). Every text is stored once under the sha256 of its UTF-8 bytes,
zlib-compressed. A large text is cut into content-defined chunks at line
boundaries (a chunk ends after a line whose CRC is 0 mod 32, once it holds
2 KiB; at 32 KiB at the latest), each chunk a blob of its own, and the text's
own blob is the list of its chunk hashes: an edit of one function in a 200 KB
file then stores one new chunk and a short list, not the file again.

Each turn that uses a blob records a `blob_refs (hash, turn_id)` row (for a
chunked text: the list and every chunk). `release_turns` deletes a set of
turns' references and then every blob no turn references any more, which is
what makes deleting a thread really delete its content.

The functions taking `conn` run inside a caller's `Database.write`
transaction, so a blob and the row that refers to it commit together.
Redaction is the caller's business: a checkpoint must restore the file
byte-exactly, request messages arrive already redacted.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from orion_lsp.storage.database import Database

CHUNK_ABOVE_BYTES = 16 * 1024
CHUNK_MIN_BYTES = 2 * 1024
CHUNK_MAX_BYTES = 32 * 1024
_BOUNDARY_MASK = 31

Fetch = Callable[[str, Sequence[Any]], Awaitable[Iterable[Any]]]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunks(text: str) -> list[str]:
    """Content-defined pieces of `text`, cut after lines; ''.join gives it back."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        data = line.encode("utf-8")
        current.append(line)
        size += len(data)
        boundary = size >= CHUNK_MIN_BYTES and zlib.crc32(data) & _BOUNDARY_MASK == 0
        if boundary or size >= CHUNK_MAX_BYTES:
            out.append("".join(current))
            current, size = [], 0
    if current:
        out.append("".join(current))
    return out


async def put_text(conn: aiosqlite.Connection, text: str, turn_id: str) -> str:
    """Store `text` (once) and reference it from `turn_id`; returns its hash."""
    digest = text_hash(text)
    data = text.encode("utf-8")
    refs = [digest]
    if len(data) <= CHUNK_ABOVE_BYTES:
        await _insert(conn, digest, "text", zlib.compress(data), len(data))
    else:
        pieces = chunks(text)
        hashes = [text_hash(p) for p in pieces]
        for piece, h in zip(pieces, hashes, strict=True):
            raw = piece.encode("utf-8")
            await _insert(conn, h, "text", zlib.compress(raw), len(raw))
        listing = json.dumps(hashes, separators=(",", ":")).encode("ascii")
        await _insert(conn, digest, "chunks", zlib.compress(listing), len(data))
        refs.extend(hashes)
    await conn.executemany(
        "INSERT OR IGNORE INTO blob_refs (hash, turn_id) VALUES (?, ?)",
        [(h, turn_id) for h in dict.fromkeys(refs)],
    )
    return digest


async def _insert(
    conn: aiosqlite.Connection, digest: str, kind: str, data: bytes, size: int
) -> None:
    await conn.execute_fetchall(
        "INSERT OR IGNORE INTO blobs (hash, kind, data, size) VALUES (?, ?, ?, ?)",
        (digest, kind, data, size),
    )


async def read_text(fetch: Fetch, digest: str) -> str | None:
    """The text stored under `digest`, or None when there is none.

    `fetch` is `Database.fetchall` or, inside a write, `conn.execute_fetchall`.
    """
    rows = list(await fetch("SELECT kind, data FROM blobs WHERE hash = ?", (digest,)))
    if not rows:
        return None
    kind, data = rows[0][0], rows[0][1]
    if kind == "text":
        return zlib.decompress(data).decode("utf-8")
    hashes: list[str] = json.loads(zlib.decompress(data))
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):  # below SQLite's variable limit
        part = unique[start : start + 500]
        marks = ",".join("?" * len(part))
        for h, chunk in await fetch(
            f"SELECT hash, data FROM blobs WHERE hash IN ({marks}) AND kind = 'text'", part
        ):
            found[h] = zlib.decompress(chunk).decode("utf-8")
    missing = [h for h in unique if h not in found]
    if missing:
        raise LookupError(f"blob {digest[:12]} lacks {len(missing)} chunk(s)")
    return "".join(found[h] for h in hashes)


async def read_texts(fetch: Fetch, digests: Sequence[str]) -> dict[str, str]:
    """Many texts in one query (a request's messages): hash -> text, for those stored."""
    unique = list(dict.fromkeys(digests))
    found: dict[str, str] = {}
    for start in range(0, len(unique), 500):
        part = unique[start : start + 500]
        marks = ",".join("?" * len(part))
        for h, kind, data in await fetch(
            f"SELECT hash, kind, data FROM blobs WHERE hash IN ({marks})", part
        ):
            if kind == "text":
                found[h] = zlib.decompress(data).decode("utf-8")
            else:  # chunked: rare for a message; read it whole
                text = await read_text(fetch, h)
                if text is not None:
                    found[h] = text
    return found


async def release_turns(conn: aiosqlite.Connection, turn_ids: Sequence[str]) -> int:
    """Drop these turns' references and every blob left unreferenced; returns blobs deleted."""
    deleted = 0
    for start in range(0, len(turn_ids), 500):
        part = list(turn_ids[start : start + 500])
        marks = ",".join("?" * len(part))
        candidates = [
            r[0]
            for r in await conn.execute_fetchall(
                f"SELECT DISTINCT hash FROM blob_refs WHERE turn_id IN ({marks})", part
            )
        ]
        await conn.execute_fetchall(f"DELETE FROM blob_refs WHERE turn_id IN ({marks})", part)
        for h in candidates:
            rows = await conn.execute_fetchall(
                "DELETE FROM blobs WHERE hash = ? AND NOT EXISTS"
                " (SELECT 1 FROM blob_refs WHERE blob_refs.hash = ?) RETURNING hash",
                (h, h),
            )
            deleted += len(list(rows))
    return deleted


class BlobStore:
    """`put_text` / `read_text` in transactions of their own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, text: str, turn_id: str) -> str:
        return await self.db.write(lambda conn: put_text(conn, text, turn_id))

    async def get(self, digest: str) -> str | None:
        return await read_text(self.db.fetchall, digest)
