"""Compose per-edge formulas into one sympy expression, snap constants, measure complexity.

Everything here is built from sympy objects; nothing is parsed from strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy

from .expression import mse

__all__ = [
    "SymbolicEdge",
    "complexity",
    "compose",
    "round_expression",
    "snap_constant",
    "snap_constants",
]


class SymbolicEdge:
    """Edge ``i -> o`` of a layer computing ``c * f(a * x_i + b) + d``.

    ``fn`` is a :class:`~kansr.symbolic_library.SymbolicFunction`.
    """

    __slots__ = ("i", "o", "fn", "params")

    def __init__(self, i: int, o: int, fn, params: Sequence[float]) -> None:
        self.i, self.o, self.fn = int(i), int(o), fn
        self.params = [float(p) for p in params]

    def __repr__(self) -> str:
        a, b, c, d = self.params
        return (
            f"SymbolicEdge({self.i}->{self.o}: {c:.4g}*{self.fn.name}({a:.4g}*x+{b:.4g})+{d:.4g})"
        )


def _number(value: float) -> sympy.Expr:
    return sympy.Float(value, 15)


def compose(
    layers: Sequence[Sequence[SymbolicEdge]],
    biases: Sequence[np.ndarray],
    inputs: Sequence[sympy.Expr],
) -> list[sympy.Expr]:
    """Expressions of the output nodes: layer by layer, ``out_o = bias_o + sum_edges phi``.

    ``layers[l]`` lists the symbolic edges of layer ``l``, ``biases[l]`` its ``(n_out,)`` bias and
    ``inputs`` the expressions of the first layer's input nodes.
    """
    nodes = list(inputs)
    for edges, bias in zip(layers, biases, strict=True):
        out = [_number(float(v)) for v in bias]
        for edge in edges:
            a, b, c, d = (_number(p) for p in edge.params)
            if edge.fn.complexity == 0:  # the zero function: a constant
                out[edge.o] += d
                continue
            out[edge.o] += c * edge.fn.sympy_expr(a * nodes[edge.i] + b) + d
        nodes = out
    return nodes


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


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes of the expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))
