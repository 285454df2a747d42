"""The additive terms of a formula: their coefficients refit by linear least squares, and the
terms the data do not need dropped (a sparse regression on the formula's own terms).

A network writes ``x*y`` as a sum of squares, which expands to ``a x^2 + b x y + c y^2 + ...``
with ``a, c`` small but not zero after a nonlinear refit; refitting the coefficients of the
terms *linearly* gives ``a = c = 0`` to rounding on exact data, and dropping terms while the
loss stays within budget removes them (and, on noisy data, terms that fit only the noise).
"""

from __future__ import annotations

import numpy as np
import sympy

from kansr.symbolic.expressions import evaluate, n_rows

__all__ = ["prune_terms"]

_MAX_TERMS = 1000  # larger sums are left as they are (five near-squares times a sum of two: 486)
_MAX_ELIMINATION = 40  # terms left for backward elimination (quadratic in their number)


def _design(terms: list[sympy.Expr], X: np.ndarray) -> np.ndarray | None:
    """Columns ``(n, len(terms))`` of the terms' values; ``None`` when one is not finite."""
    columns = []
    for term in terms:
        try:
            values = evaluate(term, X)
        except (ValueError, TypeError, ArithmeticError, RecursionError):
            return None
        if not np.all(np.isfinite(values)):
            return None
        columns.append(values)
    return np.column_stack(columns)


def _fit(design: np.ndarray, y: np.ndarray, w: np.ndarray | None, keep: np.ndarray):
    """Least-squares coefficients of the ``keep`` columns and the (weighted) mean squared
    error."""
    root = np.ones(len(y)) if w is None else np.sqrt(w)
    A = design[:, keep] * root[:, None]
    coef, *_ = np.linalg.lstsq(A, y * root, rcond=None)
    resid = A @ coef - y * root
    return coef, float(np.mean(resid**2))


def prune_terms(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    floor: float,
    sample_weight: np.ndarray | None = None,
) -> tuple[sympy.Expr, float] | None:
    """``expr`` (a sum) with the coefficients of its terms refit linearly on ``X (n, m)``,
    ``y (n,)`` and, one at a time, the terms whose removal costs least dropped while the
    mean squared error stays within the budget of the full refit's loss ``L``: ``max(L (1 +
    4/(n - k)), floor)`` for ``k`` terms (removing a term may cost 4 residual variances in
    all, what a coefficient two standard errors from zero costs; ``floor``: the rounding or
    tolerance level, e.g. ``1e-6 var(y)``). ``None`` when ``expr`` is not a sum of at least
    two terms that can be evaluated.
    Terms that each explain less than 1 % of ``floor`` are dropped together first (a wide
    network's formula carries hundreds of terms with coefficients of 1e-9), the rest one by
    one while at most 40 remain.
    """
    if not expr.is_Add or len(expr.args) < 2 or len(expr.args) > _MAX_TERMS:
        return None
    terms = [sympy.Integer(1)] + [t.as_coeff_Mul()[1] for t in expr.args if not t.is_Number]
    terms = list(dict.fromkeys(terms))  # (a number and a term may share a shape)
    design = _design(terms, X)
    if design is None:
        return None
    keep = np.ones(len(terms), dtype=bool)
    coef, loss = _fit(design, y, sample_weight, keep)
    if not np.isfinite(loss):
        return None
    budget = max(loss * (1 + 4.0 / max(n_rows(y, sample_weight) - len(terms), 1)), floor)
    keep, coef, loss = _drop_negligible(design, y, sample_weight, keep, coef, loss, budget, floor)
    while 1 < keep.sum() <= _MAX_ELIMINATION:
        trials = []
        for j in np.flatnonzero(keep):
            trial = keep.copy()
            trial[j] = False
            trials.append((_fit(design, y, sample_weight, trial)[1], j))
        best_loss, j = min(trials)
        if not best_loss <= budget:
            break
        keep[j] = False
        coef, loss = _fit(design, y, sample_weight, keep)
    out = sympy.Add(
        *(sympy.Float(float(c), 15) * t for c, t in zip(coef, np.array(terms)[keep], strict=True))
    )
    return out, loss


def _drop_negligible(design, y, w, keep, coef, loss, budget, floor):
    """Drop, all at once, the kept terms whose share (``coef**2 * var(term)``) is below 1 %
    of ``floor`` (the constant term stays), when the refit stays within ``budget``."""
    share = coef**2 * design[:, keep].var(axis=0)
    small = share < 0.01 * floor
    small[0] = False  # (column 0: the constant)
    if not small.any():
        return keep, coef, loss
    trial = keep.copy()
    trial[np.flatnonzero(keep)[small]] = False
    trial_coef, trial_loss = _fit(design, y, w, trial)
    if not trial_loss <= budget:
        return keep, coef, loss
    return trial, trial_coef, trial_loss
