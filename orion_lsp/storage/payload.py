"""Trace payloads as stored JSON text, with secrets redacted before writing.

Secrets never land in a stored row (docs/protocol.md#secrets). Redacting the JSON text
alone (what a redactor is written for) has two gaps: a pattern can eat a
non-string value and leave invalid JSON (`{"key": 5}` -> `{"key": [REDACTED]}`),
and a secret containing a character JSON escapes (a quote, a backslash) does not
appear verbatim in the text. So we redact the structure first (every string,
and every `"key": value` pair as text, which is how patterns like `api_key=`
see it), then the encoded text; if that last pass still breaks the JSON, the
whole redacted text is stored as a string under `redacted` (structure is lost,
secrets are not kept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from orion_lsp.redact import MASK

log = logging.getLogger(__name__)

Redactor = Callable[[str], str]


def encode_payload(payload: dict[str, Any], redactor: Redactor | None) -> str:
    """The JSON text to store for `payload` (non-JSON values become strings)."""
    if not isinstance(payload, dict):
        raise TypeError(f"a trace payload is a dict, not {type(payload).__name__}")
    if redactor is None:
        return _dumps(payload)
    structured = _dumps(_redact(payload, redactor))
    text = redactor(structured)
    if text == structured:
        return text
    try:
        json.loads(text)
    except ValueError:
        log.warning("redaction broke a trace payload's JSON; storing it as text")
        return _dumps({"redacted": text})
    return text


def _dumps(value: Any) -> str:
    # ensure_ascii=False keeps non-ASCII text readable and matchable by the
    # redactor; default=str stores e.g. a Path as its text instead of failing a turn.
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _redact(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {redactor(str(k)): _redact_pair(str(k), v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, redactor) for v in value]
    return value


def _redact_pair(key: str, value: Any, redactor: Redactor) -> Any:
    if isinstance(value, dict | list | tuple):
        return _redact(value, redactor)
    snippet = json.dumps({key: value}, ensure_ascii=False, default=str)
    masked = redactor(snippet)
    if masked != snippet:
        # The pair looked like `secret_name: value`: keep the redacted value if
        # it still parses, else the mask alone.
        try:
            parsed = json.loads(masked)
        except ValueError:
            return MASK
        if isinstance(parsed, dict) and len(parsed) == 1:
            return _redact(next(iter(parsed.values())), redactor)
        return MASK
    return _redact(value, redactor)
