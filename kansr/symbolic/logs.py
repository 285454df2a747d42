"""Constant factors taken out of logarithms, so that they meet the formula's other constants.

A fitted ``log(0.3679 + 0.3679*s/n) + 1`` is ``log(1 + s/n)`` (``0.3679 = 1/e``), and a
snapped ``log(7*(a + b)/(4*pi*b)) + 0.5851`` is ``log((a + b)/b)``; written as they are, no
constant is close to a simple number and nothing can be snapped. ``log(c*u) = log(c) +
log(u)`` for a positive number ``c``: with ``log(c)`` outside, it merges with the constants
beside the logarithm and the ratios inside become ``1``.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from kansr.symbolic.expressions import evaluate

__all__ = ["constants_out_of_logs"]

_MAX_PASSES = 3
_SMALL = 1e-3  # a constant term this small beside the other term of a log's sum is a shift


def _split(arg: sympy.Expr, small_constant=None) -> tuple[float, sympy.Expr] | None:
    """``(c, u)`` with ``arg = c*u``, ``c > 0`` a number other than 1: the numeric factor
    of a product, or the constant term of a sum (``c0 + c1*x = c0*(1 + c1/c0*x)``), or,
    where ``c0`` is 1 or ``small_constant(c0, term)`` says it is negligible beside the one
    other term, that term's factor (``c1*(x + c0/c1)``: the tiny ``c0/c1`` snaps to 0)."""
    symbols = arg.free_symbols
    if not symbols:
        return None
    if arg.is_Add:
        constant, rest = arg.as_independent(*symbols, as_Add=True)
        if constant == 0 or not constant.is_number:
            return None
        c = float(constant)
        factor, term = rest.as_independent(*symbols, as_Add=False)
        single = not term.is_Add and factor.is_number and factor != 1 and float(factor) > 0
        if c == 1 or (small_constant is not None and small_constant(c, rest)):
            # a shift: the other term's factor comes out, or nothing (``log(x + 1e-17)``
            # is not ``log(1e-17) + log(1 + 1e17*x)``: the shift is left to snap to 0)
            return (float(factor), term + constant / factor) if single else None
        if c > 0:
            return c, 1 + sympy.expand(rest / constant)
        return None
    factor, rest = sympy.factor_terms(arg).as_independent(*symbols, as_Add=False)
    if factor == 1 or not factor.is_number:
        return None
    c = float(factor)
    return (c, rest) if c > 0 and math.isfinite(c) else None


def constants_out_of_logs(expr: sympy.Expr, X: np.ndarray | None = None) -> sympy.Expr:
    """``expr`` with every ``log(c*u)`` (``c`` a positive number) written ``log(c) + log(u)``,
    ``log(c)`` as a float; equal to ``expr`` on every point where it is defined. With the
    data ``X (n, m)`` (columns ``x0 ..``), ``log(c0 + c1*x)`` whose ``|c0|`` is below
    ``_SMALL`` of ``|c1*x|`` everywhere is written ``log(c1) + log(x + c0/c1)``."""

    def small_constant(c0: float, term: sympy.Expr) -> bool:
        if X is None:
            return False
        try:
            values = np.abs(evaluate(term, X))
        except Exception:  # noqa: BLE001 - not evaluable on the data: not small
            return False
        return bool(np.all(np.isfinite(values)) and abs(c0) < _SMALL * values.min())

    def rewrite(node: sympy.Expr) -> sympy.Expr:
        if node.func is not sympy.log:
            return node
        split = _split(node.args[0], small_constant)
        if split is None:
            return node
        c, rest = split
        return sympy.Float(math.log(c), 15) + sympy.log(rest)

    for _ in range(_MAX_PASSES):  # a factor may come out of a sum taken out before
        rewritten = expr.replace(lambda e: e.func is sympy.log, rewrite)
        if rewritten == expr:
            break
        expr = rewritten
    return expr
