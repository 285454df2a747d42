"""Finishing a candidate formula: refit its constants, snap them, simplify, check it.

Every search (the structure searches on the data, the network's extraction) produces raw
candidates; :func:`finish` is the one place that turns a raw candidate into a
:class:`~kansr.symbolic.pareto.Formula` for the Pareto front. Every sympy call here is
bounded in size (nodes) and time, and a failing call leaves the candidate as it was.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy

from kansr.symbolic.expressions import (
    complexity,
    evaluate,
    mse,
    n_rows,
    refit_constants,
    symbol_index,
    weighted_variance,
)
from kansr.symbolic.logs import constants_out_of_logs
from kansr.symbolic.pareto import Formula
from kansr.symbolic.snap import (
    MAX_REFIT_FLOATS,
    snap_constants,
    snap_with_refit,
    within_size,
)
from kansr.symbolic.terms import prune_terms
from kansr.symbolic.uncertainty import (
    constant_covariance,
    n_constants,
    null_direction,
    standard_errors,
)
from kansr.utils.deadline import Deadline, call_with_timeout

__all__ = [
    "MAX_SIMPLIFY_NODES",
    "SYMPY_TIMEOUT",
    "finish",
    "formula_if_finite",
    "roots_merged",
    "roots_of_quotients_split",
]

MAX_SIMPLIFY_NODES = 120  # larger expressions are not expanded or simplified
SYMPY_TIMEOUT = 5.0  # CPU seconds for one expand or simplify (main thread only)
_NON_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def formula_if_finite(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> Formula | None:
    """``expr`` as a :class:`Formula` with its mean squared error on ``X (n, m)``, ``y (n,)``
    (weighted by ``sample_weight (n,)`` when given),
    or ``None`` when it holds a non-finite number, is not finite on the data, or sympy or
    its evaluation fails on it (e.g. ``RecursionError`` on a very deep tree)."""
    if not isinstance(expr, sympy.Expr):
        return None
    try:
        if expr.has(*_NON_FINITE):
            return None
        loss = mse(expr, X, y, sample_weight)
        if not math.isfinite(loss):
            return None
        return Formula(expr=expr, complexity=complexity(expr), loss=loss)
    except Exception:  # noqa: BLE001 - a formula sympy cannot handle is no candidate
        return None


def _loss(expr: sympy.Expr, X: np.ndarray, y: np.ndarray, sample_weight=None) -> float:
    """:func:`mse`, ``inf`` when evaluating fails (e.g. ``RecursionError``)."""
    try:
        return mse(expr, X, y, sample_weight)
    except Exception:  # noqa: BLE001 - an expression that cannot be evaluated has no loss
        return math.inf


def _bounded(call, expr: sympy.Expr, deadline: Deadline, max_nodes: int, timeout: float):
    """``call()`` when ``expr`` is small enough and time remains, else ``None`` (also when
    sympy fails, recurses too deep, or uses up ``timeout`` seconds of CPU time or ``deadline``)."""
    if deadline.expired() or not within_size(expr, max_nodes):
        return None
    try:
        return call_with_timeout(call, timeout, deadline)
    except Exception:  # noqa: BLE001 - sympy can fail (RecursionError too); input stays valid
        return None


def expand(expr: sympy.Expr, deadline: Deadline, max_nodes: int = MAX_SIMPLIFY_NODES):
    """Multiply out products and integer powers so that constants merge (small expressions)."""
    out = _bounded(
        lambda: sympy.expand(expr, deep=True, power_exp=False, log=False),
        expr,
        deadline,
        max_nodes,
        SYMPY_TIMEOUT,
    )
    return expr if out is None else out


def _simplify_on_data(
    expr: sympy.Expr, X: np.ndarray, deadline: Deadline, max_nodes: int, timeout: float
) -> sympy.Expr | None:
    """``sympy.simplify`` knowing which variables are positive on ``X`` (``sqrt(x**2) = x``
    there); ``None`` when it fails, does not make the expression smaller or turns exact
    numbers into floats (``-3*x/2 + 915.8`` into ``-1.5*x + 915.8``: a snapped constant
    would be free again)."""

    def simplify():
        positive = {
            s: sympy.Dummy(s.name, positive=True)
            for s in expr.free_symbols
            if np.all(X[:, symbol_index(s)] > 0)
        }
        back = {d: s for s, d in positive.items()}
        simpler = sympy.simplify(expr.xreplace(positive)).xreplace(back)
        simpler = abs_of_one_sign_dropped(roots_of_quotients_split(simpler, X), X)
        floats = len(simpler.atoms(sympy.Float)) <= len(expr.atoms(sympy.Float))
        return simpler if floats and complexity(simpler) <= complexity(expr) else None

    return _bounded(simplify, expr, deadline, max_nodes, timeout)


def abs_of_one_sign_dropped(expr: sympy.Expr, X: np.ndarray) -> sympy.Expr:
    """``expr`` with every ``Abs(u)`` written ``u`` where ``u > 0`` at every row of
    ``X (n, m)`` and ``-u`` where ``u < 0`` at every row: the same values on the data, a node
    fewer. Simplifying the root of a square leaves ``Abs`` of what sympy cannot sign
    (``sqrt(sin(t)**2/x**2)`` of a positive ``x`` is ``Abs(sin(t))/x``, for angles in
    ``(0, pi/2)``)."""

    def signed(node):
        try:
            values = evaluate(node.args[0], X)
        except (ValueError, TypeError):
            return node
        if np.all(values > 0):
            return node.args[0]
        if np.all(values < 0):
            return -node.args[0]
        return node

    if not expr.has(sympy.Abs):
        return expr
    return expr.replace(lambda node: isinstance(node, sympy.Abs), signed)


def roots_of_quotients_split(expr: sympy.Expr, X: np.ndarray) -> sympy.Expr:
    """``expr`` with every root of a quotient ``(k/A)**e`` (``e`` not an integer, ``k`` a
    number) written ``k**e / A**e`` where ``A`` (or ``-A``, for ``k < 0``) is positive at
    every row of ``X (n, m)``: sympy keeps the root of a quotient whose sign it does not know,
    ``c*m0*sqrt(-1/(v**2 - c**2))`` for ``c*m0/sqrt(c**2 - v**2)``."""

    def is_root_of_quotient(node) -> bool:
        return (
            node.is_Pow
            and node.exp.is_Rational
            and not node.exp.is_integer
            and any(f.is_Pow and f.exp.is_negative for f in sympy.Mul.make_args(node.base))
        )

    def split(node):
        numerator, denominator = node.base.as_numer_denom()
        if not numerator.is_number or denominator.is_number or numerator == 0:
            return node
        if numerator.is_negative:
            numerator, denominator = -numerator, sympy.expand(-denominator)
        try:
            positive = np.all(evaluate(denominator, X) > 0)
        except (ValueError, TypeError):
            return node
        return numerator**node.exp / denominator**node.exp if positive else node

    return expr.replace(is_root_of_quotient, split)


def finish(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    *,
    deadline: Deadline | None = None,
    refit: bool = True,
    expand_first: bool = False,
    r2_tol: float = 1e-6,
    max_nodes: int = MAX_SIMPLIFY_NODES,
    sympy_timeout: float = SYMPY_TIMEOUT,
    sample_weight: np.ndarray | None = None,
) -> Formula | None:
    """The finished :class:`Formula` of a raw candidate ``expr`` on ``X (n, m)``, ``y (n,)``
    (losses weighted by ``sample_weight (n,)`` when given).

    Steps: powers of exponentials merged (``sqrt(exp(z)) = exp(z/2)``) -> refit every float
    constant (``refit``) -> constant factors out of logarithms
    (``log(c*u) = log(c) + log(u)``) -> multiply out (``expand_first``) -> snap
    constants to simple numbers (candidates within 1e-3 or within their 95 % confidence
    interval; one at a time with refits of the others and only when the information
    criterion does not rise, :func:`~kansr.symbolic.snap.snap_with_refit`, for up to
    :data:`~kansr.symbolic.snap.MAX_REFIT_FLOATS` floats) while the loss stays within budget
    (R² may drop by ``r2_tol``, or the residual sum of squares rise by 4 residual variances:
    what a constant moved by two standard errors costs) -> simplify (kept only when not
    larger and within budget) -> snap again (simplification merges constants) -> finite
    check. ``None`` when the candidate is not
    finite on the data or cannot be evaluated; a step that fails (in sympy or torch, e.g. a
    ``RecursionError`` on a deep tree) is skipped, keeping the candidate as it was. Sympy
    work is skipped for expressions over ``max_nodes`` nodes (snapping: over
    :data:`~kansr.symbolic.snap.MAX_SNAP_NODES`) and bounded by ``sympy_timeout`` seconds of CPU
    time per call and by ``deadline``.
    """
    deadline = deadline or Deadline()
    if not isinstance(expr, sympy.Expr):
        return None
    expr = exp_powers_merged(expr)
    loss = math.inf
    if refit:
        try:
            expr, loss = refit_constants(expr, X, y, sample_weight=sample_weight)
        except Exception:  # noqa: BLE001 - sympy or torch failed: the constants stay
            loss = math.inf
    if not math.isfinite(loss):
        loss = _loss(expr, X, y, sample_weight)
    if not math.isfinite(loss):
        return None
    expr, loss = _identifiable(expr, loss, X, y, sample_weight, deadline)
    budget = _snap_budget(expr, loss, y, r2_tol, sample_weight)
    expr, loss = _logs_split(expr, loss, X, y, sample_weight, budget, deadline, max_nodes)
    if expand_first:  # kept within budget: multiplying out can cancel digits (large offsets)
        expanded = expand(expr, deadline, max_nodes)
        if expanded is not expr:
            expanded_loss = _loss(expanded, X, y, sample_weight)
            if expanded_loss <= budget:
                expr, loss = expanded, expanded_loss
    pruned, loss, budget = _pruned(expr, loss, budget, X, y, r2_tol, sample_weight)
    if pruned is not expr:  # multiplied out and refit term by term: a scale can be spare
        expr, loss = _identifiable(pruned, loss, X, y, sample_weight, deadline)
    snap = functools.partial(
        _snap,
        X=X,
        y=y,
        budget=budget,
        floor=r2_tol * weighted_variance(y, sample_weight),
        deadline=deadline,
        timeout=sympy_timeout,
        w=sample_weight,
    )
    if not deadline.expired():
        expr, loss = snap(expr, loss)
    simpler = _simplify_on_data(expr, X, deadline, max_nodes, sympy_timeout)
    if simpler is not None:
        simpler_loss = _loss(simpler, X, y, sample_weight)
        if simpler_loss <= budget:
            expr, loss = simpler, simpler_loss
            if not deadline.expired():
                expr, loss = snap(expr, loss)
    merged = roots_merged(expr) if complexity(expr) <= max_nodes else expr
    if merged is not expr:
        merged_loss = _loss(merged, X, y, sample_weight)
        if merged_loss <= budget:
            expr, loss = merged, merged_loss
    expr, loss = _polished(expr, loss, X, y, sample_weight, deadline)
    return formula_if_finite(expr, X, y, sample_weight)


def roots_merged(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with powers of the same exponent multiplied into one, ``sqrt(a)*sqrt(b)`` into
    ``sqrt(a*b)``, when that makes it smaller; else ``expr`` itself. Simplifying with
    positive variables splits the root of a product (sympy writes ``sqrt(a*b)`` of positive
    ``a, b`` as ``sqrt(a)*sqrt(b)``); the merge is exact only where the bases are not
    negative, so the caller checks the loss on the data."""
    try:
        merged = sympy.powsimp(expr, force=True, combine="base")
    except Exception:  # noqa: BLE001 - sympy can fail; the formula stays as it is
        return expr
    return merged if complexity(merged) < complexity(expr) else expr


