"""Formulas from the structure of the data: monomials and separable sums and products.

Most laws of physics are products of powers, or sums and products of functions of one
variable each. A network of sums alone writes ``x*y`` as ``((x+y)^2 - (x-y)^2)/4``; these
direct searches give such laws their natural, simplest form:

* **monomial** — least squares of ``log|y|`` on ``log|x_i|`` gives the exponents, which are
  snapped to simple fractions, then the prefactor is fitted.
* **separable** — an additive spline model (one cubic B-spline per variable, one linear least
  squares) of ``y`` (sum ``y = c + sum_i g_i(x_i)``) or of ``log|y|`` (product ``y = C prod_i
  g_i(x_i)``). Each one-variable piece is matched against the library (all pieces at once) or,
  for products, against a power ``x^p``; then all constants are refit jointly.
* **signed products** — when the target or a variable changes sign, ``log|y|`` regressed on
  ``log|x_i|`` directly, integer exponents, and the rest matched as one function of one
  variable (:mod:`kansr.symbolic.structure.signed`).
* **a power times a function** — a target of one variable ``x`` of one sign divided by
  ``x**k`` (``k = +-1, +-2, +-3``) and matched against the library or as a transformed
  monomial: ``x*exp(-x)``, ``sin(x)/x``, ``x**3/(exp(x) - 1)``.
* **monomial times a sum** — variables whose piece of the product fit is an exact power are
  divided out, and the rest is fitted as a sum (``m*(u^2 + v^2)/2``).
* **rational** — ``P(x)/Q(x)`` or ``sqrt(P(x)/Q(x))`` by linear algebra
  (:mod:`kansr.symbolic.structure.rational`), for the target and for what is left after
  dividing out a monomial; an exact one ends the search of that target. Also ``exp(P/Q)`` of
  low degree from ``log|y|`` (Arrhenius, Clausius-Clapeyron, Gaussians).

Every result is only a *candidate*: its mean squared error on the data decides, through the
Pareto front, whether it is chosen. Formulas use the internal symbols ``x0 .. x{n-1}``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy
import torch

from kansr.nn.splines import bspline_basis, uniform_knots
from kansr.symbolic.expressions import complexity, evaluate, mse
from kansr.symbolic.finish import finish, formula_if_finite
from kansr.symbolic.library import DIVIDED_POWERS, SymbolicLibrary
from kansr.symbolic.matching import match_edges
from kansr.symbolic.structure.periodic import periodic_formulas
from kansr.symbolic.structure.rational import rational_formulas
from kansr.symbolic.structure.signed import signed_product_formulas
from kansr.symbolic.structure.sparse_terms import joined_term_formulas, sparse_term_formulas
from kansr.utils.deadline import Deadline

__all__ = [
    "additive_spline_fit",
    "monomial_formula",
    "snap_exponent",
    "spline_grid",
    "structure_formulas",
]

_GRID = 8  # spline intervals per variable for the separability fits (fewer on small data)
_ORDER = 3
_MIN_ROWS = 5  # smaller data get no structure search
_MAX_SAMPLES = 2000  # rows used for the spline fits and matching
_COMPLEXITY_WEIGHTS = (0.25, 0.5, 1.0)
# finishing is bounded tighter than for the network's few candidates: up to max_finish of them
_MAX_SIMPLIFY_NODES = 60
_SYMPY_TIMEOUT = 3.0  # CPU seconds


def snap_exponent(p: float, tol: float = 0.05) -> sympy.Expr:
    """``p`` as an integer, a half or a third when within ``tol``; else a float."""
    for denominator in (1, 2, 3):
        frac = Fraction(round(p * denominator), denominator)
        if abs(float(frac) - p) <= tol:
            return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Float(p, 15)


def _one_signed(values: np.ndarray) -> int:
    """+1 or -1 when every value is strictly positive or negative, else 0."""
    if np.all(values > 0):
        return 1
    if np.all(values < 0):
        return -1
    return 0


def monomial_formula(
    X: np.ndarray, y: np.ndarray, symbols: list[sympy.Symbol], columns: list[int] | None = None
) -> sympy.Expr | None:
    """``C * prod x_i^p_i`` over ``columns`` (default all) with snapped exponents, or ``None``
    when ``y`` or a used column changes sign."""
    cols = list(range(X.shape[1])) if columns is None else list(columns)
    sign_y = _one_signed(y)
    signs = [_one_signed(X[:, i]) for i in cols]
    if sign_y == 0 or 0 in signs:
        return None
    logs = np.column_stack([np.log(np.abs(X[:, i])) for i in cols] + [np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(logs, np.log(np.abs(y)), rcond=None)
    monomial = sympy.Integer(1)
    values = np.ones(len(y))
    for i, p, s in zip(cols, coef[:-1], signs, strict=True):
        power = snap_exponent(float(p))
        if power == 0:
            continue
        if s < 0 and not (power.is_integer):
            return None
        monomial *= symbols[i] ** power
        values *= X[:, i] ** float(power)
    with np.errstate(all="ignore"):
        prefactor = float(values @ y / (values @ values))
    if not math.isfinite(prefactor) or prefactor == 0:
        return None
    return sympy.Float(prefactor, 15) * monomial


def spline_grid(n_rows: int) -> int:
    """Spline intervals per variable for ``n_rows`` rows: 8, fewer on small data (at least
    four rows per basis function; one interval, a cubic, below 16 rows)."""
    return max(1, min(_GRID, n_rows // 4 - _ORDER))


def additive_spline_fit(
    X: np.ndarray, target: np.ndarray, grid: int | None = None
) -> tuple[np.ndarray, float, float]:
    """Least-squares ``target ~ c + sum_i s_i(x_i)`` with cubic splines ``s_i``.

    ``grid`` intervals per variable (``None``: :func:`spline_grid` of the row count).
    Returns the centred pieces ``(n_features, n_samples)``, the intercept ``c`` and the
    fraction of the target's variance left unexplained.
    """
    grid = spline_grid(len(target)) if grid is None else grid
    xt = torch.as_tensor(X, dtype=torch.float64)
    low, high = xt.min(0).values, xt.max(0).values
    span = torch.where(high > low, high - low, torch.ones_like(high))
    knots = uniform_knots(low - 1e-9 * span, high + 1e-9 * span, grid, _ORDER)
    basis = bspline_basis(xt, knots, _ORDER).numpy()  # (N, n, G + k)
    # partition of unity: drop one function per variable, the intercept carries the level
    blocks = [basis[:, i, 1:] for i in range(X.shape[1])]
    design = np.column_stack([np.ones(len(target))] + blocks)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    pieces, start = [], 1
    for block in blocks:
        piece = block @ coef[start : start + block.shape[1]]
        start += block.shape[1]
        pieces.append(piece - piece.mean())
    pieces_arr = np.array(pieces)
    intercept = float(np.mean(target))
    resid = target - intercept - pieces_arr.sum(0)
    var = float(np.var(target))
    unexplained = float(np.mean(resid**2) / var) if var > 0 else 0.0
    return pieces_arr, intercept, unexplained


def _power_fit(x: np.ndarray, piece: np.ndarray) -> tuple[float, float]:
    """Exponent ``p`` of ``piece ~ p log|x| + q`` and the unexplained fraction of variance."""
    if _one_signed(x) == 0 or np.var(piece) == 0:
        return 0.0, 1.0
    lx = np.log(np.abs(x))
    design = np.column_stack([lx, np.ones_like(lx)])
    coef, *_ = np.linalg.lstsq(design, piece, rcond=None)
    resid = piece - design @ coef
    return float(coef[0]), float(np.mean(resid**2) / np.var(piece))


def _matched_terms(
    xs: np.ndarray,
    values: np.ndarray,
    library: SymbolicLibrary,
    symbols,
    top: int = 3,
    deadline: Deadline | None = None,
) -> list[list[tuple[sympy.Expr, float, int]]]:
    """Per variable, the top library matches of ``values (m, N)`` over ``xs (m, N)`` as
    ``(c*f(a*x + b) + d, log10 relative error, complexity)``; after ``deadline``
    the remaining library functions are not tried."""
    # (the plain refinement: these searches run it many times, on pieces of the data)
    matches = match_edges(xs, values, library, top=top, deadline=deadline, projected=False)
    out = []
    for e, sym in enumerate(symbols):
        options = []
        for j, name in enumerate(matches.names[e]):
            fn = library[name]
            a, b, c, d = (sympy.Float(float(v), 15) for v in matches.params[e, j])
            if fn.complexity == 0:
                continue
            term = c * fn.sympy_expr(a * sym + b) + d
            err = float(np.log10(matches.relative_error[e, j] + 1e-12))
            if not math.isfinite(err):  # not tried (deadline) or not fitting
                continue
            options.append((term, err, fn.complexity))
        out.append(options)
    return out


def _combinations(
    options: list[list[tuple[sympy.Expr, float, int]]],
) -> list[list[sympy.Expr]]:
    """One choice per variable for every complexity weight (duplicates removed)."""
    chosen, seen = [], set()
    for weight in _COMPLEXITY_WEIGHTS:
        pick = []
        for opts in options:
            if not opts:
                pick.append(None)
                continue
            pick.append(min(range(len(opts)), key=lambda j: opts[j][1] + weight * opts[j][2]))
        key = tuple(pick)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(
            [opts[j][0] if j is not None else None for opts, j in zip(options, pick, strict=True)]
        )
    return chosen


def _sum_candidates(X, target, cols, symbols, library, deadline=None) -> list[sympy.Expr]:
    """``c0 + sum_i term_i(x_i)`` over ``cols`` (not yet refit), one per complexity weight."""
    pieces, intercept, _ = additive_spline_fit(X[:, cols], target)
    syms = [symbols[i] for i in cols]
    options = _matched_terms(X[:, cols].T, pieces, library, syms, deadline=deadline)
    out = []
    for terms in _combinations(options):
        expr = sympy.Float(intercept, 15)
        for term in terms:
            if term is not None:
                expr = expr + term
        out.append(expr)
    return out


def _product_candidates(
    X, y, cols, symbols, library, deadline=None
) -> tuple[list[sympy.Expr], list[tuple[float, float]]]:
    """``C prod_i g_i(x_i)`` over ``cols`` (not yet refit) and, per column of ``cols``, the
    power fit ``(p, unexplained)`` of its piece of ``log|y|``."""
    # log|y| is additive in the variables of a product even when one factor changes sign;
    # rows where y is (nearly) zero are left out of that fit
    keep = np.abs(y) > 1e-3 * np.median(np.abs(y))
    if keep.sum() < _MIN_ROWS:
        return [], []
    Xk = X[keep][:, cols]
    pieces, intercept, _ = additive_spline_fit(Xk, np.log(np.abs(y[keep])))
    powers = [_power_fit(Xk[:, j], pieces[j]) for j in range(len(cols))]
    sign = _one_signed(y)
    if sign == 0:
        return [], powers
    syms = [symbols[i] for i in cols]
    options = _matched_terms(Xk.T, np.exp(pieces), library, syms, deadline=deadline)
    # a factor may be exp(f(x)) with f in the library: match the log-space pieces as well
    for j, opts in enumerate(_matched_terms(Xk.T, pieces, library, syms, top=2, deadline=deadline)):
        options[j].extend((sympy.exp(term), err, cplx + 1) for term, err, cplx in opts)
    for j, (p, unexplained) in enumerate(powers):
        if unexplained < 1.0:
            power = snap_exponent(p)
            err = math.log10(unexplained + 1e-12)
            options[j].append((syms[j] ** power, err, 1 if power == 1 else 2))
    out = []
    for factors_expr in _combinations(options):
        expr = sympy.Float(sign * math.exp(intercept), 15)
        for f in factors_expr:
            if f is not None:
                expr = expr * f
        out.append(expr)
    return out, powers


def _on_branch(forward, lo: float, hi: float):
    """``forward`` where every value lies in ``[lo, hi]`` (where it is invertible: ``sin``
    on ``[-pi/2, pi/2]``), otherwise ``nan``, which rules the transform out."""

    def transform(v):
        inside = np.all((v >= lo) & (v <= hi))
        return forward(v) if inside else np.full(np.shape(v), np.nan)

    return transform


# Invertible transforms of the target, as (name, forward on values, inverse on sympy):
# ``T(y) = C * monomial`` is searched for every T, and ``y = T^-1(C * monomial)`` proposed.
# An angle from a ratio (``asin(lambda/(n*d))``, ``acos(...)``) is the inverse of sin or cos
# on their principal branch, where the target lies on it.
def _transforms() -> list[tuple[str, object, object]]:
    with np.errstate(all="ignore"):
        return [
            ("id", lambda v: v, lambda u: u),
            ("inv", lambda v: 1 / v, lambda u: 1 / u),
            ("square", lambda v: v**2, lambda u: sympy.sqrt(u)),
            ("sqrt", lambda v: np.sqrt(v), lambda u: u**2),
            ("log", np.log, sympy.exp),
            ("exp", np.exp, sympy.log),
            ("asin", np.arcsin, sympy.sin),
            ("acos", np.arccos, sympy.cos),
            ("inv+1", lambda v: np.log(1 / v + 1), lambda u: 1 / (sympy.exp(u) - 1)),
            ("inv-1", lambda v: np.log(1 / v - 1), lambda u: 1 / (sympy.exp(u) + 1)),
            ("sq+1", lambda v: v**2 - 1, lambda u: sympy.sqrt(u + 1)),
            ("1-sq", lambda v: 1 - v**2, lambda u: sympy.sqrt(1 - u)),
            ("1-inv2", lambda v: 1 - 1 / v**2, lambda u: 1 / sympy.sqrt(1 - u)),
            ("sin", _on_branch(np.sin, -np.pi / 2, np.pi / 2), sympy.asin),
            ("cos", _on_branch(np.cos, 0.0, np.pi), sympy.acos),
        ]


def _transformed_monomials(
    X: np.ndarray, target: np.ndarray, cols: list[int], symbols
) -> list[sympy.Expr]:
    """``T^-1(C * monomial over cols)`` for every transform ``T`` whose monomial fit of
    ``T(target)`` is close (unexplained log-variance below 1e-3); not yet refit."""
    out = []
    for _name, forward, inverse in _transforms():
        with np.errstate(all="ignore"):
            values = forward(target)
        if not np.all(np.isfinite(values)) or _one_signed(values) == 0:
            continue
        mono = monomial_formula(X, values, symbols, cols)
        if mono is None:
            continue
        logs = np.log(np.abs(values))
        pred = evaluate(mono, X)
        with np.errstate(all="ignore"):  # (pred is finite-valued or NaN, never raises)
            resid = logs - np.log(np.abs(pred))
        if not np.all(np.isfinite(resid)) or np.var(logs) == 0:
            continue
        if np.mean((resid - resid.mean()) ** 2) / np.var(logs) < 1e-3:
            out.append(inverse(mono))
    return out


_NEAR_EXACT = -2.0  # log10 of the unexplained variance fraction a matched quotient must beat


def _power_times_forms(X, target, col, symbols, library, deadline) -> list[sympy.Expr]:
    """``x**k * F(x)`` for a target of the one variable ``x = X[:, col]`` of one sign, for
    every ``k`` in :data:`DIVIDED_POWERS`: ``F`` the best library match
    ``c*f(a*x + b) + d`` of ``target / x**k`` (kept when it leaves under 1 % of its variance
    unexplained) or a transformed monomial of it (``1/(exp(x) - 1)``); the two most accurate
    of them. The library has no product of a power and a function: ``x*exp(-x)`` or
    ``sin(x)/x`` came back as approximants. Not yet refit."""
    x = X[:, col]
    if _one_signed(x) == 0:
        return []
    quotients = np.array([target / x**k for k in DIVIDED_POWERS])  # (k, n)
    if not np.all(np.isfinite(quotients)):
        return []
    xs = np.tile(x, (len(DIVIDED_POWERS), 1))
    sym = symbols[col]
    options = _matched_terms(
        xs, quotients, library, [sym] * len(DIVIDED_POWERS), top=1, deadline=deadline
    )
    out = []
    for k, opts, quotient in zip(DIVIDED_POWERS, options, quotients, strict=True):
        out.extend(sym**k * term for term, err, _ in opts if err < _NEAR_EXACT)
        out.extend(sym**k * e for e in _transformed_monomials(X, quotient, [col], symbols))
    return _most_accurate(out, X, target, _MAX_TRANSFORMED)


# of the target, for sums and products (sin and cos only where the target is on their branch)
_FORM_TRANSFORMS = ("log", "inv", "square", "sqrt", "sin", "cos")
_BRANCH_TRANSFORMS = ("sin", "cos")
_MAX_TRANSFORMED = 2  # of their candidates, the most accurate this many are kept


def _transformed_forms(X, target, cols, symbols, library, budget) -> list[sympy.Expr]:
    """``T^-1`` of the sum and product candidates of ``T(target)`` for ``T`` in ``log y``,
    ``1/y``, ``y^2``, ``sqrt y`` where ``T(target)`` is finite and not constant (one search
    of the budget each): ``(1 + r)**n = exp(n*log(1 + r))``, ``1/(1/a + 1/b)``. Not yet
    refit."""
    out = []
    for name, forward, inverse in _transforms():
        if name not in _FORM_TRANSFORMS:
            continue
        with np.errstate(all="ignore"):
            values = forward(target)
        invalid = not np.all(np.isfinite(values)) or np.ptp(values) == 0
        if invalid and name in _BRANCH_TRANSFORMS:  # off their branch: no search spent
            continue
        if not budget.spend():
            break
        if invalid:
            continue
        forms = _sum_candidates(X, values, cols, symbols, library, budget.deadline)
        forms += _product_candidates(X, values, cols, symbols, library, budget.deadline)[0]
        if name in _BRANCH_TRANSFORMS and _one_signed(values) == 0:  # n*sin(theta2)
            syms = [symbols[i] for i in cols]
            forms += signed_product_formulas(X[:, cols], values, syms, library, budget.deadline)
        out.extend(inverse(e) for e in forms)
    return _most_accurate(out, X, target, _MAX_TRANSFORMED)


def _most_accurate(exprs: list[sympy.Expr], X, target, count: int) -> list[sympy.Expr]:
    """The ``count`` of ``exprs`` of least finite error on ``target``: a curve of one or two
    variables has many accurate approximants among the transformed and power-times forms,
    which would crowd the direct forms out of the candidates that are finished (14 rows of
    vapour pressure: ``T**k*exp(a*T)`` for six ``k`` pushed out ``C*exp(-E/T)``)."""
    scored = sorted((mse(e, X, target), k) for k, e in enumerate(exprs))
    return [exprs[k] for error, k in scored if math.isfinite(error)][:count]


def _exp_rational(X, target, cols, symbols, deadline) -> list[sympy.Expr]:
    """``±exp(P/Q)`` of low degree (``P/Q`` from the rational search on ``log|target|``) for a
    one-signed target: Arrhenius and Clausius-Clapeyron ``exp(a + b/T)``, Gaussians,
    Boltzmann factors. Not yet refit."""
    sign = _one_signed(target)
    if sign == 0:
        return []
    with np.errstate(all="ignore"):
        logs = np.log(np.abs(target))
    if not np.all(np.isfinite(logs)):
        return []
    found, _ = rational_formulas(
        X[:, cols],
        logs,
        [symbols[i] for i in cols],
        max_degree=2,
        max_noisy_degree=2,
        squared=False,
        deadline=deadline,
    )
    return [sign * sympy.exp(e) for e in found]


def _splits(powers: list[tuple[float, float]], cols: list[int], max_split: int):
    """Sets of columns to divide out as a monomial: the most power-like single columns and
    prefixes of the columns ordered by how power-like their piece of ``log|y|`` is."""
    order = sorted(range(len(cols)), key=lambda j: powers[j][1])
    order = [j for j in order if powers[j][1] <= 0.2][:max_split]
    splits: list[tuple[int, ...]] = [(j,) for j in order]
    for count in range(2, len(order) + 1):
        splits.append(tuple(order[:count]))
    return [[cols[j] for j in split] for split in splits if len(split) < len(cols)]


class _Budget:
    """How many more searches may run, and until when (``max_time``). Counting searches,
    not seconds, keeps the result independent of the machine's load."""

    def __init__(self, searches: int, deadline: Deadline) -> None:
        self.searches = searches
        self.deadline = deadline

    def spend(self) -> bool:
        """Take one search from the budget; ``False`` when none is left."""
        if self.searches <= 0 or self.deadline.expired():
            return False
        self.searches -= 1
        return True


