"""Backfitting a decomposition's parts on the data (kansr.symbolic.decompose.backfit)."""

from __future__ import annotations

import numpy as np
import sympy

from kansr.symbolic.decompose.backfit import backfitted
from kansr.symbolic.decompose.recursion import Recursion
from kansr.symbolic.expressions import evaluate
from kansr.symbolic.finish import finish
from kansr.symbolic.library import make_library

X0, X1, X2 = sympy.symbols("x0:3", real=True)
F = sympy.Float


def _relative_error(expr, X, y) -> float:
    return float(np.mean((evaluate(expr, X) - y) ** 2) / np.var(y))


def _compton_like(n=600, seed=0):
    """``y = x0/(1 + x0*(1 - cos(x2))/x1)``: the reciprocal of a sum holding a product."""
    X = np.random.default_rng(seed).uniform([1, 1, 0.2], [3, 4, 2.5], (n, 3))
    y = X[:, 0] / (1 + X[:, 0] * (1 - np.cos(X[:, 2])) / X[:, 1])
    return X, y


def test_parts_under_a_reciprocal_are_matched_again_on_the_data():
    # the tree a network's slices give: right structure, 1 - cos(x2) read as a parabola and
    # 1/x1 as a shifted hyperbola, each close only on the slice
    X, y = _compton_like()
    raw = 1 / (
        1 / X0
        + F(1.02) * (F(0.01) + F(0.93) / (X1 + F(0.05))) * (F(0.37) * (X2 - F(0.1)) ** 2 + F(0.02))
    )
    assert _relative_error(raw, X, y) > 1e-3  # the slices' forms do not fit the data
    new = backfitted(raw, X, y, Recursion(library=make_library()))
    assert new is not None
    assert new.has(sympy.cos) or new.has(sympy.sin), new  # cos(x2) or sin(x2 + pi/2)
    assert _relative_error(new, X, y) < 1e-4, new  # each part's constants fitted alone
    law = finish(new, X, y, expand_first=True)  # the constants refit jointly
    assert _relative_error(law.expr, X, y) < 1e-12, law.expr


def test_an_exact_formula_is_left_as_it_is():
    X, y = _compton_like()
    exact = X0 / (1 + X0 * (1 - sympy.cos(X2)) / X1)
    assert backfitted(exact, X, y, Recursion(library=make_library())) is None


def test_a_part_is_replaced_only_when_the_whole_fits_better():
    # data that no library form of x1 explains better than the part already there: the
    # formula stays as it is
    gen = np.random.default_rng(1)
    X = gen.uniform(1, 2, (400, 3))
    y = X[:, 0] + (X[:, 1] - 1.5) ** 2 + gen.normal(0, 0.3, 400)
    raw = X0 + (X1 - F(1.5)) ** 2
    new = backfitted(raw, X, y, Recursion(library=make_library()))
    after = raw if new is None else new
    assert _relative_error(after, X, y) <= _relative_error(raw, X, y)
