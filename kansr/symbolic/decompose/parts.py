"""The one-variable parts of a formula read off a network, and their forms on data: the
argument a part is a function of (a column, or a joined ``q*V/(k*T)``) and the library's
forms of the values the data give that part, in either orientation of a joined monomial."""

from __future__ import annotations

import numpy as np
import sympy

from kansr.symbolic.decompose.recursion import Recursion, leaf_forms
from kansr.symbolic.expressions import evaluate

__all__ = ["joined_argument", "oriented_forms", "relative_error"]


def _is_monomial(expr: sympy.Expr) -> bool:
    """Whether ``expr`` is a product of rational powers of two or more symbols
    (``q*V/(k*T)``)."""
    if not expr.is_Mul or len(expr.free_symbols) < 2:
        return False
    return all(
        f.is_Symbol or (f.is_Pow and f.base.is_Symbol and f.exp.is_Rational) for f in expr.args
    )


def relative_error(form: sympy.Expr, X: np.ndarray, values: np.ndarray) -> float:
    """Mean squared error of ``form`` at the rows of ``X`` against ``values (n,)``, over
    their variance (``inf`` where it is not finite)."""
    with np.errstate(all="ignore"):
        fitted = np.broadcast_to(evaluate(form, X), values.shape)
        error = float(np.mean((fitted - values) ** 2) / np.var(values))
    return error if np.isfinite(error) else np.inf


def oriented_forms(
    u: np.ndarray, values: np.ndarray, argument: sympy.Expr, settings: Recursion, X: np.ndarray
) -> list[sympy.Expr]:
    """:func:`~kansr.symbolic.decompose.recursion.leaf_forms` of ``values (n,)`` at ``u
    (n,)``, the values of ``argument`` at the rows of ``X``; for a joined monomial
    (``T*k/(B*m)``) also at ``1/u``, since the variable the network joins has no preferred
    orientation and a law can be two library functions deep in one and three in the other
    (``1/cosh(B*m/(T*k))``). The orientation whose most accurate form fits the data better
    gives the list, the other its first form after it."""
    forms = leaf_forms(u, values, argument, settings)
    if not _is_monomial(argument) or not np.all(np.abs(u) > 0) or settings.deadline.expired():
        return forms
    with np.errstate(all="ignore"):
        flipped = leaf_forms(1 / u, values, 1 / argument, settings)
    if not flipped:
        return forms
    if not forms:
        return flipped

    def best(options: list[sympy.Expr]) -> float:
        return min(relative_error(f, X, values) for f in options)

    if best(flipped) < best(forms):
        forms, flipped = flipped, forms
    return list(dict.fromkeys([*forms, flipped[0]]))


def joined_argument(part: sympy.Expr) -> sympy.Expr | None:
    """The variable ``u`` of which ``part`` is a function: its one symbol, or the smallest
    subexpression holding all its symbols (numeric factors and terms dropped: ``q*V/(k*T)``
    of ``tanh(2.7 - 0.56*q*V/(k*T))``) when ``part`` has no other occurrence of them;
    ``None`` for a number or a part of several unjoined variables (``x*exp(y)``)."""
    free = part.free_symbols
    if len(free) == 1:
        return next(iter(free))
    if not free:
        return None
    node = part
    while True:
        holding = [a for a in node.args if free <= a.free_symbols]
        if len(holding) != 1:
            break
        node = holding[0]
    if node is part or not (node.is_Mul or node.is_Add):
        return None
    argument = node.func(*[a for a in node.args if a.free_symbols])
    if argument.free_symbols != free:
        return None
    u = sympy.Dummy("u")
    if part.subs(argument, u).free_symbols != {u}:
        return None  # the symbols also occur outside the argument
    return argument
