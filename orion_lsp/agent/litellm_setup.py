"""Importing and calling litellm safely inside a stdio language server.

Why this module exists (measured with litellm 1.110.2 on this machine):

- ``import litellm`` takes ~3.5-4 s (2 cores). Call ``import_litellm()`` off the
  request path (e.g. in a thread after ``initialized``); it is cached and
  thread-safe, so the first model call simply waits for a warm-up in progress.
- Without ``LITELLM_LOCAL_MODEL_COST_MAP=True`` litellm fetches its cost map from
  the internet at import. ``LITELLM_OFFLINE_MODE=true`` is a real setting in this
  release (``litellm_core_utils/offline_mode.py``): it also stops the other
  catalogs and checks litellm fetches on its own. Both are forced before import.
- litellm prints a help banner to stdout on errors unless ``suppress_debug_info``,
  and its log handler (``LevelRoutingStreamHandler``) writes records below
  WARNING to **stdout**. Its loggers have no level of their own, so a server that
  sets the root logger to DEBUG for ``--log-file`` would get litellm's debug
  lines (with request bodies) in the JSON-RPC stream. We drop litellm's stream
  handlers, cap its loggers at WARNING (never verbose: debug logs carry keys),
  redact what they still log, and let records propagate to our own handlers.
  ``JSON_LOGS=true`` would install stdout JSON handlers at import: forced off.
- Retries: the OpenAI SDK under litellm retries twice by default, so one HTTP 500
  is 3 requests and ~1.5 s. ``max_retries=0`` turns off the SDK's retries and
  ``num_retries=0`` litellm's own wrapper retries. Pass ``NO_RETRY_KWARGS`` to
  every ``litellm.acompletion`` and retry in ``retry.call_with_retries``, so
  each attempt is one HTTP request and one ``llm_call`` trace event
  (``tests/unit/test_scripted_server.py`` asserts exactly one request per call).
  Never set the global ``litellm.num_retries``: it wins over ``num_retries=0``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from types import ModuleType
from typing import Any, Final

from orion_lsp.redact import redact

from .providers import wants_placeholder_key

log = logging.getLogger(__name__)

# Spread into every litellm.acompletion call: exactly one HTTP request per call.
NO_RETRY_KWARGS: Final[dict[str, Any]] = {"num_retries": 0, "max_retries": 0}

# Set before the import; litellm reads them at import time.
_ENV: Final[dict[str, str]] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "JSON_LOGS": "false",
}
_LITELLM_LOGGERS: Final = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

_lock = threading.Lock()
_module: ModuleType | None = None


class _RedactingFilter(logging.Filter):
    """Masks secrets in litellm's own log records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep its template only
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


def _quiet_litellm_logging() -> None:
    for name in _LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            # Their handlers write to stdout/stderr directly; ours (stderr or the
            # --log-file, configured by the CLI) receive the records by propagation.
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                logger.removeHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = True
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())


def import_litellm() -> ModuleType:
    """Import litellm once, configured for a stdio server; returns the module."""
    global _module
    with _lock:
        if _module is not None:
            return _module
        os.environ.update(_ENV)
        started = time.perf_counter()
        # Belt and braces: anything litellm prints while importing goes to stderr.
        # pygls captured sys.stdout.buffer when it started, so it is unaffected.
        with contextlib.redirect_stdout(sys.stderr):
            import litellm
        litellm.suppress_debug_info = True
        # litellm imports set_verbose without re-exporting it; the module attribute is the flag.
        litellm.set_verbose = False  # type: ignore[attr-defined]
        _quiet_litellm_logging()
        seconds = time.perf_counter() - started
        log.debug("litellm %s imported in %.2f s", _version(litellm), seconds)
        _module = litellm
        return litellm


def completion_kwargs(
    model: str,
    api_base: str | None,
    api_key: str | None,
    messages: list[dict[str, Any]],
    *,
    timeout_s: float,
    **options: Any,
) -> dict[str, Any]:
    """The arguments of every `litellm.acompletion` Orion makes (the model client and
    `orion doctor`'s probe): one request, no hidden retries, a key when one is needed."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "timeout": timeout_s,
        **NO_RETRY_KWARGS,
        **options,
    }
    if api_base:
        kwargs["api_base"] = api_base
    if api_key:
        kwargs["api_key"] = api_key
    elif wants_placeholder_key(model):
        kwargs["api_key"] = "orion-local"
    return kwargs


def _version(module: ModuleType) -> str:
    try:
        from importlib.metadata import version

        return version("litellm")
    except Exception:  # metadata missing in odd installs; the version is only logged
        return getattr(module, "__version__", "?")
