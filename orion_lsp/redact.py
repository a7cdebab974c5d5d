"""Secret redaction applied at every boundary: logs, stored rows, client errors.

Providers echo keys back in error texts and URLs; the environment may hold
tokens. Anything that leaves the process through us goes through `redact`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_PATTERNS = [
    # Authorization: Bearer xxx / Basic xxx
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer\s+|basic\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    # key=..., api_key=..., token=... in URLs, query strings, kwargs and JSON
    re.compile(
        r"(?i)((?<![A-Za-z0-9])(?:api[_-]?key|access[_-]?token|token|key|secret|password|x-api-key)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;)}]+"
    ),
    # Well-known key shapes: OpenAI/Anthropic-style sk-..., GitHub, Google, AWS, Slack
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
]

# Environment variables whose values are secrets wherever they appear.
_SECRET_ENV = re.compile(r"(?i)(key|token|secret|password|passwd|credential|auth)")


class Redactor:
    """Masks known secret values and secret-looking patterns in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        # Bumped when a secret is added: caches of redacted text key on it.
        self.generation = 0
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, value: str | None) -> None:
        # Very short values would mask ordinary words; they are not real keys.
        if value and len(value) >= 6 and value not in self._secrets:
            self._secrets.add(value)
            self.generation += 1

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        r = cls()
        for name, value in env.items():
            if _SECRET_ENV.search(name):
                r.add_secret(value)
        return r

    def partial_secret_suffix(self, text: str) -> int:
        """Length of the longest tail of `text` that starts a known secret."""
        best = 0
        for secret in self._secrets:
            for n in range(min(len(secret) - 1, len(text)), best, -1):
                if text.endswith(secret[:n]):
                    best = n
                    break
        return best

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        if not text:
            return text
        # Longest first so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        for pat in _PATTERNS:
            if pat.groups:
                text = pat.sub(lambda m: m.group(1) + MASK, text)
            else:
                text = pat.sub(MASK, text)
        return text


def redact(text: str) -> str:
    """Pattern-only redaction (no known values); prefer a configured Redactor."""
    return Redactor().redact(text)


# A streamed secret can be split across chunks; hold back at most this much.
_MAX_HOLD = 256
_TRAILING_WORD = re.compile(r"\S+$")


class StreamRedactor:
    """Redacts a text stream chunk by chunk without letting a split secret through.

    It holds back the trailing word (patterns such as `key=...` need the whole
    word) and any tail that could be the start of a known secret, and emits
    the rest. `flush()` at the end of each model reply emits what is held.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._r = redactor
        self._pending = ""

    def feed(self, text: str) -> str:
        buf = self._pending + text
        hold = self._r.partial_secret_suffix(buf)
        m = _TRAILING_WORD.search(buf)
        if m is not None:
            hold = max(hold, len(buf) - m.start())
        hold = min(hold, _MAX_HOLD, len(buf))
        emit, self._pending = buf[: len(buf) - hold], buf[len(buf) - hold :]
        return self._r.redact(emit) if emit else ""

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return self._r.redact(out) if out else ""
