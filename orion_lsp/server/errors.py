"""The one boundary where exceptions become JSON-RPC errors.

See docs/architecture.md#errors-are-mapped-at-one-boundary and the codes in
docs/protocol.md#errors.

pygls would put the exception text and a traceback into `data`; we never let
an exception reach it unmapped. Tracebacks stay in the local log; what the
client gets is a short, redacted message with the documented code.
"""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException

from ..agent.model import ModelError
from ..checkpoints.rewind import NotRewindable, RewindConflict
from ..config import SettingsError
from ..redact import Redactor
from ..storage import StorageError, ThreadBusy, ThreadNotFound

log = logging.getLogger(__name__)

INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_FAILED = -32803
REQUEST_CANCELLED = -32800


class OrionRpcError(JsonRpcException):
    """A JSON-RPC error with no `data` (so no traceback can ride along)."""

    def __init__(self, code: int, message: str, *, show: bool = False) -> None:
        super().__init__(message=message, code=code, data=None)
        # True: the same text also goes to window/showMessage as an Error.
        self.show = show


class InvalidArguments(ValueError):
    """Bad command arguments: -32602."""


def to_rpc_error(exc: BaseException, redactor: Redactor) -> OrionRpcError:
    if isinstance(exc, OrionRpcError):
        return exc
    if isinstance(exc, StorageError):
        return OrionRpcError(REQUEST_FAILED, redactor(str(exc)), show=True)
    if isinstance(exc, ModelError):
        return OrionRpcError(REQUEST_FAILED, redactor(str(exc)), show=True)
    if isinstance(exc, RewindConflict):
        # Begins "Orion rewind conflict:" and names every file (docs/protocol.md#rewind).
        return OrionRpcError(REQUEST_FAILED, redactor(str(exc)), show=True)
    if isinstance(exc, ThreadBusy):
        return OrionRpcError(REQUEST_FAILED, redactor(f"Orion: {exc}"), show=True)
    if isinstance(exc, (InvalidArguments, SettingsError, ThreadNotFound, NotRewindable)):
        return OrionRpcError(INVALID_PARAMS, redactor(f"Invalid arguments: {exc}"))
    log.error("internal error", exc_info=exc)
    return OrionRpcError(
        INTERNAL_ERROR,
        f"Orion internal error ({type(exc).__name__}); details are in the server log",
        show=True,
    )
