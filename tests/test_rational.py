"""Rational-function fits (kansr.symbolic.structure.rational): exact laws in one SVD, noisy
data by BIC."""

from math import comb

import numpy as np
import pytest
import sympy

from kansr.symbolic.expressions import complexity, evaluate, mse
from kansr.symbolic.structure.rational import monomial_exponents, rational_formulas

SYMBOLS = list(sympy.symbols("x0:4", real=True))


def _data(n_vars: int, low=1.0, high=5.0, n=400, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=(n, n_vars))


@pytest.mark.parametrize("n_vars,degree", [(1, 3), (3, 2), (4, 4)])
def test_monomial_exponents_counts_and_order(n_vars, degree):
    exps = monomial_exponents(n_vars, degree)
    assert len(exps) == comb(n_vars + degree, degree)
    assert len(set(exps)) == len(exps)
    assert exps[0] == (0,) * n_vars
    degrees = [sum(e) for e in exps]
    assert degrees == sorted(degrees)
    # lower degrees are a prefix: one design matrix serves every degree pair
    assert monomial_exponents(n_vars, degree - 1) == exps[: comb(n_vars + degree - 1, n_vars)]


def test_velocity_addition_is_recovered_exactly():
    X = _data(3)
    u, v, c = X.T
    y = (u + v) / (1 + u * v / c**2)
    found, exact = rational_formulas(X, y, SYMBOLS[:3])
    assert exact and len(found) == 1
    x0, x1, x2 = SYMBOLS[:3]
    truth = (x0 + x1) / (1 + x0 * x1 / x2**2)
    assert sympy.simplify(sympy.nsimplify(found[0], rational=True) - truth) == 0


def test_polynomial_is_found_without_denominator_terms():
    X = _data(2)
    y = 3 * X[:, 0] - 2 * X[:, 0] * X[:, 1] - X[:, 0] ** 2  # Lotka-Volterra rate
    found, exact = rational_formulas(X, y, SYMBOLS[:2])
    assert exact
    expr = sympy.nsimplify(found[0], rational=True)
    x0, x1 = SYMBOLS[:2]
    assert sympy.expand(expr - (3 * x0 - 2 * x0 * x1 - x0**2)) == 0


def test_square_root_of_a_rational_function():
    X = _data(2, 1.0, 2.0)
    v, c = X[:, 0], 3 * X[:, 1]
    X = np.column_stack([v, c])
    y = 1 / np.sqrt(1 - v**2 / c**2)
    found, exact = rational_formulas(X, y, SYMBOLS[:2])
    assert exact
    halves = (sympy.S.Half, -sympy.S.Half)
    assert any(p.exp in halves for p in found[0].atoms(sympy.Pow))  # a square root
    assert mse(found[0], X, y) < 1e-20 * np.var(y)
    # without the squared target there is no exact rational form
    _, exact_plain = rational_formulas(X, y, SYMBOLS[:2], squared=False, max_noisy_degree=0)
    assert not exact_plain


def test_noisy_data_gives_accurate_candidates_not_exact():
    X = _data(2, n=600, seed=1)
    clean = X[:, 0] * X[:, 1] / (X[:, 0] + X[:, 1])
    rng = np.random.default_rng(2)
    y = clean + rng.normal(0, 0.01 * np.std(clean), size=len(clean))
    found, exact = rational_formulas(X, y, SYMBOLS[:2])
    # two thresholded and one reweighted fit of P/Q and of sqrt(P/Q) each at most
    assert not exact and 1 <= len(found) <= 6
    best = min(mse(e, X, y) for e in found)
    assert best < 5e-3 * np.var(y)  # noise is 1e-4 of the variance
    assert all(np.all(np.isfinite(evaluate(e, X))) for e in found)


def test_noisy_michaelis_menten_on_twelve_rows_is_a_candidate_with_two_constants():
    # Treloar's treated Puromycin rows (R's datasets::Puromycin): the square root's fits rank
    # ahead on their linearised error; a plain P/Q must stay, with an exact 1 in Q, on the
    # variable's term (a*x/(x + b): no coefficient node, as many constants as a*x/(b*x + 1))
    import sympy

    conc = np.repeat([0.02, 0.06, 0.11, 0.22, 0.56, 1.10], 2)[:, None]
    rate = np.array([76, 47, 97, 107, 123, 139, 159, 152, 191, 201, 207, 200], float)
    found, exact = rational_formulas(conc, rate, SYMBOLS[:1])
    x = SYMBOLS[0]
    a, b = sympy.Wild("a", exclude=[x]), sympy.Wild("b", exclude=[x])
    assert not exact
    michaelis = [e for e in found if e.match(a * x / (x + b))]
    assert michaelis, found
    assert all(len(e.atoms(sympy.Float)) == 2 for e in michaelis)
    assert min(complexity(e) for e in michaelis) == 8


def test_non_rational_target_is_never_called_exact():
    X = _data(2, 0.0, 2.0)
    y = np.exp(X[:, 0]) + np.sin(3 * X[:, 1])
    _, exact = rational_formulas(X, y, SYMBOLS[:2])
    assert not exact


