"""What Orion learns about a model (context window, tool mode), cached per (model, base URL).

A cache, not the ledger: it lives in the `model_info` table on the repo-map
cache connection, and when that fails it degrades to memory instead of
stopping a turn (docs/architecture.md#caches-may-degrade-the-ledger-never-does).
"""

from __future__ import annotations

import logging
from typing import Any

from ..storage import Database, utc_now

log = logging.getLogger(__name__)


class ModelInfoCache:
    def __init__(self, db: Database | None) -> None:
        self._db = db
        self._memory: dict[tuple[str, str, str], str] = {}

    async def get(self, model: str, api_base: str | None, key: str) -> str | None:
        k = (model, api_base or "", key)
        if k in self._memory:
            return self._memory[k]
        if self._db is None:
            return None
        try:
            row = await self._db.fetchone(
                "SELECT value FROM model_info WHERE model = ? AND api_base = ? AND key = ?", k
            )
        except Exception as exc:
            log.warning("model info cache read failed, using memory: %s", exc)
            self._db = None
            return None
        if row is None:
            return None
        self._memory[k] = str(row[0])
        return self._memory[k]

    async def set(self, model: str, api_base: str | None, key: str, value: Any) -> None:
        k = (model, api_base or "", key)
        self._memory[k] = str(value)
        if self._db is None:
            return

        async def upsert(conn: Any) -> None:
            await conn.execute(
                "INSERT INTO model_info(model, api_base, key, value, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(model, api_base, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (*k, str(value), utc_now()),
            )

        try:
            await self._db.write(upsert)
        except Exception as exc:
            log.warning("model info cache write failed, keeping it in memory: %s", exc)
            self._db = None
