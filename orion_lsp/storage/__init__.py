"""Orion's ledger: chat history and trace events in one SQLite file per user.

`Database` (connection, migrations, the fail-loud choke point), `ChatStore` /
`HistoryLoader` (chat_messages), `TraceStore` (trace_events), `ScoreStore` (scores), `BlobStore` (blobs:
content-addressed text for requests and checkpoints), `ThreadStore` (threads,
and forgetting one), `CheckpointStore` (files before a turn changed them, rewind).
Any failure is a `StorageError` whose text begins 'Orion storage error:' and names the file.
"""

from __future__ import annotations

from orion_lsp.storage.blobs import BlobStore
from orion_lsp.storage.chat import ChatMessage, ChatStore, HistoryLoader, PendingMessage
from orion_lsp.storage.checkpoints import CheckpointStore, FileChange, TurnRef
from orion_lsp.storage.database import Database, utc_now
from orion_lsp.storage.errors import StorageError
from orion_lsp.storage.faults import FailNth
from orion_lsp.storage.migrations import LATEST_VERSION
from orion_lsp.storage.scores import Score, ScoreStore
from orion_lsp.storage.threads import (
    Thread,
    ThreadBusy,
    ThreadChoice,
    ThreadNotFound,
    ThreadStore,
    thread_title,
)
from orion_lsp.storage.trace import EVENT_TYPES, TraceEvent, TraceStore

__all__ = [
    "EVENT_TYPES",
    "LATEST_VERSION",
    "BlobStore",
    "ChatMessage",
    "ChatStore",
    "CheckpointStore",
    "Database",
    "FailNth",
    "FileChange",
    "HistoryLoader",
    "PendingMessage",
    "Score",
    "ScoreStore",
    "StorageError",
    "Thread",
    "ThreadBusy",
    "ThreadChoice",
    "ThreadNotFound",
    "ThreadStore",
    "TraceEvent",
    "TraceStore",
    "TurnRef",
    "thread_title",
    "utc_now",
]
