"""Units of the features and the target: parse them, check a formula's dimensions, repair it.

A unit is text such as ``"m/s^2"``, ``"kg*m**2"``, ``"g/(hp*h)"``, ``"mM"`` or ``""``
(dimensionless). Its *dimension* is what the check compares: exponents of the SI base
dimensions (length, mass, time, temperature, current, amount, luminosity), with every unit
name that is not in :data:`UNITS` (after an SI prefix) a base dimension of its own
(``"Shore"``, ``"counts"``). Scale factors are not kept: ``ft`` and ``m`` are both lengths,
and the conversion between them is a fitted constant's business. For the same reason
fractions on a scale (``%``, ``ppm``, ``ppb``) and angles in degrees are dimensions of their
own, not dimensionless like ``rad`` or ``""``: ``sin`` of degrees needs a fitted rate and
``Abs(log(conc))`` of a concentration in ppm (a kink at 1 ppm) is inconsistent, so that no
formula's form depends on the scale a column was written in.

The check (:func:`consistent`) follows PySR's dimensional analysis: a fitted constant (a
sympy ``Float``) may carry any unit, an exact number (``3``, ``2/3``, ``pi``) carries none.
So ``3*speed`` cannot be a distance while ``2.93*speed`` can; the terms of a sum share one
dimension; the arguments of ``exp``, ``sin``, ``tanh``, ... and of powers with a variable
exponent are dimensionless; ``log`` of a quantity with units is allowed only where a fitted
constant is added to it (``a + b*log(conc)`` is ``b*log(conc/c)``); ``Abs`` keeps its
argument's units and ``sign`` of any quantity has none. Temperatures on a scale with an
arbitrary zero (°C, °F) are checked for forms that do not depend on it by
:mod:`kansr.symbolic.offset_scales`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy

from kansr.symbolic.expressions import complexity, refit_constants
from kansr.symbolic.offset_scales import offset_of, shift_closed, shift_repaired
from kansr.symbolic.pareto import Formula

__all__ = [
    "UNITS",
    "Dimension",
    "UnitDimensions",
    "consistent",
    "formulas_with_units",
    "parse_unit",
    "repaired",
    "unit_dimensions",
]

Dimension = tuple[tuple[str, Fraction], ...]  # sorted (base, exponent) pairs, no zeros
DIMENSIONLESS: Dimension = ()

_L, _M, _T, _K, _I, _N, _J = "length", "mass", "time", "temperature", "current", "amount", "light"
_FRACTION, _DEGREE = "fraction (%, ppm)", "angle (deg)"
_FORCE = {_M: 1, _L: 1, _T: -2}
_PRESSURE = {_M: 1, _L: -1, _T: -2}
_ENERGY = {_M: 1, _L: 2, _T: -2}
_POWER = {_M: 1, _L: 2, _T: -3}

_PREFIXABLE = {  # SI units that take a prefix (mm, kPa, mM, cP, ...)
    "m": {_L: 1},
    "g": {_M: 1},
    "s": {_T: 1},
    "A": {_I: 1},
    "K": {_K: 1},
    "mol": {_N: 1},
    "cd": {_J: 1},
    "L": {_L: 3},
    "l": {_L: 3},
    "M": {_N: 1, _L: -3},  # molar
    "N": _FORCE,
    "Pa": _PRESSURE,
    "bar": _PRESSURE,
    "J": _ENERGY,
    "eV": _ENERGY,
    "cal": _ENERGY,
    "W": _POWER,
    "Hz": {_T: -1},
    "C": {_I: 1, _T: 1},
    "V": {_M: 1, _L: 2, _T: -3, _I: -1},
    "ohm": {_M: 1, _L: 2, _T: -3, _I: -2},
    "P": {_M: 1, _L: -1, _T: -1},  # poise
}
_OTHERS = {
    **{name: {_T: 1} for name in ("min", "h", "hr", "hour", "day", "d", "week", "wk", "month")},
    **{name: {_T: 1} for name in ("year", "yr", "a")},
    **{name: {_L: 1} for name in ("ft", "foot", "feet", "in", "inch", "yd", "mi", "mile")},
    **{name: {_L: 1} for name in ("nmi", "au", "AU", "ly", "pc", "angstrom")},
    **{name: {_L: 1, _T: -1} for name in ("mph", "kph", "knot", "kn")},
    **{name: {_M: 1} for name in ("lb", "oz", "ton", "tonne", "t", "Da", "u")},
    **{name: _PRESSURE for name in ("atm", "mmHg", "inHg", "torr", "Torr", "psi")},
    **{name: _FORCE for name in ("kgf", "lbf", "dyn")},
    **{name: _ENERGY for name in ("erg", "BTU", "Btu")},
    **{name: _POWER for name in ("hp",)},
    **{name: {_K: 1} for name in ("degC", "degF", "°C", "°F", "R")},
    **{name: {} for name in ("rad", "sr")},  # the natural (scale 1) units of angles
    # dimensionless quantities on a scale of their own: a dimension each, so that a form
    # does not depend on the scale (no kink of Abs(log(conc)) at 1 ppm, no sin of degrees)
    **{name: {_FRACTION: 1} for name in ("%", "percent", "ppm", "ppb", "ppt")},
    **{name: {_DEGREE: 1} for name in ("deg", "degree", "°")},
    **{name: {} for name in ("1", "count", "counts")},
}
_PREFIXES = ("da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "µ", "μ")
_PREFIXES += ("n", "p", "f", "a")
UNITS = {**_PREFIXABLE, **_OTHERS}  # the unit names known (besides prefixed SI units)
MAX_UNIT_CHARS = 200  # longer unit texts are refused (the parser recurses on parentheses)

# a power sign, an operator, a number (an exponent), a unit name with an attached integer
# exponent ("m2", "s-1": the usual way of writing "m^2", "s^-1")
_TOKEN = re.compile(
    r"\s*(?:(\*\*|\^)|([*/·()])|(-?[0-9.]+(?:/[0-9]+)?)|([A-Za-z_%°µμ]+)(-?[0-9]+)?)"
)


def _dimension(exponents: Mapping[str, Fraction | int]) -> Dimension:
    return tuple(sorted((b, Fraction(e)) for b, e in exponents.items() if e != 0))


def _times(a: Dimension, b: Dimension, power: Fraction = Fraction(1)) -> Dimension:
    total = dict(a)
    for base, e in b:
        total[base] = total.get(base, Fraction(0)) + e * power
    return _dimension(total)


def _named(name: str) -> Dimension:
    if name in UNITS:
        return _dimension(UNITS[name])
    for prefix in _PREFIXES:
        rest = name[len(prefix) :]
        if name.startswith(prefix) and rest in _PREFIXABLE:
            return _dimension(_PREFIXABLE[rest])
    return ((name, Fraction(1)),)  # a unit of its own


def parse_unit(text: str | None) -> Dimension | None:
    """The dimension of the unit ``text`` (``None`` for ``None``: unknown, any dimension).

    Grammar: unit names joined by ``*``, ``·``, ``/`` or spaces, powers with ``^`` or ``**``
    (``m^2``, ``s^-1``, ``m^(1/2)``, ``s**0.5``), parentheses; ``""`` and ``"1"`` are
    dimensionless. Raises ``ValueError`` naming the text on anything else.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"a unit must be a str or None, got {type(text).__name__}: {text!r}")
    if not text.strip():
        return DIMENSIONLESS
    if len(text) > MAX_UNIT_CHARS:
        raise ValueError(f"cannot read the unit {text[:40]!r}...: over {MAX_UNIT_CHARS} characters")
    tokens = _tokens(text)
    position, dim = _product(tokens, 0, text)
    if position != len(tokens):
        raise ValueError(f"cannot read the unit {text!r}: unexpected {tokens[position][1]!r}")
    return dim


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    stripped = text.rstrip()
    while at < len(stripped):
        match = _TOKEN.match(stripped, at)
        if match is None:
            raise ValueError(f"cannot read the unit {text!r} at {stripped[at:]!r}")
        power, symbol, number, name, attached = match.groups()
        if power or symbol:
            tokens.append(("^", power) if power else (symbol, symbol))
        elif number:
            tokens.append(("num", number))
        else:
            tokens.append(("name", name))
            if attached:
                tokens += [("^", "^"), ("num", attached)]
        at = match.end()
    return tokens


