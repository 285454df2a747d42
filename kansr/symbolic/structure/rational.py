"""Rational functions ``y = P(x) / Q(x)`` found by linear algebra.

Many laws are ratios of low-degree polynomials (relativistic velocity addition
``(u + v)/(1 + u*v/c^2)``, lens equations, centres of mass, Lotka-Volterra rates), and many more
are after squaring (``sqrt(1 - v^2/c^2)`` forms, distances). ``y*Q(x) - P(x) = 0`` is linear in
the coefficients of ``P`` and ``Q``: with the monomials of ``P`` and ``Q`` as columns, the
coefficients span the null space of ``[M_P(x), -y*M_Q(x)]``. Trying degree pairs in order of
total degree (fewest denominator terms first), the first pair whose null space is one
dimensional gives the coprime ``P/Q`` of least degree, exactly and in one SVD. Polynomials
(``Q = 1``) of one or two variables are tried to higher degree (``u^5 - 2u^3 + u``). With
noise there is no exact null vector: each pair's smallest singular vector is thresholded to
few terms (sequentially, as in SINDy) and the pairs compete on the Bayesian information
criterion.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import sympy

from kansr.utils.deadline import Deadline

__all__ = ["monomial_exponents", "rational_formulas"]

_EXACT = 1e-18  # relative mean squared error of an exact fit (fraction of var y): rounding
_MAX_POLY_TERMS = 40  # polynomials beyond max_degree: at most this many monomials (1-2 variables)
_ROUNDING = 1e-12  # residual of an exact high-degree polynomial, relative to its terms
_NEGLIGIBLE = 1e-9  # entries of an exact null vector below this share of its largest are 0
_THRESHOLDS = (1e-7, 1e-3, 1e-2, 3e-2, 1e-1)  # relative sizes below which terms are dropped


def monomial_exponents(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of all monomials in ``n_vars`` variables of total degree ``<= degree``,
    lowest degree first (the constant first)."""
    out: list[tuple[int, ...]] = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_vars), d):
            exps = [0] * n_vars
            for i in combo:
                exps[i] += 1
            out.append(tuple(exps))
    return out


def _design(X: np.ndarray, exponents: list[tuple[int, ...]]) -> np.ndarray:
    """Monomial values ``(n_samples, len(exponents))``."""
    out = np.ones((X.shape[0], len(exponents)))
    for j, exps in enumerate(exponents):
        for i, e in enumerate(exps):
            if e:
                out[:, j] *= X[:, i] ** e
    return out


