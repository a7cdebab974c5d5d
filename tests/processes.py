"""Process checks the tests share."""

from __future__ import annotations

import os


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (killed, not yet reaped by
    its parent: gone for every purpose a test checks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False