def _product(tokens, at: int, text: str) -> tuple[int, Dimension]:
    """``factor (('*' | '/' | juxtaposition) factor)*`` from ``tokens[at]``."""
    at, dim = _factor(tokens, at, text)
    while at < len(tokens) and tokens[at][0] in ("*", "·", "/", "name", "("):
        sign = Fraction(-1) if tokens[at][0] == "/" else Fraction(1)
        if tokens[at][0] in ("*", "·", "/"):
            at += 1
        at, other = _factor(tokens, at, text)
        dim = _times(dim, other, sign)
    return at, dim


def _factor(tokens, at: int, text: str) -> tuple[int, Dimension]:
    """``(name | number | '(' product ')') ('^' exponent)?``."""
    if at >= len(tokens):
        raise ValueError(f"cannot read the unit {text!r}: it ends too early")
    kind, value = tokens[at]
    if kind == "name":
        dim, at = _named(value), at + 1
    elif kind == "num" and value == "1":
        dim, at = DIMENSIONLESS, at + 1
    elif kind == "(":
        at, dim = _product(tokens, at + 1, text)
        if at >= len(tokens) or tokens[at][0] != ")":
            raise ValueError(f"cannot read the unit {text!r}: a parenthesis is not closed")
        at += 1
    else:
        raise ValueError(f"cannot read the unit {text!r}: unexpected {value!r}")
    if at < len(tokens) and tokens[at][0] == "^":
        at, power = _exponent(tokens, at + 1, text)
        dim = _times(DIMENSIONLESS, dim, power)
    return at, dim


