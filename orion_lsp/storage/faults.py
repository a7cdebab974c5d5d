"""Fault injection for the storage choke point (used by reliability tests).

`Database.fault_hook` is called with the operation name ('fetchall', 'fetchone',
'write') before every storage call; raising `sqlite3.OperationalError` from it
makes that call fail exactly like a real SQLite failure would. `FailNth` is the
standard hook. The environment variable `ORION_FAULT_STORAGE` installs one in a
server subprocess: "k" fails the k-th call once, "k+" fails every call from the
k-th on. Calls are counted from 1, starting after `Database.open` returned
(migrations at open are not counted, so k does not depend on the schema).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3

log = logging.getLogger(__name__)

ENV_VAR = "ORION_FAULT_STORAGE"
_SPEC = re.compile(r"^\s*([1-9][0-9]*)(\+?)\s*$")


class FailNth:
    """A fault hook that fails the k-th call (and, if `onwards`, every later one)."""

    def __init__(self, k: int, *, onwards: bool = False) -> None:
        if k < 1:
            raise ValueError("k counts calls from 1")
        self.k = k
        self.onwards = onwards
        self.calls = 0
        self.failed: list[str] = []

    def __call__(self, op: str) -> None:
        self.calls += 1
        if self.calls == self.k or (self.onwards and self.calls > self.k):
            self.failed.append(op)
            raise sqlite3.OperationalError(f"injected fault in {op} (call {self.calls})")

    def __repr__(self) -> str:
        return f"FailNth({self.k}{'+' if self.onwards else ''})"


def hook_from_env(environ: dict[str, str] | None = None) -> FailNth | None:
    """The hook described by ORION_FAULT_STORAGE, or None when it is unset."""
    env = os.environ if environ is None else environ
    spec = env.get(ENV_VAR)
    if not spec:
        return None
    m = _SPEC.match(spec)
    if m is None:
        # A typo must not silently turn a fault test into a passing no-fault run.
        raise ValueError(f'{ENV_VAR}={spec!r}: expected "k" or "k+" with k >= 1')
    hook = FailNth(int(m.group(1)), onwards=bool(m.group(2)))
    log.warning("storage fault injection active: %s=%s", ENV_VAR, spec)
    return hook
