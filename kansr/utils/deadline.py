"""Time budgets: one :class:`Deadline` for every stage of a fit, and sympy calls under a limit.

A fit's ``max_time`` becomes one :class:`Deadline`; training, each search and each sympy call
asks it how long is left (:meth:`Deadline.remaining`), hands a sub-search a share of it
(:meth:`Deadline.share`), or gives worker processes its wall-clock form (:meth:`Deadline.wall`,
comparable between processes and machines).

The limits that only guard against a runaway computation (a sympy simplification, a snapping
loop) count the calling thread's CPU time instead (:class:`CpuBudget`,
:func:`call_with_timeout`): what such a computation gets done before its limit, and with it
the formula, must not depend on how many other processes share the machine. A wall-clock
limit measured beside another benchmark run cut simplifications that finish alone.
"""

from __future__ import annotations

import gc
import math
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["CpuBudget", "Deadline", "OutOfTime", "call_with_timeout"]

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

    def wall(self) -> float | None:
        """The ``time.time()`` form, for other processes (``None`` without a deadline)."""
        return time.time() + self.remaining() if self.bounded else None

    def __repr__(self) -> str:
        if not self.bounded:
            return "Deadline(none)"
        return f"Deadline(in {self.remaining():.3g} s)"


class CpuBudget:
    """``seconds`` of the calling thread's CPU time (``time.thread_time``) from now.

    Unlike a :class:`Deadline` it does not shrink while other processes take the CPU, so a
    loop bounded by it does the same work on a busy machine as on an idle one (up to a few
    per cent: shared caches).
    """

    __slots__ = ("seconds", "start")

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.start = time.thread_time()

    def remaining(self) -> float:
        """CPU seconds left (negative once spent)."""
        return self.seconds - (time.thread_time() - self.start)

    def expired(self) -> bool:
        """Whether the CPU seconds are spent."""
        return self.remaining() <= 0

    def __repr__(self) -> str:
        return f"CpuBudget({self.remaining():.3g} of {self.seconds:.3g} s left)"


class _Timeout(BaseException):
    """Raised by the alarm handler; a BaseException so sympy's ``except Exception`` won't eat it."""


_ALARM_REPEAT = 0.05  # seconds between checks once a limit may have passed
WAIT_FACTOR = 10.0  # a call is also stopped after this many times its limit in wall-clock time


def call_with_timeout(
    func: Callable[[], T], timeout: float | None, deadline: Deadline | None = None
) -> T:
    """Run ``func`` for at most ``timeout`` seconds of this thread's CPU time and not past
    ``deadline`` (wall clock, e.g. a fit's ``max_time``); raise ``TimeoutError`` when either
    runs out.

    CPU time, so that where a long sympy call is cut does not depend on the machine's load
    (:class:`CpuBudget`). A call that waits rather than computes is stopped once
    :data:`WAIT_FACTOR` times ``timeout`` seconds have passed on the wall clock. SIGALRM
    checks the limits: first when ``timeout`` wall-clock seconds have passed (no thread gets
    more CPU time than that), then every ``_ALARM_REPEAT`` seconds until one has run out and
    the alarm stops ``func``. An alarm that lands in a weakref callback or a finalizer raises
    where Python can only report the exception, not propagate it, so the alarm repeats; while
    the garbage collector runs (its callbacks, finalizers, weakref callbacks) an alarm waits
    for the next one.

    A ``timeout`` of ``None`` or ``inf`` is no limit; one of 0 or less, or a ``deadline``
    passed already, raises ``TimeoutError`` at once. Without SIGALRM, outside the main thread,
    or while another interval timer is armed (e.g. pytest-timeout), ``func`` runs without a
    limit.
    """
    deadline = deadline or Deadline()
    if (timeout is not None and timeout <= 0) or deadline.expired():
        raise TimeoutError(f"no time left for the computation ({timeout} s)")
    limited = timeout is not None and math.isfinite(timeout)
    usable = (
        (limited or deadline.bounded)
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        return func()
    cpu = CpuBudget(timeout if limited else math.inf)
    wall = deadline.earliest(Deadline.after(WAIT_FACTOR * timeout) if limited else Deadline())
    first_check = max(min(cpu.seconds, wall.remaining()), 1e-4)
    armed, collecting = True, False

    def _handler(signum, frame):
        if armed and not collecting and (cpu.expired() or wall.expired()):
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
            signal.setitimer(signal.ITIMER_REAL, first_check, _ALARM_REPEAT)
            return func()
        finally:
            armed = False  # an alarm from here on is ignored, then none comes
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        if cpu.expired():
            spent = f"{timeout} s of CPU time"
        elif deadline.expired():
            spent = "its deadline"
        else:
            spent = f"{WAIT_FACTOR * timeout:g} s of wall-clock time (waiting)"
        raise TimeoutError(f"computation exceeded {spent}") from None
    finally:
        signal.signal(signal.SIGALRM, old_handler)
        for callback in (_collection_starts, _collection_ends):
            if callback in gc.callbacks:
                gc.callbacks.remove(callback)