def _exponent(tokens, at: int, text: str) -> tuple[int, Fraction]:
    """``-?number`` or ``'(' -?number ')'`` (``2``, ``-1``, ``0.5``, ``(1/2)``)."""
    closing = at < len(tokens) and tokens[at][0] == "("
    at += closing
    if at < len(tokens) and tokens[at][0] == "num":
        value, at = tokens[at][1], at + 1
    else:
        raise ValueError(f"cannot read the unit {text!r}: an exponent must be a number")
    if closing:
        if at >= len(tokens) or tokens[at][0] != ")":
            raise ValueError(f"cannot read the unit {text!r}: a parenthesis is not closed")
        at += 1
    try:
        return at, Fraction(value).limit_denominator(1000)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cannot read the unit {text!r}: bad exponent {value!r}") from None


# ----------------------------------------------------------------------- the dimension check
class _Inconsistent(Exception):
    """A formula whose dimensions do not agree."""


_WILD = "wild"  # any dimension: a fitted constant multiplies it
_FREE = "free"  # a dimension no constant can adjust (x**1.7 of an x with units)
_ONE_ARG_KEEPS = (sympy.Abs,)  # functions whose value has their argument's units
_SAME_UNITS = (sympy.Max, sympy.Min)  # arguments share units, the value has them
_RATIO = (sympy.atan2,)  # arguments share units, the value has none
_SIGN = (sympy.sign,)  # any argument, the value has no units


def consistent(
    expr: sympy.Expr,
    x_dims: Mapping[sympy.Symbol, Dimension | None],
    y_dim: Dimension | None,
) -> bool:
    """Whether ``expr`` is dimensionally consistent with the features' dimensions ``x_dims``
    (by symbol; a symbol missing or ``None`` has unknown units: any) and the target's
    ``y_dim`` (``None``: any), with fitted floats carrying any units and exact numbers none
    (rules in the module's docstring)."""
    try:
        dim, log_unit = _dim(expr, x_dims)
    except _Inconsistent:
        return False
    if log_unit or dim == _FREE:
        return False
    return dim == _WILD or y_dim is None or dim == y_dim


