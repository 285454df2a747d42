"""The direct structure search: monomials, separable sums and products, and their mixes."""

import numpy as np
import pandas as pd
import pytest
import sympy

from kansr import KANRegressor
from kansr.symbolic.library import make_library
from kansr.symbolic.structure import search
from kansr.symbolic.structure.search import (
    additive_spline_fit,
    monomial_formula,
    snap_exponent,
    structure_formulas,
)

SYMBOLS = sympy.symbols("x0:4", real=True)
x0, x1, x2, x3 = SYMBOLS


def _exact(candidates, truth, X):
    """Whether some candidate equals ``truth`` up to rounding of its constants."""
    want = sympy.lambdify(SYMBOLS[: X.shape[1]], truth, "numpy")(*X.T)
    for expr, _ in candidates:
        diff = sympy.nsimplify(sympy.expand(expr - truth), tolerance=1e-8, rational=True)
        if diff == 0:
            return True
        got = sympy.lambdify(SYMBOLS[: X.shape[1]], expr, "numpy")(*X.T)
        simple = sympy.count_ops(expr) <= sympy.count_ops(truth) + 2
        if simple and np.allclose(got, want, rtol=1e-9, atol=1e-12):
            return True
    return False


def test_snap_exponent():
    assert snap_exponent(1.98) == 2
    assert snap_exponent(-0.51) == sympy.Rational(-1, 2)
    assert snap_exponent(0.334) == sympy.Rational(1, 3)
    assert isinstance(snap_exponent(0.8), sympy.Float)


def test_monomial_formula_recovers_exponents_and_prefactor():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (400, 3))
    y = -3.0 * X[:, 0] ** 2 * np.sqrt(X[:, 1]) / X[:, 2]
    expr = monomial_formula(X, y, list(SYMBOLS[:3]))
    assert expr.free_symbols == {x0, x1, x2}
    assert sympy.simplify(expr / (x0**2 * sympy.sqrt(x1) / x2)).is_Number
    assert float(expr.subs({x0: 1, x1: 1, x2: 1})) == pytest.approx(-3.0)


def test_monomial_needs_one_signed_data():
    X = np.linspace(-1, 1, 50)[:, None]
    assert monomial_formula(X, X[:, 0] + 2, [x0]) is None


def test_additive_spline_fit_tells_sums_from_products():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, (800, 2))
    _, _, additive = additive_spline_fit(X, np.sin(X[:, 0]) + X[:, 1] ** 2)
    _, _, product = additive_spline_fit(X, np.sin(3 * X[:, 0]) * X[:, 1] ** 2)
    assert additive < 1e-6 < 1e-2 < product


@pytest.mark.parametrize(
    ("truth", "ranges"),
    [
        (x0 * x1 * sympy.sin(x2), [(1, 5), (1, 5), (0, 5)]),  # a sign-changing product
        (x0 * (x1**2 + x2**2) / 2, [(1, 5)] * 3),  # monomial times a sum
        (x0 * (x1 * sympy.cos(x2) + 1), [(1, 5), (1, 5), (0, 5)]),  # monomial times 1 + product
        (1 / (sympy.exp(x0 / x1) - 1), [(1, 5), (1, 5)]),  # a transformed monomial
        (x0 * x1 * (x3 - x2) / 4, [(1, 5)] * 4),
        (sympy.exp(sympy.sin(sympy.pi * x0) + x1**2), [(-1, 1), (-1, 1)]),  # kansr demo
        ((x0 + x1) / (1 + x0 * x1 / x2**2), [(1, 5), (1, 5), (3, 10)]),  # rational
        (x0 * x1 / sympy.sqrt(1 - x1**2 / x2**2), [(1, 5), (1, 2), (3, 10)]),  # monomial*sqrt
        ((1 + x0) ** x1, [(0.05, 0.5), (1, 10)]),  # a product after log y
        (x0 ** (x1 / x2), [(1.5, 3), (0.5, 2), (0.5, 2)]),  # the same, log x0 in its log
        (x2 * (2 - 2 * sympy.cos(x0 * x1)), [(1, 5)] * 3),  # monomial times cos of a product
    ],
)
def test_structure_search_finds_exact_laws(truth, ranges):
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(lo, hi, 600) for lo, hi in ranges])
    y = sympy.lambdify(SYMBOLS[: X.shape[1]], truth, "numpy")(*X.T)
    candidates = structure_formulas(X, y, make_library())
    assert candidates and all(np.isfinite(loss) for _, loss in candidates)
    best = min(loss for _, loss in candidates)
    assert best < 1e-20 * np.var(y) + 1e-28
    assert _exact(candidates, truth, X)


