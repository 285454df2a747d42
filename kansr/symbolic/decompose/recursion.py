"""Divide and conquer on an oracle (AI Feynman's recursion, with the trained KAN as the
smooth model): split off additive or multiplicative groups of variables, join two variables
into their product, quotient, sum or difference, write ``f`` homogeneous of degree ``k`` in
two variables as ``x_j**k g(x_i/x_j)``, or transform the output (``log``, ``1/f``, ``f^2``,
``sqrt``) when that reveals such structure; functions of one variable are matched
against the library (``c*f(a*x + b) + d``, the KAN's own edge matching).

:func:`decompose` returns raw candidate expressions in the data's symbols; their constants
are refit jointly on the data afterwards (:func:`kansr.symbolic.finish.finish`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch

from kansr.symbolic.decompose.oracle import Oracle
from kansr.symbolic.decompose.separability import (
    Tolerance,
    additive_couplings,
    affine_profiles,
    best_combination,
    coupled_groups,
    homogeneous_pair,
    product_couplings,
    product_groups,
    relevant_variables,
    separable_groups,
    split_margin,
)
from kansr.symbolic.library import (
    COMPOSITION_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    DIVIDED_POWERS,
    SymbolicLibrary,
)
from kansr.symbolic.matching import match_edges
from kansr.utils.deadline import Deadline

__all__ = ["Recursion", "combined_variables", "decompose", "recombined_variables"]

_LEAF_POINTS = 256
_MAX_ALTERNATIVES = 3
_NESTED_POINTS = 64  # grid points on which compositions are matched (then judged on all)
_AWAY_FROM_ZERO = 1e-3  # |f| above this share of max |f| everywhere: log and 1/f are safe


@dataclass
class Recursion:
    """Settings of one decomposition.

    ``library``: functions for the one-variable pieces; ``tolerance``: of the structure
    tests (:class:`~kansr.symbolic.decompose.separability.Tolerance`); ``max_depth``: levels
    of splitting; ``transforms``: output transforms allowed along one path; ``affine``:
    affine splits (:func:`_affine_split`) allowed along one path; ``deadline``:
    stop splitting; ``rng``: the points the tests draw (seeded: the same splits every run).
    """

    library: SymbolicLibrary
    tolerance: Tolerance = field(default_factory=Tolerance)
    max_depth: int = 12
    transforms: int = 1
    affine: int = 1
    deadline: Deadline = field(default_factory=Deadline)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


def _number(value: float) -> sympy.Expr:
    return sympy.Float(float(value), 15)


# output transforms of a one-variable piece, (numpy forward on positive values, numpy
# inverse, sympy inverse): 1/sqrt(1 - u**2) is no library function, but 1/g**2 = 1 - u**2 is
_LEAF_TRANSFORMS = (
    (lambda v: 1 / v, lambda p: 1 / p, lambda e: 1 / e),
    (lambda v: v**2, np.sqrt, sympy.sqrt),
    (lambda v: 1 / v**2, lambda p: 1 / np.sqrt(p), lambda e: 1 / sympy.sqrt(e)),
    (np.log, np.exp, sympy.exp),
    (np.sqrt, lambda p: p**2, lambda e: e**2),
)


@dataclass
class _Piece:
    """A candidate for a one-variable piece: its expression, its values on the grid and its
    complexity."""

    expr: sympy.Expr
    values: np.ndarray
    complexity: int


def _matched(u, values, variable, settings) -> tuple[list[_Piece], np.ndarray]:
    """Library matches ``c*f(a*u + b) + d`` of ``values (n,)`` at ``u (n,)`` (the five best
    ranked) and their relative errors."""
    matches = match_edges(u[None], values[None], settings.library, top=5)
    pieces = []
    for rank, name in enumerate(matches.names[0]):
        fn = settings.library[name]
        a, b, c, d = matches.params[0, rank]
        with np.errstate(all="ignore"):
            fitted = c * fn.safe_numpy(a * u + b) + d if fn.complexity else np.full_like(u, d)
        if fn.complexity == 0:
            expr = _number(d)
        else:
            expr = _number(c) * fn.sympy_expr(_number(a) * variable + _number(b)) + _number(d)
        pieces.append(_Piece(expr, fitted, fn.complexity))
    return pieces, matches.relative_error[0]


def _composition_functions(library: SymbolicLibrary) -> SymbolicLibrary:
    """The functions compositions are built from: ``library``, and when it is the default
    library also :data:`~kansr.symbolic.library.COMPOSITION_FUNCTIONS` (``sinh``, ``cosh``,
    ``arcsin``); a library of the user's own choice is kept as it is."""
    names = [f.name for f in library]
    if names != list(DEFAULT_FUNCTIONS):
        return library
    return SymbolicLibrary([*library, *COMPOSITION_FUNCTIONS.values()])


