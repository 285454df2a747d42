"""Held-out error of a formula with its constants refit on the rest: choosing on small data.

On a few dozen rows the information criterion (:func:`~kansr.symbolic.pareto.information_criterion`)
cannot tell a law from a formula of as many constants that bends to the sample: it counts
the constants, not how far they move when a few rows change. K-fold cross-validation with
each formula's constants refit on every fold's training rows sees that. By default the
estimator uses it to check the constants of the criterion's choice: a formula of fewer
constants that predicts held-out rows at least as well replaces it
(:func:`fewer_constants_choice`), and when none does, a formula of one fitted constant more
that predicts them more than 5 % better (:func:`more_constants_choice`: the criterion's
price of a constant, ``ln n``, is an asymptotic one). With
``model_selection="cv"`` it also compares the few formulas that the criterion finds nearly
as good as its choice, whatever their constants; that is not the default: on the
measured-data benchmark it returned the published law less often (docs/benchmarks.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import sympy

from kansr.symbolic.expressions import evaluate, refit_constants
from kansr.symbolic.pareto import chosen_numbers

__all__ = [
    "CV_MAX_ROWS",
    "cross_validated_choice",
    "fewer_constants_choice",
    "fold_splits",
    "held_out_errors",
    "more_constants_choice",
]

CV_MAX_ROWS = 200  # larger data sets are left to the criterion (it is reliable there)
CV_MIN_ROWS = 5  # fewer rows are left to the criterion too (nothing to hold out)
CV_FOLDS = 5  # folds; data of fewer than 3 * CV_FOLDS rows are left out one row at a time
CV_REACH = 6.0  # nats above the lowest criterion within which formulas are compared
CV_MAX_CANDIDATES = 6  # at most this many formulas (lowest criterion first) are compared
CV_PARSIMONY = 1.05  # held-out errors within this factor of the lowest count as equal


Splits = list[tuple[np.ndarray, np.ndarray]]


def fold_splits(n: int, folds: int = CV_FOLDS, seed: int = 0) -> Splits:
    """``(train, test)`` row indices of ``folds`` shuffled folds of ``n`` rows (one row per
    fold below ``3 * folds`` rows), the same for the same ``n`` and ``seed``."""
    k = folds if n >= 3 * folds else n
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, k)
    return [
        (np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(part))
        for i, part in enumerate(parts)
    ]


def held_out_errors(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    splits: Splits,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Squared error ``(n,)`` of ``expr`` on each row of ``X (n, m)``, ``y (n,)`` while it
    was held out, the floats refit (:func:`~kansr.symbolic.expressions.refit_constants`)
    on the other rows of its split (weighted by ``sample_weight (n,)`` when given); all
    ``inf`` when a prediction is not finite or cannot be computed. The refits start from
    the constants fitted to all rows, so a nonlinear constant (a bump's centre) may stay
    near a value that the held-out row helped choose: the errors are a little optimistic
    for such formulas."""
    squared = np.full(len(y), np.inf)
    for train, test in splits:
        w = None if sample_weight is None else sample_weight[train]
        try:
            fitted, _ = refit_constants(expr, X[train], y[train], sample_weight=w)
            pred = evaluate(fitted, X[test])
        except Exception:  # noqa: BLE001 - sympy or torch failed: the formula is not usable
            return np.full(len(y), np.inf)
        if not np.all(np.isfinite(pred)):
            return np.full(len(y), np.inf)
        with np.errstate(over="ignore"):
            squared[test] = (pred - y[test]) ** 2
    return squared if np.all(np.isfinite(squared)) else np.full(len(y), np.inf)


def cross_validated_choice(
    table: pd.DataFrame,
    criterion: np.ndarray,
    chosen: int,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    loss_floor: float = 0.0,
) -> int:
    """Row of ``table`` (``equations_``, simplest first) to use instead of ``chosen``.

    ``chosen`` and the rows whose ``criterion`` is within :data:`CV_REACH` nats of the
    lowest (at most :data:`CV_MAX_CANDIDATES`, lowest first) are compared by their mean
    held-out error (:func:`held_out_errors` on :func:`fold_splits` of ``X (n, m)``,
    ``y (n,)``, weighted by ``sample_weight``). ``chosen`` stays when its error is within
    :data:`CV_PARSIMONY` times the lowest; otherwise the simplest row within that factor
    replaces it. Errors below ``loss_floor`` count as equal.
    """
    finite = np.isfinite(criterion)
    if not finite.any():
        return chosen
    near = np.flatnonzero(finite & (criterion <= criterion[finite].min() + CV_REACH))
    near = near[np.argsort(criterion[near], kind="stable")][:CV_MAX_CANDIDATES]
    rows = sorted({int(chosen), *(int(i) for i in near)})
    if len(rows) < 2 or len(y) < CV_MIN_ROWS:
        return chosen
    error = _mean_held_out_errors(table, rows, X, y, sample_weight, loss_floor)
    best = min(error.values())
    if not math.isfinite(best) or error[chosen] <= CV_PARSIMONY * best:
        return chosen
    return next(i for i in rows if error[i] <= CV_PARSIMONY * best)