@pytest.mark.parametrize(
    ("truth", "low", "high"),
    [
        (x0 * sympy.exp(-x0), 0.1, 5),  # a power times a library function
        (sympy.sin(x0) / x0, 0.5, 7.5),  # ... of a target that changes sign
        (x0**2 * sympy.log(x0), 0.5, 3),
        (x0**3 / (sympy.exp(x0) - 1), 0.1, 5),  # a power times a transformed monomial
    ],
)
def test_structure_search_finds_a_power_times_a_function_of_one_variable(truth, low, high):
    # the library has no x**k*f(x): these came back as 100-node approximants before
    X = np.random.default_rng(0).uniform(low, high, (600, 1))
    y = sympy.lambdify([x0], truth, "numpy")(X[:, 0])
    candidates = structure_formulas(X, y, make_library())
    assert _exact(candidates, truth, X)


def test_power_times_forms_do_not_crowd_out_an_arrhenius_law_on_few_rows():
    # 14 measured rows of water's vapour pressure (R's MASS::steam, kelvin and kPa):
    # T**k*exp(a*T) for six k fit about as well as C*exp(-E/T) and pushed it out of the
    # candidates that are finished
    T = np.array([273.15, 283.15, 293.15, 303.15, 313.15, 323.15, 333.15, 343.15, 353.15])
    T = np.concatenate([T, [358.15, 363.15, 368.15, 373.15, 378.15]])
    press = [4.14, 8.52, 16.31, 32.18, 64.62, 98.76, 151.13, 224.74, 341.35, 423.36, 522.78]
    press = np.array(press + [674.32, 782.04, 920.01])
    est = KANRegressor(random_state=0).fit(pd.DataFrame({"T": T}), press)
    arrhenius = [
        expr
        for expr in est.equations_["sympy_format"]
        if expr.has(sympy.exp) and any(p.exp == -1 for p in expr.atoms(sympy.Pow))
    ]
    assert arrhenius, est.equations_["equation"].tolist()


def test_estimator_returns_a_power_times_a_function_of_one_variable():
    u = np.random.default_rng(1).uniform(0.1, 5, 400)
    est = KANRegressor(max_iter=20, random_state=0).fit(pd.DataFrame({"u": u}), u * np.exp(-u))
    w = sympy.Symbol("u", real=True)
    assert sympy.simplify(est.sympy_expr() - w * sympy.exp(-w)) == 0


def test_structure_search_gives_no_candidates_for_tiny_or_constant_data():
    lib = make_library()
    assert structure_formulas(np.ones((4, 1)), np.arange(4.0), lib) == []
    assert structure_formulas(np.random.default_rng(0).random((100, 2)), np.ones(100), lib) == []
    # a constant column explains nothing: at most the mean comes back
    found = structure_formulas(np.ones((5, 1)), np.arange(5.0), lib)
    assert all(not expr.free_symbols for expr, _ in found)


def test_structure_search_works_on_small_data():
    # six rows are enough for a two-constant law (splines shrink to the rows available)
    x = np.arange(1.0, 7.0)[:, None]
    found = structure_formulas(x, 2 * x[:, 0] ** 2, make_library())
    x0 = sympy.Symbol("x0", real=True)
    assert any(sympy.simplify(expr - 2 * x0**2) == 0 and loss < 1e-20 for expr, loss in found)


def test_estimator_returns_the_exact_law_and_predicts_with_it():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.uniform(1, 4, (500, 3)), columns=["q", "v", "r"])
    y = 3 * X["q"] * X["v"] ** 2 / X["r"]
    est = KANRegressor(max_iter=20, random_state=0).fit(X, y)
    q, v, r = sympy.symbols("q v r", real=True)
    assert sympy.simplify(est.sympy_expr() - 3 * q * v**2 / r) == 0
    X_new = pd.DataFrame(rng.uniform(1, 4, (50, 3)), columns=["q", "v", "r"])
    want = 3 * X_new["q"] * X_new["v"] ** 2 / X_new["r"]
    np.testing.assert_allclose(est.predict(X_new), want, rtol=1e-10)
    # the network is still there, and is only an approximation
    network = est.predict_network(X_new)
    assert not np.allclose(network, want, rtol=1e-10)
    assert 1 - np.mean((network - want) ** 2) / np.var(want) > 0.99


