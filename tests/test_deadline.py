"""``kansr.utils.deadline``: sympy calls under a time limit."""

import gc
import signal
import sys
import time
import weakref

import pytest

from kansr.utils.deadline import Deadline, call_with_timeout

needs_alarm = pytest.mark.skipif(
    not hasattr(signal, "setitimer") or signal.getitimer(signal.ITIMER_REAL)[0] != 0,
    reason="needs SIGALRM and no other interval timer",
)


def _busy(seconds: float) -> str:
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass
    return "finished"


@needs_alarm
def test_a_call_within_its_limit_returns_and_leaves_no_alarm_behind():
    before = signal.getsignal(signal.SIGALRM)
    assert call_with_timeout(lambda: _busy(0.01), 5.0) == "finished"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


@needs_alarm
def test_a_call_past_its_limit_raises_timeout_error_and_restores_the_handler():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(TimeoutError, match="exceeded 0.1 s"):
        call_with_timeout(lambda: _busy(30.0), 0.1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


@needs_alarm
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_alarm_swallowed_by_a_weakref_callback_fires_again():
    # the first alarm lands in a weakref callback, where Python only reports an exception;
    # the call must still be stopped (it ran on to the end before)
    class Held:
        pass

    def work() -> str:
        held = Held()
        ref = weakref.ref(held, lambda _: _busy(0.4))  # the limit passes in here
        del held
        assert ref() is None
        return _busy(3.0)

    with pytest.raises(TimeoutError):
        call_with_timeout(work, 0.1)


@needs_alarm
def test_an_alarm_during_garbage_collection_waits_for_its_end(monkeypatch):
    # an alarm raised in a gc callback can only be reported ("Exception ignored in ..."
    # on stderr); it must wait for the collection to end, then stop the call
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def slow_callback(phase, info):
        if phase == "start":
            _busy(0.4)  # the limit passes in here

    def work() -> str:
        gc.collect()
        return _busy(3.0)

    gc.callbacks.append(slow_callback)
    before = list(gc.callbacks)
    try:
        with pytest.raises(TimeoutError):
            call_with_timeout(work, 0.1)
        assert gc.callbacks == before  # its own callbacks are gone
    finally:
        gc.callbacks.remove(slow_callback)
    assert reported == []


def test_without_a_limit_the_call_just_runs():
    assert call_with_timeout(lambda: "done", None) == "done"
    assert call_with_timeout(lambda: "done", Deadline().remaining()) == "done"  # inf


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_a_limit_already_passed_raises_before_the_call(timeout):
    calls = []
    with pytest.raises(TimeoutError, match="no time left"):
        call_with_timeout(lambda: calls.append(1), timeout)
    assert calls == []


@needs_alarm
def test_the_limit_counts_cpu_time_not_time_spent_waiting():
    # a computation that does not run (here it sleeps; on a busy machine other processes
    # hold the CPU) does not use up its limit: where a simplification is cut, and with it
    # the formula, must not depend on the machine's load
    def wait_then_compute() -> str:
        time.sleep(0.3)
        return _busy(0.02)

    assert call_with_timeout(wait_then_compute, 0.1) == "finished"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@needs_alarm
def test_a_call_that_only_waits_is_stopped_after_wait_factor_times_its_limit():
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="waiting"):
        call_with_timeout(lambda: time.sleep(30.0), 0.02)
    assert time.perf_counter() - start < 10.0  # stopped near WAIT_FACTOR * 0.02 s


@needs_alarm
def test_a_wall_clock_deadline_stops_a_call_within_its_cpu_limit():
    with pytest.raises(TimeoutError, match="deadline"):
        call_with_timeout(lambda: time.sleep(30.0), 60.0, Deadline.after(0.1))
    with pytest.raises(TimeoutError, match="no time left"):
        call_with_timeout(lambda: "never", 60.0, Deadline.after(-1.0))


def test_a_cpu_budget_does_not_shrink_while_the_thread_waits():
    from kansr.utils.deadline import CpuBudget

    budget = CpuBudget(0.05)
    time.sleep(0.1)
    assert not budget.expired() and budget.remaining() > 0.03
    start = time.thread_time()
    while time.thread_time() - start < 0.06:  # 0.06 s of CPU time, however long that takes
        pass
    assert budget.expired()
