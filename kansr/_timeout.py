"""Run a (sympy) computation under a wall-clock limit, where the platform allows it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["call_with_timeout"]

T = TypeVar("T")


class _Timeout(BaseException):
    """Raised by the alarm handler; a BaseException so sympy's ``except Exception`` won't eat it."""


def call_with_timeout(func: Callable[[], T], timeout: float | None) -> T:
    """Run ``func`` with a SIGALRM time limit; raise ``TimeoutError`` when it runs out.

    Without SIGALRM, outside the main thread, or while another interval timer is armed (e.g.
    pytest-timeout), ``func`` runs without a limit.
    """
    usable = (
        timeout is not None
        and timeout > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        return func()

    def _handler(signum, frame):
        raise _Timeout

    try:
        old_handler = signal.signal(signal.SIGALRM, _handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            return func()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
    except _Timeout:
        raise TimeoutError(f"computation exceeded {timeout} s") from None
