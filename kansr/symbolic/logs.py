"""Constant factors taken out of logarithms, so that they meet the formula's other constants.

A fitted ``log(0.3679 + 0.3679*s/n) + 1`` is ``log(1 + s/n)`` (``0.3679 = 1/e``), and a
snapped ``log(7*(a + b)/(4*pi*b)) + 0.5851`` is ``log((a + b)/b)``; written as they are, no
constant is close to a simple number and nothing can be snapped. ``log(c*u) = log(c) +
log(u)`` for a positive number ``c``: with ``log(c)`` outside, it merges with the constants
beside the logarithm and the ratios inside become ``1``.
"""

from __future__ import annotations

import math

import sympy

__all__ = ["constants_out_of_logs"]

_MAX_PASSES = 3


def _split(arg: sympy.Expr) -> tuple[float, sympy.Expr] | None:
    """``(c, u)`` with ``arg = c*u``, ``c > 0`` a number other than 1: the numeric factor
    of a product, or the constant term of a sum (``c0 + c1*x = c0*(1 + c1/c0*x)``)."""
    symbols = arg.free_symbols
    if not symbols:
        return None
    if arg.is_Add:
        constant, rest = arg.as_independent(*symbols, as_Add=True)
        if constant == 0 or not constant.is_number:
            return None
        c = float(constant)
        return (c, 1 + sympy.expand(rest / constant)) if c > 0 and c != 1 else None
    factor, rest = sympy.factor_terms(arg).as_independent(*symbols, as_Add=False)
    if factor == 1 or not factor.is_number:
        return None
    c = float(factor)
    return (c, rest) if c > 0 and math.isfinite(c) else None


def constants_out_of_logs(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every ``log(c*u)`` (``c`` a positive number) written ``log(c) + log(u)``,
    ``log(c)`` as a float; equal to ``expr`` on every point where it is defined."""

    def rewrite(node: sympy.Expr) -> sympy.Expr:
        if node.func is not sympy.log:
            return node
        split = _split(node.args[0])
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