def _affine_copy(v: np.ndarray, r: np.ndarray) -> bool:
    """Whether ``v (n,)`` is an affine map of ``r (n,)`` at every point, to 1e-7 of each value
    (a correlation near one is not enough: ``cosh(u)`` and ``exp(u)/2`` correlate to 1e-12
    on ``0.1 <= u <= 18``, yet ``1/cosh(u)`` and ``2*exp(-u)`` differ at small ``u``)."""
    basis = np.stack([r, np.ones_like(r)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, v, rcond=None)
    gap = np.abs(basis @ coef - v)
    return bool(np.all(gap <= 1e-7 * np.abs(v) + 1e-12 * np.abs(v).max()))


def _nested(u, values, variable, settings) -> list[_Piece]:
    """Library compositions ``c*F(a*G(s*u) + b) + d`` of ``values (n,)`` at ``u (n,)``: every
    inner ``G`` of the library defined on ``s*u`` (``s = +-1``; inner functions with the
    same values up to an affine map kept once), the best two outer ``F`` of each, matched
    at once (a function of a function: ``exp(sin(u))``, ``cos(u**2)``, ``log(1 + exp(u))``)."""
    functions = _composition_functions(settings.library)
    inner, rows = [], []
    for g in functions:
        if g.complexity <= 1:  # the identity and zero compose to the direct matches
            continue
        for s in (1, -1):
            if not g.in_domain(s * u).all():
                continue
            with np.errstate(all="ignore"):
                v = g.safe_numpy(s * u)
            if not np.isfinite(v).all() or np.ptp(v) <= 1e-9 * max(1.0, np.abs(v).max()):
                continue
            if any(_affine_copy(v, r) for r in [u, *rows]):
                continue
            inner.append((g, s))
            rows.append(v)
    outer_names = [f.name for f in functions if f.complexity > 1]
    if not rows or not outer_names:
        return []
    outer = functions.subset(outer_names)
    V = np.stack(rows)
    sub = slice(None, None, max(1, len(u) // _NESTED_POINTS))  # matched on a coarser grid
    matches = match_edges(V[:, sub], np.tile(values[sub], (len(V), 1)), outer, top=2)
    pieces = []
    for k, (g, s) in enumerate(inner):
        arg = g.sympy_expr(s * variable)
        for rank, name in enumerate(matches.names[k]):
            fn = outer[name]
            a, b, c, d = matches.params[k, rank]
            with np.errstate(all="ignore"):
                fitted = c * fn.safe_numpy(a * V[k] + b) + d
            expr = _number(c) * fn.sympy_expr(_number(a) * arg + _number(b)) + _number(d)
            pieces.append(_Piece(expr, fitted, fn.complexity + g.complexity))
    return pieces


def _power(u: np.ndarray, values: np.ndarray, variable) -> _Piece | None:
    """``c * u**p`` with ``p`` a multiple of 1/2 or 1/3 (the slope of ``log|g|`` on ``log u``,
    when that close to one) for positive ``u`` and one-signed ``g``; ``None`` otherwise."""
    if not ((u > 0).all() and ((values > 0).all() or (values < 0).all())):
        return None
    slope = float(np.polyfit(np.log(u), np.log(np.abs(values)), 1)[0])
    for denominator in (1, 2, 3):
        power = round(slope * denominator) / denominator
        if power != 0 and abs(power - slope) <= 0.05:
            break
    else:
        return None
    basis = u**power
    c = float(basis @ values / (basis @ basis))
    exponent = sympy.Rational(round(power * 6), 6)
    return _Piece(_number(c) * variable**exponent, c * basis, 2)


def _power_times(u, values, variable, settings) -> list[_Piece]:
    """``u**k * F(u)`` of ``values (n,)`` at ``u (n,)`` of one sign, for every ``k`` of
    :data:`~kansr.symbolic.library.DIVIDED_POWERS`: ``F`` the best library match of
    ``values / u**k`` or the reciprocal of the best match of ``u**k / values`` (``sin(u)/u``,
    ``u*exp(-u)``, ``u/(exp(u) - 1)``: no library function is a power times a function), with
    the functions of compositions (``sinh(u)/u``)."""
    if not (np.all(u > 0) or np.all(u < 0)):
        return []
    rows, made = [], []
    for k in DIVIDED_POWERS:
        with np.errstate(all="ignore"):
            quotient = values / u**k
        if not np.isfinite(quotient).all() or np.ptp(quotient) == 0:
            continue
        rows.append(quotient)
        made.append((k, False))
        if np.all(quotient > 0) or np.all(quotient < 0):
            rows.append(1 / quotient)
            made.append((k, True))
    if not rows:
        return []
    functions = _composition_functions(settings.library)  # (sinh(u)/u)
    matches = match_edges(np.tile(u, (len(rows), 1)), np.stack(rows), functions, top=1)
    pieces = []
    for r, (k, inverted) in enumerate(made):
        fn = functions[matches.names[r][0]]
        if fn.complexity == 0:
            continue
        a, b, c, d = matches.params[r, 0]
        with np.errstate(all="ignore"):
            fitted = c * fn.safe_numpy(a * u + b) + d
            fitted = 1 / fitted if inverted else fitted
        expr = _number(c) * fn.sympy_expr(_number(a) * variable + _number(b)) + _number(d)
        expr = 1 / expr if inverted else expr
        pieces.append(_Piece(variable**k * expr, u**k * fitted, fn.complexity + 2 + inverted))
    return pieces


def _parabola_error(u: np.ndarray, values: np.ndarray) -> float:
    """Relative mean squared error of the least-squares parabola through ``values``."""
    u = (u - np.mean(u)) / max(float(np.std(u)), 1e-300)  # the same error, well conditioned
    fit = np.polyval(np.polyfit(u, values, 2), u)
    return float(np.mean((fit - values) ** 2) / max(np.var(values), 1e-300))


def _leaf(oracle: Oracle, settings: Recursion) -> list[sympy.Expr]:
    """A function ``g`` of one variable ``u``: a power ``c*u**p``, library matches of it and of
    those transforms
    (``1/g``, ``g^2``, ``1/g^2``, ``log g``, ``sqrt g`` for a one-signed ``g``) that a parabola
    fits better than the best match, with the inverse applied, and (unless a straight line
    fits) library compositions ``c*F(a*G(+-u) + b) + d``. Returns the simplest candidate
    within the tolerance, the most accurate composition within it, the simplest
    transformed one within it, the most accurate (at most ``_MAX_ALTERNATIVES``)."""
    u = np.linspace(oracle.lo[0], oracle.hi[0], _LEAF_POINTS)
    values = oracle(u[:, None])
    if not np.isfinite(values).all():
        return []
    spread = float(np.std(values))
    if np.ptp(values) <= 1e-12 * max(1.0, float(np.max(np.abs(values)))) or spread == 0:
        return [_number(values.mean())]
    tol = settings.tolerance(oracle.error, spread)
    return leaf_forms(u, values, oracle.exprs[0], settings, max(4 * tol**2, 1e-10))


def leaf_forms(
    u: np.ndarray,
    values: np.ndarray,
    variable: sympy.Expr,
    settings: Recursion,
    allowed: float | None = None,
) -> list[sympy.Expr]:
    """The forms of :func:`_leaf` for ``values (n,)`` of a function at ``u (n,)`` (a grid of
    the oracle, or data points in any order), best first: the simplest whose relative mean
    squared error is within ``allowed``, the most accurate composition and the simplest
    transformed form within it, the most accurate. ``allowed=None`` (for data, whose error
    is not known): 4 times the error of the most accurate form, compositions always tried."""
    spread = float(np.std(values))
    if spread == 0:
        return [_number(values.mean())]
    pieces, _ = _matched(u, values, variable, settings)
    power = _power(u, values, variable)
    if power is not None:
        pieces.append(power)
    sign = 1 if (values > 0).all() else -1 if (values < 0).all() else 0

    def error(piece: _Piece) -> float:
        with np.errstate(all="ignore"):
            e = float(np.mean((piece.values - values) ** 2)) / spread**2
        return e if np.isfinite(e) else np.inf

    direct = min(error(p) for p in pieces)
    n_direct = len(pieces)
    if sign and direct > 1e-12:
        for forward, inverse_np, inverse in _LEAF_TRANSFORMS:
            with np.errstate(all="ignore"):
                moved = forward(sign * values)
            if not np.isfinite(moved).all() or np.ptp(moved) == 0:
                continue
            # matched only when a parabola already fits it better (a cheap test)
            if _parabola_error(u, moved) > direct:
                continue
            for p in _matched(u, moved, variable, settings)[0][:2]:
                with np.errstate(all="ignore"):
                    back = sign * inverse_np(p.values)
                pieces.append(_Piece(sign * inverse(p.expr), back, p.complexity + 1))
    if direct > 1e-12:
        pieces.extend(_power_times(u, values, variable, settings))
    n_transformed = len(pieces)
    linear = allowed is not None and any(
        p.complexity <= 1 and error(p) <= allowed for p in pieces[:n_direct]
    )
    if direct > 1e-12 and not linear:  # a function of a function?
        pieces.extend(_nested(u, values, variable, settings))
    scored = [(error(p), p) for p in pieces]
    if allowed is None:
        allowed = max(4 * min(e for e, _ in scored), 1e-10)
    simple = sorted((p.complexity, e, k) for k, (e, p) in enumerate(scored) if e <= allowed)
    if linear:  # the simplest form within the oracle's error is a straight line: the
        # others fit that error, and as alternatives they crowd out another part's in the
        # tree's (x0 and x0**2/(x0 + 0.01))
        return [scored[simple[0][2]][1].expr]
    best = min(range(len(scored)), key=lambda k: scored[k][0])
    # through the oracle's error a transformed or composed exact form can look no better
    # than a direct approximant: the simplest transformed one and the most accurate
    # composition are candidates of their own, the data decide
    transformed = [k for k in range(n_direct, n_transformed) if scored[k][0] <= allowed]
    transformed.sort(key=lambda k: (scored[k][1].complexity, scored[k][0]))
    nested = [k for k in range(n_transformed, len(scored)) if scored[k][0] <= allowed]
    nested.sort(key=lambda k: scored[k][0])
    first = [k for _, _, k in simple[:1]]
    order = list(dict.fromkeys([*first, *nested[:1], *transformed[:1], best]))
    return [scored[k][1].expr for k in order][:_MAX_ALTERNATIVES]


def _reference(oracle: Oracle, settings: Recursion) -> np.ndarray:
    """A point of the box where ``|f|`` is typical (the median of some draws): the fixed
    values of the variables outside a group."""
    points = oracle.sample(64, settings.rng)
    values = np.abs(oracle(points))
    order = np.argsort(values)
    return points[order[len(order) // 2]]


def _alternatives(parts: list[list[sympy.Expr]], join: Callable) -> list[sympy.Expr]:
    """``join`` of the parts' first alternatives, then with one part at a time changed to
    one of its other alternatives, the parts in turn (each part's second alternative before
    any part's third), at most ``_MAX_ALTERNATIVES`` in all: a part's near-copies (``x`` and
    ``x**2/(x + 0.01)``) do not crowd out another part's different structure."""
    first = [p[0] for p in parts]
    out = [join(first)]
    for rank in range(1, max(len(p) for p in parts)):
        for i, part in enumerate(parts):
            if rank >= len(part):
                continue
            if len(out) >= _MAX_ALTERNATIVES:
                return out
            out.append(join([*first[:i], part[rank], *first[i + 1 :]]))
    return out


def _split(oracle: Oracle, groups, offset: float | None, settings: Recursion, depth: int):
    """``f`` as a sum of functions of the ``groups`` (``offset`` None) or as ``offset`` plus
    their product; each function is ``f`` with the other variables at a reference point."""
    ref = _reference(oracle, settings)
    base = float(oracle(ref[None])[0])
    if offset is not None and abs(base - offset) <= 1e-12 * max(abs(base), 1e-300):
        return []
    parts = []
    for group in groups:
        sub = decompose(oracle.restricted(group, ref), settings, depth + 1)
        if not sub:
            return []
        parts.append(sub)
    k = len(groups)
    if offset is None:
        return _alternatives(parts, lambda xs: sympy.Add(*xs) - (k - 1) * _number(base))
    c, scale = _number(offset), _number(base - offset)
    return _alternatives(parts, lambda xs: c + sympy.Mul(*[x - c for x in xs]) / scale ** (k - 1))


def _sign(oracle: Oracle, settings: Recursion) -> tuple[int, float]:
    """+1 or -1 when ``f`` keeps that sign, away from zero, on the box, else 0; and the
    largest ``|f|`` seen (inf when not finite)."""
    values = oracle(oracle.sample(256, settings.rng))
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(values).all():
        return 0, np.inf
    if top == 0:
        return 0, top
    if (values > _AWAY_FROM_ZERO * top).all():
        return 1, top
    if (values < -_AWAY_FROM_ZERO * top).all():
        return -1, top
    return 0, top


_EXP_BELOW = 30.0  # exp(f) is tried as a transform where |f| stays below this


def _transforms(sign: int, top: float = np.inf):
    """``(forward on torch, inverse on sympy)`` output transforms valid for the sign and the
    largest ``|f|`` (``top``): ``exp f`` (``f = log(x**2 + y**2)``) for any sign."""
    exp = [(torch.exp, sympy.log)] if top < _EXP_BELOW else []
    if not sign:
        return exp
    return [
        (lambda f: torch.log(sign * f), lambda e: sign * sympy.exp(e)),
        (lambda f: 1 / f, lambda e: 1 / e),
        (lambda f: f**2, lambda e: sign * sympy.sqrt(e)),
        (lambda f: torch.sqrt(sign * f), lambda e: sign * e**2),
        *exp,
    ]


def _structured(oracle: Oracle, settings: Recursion) -> bool:
    """Whether one of the splits applies to ``oracle``."""
    if len(separable_groups(oracle, settings.tolerance, settings.rng)) > 1:
        return True
    if len(product_groups(oracle, settings.tolerance, settings.rng)[0]) > 1:
        return True
    return best_combination(oracle, settings.tolerance, settings.rng) is not None


def decompose(oracle: Oracle, settings: Recursion, depth: int = 0) -> list[sympy.Expr]:
    """Candidate expressions of the oracle's function in the data's symbols (``[]`` when it
    cannot be split down to functions of one variable)."""
    if settings.deadline.expired() or depth > settings.max_depth:
        return []
    keep = relevant_variables(oracle, settings.tolerance, settings.rng)
    if not keep:
        return [_number(float(np.mean(oracle(oracle.sample(64, settings.rng)))))]
    if len(keep) < oracle.n_vars:
        oracle = oracle.restricted(keep, _reference(oracle, settings))
    if oracle.n_vars == 1:
        return _leaf(oracle, settings)
    measures, tol = additive_couplings(oracle, settings.tolerance, settings.rng)
    groups = coupled_groups(measures, tol)
    if len(groups) > 1:  # or nearly: a function homogeneous across groups is an alternative
        split = _split(oracle, groups, None, settings, depth)
        product = _product_alternative(oracle, split_margin(measures, tol, groups), settings, depth)
        return _merged(*product, split, _homogeneous_split(oracle, settings, depth, apart=groups))
    groups, _ = product_groups(oracle, settings.tolerance, settings.rng, offset=False)
    if len(groups) > 1:
        return _split(oracle, groups, 0.0, settings, depth)
    pair = best_combination(oracle, settings.tolerance, settings.rng)
    if pair is not None:  # (before a product with an offset: that test is looser)
        return decompose(oracle.combined(*pair), settings, depth + 1)
    # a scaling symmetry (a gradient identity, as the combinations are) is a candidate
    # beside the looser tests below, which can pass on near-structures (exp of Planck's law
    # is nearly a product): both are kept, the data decide
    return _merged(
        _homogeneous_split(oracle, settings, depth),
        _loosely_structured(oracle, settings, depth),
        _affine_split(oracle, settings, depth),
    )


def _product_alternative(
    oracle: Oracle, margin: float, settings: Recursion, depth: int
) -> list[list[sympy.Expr]]:
    """``[split]``: ``f`` as a product of functions of groups, decomposed, when that split
    is cleaner than a sum's of ``margin`` (:func:`split_margin`); else ``[]``. With a
    network's error a product ``x*h(u)`` whose factor ``h`` varies little passes the test of
    a sum too (the intercept ``x/sqrt(1 - u**2/c**2)`` of a Lorentz transformation)."""
    # draws of their own: the other paths see the points they saw without this one
    rng = np.random.default_rng((depth, 2))
    measures, tol = product_couplings(oracle, settings.tolerance, rng)
    groups = coupled_groups(measures, tol)
    if len(groups) < 2 or split_margin(measures, tol, groups) >= margin:
        return []
    return [_split(oracle, groups, 0.0, settings, depth)]


def _merged(*options: list[sympy.Expr]) -> list[sympy.Expr]:
    """The alternatives of each of ``options`` in turn, at most one more than
    ``_MAX_ALTERNATIVES``."""
    every = [e for row in itertools.zip_longest(*options) for e in row if e is not None]
    return list(dict.fromkeys(every))[: _MAX_ALTERNATIVES + 1]


def _homogeneous_split(
    oracle: Oracle, settings: Recursion, depth: int, apart: list[list[int]] | None = None
) -> list[sympy.Expr]:
    """``f = x_j**k g(x_i/x_j, ...)`` for the pair in which ``f`` is homogeneous of degree
    ``k`` (:func:`~kansr.symbolic.decompose.separability.homogeneous_pair`; ``apart``: from
    two of these groups), ``g`` decomposed in turn; ``[]`` when there is none. Planck's
    ``u/(exp(u/v) - 1)``, nearly ``v - u/2`` on much of its box, passes the test of additive
    separability too."""
    if settings.deadline.expired():
        return []
    # draws of their own: the other paths see the points they saw without this one
    settings = dataclasses.replace(settings, rng=np.random.default_rng(depth))
    found = homogeneous_pair(oracle, settings.tolerance, settings.rng, apart)
    if found is None:
        return []
    i, j, degree = found
    scaled = oracle.scaled_by(j, -degree)
    if scaled is None:
        return []
    inner = decompose(scaled.combined(i, j, "quotient"), settings, depth + 1)
    return [e * oracle.exprs[j] ** degree for e in inner]


def _loosely_structured(oracle: Oracle, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """:func:`decompose` past the exact splits and combinations: a product with an offset,
    a transform of the output that reveals structure, then structure in new variables."""
    groups, offset = product_groups(oracle, settings.tolerance, settings.rng)
    if len(groups) > 1:
        return _split(oracle, groups, offset, settings, depth)
    # a structure in new variables (an exact split) comes before one a transform reveals
    # (which may be a product with an offset): x*tanh(x*u) is a product in (x, x*u), while
    # 1/f passes for a product with an offset within a network's error; and log(a**2 +
    # c**2) is also a sum in (a, a/c), but exp reveals the plain one, whose parts span the
    # whole box: both are kept, the data decide
    recombined = _recombined_split(oracle, settings, depth)
    sign, top = _sign(oracle, settings)
    for forward, inverse in _transforms(sign, top) if settings.transforms > 0 else []:
        inner = oracle.transformed(forward, settings.rng)
        if not _structured(inner, settings):
            continue
        fewer = dataclasses.replace(settings, transforms=settings.transforms - 1)
        found = decompose(inner, fewer, depth + 1)
        if found:
            return _merged(recombined, [inverse(e) for e in found])
    return recombined or _scaled_split(oracle, settings, depth)


def _affine_split(oracle: Oracle, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """``f = A(r) + B(r) C(x_i)``, affine in one function of one variable
    (:func:`~kansr.symbolic.decompose.separability.affine_profiles`:
    ``I1 + I2 + 2*sqrt(I1*I2)*cos(delta)``; ``x*exp(-y) + sin(y)``, linear in ``x``), or so
    after an output transform (``f**2`` of the law of cosines), for two or three variables:
    ``C`` matched as a function of one variable (its outer scale and offset dropped), ``A``
    and ``B`` fitted along ``x_i`` at every ``r`` and decomposed in turn; ``[]`` when there
    is none. The cleanest profile of ``f`` is taken, else the cleanest over all its
    transforms."""
    if settings.deadline.expired() or settings.affine <= 0:
        return []
    if not 2 <= oracle.n_vars <= _MAX_AFFINE:
        return []
    # draws of their own: the other paths see the points they saw without this one
    settings = dataclasses.replace(
        settings, rng=np.random.default_rng((depth, 1)), affine=settings.affine - 1
    )
    found = _cleanest_affine([(oracle, None)], settings, depth)
    if not found and settings.transforms > 0:
        sign, top = _sign(oracle, settings)
        fewer = dataclasses.replace(settings, transforms=settings.transforms - 1)
        moved = (
            (oracle.transformed(forward, settings.rng), inverse)
            for forward, inverse in [*_transforms(sign, top), *_inverse_square(sign)]
        )
        found = _cleanest_affine(moved, fewer, depth)
    return found


def _cleanest_affine(targets, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """The expressions of :func:`_affine_parts` for the cleanest profile over ``targets``
    (``(oracle, inverse)``: ``f``, or a transform of it and the sympy inverse) that gives
    one, of the first :data:`_AFFINE_ATTEMPTS` (each costs three decompositions)."""
    ranked = []
    for target, inverse in targets:
        for profile in affine_profiles(target, settings.tolerance, settings.rng):
            ranked.append((profile.margin, len(ranked), target, inverse, profile))
    ranked.sort(key=lambda r: r[:2])
    for *_, target, inverse, profile in ranked[:_AFFINE_ATTEMPTS]:
        parts = _affine_parts(target, profile, settings, depth)
        if parts:
            return parts if inverse is None else _merged([inverse(e) for e in parts])
    return []


def _inverse_square(sign: int) -> list[tuple[Callable, Callable]]:
    """``1/f**2`` as an output transform (``1/sqrt(a**2 - 2*a*b*cos(g) + b**2)``) for a
    one-signed ``f``."""
    if not sign:
        return []
    return [(lambda f: 1 / f**2, lambda e: sign / sympy.sqrt(e))]


def _affine_parts(oracle: Oracle, profile, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """The expressions ``A + B*C`` of :func:`_affine_split` for one profile (``[]`` when
    ``C``, ``A`` or ``B`` is not found)."""
    i, u = profile.variable, sympy.Dummy("u", real=True)
    shapes = decompose(oracle.profile(i, profile.rest, profile.weights, u), settings, depth + 1)
    for shape in shapes[:_AFFINE_SHAPES]:
        _, varying = shape.as_independent(u, as_Add=True)
        _, core = varying.as_independent(u, as_Add=False)
        if not core.has(u) or settings.deadline.expired():
            continue
        parts = oracle.affine_parts(i, sympy.lambdify([u], core, "numpy"))
        if parts is None:
            continue
        intercept = decompose(parts[0], settings, depth + 1)
        slope = decompose(parts[1], settings, depth + 1) if intercept else []
        if slope:
            shape_of_x = core.xreplace({u: oracle.exprs[i]})
            return _alternatives([intercept, slope], lambda xs, c=shape_of_x: xs[0] + xs[1] * c)
    return []


_MAX_AFFINE = 3  # variables: on four, its three decompositions doubled some fits' time
_AFFINE_ATTEMPTS = 1  # profiles decomposed (of f, else the cleanest of its transforms)
_AFFINE_SHAPES = 2  # forms of C tried


def _recombined_split(oracle: Oracle, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """``f`` split along the cleanest :func:`_recombinations`, each decomposed in turn
    (their alternatives interleaved); ``[]`` when there is none."""
    found = []
    for joined, groups, offset in _recombinations(oracle, settings)[:_RECOMBINED_ALTERNATIVES]:
        found = _merged(found, _split(joined, groups, offset, settings, depth))
    return found


def _recombinations(oracle: Oracle, settings: Recursion) -> list[tuple]:
    """``[(joined, groups, offset), ...]``: ``f`` as a sum (``offset`` None) or product
    (0.0) of a function of ``x_i`` and one of ``x_i`` joined with ``x_j``
    (:meth:`Oracle.recombined`: ``-sin(x) + sin(x - y)/2``, ``x*exp(-x*y)``), for every pair
    and kind in which ``x_i`` and ``u`` fall into different groups, the cleanest split
    first (:func:`split_margin`: with a network's error several pass, and
    ``h*w**3/(exp(h*w) - 1)`` is a product in ``(w, w*h)`` but only nearly in
    ``(w, w + h)``); ``[]`` when there is none (also for more than ``_MAX_RECOMBINED``
    variables: pairs times kinds grow fast)."""
    if oracle.n_vars > _MAX_RECOMBINED:
        return []
    scored = []
    for i in range(oracle.n_vars):
        for j in range(oracle.n_vars):
            for kind in _RECOMBINATIONS:
                if i == j or settings.deadline.expired():
                    continue
                joined = oracle.recombined(i, j, kind)
                if joined is None:
                    continue
                for offset, couplings in ((None, additive_couplings), (0.0, product_couplings)):
                    measures, tol = couplings(joined, settings.tolerance, settings.rng)
                    groups = coupled_groups(measures, tol)
                    if _apart(groups, i, j):
                        margin = split_margin(measures, tol, groups)
                        scored.append((margin, len(scored), (joined, groups, offset)))
                        break
    return [found for *_, found in sorted(scored, key=lambda s: s[:2])]


def _scaled_split(oracle: Oracle, settings: Recursion, depth: int) -> list[sympy.Expr]:
    """``f`` as a sum of functions of groups of variables divided by ``x_i`` or times it
    (:meth:`Oracle.scaled_by`: ``x - cos(y)/x = (x**2 - cos(y))/x``), for the first ``x_i``
    and power that makes ``f * x_i**power`` additively separable; ``[]`` when there is none
    (also for more than ``_MAX_RECOMBINED`` variables)."""
    if oracle.n_vars > _MAX_RECOMBINED:
        return []
    for i in range(oracle.n_vars):
        for power in (1, -1):
            scaled = oracle.scaled_by(i, power)
            if scaled is None or settings.deadline.expired():
                continue
            groups = separable_groups(scaled, settings.tolerance, settings.rng)
            if len(groups) > 1:
                parts = _split(scaled, groups, None, settings, depth)
                return [e / oracle.exprs[i] ** power for e in parts]
    return []


def recombined_variables(oracle: Oracle, settings: Recursion) -> list[sympy.Expr] | None:
    """The variables of ``f`` with one of them joined to another where ``f`` is then a sum
    or product of functions of each (the cleanest of :func:`_recombinations`: ``(x, x - y)`` for
    ``-sin(x) + sin(x - y)/2``), as expressions in the data's symbols; ``None`` when there is
    none. The searches on the data can then fit each function over the data's whole range
    (the oracle's box of ``(x, x - y)`` is narrower)."""
    found = _recombinations(oracle, settings)
    return list(found[0][0].exprs) if found else None


_RECOMBINATIONS = ("difference", "sum", "quotient", "product")
_MAX_RECOMBINED = 4
_RECOMBINED_ALTERNATIVES = 2  # the cleanest splits decomposed: the data choose


def _apart(groups: list[list[int]], i: int, j: int) -> bool:
    """Whether variables ``i`` and ``j`` are in different ``groups``."""
    return not any(i in g and j in g for g in groups)


def combined_variables(oracle: Oracle, settings: Recursion) -> list[sympy.Expr] | None:
    """The variables of ``f`` after joining two of them, while a pair joins, into their
    product, quotient, sum or difference (``f(x) = F(u, ...)`` with ``u = x_i*x_j`` ...):
    their expressions in the data's symbols, fewer than the oracle's; ``None`` when no pair
    joins. Every search can then run on these variables (AI Feynman's recursion)."""
    joined = False
    while oracle.n_vars > 1 and not settings.deadline.expired():
        pair = best_combination(oracle, settings.tolerance, settings.rng)
        if pair is None:
            break
        oracle, joined = oracle.combined(*pair), True
    return list(oracle.exprs) if joined else None
