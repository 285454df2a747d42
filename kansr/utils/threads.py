"""Thread counts during a fit: torch's intra-op threads and the BLAS threads of numpy/scipy.

Both are settings of the whole process. A fit sets them for its duration and restores the
caller's afterwards; under a thread-based joblib backend several fits or restarts run at
once, so the first one in saves the caller's counts and the last one out restores them.

A fixed BLAS thread count also keeps a formula independent of the machine's cores: the
searches' linear algebra (Gram matrices, eigenvectors, least squares) is rounded differently
with more threads, and decisions made at rounding level (is this coefficient 0?) could go
either way.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
from threadpoolctl import threadpool_limits

__all__ = ["compute_threads"]

_LOCK = threading.Lock()
_users = 0  # blocks inside compute_threads(n) in this process
_saved_torch = 0  # torch's count to restore when the last one leaves
_saved_blas: threadpool_limits | None = None  # restores the BLAS counts when the last one leaves


@contextlib.contextmanager
def compute_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads and ``n`` BLAS threads (``None``: leave both as
    they are), then restore the caller's counts."""
    global _users, _saved_torch, _saved_blas
    if n is None:
        yield
        return
    with _LOCK:
        if _users == 0:
            _saved_torch = torch.get_num_threads()
            _saved_blas = threadpool_limits(limits=n, user_api="blas")
        else:
            threadpool_limits(limits=n, user_api="blas")
        _users += 1
        torch.set_num_threads(n)
    try:
        yield
    finally:
        with _LOCK:
            _users -= 1
            if _users == 0:
                torch.set_num_threads(_saved_torch)
                if _saved_blas is not None:
                    _saved_blas.restore_original_limits()
                _saved_blas = None