def exp_powers_merged(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every power of an exponential written as one exponential:
    ``sqrt(exp(z)) = exp(z/2)``, ``exp(z)**p = exp(p*z)`` (valid for real ``z``; sympy keeps
    the power, one node and a constant that cannot merge with ``z``'s)."""
    return expr.replace(
        lambda node: node.is_Pow and isinstance(node.base, sympy.exp),
        lambda node: sympy.exp(node.exp * node.base.args[0]),
    )


def _polished(expr, loss, X, y, w, deadline: Deadline):
    """``expr`` with its remaining floats refit once more after snapping and simplifying
    moved them (kept when the loss falls): the constants and their standard errors are
    those of the optimum."""
    if deadline.expired() or not expr.atoms(sympy.Float):
        return expr, loss
    try:
        refit, refit_loss = refit_constants(expr, X, y, n_iter=100, sample_weight=w)
    except Exception:  # noqa: BLE001 - sympy or torch failed: the candidate stays
        return expr, loss
    return (refit, refit_loss) if refit_loss < loss else (expr, loss)


_MAX_IDENTIFIABLE_CONSTANTS = 16  # larger formulas are not checked for redundant constants
_ROUNDING = 1e-20  # a mean squared error this small a share of var(y) is rounding


def _identifiable(expr, loss, X, y, w, deadline: Deadline):
    """``expr`` without constants the data cannot determine: while the Jacobian of the
    constants is singular (``c*exp(a*x + b)``, ``k/(a*x + b)``: one constant too many), fix
    one of them to ±1 and refit the others, when the loss stays within 0.1 % or at the level
    of rounding (:data:`_ROUNDING` of the variance of ``y``: an exact formula's loss of
    1e-30 may become 1e-29) (of those that can be fixed, the first in the order of
    :func:`_fix_order`: ``a/(x + c)``, not ``a/(b*x - 1)``)."""
    if not 0 < n_constants(expr) <= _MAX_IDENTIFIABLE_CONSTANTS:
        return expr, loss  # (fixing constants keeps their number at most as it is)
    rounding = _ROUNDING * weighted_variance(y, w)
    for _ in range(_MAX_IDENTIFIABLE_CONSTANTS):
        if deadline.expired():
            break
        try:
            constants, cov = constant_covariance(expr, X, y, w)
        except Exception:  # noqa: BLE001 - sympy or numpy failed: keep the candidate
            break
        if not (0 < len(constants) <= _MAX_IDENTIFIABLE_CONSTANTS and np.isinf(cov).any()):
            break
        direction = null_direction(expr, X, w)
        for constant in sorted(constants, key=lambda c: _fix_order(expr, c)):
            fixed = _fixed_to_unit(expr, constants, constant, direction, X, y, w)
            if fixed is not None and fixed[1] <= max(loss * 1.001, rounding) + 1e-300:
                expr, loss = fixed
                break
        else:
            break  # no constant could be fixed
    return expr, loss


def _fix_order(expr, constant) -> tuple[int, float]:
    """Which constant to try fixing first: the one whose fixing to ±1 leaves the smallest
    formula (``x + c`` rather than ``b*x - 1``), then the one nearest ±1."""
    unit = sympy.Integer(1 if float(constant) > 0 else -1)
    return complexity(expr.xreplace({constant: unit})), abs(abs(float(constant)) - 1)


def _fixed_to_unit(expr, constants, constant, direction, X, y, w):
    """``expr`` with ``constant`` fixed to ±1 and the others refit, with its loss (the better
    of two starts: the others as they are, and moved along the ``direction`` in which the
    predictions do not change until ``constant`` reaches ±1: exact for a scale redundancy
    such as ``a/(b*x + c)``); ``None`` when no refit could be made."""
    value = float(constant)
    unit = 1.0 if value > 0 else -1.0
    starts = [{constant: sympy.Integer(int(unit))}]
    k = constants.index(constant)
    if direction is not None and abs(direction[k]) > 1e-12:
        step = (unit - value) / direction[k]
        moved = {c: sympy.Float(float(c) + step * direction[j]) for j, c in enumerate(constants)}
        moved[constant] = sympy.Integer(int(unit))
        starts.append(moved)
    best = None
    for start in starts:
        try:
            trial, trial_loss = refit_constants(expr.xreplace(start), X, y, sample_weight=w)
        except Exception:  # noqa: BLE001 - this start cannot be refit: try the next
            continue
        if math.isfinite(trial_loss) and (best is None or trial_loss < best[1]):
            best = trial, trial_loss
    return best


def _logs_split(expr, loss, X, y, w, budget, deadline: Deadline, max_nodes: int):
    """``expr`` with constant factors out of its logarithms and multiplied out
    (:func:`~kansr.symbolic.logs.constants_out_of_logs`: ``log(c*u) = log(c) + log(u)``
    meets the constants beside it), when that keeps the loss within ``budget`` and adds no
    float."""
    if not expr.has(sympy.log) or deadline.expired():
        return expr, loss
    try:
        split = expand(constants_out_of_logs(expr, X), deadline, max_nodes)
    except Exception:  # noqa: BLE001 - sympy failed: the candidate stays
        return expr, loss
    if split == expr or len(split.atoms(sympy.Float)) > len(expr.atoms(sympy.Float)):
        return expr, loss
    split_loss = _loss(split, X, y, w)
    return (split, split_loss) if split_loss <= budget else (expr, loss)


def _pruned(expr, loss, budget, X, y, r2_tol, w):
    """``expr`` with its additive terms refit linearly and the needless ones dropped
    (:func:`~kansr.symbolic.terms.prune_terms`) when that is smaller and within ``budget``;
    with the new loss and snapping budget."""
    try:
        floor = r2_tol * weighted_variance(y, w)
        pruned = prune_terms(expr, X, y, floor, w)
    except Exception:  # noqa: BLE001 - sympy or numpy failed: the candidate stays
        return expr, loss, budget
    if pruned is None:
        return expr, loss, budget
    candidate, _ = pruned
    candidate_loss = _loss(candidate, X, y, w)
    if not (candidate_loss <= budget and complexity(candidate) <= complexity(expr)):
        return expr, loss, budget
    new_budget = _snap_budget(candidate, candidate_loss, y, r2_tol, w)
    return candidate, candidate_loss, min(budget, new_budget)


def _snap_budget(expr, loss: float, y: np.ndarray, r2_tol: float, w) -> float:
    """The loss snapping may reach: ``r2_tol`` of the variance of ``y``, or 4 residual
    variances more in the residual sum of squares (``n`` rows, ``p`` constants), or 0.1 %."""
    n = n_rows(y, w)
    p = len(expr.atoms(sympy.Float))
    return max(loss * (1 + 4.0 / max(n - p, 1)), loss * 1.001, r2_tol * weighted_variance(y, w))


def _snap(expr, loss, *, X, y, budget, floor, deadline, timeout, w):
    """Snap the constants (bounded in size and time): one at a time with refits of the
    others (:func:`~kansr.symbolic.snap.snap_with_refit`) for formulas of at most
    :data:`~kansr.symbolic.snap.MAX_REFIT_FLOATS` floats; larger ones first by
    :func:`~kansr.symbolic.snap.snap_constants` with the constants' standard errors.
    ``expr`` stays as it was (or as far as it was snapped) when sympy or torch fail."""
    try:
        if len(expr.atoms(sympy.Float)) > MAX_REFIT_FLOATS:
            errors = standard_errors(expr, X, y, w)
            expr, loss = snap_constants(
                expr,
                X,
                y,
                loss,
                budget,
                deadline=deadline,
                timeout=timeout,
                sample_weight=w,
                std_errors=errors,
            )
        return snap_with_refit(
            expr,
            X,
            y,
            loss,
            budget,
            deadline=deadline,
            timeout=timeout,
            sample_weight=w,
            floor=floor,
        )
    except Exception:  # noqa: BLE001 - sympy can fail on any input; the input stays valid
        return expr, loss
