"""Tests of modular structure on an :class:`~kansr.symbolic.decompose.oracle.Oracle`.

All tests use values or exact gradients of the oracle at points drawn from its box, never
finite differences of data, and return a *relative* measure (0 for an exact structure), so
that one tolerance, set from the oracle's own error, serves every problem:

* **dependence** — how much ``f`` moves when one variable is redrawn;
* **additive coupling** of ``x_i, x_j`` — ``f(a, b) - f(a', b) - f(a, b') + f(a', b')`` with the
  other variables fixed (zero for ``f = g(x_i, ..) + h(x_j, ..)``); on ``log|f|`` it tests
  multiplicative separability;
* **combinations** — ``f`` depends on ``x_i, x_j`` only through ``x_i x_j`` (then
  ``x_i df/dx_i = x_j df/dx_j``), ``x_i / x_j``, ``x_i + x_j`` or ``x_i - x_j``;
* **homogeneity** — ``f(l x_i, l x_j) = l**k f`` (Euler: ``x_i df/dx_i + x_j df/dx_j = k f``),
  so that ``f = x_j**k g(x_i / x_j)``: Planck's ``u/(exp(u/v) - 1)``, a scaling symmetry
  that dimensional analysis would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kansr.symbolic.decompose.oracle import Oracle

__all__ = [
    "AffineProfile",
    "Tolerance",
    "affine_profiles",
    "additive_couplings",
    "best_combination",
    "coupled_groups",
    "homogeneous_pair",
    "product_couplings",
    "product_groups",
    "relevant_variables",
    "separable_groups",
    "split_margin",
]

_N_POINTS = 256
_TINY = 1e-300


@dataclass(frozen=True)
class Tolerance:
    """Largest relative measure that counts as an exact structure: ``factor`` times the
    oracle's error relative to the size the measure is taken against, within
    ``[floor, cap]``; combinations (from gradients, which are less accurate) get
    ``combination`` times that."""

    factor: float = 10.0
    floor: float = 2e-3
    cap: float = 0.1
    combination: float = 3.0

    def __call__(self, error: float, size: float) -> float:
        ratio = error / size if size > 0 else np.inf
        return float(np.clip(self.factor * ratio, self.floor, self.cap))


def _redrawn(points: np.ndarray, columns: list[int], alternative: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[:, columns] = alternative[:, columns]
    return out


def relevant_variables(oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator) -> list[int]:
    """Variables whose redrawing changes ``f`` by more than the tolerance of its spread."""
    points, other = oracle.sample(_N_POINTS, rng), oracle.sample(_N_POINTS, rng)
    base = oracle(points)
    spread = max(float(np.std(base)), float(np.mean(np.abs(base))) * 1e-12, _TINY)
    tol = tolerance(oracle.error, spread)
    keep = []
    for i in range(oracle.n_vars):
        change = oracle(_redrawn(points, [i], other)) - base
        if np.sqrt(np.mean(change**2)) > tol * spread:
            keep.append(i)
    return keep


def _components(n: int, coupled: np.ndarray) -> list[list[int]]:
    """Connected components of the graph with adjacency ``coupled (n, n)``."""
    seen, groups = set(), []
    for start in range(n):
        if start in seen:
            continue
        stack, group = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            group.append(node)
            for other in np.flatnonzero(coupled[node]):
                if int(other) not in seen:
                    seen.add(int(other))
                    stack.append(int(other))
        groups.append(sorted(group))
    return groups


def _pair_terms(oracle: Oracle, rng: np.random.Generator):
    """Values at points ``P`` and with variable ``i`` redrawn (``single[i]``), and a function
    giving the values with ``i`` and ``j`` redrawn."""
    points, other = oracle.sample(_N_POINTS, rng), oracle.sample(_N_POINTS, rng)
    base = oracle(points)
    single = [oracle(_redrawn(points, [i], other)) for i in range(oracle.n_vars)]
    return base, single, lambda i, j: oracle(_redrawn(points, [i, j], other))


def additive_couplings(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """``(measures (k, k), tolerance)``: for every pair, ``f(a,b) - f(a',b) - f(a,b') +
    f(a',b')`` over the spread of ``f`` (0 where ``f = g(x_i, ..) + h(x_j, ..)``; ``nan``
    where ``f`` is not finite), and the largest measure that counts as zero."""
    k = oracle.n_vars
    base, single, both = _pair_terms(oracle, rng)
    spread = max(float(np.std(base)), _TINY)
    measures = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            cross = base - single[i] - single[j] + both(i, j)
            measures[i, j] = measures[j, i] = np.sqrt(np.mean(cross**2)) / spread
    return measures, tolerance(oracle.error, spread)


def separable_groups(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator
) -> list[list[int]]:
    """Groups of variables with ``f = sum_groups f_G(x_G)`` (:func:`additive_couplings`).
    One group: not separable."""
    return coupled_groups(*additive_couplings(oracle, tolerance, rng))


def coupled_groups(measures: np.ndarray, tol: float) -> list[list[int]]:
    """Groups of variables joined by couplings ``measures (k, k)`` above ``tol`` (``nan``
    counts as coupled)."""
    return _components(len(measures), ~(measures <= tol))


def split_margin(measures: np.ndarray, tol: float, groups: list[list[int]]) -> float:
    """The largest coupling ``measures (k, k)`` between two of ``groups``, over ``tol``:
    0 for an exact split, at most 1 for one that passes."""
    group_of = {v: n for n, g in enumerate(groups) for v in g}
    across = [measures[i, j] for i in group_of for j in group_of if group_of[i] != group_of[j]]
    return float(max(across, default=0.0)) / max(tol, _TINY)


def _product_terms(oracle: Oracle, rng: np.random.Generator):
    """``(base, pairs, terms)``: values at the points, the pairs ``(i, j)``, and for each the
    products and sums of the four values whose combination vanishes for a product."""
    k = oracle.n_vars
    base, single, both = _pair_terms(oracle, rng)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    terms = []
    for i, j in pairs:
        other = both(i, j)
        products = base * other - single[i] * single[j]
        sums = base + other - single[i] - single[j]
        terms.append((products, sums))
    return base, pairs, terms


def product_groups(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator, offset: bool = True
) -> tuple[list[list[int]], float]:
    """Groups of variables and an offset ``c`` with ``f = c + prod_groups f_G(x_G)``.

    For every pair, ``(f(a,b) - c)(f(a',b') - c) - (f(a',b) - c)(f(a,b') - c)`` is linear
    in ``c``; ``c = 0`` is tried first, then (with ``offset``) one ``c`` fitted over all
    pairs; each pair's residual is measured against the size of those products (no
    logarithm: a product that changes sign is found too). One group: not separable."""
    base, pairs, terms = _product_terms(oracle, rng)
    groups = coupled_groups(*_product_measures(oracle, tolerance, base, pairs, terms, 0.0))
    if len(groups) > 1 or not offset:
        return groups, 0.0
    denominator = sum(float(np.sum(d * d)) for _, d in terms)
    offset = sum(float(np.sum(p * d)) for p, d in terms) / denominator if denominator else 0.0
    if not np.isfinite(offset) or offset == 0.0:
        return groups, 0.0
    measures = _product_measures(oracle, tolerance, base, pairs, terms, offset)
    return coupled_groups(*measures), offset


def product_couplings(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """``(measures (k, k), tolerance)`` of :func:`product_groups` without an offset: 0 for
    a pair where ``f = g(x_i, ..) h(x_j, ..)``."""
    base, pairs, terms = _product_terms(oracle, rng)
    return _product_measures(oracle, tolerance, base, pairs, terms, 0.0)


def _product_measures(oracle, tolerance, base, pairs, terms, offset) -> tuple[np.ndarray, float]:
    """``(measures (k, k), tolerance)`` of :func:`product_groups` for a given ``offset``."""
    # the size of f - c, or with an offset the spread of f: a free offset must not make the
    # measure small by moving f - c away from zero
    size = float(np.std(base)) if offset else float(np.sqrt(np.mean(base**2)))
    k = oracle.n_vars
    measures = np.zeros((k, k))
    for (i, j), (products, sums) in zip(pairs, terms, strict=True):
        measure = np.sqrt(np.mean((products - offset * sums) ** 2)) / max(size**2, _TINY)
        measures[i, j] = measures[j, i] = measure
    return measures, tolerance(oracle.error, size)


def _combination_measures(
    points: np.ndarray, grad: np.ndarray, i: int, j: int, positive: bool
) -> dict:
    """Relative residuals of the gradient identities of ``f(x_i + x_j)``, ``f(x_i - x_j)``
    and (``positive``: a positive partner exists) ``f(x_i*x_j)``, ``f(x_i/x_j)``."""
    xi, xj, gi, gj = points[:, i], points[:, j], grad[:, i], grad[:, j]

    def rel(residual, left, right):
        scale = np.sqrt(np.mean(left**2)) + np.sqrt(np.mean(right**2))
        return np.sqrt(np.mean(residual**2)) / max(scale, _TINY)

    out = {
        "sum": rel(gi - gj, gi, gj),
        "difference": rel(gi + gj, gi, gj),
    }
    if positive:
        out["product"] = rel(xi * gi - xj * gj, xi * gi, xj * gj)
        out["quotient"] = rel(xi * gi + xj * gj, xi * gi, xj * gj)
    return out


def _with_positive_partner(oracle: Oracle, i: int, j: int, kind: str):
    """``(i, j, kind)`` ordered so that the partner ``x_j`` of a product or quotient is
    positive on the box (``x_i`` may change sign: ``f(x_i/x_j)`` or ``f(x_j/x_i)`` alike);
    ``None`` when neither variable is."""
    if kind in ("sum", "difference") or oracle.lo[j] > 0:
        return i, j, kind
    if oracle.lo[i] > 0:
        return j, i, kind
    return None


def _gradient_test_points(oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator):
    """``(points (m, k), values (m,), gradients (m, k), tolerance)`` of a test on gradient
    identities: the combinations' tolerance for the spread of the values."""
    points = oracle.sample(_N_POINTS, rng)
    values = oracle(points)
    tol = min(tolerance.combination * tolerance(oracle.error, float(np.std(values))), tolerance.cap)
    return points, values, oracle.gradient(points), tol


