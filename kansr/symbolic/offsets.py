"""Formulas with one offset fewer: ``a*x/(x + b)`` from ``(a*x + 3)/(x + b)``.

A search fits every constant its template has; on measured data an offset inside a
sum (``q2*(8.9*q1 + 0.17)/r**2``, ``(221*x + 3)/(x + 0.10)``) often takes up noise.
The variants here drop one number term of one sum and refit the remaining constants; the
information criterion then decides on the front whether the constant was worth its cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from kansr.symbolic.expressions import complexity
from kansr.symbolic.finish import finish
from kansr.symbolic.pareto import Formula
from kansr.symbolic.uncertainty import n_constants
from kansr.utils.deadline import Deadline

__all__ = ["MAX_OFFSET_CONSTANTS", "fewer_offsets", "offsets_dropped"]

MAX_OFFSET_CONSTANTS = 6  # formulas with more fitted constants are not varied
_MAX_VARIANTS = 4  # sums varied per formula


def offsets_dropped(expr: sympy.Expr) -> list[sympy.Expr]:
    """``expr`` with one number term of one sum removed, for each such term of ``expr`` and
    of its form as one fraction (``sympy.cancel``: ``c - 1/(a*x + b)`` is
    ``(c*a*x + c*b - 1)/(a*x + b)``), at most ``_MAX_VARIANTS`` each: ``(a*x + 3)/(x + b)``
    gives ``a*x/(x + b)`` and ``(a*x + 3)/x``. Sums of numbers only are left alone."""
    forms = [expr]
    try:
        fraction = sympy.cancel(expr)
    except Exception:  # noqa: BLE001 - sympy failed: the expression as it is
        fraction = expr
    if fraction != expr and complexity(fraction) <= 2 * complexity(expr):
        forms.append(fraction)
    out: list[sympy.Expr] = []
    for form in forms:
        for variant in _dropped(form):
            if variant not in out:
                out.append(variant)
    return out


def _dropped(expr: sympy.Expr) -> list[sympy.Expr]:
    """:func:`offsets_dropped` of ``expr`` as written."""
    out: list[sympy.Expr] = []
    for node in sympy.preorder_traversal(expr):
        if not isinstance(node, sympy.Add) or all(t.is_Number for t in node.args):
            continue
        if not any(t.is_Number and t != 0 for t in node.args):
            continue
        rest = sympy.Add(*[t for t in node.args if not t.is_Number])
        variant = expr.xreplace({node: rest})
        if variant != expr and variant not in out:
            out.append(variant)
        if len(out) >= _MAX_VARIANTS:
            break
    return out


def fewer_offsets(
    formulas: Sequence[Formula],
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    deadline: Deadline | None = None,
) -> list[Formula]:
    """The :func:`offsets_dropped` variants of ``formulas`` (of at most
    :data:`MAX_OFFSET_CONSTANTS` fitted constants), finished on ``X (n, m)``, ``y (n,)``
    (weighted by ``sample_weight (n,)``) by :func:`~kansr.symbolic.finish.finish`: the
    remaining constants refit, those the data cannot determine fixed, snapped; those that
    cannot be evaluated or are not finite are left out. Stops when ``deadline`` expires."""
    deadline = deadline or Deadline()
    out: list[Formula] = []
    for formula in formulas:
        if n_constants(formula.expr) > MAX_OFFSET_CONSTANTS:
            continue
        for variant in offsets_dropped(formula.expr):
            if deadline.expired():
                return out
            finished = finish(variant, X, y, deadline=deadline, sample_weight=sample_weight)
            if finished is not None:
                out.append(finished)
    return out
