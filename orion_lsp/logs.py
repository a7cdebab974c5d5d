"""Logging that never touches stdout (the JSON-RPC channel) and never holds a secret."""

from __future__ import annotations

import logging
import sys

from .redact import Redactor


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks stay local, but exception texts can carry keys too.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_logging(log_file: str | None, level: str = "INFO") -> None:
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(Redactor.from_environment()))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # pygls logs every message body at INFO ("Sending data: ..."): prompts, answers
    # and file contents would fill the log. Keep it to warnings.
    for name in ("pygls", "pygls.protocol", "pygls.server", "pygls.feature_manager"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("httpx", "httpcore", "openai", "aiosqlite", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
