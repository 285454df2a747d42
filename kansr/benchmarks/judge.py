"""SRBench's symbolic-solution rule (La Cava et al., NeurIPS 2021).

As stated in ``shared/benchmarks/README.md``:

* **Symbolic solution**: checked only when test R^2 > 0.5. Round every float in the model (and
  in the truth, with ``pi`` replaced by 3.1415926535): ``|a| < 1e-4`` -> 0, else 3 decimals;
  simplify. The model is a solution when ``truth - model`` simplifies to 0 or to a constant, or
  ``model / truth`` is a constant (and the model is not 0 or nan). Example:
  ``0.0796*Pwr/r**2`` solves ``Pwr/(4*pi*r**2)``; ``Pwr/(12.566*r**2) + 0.5`` solves it too
  (constant offset); ``Pwr/r`` does not.
* **Accuracy solution**: test R^2 > 0.999.
* **Complexity**: the number of nodes in the simplified sympy expression tree.

Procedure
---------
1. Replace ``pi`` by 3.1415926535 in model and truth; round every float in both with
   :func:`round_floats`. The rounded values are then written as exact rationals
   (``0.080`` -> ``2/25``): same values, but sympy can cancel them exactly (``sin(x) - sin(1.0*x)``
   does not simplify to 0 with floats).
2. A model that is 0, NaN or contains infinities is not a solution.
3. ``truth - model``: a solution if it has no free symbols (a finite constant) or
   ``sympy.simplify(..., ratio=1)`` makes it so.
4. Otherwise ``model / truth``: a solution if it is, or simplifies to, a finite non-zero
   constant.

"Constant" means "has no free symbols". Before simplifying, the difference/ratio is evaluated
(exact inputs, 30 digits) at three fixed points in ``[1, 3]^d``; if the values clearly differ,
it cannot simplify to a constant and the costly ``simplify`` is skipped. This never turns a
non-solution into a solution.

Differences from SRBench's script (``assess_symbolic_model.py``): it simplifies the model alone
before rounding, which rounds a different set of floats than in the truth (so that a truth can
fail to be a solution of itself, e.g. the Feynman bonus problem ``test_12``); here model
and truth get the same treatment, and rounded floats are exact rationals. And where the
difference or ratio holds a hyperbolic function, it is also simplified rewritten in
exponentials (``tanh(u/2)/2 + 1/2`` is ``1/(1 + exp(-u))``; ``simplify`` alone does not see
it): still an exact proof of equality, never a looser test.

Laws in SI units (SRSD's Feynman set, whose constants include ``1.380649e-23`` and
``6.6743e-11``) are judged with ``scale_free=True``: every float is rounded to 4 significant
digits and none becomes 0, because the absolute rule makes 23 of SRSD's 120 laws 0 themselves
and removes a variable from 12 more.

Every ``sympy.simplify`` call is guarded by a time limit (``SIGALRM``; effective only in the
main thread on POSIX systems and when no other interval timer is running) and by a cap on the
expression size, so a pathological expression cannot hang a benchmark run.
"""

from __future__ import annotations

import cmath
import itertools
import keyword
import math
import random
import re
from collections.abc import Sequence

import mpmath
import numpy as np
import sympy
from sympy.parsing.sympy_parser import parse_expr

from kansr.utils.deadline import call_with_timeout as _call_with_timeout

__all__ = [
    "ACCURACY_R2_THRESHOLD",
    "DEFAULT_MAX_NODES",
    "DEFAULT_SIMPLIFY_TIMEOUT",
    "PI_VALUE",
    "SCALE_FREE_DIGITS",
    "SYMBOLIC_R2_THRESHOLD",
    "expression_complexity",
    "is_accuracy_solution",
    "is_equal_on_domain",
    "is_symbolic_solution",
    "parse_formula",
    "round_floats",
]

#: Value that replaces ``pi`` before rounding (SRBench's literal).
PI_VALUE: str = "3.1415926535"

#: Symbolic solutions are only checked when test R^2 exceeds this.
SYMBOLIC_R2_THRESHOLD: float = 0.5

#: Test R^2 above which a model is an accuracy solution.
ACCURACY_R2_THRESHOLD: float = 0.999

#: Significant digits of every float under the scale-free rounding (``scale_free=True``):
#: SRBench's 3 decimals are 4 significant digits for a constant between 1 and 10.
SCALE_FREE_DIGITS: int = 4

#: Default time limit in seconds for one ``sympy.simplify`` call.
DEFAULT_SIMPLIFY_TIMEOUT: float = 10.0

