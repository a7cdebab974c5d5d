"""Where the index keeps tags between runs: the `TagCache` seam.

The repo map may degrade, the ledger never does
(docs/architecture.md#caches-may-degrade-the-ledger-never-does): a cache that
fails is logged and dropped by `RepoIndex`, which goes on in memory. Rows are
keyed by project and path and carry the content identity (hash, size,
mtime_ns) so a restart re-parses only files whose content changed.

Two kinds of rows live in `file_tags`: one per file (its tags blob, read
only for the files a map shows), and one per project under the empty path
(never a file's: paths are relative and non-empty) holding the index snapshot
(graph.py's compact arrays, snapshot.py), so a restart loads one blob instead
of decoding every file's tags.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import aiosqlite

    from orion_lsp.storage import Database

# The `file_tags.path` of a project's index snapshot.
SNAPSHOT_PATH = ""


class CachedMeta(NamedTuple):
    content_hash: str
    size: int
    mtime_ns: int
    skipped: bool = False  # read once and found not indexable (generated, binary)


# The blob of a file read and skipped: a restart need not read it again.
SKIPPED = b""


@dataclass(frozen=True)
class CachedTags:
    content_hash: str
    size: int
    mtime_ns: int
    tags: bytes | None  # FileTags.to_blob(); SKIPPED; None: keep the stored blob (same content)


class TagCache(Protocol):
    async def load_meta(self, project_id: str) -> dict[str, CachedMeta]:
        """Content identity of every cached file (no blobs), by POSIX path."""

    def read_blobs(self, project_id: str, paths: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """path -> (content hash, tags blob) for the cached ones among `paths`.

        Synchronous and short (a primary-key lookup): the map reads the lines
        of the files it shows while it renders.
        """

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        """Insert or replace rows (one transaction per batch)."""

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        """Forget files deleted or no longer indexed."""

    async def load_snapshot(self, project_id: str) -> bytes | None: ...

    async def save_snapshot(self, project_id: str, data: bytes) -> None: ...


class MemoryTagCache:
    """A process-local cache: for tests, for the CLI without a database, and
    what the index falls back to when its cache fails."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, CachedTags]] = {}
        self.snapshots: dict[str, bytes] = {}
        self.saves = 0  # rows written, so tests can see what a build re-parsed

    async def load_meta(self, project_id: str) -> dict[str, CachedMeta]:
        return {
            p: CachedMeta(c.content_hash, c.size, c.mtime_ns, c.tags == SKIPPED)
            for p, c in self.rows.get(project_id, {}).items()
        }

    def read_blobs(self, project_id: str, paths: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        proj = self.rows.get(project_id, {})
        out = {}
        for p in paths:
            c = proj.get(p)
            if c is not None and c.tags:
                out[p] = (c.content_hash, c.tags)
        return out

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        proj = self.rows.setdefault(project_id, {})
        for path, c in rows:
            if c.tags is None:
                old = proj.get(path)
                if old is None or old.tags is None:
                    continue
                c = CachedTags(c.content_hash, c.size, c.mtime_ns, old.tags)
            proj[path] = c
        self.saves += len(rows)

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        proj = self.rows.get(project_id, {})
        for p in paths:
            proj.pop(p, None)

    async def load_snapshot(self, project_id: str) -> bytes | None:
        return self.snapshots.get(project_id)

    async def save_snapshot(self, project_id: str, data: bytes) -> None:
        self.snapshots[project_id] = data


# Rows per INSERT batch: executemany in one BEGIN IMMEDIATE transaction;
# batching is ~100x faster than a commit per row here (bench/bench_storage.py). Batches
# are kept short so the writer lock (shared with chat/trace writes) is not
# held for long while a big workspace is indexed.
_BATCH = 200
# Paths per `IN (...)` read (SQLite's default limit of bound variables is 999).
_READ_BATCH = 400


class SqliteTagCache:
    """Tags in the `file_tags` table of the Orion database (migration 2)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load_meta(self, project_id: str) -> dict[str, CachedMeta]:
        rows = await self.db.fetchall(
            "SELECT path, content_hash, size, mtime_ns, length(tags) AS n FROM file_tags"
            " WHERE project_id = ? AND path != ? AND tags IS NOT NULL",
            (project_id, SNAPSHOT_PATH),
        )
        return {
            r["path"]: CachedMeta(
                r["content_hash"], int(r["size"] or 0), int(r["mtime_ns"] or 0), r["n"] == 0
            )
            for r in rows
            if r["content_hash"] is not None
        }

    def read_blobs(self, project_id: str, paths: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        # A short-lived connection of its own: reads in WAL mode do not wait
        # for the writer, and nothing here shares the async connection's thread.
        out: dict[str, tuple[str, bytes]] = {}
        conn = sqlite3.connect(str(self.db.path), timeout=5, check_same_thread=False)
        try:
            for k in range(0, len(paths), _READ_BATCH):
                chunk = list(paths[k : k + _READ_BATCH])
                marks = ",".join("?" * len(chunk))
                for path, h, blob in conn.execute(
                    f"SELECT path, content_hash, tags FROM file_tags"
                    f" WHERE project_id = ? AND path IN ({marks})",
                    [project_id, *chunk],
                ):
                    if h is not None and blob:
                        out[path] = (h, bytes(blob))
        finally:
            conn.close()
        return out

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        from orion_lsp.storage import utc_now

        now = utc_now()
        for i in range(0, len(rows), _BATCH):
            chunk = [
                (project_id, path, c.content_hash, c.size, c.mtime_ns, c.tags, now)
                for path, c in rows[i : i + _BATCH]
            ]

            async def insert(
                conn: aiosqlite.Connection, chunk: list[tuple[Any, ...]] = chunk
            ) -> None:
                # A row without a blob only moves the content identity (same
                # content, new mtime) and keeps the stored blob.
                await conn.executemany(
                    "INSERT INTO file_tags"
                    " (project_id, path, content_hash, size, mtime_ns, tags, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (project_id, path) DO UPDATE SET"
                    " content_hash = excluded.content_hash, size = excluded.size,"
                    " mtime_ns = excluded.mtime_ns, tags = coalesce(excluded.tags, tags),"
                    " updated_at = excluded.updated_at",
                    chunk,
                )

            await self.db.write(insert)

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        for i in range(0, len(paths), _BATCH):
            chunk = [(project_id, p) for p in paths[i : i + _BATCH] if p != SNAPSHOT_PATH]

            async def remove(
                conn: aiosqlite.Connection, chunk: list[tuple[str, str]] = chunk
            ) -> None:
                await conn.executemany(
                    "DELETE FROM file_tags WHERE project_id = ? AND path = ?", chunk
                )

            await self.db.write(remove)

    async def load_snapshot(self, project_id: str) -> bytes | None:
        row = await self.db.fetchone(
            "SELECT tags FROM file_tags WHERE project_id = ? AND path = ?",
            (project_id, SNAPSHOT_PATH),
        )
        return bytes(row["tags"]) if row is not None and row["tags"] is not None else None

    async def save_snapshot(self, project_id: str, data: bytes) -> None:
        await self.save_many(project_id, [(SNAPSHOT_PATH, CachedTags("snapshot", 0, 0, data))])
