"""`StorageError`: the one exception the ledger raises (docs/protocol.md#storage-errors).

The server turns it into a JSON-RPC `-32803` error and a `window/showMessage`
whose text is exactly `str(error)`, so the text must be safe to show: it names
the database path and a short cause taken from SQLite or the OS, never SQL
parameters (which may hold prompts or secrets) and never a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable

from orion_lsp.redact import redact as _pattern_redact

PREFIX = "Orion storage error: "


class StorageError(Exception):
    """str(e) always begins 'Orion storage error: ' and names the database path."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{PREFIX}{cause} (database: {path})")


def describe(exc: BaseException) -> str:
    """A short, parameter-free cause such as 'SQLITE_FULL: database or disk is full'."""
    if isinstance(exc, sqlite3.Error):
        # Errors made in Python (e.g. by a fault hook) carry no SQLite code.
        name = getattr(exc, "sqlite_errorname", None)
        text = str(exc) or type(exc).__name__
        return f"{name}: {text}" if name else text
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0)
        text = exc.strerror or str(exc) or type(exc).__name__
        return f"{name}: {text}" if name else text
    return str(exc) or type(exc).__name__


def storage_error(
    path: str, exc: BaseException | str, redactor: Callable[[str], str] | None = None
) -> StorageError:
    """Build the StorageError for `exc`, with the cause passed through redaction.

    SQLite messages name tables and columns, not bound values, so they should
    hold no secret; redacting anyway costs nothing and keeps the rule absolute.
    """
    cause = exc if isinstance(exc, str) else describe(exc)
    cause = _pattern_redact(cause)
    if redactor is not None:
        cause = redactor(cause)
    return StorageError(path, cause)
