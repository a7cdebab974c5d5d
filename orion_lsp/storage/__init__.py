"""Orion's ledger: chat history and trace events in one SQLite file per user.

`Database` (connection, migrations, the fail-loud choke point), `ChatStore` /
`HistoryLoader` (chat_messages), `TraceStore` (trace_events), `ScoreStore` (scores), `BlobStore` (blobs:
content-addressed text for requests and checkpoints), `thread_title`. Any failure is a
`StorageError` whose text begins 'Orion storage error:' and names the file.
"""

from __future__ import annotations

from orion_lsp.storage.blobs import BlobStore
from orion_lsp.storage.chat import ChatMessage, ChatStore, HistoryLoader
from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.errors import StorageError
from orion_lsp.storage.faults import FailNth
from orion_lsp.storage.migrations import LATEST_VERSION
from orion_lsp.storage.scores import Score, ScoreStore
from orion_lsp.storage.threads import thread_title
from orion_lsp.storage.trace import EVENT_TYPES, TraceEvent, TraceStore

__all__ = [
    "EVENT_TYPES",
    "LATEST_VERSION",
    "BlobStore",
    "ChatMessage",
    "ChatStore",
    "Database",
    "FailNth",
    "HistoryLoader",
    "Score",
    "ScoreStore",
    "StorageError",
    "TraceEvent",
    "TraceStore",
    "thread_title",
    "utc_now",
]
