"""Regression: a second connection to the same file in one process must not drop
SQLite's POSIX locks, or another process deletes the WAL we still write into."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from orion_lsp.storage import ChatStore, Database

INSERT_FROM_ANOTHER_PROCESS = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
with con:
    con.execute("INSERT INTO chat_messages(project_id, turn_id, role, content, created_at)"
                " VALUES ('p', 'other', 'user', 'from another process', '2026-01-01T00:00:00.000Z')")
con.close()
"""


def count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM chat_messages").fetchone()[0]
    finally:
        con.close()


async def test_second_open_keeps_locks_so_writes_stay_visible(tmp_path: Path):
    path = tmp_path / "orion.db"
    ledger = await Database.open(path)
    cache = await Database.open(path)  # like the repo-map cache connection
    try:
        chats = ChatStore(ledger)
        await chats.add("p", "t1", "user", "before")
        subprocess.run([sys.executable, "-c", INSERT_FROM_ANOTHER_PROCESS, str(path)], check=True)
        await chats.add("p", "t2", "user", "after")
        # Another process must see every committed row (before the fix: only 2 of 3,
        # the last one went into a -wal file the other process had deleted).
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from chat_messages').fetchone()[0])",
                str(path),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        assert int(out.stdout) == 3
        assert (tmp_path / "orion.db-wal").exists()
    finally:
        await cache.close()
        await ledger.close()
    assert count(path) == 3
