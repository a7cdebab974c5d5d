"""Orion's ledger: chat history and trace events in one SQLite file per user.

`Database` (connection, migrations, the fail-loud choke point), `ChatStore` /
`HistoryLoader` (chat_messages), `TraceStore` (trace_events). Any failure is a
`StorageError` whose text begins 'Orion storage error:' and names the file.
"""

from __future__ import annotations

from orion_lsp.storage.chat import ChatMessage, ChatStore, HistoryLoader
from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.errors import StorageError
from orion_lsp.storage.faults import FailNth
from orion_lsp.storage.migrations import LATEST_VERSION
from orion_lsp.storage.trace import EVENT_TYPES, TraceEvent, TraceStore

__all__ = [
    "EVENT_TYPES",
    "LATEST_VERSION",
    "ChatMessage",
    "ChatStore",
    "Database",
    "FailNth",
    "HistoryLoader",
    "StorageError",
    "TraceEvent",
    "TraceStore",
    "utc_now",
]