def _is_fitted_number(node: sympy.Basic) -> bool:
    return bool(node.is_number) and node.has(sympy.Float)


def _dim(node: sympy.Basic, x_dims) -> tuple[Dimension | str, bool]:
    """``(dimension, log_unit)`` of ``node``: a :data:`Dimension`, ``_WILD`` or ``_FREE``,
    and whether a ``log`` of a quantity with units awaits a fitted constant added to it."""
    if node.is_Symbol:
        dim = x_dims.get(node)
        return (_WILD if dim is None else dim), False
    if node.is_number:
        return (_WILD if _is_fitted_number(node) else DIMENSIONLESS), False
    if isinstance(node, sympy.Add):
        return _sum(node, x_dims)
    if isinstance(node, sympy.Mul):
        return _product_of(node, x_dims)
    if isinstance(node, sympy.Pow):
        return _power(node, x_dims), False
    if isinstance(node, sympy.Function):
        return _function(node, x_dims)
    raise _Inconsistent  # (relations, piecewise ...: not formulas kansr writes)


def _sum(node: sympy.Add, x_dims) -> tuple[Dimension | str, bool]:
    parts = [_dim(term, x_dims) for term in node.args]
    log_unit = any(pending for _, pending in parts)
    if log_unit and any(_is_fitted_number(term) for term in node.args):
        log_unit = False  # the fitted constant takes the log of the unit
    return _common([dim for dim, _ in parts]), log_unit


def _common(dims: Sequence[Dimension | str]) -> Dimension | str:
    """The one dimension of ``dims`` that must agree (wildcards adapt)."""
    concrete = {dim for dim in dims if dim != _WILD}
    if _FREE in concrete or len(concrete) > 1:
        raise _Inconsistent
    return concrete.pop() if concrete else _WILD


def _product_of(node: sympy.Mul, x_dims) -> tuple[Dimension | str, bool]:
    parts = [_dim(factor, x_dims) for factor in node.args]
    log_unit = any(pending for _, pending in parts)
    dims = [dim for dim, _ in parts]
    if _WILD in dims:
        return _WILD, log_unit
    if _FREE in dims:
        return _FREE, log_unit
    total = DIMENSIONLESS
    for dim in dims:
        total = _times(total, dim)
    return total, log_unit


def _power(node: sympy.Pow, x_dims) -> Dimension | str:
    base, exponent = node.args
    base_dim, base_log = _dim(base, x_dims)
    exp_dim, exp_log = _dim(exponent, x_dims)
    if base_log or exp_log or exp_dim not in (_WILD, DIMENSIONLESS):
        raise _Inconsistent
    if base_dim == DIMENSIONLESS:
        return DIMENSIONLESS
    if not exponent.is_number:  # x**y: the base must be (made) dimensionless
        if base_dim == _WILD:
            return DIMENSIONLESS
        raise _Inconsistent
    if base_dim in (_WILD, _FREE):
        return base_dim
    if exponent.has(sympy.Float) or not exponent.is_Rational:
        return _FREE  # a fitted (or irrational) power of units: only a coefficient fixes it
    return _times(DIMENSIONLESS, base_dim, Fraction(int(exponent.p), int(exponent.q)))


def _function(node: sympy.Function, x_dims) -> tuple[Dimension | str, bool]:
    parts = [_dim(arg, x_dims) for arg in node.args]
    if isinstance(node, sympy.log) and len(parts) == 1:
        dim, pending = parts[0]
        if pending:
            raise _Inconsistent
        return DIMENSIONLESS, dim not in (_WILD, DIMENSIONLESS)
    if any(pending for _, pending in parts):
        raise _Inconsistent
    dims = [dim for dim, _ in parts]
    if isinstance(node, _ONE_ARG_KEEPS) and len(dims) == 1:
        return dims[0], False
    if isinstance(node, _SIGN) and len(dims) == 1:
        return DIMENSIONLESS, False
    if isinstance(node, _SAME_UNITS):
        return _common(dims), False
    if isinstance(node, _RATIO):
        _common(dims)
        return DIMENSIONLESS, False
    if any(dim not in (_WILD, DIMENSIONLESS) for dim in dims):
        raise _Inconsistent  # exp, sin, tanh, ... of a quantity with units
    return DIMENSIONLESS, False