def _search(X, target, cols, symbols, library, depth, max_split, budget) -> list[sympy.Expr]:
    """Raw (not refit) candidates for ``target`` as a function of ``cols``: a sum, a product,
    a transformed monomial, or a monomial in some columns times such a form of the others
    (recursively, ``depth`` levels; at the top level also ``monomial * (1 + form)``)."""
    if depth >= 1 and budget.spend():
        rational, exact = rational_formulas(
            X[:, cols], target, [symbols[i] for i in cols], deadline=budget.deadline
        )
        if exact:  # nothing simpler to look for in this target
            return rational
        if depth == 2 and budget.spend():
            rational += _exp_rational(X, target, cols, symbols, budget.deadline)
    else:
        rational = []
    raw = rational + list(_sum_candidates(X, target, cols, symbols, library, budget.deadline))
    raw.extend(_transformed_monomials(X, target, cols, symbols))
    products, powers = _product_candidates(X, target, cols, symbols, library, budget.deadline)
    raw.extend(products)
    raw.extend(periodic_formulas(X, target, cols, symbols))
    if len(cols) == 1:
        raw.extend(_power_times_forms(X, target, cols[0], symbols, library, budget.deadline))
    if depth == 2:
        raw.extend(_transformed_forms(X, target, cols, symbols, library, budget))
    if depth >= 1 and len(cols) >= 2:  # (also what is left once a monomial is divided out)
        raw.extend(sparse_term_formulas(X, target, cols, symbols, library, budget.deadline))
    if depth == 0 or len(cols) < 2 or not powers:
        return raw
    # first every split with a plain inner form, then deeper forms while time remains
    passes = [(0, False)] if depth == 1 else [(0, False), (1, False), (1, True)]
    for inner_depth, offset in passes:
        for split in _splits(powers, cols, max_split):
            if not budget.spend():
                return raw
            rest = [i for i in cols if i not in split]
            if offset and len(rest) < 2:
                continue
            monomial = sympy.Integer(1)
            values = np.ones(len(target))
            for i in split:
                power = sympy.Rational(round(2 * powers[cols.index(i)][0]), 2)
                monomial *= symbols[i] ** power
                values = values * np.power(X[:, i], float(power))
            with np.errstate(all="ignore"):
                remainder = target / values - (1 if offset else 0)
            if not np.all(np.isfinite(remainder)):
                continue
            inner = _search(X, remainder, rest, symbols, library, inner_depth, max_split, budget)
            raw.extend(monomial * (e + 1 if offset else e) for e in inner)
    return raw


