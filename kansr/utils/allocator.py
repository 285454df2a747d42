"""Keep glibc from returning freed tensor memory to the OS between training steps.

A KAN step allocates and frees many buffers of 0.1–10 MB. With glibc's default, such blocks
are served by ``mmap`` or trimmed from the heap top after ``free``, so every step page-faults
its buffers in again; on a 2-core machine that costs 25–60 % of a step. Raising the mmap and
trim thresholds (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do) keeps them in
the heap for reuse. It is process-wide and only affects memory *reuse*, never results. Set the
environment variable ``KANSR_NO_MALLOC_TUNING=1`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 64 * 2**20  # blocks above 64 MiB still come from mmap
_TRIM_THRESHOLD = 256 * 2**20  # keep at most 256 MiB of free heap
_done = False


def tune_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds once per process; return whether it was applied."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("KANSR_NO_MALLOC_TUNING"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    _done = ok
    return ok
