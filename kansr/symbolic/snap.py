"""Snap fitted constants to simple exact numbers, and round them for display."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy

from kansr.symbolic.expressions import mse

_SIMPLE_FRACTIONS = sorted(
    {Fraction(p, q) for q in (1, 2, 3, 4, 5, 6, 8) for p in range(-24, 25)},
    key=lambda f: abs(f.denominator),
)


# constants of physics formulas beyond fractions, tried in this order
_IRRATIONAL_FACTORS = (
    sympy.pi,
    1 / sympy.pi,
    sympy.pi**2,
    1 / sympy.pi**2,
    sympy.sqrt(2),
    sympy.sqrt(sympy.pi),
    1 / sympy.sqrt(sympy.pi),
    1 / sympy.sqrt(2 * sympy.pi),
)


def snap_constant(value: float, rel_tol: float = 1e-3) -> sympy.Expr | None:
    """A simple exact number within ``rel_tol`` of ``value`` (integer, p/q with q <= 6 or
    q = 8, or such a fraction times pi, 1/pi, pi**2, 1/pi**2, sqrt(2), sqrt(pi), 1/sqrt(pi)
    or 1/sqrt(2*pi)), or ``None``."""
    if not np.isfinite(value):
        return None
    scale = max(abs(value), 1e-12)
    if abs(value) < 1e-8:
        return sympy.Integer(0)
    for frac in _SIMPLE_FRACTIONS:
        if abs(float(frac) - value) <= rel_tol * scale:
            return sympy.Rational(frac.numerator, frac.denominator)
    for factor in _IRRATIONAL_FACTORS:
        unit = float(factor)
        for frac in _SIMPLE_FRACTIONS:
            if frac != 0 and abs(float(frac) * unit - value) <= rel_tol * scale:
                return sympy.Rational(frac.numerator, frac.denominator) * factor
    return None


def snap_constants(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, loss: float, budget: float
) -> tuple[sympy.Expr, float]:
    """Replace the floats of ``expr`` by 0 or a simple exact number (:func:`snap_constant`),
    smallest first, one at a time, while the mean squared error on ``X, y`` stays within
    ``budget``. Returns the expression and its loss (``loss`` when nothing was snapped)."""
    for atom in sorted(expr.atoms(sympy.Float), key=lambda a: abs(float(a))):
        if atom not in expr.atoms(sympy.Float):
            continue
        for exact in (sympy.Integer(0), snap_constant(float(atom))):
            if exact is None:
                continue
            trial = expr.xreplace({atom: exact})
            trial_loss = mse(trial, X, y)
            if trial_loss <= budget:
                expr, loss = trial, trial_loss
                break
    return expr, loss


def round_expression(expr: sympy.Expr, digits: int = 4) -> sympy.Expr:
    """Round every float in ``expr`` to ``digits`` significant digits."""
    replacements = {}
    for atom in expr.atoms(sympy.Float):
        value = float(atom)
        if value == 0:
            replacements[atom] = sympy.Integer(0)
            continue
        rounded = float(f"{value:.{digits}g}")
        replacements[atom] = (
            sympy.Integer(int(rounded)) if rounded == int(rounded) else sympy.Float(rounded, digits)
        )
    return expr.xreplace(replacements)
