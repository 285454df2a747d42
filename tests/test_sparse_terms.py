"""The sparse regression on product terms, and on pairs of variables joined on the data."""

import numpy as np
import pandas as pd
import pytest
import sympy

from kansr import KANRegressor
from kansr.symbolic.expressions import evaluate, mse
from kansr.symbolic.library import make_library
from kansr.symbolic.structure import sparse_terms
from kansr.symbolic.structure.sparse_terms import joined_term_formulas, sparse_term_formulas

SYMBOLS = list(sympy.symbols("x0:4", real=True))
x0, x1, x2, x3 = SYMBOLS
LIBRARY = make_library()


def _data(truth, ranges, n=500, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in ranges])
    y = sympy.lambdify(SYMBOLS[: X.shape[1]], truth, "numpy")(*X.T)
    return X, y + noise * np.std(y) * rng.standard_normal(n)


def _clean(expr):
    """``expr`` with its floats rounded to 9 digits (rounding-size terms become 0)."""
    return sympy.nsimplify(
        expr.xreplace({a: sympy.Float(round(float(a), 9)) for a in expr.atoms(sympy.Float)})
    )


def test_finds_a_law_of_cosine_under_a_square_root():
    truth = sympy.sqrt(x0**2 + x1**2 - 2 * x0 * x1 * sympy.cos(x2))
    X, y = _data(truth, [(1, 5), (1, 5), (-4, 4)])
    found = sparse_term_formulas(X, y, [0, 1, 2], SYMBOLS, LIBRARY)
    assert found
    assert sympy.simplify(_clean(found[0]) - truth) == 0


def test_finds_a_product_of_a_monomial_and_a_squared_cosine():
    truth = x0 * sympy.cos(x2) + x0 * x1 * sympy.cos(x2) ** 2
    X, y = _data(truth, [(1, 3), (1, 3), (1, 9)])
    found = sparse_term_formulas(X, y, [0, 1, 2], SYMBOLS, LIBRARY)
    assert found
    assert sympy.simplify(_clean(found[0]) - truth) == 0


def test_an_exact_support_drops_its_passengers():
    # a sum reached only with an extra column keeps the column with a zero coefficient
    rng = np.random.default_rng(1)
    design = np.column_stack([np.ones(50), rng.normal(size=(50, 4))])
    target = 2 * design[:, 1] - design[:, 3]
    unit = design - design.mean(0)
    unit /= np.linalg.norm(unit, axis=0).clip(1e-300)
    kept = sparse_terms._pruned(unit, target - target.mean(), [1, 2, 3], 1e-20)
    assert kept == [1, 3]


def test_proposes_nothing_on_noisy_data_or_a_shape_outside_the_terms():
    noisy_X, noisy_y = _data(x0 * sympy.cos(x2) + x1, [(1, 3), (1, 3), (1, 9)], noise=0.01)
    assert sparse_term_formulas(noisy_X, noisy_y, [0, 1, 2], SYMBOLS, LIBRARY) == []
    X, y = _data(sympy.exp(x0 * x1) / (1 + x2), [(0, 1), (0, 1), (0, 1)])
    assert sparse_term_formulas(X, y, [0, 1, 2], SYMBOLS, LIBRARY) == []


def test_proposes_nothing_on_too_few_rows():
    X, y = _data(x0 * sympy.cos(x1), [(1, 3), (1, 3)], n=8)
    assert sparse_term_formulas(X, y, [0, 1], SYMBOLS, LIBRARY) == []


def test_joins_a_product_of_two_variables_inside_a_cosine():
    truth = x0 * (x3 * sympy.cos(x1 * x2) ** 2 + sympy.cos(x1 * x2))
    X, y = _data(truth, [(1, 3)] * 4)
    found = joined_term_formulas(X, y, SYMBOLS, LIBRARY)
    assert found
    assert mse(found[0], X, y) < 1e-12 * np.var(y)
    assert sympy.simplify(_clean(found[0]) - truth) == 0


def test_joins_a_difference_of_two_angles():
    truth = sympy.sqrt(x0**2 + x1**2 - 2 * x0 * x1 * sympy.cos(x2 - x3))
    X, y = _data(truth, [(1, 5)] * 4)
    found = joined_term_formulas(X, y, SYMBOLS, LIBRARY)
    assert found
    assert np.allclose(evaluate(found[0], X), y, rtol=1e-9)


@pytest.mark.parametrize("n_vars", [4, 5])
def test_joins_pairs_among_at_most_four_variables(n_vars):
    # (pairs times kinds grow fast: five variables are left to the network's oracle)
    symbols = list(sympy.symbols(f"x0:{n_vars}", real=True))
    truth = symbols[0] * sympy.cos(symbols[1] * symbols[2]) + symbols[3]
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (400, n_vars))
    y = sympy.lambdify(symbols, truth, "numpy")(*X.T)
    found = joined_term_formulas(X, y, symbols, LIBRARY)
    assert bool(found) == (n_vars == 4)


def test_the_estimator_finds_a_cosine_of_a_product_in_a_sum_of_terms():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(1, 3, (400, 4)), columns=["a", "w", "t", "k"])
    y = X.a * (X.k * np.cos(X.w * X.t) ** 2 + np.cos(X.w * X.t))
    est = KANRegressor(random_state=0, max_iter=100).fit(X, y)
    a, w, t, k = sympy.symbols("a w t k", real=True)
    truth = a * (k * sympy.cos(w * t) ** 2 + sympy.cos(w * t))
    assert sympy.simplify(est.sympy_expr() - truth) == 0


def test_a_potential_comes_back_with_its_factor_outside_the_root():
    # 1/y**2 = 16*pi**2*(d**2 - 2*d*r*cos(a) + r**2): written 1/(4*pi*sqrt(...)), the law's
    # form, not 1/sqrt(16*pi**2*d**2 - 32*pi**2*...), which is its equal only for pi > 0
    truth = 1 / (4 * sympy.pi * sympy.sqrt(x0**2 - 2 * x0 * x1 * sympy.cos(x2) + x1**2))
    X, y = _data(truth, [(1, 5), (1, 5), (-3, 3)])
    found = sparse_term_formulas(X, y, [0, 1, 2], SYMBOLS, LIBRARY)
    assert found
    roots = [p for p in found[0].atoms(sympy.Pow) if p.exp == sympy.Rational(-1, 2)]
    (root,) = [p for p in roots if p.base.free_symbols]
    assert np.isclose(float(found[0] / root), 1 / (4 * np.pi))
    assert sympy.simplify(_clean(root.base) - (x0**2 - 2 * x0 * x1 * sympy.cos(x2) + x1**2)) == 0


def test_joins_an_angle_under_a_rational_function_of_its_cosine():
    # an orbit r = p*(1 - e**2)/(1 + e*cos(theta1 - theta2)): no short sum of terms, a
    # rational function once the joined angle is replaced by its cosine
    truth = x0 * (1 - x1**2) / (x1 * sympy.cos(x2 - x3) + 1)
    X, y = _data(truth, [(1, 3), (2, 4), (4, 5), (4, 5)])
    found = joined_term_formulas(X, y, SYMBOLS, LIBRARY)
    assert found
    assert sympy.simplify(_clean(found[0]) - truth) == 0
