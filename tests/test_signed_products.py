"""Products of signed powers times one function (kansr.symbolic.structure.signed)."""

import numpy as np
import sympy

from kansr.symbolic.library import make_library
from kansr.symbolic.structure.search import structure_formulas
from kansr.symbolic.structure.signed import signed_product_formulas

SYMBOLS = list(sympy.symbols("x0:3", real=True))
x0, x1, x2 = SYMBOLS


def _signed_decades(rng, n, low, high):
    """``n`` values log-uniform in ``[low, high]`` with a random sign (SRSD's sampling)."""
    return rng.choice([-1.0, 1.0], n) * np.exp(rng.uniform(np.log(low), np.log(high), n))


def _data(seed=0, n=1000):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            _signed_decades(rng, n, 1e-25, 1e-23),
            _signed_decades(rng, n, 1e-3, 1e-1),
            rng.uniform(0, 2 * np.pi, n),
        ]
    )
    return X


def _relative_error(expr, X, y):
    pred = sympy.lambdify(SYMBOLS, expr, "numpy")(*X.T)
    pred = np.broadcast_to(np.asarray(pred, dtype=float), y.shape)
    return float(np.sqrt(np.mean((pred - y) ** 2) / np.mean(y**2)))


def test_a_product_of_signed_variables_over_decades_times_a_cosine_is_proposed():
    X = _data()
    y = -X[:, 0] * X[:, 1] * np.cos(X[:, 2])
    raw = signed_product_formulas(X, y, SYMBOLS, make_library())
    best = min(raw, key=lambda e: _relative_error(e, X, y))
    assert _relative_error(best, X, y) < 1e-6
    assert best.free_symbols == {x0, x1, x2} and best.has(sympy.cos, sympy.sin)


def test_a_signed_monomial_is_proposed_without_a_function():
    X = _data(1)
    y = 3.0 * X[:, 0] ** 2 / X[:, 1]
    raw = signed_product_formulas(X, y, SYMBOLS, make_library())
    assert any(_relative_error(e, X, y) < 1e-9 and not e.has(sympy.cos) for e in raw)


def test_exponents_that_are_not_integers_propose_nothing_for_signed_variables():
    X = _data(2)
    y = np.abs(X[:, 0]) ** 1.37 * np.abs(X[:, 1]) ** 0.71
    raw = signed_product_formulas(X, y, SYMBOLS, make_library())
    assert all(_relative_error(e, X, y) > 1e-3 for e in raw)


def test_the_structure_search_finds_the_law_of_signed_variables_over_decades():
    """Before: the spline fit of log|y| in x over decades on both sides of 0 missed it and
    the search returned approximants (SRSD's II.15.4, ``-B*mom*cos(theta)``)."""
    X = _data(3)
    y = -X[:, 0] * X[:, 1] * np.cos(X[:, 2])
    found = structure_formulas(X, y, make_library())
    exact = [e for e, _ in found if _relative_error(e, X, y) < 1e-9]
    assert exact and min(sympy.count_ops(e) for e in exact) <= 6