def _subsample(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """At most ``_MAX_SAMPLES`` rows of ``X``, ``y`` and ``sample_weight``, drawn with ``seed``."""
    n = X.shape[0]
    if n > _MAX_SAMPLES:
        rows = np.random.default_rng(seed).choice(n, _MAX_SAMPLES, replace=False)
        ws = None if sample_weight is None else sample_weight[rows]
        return X[rows], y[rows], ws
    return X, y, sample_weight


def _raw_candidates(
    X: np.ndarray,
    y: np.ndarray,
    symbols: list[sympy.Symbol],
    library: SymbolicLibrary,
    max_split: int,
    budget: _Budget,
) -> list[sympy.Expr]:
    """Every raw (not refit) candidate of the search, and the plain monomial fit."""
    raw = _search(X, y, list(range(X.shape[1])), symbols, library, 2, max_split, budget)
    mono = monomial_formula(X, y, symbols)
    if mono is not None:
        raw.append(mono)
    else:  # the target or a variable changes sign: products of signed powers
        raw.extend(signed_product_formulas(X, y, symbols, library, budget.deadline))
    return raw


def _most_promising(
    raw: list[sympy.Expr],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    max_finish: int,
    simplest_sizes: int = 0,
) -> list[sympy.Expr]:
    """The ``max_finish`` distinct candidates of lowest (finite) error, then complexity, and
    after them the most accurate candidate of each of the ``simplest_sizes`` smallest
    complexities that those leave out: many accurate approximants of a curve would crowd
    out its simple laws (17 rows of boiling points: ``a*exp(b*bp)``, 6 nodes, was 15th by
    error behind rationals and sines of up to 23 nodes; a power ``bp**4.2`` was the only
    formula of fewer than 10 nodes finished)."""
    unique = {sympy.srepr(e): e for e in raw}
    scored = sorted(
        ((mse(e, X, y, w), complexity(e), e) for e in unique.values()),
        key=lambda t: (t[0], t[1]),
    )
    finite = [(size, expr) for error, size, expr in scored if math.isfinite(error)]
    chosen = [expr for _, expr in finite[:max_finish]]
    best_of_size: dict[int, sympy.Expr] = {}
    for size, expr in finite:  # (most accurate first)
        best_of_size.setdefault(size, expr)
    simple = [best_of_size[size] for size in sorted(best_of_size)[:simplest_sizes]]
    return chosen + [expr for expr in simple if not any(expr is e for e in chosen)]


def _finish_candidates(
    exprs: list[sympy.Expr],
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    Xs: np.ndarray,
    ys: np.ndarray,
    ws: np.ndarray | None,
    deadline: Deadline,
) -> list[tuple[sympy.Expr, float]]:
    """Finish (refit, snap, simplify) ``exprs`` on the subsample ``Xs, ys, ws``, best first,
    until ``deadline``; ``(expression, loss)`` on all rows ``X, y`` of the finite ones."""
    results = []
    for expr in exprs:
        if deadline.expired():
            break
        try:
            finished = finish(
                expr,
                Xs,
                ys,
                deadline=deadline,
                max_nodes=_MAX_SIMPLIFY_NODES,
                sympy_timeout=_SYMPY_TIMEOUT,
                sample_weight=ws,
            )
        except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError):
            continue  # a candidate sympy cannot handle is dropped, the others stay
        if finished is None:
            continue
        formula = formula_if_finite(finished.expr, X, y, sample_weight)  # (on all rows)
        if formula is not None:
            results.append((formula.expr, formula.loss))
    return results