#: Expressions with more tree nodes than this are not simplified (the check then fails).
DEFAULT_MAX_NODES: int = 2000

_NON_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)

# numerical non-constancy pre-check (see _numerically_varies)
_N_POINTS = 3
_EVAL_DIGITS = 30
_VARIES_RTOL = 1e-12


def round_floats(
    expr: sympy.Expr,
    threshold: float = 1e-4,
    decimals: int = 3,
    significant: int | None = None,
) -> sympy.Expr:
    """Round every float in an expression, SRBench style (or to significant digits).

    Parameters
    ----------
    expr : sympy.Expr
        Expression; only ``sympy.Float`` atoms are changed (integers, rationals and named
        constants such as ``pi`` are left alone).
    threshold : float
        Floats with ``|a| < threshold`` become exact ``0``.
    decimals : int
        Other floats are rounded to this many decimal places.
    significant : int or None
        When given, every float is rounded to this many significant digits instead and none
        becomes 0 (``threshold`` and ``decimals`` are not used): the rounding of
        :data:`SCALE_FREE_DIGITS` for laws whose constants are physical constants in SI
        units (``1.380649e-23``), which the absolute rule writes as 0.

    Returns
    -------
    sympy.Expr
        The expression with floats replaced (sympy re-evaluates it, so ``0*x`` terms vanish).
    """
    expr = sympy.sympify(expr) if isinstance(expr, (int, float)) else expr
    replacements = {}
    for a in expr.atoms(sympy.Float):
        value = float(a)
        if not math.isfinite(value):
            continue
        if significant is not None:
            replacements[a] = sympy.Float(float(f"{value:.{int(significant) - 1}e}"))
        elif abs(value) < threshold:
            replacements[a] = sympy.Integer(0)
        else:
            replacements[a] = sympy.Float(round(value, decimals))
    return expr.xreplace(replacements) if replacements else expr


def parse_formula(text: str, variables: Sequence[str] | str) -> sympy.Expr:
    """Parse a benchmark formula with every listed variable as a plain ``sympy.Symbol``.

    Names such as ``gamma``, ``beta``, ``E``, ``I``, ``S`` or ``pi`` would otherwise become sympy
    functions or constants; when they are listed variables they become Symbols. A literal
    ``pi`` that is not a variable stays the constant ``sympy.pi``. Variables that are Python
    keywords (SRSD's ``lambda``) are supported too.

    .. warning::
       ``parse_expr`` evaluates Python code. Use this only on *trusted* benchmark files (such as
       ``shared/benchmarks/*.csv``), never on user input.

    Parameters
    ----------
    text : str
        Formula, e.g. ``"Pwr/(4*pi*r**2)"``.
    variables : sequence of str, or str
        Variable names (a string is split on whitespace, as in the CSV ``variables`` column).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        If the formula uses a free symbol that is not among ``variables``.
    """
    if isinstance(variables, str):
        variables = variables.split()
    variables = list(variables)
    original = text
    local_dict = {}
    for name in variables:
        key = name
        if keyword.iskeyword(name):
            # e.g. SRSD's ``lambda``: rename the token to a placeholder bound to Symbol(name)
            key = f"__kansr_kw_{name}__"
            text = re.sub(rf"\b{name}\b", key, text)
        local_dict[key] = sympy.Symbol(name)
    expr = parse_expr(text, local_dict=local_dict)
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in variables)
    if unknown:
        raise ValueError(f"formula {original!r} uses names {unknown} not in variables {variables}")
    return expr


def expression_complexity(
    expr: sympy.Expr,
    simplify: bool = False,
    timeout: float | None = DEFAULT_SIMPLIFY_TIMEOUT,
) -> int:
    """Number of nodes of the sympy expression tree (``sympy.preorder_traversal``).

    Parameters
    ----------
    expr : sympy.Expr
    simplify : bool
        Simplify first (SRBench counts the nodes of the simplified model, ``ratio=1``). If that
        fails or exceeds ``timeout`` seconds (see module docstring), ``expr`` is counted as is.
    timeout : float or None
        Time limit for the simplification.

    Returns
    -------
    int
    """
    expr = sympy.sympify(expr) if isinstance(expr, (int, float)) else expr
    if simplify:
        original = expr
        try:
            expr = _call_with_timeout(lambda: _raw_simplify(original), timeout)
        except Exception:  # noqa: BLE001 - TimeoutError or any sympy failure: count as is
            expr = original
    return sum(1 for _ in sympy.preorder_traversal(expr))


