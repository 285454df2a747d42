"""Snap fitted constants to simple exact numbers, and round them for display."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import sympy

from kansr.symbolic.expressions import complexity, mse, n_rows, refit_constants
from kansr.symbolic.pareto import chosen_numbers, snap_gain
from kansr.symbolic.uncertainty import standard_errors
from kansr.utils.deadline import CpuBudget, Deadline, call_with_timeout

MAX_SNAP_NODES = 300  # larger expressions are not snapped (sympy rebuilds them per trial)
MAX_SNAP_DEPTH = 60  # nor deeper ones (sympy recurses through them)
SNAP_TIMEOUT = 5.0  # CPU seconds for all of one expression's snapping trials
_PRECISE = 1e-2  # 95 % interval (relative) below which less simple numbers are tried

_SIMPLE_FRACTIONS = sorted(
    {Fraction(p, q) for q in (1, 2, 3, 4, 5, 6, 8) for p in range(-24, 25)},
    key=lambda f: abs(f.denominator),
)


# constants of physics formulas beyond fractions, tried in this order
_IRRATIONAL_FACTORS = (
    sympy.pi,
    1 / sympy.pi,
    sympy.pi**2,
    1 / sympy.pi**2,
    sympy.sqrt(2),
    sympy.sqrt(sympy.pi),
    1 / sympy.sqrt(sympy.pi),
    1 / sympy.sqrt(2 * sympy.pi),
)


def snap_constant(value: float, rel_tol: float = 1e-3) -> sympy.Expr | None:
    """A simple exact number within ``rel_tol`` of ``value`` (integer, p/q with q <= 6 or
    q = 8, or such a fraction times pi, 1/pi, pi**2, 1/pi**2, sqrt(2), sqrt(pi), 1/sqrt(pi)
    or 1/sqrt(2*pi)), or ``None``: the first of :func:`snap_candidates`."""
    return next(iter(snap_candidates(value, rel_tol)), None)


def snap_candidates(value: float, rel_tol: float = 1e-3, limit: int = 4) -> list[sympy.Expr]:
    """Up to ``limit`` simple exact numbers within ``rel_tol`` of ``value``, simplest first
    (fractions by denominator, then multiples of pi, 1/pi, ... in that order)."""
    if not np.isfinite(value):
        return []
    if abs(value) < 1e-8:
        return [sympy.Integer(0)]
    scale = max(abs(value), 1e-12)
    found: list[sympy.Expr] = []
    for frac in _SIMPLE_FRACTIONS:
        if abs(float(frac) - value) <= rel_tol * scale:
            found.append(sympy.Rational(frac.numerator, frac.denominator))
    for factor in _IRRATIONAL_FACTORS:
        unit = float(factor)
        for frac in _SIMPLE_FRACTIONS:
            if frac != 0 and abs(float(frac) * unit - value) <= rel_tol * scale:
                found.append(sympy.Rational(frac.numerator, frac.denominator) * factor)
    return found[:limit]


def within_size(expr: sympy.Basic, max_nodes: int, max_depth: int = MAX_SNAP_DEPTH) -> bool:
    """Whether the tree of ``expr`` has at most ``max_nodes`` nodes and ``max_depth`` levels
    (counted without recursion, stopping at the first node over either limit)."""
    stack = [(expr, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes or depth > max_depth:
            return False
        stack.extend((arg, depth + 1) for arg in node.args)
    return True


def snap_constants(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    loss: float,
    budget: float,
    *,
    deadline: Deadline | None = None,
    max_nodes: int = MAX_SNAP_NODES,
    timeout: float = SNAP_TIMEOUT,
    sample_weight: np.ndarray | None = None,
    std_errors: dict[sympy.Float, float] | None = None,
) -> tuple[sympy.Expr, float]:
    """Replace the floats of ``expr`` by 0 or a simple exact number (:func:`snap_constant`),
    smallest first, one at a time, while the mean squared error on ``X, y`` (weighted by
    ``sample_weight``) stays within ``budget``. Returns the expression and its loss (``loss``
    when nothing was snapped).

    A simple number is a candidate for a constant when it lies within 1e-3 of it
    (relative), or, for the simplest numbers (integers, halves, thirds, quarters), within
    its 95 % confidence interval (two ``std_errors``, at most 10 % of the value): on noisy
    data the constants of the true law are off by about their standard error, far more
    than 1e-3, while a wide interval would admit too many less simple numbers. The less
    simple numbers (other fractions, multiples of pi, sqrt(2) ...) are tried only when the
    interval is narrower than 1 %: a measured 1.644 ± 0.05 stays 1.644, not pi**2/6.

    Bounded so that no sympy call can take a fit down: expressions over ``max_nodes`` nodes
    or :data:`MAX_SNAP_DEPTH` levels are returned as they are; a trial that fails in sympy
    (e.g. ``RecursionError`` while sympy re-evaluates the rebuilt tree) is skipped; snapping
    stops, keeping what was snapped, after ``timeout`` seconds of CPU time
    (:class:`~kansr.utils.deadline.CpuBudget`: the same work on a busy machine) or at ``deadline``.
    """
    if not within_size(expr, max_nodes):
        return expr, loss
    cpu, deadline = CpuBudget(timeout), deadline or Deadline()
    try:
        floats = sorted(expr.atoms(sympy.Float), key=lambda a: abs(float(a)))
    except Exception:  # noqa: BLE001 - sympy can fail on any input; the input stays valid
        return expr, loss
    for atom in floats:
        for exact in _options(float(atom), _tolerance(atom, std_errors)):
            if cpu.expired() or deadline.expired():
                return expr, loss
            try:
                trial, trial_loss = call_with_timeout(
                    functools.partial(_trial, expr, atom, exact, X, y, sample_weight),
                    cpu.remaining(),
                    deadline,
                )
            except TimeoutError:
                return expr, loss
            except Exception:  # noqa: BLE001 - sympy can fail (RecursionError too): skip it
                continue
            if trial is None:
                break  # (an earlier snap merged this float away)
            if trial_loss <= budget:
                expr, loss = trial, trial_loss
                break
    return expr, loss


MAX_REFIT_FLOATS = 8  # formulas with more floats are not snapped with refits
_REFIT_REACH = 4.0  # 0 within this many standard errors is tried with the others refit


def snap_with_refit(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    loss: float,
    budget: float,
    *,
    deadline: Deadline | None = None,
    timeout: float = SNAP_TIMEOUT,
    sample_weight: np.ndarray | None = None,
    max_floats: int = MAX_REFIT_FLOATS,
    floor: float = 0.0,
) -> tuple[sympy.Expr, float]:
    """Snap the floats of ``expr`` one at a time, refitting the others each time.

    The constants of a law fitted to noisy data are correlated: ``0.00147*g**2*h**1.082``
    is ``0.00211*g**2*h`` once the exponent is 1, and ``cos(0.9974*t + 0.0087)`` is
    ``cos(t)`` once the phase is 0, but replacing one constant alone moves the fit far off.
    The candidates are those of :func:`snap_constants` (0; integers, halves, thirds and
    quarters within the 95 % confidence interval; less simple numbers within 1e-3 when the
    interval is narrower than 1 %), tried simplest first over all the floats, then closest
    in standard errors. A candidate inside the interval (0: within
    4 standard errors, the criterion decides) replaces its float and the other
    floats are refit (unless the loss stays within ``budget`` without). A trial is kept
    when the information criterion that selects among the formulas does not rise (the loss
    grows by less than what the constant and the nodes it removes cost,
    :func:`~kansr.symbolic.pareto.snap_gain`: on 14 rows a fitted 19.2 is not worth a 19;
    on 1000 rows ``r + 0.003`` is ``r`` unless the shift is about 3.3 standard errors from
    0) or the loss stays below ``floor`` (rounding level on exact data); after each snap the
    standard errors are taken anew. Formulas with more than ``max_floats`` floats are
    returned as they are (:func:`snap_constants` takes them); bounded by ``timeout``
    seconds of CPU time and by ``deadline``.
    """
    if not within_size(expr, MAX_SNAP_NODES):
        return expr, loss
    cpu, deadline = CpuBudget(timeout), deadline or Deadline()
    n = n_rows(y, sample_weight)
    while 0 < (p := len(expr.atoms(sympy.Float))) <= max_floats and not (
        cpu.expired() or deadline.expired()
    ):
        for atom, exact, refit in _refit_trials(expr, X, y, sample_weight):
            if cpu.expired() or deadline.expired():
                return expr, loss
            try:
                trial, trial_loss = call_with_timeout(
                    functools.partial(
                        _refit_trial, expr, atom, exact, X, y, sample_weight, budget, refit
                    ),
                    cpu.remaining(),
                    deadline,
                )
            except TimeoutError:
                return expr, loss
            except Exception:  # noqa: BLE001 - sympy or torch failed: the next candidate
                continue
            saved = complexity(expr) - complexity(trial)
            gain = snap_gain(exact, n, p + chosen_numbers(expr), saved)
            allowed = max(loss * math.exp(gain / n), floor)
            if trial_loss <= allowed:
                expr, loss = trial, trial_loss
                break  # each snap removes a float: at most max_floats rounds
        else:
            break  # no candidate passed
    return expr, loss


def _refit_trials(expr, X, y, w) -> list[tuple[sympy.Float, sympy.Expr, bool]]:
    """``(float, candidate, inside its interval)`` for every snapping candidate of every
    float of ``expr``: simplest first (0 and integers, then by denominator, then multiples
    of pi ...), then closest in standard errors."""
    errors = standard_errors(expr, X, y, w)
    scored = []
    for position, atom in enumerate(sorted(errors, key=lambda a: (float(a), str(a)))):
        value, error = float(atom), errors[atom]
        if not math.isfinite(error):
            error = 0.0  # the interval is unknown: candidates within 1e-3, no refits
        tolerance = _tolerance(atom, {atom: error})
        for exact in dict.fromkeys(_options(value, tolerance)):  # (without repeats, in order)
            distance = abs(value - float(exact))
            rank = exact.q if isinstance(exact, sympy.Rational) else 10
            z = distance / error if error > 0 else math.inf
            reach = (
                max(_REFIT_REACH * error, 1e-3 * abs(value))
                if exact == 0
                else tolerance * abs(value)
            )
            scored.append((rank, z, position, atom, exact, error > 0 and distance <= reach))
    scored.sort(key=lambda t: t[:3])
    return [(atom, exact, inside) for *_, atom, exact, inside in scored]


def _refit_trial(expr, atom, exact, X, y, w, budget, refit) -> tuple[sympy.Expr, float]:
    """``expr`` with ``atom`` replaced by ``exact`` (and, with ``refit``, its other floats
    refit: skipped when the replacement alone is within ``budget``), and its loss."""
    trial = expr.xreplace({atom: exact})
    trial_loss = mse(trial, X, y, w)
    if trial_loss <= budget or not refit or not trial.atoms(sympy.Float):
        return trial, trial_loss
    return refit_constants(trial, X, y, sample_weight=w)


def _options(value: float, tolerance: float) -> list[sympy.Expr]:
    """Snapping candidates of a constant ``value`` whose relative 95 % interval is
    ``tolerance``: 0, then the simplest numbers inside the interval, then less simple ones
    within 1e-3, those only for a constant the data pin down (interval within 1 %): else
    the data cannot tell pi**2/6 from 1.644 or 5/3."""
    close = snap_candidates(value) if tolerance <= _PRECISE else []
    return [sympy.Integer(0), *_simplest_within(value, tolerance), *close]


def _simplest_within(value: float, rel_tol: float) -> list[sympy.Expr]:
    """Integers, halves, thirds and quarters within ``rel_tol`` of ``value``, simplest
    (smallest denominator) and then closest first."""
    if not (np.isfinite(value) and rel_tol > 1e-3):
        return []
    found = [
        frac
        for frac in _SIMPLE_FRACTIONS
        if frac.denominator <= 4 and abs(float(frac) - value) <= rel_tol * abs(value)
    ]
    found.sort(key=lambda f: (f.denominator, abs(float(f) - value)))
    return [sympy.Rational(f.numerator, f.denominator) for f in found[:2]]


def _tolerance(atom: sympy.Float, std_errors: dict[sympy.Float, float] | None) -> float:
    """Relative distance within which a simple number may replace ``atom``: 1e-3, or two
    standard errors (its 95 % confidence interval), at most 10 %."""
    value = abs(float(atom))
    error = (std_errors or {}).get(atom, 0.0)
    if not (value > 0 and math.isfinite(error)):
        return 1e-3
    return max(1e-3, min(0.1, 2.0 * error / value))


def _trial(expr, atom, exact, X, y, sample_weight=None) -> tuple[sympy.Expr | None, float]:
    """``expr`` with ``atom`` replaced by ``exact`` and its loss; ``(None, inf)`` when
    ``atom`` is no longer in ``expr``."""
    if atom not in expr.atoms(sympy.Float):
        return None, math.inf
    trial = expr.xreplace({atom: exact})
    return trial, mse(trial, X, y, sample_weight)


def round_expression(expr: sympy.Expr, digits: int = 4) -> sympy.Expr:
    """Round every float in ``expr`` to ``digits`` significant digits."""
    replacements = {}
    for atom in expr.atoms(sympy.Float):
        value = float(atom)
        if value == 0:
            replacements[atom] = sympy.Integer(0)
            continue
        rounded = float(f"{value:.{digits}g}")
        replacements[atom] = (
            sympy.Integer(int(rounded)) if rounded == int(rounded) else sympy.Float(rounded, digits)
        )
    return expr.xreplace(replacements)