def fewer_constants_choice(
    table: pd.DataFrame,
    criterion: np.ndarray,
    chosen: int,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    loss_floor: float = 0.0,
) -> int:
    """Row of ``table`` (``equations_``, simplest first) to use instead of ``chosen``: the
    formula with fewer fitted constants (``n_constants``) than ``chosen`` that predicts
    held-out rows best, when it predicts them at least as well as ``chosen``; else ``chosen``.

    The check behind "never more constants than the data support": a constant that the
    criterion accepts because it lowers the training loss enough, but that does not lower
    the error on held-out rows (it bends the formula to a few influential rows), is not
    supported. Errors are :func:`held_out_errors` on :func:`fold_splits` of ``X (n, m)``,
    ``y (n,)`` (weighted by ``sample_weight``; below ``loss_floor`` they count as equal),
    for at most :data:`CV_MAX_CANDIDATES` formulas of finite ``criterion`` (lowest first).
    Data of fewer than :data:`CV_MIN_ROWS` rows keep ``chosen``.
    """
    counts = table["n_constants"].to_numpy()
    found = _best_held_out(
        table, criterion, counts < counts[chosen], chosen, X, y, sample_weight, loss_floor
    )
    if found is None:
        return chosen
    best, error, chosen_error = found
    return best if math.isfinite(error) and error <= chosen_error else chosen


def more_constants_choice(
    table: pd.DataFrame,
    criterion: np.ndarray,
    chosen: int,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    loss_floor: float = 0.0,
) -> int:
    """Row of ``table`` (``equations_``, simplest first) to use instead of ``chosen``: the
    formula of exactly one fitted constant more than ``chosen`` (``n_constants``), and no
    more exact numbers the data chose (:func:`~kansr.symbolic.pareto.chosen_numbers`), that
    predicts held-out rows best, when its error is below ``chosen``'s divided by
    :data:`CV_PARSIMONY`; else ``chosen``.

    The mirror of :func:`fewer_constants_choice`: on a few dozen rows a constant that the
    criterion finds too dear (its fit gain is below ``ln n`` and the nodes it brings) can
    still be what held-out rows need (MASS::hills, 28 rows: ``7.49*dist`` against
    ``k*dist/(climb - C)``, which predicts the longest race). Only a fitted constant is
    judged fairly here: the refits of :func:`held_out_errors` keep an exact number where all
    rows, the held-out ones included, put it (the 2 of ``a*(bp - c)**2``, snapped from a
    fitted exponent), which flatters it. One at a time: the refits start from the
    constants fitted to all rows, which flatters formulas of many nonlinear constants.
    Candidates: at most :data:`CV_MAX_CANDIDATES` of finite ``criterion`` (lowest first);
    errors as in :func:`fewer_constants_choice`. Data of fewer than :data:`CV_MIN_ROWS`
    rows keep ``chosen``.
    """
    counts = table["n_constants"].to_numpy()
    numbers = np.array([chosen_numbers(e) for e in table["sympy_format"]], dtype=int)
    one_more = (counts == counts[chosen] + 1) & (numbers <= numbers[chosen])
    found = _best_held_out(table, criterion, one_more, chosen, X, y, sample_weight, loss_floor)
    if found is None:
        return chosen
    best, error, chosen_error = found
    return best if math.isfinite(error) and CV_PARSIMONY * error < chosen_error else chosen


def _best_held_out(
    table, criterion, allowed, chosen, X, y, sample_weight, loss_floor
) -> tuple[int, float, float] | None:
    """``(row, its mean held-out error, chosen's)`` of the row of ``table`` that predicts
    held-out rows best among the ``allowed (rows,)`` ones of finite ``criterion`` (at most
    :data:`CV_MAX_CANDIDATES`, lowest criterion first; of equal errors the simplest);
    ``None`` when there is none or fewer than :data:`CV_MIN_ROWS` rows of data."""
    rows = np.flatnonzero(np.isfinite(criterion) & allowed)
    rows = rows[np.argsort(criterion[rows], kind="stable")][:CV_MAX_CANDIDATES]
    if not len(rows) or len(y) < CV_MIN_ROWS:
        return None
    candidates = sorted(int(i) for i in rows)  # simplest first: ties go to the simplest
    errors = _mean_held_out_errors(table, [*candidates, chosen], X, y, sample_weight, loss_floor)
    best = min(candidates, key=errors.__getitem__)
    return best, errors[best], errors[chosen]


def _mean_held_out_errors(table, rows, X, y, sample_weight, loss_floor) -> dict[int, float]:
    """``{row: mean held-out squared error}`` of the ``rows`` of ``table`` on
    :func:`fold_splits` of ``y`` (weighted by ``sample_weight``, at least ``loss_floor``)."""
    splits = fold_splits(len(y))
    floor = max(float(loss_floor), 1e-300)
    errors = {}
    for i in rows:
        squared = held_out_errors(table["sympy_format"].iloc[i], X, y, splits, sample_weight)
        errors[i] = max(float(np.average(squared, weights=sample_weight)), floor)
    return errors
