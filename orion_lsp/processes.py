"""Whether a process still runs: one answer for the two places that ask.

The server exits when the editor that started it is gone (server.py), and the
ledger marks a turn interrupted only when the process that wrote it is gone
(storage/trace.py), so a second editor's server never closes a live turn.
"""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return False
    return True
