"""Linear refit and pruning of a formula's additive terms (kansr.symbolic.terms)."""

import numpy as np
import sympy

from kansr.symbolic.finish import finish
from kansr.symbolic.terms import prune_terms

x0, x1 = sympy.symbols("x0 x1", real=True)


def _data(n=400, seed=0):
    X = np.random.default_rng(seed).uniform(1, 5, (n, 2))
    return X, X[:, 0] * X[:, 1]


def _network_like():
    # what a sum-of-squares network leaves after a nonlinear refit: x0*x1 plus small terms
    f = sympy.Float
    return (
        f(-4.6e-5) * x0**2
        + f(0.986) * x0 * x1
        - f(0.34) * x0
        + f(0.40) * x1**2
        + f(0.1) * x1
        + f(0.3)
    )


def test_exact_data_leave_only_the_terms_of_the_law():
    X, y = _data()
    expr, loss = prune_terms(_network_like(), X, y, floor=1e-6 * np.var(y))
    coefficient, term = expr.as_coeff_Mul()
    assert term == x0 * x1 and abs(float(coefficient) - 1) < 1e-12 and loss < 1e-20


def test_noisy_data_keep_every_term_that_matters():
    X, _ = _data()
    rng = np.random.default_rng(1)
    y = 2 * X[:, 0] * X[:, 1] + 0.5 * X[:, 1] ** 2 + rng.normal(0, 0.1, len(X))
    expr, _ = prune_terms(_network_like(), X, y, floor=1e-6 * np.var(y))
    kept = {t.as_coeff_Mul()[1] for t in expr.args}
    assert {x0 * x1, x1**2} <= kept  # both real terms stay
    assert len(kept) <= 4  # and most needless ones go


def test_not_a_sum_is_left_alone():
    X, y = _data()
    assert prune_terms(sympy.Float(1.1) * x0 * x1, X, y, floor=0.0) is None
    assert prune_terms(sympy.sin(x0), X, y, floor=0.0) is None


def test_finish_uses_it():
    X, y = _data()
    formula = finish(_network_like(), X, y, refit=False)
    assert sympy.simplify(formula.expr - x0 * x1) == 0 and formula.loss < 1e-20


def test_hundreds_of_negligible_terms_go_at_once():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (2000, 100))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]
    xs = sympy.symbols("x0:100", real=True)
    law = sympy.sin(2 * xs[0]) + xs[1] ** 2 + sympy.Float(0.5) * xs[2]
    noise = sum(sympy.Float(1e-9 * (i % 7 - 3)) * xs[i] for i in range(3, 100))
    expr, loss = prune_terms(law + noise, X, y, floor=1e-6 * np.var(y))
    assert expr.free_symbols == set(xs[:3]) and loss < 1e-20


def test_a_scale_left_spare_by_multiplying_out_is_fixed_and_the_law_snapped():
    # parts read off a network (of Feynman I.32.17's shape): multiplied out and refit term
    # by term they give c*x0*x1*x2**2*x3**2/(a - 2*a*w**2 + a*w**4), w = x5/x4, whose
    # constants have one scale too many; on exact data fixing one of them raises the loss
    # from 1e-30 to 1e-29, rounding
    x = sympy.symbols("x0:6", real=True)
    rng = np.random.default_rng(0)
    ranges = [(1, 2)] * 5 + [(3, 5)]  # epsilon, c, Ef, r, omega, omega_0
    X = np.column_stack([rng.uniform(lo, hi, 1000) for lo, hi in ranges])
    eps, c, ef, r, w, w0 = X.T
    y = 4 * np.pi * ef**2 * c * eps * w**4 * r**2 / (3 * (w**2 - w0**2) ** 2)
    raw = sympy.sympify(
        "0.0330604088447874*x2**2*x3**2"
        "*(-0.000471291723585843"
        " + 0.264417490567614/(0.0563690308304319 - 0.0563869152249568*x5**2/x4**2)**2)"
        "*(1.03607923762731*x1 - 0.000533808172571648)"
        "*(0.536043510457498*(-1.65424268711651*x0 - 0.00752263948323791)**2"
        " - 0.00939167380928286)/x0",
        locals={s.name: s for s in x},
    )
    got = finish(raw, X, y, expand_first=True)
    truth = (
        4 * sympy.pi / 3 * x[0] * x[1] * x[2] ** 2 * x[3] ** 2 / (1 - x[5] ** 2 / x[4] ** 2) ** 2
    )
    assert not got.expr.atoms(sympy.Float), got.expr
    assert sympy.simplify(got.expr - truth) == 0, got.expr


def test_a_product_of_parts_multiplied_out_into_hundreds_of_terms_is_pruned_to_the_law():
    # parts read off a network (Rutherford's shape): five near-squares with tiny offsets
    # times a reciprocal of a squared cosine plus an offset; multiplied out they are 486
    # terms, all but one with a coefficient of rounding size after a refit on exact data
    x = sympy.symbols("x0:6", real=True)
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (1000, 6))
    y = np.prod(X[:, :5] ** 2, axis=1) / (1 - np.cos(X[:, 5])) ** 2
    f = sympy.Float
    expr = f(1e-17) + 1 / (1 - sympy.cos(x[5])) ** 2
    for k in range(5):
        expr *= x[k] ** 2 + f(2e-17) * x[k] + f(3e-17)
    expanded = sympy.expand(expr)
    assert len(expanded.args) > 400
    pruned, loss = prune_terms(expanded, X, y, floor=1e-6 * np.var(y))
    truth = sympy.expand(sympy.prod([s**2 for s in x[:5]]) / (1 - sympy.cos(x[5])) ** 2)
    assert len(sympy.Add.make_args(pruned)) == 1 and loss < 1e-20 * np.var(y), pruned
    coefficient, term = pruned.as_coeff_Mul()
    assert term == truth and abs(float(coefficient) - 1) < 1e-9
    finished = finish(expr, X, y, expand_first=True)  # (refit, multiplied out, pruned, snapped)
    assert not finished.expr.atoms(sympy.Float), finished.expr
    assert sympy.simplify(finished.expr - truth) == 0, finished.expr
