"""Products of signed powers times one function: ``C * prod_i x_i^p_i * g(x_j)``.

The product search of :mod:`kansr.symbolic.structure.search` fits splines of ``log|y|`` in
each variable, which needs a target of one sign, and a spline of ``x`` cannot follow
``log|x|`` when ``x`` spans decades on both sides of 0 (a dipole moment ``p_d`` from
``-1e-21`` to ``1e-21``). Here ``log|y|`` is regressed on ``log|x_i|`` directly: for a law
``C * prod_i x_i^p_i * g(x_j)`` with independently drawn variables, the term
``log|g(x_j)|`` is independent of the others, so the exponents come out unbiased whatever
``g`` is. They are snapped to integers (halves for positive variables), the monomial is
divided out, signs included, and what is left is matched as one function of the remaining
variable (``c*f(a*x + b) + d``), or as a constant.

Only a proposal: the candidates are refit and judged on the Pareto front like any other.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy

from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.matching import match_edges
from kansr.utils.deadline import Deadline

__all__ = ["signed_product_formulas"]

_SNAP_TOL = 0.1  # an exponent within this of an integer (or a half) is that number
_TRIM = 0.1  # share of rows of lowest residual (log|g| near a zero of g) left out of the refit
_MIN_ROWS = 20


def _snapped(p: float, positive: bool) -> Fraction | None:
    """``p`` as an integer, or a half for a positive variable, when within ``_SNAP_TOL``."""
    for q in (1, 2) if positive else (1,):
        frac = Fraction(round(p * q), q)
        if abs(float(frac) - p) <= _SNAP_TOL:
            return frac
    return None


def _exponents(X: np.ndarray, y: np.ndarray, cols: list[int]) -> np.ndarray | None:
    """Least squares of ``log|y|`` on ``log|x_i|`` (``i`` in ``cols``) and a constant, refit
    without the rows of lowest residual (where a factor ``g`` is near a zero)."""
    keep = (np.abs(y) > 0) & np.all(np.abs(X[:, cols]) > 0, axis=1)
    if keep.sum() < _MIN_ROWS:
        return None
    design = np.column_stack([np.log(np.abs(X[keep][:, cols])), np.ones(int(keep.sum()))])
    target = np.log(np.abs(y[keep]))
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ coef
    upper = resid >= np.quantile(resid, _TRIM)
    coef, *_ = np.linalg.lstsq(design[upper], target[upper], rcond=None)
    return coef[:-1]


def _matched_factor(x: np.ndarray, z: np.ndarray, symbol, library: SymbolicLibrary, deadline):
    """The best library match ``c*f(a*x + b) + d`` of ``z`` over ``x`` (sympy), or ``None``
    (matched on ``z`` scaled to unit RMS)."""
    scale = float(np.sqrt(np.mean(z**2)))
    if not 0 < scale < np.inf:
        return None
    matches = match_edges(
        x[None, :], z[None, :] / scale, library, top=1, projected=False, deadline=deadline
    )
    if not matches.names[0]:
        return None
    fn = library[matches.names[0][0]]
    if fn.complexity == 0 or not np.isfinite(matches.relative_error[0, 0]):
        return None
    a, b, c, d = (float(v) for v in matches.params[0, 0])
    a, b, c, d = (sympy.Float(v, 15) for v in (a, b, c * scale, d * scale))
    return c * fn.sympy_expr(a * symbol + b) + d


def signed_product_formulas(
    X: np.ndarray,
    y: np.ndarray,
    symbols: list[sympy.Symbol],
    library: SymbolicLibrary,
    deadline: Deadline | None = None,
) -> list[sympy.Expr]:
    """Raw candidates ``C * prod_{i != j} x_i^p_i * g(x_j)`` for ``X (n, m)``, ``y (n,)``: one
    with no ``g`` (a signed monomial) and one per column ``j`` (not yet refit); ``deadline``
    stops the matching of ``g``."""
    n, m = X.shape
    loggable = [i for i in range(m) if np.all(X[:, i] != 0)]
    if n < _MIN_ROWS or not loggable or not np.all(np.isfinite(y)):
        return []
    out = []
    for j in [None, *range(m)]:
        cols = [i for i in loggable if i != j]
        if not cols:
            continue
        powers = _exponents(X, y, cols)
        if powers is None:
            continue
        snapped = [
            _snapped(float(p), bool(np.all(X[:, i] > 0))) for i, p in zip(cols, powers, strict=True)
        ]
        if any(s is None for s in snapped) or all(s == 0 for s in snapped):
            continue
        monomial, values = sympy.Integer(1), np.ones(n)
        for i, s in zip(cols, snapped, strict=True):
            if s != 0:
                monomial *= symbols[i] ** sympy.Rational(s.numerator, s.denominator)
                values = values * np.power(X[:, i], float(s))
        with np.errstate(all="ignore"):
            z = y / values
        if not np.all(np.isfinite(z)):
            continue
        if j is None:
            out.append(sympy.Float(float(np.mean(z)), 15) * monomial)
            continue
        factor = _matched_factor(X[:, j], z, symbols[j], library, deadline)
        if factor is not None:
            out.append(monomial * factor)
    return out