def test_predict_falls_back_to_the_network_outside_the_formula_domain():
    rng = np.random.default_rng(5)
    X = rng.uniform(1, 4, (400, 1))
    y = np.log(X[:, 0])
    est = KANRegressor(max_iter=20, random_state=0).fit(X, y)
    assert est.sympy_expr().has(sympy.log)
    with pytest.warns(RuntimeWarning, match="not finite"):
        out = est.predict(np.array([[2.0], [-1.0]]))
    assert np.all(np.isfinite(out))
    assert out[0] == pytest.approx(np.log(2.0), rel=1e-9)


def test_arrhenius_on_fourteen_noisy_rows_is_found_as_exp_of_a_rational():
    # vapour pressure, Clausius-Clapeyron: p = A exp(-B / T); log p is rational in T
    import sympy

    from kansr.symbolic.library import make_library
    from kansr.symbolic.structure.search import structure_formulas

    rng = np.random.default_rng(0)
    T = np.linspace(273.0, 373.0, 14)[:, None]
    p = 8.06e8 * np.exp(-5169.0 / T[:, 0]) * (1 + rng.normal(0, 0.01, 14))
    found = structure_formulas(T, p, make_library())
    x = sympy.Symbol("x0", real=True)
    a, b = sympy.Wild("a", exclude=[x]), sympy.Wild("b", exclude=[x])
    matches = [e for e, _ in found if e.match(a * sympy.exp(b / x))]
    assert matches, [e for e, _ in found]
    best = min(found, key=lambda t: t[1])[1]
    assert min(loss for e, loss in found if e in matches) <= 1.5 * best


def test_approximants_of_a_transformed_target_do_not_crowd_out_a_power_law():
    # 17 noisy rows of a power law (Forbes' boiling points): the sums of sqrt(y), log(y) ...
    # give many accurate approximants; the monomial must still be among those finished
    rs = np.random.default_rng(0)
    x = np.sort(rs.uniform(194, 212, 17))
    y = 5.0568e-9 * x**4.2 * (1 + 0.004 * rs.standard_normal(17))
    found = structure_formulas(x[:, None], y, make_library())
    x0 = SYMBOLS[0]
    monomials = [e for e, _ in found if e.as_coeff_Mul()[1].as_base_exp()[0] == x0]
    assert monomials, [e for e, _ in found]


@pytest.mark.parametrize(
    ("truth", "low", "high"),
    [
        (sympy.asin(x0 / (x1 * x2)), [1, 2, 2], [2, 5, 5]),  # an angle from a ratio
        (sympy.asin(x0 * sympy.sin(x1)), [0, 1], [1, 5]),  # Snell: sin of it changes sign
        (sympy.acos(x0 * x1 / x2), [0.2, 0.5, 2], [1, 2, 4]),
    ],
)
def test_structure_search_finds_an_inverse_sine_or_cosine_of_a_form(truth, low, high):
    # the target on the principal branch of sin (cos): sin(y) is a monomial or a product,
    # and y its inverse sine; these came back as rational approximants
    X = np.random.default_rng(0).uniform(low, high, (600, len(low)))
    y = sympy.lambdify(SYMBOLS[: len(low)], truth, "numpy")(*X.T)
    assert _exact(structure_formulas(X, y, make_library()), truth, X)


def test_an_inverse_sine_is_not_proposed_off_its_branch():
    # y = 2 + x0*x1 is not on the branch of sin: no asin among the candidates
    X = np.random.default_rng(0).uniform(1, 2, (300, 2))
    found = structure_formulas(X, 2 + X[:, 0] * X[:, 1], make_library())
    assert found and not any(e.has(sympy.asin, sympy.acos) for e, _ in found)


def test_the_simplest_laws_are_finished_beside_the_most_accurate_approximants():
    # a curve with many accurate approximants: by error alone its simple law is left out
    # (17 rows of boiling points: exp(a + b*bp) was 15th by error, behind rationals and sines)
    bp = np.linspace(194.0, 212.0, 17)
    X = bp[:, None]
    law = sympy.Float(0.39) * sympy.exp(sympy.Float(0.0205) * x0)
    y = search.evaluate(law + sympy.sin(x0) / 5, X)
    approximants = [law + sympy.Float(a) * sympy.sin(x0) for a in np.linspace(0.12, 0.28, 14)]
    raw = [law, *approximants]
    errors = [search.mse(e, X, y) for e in raw]
    assert all(e < errors[0] for e in errors[1:])
    by_error = search._most_promising(raw, X, y, None, 12)
    assert law not in by_error
    assert search._most_promising(raw, X, y, None, 12, simplest_sizes=4) == [*by_error, law]