# ------------------------------------------------------------------------------- the repair
MAX_REPAIR_NODES = 80  # larger formulas that fail the check are dropped, not repaired
MAX_REPAIR_TRIALS = 16  # places tried for one more fitted constant, in tree order
MAX_REPAIRED = 40  # formulas repaired per front, the smallest first (others are left out)


def repaired(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    x_dims: Mapping[sympy.Symbol, Dimension | None],
    y_dim: Dimension | None,
    sample_weight: np.ndarray | None = None,
) -> tuple[sympy.Expr, float] | None:
    """A dimensionally consistent version of ``expr`` with one fitted constant more, and its
    mean squared error on ``X (n, m), y (n,)``, or ``None``.

    Each exact number of ``expr`` other than 1 and -1 (a snapped ``3`` of ``3*speed``, the
    ``2/3`` of ``2*speed**(3/2)/3``, the ``-3/2`` of ``exp(-3*Conc/2)``), and each variable
    inside the argument of a function (the implicit rate 1 of ``tanh(Conc)``), is in turn made
    a fitted constant (``1.0*Conc``), as if it had not been snapped; of the consistent
    results, refit to the data, the one of least error is returned. A formula inconsistent by
    its form (``hard + tens``, ``hard - tens``: the implicit 1 and -1 of a sum are part of the
    form) is not repaired.
    """
    if complexity(expr) > MAX_REPAIR_NODES:
        return None
    best = None
    for trial in _one_constant_more(expr)[:MAX_REPAIR_TRIALS]:
        if not consistent(trial, x_dims, y_dim):
            continue
        fitted, loss = refit_constants(trial, X, y, sample_weight=sample_weight)
        if np.isfinite(loss) and (best is None or loss < best[1]):
            best = (fitted, float(loss))
    return best


def _one_constant_more(expr: sympy.Expr) -> list[sympy.Expr]:
    """``expr`` with one exact number other than 1 and -1 made a float, or one variable inside
    a function's argument multiplied by a float ``1.0``, for each such place in preorder
    (the numbers first)."""
    numbers: list = []
    scales: list = []
    _places(expr, (), numbers, scales, inside=False)
    out = [
        _replaced(expr, path, sympy.Float(float(node), 15))
        for path, node in numbers
        if abs(node) != 1
    ]
    return out + [_replaced(expr, path, sympy.Float(1.0, 15) * node) for path, node in scales]


def _places(node, path, numbers, scales, inside: bool) -> None:
    """Append ``(path, node)`` to ``numbers`` for each exact number of ``node`` (no float
    inside), to ``scales`` for each variable inside a function's argument (``inside``)."""
    if node.is_Symbol:
        if inside:
            scales.append((path, node))
        return
    if node.is_number:
        if not _is_fitted_number(node):
            numbers.append((path, node))
        return
    inside = inside or isinstance(node, sympy.Function)
    for k, arg in enumerate(node.args):
        _places(arg, (*path, k), numbers, scales, inside)


def _replaced(node, path, new):
    if not path:
        return new
    args = list(node.args)
    args[path[0]] = _replaced(args[path[0]], path[1:], new)
    return node.func(*args)


# ------------------------------------------------------------- the estimator's parameters
@dataclass(frozen=True)
class UnitDimensions:
    """Dimensions of the features by internal symbol ``x{i}`` (``None``: unknown) and of
    the target (``None``: unknown); ``x_offsets``: the features on a scale with an arbitrary
    zero (°C, °F) by symbol, with their absolute zero (:mod:`kansr.symbolic.offset_scales`),
    ``y_offset`` that of the target (``None``: a ratio scale or unknown)."""

    x: dict[sympy.Symbol, Dimension | None]
    y: Dimension | None
    x_offsets: dict[sympy.Symbol, float] = field(default_factory=dict)
    y_offset: float | None = None