def is_accuracy_solution(r2: float | None) -> bool:
    """SRBench's accuracy solution: test R^2 > 0.999 (``None``/NaN give ``False``)."""
    return r2 is not None and bool(r2 > ACCURACY_R2_THRESHOLD)


# ---------------------------------------------------------------------------- guarded simplify
def _raw_simplify(expr: sympy.Expr) -> sympy.Expr:
    return sympy.simplify(expr, ratio=1)


def _guarded_simplify(expr: sympy.Expr, timeout: float | None, max_nodes: int) -> sympy.Expr:
    if sum(1 for _ in sympy.preorder_traversal(expr)) > max_nodes:
        raise ValueError(f"expression too large to simplify (> {max_nodes} nodes)")
    return _call_with_timeout(lambda: _raw_simplify(expr), timeout)


# ---------------------------------------------------------------------------- the judge
def _as_expr(value: object, what: str) -> sympy.Expr:
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, (int, float)):
        return sympy.sympify(value)
    raise TypeError(
        f"{what} must be a sympy expression (parse text with parse_formula), "
        f"got {type(value).__name__}"
    )


def _has_non_finite(expr: sympy.Expr) -> bool:
    return any(expr.has(v) for v in _NON_FINITE)


def _prepare(expr: sympy.Expr, scale_free: bool = False) -> sympy.Expr:
    """Replace ``pi``, round floats (to :data:`SCALE_FREE_DIGITS` significant digits when
    ``scale_free``), then write the rounded floats as exact rationals."""
    expr = expr.xreplace({sympy.pi: sympy.Float(PI_VALUE)})
    expr = round_floats(expr, significant=SCALE_FREE_DIGITS if scale_free else None)
    exact = {}
    for a in expr.atoms(sympy.Float):
        value = float(a)
        if math.isfinite(value):
            exact[a] = sympy.Rational(repr(value))
    return expr.xreplace(exact) if exact else expr


def _number(expr: sympy.Expr) -> complex | None:
    """Value of a symbol-free expression, or ``None`` when it is not a finite number."""
    if expr.free_symbols or _has_non_finite(expr):
        return None
    try:
        value = complex(expr.evalf(_EVAL_DIGITS))
    except (TypeError, ValueError, ArithmeticError):
        return None
    return value if cmath.isfinite(value) else None


def _finite_constant(expr: sympy.Expr, nonzero: bool = False) -> bool:
    """``expr`` has no free symbols and is a finite (optionally non-zero) number."""
    value = _number(expr)
    if value is None:
        return False
    return value != 0 if nonzero else True


def _is_zero(expr: sympy.Expr) -> bool:
    """``expr`` is the number zero (``Float(0.0) == 0`` is False in recent sympy)."""
    return _number(expr) == 0


def _sample_points(symbols: Sequence[sympy.Symbol], n_points: int) -> list[dict]:
    """Fixed pseudo-random exact points in ``[1, 3]^d`` (benchmark variables are mostly > 0)."""
    rng = random.Random(12345)
    return [
        {s: sympy.Rational(rng.randint(10**6, 3 * 10**6), 10**6) for s in symbols}
        for _ in range(n_points)
    ]


