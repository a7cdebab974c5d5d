"""Where the index keeps tags between runs: the `TagCache` seam.

The repo map may degrade, the ledger never does
(docs/architecture.md#caches-may-degrade-the-ledger-never-does): a cache that
fails is logged and dropped by `RepoIndex`, which goes on in memory. Rows are
keyed by project and path and carry the content identity (hash, size,
mtime_ns) so a restart re-parses only files whose content changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import aiosqlite

    from orion_lsp.storage import Database


@dataclass(frozen=True)
class CachedTags:
    content_hash: str
    size: int
    mtime_ns: int
    tags: bytes  # FileTags.to_blob()


class TagCache(Protocol):
    async def load(self, project_id: str) -> dict[str, CachedTags]:
        """Every cached file of the project, by POSIX path relative to its root."""

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        """Insert or replace rows (one transaction)."""

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        """Forget files deleted or no longer indexed."""


class MemoryTagCache:
    """A process-local cache: for tests and for the CLI without a database."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, CachedTags]] = {}
        self.saves = 0  # rows written, so tests can see what a build re-parsed

    async def load(self, project_id: str) -> dict[str, CachedTags]:
        return dict(self.rows.get(project_id, {}))

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        self.rows.setdefault(project_id, {}).update(rows)
        self.saves += len(rows)

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        proj = self.rows.get(project_id, {})
        for p in paths:
            proj.pop(p, None)


# Rows per INSERT batch: executemany in one BEGIN IMMEDIATE transaction;
# batching is ~100x faster than a commit per row here (bench/bench_storage.py). Batches
# are kept short so the writer lock (shared with chat/trace writes) is not
# held for long while a big workspace is indexed.
_BATCH = 200
# One file_tags row: project_id, path, content_hash, size, mtime_ns, tags, updated_at.
_TagRow = tuple[str, str, str, int, int, bytes, str]


class SqliteTagCache:
    """Tags in the `file_tags` table of the Orion database (migration 2)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, project_id: str) -> dict[str, CachedTags]:
        rows = await self.db.fetchall(
            "SELECT path, content_hash, size, mtime_ns, tags FROM file_tags WHERE project_id = ?",
            (project_id,),
        )
        out: dict[str, CachedTags] = {}
        for r in rows:
            if r["tags"] is None or r["content_hash"] is None:
                continue
            out[r["path"]] = CachedTags(
                r["content_hash"], int(r["size"] or 0), int(r["mtime_ns"] or 0), bytes(r["tags"])
            )
        return out

    async def save_many(self, project_id: str, rows: Sequence[tuple[str, CachedTags]]) -> None:
        from orion_lsp.storage import utc_now

        now = utc_now()
        for i in range(0, len(rows), _BATCH):
            chunk = [
                (project_id, path, c.content_hash, c.size, c.mtime_ns, c.tags, now)
                for path, c in rows[i : i + _BATCH]
            ]

            async def insert(conn: aiosqlite.Connection, chunk: list[_TagRow] = chunk) -> None:
                await conn.executemany(
                    "INSERT OR REPLACE INTO file_tags"
                    " (project_id, path, content_hash, size, mtime_ns, tags, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    chunk,
                )

            await self.db.write(insert)

    async def delete(self, project_id: str, paths: Sequence[str]) -> None:
        for i in range(0, len(paths), _BATCH):
            chunk = [(project_id, p) for p in paths[i : i + _BATCH]]

            async def remove(
                conn: aiosqlite.Connection, chunk: list[tuple[str, str]] = chunk
            ) -> None:
                await conn.executemany(
                    "DELETE FROM file_tags WHERE project_id = ? AND path = ?", chunk
                )

            await self.db.write(remove)
