"""A decomposition's structure kept, its parts matched again on the data by backfitting.

The parts of a formula read off a network are matched on the network's slices, so each
carries the network's error where it is flat or small: ``1/(E_n**(-1) + g(c)*h(m)*k(theta))``
comes back with the right tree but ``k`` a parabola instead of ``1 - cos(theta)``. With the
tree fixed every part can be matched on the data instead: the values a part must take are
the data's ``y`` with the rest of the tree undone (``1/y - rest`` above), and those are as
accurate as the rest is. Sweeping over the parts more than once lets each part use the
others' better forms (backfitting, as for additive models; AI Feynman recurses on the
data in the same way once a structure is known).
"""

from __future__ import annotations

import numpy as np
import sympy

from kansr.symbolic.decompose.parts import joined_argument, oriented_forms, relative_error
from kansr.symbolic.decompose.recursion import Recursion
from kansr.symbolic.expressions import evaluate

__all__ = ["backfitted"]

_SWEEPS = 2  # passes over the parts of each product or sum
_POINTS = 256  # data rows the parts are matched on
_MAX_DEPTH = 6  # levels of the tree descended


def backfitted(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, settings: Recursion
) -> sympy.Expr | None:
    """``expr`` with every part that is a function of one variable (or of one joined
    argument, ``q*V/(k*T)``) replaced by the form that best explains the values the data
    give it, through products, sums and reciprocals, each part changed only when that
    fits its values better; ``None`` when nothing changed. ``X (n, m)``, ``y (n,)``: the
    data in the symbols ``x0 .. x{m-1}`` of ``expr``."""
    step = max(1, len(y) // _POINTS)  # every step-th row: a fixed subsample
    new = _refit(expr, X[::step], np.asarray(y[::step], float), settings, 0)
    return None if new == expr else new


def _values(expr: sympy.Expr, X: np.ndarray, shape: tuple) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array(np.broadcast_to(evaluate(expr, X), shape), dtype=float)


def _argument(part: sympy.Expr) -> sympy.Expr | None:
    """The variable ``part`` is a function of: a column or a combination of columns
    (:func:`~kansr.symbolic.decompose.parts.joined_argument`) without fitted numbers in it
    (``1/(a*g(y) + 1/x)`` is no function of one joined variable but a tree to descend)."""
    argument = joined_argument(part)
    if argument is None or argument.atoms(sympy.Float):
        return None
    return argument


def _refit(
    expr: sympy.Expr, X: np.ndarray, values: np.ndarray, settings: Recursion, depth: int
) -> sympy.Expr:
    """``expr`` with its parts matched on ``values (n,)``, what ``expr`` should take at the
    rows of ``X``; ``expr`` itself where nothing fits better."""
    if (
        depth > _MAX_DEPTH
        or settings.deadline.expired()
        or not expr.free_symbols
        or not np.isfinite(values).all()
        or np.ptp(values) == 0
    ):
        return expr
    argument = _argument(expr)
    if argument is not None:
        if expr == argument or (expr.is_Pow and expr.base == argument):
            return expr  # a power of the variable: nothing to match again
        u = _values(argument, X, values.shape)
        if not np.isfinite(u).all():
            return expr
        forms = [f for f in oriented_forms(u, values, argument, settings, X) if f != expr]
        return min([expr, *forms], key=lambda f: relative_error(f, X, values))
    if expr.is_Pow and expr.exp == -1:
        with np.errstate(all="ignore"):
            inverse = 1 / values
        base = _refit(expr.base, X, inverse, settings, depth + 1)
        return expr if base == expr.base else 1 / base
    if expr.is_Mul or expr.is_Add:
        return _refit_parts(expr, X, values, settings, depth)
    return expr


def _refit_parts(
    expr: sympy.Expr, X: np.ndarray, values: np.ndarray, settings: Recursion, depth: int
) -> sympy.Expr:
    """A product or sum with each part (the factors or terms of one argument joined)
    matched on ``values`` with the others undone, :data:`_SWEEPS` times over (a part
    again only when another changed since); a part is kept unless its new form makes the
    whole fit ``values`` better."""
    join = sympy.Mul if expr.is_Mul else sympy.Add
    by_argument: dict[object, list[sympy.Expr]] = {}
    for k, part in enumerate(expr.as_ordered_factors() if expr.is_Mul else expr.as_ordered_terms()):
        key = _argument(part)
        by_argument.setdefault(k if key is None else key, []).append(part)
    parts = [join(*own) for own in by_argument.values()]
    fitted_at = [-1] * len(parts)  # the number of changes when each part was last matched
    changes = 0
    error = relative_error(join(*parts), X, values)  # of the whole, as it stands
    for _ in range(_SWEEPS):
        for k in range(len(parts)):
            part = parts[k]
            if not part.free_symbols or settings.deadline.expired():
                continue
            if fitted_at[k] >= 0 and changes == fitted_at[k]:
                continue  # the rest is as it was when this part was matched
            fitted_at[k] = changes
            rest = _values(join(*parts[:k], *parts[k + 1 :]), X, values.shape)
            with np.errstate(all="ignore"):
                own = values / rest if expr.is_Mul else values - rest
            new = _refit(part, X, own, settings, depth + 1)
            if new == part:
                continue
            trial = [*parts[:k], new, *parts[k + 1 :]]
            trial_error = relative_error(join(*trial), X, values)
            if trial_error < error:
                parts, error, changes = trial, trial_error, changes + 1
                fitted_at[k] = changes
    return join(*parts)