def test_degenerate_inputs_give_nothing():
    X = _data(2)
    assert rational_formulas(X, np.full(len(X), 2.0), SYMBOLS[:2]) == ([], False)
    y = X[:, 0].copy()
    y[3] = np.nan
    assert rational_formulas(X, y, SYMBOLS[:2]) == ([], False)
    assert rational_formulas(X[:, :0], X[:, 0], []) == ([], False)


@pytest.mark.parametrize(
    "law,ranges",
    [
        ("u**5 - 2*u**3 + u", [(-1.5, 1.5)]),
        ("z**7/8 - z**3 + 2*z", [(-2.0, 2.0)]),
        ("0.37*u**5 + 2.1*u", [(1.0, 3.0)]),
        ("a**2*b**3 + a**5/5 - b", [(-2.0, 2.0), (-1.5, 1.5)]),
    ],
)
def test_sparse_polynomials_beyond_the_rational_degrees_are_exact(law, ranges):
    truth = sympy.sympify(law)
    names = sorted(truth.free_symbols, key=str)
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(lo, hi, 500) for lo, hi in ranges])
    y = sympy.lambdify(names, truth)(*X.T)
    found, exact = rational_formulas(X, y, SYMBOLS[: len(names)])
    assert exact and len(found) == 1
    internal = truth.xreplace(dict(zip(names, SYMBOLS, strict=False)))
    assert sympy.expand(sympy.nsimplify(found[0], tolerance=1e-9, rational=True) - internal) == 0


def test_smooth_function_on_a_narrow_range_is_no_high_degree_polynomial():
    # sin on [0, 0.5]: its odd Taylor polynomial of degree 7 fits to 1e-10 of std(y) and is
    # sparse, but its residual is far above the rounding of its terms
    X = _data(1, 0.0, 0.5, n=1000)
    y = np.sin(X[:, 0])
    found, _ = rational_formulas(X, y, SYMBOLS[:1])
    for expr in found:
        numerator, denominator = sympy.fraction(sympy.together(expr))
        assert sympy.Poly(numerator, SYMBOLS[0]).degree() <= 4


def test_noisy_centre_of_mass_is_a_candidate_with_its_four_terms():
    # at 1 % noise the thresholded null vector of [M_P, -y M_Q] is biased towards a constant
    # denominator (its candidates were polynomials); reweighting by 1/|Q| and Gauss-Newton
    # steps give the least-squares fit, whose support is the law's
    X = _data(4, n=1000)
    m1, m2, r1, r2 = X.T
    y = (m1 * r1 + m2 * r2) / (m1 + m2)
    y = y + 0.01 * np.sqrt(np.mean(y**2)) * np.random.default_rng(1).normal(size=y.size)
    found, exact = rational_formulas(X, y, SYMBOLS)
    assert not exact
    x0, x1, x2, x3 = SYMBOLS
    supports = []
    for expr in found:
        numerator, denominator = sympy.fraction(sympy.together(expr))
        supports.append(
            (
                {t.as_coeff_Mul()[1] for t in sympy.Add.make_args(numerator)},
                {t.as_coeff_Mul()[1] for t in sympy.Add.make_args(denominator)},
            )
        )
    assert ({x0 * x2, x1 * x3}, {x0, x1}) in supports


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy warnings stay inside
def test_overflowing_reweighted_fits_do_not_stop_the_search():
    # 19 rows of a dose-response curve (R's drc::ryegrass, the benchmark's first training
    # fold): a reweighted fit near a pole overflowed and LAPACK's failure ended the whole
    # structure search (only the mean was left on the front)
    conc = np.array([0, 0, 0, 0, 0, 0, 0.94, 0.94, 0.94, 1.88, 3.75, 3.75, 7.5, 7.5, 7.5,
                     15, 15, 30, 30], float)[:, None]  # fmt: skip
    y = np.array([7.58, 8.0, 8.3286, 7.25, 7.375, 7.9625, 8.3556, 6.9143, 7.75, 6.8714,
                  1.925, 2.8857, 1.1875, 0.8571, 1.0571, 0.6875, 0.525, 0.25, 0.44])  # fmt: skip
    found, exact = rational_formulas(conc, y, SYMBOLS[:1])
    assert not exact and found


def test_an_exact_fit_drops_the_terms_its_rounding_kept(monkeypatch):
    """The Gram matrix's null vector (accurate to about 1e-8) is thresholded at 1e-6 before the
    exact re-solve, so whether a term that should be 0 survives depends on rounding, e.g. on
    the number of BLAS threads (test_4 of Feynman came back with 60 coefficients of 1e-14
    on two threads). Keeping every term, the exact re-solve must still drop them."""
    from kansr.symbolic.structure import rational

    keep_all = rational._sparse_null_vector
    monkeypatch.setattr(
        rational, "_sparse_null_vector", lambda gram, threshold, max_rounds=5: keep_all(gram, 0.0)
    )
    X = _data(3, 1.0, 3.0, n=500, seed=3)
    a, b, c = X.T
    y = (2 * a * b - c**2) / (a * b)  # 2 - c**2/(a*b)
    found, exact = rational_formulas(X, y, SYMBOLS[:3], squared=False)
    assert exact
    assert len(found[0].atoms(sympy.Float)) <= 2
    assert mse(found[0], X, y) < 1e-20 * np.var(y)