def best_combination(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator
) -> tuple[int, int, str] | None:
    """``(i, j, kind)`` of the pair of variables that ``f`` depends on only through their
    ``kind`` (product, quotient, sum, difference) with the smallest measure below the
    tolerance; ``None`` when there is none. Products and quotients need one positive
    variable, which becomes the partner ``j``."""
    points, _, grad, tol = _gradient_test_points(oracle, tolerance, rng)
    if not np.isfinite(grad).all():
        return None
    best, best_measure = None, tol
    for i in range(oracle.n_vars):
        for j in range(i + 1, oracle.n_vars):
            positive = bool(oracle.lo[i] > 0 or oracle.lo[j] > 0)
            measures = _combination_measures(points, grad, i, j, positive)
            for kind, measure in measures.items():
                if measure < best_measure:
                    best, best_measure = (i, j, kind), measure
    return None if best is None else _with_positive_partner(oracle, *best)


HOMOGENEOUS_DEGREES = (-3, -2, -1, 1, 2, 3)  # degree 0 is the quotient combination


def homogeneous_pair(
    oracle: Oracle,
    tolerance: Tolerance,
    rng: np.random.Generator,
    apart: list[list[int]] | None = None,
) -> tuple[int, int, int] | None:
    """``(i, j, k)`` of the pair of variables in which ``f`` is homogeneous of degree ``k``
    (one of :data:`HOMOGENEOUS_DEGREES`): ``x_i df/dx_i + x_j df/dx_j = k f`` at every point,
    with the smallest residual below the combinations' tolerance (relative to the two
    terms, as for a quotient); ``x_j`` is positive on the box, so that
    ``f = x_j**k g(x_i/x_j)``. ``apart``: groups of variables; only pairs from two
    different groups. ``None`` when there is none."""
    points, values, grad, tol = _gradient_test_points(oracle, tolerance, rng)
    norm = float(np.sum(values**2))
    if not (np.isfinite(grad).all() and np.isfinite(values).all()) or norm <= _TINY:
        return None
    best, best_measure = None, tol
    for i in range(oracle.n_vars):
        for j in range(oracle.n_vars):
            if i == j or not oracle.lo[j] > 0:
                continue
            if apart is not None and any(i in g and j in g for g in apart):
                continue
            left, right = points[:, i] * grad[:, i], points[:, j] * grad[:, j]
            euler = left + right
            degree = int(np.rint(float(np.sum(euler * values)) / norm))
            if degree not in HOMOGENEOUS_DEGREES:
                continue
            scale = np.sqrt(np.mean(left**2)) + np.sqrt(np.mean(right**2))
            measure = np.sqrt(np.mean((euler - degree * values) ** 2)) / max(scale, _TINY)
            if measure < best_measure:
                best, best_measure = (i, j, degree), measure
    return best


