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


# A thread's title in SQL, the same rule as `storage.threads.thread_title`:
# the first line of the prompt (surrounding blanks trimmed), at most 80
# characters (SQLite's substr counts characters, like Python slicing).
_TITLE_SQL = (
    "COALESCE(NULLIF(substr(trim(CASE WHEN instr(trim({text}, ' '||char(9,10,13)), char(10)) > 0"
    " THEN substr(trim({text}, ' '||char(9,10,13)), 1,"
    " instr(trim({text}, ' '||char(9,10,13)), char(10)) - 1)"
    " ELSE trim({text}, ' '||char(9,10,13)) END, ' '||char(9,13)), 1, 80), ''), 'Untitled')"
)


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
    Migration(
        4,
        "threads, checkpoints, scores and a content store",
        (
            # Conversations inside a project (docs/protocol.md#threads).
            """CREATE TABLE threads (
                id TEXT PRIMARY KEY,
                project_id TEXT NOT NULL,
                title TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            # "Threads of a project, most recently updated first": an index walk.
            "CREATE INDEX threads_project_updated ON threads (project_id, updated_at, id)",
            "ALTER TABLE chat_messages ADD COLUMN thread_id TEXT",
            # Set when a rewind undid the turn: kept as data, left out of history.
            "ALTER TABLE chat_messages ADD COLUMN rewound_at TEXT",
            "CREATE INDEX chat_messages_thread ON chat_messages (thread_id, id)",
            "CREATE INDEX chat_messages_turn ON chat_messages (turn_id)",
            # NULL for turns in no thread (replay samples) and for projects whose
            # events have no messages to attach them to.
            "ALTER TABLE trace_events ADD COLUMN thread_id TEXT",
            "CREATE INDEX trace_events_thread ON trace_events (thread_id, turn_id)",
            # Backfill: each project's existing messages become one thread, titled
            # like a new thread (storage/threads.py `thread_title`, same rule in SQL).
            f"""INSERT INTO threads (id, project_id, title, created_at, updated_at)
                SELECT lower(hex(randomblob(16))), m.project_id,
                       ({_TITLE_SQL.format(text="f.content")}),
                       MIN(m.created_at), MAX(m.created_at)
                FROM chat_messages AS m
                JOIN chat_messages AS f ON f.id = (
                    SELECT MIN(id) FROM chat_messages
                    WHERE project_id = m.project_id AND role = 'user')
                GROUP BY m.project_id""",
            """UPDATE chat_messages SET thread_id =
                (SELECT id FROM threads AS t WHERE t.project_id = chat_messages.project_id)""",
            """UPDATE trace_events SET thread_id =
                (SELECT id FROM threads AS t WHERE t.project_id = trace_events.project_id)""",
            """UPDATE trace_events SET payload = json_set(payload, '$.threadId', thread_id)
                WHERE type = 'turn_start' AND thread_id IS NOT NULL""",
            # Content-addressed, compressed text (storage/blobs.py): request
            # messages and file checkpoints repeat, so each text is stored once.
            """CREATE TABLE blobs (
                hash TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('text', 'chunks')),
                data BLOB NOT NULL,
                size INTEGER NOT NULL
            ) WITHOUT ROWID""",
            # Which turn uses which blob: deleting a thread deletes its turns'
            # references, then every blob nobody references any more.
            """CREATE TABLE blob_refs (
                hash TEXT NOT NULL,
                turn_id TEXT NOT NULL,
                PRIMARY KEY (hash, turn_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX blob_refs_turn ON blob_refs (turn_id)",
            # A file as a turn found it before its first change (rewind).
            # before_hash NULL: the file did not exist. after_hash: what the
            # turn left (NULL until a change was applied).
            """CREATE TABLE checkpoints (
                id INTEGER PRIMARY KEY,
                project_id TEXT NOT NULL,
                thread_id TEXT,
                turn_id TEXT NOT NULL,
                path TEXT NOT NULL,
                before_hash TEXT,
                after_hash TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (turn_id, path)
            )""",
            "CREATE INDEX checkpoints_thread ON checkpoints (thread_id, id)",
            # Evaluations of turns (docs/protocol.md#scores). source_id '' when
            # the source has one instance only; it is part of the unique key, so
            # it is never NULL (NULLs would not collide).
            """CREATE TABLE scores (
                id INTEGER PRIMARY KEY,
                project_id TEXT NOT NULL,
                turn_id TEXT NOT NULL,
                step INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
                name TEXT NOT NULL,
                value REAL,
                label TEXT,
                source TEXT NOT NULL CHECK (source IN ('code', 'llm', 'human')),
                source_id TEXT NOT NULL DEFAULT '',
                explanation TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (turn_id, step, name, source_id)
            )""",
            "CREATE INDEX scores_project_name ON scores (project_id, name)",
        ),
    ),
    Migration(
        5,
        "turn counts of threads",
        (
            # `orion.threads` counts each listed thread's turns: one entry per
            # shown turn in this index, so the count never reads the table.
            """CREATE INDEX chat_messages_thread_turns ON chat_messages (thread_id)
                WHERE role = 'user' AND rewound_at IS NULL""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

# The list must stay dense and ordered: version i+1 at index i.
assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
