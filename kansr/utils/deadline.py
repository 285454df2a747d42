"""Time budgets: one :class:`Deadline` for every stage of a fit, and sympy calls under a limit.

A fit's ``max_time`` becomes one :class:`Deadline`; training, each search and each sympy call
asks it how long is left (:meth:`Deadline.remaining`), hands a sub-search a share of it
(:meth:`Deadline.share`), or gives worker processes its wall-clock form (:meth:`Deadline.wall`,
comparable between processes and machines).
"""

from __future__ import annotations

import gc
import math
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Deadline", "OutOfTime", "call_with_timeout"]

T = TypeVar("T")


class OutOfTime(Exception):
    """Raised inside a long computation (an LBFGS closure) when its deadline has passed.

    ``loss`` is the objective reached when the computation was stopped, when there is one.
    """

    def __init__(self, loss: float = math.nan) -> None:
        super().__init__("deadline passed")
        self.loss = loss


class Deadline:
    """A moment (``time.perf_counter()`` seconds) by which work must stop, or none.

    ``Deadline()`` and ``Deadline.after(None)`` never expire. Deadlines are values: the
    methods return new ones.
    """

    __slots__ = ("at",)

    def __init__(self, at: float = math.inf) -> None:
        self.at = float(at)

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """``seconds`` from now (``None``: no deadline)."""
        return cls() if seconds is None else cls(time.perf_counter() + float(seconds))

    @classmethod
    def from_wall(cls, wall: float | None) -> Deadline:
        """The deadline of a ``time.time()`` value (``None``: none), e.g. in a worker."""
        if wall is None:
            return cls()
        return cls(time.perf_counter() + (float(wall) - time.time()))

    @property
    def bounded(self) -> bool:
        """Whether there is a deadline at all."""
        return math.isfinite(self.at)

    def remaining(self) -> float:
        """Seconds left (negative once passed, ``inf`` without a deadline)."""
        return self.at - time.perf_counter() if self.bounded else math.inf

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.bounded and time.perf_counter() > self.at

    def share(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` of the remaining time from now (for a sub-search)."""
        if not self.bounded:
            return Deadline()
        return Deadline(time.perf_counter() + max(0.0, fraction * self.remaining()))

    def at_least(self, seconds: float) -> Deadline:
        """This deadline, but no sooner than ``seconds`` from now."""
        if not self.bounded:
            return self
        return Deadline(max(self.at, time.perf_counter() + seconds))

    def earliest(self, other: Deadline) -> Deadline:
        """The earlier of two deadlines."""
        return self if self.at <= other.at else other

    def timeout(self, cap: float) -> float:
        """Seconds a single call may take: the remaining time, at most ``cap``."""
        return min(float(cap), self.remaining())

    def wall(self) -> float | None:
        """The ``time.time()`` form, for other processes (``None`` without a deadline)."""
        return time.time() + self.remaining() if self.bounded else None

    def __repr__(self) -> str:
        if not self.bounded:
            return "Deadline(none)"
        return f"Deadline(in {self.remaining():.3g} s)"


class _Timeout(BaseException):
    """Raised by the alarm handler; a BaseException so sympy's ``except Exception`` won't eat it."""


_ALARM_REPEAT = 0.05  # seconds between alarms once the limit has passed


def call_with_timeout(func: Callable[[], T], timeout: float | None) -> T:
    """Run ``func`` with a SIGALRM time limit; raise ``TimeoutError`` when it runs out.

    Once the limit has passed the alarm repeats every ``_ALARM_REPEAT`` seconds until it
    stops ``func``: an alarm that lands in a weakref callback or a finalizer raises where
    Python can only report the exception, not propagate it, and ``func`` would run on. While
    the garbage collector runs (its callbacks, finalizers, weakref callbacks) an alarm waits
    for the next one.

    A ``timeout`` of ``None`` or ``inf`` is no limit; one of 0 or less has passed already
    (``TimeoutError`` at once). Without SIGALRM, outside the main thread, or while another
    interval timer is armed (e.g. pytest-timeout), ``func`` runs without a limit.
    """
    if timeout is not None and timeout <= 0:
        raise TimeoutError(f"no time left for the computation ({timeout} s)")
    usable = (
        timeout is not None
        and math.isfinite(timeout)
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        return func()
    armed, collecting = True, False

    def _handler(signum, frame):
        if armed and not collecting:
            raise _Timeout

    def _collection_starts(phase, info):  # first of gc.callbacks
        nonlocal collecting
        if phase == "start":
            collecting = True

    def _collection_ends(phase, info):  # last of gc.callbacks
        nonlocal collecting
        if phase == "stop":
            collecting = False

    old_handler = signal.signal(signal.SIGALRM, _handler)
    gc.callbacks.insert(0, _collection_starts)
    gc.callbacks.append(_collection_ends)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout, _ALARM_REPEAT)
            return func()
        finally:
            armed = False  # an alarm from here on is ignored, then none comes
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        raise TimeoutError(f"computation exceeded {timeout} s") from None
    finally:
        signal.signal(signal.SIGALRM, old_handler)
        for callback in (_collection_starts, _collection_ends):
            if callback in gc.callbacks:
                gc.callbacks.remove(callback)
