"""Temperatures on a scale with an arbitrary zero (°C, °F): the forms that do not depend on it.

A Celsius or Fahrenheit temperature is an *interval* scale: its zero is a convention, so a
law cannot depend on where it lies. ``exp(a + b*T)``, ``a + b*T`` and ``a*(T + c)**4`` are
laws of the same form whatever the zero (a fitted constant takes the shift), while
``a*T**4``, ``a*T`` or ``a + b*log(T)`` in °F are other laws in K: a power law of boiling
points in °F is a statement about the Fahrenheit scale, not about water. The dimension check
of :mod:`kansr.symbolic.units` cannot see this (°F and K are both temperatures), so a formula
of such a feature is also checked for being *closed under a shift of the zero*
(:func:`shift_closed`): moving the zero by ``d`` changes the formula's values by
``d * df/dT``, which its constants ``c`` must be able to follow, so ``df/dT`` must lie in the
span of the columns ``df/dc`` on the data's rows (the infinitesimal form of "the same formula
with other constants"). A target on such a scale asks the same of the column of ones. A
formula that is not closed is repaired by measuring the feature from a fitted zero,
``T -> T + c`` with ``c`` starting at the scale's absolute zero (a formula in absolute
temperature, refit), and the target by an added fitted constant.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy

from kansr.symbolic.expressions import evaluate, refit_constants
from kansr.symbolic.uncertainty import constants_jacobian

__all__ = ["OFFSET_ZEROS", "offset_of", "shift_closed", "shift_repaired"]

# the absolute zero of each scale, in the scale's own degrees below its zero
OFFSET_ZEROS = {"degC": 273.15, "°C": 273.15, "degF": 459.67, "°F": 459.67}
# share of a shift's effect that the constants may fail to follow (squared norm): closed
# formulas leave rounding (~1e-25); ``a*bp**4`` of boiling points in °F (194-212) leaves 1e-4
_CLOSED_TOLERANCE = 1e-8


def offset_of(unit: str | None) -> float | None:
    """The absolute zero below the zero of ``unit`` (459.67 for ``"degF"``) when ``unit`` is
    a bare temperature on an interval scale, else ``None`` (``"K"``, ``"degC/s"``: a rate is
    a difference of temperatures, on a ratio scale)."""
    if not isinstance(unit, str):
        return None
    return OFFSET_ZEROS.get(unit.strip())


def _followed(direction: np.ndarray, jac: np.ndarray | None) -> bool:
    """Whether ``direction (n,)`` lies in the span of the columns of ``jac (n, p)`` (up to
    :data:`_CLOSED_TOLERANCE` of its squared norm; ``None``: no constants)."""
    if not np.all(np.isfinite(direction)):
        return False
    size = float(direction @ direction)
    if size == 0.0:
        return True
    if jac is None or jac.shape[1] == 0:
        return False
    norms = np.linalg.norm(jac, axis=0)
    basis = jac[:, norms > 0] / norms[norms > 0]
    if basis.shape[1] == 0:
        return False
    coef, *_ = np.linalg.lstsq(basis, direction, rcond=None)
    missed = direction - basis @ coef
    return float(missed @ missed) <= _CLOSED_TOLERANCE * size


def _open_symbols(
    expr: sympy.Expr, X: np.ndarray, offsets: Mapping[sympy.Symbol, float]
) -> list[sympy.Symbol]:
    """The features of ``offsets`` (by symbol ``x{i}``) that ``expr`` holds and is not closed
    under a shift of."""
    used = [s for s in offsets if s in expr.free_symbols]
    if not used:
        return []
    jac, _ = constants_jacobian(expr, X)
    return [s for s in used if not _followed(evaluate(sympy.diff(expr, s), X), jac)]


def _target_open(expr: sympy.Expr, X: np.ndarray, y_offset: float | None) -> bool:
    if y_offset is None:
        return False
    jac, _ = constants_jacobian(expr, X)
    return not _followed(np.ones(len(X)), jac)


def shift_closed(
    expr: sympy.Expr,
    X: np.ndarray,
    offsets: Mapping[sympy.Symbol, float],
    y_offset: float | None = None,
) -> bool:
    """Whether ``expr`` (in symbols ``x{i}``) keeps its form, with other constants, when each
    feature of ``offsets`` (by symbol: the shift to its absolute zero) is measured from
    another zero, and when the target is (``y_offset`` not ``None``), on the rows of
    ``X (n, m)``."""
    try:
        return not _open_symbols(expr, X, offsets) and not _target_open(expr, X, y_offset)
    except (ValueError, TypeError, ArithmeticError):
        return False


def shift_repaired(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    offsets: Mapping[sympy.Symbol, float],
    y_offset: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[sympy.Expr, float] | None:
    """``expr`` made :func:`shift_closed`, refit to ``X (n, m), y (n,)``, and its mean squared
    error, or ``None`` when that fails: each feature it is not closed under is measured from
    a fitted zero (``T -> T + c``; of the fits with ``c`` starting at the scale's own zero and
    at the absolute zero, the one of lower loss), and a fitted constant is added where the
    target is not."""
    try:
        open_symbols = _open_symbols(expr, X, offsets)
    except (ValueError, TypeError, ArithmeticError):
        return None
    best = None
    for start in (_ALMOST_ZERO, 1.0):  # the zero kept (the formula's values), the absolute
        shifts = {s: s + sympy.Float(start * offsets[s], 15) for s in open_symbols}
        trial = _refit_closed(expr.xreplace(shifts), X, y, offsets, y_offset, sample_weight)
        if trial is not None and (best is None or trial[1] < best[1]):
            best = trial
    return best


# a zero moved by this share of the absolute zero starts at the formula's own values (sympy
# drops an added 0.0)
_ALMOST_ZERO = 1e-9


def _refit_closed(expr, X, y, offsets, y_offset, sample_weight):
    """``expr`` with a fitted constant added where the target is not closed, refit, and its
    loss; ``None`` when it is not finite or not :func:`shift_closed`."""
    try:
        if _target_open(expr, X, y_offset):
            residual = float(np.mean(y - evaluate(expr, X)))
            expr = expr + sympy.Float(residual if residual else _ALMOST_ZERO, 15)
        fitted, loss = refit_constants(expr, X, y, sample_weight=sample_weight)
        if not np.isfinite(loss) or not shift_closed(fitted, X, offsets, y_offset):
            return None
    except (ValueError, TypeError, ArithmeticError):
        return None
    return fitted, float(loss)