def unit_dimensions(x_units, y_units, feature_names: Sequence[str]) -> UnitDimensions | None:
    """The dimensions of the estimator's ``X_units`` (one unit per feature, or a dict from
    ``feature_names`` to units) and ``y_units``; ``None`` when neither is given. Raises
    ``ValueError`` naming a unit that cannot be read, a column that does not exist or a list
    of the wrong length."""
    if x_units is None and y_units is None:
        return None
    n = len(feature_names)
    if x_units is None:
        units: list = [None] * n
    elif isinstance(x_units, Mapping):
        unknown = [k for k in x_units if k not in feature_names]
        if unknown:
            raise ValueError(f"X_units names columns that X does not have: {unknown}")
        units = [x_units.get(name) for name in feature_names]
    else:
        units = list(x_units)
        if len(units) != n:
            raise ValueError(f"X_units has {len(units)} entries, X has {n} features")
    dims, offsets = {}, {}
    for i, (name, unit) in enumerate(zip(feature_names, units, strict=True)):
        symbol = sympy.Symbol(f"x{i}", real=True)
        try:
            dims[symbol] = parse_unit(unit)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"X_units of {name!r}: {exc}") from exc
        if offset_of(unit) is not None:
            offsets[symbol] = offset_of(unit)
    try:
        y_dim = parse_unit(y_units)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"y_units: {exc}") from exc
    return UnitDimensions(dims, y_dim, offsets, offset_of(y_units))


def formulas_with_units(
    formulas: Sequence[Formula],
    X: np.ndarray,
    y: np.ndarray,
    units: UnitDimensions,
    sample_weight: np.ndarray | None = None,
) -> list[Formula]:
    """The :class:`~kansr.symbolic.pareto.Formula` s of ``formulas`` that are dimensionally
    consistent with ``units`` and, in their place, those that are not :func:`repaired` (a
    snapped number made a fitted constant again, refit on ``X, y``; the ``MAX_REPAIRED``
    smallest are tried); the others are left out. With features or a target on a scale of
    arbitrary zero (°C, °F), the same then holds for being closed under a shift of the zero
    (:func:`~kansr.symbolic.offset_scales.shift_closed`, repaired by
    :func:`~kansr.symbolic.offset_scales.shift_repaired`)."""

    def dimensions_fixed(expr):
        return repaired(expr, X, y, units.x, units.y, sample_weight)

    out = _kept_or_fixed(formulas, lambda e: consistent(e, units.x, units.y), dimensions_fixed)
    if not units.x_offsets and units.y_offset is None:
        return out

    def closed(expr):
        return shift_closed(expr, X, units.x_offsets, units.y_offset)

    def shift_fixed(expr):
        return shift_repaired(expr, X, y, units.x_offsets, units.y_offset, sample_weight)

    return _kept_or_fixed(out, closed, shift_fixed)


def _kept_or_fixed(formulas: Sequence[Formula], ok, fix) -> list[Formula]:
    """The formulas for which ``ok(expr)`` holds and, in their place, ``fix(expr)`` (an
    ``(expr, loss)`` or ``None``) of the ``MAX_REPAIRED`` smallest others."""
    broken = {i for i, f in enumerate(formulas) if not ok(f.expr)}
    tried = set(
        sorted(broken, key=lambda i: (formulas[i].complexity, formulas[i].loss, i))[:MAX_REPAIRED]
    )
    out, seen = [], set()
    for i, formula in enumerate(formulas):
        if i not in broken:
            out.append(formula)
        elif i in tried:
            fixed = fix(formula.expr)
            if fixed is not None and fixed[0] not in seen:
                seen.add(fixed[0])
                out.append(Formula(expr=fixed[0], complexity=complexity(fixed[0]), loss=fixed[1]))
    return out