def _float_varies(expr: sympy.Expr, points: list[dict]) -> bool:
    """Fast float64 version of :func:`_numerically_varies`: ``True`` only when the values at
    two points differ by far more than float rounding (1e-6 relative); the expression was
    built by kansr or parsed from a trusted benchmark file, so compiling it is safe."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        fn = sympy.lambdify(symbols, expr, modules="numpy")
        with np.errstate(all="ignore"):
            values = [complex(fn(*[float(p[s]) for s in symbols])) for p in points]
    except Exception:  # noqa: BLE001 - no conclusion; the exact check decides
        return False
    finite = [v for v in values if np.isfinite(v.real) and np.isfinite(v.imag)]
    for a, b in itertools.pairwise(finite):
        if abs(a - b) > 1e-6 * max(abs(a), abs(b), 1e-300):
            return True
    return False


def _precise_values(expr: sympy.Expr, points: list[dict]) -> list[complex | None]:
    """``expr`` at each of ``points`` (exact inputs), evaluated by mpmath at
    ``_EVAL_DIGITS + 10`` digits; ``None`` where it is not a finite number or fails.

    Numbers, not ``expr.xreplace(point)``: substituting exact rationals makes sympy evaluate
    the tree exactly (powers and exponentials of exact sums), which on a 300-node formula
    took minutes and over 20 GB (Feynman test_15's formula, 2026-12-05)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        fn = sympy.lambdify(symbols, expr, modules="mpmath")
    except Exception:  # noqa: BLE001 - no conclusion from any point
        return [None] * len(points)
    values: list[complex | None] = []
    with mpmath.workdps(_EVAL_DIGITS + 10):
        for point in points:
            args = [mpmath.mpf(point[s].p) / point[s].q for s in symbols]
            try:
                value = complex(fn(*args))
            except Exception:  # noqa: BLE001 - a failed evaluation: no conclusion here
                value = None
            values.append(value if value is not None and cmath.isfinite(value) else None)
    return values


def _numerically_varies(expr: sympy.Expr, points: list[dict]) -> bool:
    """Whether ``expr`` provably takes clearly different values at two of ``points``.

    Evaluation is exact-input and high-precision, so a constant expression gives values equal to
    far below the tolerance; ``False`` means "could be constant" (including failed evaluations),
    never "is constant".
    """
    if _float_varies(expr, points):
        return True
    values = [v for v in _precise_values(expr, points) if v is not None]
    for a, b in itertools.pairwise(values):
        if abs(a - b) > _VARIES_RTOL * max(abs(a), abs(b)):
            return True
    return False


def _simplifies_to_constant(
    expr: sympy.Expr,
    points: list[dict],
    nonzero: bool,
    timeout: float | None,
    max_nodes: int,
) -> bool:
    """``expr`` is, or simplifies to, a finite (optionally non-zero) constant."""
    if not expr.free_symbols:
        return _finite_constant(expr, nonzero)
    if _numerically_varies(expr, points):
        return False  # cannot simplify to a constant; skip the expensive simplify
    forms = [expr]
    if expr.has(sympy.tanh, sympy.sinh, sympy.cosh, sympy.coth):
        forms.append(expr.rewrite(sympy.exp))
    for form in forms:
        try:
            simplified = _guarded_simplify(form, timeout, max_nodes)
        except Exception:  # noqa: BLE001 - TimeoutError, size cap or any sympy failure
            continue
        if _finite_constant(simplified, nonzero):
            return True
    return False


def is_symbolic_solution(
    model: sympy.Expr,
    truth: sympy.Expr,
    r2: float | None = None,
    *,
    timeout: float | None = DEFAULT_SIMPLIFY_TIMEOUT,
    max_nodes: int = DEFAULT_MAX_NODES,
    scale_free: bool = False,
) -> bool:
    """SRBench's symbolic-solution test.

    Parameters
    ----------
    model : sympy.Expr
        Recovered expression.
    truth : sympy.Expr
        Ground-truth expression (e.g. from :func:`parse_formula`). In both, ``pi`` is replaced by
        3.1415926535 and floats are rounded with :func:`round_floats`.
    r2 : float, optional
        Test R^2 of the model. When given, the model must have ``r2 > 0.5`` (else ``False``,
        also for NaN).
    timeout : float or None
        Time limit in seconds for each ``sympy.simplify`` call (see module docstring); ``None``
        disables it. A timed-out check counts as "not a solution".
    max_nodes : int
        Difference/ratio expressions with more tree nodes than this are not simplified (that
        check then fails).
    scale_free : bool
        Round every float in both to :data:`SCALE_FREE_DIGITS` significant digits and write
        none as 0, instead of SRBench's absolute rule. For laws in SI units (SRSD's Feynman
        set): the absolute rule writes ``1.380649e-23`` as 0, which makes 23 of SRSD's 120
        laws 0 themselves (no formula can solve them) and drops a variable from 12 more
        (``m_0/sqrt(1 - v**2/c**2)`` becomes ``m_0``, which a formula without ``v`` then
        solves). Stricter than SRBench's rule against a spurious small term (``+ 1e-9*x`` is
        kept), never looser on the constants: the difference or ratio must still simplify
        exactly to a constant.

    Returns
    -------
    bool
        ``True`` when, after rounding, ``truth - model`` is (or simplifies to) a finite constant,
        or ``model / truth`` is (or simplifies to) a finite non-zero constant. ``False`` for a
        model that is 0, NaN or contains infinities (also after rounding), and whenever sympy
        raises or times out.
    """
    if r2 is not None and not (r2 > SYMBOLIC_R2_THRESHOLD):
        return False
    model = _as_expr(model, "model")
    truth = _as_expr(truth, "truth")
    try:
        if _has_non_finite(model) or _has_non_finite(truth):
            return False
        model = _prepare(model, scale_free)
        truth = _prepare(truth, scale_free)
        if _is_zero(model) or _has_non_finite(model) or _has_non_finite(truth):
            return False
        symbols = sorted(model.free_symbols | truth.free_symbols, key=lambda s: s.name)
        points = _sample_points(symbols, _N_POINTS)
        if _simplifies_to_constant(truth - model, points, False, timeout, max_nodes):
            return True
        return _simplifies_to_constant(model / truth, points, True, timeout, max_nodes)
    except Exception:  # noqa: BLE001 - any sympy failure (RecursionError too): not a solution
        return False


# ------------------------------------------------------------------ equality on the sampled domain
_DOMAIN_DIGITS = 50
_DOMAIN_RTOL = 1e-30
_DOMAIN_MIN_POINTS = 5


def is_equal_on_domain(
    model: sympy.Expr,
    truth: sympy.Expr,
    points: np.ndarray,
    variables: Sequence[str],
    r2: float | None = None,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    check_symbolic: bool = True,
) -> bool:
    """The model equals the truth up to an additive or multiplicative constant on the rows of
    ``points`` (``(n_points, n_variables)``, drawn from the problem's domain): a numerical
    identity test, reported beside SRBench's rule, never instead of it.

    Both expressions get the treatment of :func:`is_symbolic_solution` (``pi`` replaced, floats
    rounded to 3 decimals); ``truth - model`` or ``model / truth`` must take one value (relative
    ``1e-30`` at 50 digits, the points read as exact binary values) at every point where both are
    finite, with at least 5 such points. This accepts what ``sympy.simplify`` cannot prove
    without knowing the domain: ``c*m/sqrt(c**2 - v**2)`` is ``m/sqrt(1 - v**2/c**2)`` only for
    ``c > 0`` (the Feynman ranges are positive). A rounded constant that is not exact (``0.304``
    for ``3/10``) changes the values far above the tolerance, so approximants fail. A
    solution by :func:`is_symbolic_solution` is equal on any domain; ``check_symbolic=False``
    skips that test (for a caller who already has its verdict).
    """
    if r2 is not None and not (r2 > SYMBOLIC_R2_THRESHOLD):
        return False
    model, truth = _as_expr(model, "model"), _as_expr(truth, "truth")
    symbols = [sympy.Symbol(str(v)) for v in variables]
    extra = (model.free_symbols | truth.free_symbols) - set(symbols)
    if extra:
        raise ValueError(f"symbols {sorted(map(str, extra))} are not among the variables")
    try:
        if check_symbolic and is_symbolic_solution(model, truth, r2, max_nodes=max_nodes):
            return True
        model, truth = _prepare(model), _prepare(truth)
        if _is_zero(model) or _has_non_finite(model) or _has_non_finite(truth):
            return False
        if sum(1 for _ in sympy.preorder_traversal(model)) > max_nodes:
            return False
        import mpmath

        with mpmath.workdps(_DOMAIN_DIGITS):  # values and their comparison at 50 digits
            return _one_value(_values_on(points, symbols, model, truth))
    except Exception:  # noqa: BLE001 - any evaluation failure: not shown equal
        return False


def _values_on(points: np.ndarray, symbols, model: sympy.Expr, truth: sympy.Expr) -> list:
    """``(model, truth)`` at every row of ``points`` where both are finite (mpmath values, at
    the caller's working precision)."""
    import mpmath

    f_model = sympy.lambdify(symbols, model, "mpmath")
    f_truth = sympy.lambdify(symbols, truth, "mpmath")
    pairs = []
    for row in np.asarray(points, dtype=float):
        args = [mpmath.mpf(float(v)) for v in row]
        try:
            m, t = mpmath.mpmathify(f_model(*args)), mpmath.mpmathify(f_truth(*args))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            continue
        if mpmath.isfinite(m) and mpmath.isfinite(t):
            pairs.append((m, t))
    return pairs


def _one_value(pairs: list) -> bool:
    """Whether ``truth - model`` or ``model / truth`` takes one value (relative
    ``_DOMAIN_RTOL``) over the ``(model, truth)`` pairs, at least ``_DOMAIN_MIN_POINTS``."""
    if len(pairs) < _DOMAIN_MIN_POINTS:
        return False
    diffs = [t - m for m, t in pairs]
    if all(abs(d - diffs[0]) <= _DOMAIN_RTOL * max(abs(m), abs(t))
           for d, (m, t) in zip(diffs, pairs, strict=True)):  # fmt: skip
        return True
    if any(t == 0 or m == 0 for m, t in pairs):
        return False
    ratios = [m / t for m, t in pairs]
    return all(abs(r - ratios[0]) <= _DOMAIN_RTOL * abs(ratios[0]) for r in ratios)
