"""Sparse regression on a library of product terms (SINDy's idea, for exact laws).

The target, or a transform of it (``1/y``, ``y**2``, ``1/y**2``, ``log|y|``), is written as a
short sum of terms ``monomial * g(x_k)``: a product of at most two variables with integer
powers in ``-2..2``, times one library function of another variable (``cos``, ``sin`` and
their squares, ``exp``, ``log``, ``tanh``, ``atan``) or 1: laws the monomial, separable and
rational searches cannot write, such as ``sqrt(x1**2 + x2**2 - 2*x1*x2*cos(u))`` and
``x1*cos(u) + alpha*x1*cos(u)**2``. Terms are chosen by a beam search of orthogonal least
squares on unit-norm columns, and a sum is proposed only when it explains the target to
``_UNEXPLAINED`` of its variance: the search is for exact laws, not approximants, which the
network and the other searches give. :func:`joined_term_formulas` runs it with two
variables joined on the data (``u = theta1 - theta2``, ``u = omega*t``), and a rational
search in ``cos(u)``.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.structure.rational import rational_formulas
from kansr.utils.deadline import Deadline

__all__ = ["joined_term_formulas", "sparse_term_formulas"]

_FUNCTIONS = ("sin", "cos", "exp", "log", "tanh", "arctan")
_SQUARED = ("sin", "cos")  # also offered squared: cos(u)**2 is not a sum of these terms
_POWERS = (-2, -1, 1, 2)
_MAX_TERMS = 4  # terms of a sum besides the constant
_UNEXPLAINED = 1e-9  # share of the target's variance a proposed sum may leave
_MAX_COLUMNS = 6000  # the design is rows x columns: larger libraries are not searched
_MAX_ROWS = 200  # rows the terms are chosen on (evenly spaced; an exact law holds on all)
_MIN_ROWS = 10
_BEAM = 20  # supports kept at each size


def _monomials(X: np.ndarray, cols: list[int]) -> list[tuple[tuple, np.ndarray]]:
    """``(((column, power), ...), values (n,))`` of 1 (no factor) and the products of one or
    two of ``cols`` with powers in ``_POWERS`` that are finite on every row."""
    out: list[tuple[tuple, np.ndarray]] = [((), np.ones(X.shape[0]))]
    singles = [(i, p) for i in cols for p in _POWERS]
    for count in (1, 2):
        for chosen in itertools.combinations(singles, count):
            if len({i for i, _ in chosen}) < count:
                continue
            with np.errstate(all="ignore"):
                values = np.prod([X[:, i] ** float(p) for i, p in chosen], axis=0)
            if np.all(np.isfinite(values)):
                out.append((chosen, values))
    return out


def _functions(
    X: np.ndarray, cols: list[int], library: SymbolicLibrary
) -> list[tuple[tuple, np.ndarray]]:
    """``((column, name, power), values (n,))`` of 1 (``()``) and ``g(x_k)`` for the
    library's functions among ``_FUNCTIONS`` whose domain holds every value of ``x_k`` (and
    ``g(x_k)**2`` for ``_SQUARED``); a function constant on the data is left out."""
    out: list[tuple[tuple, np.ndarray]] = [((), np.ones(X.shape[0]))]
    for i in cols:
        for name in _FUNCTIONS:
            if name not in library:
                continue
            g = library[name]
            x = X[:, i]
            if not np.all(g.in_domain(x)):
                continue
            with np.errstate(all="ignore"):
                values = g.numpy_fn(x)
            if not np.all(np.isfinite(values)) or np.ptp(values) == 0:
                continue
            out.append(((i, name, 1), values))
            if name in _SQUARED:
                out.append(((i, name, 2), values**2))
    return out


class _Terms:
    """The terms of a design as sympy expressions, built only when asked for (building
    thousands of products in sympy costs more than the search)."""

    def __init__(self, parts: list[tuple[tuple, tuple]], symbols, library: SymbolicLibrary):
        self.parts, self.symbols, self.library = parts, symbols, library

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, k: int) -> sympy.Expr:
        monomial, function = self.parts[k]
        expr = sympy.Mul(*[self.symbols[i] ** p for i, p in monomial])
        if function:
            i, name, power = function
            expr *= self.library[name].sympy_expr(self.symbols[i]) ** power
        return expr


def _design(X, cols, symbols, library):
    """Terms (:class:`_Terms`) and their values ``(n, terms)`` (the constant first);
    ``None`` when there would be more than ``_MAX_COLUMNS``."""
    monomials = _monomials(X, cols)
    functions = _functions(X, cols, library)
    if len(monomials) * len(functions) > _MAX_COLUMNS:
        return None
    parts, columns = [], []
    for (m, mv), (g, gv) in itertools.product(monomials, functions):
        if g and any(i == g[0] for i, _ in m):  # x*tanh(x), x**2*sin(x): shapes, not laws
            continue
        values = mv * gv
        if np.all(np.isfinite(values)):
            parts.append((m, g))
            columns.append(values)
    return _Terms(parts, symbols, library), np.column_stack(columns)


def _pursuit(
    design: np.ndarray, target: np.ndarray, max_terms: int
) -> tuple[list[int], np.ndarray] | None:
    """The smallest support of at most ``max_terms`` columns of ``design (n, k)`` (besides
    column 0, the constant) found by a beam search of orthogonal least squares (each
    support of ``_BEAM`` grows by the column that leaves the least residual; greedy
    pursuit alone picks columns correlated with the whole sum, not its terms) that leaves
    at most ``_UNEXPLAINED`` of the target's variance, with its least-squares
    coefficients (the constant first); ``None`` when none does."""
    goal = target - target.mean()
    total = float(goal @ goal)
    if not np.isfinite(total) or total == 0:
        return None
    with np.errstate(all="ignore"):
        centred = design - design.mean(axis=0)
        norms = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    usable = np.isfinite(norms) & (norms > 0)
    usable &= norms > 1e-12 * max(float(norms[usable].max(initial=0.0)), 1e-300)
    usable[0] = False
    unit = np.where(usable, centred / np.where(usable, norms, 1.0), 0.0)
    beam: list[tuple[int, ...]] = [()]
    for _ in range(max_terms):
        scored: dict[tuple[int, ...], float] = {}
        for support in beam:
            basis = _orthonormal(unit[:, list(support)])
            resid = goal - basis @ (basis.T @ goal)
            rest = unit - basis @ (basis.T @ unit)  # (n, k): what each column adds
            size = np.einsum("ij,ij->j", rest, rest)
            with np.errstate(all="ignore"):
                gain = np.where(usable & (size > 1e-10), (rest.T @ resid) ** 2 / size, -1.0)
            gain[list(support)] = -1.0
            left = float(resid @ resid)
            for k in np.argsort(gain)[::-1][:_BEAM]:
                if gain[k] <= 0:
                    break
                grown = tuple(sorted((*support, int(k))))
                scored[grown] = min(scored.get(grown, np.inf), left - float(gain[k]))
        if not scored:
            return None
        ranked = sorted(scored, key=lambda sup: (scored[sup], sup))
        best = ranked[0]
        if scored[best] <= _UNEXPLAINED * total:
            support = [0, *_pruned(unit, goal, list(best), _UNEXPLAINED * total)]
            coef, *_ = np.linalg.lstsq(design[:, support], target, rcond=None)
            return support, coef
        beam = ranked[:_BEAM]
    return None


def _left(unit: np.ndarray, goal: np.ndarray, support: list[int]) -> float:
    """The squared residual of ``goal`` off the span of the ``support`` columns."""
    basis = _orthonormal(unit[:, support])
    resid = goal - basis @ (basis.T @ goal)
    return float(resid @ resid)


def _pruned(unit: np.ndarray, goal: np.ndarray, support: list[int], allowed: float) -> list[int]:
    """``support`` less every column whose removal keeps the residual within ``allowed``
    (the search may reach an exact sum only with a passenger: ``x0**2 + x1**2 - 2*x0*x1*
    cos(x2)`` plus ``1e-15*x0*atan(x1)``)."""
    dropped = True
    while dropped and len(support) > 1:
        dropped = False
        for k in list(support):
            fewer = [j for j in support if j != k]
            if _left(unit, goal, fewer) <= allowed:
                support, dropped = fewer, True
                break
    return support


def _orthonormal(columns: np.ndarray) -> np.ndarray:
    """An orthonormal basis ``(n, r)`` of the span of ``columns (n, r)`` (``(n, 0)`` for
    none)."""
    if columns.shape[1] == 0:
        return columns
    q, _ = np.linalg.qr(columns)
    return q


def _transforms():
    """``(one-signed only, forward on values, inverse)`` of the target's transforms, the
    inverse of a sum ``k*u`` given ``k``, ``u`` and the target's sign (a root of ``k*u`` is
    written ``sqrt(k)*sqrt(u)``: ``sqrt(16*pi**2*(d**2 - 2*d*r*cos(a) + r**2))`` is
    ``4*pi*sqrt(...)``, the law's form): the identity, ``1/y``, ``y**2`` (back: ``sign*sqrt``),
    ``1/y**2`` (a potential ``1/sqrt(d**2 - 2*d*r*cos(a) + r**2)``) and ``log|y|`` (back:
    ``sign*exp``)."""
    return [
        (False, lambda v: v, lambda k, u, s: k * u),
        (False, lambda v: 1 / v, lambda k, u, s: 1 / (k * u)),
        (True, lambda v: v**2, lambda k, u, s: s * sympy.sqrt(k) * sympy.sqrt(u)),
        (True, lambda v: 1 / v**2, lambda k, u, s: s / (sympy.sqrt(k) * sympy.sqrt(u))),
        (True, lambda v: np.log(np.abs(v)), lambda k, u, s: s * sympy.exp(k * u)),
    ]


def sparse_term_formulas(
    X: np.ndarray,
    target: np.ndarray,
    cols: list[int],
    symbols: list[sympy.Symbol],
    library: SymbolicLibrary,
    deadline: Deadline | None = None,
) -> list[sympy.Expr]:
    """Sums of at most ``_MAX_TERMS`` product terms in ``cols`` (and a constant) that give
    ``target (n,)`` or a transform of it exactly (``X (n, n_features)``), written back as
    formulas for ``target``; not yet refit (the coefficients are least-squares floats).
    ``[]`` on fewer than ``_MIN_ROWS`` rows, for a library too large to search, or when
    nothing is exact."""
    X = np.asarray(X, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if len(target) < _MIN_ROWS or not np.all(np.isfinite(target)):
        return []
    if len(target) > _MAX_ROWS:
        rows = np.linspace(0, len(target) - 1, _MAX_ROWS).astype(int)
        X, target = X[rows], target[rows]
    design = _design(X, cols, symbols, library)
    if design is None:
        return []
    exprs, columns = design
    sign = 1 if np.all(target > 0) else -1 if np.all(target < 0) else 0
    found = []
    for one_signed, forward, inverse in _transforms():
        if deadline is not None and deadline.expired():
            break
        if one_signed and sign == 0:
            continue
        with np.errstate(all="ignore"):
            values = forward(target)
        if not np.all(np.isfinite(values)):
            continue
        fit = _pursuit(columns, values, _MAX_TERMS)
        if fit is None:
            continue
        support, coef = fit
        scale = _common_factor(coef[1:])
        terms = zip(support, coef, strict=True)
        total = sympy.Add(*[sympy.Float(c / scale) * exprs[k] for k, c in terms])
        found.append(inverse(sympy.Float(scale), total, sign))
    return found


def _common_factor(coef: np.ndarray) -> float:
    """The smallest magnitude among ``coef`` (the terms' coefficients), the factor taken
    out of their sum (1 when there are none)."""
    sizes = np.abs(coef[coef != 0])
    return float(sizes.min()) if sizes.size else 1.0


_MAX_JOINED_VARS = 4  # joined pairs are tried among at most this many variables


def _joined_pairs(X: np.ndarray, symbols) -> list[tuple[np.ndarray, list]]:
    """``(columns (n, m - 1), expressions)``: the variables with one pair ``x_i, x_j``
    replaced by their product, quotient (both ways), difference or sum, finite and not
    constant on every row."""
    m = X.shape[1]
    out = []
    for i, j in itertools.combinations(range(m), 2):
        xi, xj, si, sj = X[:, i], X[:, j], symbols[i], symbols[j]
        with np.errstate(all="ignore"):
            kinds = [
                (xi * xj, si * sj),
                (xi / xj, si / sj),
                (xj / xi, sj / si),
                (xi - xj, si - sj),
                (xi + xj, si + sj),
            ]
        rest = [k for k in range(m) if k not in (i, j)]
        for values, expr in kinds:
            if np.all(np.isfinite(values)) and np.ptp(values) > 0:
                columns = np.column_stack([X[:, rest], values])
                out.append((columns, [symbols[k] for k in rest] + [expr]))
    return out


def joined_term_formulas(
    X: np.ndarray,
    target: np.ndarray,
    symbols: list[sympy.Symbol],
    library: SymbolicLibrary,
    deadline: Deadline | None = None,
) -> list[sympy.Expr]:
    """:func:`sparse_term_formulas` of ``target (n,)`` in the variables of ``X (n, m)`` with
    one pair joined (:func:`_joined_pairs`: ``u = omega*t`` in ``x1*cos(u) +
    alpha*x1*cos(u)**2``, ``u = theta1 - theta2``), the first pair that gives an exact sum;
    ``[]`` for more than ``_MAX_JOINED_VARS`` or fewer than three variables (two joined
    are one: the one-variable searches) or when none does; where the sums are not exact,
    a rational function in the cosine of the joined variable (:func:`_rational_in_cosine`).
    A data-only counterpart of the decomposition's joined variables, for networks too
    inaccurate to reveal them."""
    X = np.asarray(X, dtype=np.float64)
    if not 3 <= X.shape[1] <= _MAX_JOINED_VARS:
        return []
    if len(target) > _MAX_ROWS:
        rows = np.linspace(0, len(target) - 1, _MAX_ROWS).astype(int)
        X, target = X[rows], np.asarray(target)[rows]
    for columns, exprs in _joined_pairs(X, symbols):
        if deadline is not None and deadline.expired():
            break
        found = sparse_term_formulas(
            columns, target, list(range(columns.shape[1])), exprs, library, deadline
        )
        if not found and (deadline is None or not deadline.expired()):
            found = _rational_in_cosine(columns, target, exprs)
        if found:
            return found
    return []


_COSINE_DEGREE = 3  # degrees of P and Q of the rational search in a cosine


def _rational_in_cosine(
    columns: np.ndarray, target: np.ndarray, exprs: list[sympy.Expr]
) -> list[sympy.Expr]:
    """An exact ``P/Q`` of degree at most ``_COSINE_DEGREE`` each
    (:func:`~kansr.symbolic.structure.rational.rational_formulas`) in the variables
    ``exprs`` with the last (the joined one, ``u``) replaced by ``cos(u)``:
    ``d*(1 - a**2)/(1 + a*cos(u))``, an orbit or a scattering angle; ``[]`` when there is
    none."""
    values = columns.copy()
    values[:, -1] = np.cos(columns[:, -1])
    if np.ptp(values[:, -1]) == 0:
        return []
    names = [sympy.Symbol(f"c{k}", real=True) for k in range(len(exprs))]
    found, exact = rational_formulas(
        values,
        target,
        names,
        max_degree=_COSINE_DEGREE,
        max_poly_degree=_COSINE_DEGREE,
        max_noisy_degree=0,
        squared=False,
    )
    if not exact:
        return []
    back = dict(zip(names, [*exprs[:-1], sympy.cos(exprs[-1])], strict=True))
    return [e.xreplace(back) for e in found]
