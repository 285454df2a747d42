"""Levenberg-Marquardt for the joint refit of many constants (a network of symbolic edges).

LBFGS on the mean squared error needs hundreds of steps to settle a formula of a hundred
constants; least squares with the exact Jacobian (Gauss-Newton, damped) settles it in tens.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["levenberg_marquardt", "refit_least_squares"]

_START_DAMPING = 1e-3  # lam of the first step
_MIN_DAMPING = 1e-12
_MAX_DAMPING = 1e10  # the step has shrunk to nothing: no step helps
_DIAGONAL_FLOOR = 1e-12  # of the largest diagonal entry: constants the data do not see


def levenberg_marquardt(
    residuals: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta: np.ndarray,
    max_iter: int = 100,
    rtol: float = 1e-9,
    expired: Callable[[], bool] = lambda: False,
) -> tuple[np.ndarray, float]:
    """Minimise ``sum(residuals(theta)**2)`` from ``theta (p,)``.

    ``jacobian(theta)`` gives the residuals ``(n,)`` and their derivatives ``(n, p)``. Each
    step solves ``(J^T J + lam diag(J^T J)) delta = -J^T r`` (Marquardt's scaling, so the
    constants' units do not matter); a step that lowers the sum is taken and ``lam`` falls,
    otherwise ``lam`` rises. Stops after ``max_iter`` Jacobians, when a step lowers the sum
    by less than ``rtol`` of it, when no step helps, when the Jacobian is not finite or
    when ``expired()``.

    Returns the best ``theta`` seen and its sum of squares (``theta`` unchanged and ``inf``
    when the start's residuals are not finite).
    """
    theta = np.array(theta, dtype=float)
    r = residuals(theta)
    best = float(r @ r)
    if not math.isfinite(best):
        return theta, math.inf
    damping = _START_DAMPING
    for _ in range(max_iter):
        if best == 0.0 or expired():
            break
        r, jac = jacobian(theta)
        if not np.isfinite(jac).all():
            break
        gram, gradient = jac.T @ jac, jac.T @ r
        diagonal = np.diag(gram)
        diagonal = np.maximum(diagonal, _DIAGONAL_FLOOR * max(diagonal.max(), 1e-300))
        gain = None
        while damping <= _MAX_DAMPING and not expired():
            try:
                step = np.linalg.solve(gram + damping * np.diag(diagonal), -gradient)
            except np.linalg.LinAlgError:
                damping *= 4.0
                continue
            trial = theta + step
            rt = residuals(trial)
            with np.errstate(over="ignore", invalid="ignore"):  # (a non-finite step is refused)
                value = float(rt @ rt)
            if math.isfinite(value) and value < best:
                theta, gain, best = trial, best - value, value
                damping = max(damping / 3.0, _MIN_DAMPING)
                break
            damping *= 4.0
        if gain is None or gain <= rtol * (best + gain):
            break
    return theta, best


def refit_least_squares(
    start: np.ndarray,
    load: Callable[[np.ndarray], None],
    predict: Callable[[], np.ndarray],
    predict_with_jacobian: Callable[[], tuple[np.ndarray, np.ndarray]],
    target: np.ndarray,
    root: np.ndarray,
    max_iter: int = 100,
    expired: Callable[[], bool] = lambda: False,
) -> float | None:
    """:func:`levenberg_marquardt` on a model's constants, ``start (p,)``: ``load(theta)``
    sets them, ``predict()`` gives the model's values ``(n,)`` and
    ``predict_with_jacobian()`` those values and their derivatives ``(n, p)``; the residuals
    are ``root * (values - target)`` (``root (n,)``: square roots of the row weights).

    Leaves the model at the optimum and returns its sum of squares when that is below the
    start's; otherwise leaves it at ``start`` and returns ``None``.
    """

    def residuals(theta: np.ndarray) -> np.ndarray:
        load(theta)
        return root * (predict() - target)

    def jacobian(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        load(theta)
        values, jac = predict_with_jacobian()
        return root * (values - target), root[:, None] * jac

    theta, value = levenberg_marquardt(residuals, jacobian, start, max_iter, expired=expired)
    improved = not np.array_equal(theta, start)  # a step is taken only when it lowers the sum
    load(theta if improved else start)
    return value if improved else None