_PROFILE_POINTS = 64  # points of the other variables in the affine test
_PROFILE_VALUES = 16  # values of the variable itself


@dataclass(frozen=True)
class AffineProfile:
    """``f(x) = A(r) + B(r) C(x_i)`` (``r``: the variables other than ``x_i``) found at the
    ``rest (m, k)`` points of the box (their ``x_i`` ignored): ``weights (m,)`` combine the
    slices ``f(x_i, r_b)`` into ``C`` up to an affine map; ``margin`` is the test's measure
    over its tolerance (0 for an exact structure, at most 1 for one that passes)."""

    variable: int
    rest: np.ndarray
    weights: np.ndarray
    margin: float


def affine_profiles(
    oracle: Oracle, tolerance: Tolerance, rng: np.random.Generator
) -> list[AffineProfile]:
    """The variables ``x_i`` in which ``f`` is an affine function of one function ``C(x_i)``:
    ``f = A(r) + B(r) C(x_i)`` (``x1 + x2 + 2*sqrt(x1*x2)*cos(d)`` in ``d``; linear in
    ``x_i`` when ``C`` is the identity), cleanest first. The matrix of ``f`` at ``m`` points
    ``r`` times ``n`` values of ``x_i``, each row less its mean, is ``B(r) (C(x) - mean C)``:
    of rank one; the measure is the RMS of what its first singular pair leaves, over the
    spread of ``f``. A sum ``A(r) + C(x_i)`` and a product ``B(r) C(x_i)`` pass too (the
    splits of :func:`separable_groups` and :func:`product_groups` come first)."""
    k = oracle.n_vars
    rest = oracle.sample(_PROFILE_POINTS, rng)
    found = []
    for i in range(k):
        grid = np.linspace(oracle.lo[i], oracle.hi[i], _PROFILE_VALUES)
        points = np.repeat(rest, _PROFILE_VALUES, axis=0)
        points[:, i] = np.tile(grid, _PROFILE_POINTS)
        F = oracle(points).reshape(_PROFILE_POINTS, _PROFILE_VALUES)
        spread = float(np.std(F))
        if not np.isfinite(F).all() or spread <= _TINY:
            continue
        u, s, _ = np.linalg.svd(F - F.mean(axis=1, keepdims=True), full_matrices=False)
        if s[0] <= _TINY:
            continue
        measure = float(np.sqrt(np.sum(s[1:] ** 2) / F.size)) / spread
        tol = tolerance(oracle.error, spread)
        if measure <= tol:
            weights = u[:, 0] * np.sign(np.sum(u[:, 0]) or 1.0)
            found.append(AffineProfile(i, rest, weights, measure / max(tol, _TINY)))
    return sorted(found, key=lambda p: p.margin)