def _gram_null_vector(gram: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit vector minimising ``v' G v`` for a Gram matrix ``G = A'A`` and the matching
    singular value of ``A`` relative to its largest (about 1e-8 at best: G squares it)."""
    w, vecs = np.linalg.eigh(gram)
    return vecs[:, 0], float(np.sqrt(max(w[0], 0.0) / w[-1])) if w[-1] > 0 else 1.0


def _svd_null_vector(A: np.ndarray) -> np.ndarray:
    """Unit vector minimising ``|A v|``, computed accurately from ``A`` itself."""
    return np.linalg.svd(A, full_matrices=False)[2][-1]


def _sparse_null_vector(gram: np.ndarray, threshold: float, max_rounds: int = 5) -> np.ndarray:
    """Sequentially thresholded null vector of ``A`` from its Gram matrix: drop entries
    below ``threshold`` times the largest and re-solve on the rest until the support holds."""
    active = np.arange(gram.shape[0])
    v = np.zeros(gram.shape[0])
    for _ in range(max_rounds):
        sub, _ = _gram_null_vector(gram[np.ix_(active, active)])
        keep = np.abs(sub) >= threshold * np.abs(sub).max()
        v = np.zeros(gram.shape[0])
        v[active] = sub
        if keep.all():
            break
        active = active[keep]
    return v


def _ratio(values_p: np.ndarray, values_q: np.ndarray) -> np.ndarray | None:
    with np.errstate(all="ignore"):
        pred = values_p / values_q
    return pred if np.all(np.isfinite(pred)) else None


def _normalised_term(exps_q: list, b: np.ndarray, columns: np.ndarray) -> int:
    """Index of the denominator's term whose coefficient becomes 1: the largest
    non-constant term on the data (``|b_j| * rms(m_j)``, ``columns (n, len(b))`` the
    monomials' values), the constant only when it is the sole term. ``a*x/(x + b)`` is
    simpler than ``a*x/(b*x + 1)`` (no coefficient node), with as many constants."""
    size = np.abs(b) * np.sqrt(np.mean(columns**2, axis=0))
    varying = np.array([any(e) for e in exps_q]) & (b != 0)
    return int(np.argmax(np.where(varying, size, -1.0))) if varying.any() else int(np.argmax(size))


def _expression(exps_p, exps_q, a, b, symbols) -> sympy.Expr:
    """``sum a_j m_j / sum b_j m_j`` with zero coefficients left out (the normalised
    coefficient of the denominator, 1, stays exact)."""

    def poly(exps, coef):
        terms = []
        for e, c in zip(exps, coef, strict=True):
            if c == 0:
                continue
            mono = sympy.Integer(1)
            for sym, power in zip(symbols, e, strict=True):
                if power:
                    mono *= sym**power
            # the normalised coefficient stays an exact 1: a fitted constant there would
            # scale P and Q together (a constant the data cannot determine)
            terms.append(mono if c == 1.0 else sympy.Float(float(c), 15) * mono)
        return sympy.Add(*terms)

    return poly(exps_p, a) / poly(exps_q, b)


def rational_formulas(
    X: np.ndarray,
    y: np.ndarray,
    symbols: list[sympy.Symbol],
    *,
    max_degree: int = 4,
    max_poly_degree: int = 9,
    max_terms: int = 300,
    max_noisy_degree: int = 4,
    max_candidates: int = 2,
    squared: bool = True,
    deadline: Deadline | None = None,
) -> tuple[list[sympy.Expr], bool]:
    """Rational candidates ``P/Q`` (and, with ``squared``, ``±sqrt(P/Q)`` when ``y`` keeps
    one sign) for ``y (n,)`` over ``X (n, m)`` in ``symbols`` (length m).

    Degree pairs ``(deg P, deg Q)`` up to ``max_degree`` each and at most ``max_terms``
    coefficients, and polynomials (``deg Q = 0``) up to ``max_poly_degree`` while they have at
    most 40 monomials (one or two variables; exact fits only, and only when at least two
    monomials are unused), are tried by increasing total degree, for ``y`` and ``y**2`` in
    turn. An exact fit (relative error at rounding level, 1e-18) is returned alone as soon as it is
    found; otherwise the ``max_candidates`` best by BIC among the thresholded fits of total
    degree up to ``max_noisy_degree``, of ``P/Q`` and of ``sqrt(P/Q)`` each (on noisy data
    the square root's linearised error can rank all its fits ahead of a plain ``P/Q`` such as
    Michaelis-Menten's ``a*x/(b + x)``), and the best reweighted least-squares fit of each
    (:func:`_reweighted_candidates`). Constants are not yet refit or snapped. The flag says
    whether the (single) candidate is exact. After ``deadline`` (a
    :class:`~kansr.utils.deadline.Deadline`) no further degree pair is tried.
    """
    n, m = X.shape
    y = np.asarray(y, dtype=np.float64)
    if float(np.var(y)) == 0 or m == 0 or not np.all(np.isfinite(y)):
        return [], False
    fit = _Search(X, y, symbols, max_degree, max_poly_degree, max_terms, squared)
    # (sqrt or not, reweighted or not): the best of each kind compete on the data later
    scored: dict[tuple[bool, bool], list[tuple[float, sympy.Expr]]] = {
        kind: [] for kind in itertools.product((False, True), repeat=2)
    }
    for p, q in _degree_pairs(max_degree, max_poly_degree):
        if deadline is not None and deadline.expired():
            break
        if p > (fit.top if q else fit.top_poly) or q > fit.top:
            continue
        pair = _Pair(monomial_exponents(m, p), monomial_exponents(m, q), len(fit.exps_all))
        if pair.n_terms > max_terms or pair.n_terms * 2 > n:
            continue
        for system in fit.systems:
            sub = system.gram[np.ix_(pair.idx, pair.idx)]
            exact = _exact_candidate(fit, system, sub, pair)
            if exact is not None and (p <= max_degree or fit.polynomial_law(*exact)):
                return [fit.expression(pair, *exact, system.root)], True
            if p + q <= max_noisy_degree:
                scored[system.root, False] += _thresholded_candidates(fit, system, sub, pair)
                if q and pair.n_terms <= _REWEIGHTED_MAX_TERMS:
                    scored[system.root, True] += _reweighted_candidates(fit, system, sub, pair)
    out: list[sympy.Expr] = []
    for (_, reweighted), found in scored.items():
        found.sort(key=lambda t: t[0])
        unique = list(dict.fromkeys(expr for _, expr in found))
        out += unique[: 1 if reweighted else max_candidates]
    return out, False


def _degree_pairs(max_degree: int, max_poly_degree: int = 0) -> list[tuple[int, int]]:
    """``(deg P, deg Q)`` up to ``max_degree`` each and the polynomials ``(p, 0)`` up to
    ``max_poly_degree``, by total degree, then fewest in ``Q``."""
    pairs = {(p, q) for p in range(max_degree + 1) for q in range(max_degree + 1) if p + q}
    pairs |= {(p, 0) for p in range(1, max_poly_degree + 1)}
    return sorted(pairs, key=lambda pq: (pq[0] + pq[1], pq[1]))


@dataclass
class _System:
    """``B = [M(x), -t*M(x)]`` for a target ``t`` (``y``, or ``y**2`` when ``root``) with its
    columns scaled to norm 1 (``norms``), and its Gram matrix."""

    B: np.ndarray
    gram: np.ndarray
    norms: np.ndarray
    root: bool


class _Pair:
    """The monomials of one degree pair and their columns in a :class:`_System`."""

    def __init__(self, exps_p: list, exps_q: list, size: int) -> None:
        self.exps_p, self.exps_q = exps_p, exps_q
        self.n_p = len(exps_p)
        self.n_terms = len(exps_p) + len(exps_q)
        self.idx = np.concatenate([np.arange(self.n_p), size + np.arange(len(exps_q))])


class _Search:
    """What every degree pair shares: the monomials of the largest useful degree and their
    values (those of every pair are prefixes of them, so one Gram matrix per target serves
    every pair as its sub-blocks), the systems of ``y`` and ``y**2``, and the judging."""

    def __init__(
        self, X, y, symbols, max_degree: int, max_poly_degree: int, max_terms: int, squared: bool
    ) -> None:
        self.y, self.symbols = y, symbols
        self.n, m = X.shape
        self.var = float(np.var(y))
        self.sign = 1 if np.all(y > 0) else -1 if np.all(y < 0) else 0
        self.top = max(
            (d for d in range(max_degree + 1) if math.comb(m + d, d) < max_terms),  # (count)
            default=0,
        )
        poly = (d for d in range(max_poly_degree + 1) if math.comb(m + d, d) <= _MAX_POLY_TERMS)
        self.top_poly = max(self.top, max(poly, default=0))
        # P's monomials up to top_poly, Q's (the -t*M block) up to top: every pair's columns
        # are prefixes of the two blocks
        self.exps_all = monomial_exponents(m, self.top_poly)
        self.design = _design(X, self.exps_all)
        n_q = len(monomial_exponents(m, self.top))
        targets = [(y, False)] + ([(y * y, True)] if squared and self.sign else [])
        self.systems = []
        for target, root in targets:
            B = np.hstack([self.design, -target[:, None] * self.design[:, :n_q]])
            norms = np.linalg.norm(B, axis=0)
            if not np.all(np.isfinite(norms)) or np.any(norms == 0):
                continue
            B = B / norms
            self.systems.append(_System(B, B.T @ B, norms, root))

    def relative_error(self, a: np.ndarray, b: np.ndarray, root: bool) -> float | None:
        """Relative mean squared error of the candidate on ``y`` (None when not finite)."""
        if not np.any(b) or not np.any(a):
            return None
        pred = _ratio(self.design[:, : len(a)] @ a, self.design[:, : len(b)] @ b)
        if pred is None or (root and np.any(pred < 0)):
            return None
        if root:
            pred = self.sign * np.sqrt(pred)
        return float(np.mean((pred - self.y) ** 2)) / self.var

    def polynomial_law(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Is the polynomial ``P/b0`` (beyond the rational degrees) a law, not an approximant?
        Its residual must be at the rounding of its terms (1e-12 of their magnitude: a smooth
        function over a narrow range has a polynomial approximant to 1e-9 of ``std y``) and at
        least two of its monomials unused (an approximant is dense)."""
        if np.count_nonzero(a) > a.size - 2 or b[0] == 0:
            return False
        terms = self.design[:, : a.size] * (a / b[0])
        resid = terms.sum(axis=1) - self.y
        scale = np.abs(terms).sum(axis=1) + np.abs(self.y)
        return bool(np.mean(resid**2) <= _ROUNDING**2 * np.mean(scale**2))

    def expression(self, pair: _Pair, a: np.ndarray, b: np.ndarray, root: bool) -> sympy.Expr:
        """The candidate as sympy, normalised as :func:`_expression` (its root when ``root``)."""
        scale = b[_normalised_term(pair.exps_q, b, self.design[:, : len(b)])]
        expr = _expression(pair.exps_p, pair.exps_q, a / scale, b / scale, self.symbols)
        return self.sign * sympy.sqrt(expr) if root else expr


def _exact_candidate(fit: _Search, system: _System, sub: np.ndarray, pair: _Pair):
    """``(a, b)`` of an exact fit in this pair's columns (``sub`` their Gram block), or None.

    Only a nearly singular block may hold one: its sparse null vector is tried, and when that
    is close, re-solved accurately on its support from ``B`` itself.
    """
    norms, idx, n_p = system.norms, pair.idx, pair.n_p
    exact = None
    _, rel_s = _gram_null_vector(sub)
    if rel_s < 1e-5:  # nearly singular: maybe exact
        v = _sparse_null_vector(sub, 1e-6)
        rel = fit.relative_error(
            v[:n_p] / norms[idx[:n_p]], v[n_p:] / norms[idx[n_p:]], system.root
        )
        if rel is not None and rel <= 1e-8:  # close: re-solve the support exactly
            active = np.flatnonzero(v)
            for _ in range(2):  # the support, then without its negligible entries
                u = np.zeros_like(v)
                u[active] = _svd_null_vector(system.B[:, idx[active]])
                a, b = u[:n_p] / norms[idx[:n_p]], u[n_p:] / norms[idx[n_p:]]
                rel = fit.relative_error(a, b, system.root)
                if rel is None or rel > _EXACT:
                    return exact
                exact = a, b
                negligible = np.abs(u[active]) < _NEGLIGIBLE * np.abs(u).max()
                if not negligible.any() or negligible.all():
                    break
                active = active[~negligible]
    return exact


def _thresholded_candidates(
    fit: _Search, system: _System, sub: np.ndarray, pair: _Pair
) -> list[tuple[float, sympy.Expr]]:
    """The sequentially thresholded fits of this pair, each with its BIC."""
    fits = [_sparse_null_vector(sub, t) / system.norms[pair.idx] for t in (1e-2, 1e-1)]
    return _scored(fit, system, pair, fits)


def _scored(fit: _Search, system: _System, pair: _Pair, fits) -> list[tuple[float, sympy.Expr]]:
    """``(BIC, expression)`` of each coefficient vector ``(a, b)`` of ``fits`` that is finite."""
    scored = []
    for v in fits:
        a, b = v[: pair.n_p], v[pair.n_p :]
        rel = fit.relative_error(a, b, system.root)
        if rel is not None:
            bic = fit.n * math.log(rel + 1e-300) + np.count_nonzero(v) * math.log(fit.n)
            scored.append((bic, fit.expression(pair, a, b, system.root)))
    return scored


_REWEIGHTED_MAX_TERMS = 40  # larger pairs get the thresholded null vector only
_REWEIGHTINGS = 4  # Sanathanan-Koerner iterations per support
_SUPPORT_ROUNDS = 5  # rounds of thresholding and re-solving
_SUPPORT_ROWS = 400  # rows on which the noisy supports are found
_NORMALISED_TRIES = 5  # denominator terms tried as the 1 (largest in the null vector first)


def _reweighted_candidates(
    fit: _Search, system: _System, sub: np.ndarray, pair: _Pair
) -> list[tuple[float, sympy.Expr]]:
    """Sparse least-squares fits of this pair on noisy data, each with its BIC.

    The null vector of ``[M_P, -t M_Q]`` minimises ``|t Q - P|``, which weights each row by
    ``Q``: with noise in ``t`` it is biased towards a constant ``Q`` (the thresholded fits
    of the Feynman centre of mass ``(m1 r1 + m2 r2)/(m1 + m2)`` at 1 % noise are
    polynomials). Sanathanan and Koerner's iteration divides each row by the previous
    ``|Q|`` and solves again (one term of ``Q`` fixed at 1: the largest of the null vector,
    else the next), then Gauss-Newton steps reach the least-squares fit of ``t`` itself;
    terms contributing less than a threshold (1 %, then 10 %) are dropped and the rest
    solved again until the support holds. The supports are found on at most
    ``_SUPPORT_ROWS`` rows, the final fits on all."""
    raw = system.B[:, pair.idx] * system.norms[pair.idx]  # [M_P, -t M_Q]
    n_p = pair.n_p
    start, _ = _gram_null_vector(sub)
    start = start / system.norms[pair.idx]
    q_columns = fit.design[:, : len(pair.exps_q)]
    rows = np.linspace(0, fit.n - 1, min(fit.n, _SUPPORT_ROWS)).astype(int)
    share = np.abs(start[n_p:]) * np.sqrt(np.mean(q_columns**2, axis=0))
    found: list[np.ndarray] = []
    for k in np.argsort(-share)[:_NORMALISED_TRIES]:
        k = n_p + int(k)
        every = np.array([j for j in range(raw.shape[1]) if j != k])
        for threshold in (1e-2, 1e-1):
            active = _reweighted_support(raw[rows], q_columns[rows], n_p, k, threshold, every)
            if active is None:
                continue
            v, poles = _least_squares(raw, q_columns, n_p, k, active)
            if v is not None and not poles:
                found.append(v)
        if found:  # (a term the law's denominator lacks fails: a pole)
            break
    return _scored(fit, system, pair, found)


def _reweighted_support(raw, q_columns, n_p: int, k: int, threshold: float, active):
    """The ``active`` columns of ``P/Q`` (``b[k - n_p] = 1``) that stay when terms whose
    share of the target is below ``threshold`` are dropped from the reweighted and
    Gauss-Newton fits, round after round; ``None`` when ``Q`` changes sign on the data (a
    pole) once the support holds."""
    for _ in range(_SUPPORT_ROUNDS):
        v, poles = _least_squares(raw, q_columns, n_p, k, active)
        if v is None:
            return None
        # with a pole (too many terms for the noise) the plain linearised fit is thresholded
        q = q_columns @ v[n_p:]
        weights = np.ones_like(q) if poles else 1.0 / np.abs(q)
        share = np.abs(v[active]) * np.linalg.norm(raw[:, active] * weights[:, None], axis=0)
        keep = share >= threshold * np.linalg.norm(-raw[:, k] * weights)
        if (keep.all() and not poles) or not keep.any():
            break
        active = active[keep]
    return None if poles else active


def _least_squares(raw, q_columns, n_p: int, k: int, active):
    """Coefficients of ``P/Q`` on the ``active`` columns (``b[k - n_p] = 1``): reweighted,
    then Gauss-Newton steps on ``|t - P/Q|``; and whether ``Q`` reached zero on the data
    (then the unweighted linearised fit, no steps). ``(None, False)`` when a step met a
    pole."""
    v, poles = _reweighted(raw, q_columns, n_p, k, active)
    if poles:
        return v, True
    with np.errstate(divide="ignore", invalid="ignore"):  # (a zero column: no finite step)
        target = -raw[:, k] / q_columns[:, k - n_p]  # t (the data's target or its square)
    return _gauss_newton(v, active, raw[:, :n_p], q_columns, target), False


def _has_pole(q: np.ndarray) -> bool:
    """Whether the denominator's values ``q`` are not finite or reach zero (change sign)."""
    return not np.all(np.isfinite(q)) or q.min() * q.max() <= 0


def _reweighted(raw, q_columns, n_p: int, k: int, active) -> tuple[np.ndarray, bool]:
    """Sanathanan-Koerner iterations on the ``active`` columns; the coefficients and whether
    ``Q`` reached zero on the data (then the unweighted linearised fit is returned)."""
    weights = np.ones(raw.shape[0])
    first = None
    for _ in range(_REWEIGHTINGS):
        coef = _solved(raw[:, active] * weights[:, None], -raw[:, k] * weights)
        if coef is None:
            return (np.zeros(raw.shape[1]) if first is None else first), True
        v = np.zeros(raw.shape[1])
        v[active] = coef
        v[k] = 1.0
        first = v if first is None else first
        q = q_columns @ v[n_p:]
        if _has_pole(q):
            return first, True
        weights = 1.0 / np.abs(q)
    return v, False


def _gauss_newton(v, active, p_columns, q_columns, target, steps: int = 8):
    """``v`` improved by damped Gauss-Newton steps on ``|target - P/Q|^2`` over the
    ``active`` coefficients; ``None`` when ``Q`` reaches zero on the data."""
    n_p = p_columns.shape[1]

    def residual(u):
        q = q_columns @ u[n_p:]
        if _has_pole(q):
            return None, None
        return target - (p_columns @ u[:n_p]) / q, q

    r, q = residual(v)
    if r is None:
        return None
    loss = float(r @ r)
    for _ in range(steps):
        pred = target - r
        with np.errstate(all="ignore"):
            J = np.hstack([p_columns / q[:, None], -pred[:, None] * q_columns / q[:, None]])
        step = _solved(J[:, active], r)
        if step is None:
            break
        for scale in (1.0, 0.5, 0.25, 0.125):
            u = v.copy()
            u[active] += scale * step
            r_new, q_new = residual(u)
            if r_new is not None and float(r_new @ r_new) < loss:
                v, r, q, loss = u, r_new, q_new, float(r_new @ r_new)
                break
        else:
            break
    return v


def _solved(A: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Least-squares solution of ``A x = b``; ``None`` when it is not finite or LAPACK
    fails (overflowing columns of a near pole)."""
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        return None
    try:
        x, *_ = np.linalg.lstsq(A, b, rcond=None)
    except np.linalg.LinAlgError:
        return None
    return x if np.all(np.isfinite(x)) else None
