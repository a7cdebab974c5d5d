"""The numbered schema migrations of the Orion database (docs/architecture.md#numbered-migrations).

`MIGRATIONS[i]` brings the schema from version i to i+1. Each runs in its own
`BEGIN IMMEDIATE` transaction together with the bump of `PRAGMA user_version`
(the authoritative version, readable before any table exists) and a row in
`schema_migrations` (the human-readable log shown by `orion doctor`). Append
new migrations at the end; never edit or reorder a released one.

Statements are kept as separate strings because `sqlite3.executescript`
commits any open transaction first, which would break the one-transaction rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "chat messages and trace events",
        (
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )""",
            # INTEGER PRIMARY KEY (rowid) without AUTOINCREMENT: ids only grow
            # because rows are never deleted, and it avoids the sqlite_sequence write.
            """CREATE TABLE chat_messages (
                id INTEGER PRIMARY KEY,
                project_id TEXT NOT NULL,
                turn_id TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
                content TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            # "Last N messages of a project": an index walk backwards, no sort.
            "CREATE INDEX chat_messages_project_id ON chat_messages (project_id, id)",
            """CREATE TABLE trace_events (
                id INTEGER PRIMARY KEY,
                project_id TEXT NOT NULL,
                turn_id TEXT NOT NULL,
                seq INTEGER NOT NULL CHECK (seq >= 1),
                type TEXT NOT NULL CHECK (type IN
                    ('turn_start', 'llm_call', 'tool_call', 'tool_result', 'turn_end')),
                payload TEXT NOT NULL CHECK (json_valid(payload)),
                created_at TEXT NOT NULL,
                UNIQUE (turn_id, seq)
            )""",
            # UNIQUE(turn_id, seq) is the index for "events of a turn" and next seq.
            # "Recent turns of a project" (last_turn_id, turn_ids):
            "CREATE INDEX trace_events_project_type ON trace_events (project_id, type, id)",
            # "Turns with a turn_start but no turn_end" (mark_interrupted).
            "CREATE INDEX trace_events_type_turn ON trace_events (type, turn_id)",
        ),
    ),
    Migration(
        2,
        "repo-map tag cache and learned model facts",
        (
            """CREATE TABLE file_tags (
                project_id TEXT NOT NULL,
                path TEXT NOT NULL,
                content_hash TEXT,
                size INTEGER,
                mtime_ns INTEGER,
                tags BLOB,
                updated_at TEXT,
                PRIMARY KEY (project_id, path)
            )""",
            """CREATE TABLE model_info (
                model TEXT NOT NULL,
                api_base TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT,
                updated_at TEXT,
                PRIMARY KEY (model, api_base, key)
            )""",
        ),
    ),
    Migration(
        3,
        "owner process of trace events",
        (
            # Lets mark_interrupted tell a turn whose process died (kill -9) from
            # one still running in another editor's server on the same file.
            # NULL (rows written before this migration) counts as dead.
            "ALTER TABLE trace_events ADD COLUMN pid INTEGER",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

# The list must stay dense and ordered: version i+1 at index i.
assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