_SIMPLEST_SIZES = 4  # complexities whose best raw candidate is finished beside the best
_NEAR_EXACT_RAW = 1e-10  # share of var(y) a raw candidate leaves when the search has the law


def structure_formulas(
    X: np.ndarray,
    y: np.ndarray,
    library: SymbolicLibrary,
    *,
    max_split: int = 3,
    max_finish: int = 12,
    max_searches: int = 40,
    deadline: Deadline | None = None,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> list[tuple[sympy.Expr, float]]:
    """Candidate ``(expression, mean squared error)`` pairs for ``X (n, m)``, ``y (n,)``.

    Expressions are in the symbols ``x0 .. x{m-1}`` and the units of ``X`` and ``y``. At most
    ``max_searches`` sub-searches run and only the ``max_finish`` raw candidates of lowest
    error, and the most accurate of each of the four smallest complexities, are refit and
    simplified; ``deadline`` stops both early (the searches get half of
    the time left). With ``sample_weight (n,)`` the candidates are ranked, refit and
    scored on the weighted squared error (the searches that propose them are unweighted).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m = X.shape
    if n < _MIN_ROWS or np.var(y) == 0:
        return []
    Xs, ys, ws = _subsample(X, y, sample_weight, seed)
    symbols = list(sympy.symbols(f"x0:{m}", real=True))
    deadline = deadline or Deadline()
    budget = _Budget(max_searches, deadline.share(0.5))
    raw = _raw_candidates(Xs, ys, symbols, library, max_split, budget)
    # finish (refit, snap, simplify) the most promising candidates only, best first
    best = _most_promising(raw, Xs, ys, ws, max_finish, _SIMPLEST_SIZES)
    if not best or mse(best[0], Xs, ys, ws) > _NEAR_EXACT_RAW * float(np.var(ys)):
        joined = joined_term_formulas(Xs, ys, symbols, library, budget.deadline)
        best = _most_promising(joined, Xs, ys, ws, max_finish) + best
    return _finish_candidates(best, X, y, sample_weight, Xs, ys, ws, deadline)
