"""Giving freed heap back to the system after a cold build's churn.

A cold build streams tens of thousands of worker results (tags blobs, their
pickles, name lists) through the server. CPython frees them, but glibc keeps
the pages in its heap, fragmented among the long-lived index: measured at 9k
files, 116 MB resident before the final link of which 43 MB was free heap,
and 150 MB after the build against 103 MB for the same index loaded from its
snapshot (docs/benchmarks.md). `malloc_trim(0)` returns those pages (glibc
2.8+ also releases free pages inside the heap, not only at its top).
Elsewhere (macOS, musl) this is a no-op: their allocators return memory
on their own terms.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_trim: Callable[[int], int] | None = None
_looked_up = False


def release_free_heap() -> bool:
    """Return free heap pages to the system; True when the allocator could."""
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = libc.malloc_trim
        except (OSError, AttributeError):  # not glibc
            _trim = None
    if _trim is None:
        return False
    try:
        return bool(_trim(0))
    except OSError:
        log.debug("malloc_trim failed", exc_info=True)
        return False
