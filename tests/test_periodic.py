"""The periodogram search for oscillations in a product of variables."""

import numpy as np
import sympy

from kansr.symbolic.expressions import mse
from kansr.symbolic.structure.periodic import periodic_formulas

SYMBOLS = list(sympy.symbols("x0:4", real=True))
x0, x1, x2, x3 = SYMBOLS


def _data(truth, ranges, n=600, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in ranges])
    y = sympy.lambdify(SYMBOLS[: X.shape[1]], truth, "numpy")(*X.T)
    return X, y + noise * np.std(y) * rng.standard_normal(n)


def _argument(expr):
    """The argument of the cos of ``expr`` with its float rounded to 6 digits."""
    (arg,) = {f.args[0] for f in expr.atoms(sympy.cos)}
    return arg.xreplace({a: sympy.Float(round(float(a), 6), 6) for a in arg.atoms(sympy.Float)})


def test_finds_the_frequency_and_monomial_of_a_cosine_of_a_product():
    X, y = _data(2 - 2 * sympy.cos(x0 * x1), [(1, 5), (1, 5), (1, 5)])
    found = periodic_formulas(X, y, [0, 1, 2], SYMBOLS)
    assert found
    best = found[0]
    assert mse(best, X, y) < 1e-12 * np.var(y)
    assert sympy.simplify(_argument(best) - 1.0 * x0 * x1) == 0


def test_finds_an_oscillation_whose_monomial_spans_1e21():
    # SRSD-like scales: the grid's frequencies are 1e-21, below the old fixed lower bound of
    # the refinement (1e-12), which raised and skipped the whole structure search
    k = 2 * np.pi * 3 / 8e20  # three periods over the span of x0*x1
    X, y = _data(2 - 2 * sympy.cos(k * x0 * x1), [(1e10, 3e10), (1e10, 3e10), (1, 5)])
    found = periodic_formulas(X, y, [0, 1, 2], SYMBOLS)
    assert found and mse(found[0], X, y) < 1e-12 * np.var(y)
    (arg,) = {f.args[0] for f in found[0].atoms(sympy.cos)}
    assert sympy.simplify(arg / (x0 * x1)).is_number
    np.testing.assert_allclose(float(arg / (x0 * x1)), k, rtol=1e-6)


def test_finds_a_squared_sine_of_a_quotient_of_three_variables():
    X, y = _data(sympy.sin(x0 * x1 / x2) ** 2, [(1, 2), (1, 2), (1, 2)])
    found = periodic_formulas(X, y, [0, 1, 2], SYMBOLS)
    assert found and mse(found[0], X, y) < 1e-12 * np.var(y)
    arg = _argument(found[0])
    assert sympy.simplify(arg - 2.0 * x0 * x1 / x2) == 0  # sin(u)**2 = (1 - cos(2u))/2


def test_tolerates_noise():
    X, y = _data(sympy.cos(3 * x0 / x1) * 4 + 1, [(1, 5), (1, 2)], n=1000, noise=0.05)
    found = periodic_formulas(X, y, [0, 1], SYMBOLS)
    assert found
    assert abs(float(_argument(found[0]).subs({x0: 1, x1: 1})) - 3) < 0.01


def test_no_candidate_for_smooth_laws_small_data_or_one_variable():
    X, y = _data(x0 * x1 + x2**2, [(1, 5), (1, 5), (1, 5)])
    assert periodic_formulas(X, y, [0, 1, 2], SYMBOLS) == []
    X, y = _data(sympy.cos(x0 * x1), [(1, 5), (1, 5)], n=60)
    assert periodic_formulas(X, y, [0, 1], SYMBOLS) == []  # too few rows for a frequency
    X, y = _data(sympy.cos(x0 * x1), [(1, 5), (1, 5)])
    assert periodic_formulas(X, y, [0], SYMBOLS) == []
    assert periodic_formulas(X, np.ones(len(y)), [0, 1], SYMBOLS) == []
