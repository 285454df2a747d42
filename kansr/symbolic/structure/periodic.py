"""Oscillations in a product of variables: ``A + B cos(w m) + C sin(w m)``, ``m`` a monomial.

``1 - cos(k*d)``, ``sin(E*t/h)**2 = (1 - cos(2*E*t/h))/2``: a periodic function of a product
or quotient of two or three variables is neither a sum nor a product of functions of one
variable, and a network of sums fits its oscillations poorly. A periodogram finds it
directly: for every monomial ``m = prod x_i^(+-1)`` of two or three of the variables and
every frequency ``w`` on a grid (from one period over the range of ``m`` to
``_MAX_PERIODS``), one linear least squares of the target on ``1, cos(w m), sin(w m)``; the
frequencies of the best few monomials are refined and kept when the fit leaves little of the
target unexplained.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy
from scipy.optimize import minimize_scalar

__all__ = ["periodic_formulas"]

_MIN_ROWS = 100  # fewer rows: too few for a frequency search (it would find a spurious one)
_MAX_ROWS = 500  # rows used for the periodogram (the candidate is refit on all later)
_MAX_PERIODS = 40  # highest frequency: this many periods over the range of the monomial
_STEPS_PER_PERIOD = 4  # frequency grid spacing: a quarter period over the range
_MAX_TRIPLE_VARS = 4  # monomials of three variables only among this many
_UNEXPLAINED = 0.05  # a fit leaving more of the target's variance is no candidate
_REFINED = 4  # monomials of least residual on the grid whose frequency is refined
_KEEP = 2  # best monomials kept


def _monomials(cols: list[int]):
    """``(columns, exponents)`` of every monomial of two (and, among few columns, three)
    of ``cols`` with exponents +-1 (every sign pattern: ``x*y``, ``x/y``, ``y/x``,
    ``1/(x*y)`` are different functions of the data)."""
    sizes = (2, 3) if len(cols) <= _MAX_TRIPLE_VARS else (2,)
    for size in sizes:
        for chosen in itertools.combinations(cols, size):
            for signs in itertools.product((1, -1), repeat=size):
                yield chosen, signs


def _unexplained(y: np.ndarray, phasors: np.ndarray) -> np.ndarray:
    """Residual sum of squares of ``y ~ a + b cos(phi) + c sin(phi)`` for every row of
    ``phasors = exp(i phi) (F, n)`` (``y (n,)``), by the 3x3 normal equations of each
    (the sums of squares and products of cos and sin from ``exp(2 i phi)``)."""
    n = len(y)
    first = phasors.sum(1)
    second = np.einsum("fn,fn->f", phasors, phasors)  # sum of exp(2 i phi)
    cc = (n + second.real) / 2
    gram = np.empty((len(phasors), 3, 3))
    gram[:, 0, 0] = n
    gram[:, 0, 1] = gram[:, 1, 0] = first.real
    gram[:, 0, 2] = gram[:, 2, 0] = first.imag
    gram[:, 1, 1] = cc
    gram[:, 1, 2] = gram[:, 2, 1] = second.imag / 2
    gram[:, 2, 2] = n - cc
    projected = np.einsum("fn,n->f", phasors, y)  # (phasors @ y casts slowly)
    rhs = np.stack([np.full(len(phasors), y.sum()), projected.real, projected.imag], axis=1)
    gram += 1e-12 * n * np.eye(3)  # (a frequency where cos and sin are collinear)
    theta = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return float(y @ y) - np.einsum("fk,fk->f", theta, rhs)


def _grid_phasors(u: np.ndarray, step: float, first: int, last: int) -> np.ndarray:
    """``exp(i k step u)`` for ``k = first .. last`` (``(last - first + 1, n)``), by
    repeated multiplication (one complex product per entry instead of a cos and a sin)."""
    base = np.exp(1j * step * u)
    powers = np.cumprod(np.broadcast_to(base, (last - first + 1, len(u))), axis=0)
    return powers * base ** (first - 1)


def _refined(u: np.ndarray, y: np.ndarray, w: float, step: float) -> tuple[float, float]:
    """The frequency near ``w > 0`` (within one grid ``step``) of least residual, and that
    residual. (The lower bound stays positive and below ``w`` at any scale: a monomial of
    SRSD's variables can span 1e21, where ``w`` is 1e-21.)"""
    found = minimize_scalar(
        lambda f: float(_unexplained(y, np.exp(1j * f * u)[None, :])[0]),
        bounds=(max(w - step, 1e-12 * w), w + step),
        method="bounded",
        # 1e-10 absolute at ordinary scales, relative where w itself is below 1e-6
        options={"xatol": 1e-10 * max(w, min(1.0, 1e6 * w))},
    )
    return float(found.x), float(found.fun)


def _formula(u: np.ndarray, y: np.ndarray, w: float, m: sympy.Expr) -> sympy.Expr:
    """``a + b cos(w m) + c sin(w m)`` with ``a, b, c`` fitted to ``y`` (floats)."""
    design = np.column_stack([np.ones_like(u), np.cos(w * u), np.sin(w * u)])
    (a, b, c), *_ = np.linalg.lstsq(design, y, rcond=None)
    arg = sympy.Float(w, 15) * m
    return (
        sympy.Float(a, 15)
        + sympy.Float(b, 15) * sympy.cos(arg)
        + sympy.Float(c, 15) * sympy.sin(arg)
    )


def _fits(Xs, ys, cols, symbols) -> list[tuple[float, sympy.Expr]]:
    """``(unexplained share, formula)`` of the monomials of ``cols`` whose refined frequency
    fits ``ys`` within ``_UNEXPLAINED`` (``Xs (n, n_features)``, ``ys (n,)``)."""
    total = float(np.sum((ys - ys.mean()) ** 2))
    if not math.isfinite(total) or total == 0:
        return []
    gridded = []
    for chosen, signs in _monomials(cols):
        with np.errstate(all="ignore"):
            u = np.prod([Xs[:, i] ** float(e) for i, e in zip(chosen, signs, strict=True)], 0)
        span = float(np.ptp(u)) if np.all(np.isfinite(u)) else 0.0
        if not span > 0:
            continue
        step = 2 * math.pi / span / _STEPS_PER_PERIOD
        first, last = _STEPS_PER_PERIOD, _MAX_PERIODS * _STEPS_PER_PERIOD
        resid = _unexplained(ys, _grid_phasors(u, step, first, last))
        k = int(np.argmin(resid))
        gridded.append((float(resid[k]), (first + k) * step, step, span, chosen, signs, u))
    gridded.sort(key=lambda t: t[0])
    found = []
    for _, w0, step, span, chosen, signs, u in gridded[:_REFINED]:
        w, best = _refined(u, ys, w0, step)
        if best / total < _UNEXPLAINED and w * span >= 2 * math.pi * (1 - 1 / _STEPS_PER_PERIOD):
            m = sympy.Mul(*[symbols[i] ** e for i, e in zip(chosen, signs, strict=True)])
            found.append((best / total, _formula(u, ys, w, m)))
    return found


def periodic_formulas(
    X: np.ndarray, target: np.ndarray, cols: list[int], symbols: list[sympy.Symbol]
) -> list[sympy.Expr]:
    """``a + b cos(w m) + c sin(w m)`` for the monomials ``m`` of two or three of ``cols``
    (``X (n, n_features)``, ``target (n,)``) whose best frequency leaves less than
    ``_UNEXPLAINED`` of the target's variance, and among at most ``_MAX_TRIPLE_VARS``
    columns also ``x_j^(+-1) (a + b cos(w m) + c sin(w m))`` with ``m`` in the other
    columns (an amplitude proportional to a variable: ``U*(1 - cos(k*d))``); the best
    ``_KEEP``, not yet refit. Nothing on fewer than ``_MIN_ROWS`` rows or fewer than two
    columns."""
    n = len(target)
    if n < _MIN_ROWS or len(cols) < 2:
        return []
    rows = np.linspace(0, n - 1, min(n, _MAX_ROWS)).astype(int)  # evenly spread, no seed
    Xs, ys = X[rows], target[rows]
    found = _fits(Xs, ys, cols, symbols)
    if len(cols) <= _MAX_TRIPLE_VARS:
        for j in cols:
            others = [i for i in cols if i != j]
            if len(others) < 2 or not np.all(Xs[:, j] != 0):
                continue
            for e in (1, -1):
                with np.errstate(all="ignore"):
                    scaled = ys / Xs[:, j] ** float(e)
                if np.all(np.isfinite(scaled)):
                    fits = _fits(Xs, scaled, others, symbols)
                    found.extend((share, symbols[j] ** e * f) for share, f in fits)
    found.sort(key=lambda t: t[0])
    return [f for _, f in found[:_KEEP]]
