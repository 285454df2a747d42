"""Standard errors of a formula's fitted constants, as nonlinear least squares reports them.

At the optimum of ``sum_i w_i (y_i - f(x_i; c))^2`` the covariance of the constants ``c`` is
``s^2 (J^T W J)^-1`` with ``J (n, p)`` the Jacobian of the predictions by the constants and
``s^2 = sum_i w_i r_i^2 / (n - p)`` the residual variance: what
``scipy.optimize.curve_fit(..., sigma=1/sqrt(w), absolute_sigma=False)`` reports. The Jacobian
is exact (automatic differentiation of the formula as a torch module, one forward and one
backward pass), cheap next to a refit.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from kansr.symbolic.expressions import TorchFormula

__all__ = [
    "constant_covariance",
    "constants_jacobian",
    "fitted_constants",
    "n_constants",
    "standard_errors",
]


def fitted_constants(expr: sympy.Expr) -> list[sympy.Float]:
    """The floating-point constants of ``expr`` (the fitted ones; integers and rationals are
    exact), in the order :class:`TorchFormula` uses."""
    return sorted(expr.atoms(sympy.Float), key=lambda f: (float(f), str(f)))


def n_constants(expr: sympy.Expr) -> int:
    """Number of fitted (floating-point) constants of ``expr``."""
    return len(expr.atoms(sympy.Float))


def constant_covariance(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> tuple[list[sympy.Float], np.ndarray]:
    """The fitted constants of ``expr`` and their covariance ``(p, p)`` on ``X (n, m)``,
    ``y (n,)`` (optionally weighted, ``sample_weight (n,)``, e.g. ``1/sigma**2``).

    Entries are ``nan`` when the covariance cannot be estimated: fewer rows than constants
    plus one, a non-finite Jacobian, or constants the data do not determine (a singular
    ``J^T W J``: their rows and columns are ``inf``).
    """
    constants = fitted_constants(expr)
    p, n = len(constants), X.shape[0]
    if p == 0:
        return constants, np.zeros((0, 0))
    if n <= p:
        return constants, np.full((p, p), math.nan)
    jac, pred = constants_jacobian(expr, X)
    if jac is None:
        return constants, np.full((p, p), math.nan)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    resid = np.asarray(y, dtype=np.float64) - pred
    if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(resid))):
        return constants, np.full((p, p), math.nan)
    with np.errstate(all="ignore"):  # overflow is caught below: not finite -> nan
        s2 = float(np.sum(w * resid**2) / (n - p))
    normed, scale = _normalised_information(jac, w)
    if not (np.isfinite(s2) and np.all(np.isfinite(normed))):
        return constants, np.full((p, p), math.nan)
    try:
        if np.linalg.cond(normed) > 1e12:  # constants the data do not determine
            return constants, np.full((p, p), math.inf)
        cov = s2 * np.linalg.inv(normed) / np.outer(scale, scale)
    except np.linalg.LinAlgError:
        return constants, np.full((p, p), math.nan)
    return constants, cov


def _normalised_information(jac: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``J^T W J`` of ``jac (n, p)`` and row weights ``w (n,)`` with unit diagonal
    ``(p, p)``, and the column scales ``(p,)`` it was divided by (overflow gives non-finite
    entries, for the caller to check)."""
    with np.errstate(all="ignore"):
        info = jac.T @ (w[:, None] * jac)
        scale = np.sqrt(np.clip(np.diag(info), 1e-300, None))
        return info / np.outer(scale, scale), scale


def null_direction(
    expr: sympy.Expr, X: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray | None:
    """The direction ``(p,)`` in the fitted constants (order of :func:`fitted_constants`)
    along which the predictions of ``expr`` on ``X (n, m)`` change least: the eigenvector of
    the column-normalised ``J^T W J`` with the smallest eigenvalue, in the constants' own
    units. For ``a/(b*x + c)`` it is ``(a, b, c)``: scaling all three leaves the formula
    unchanged. ``None`` when the Jacobian cannot be evaluated."""
    if not fitted_constants(expr):
        return None
    jac, _ = constants_jacobian(expr, X)
    if jac is None:
        return None
    w = np.ones(len(jac)) if sample_weight is None else np.asarray(sample_weight, float)
    normed, scale = _normalised_information(jac, w)
    if not np.all(np.isfinite(normed)):
        return None
    _, vectors = np.linalg.eigh(normed)
    direction = vectors[:, 0] / scale
    return direction / np.max(np.abs(direction))


def standard_errors(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> dict[sympy.Float, float]:
    """Standard error of every fitted constant of ``expr`` (see :func:`constant_covariance`)."""
    constants, cov = constant_covariance(expr, X, y, sample_weight)
    errors = np.sqrt(np.abs(np.diag(cov))) if len(constants) else np.zeros(0)
    return {c: float(e) for c, e in zip(constants, errors, strict=True)}


def constants_jacobian(
    expr: sympy.Expr, X: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``J (n, p)`` of the predictions by the fitted constants (in the order of
    :func:`fitted_constants`, which is :class:`TorchFormula`'s) and the predictions ``(n,)``;
    ``(None, None)`` when they are not finite or cannot be evaluated. Exact derivatives by
    automatic differentiation (:meth:`TorchFormula.row_jacobian`: one forward and one
    backward pass, whatever the number of constants); where they are not finite although the
    formula is (``sqrt(c*x + y)`` at ``x = y = 0``), central differences."""
    try:
        module = TorchFormula(expr)
        x = torch.from_numpy(np.array(X, dtype=np.float64))
        pred, jac = (t.numpy() for t in module.row_jacobian(x))
        if np.all(np.isfinite(pred)) and not np.all(np.isfinite(jac)):
            jac = _central_differences(module, x)
    except (ValueError, TypeError, ArithmeticError, RecursionError, RuntimeError):
        return None, None
    if not (np.all(np.isfinite(jac)) and np.all(np.isfinite(pred))):
        return None, None
    return jac, pred


def _central_differences(module: TorchFormula, x: torch.Tensor) -> np.ndarray:
    """``J (n, p)`` by central differences (step ``1e-6`` relative; all ``2p`` shifted constant
    sets in one vectorised pass)."""
    start = module.constants.detach().clone()
    steps = 1e-6 * torch.clamp(start.abs(), min=1e-3)
    shifts = torch.diag(steps)
    sets = torch.cat([start + shifts, start - shifts])  # (2p, p)
    with torch.no_grad():
        values = module.batched(x, sets).numpy()
    p = start.shape[0]
    with np.errstate(all="ignore"):  # (inf - inf: the caller checks)
        return ((values[:p] - values[p:]) / (2 * steps.numpy()[:, None])).T
