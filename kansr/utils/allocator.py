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
_applied: bool | None = None  # the outcome of the one attempt in this process (None: not yet)


def tune_allocator() -> bool:
    """Raise glibc's malloc thresholds, at most once per process; return whether they are set.

    What it changes, for the whole process (every later allocation of every library, not only
    torch's): ``mallopt(M_MMAP_THRESHOLD, 64 MiB)``, so blocks up to 64 MiB come from the heap
    instead of a fresh ``mmap``, and ``mallopt(M_TRIM_THRESHOLD, 256 MiB)``, so up to 256 MiB
    of freed heap stay with the process instead of going back to the OS. This also turns off
    glibc's dynamic adjustment of both thresholds.

    Why: training frees and re-allocates the same 0.1–10 MB buffers every step; with the
    defaults each step page-faults them in again (25–60 % of a step on 2 cores). The cost is
    that up to 256 MiB of freed memory stays in the process's resident size. Numbers computed
    are never affected.

    Only the first call acts; later calls return its outcome and change nothing. Nothing is
    changed when the platform lacks the call (not Linux, or a C library without ``mallopt``
    such as musl) or when ``KANSR_NO_MALLOC_TUNING`` is set at that first call.
    """
    global _applied
    if _applied is None:
        _applied = _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    """Call glibc's ``mallopt`` for both thresholds; ``False`` without touching anything when
    it is not available or tuning is switched off."""
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
    return mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
