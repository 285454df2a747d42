"""Constant factors out of logarithms (kansr.symbolic.logs) and what finish makes of them."""

import numpy as np
import sympy

from kansr.symbolic.expressions import evaluate
from kansr.symbolic.finish import finish
from kansr.symbolic.logs import constants_out_of_logs

x0, x1, x2 = sympy.symbols("x0:3", real=True)


def _data():
    rng = np.random.default_rng(0)
    return np.column_stack(
        [rng.uniform(0.5, 5, 500), rng.uniform(0.2, 2, 500), rng.uniform(1, 2, 500)]
    )


def test_factors_come_out_and_values_stay():
    X = _data()
    for expr in (
        sympy.log(sympy.Float(0.5) + sympy.Float(1.5) * x0),
        sympy.log(7 * (x0 + x1) / (4 * sympy.pi * x1)),
        x2 * sympy.log(sympy.Float(3.0) * x0**2),
    ):
        out = constants_out_of_logs(expr)
        assert out != expr
        np.testing.assert_allclose(evaluate(out, X), evaluate(expr, X), rtol=1e-12)
        for node in sympy.preorder_traversal(out):  # no number left as a factor inside
            if node.func is sympy.log:
                factor, _ = sympy.factor_terms(node.args[0]).as_independent(x0, x1, x2)
                assert factor == 1


def test_nothing_to_take_out():
    for expr in (sympy.log(x0), sympy.log(1 + x0 / x1), sympy.log(-x0), x0 + 1):
        assert constants_out_of_logs(expr) == expr


def test_a_tiny_shift_beside_a_bare_term_is_left_to_snap():
    # log(x0 + 5e-17) is not log(5e-17) + log(1 + 2e16*x0): that hides the shift in a huge
    # factor that no snapping removes (it came out so after a refit drove the shift to 0)
    X = _data()
    for shift in (sympy.Float(5.4e-17), sympy.Float(-3e-12)):
        expr = sympy.log(x0 + shift) + x1
        assert constants_out_of_logs(expr, X) == expr
    out = constants_out_of_logs(sympy.log(sympy.Float(0.2355) * x0 + sympy.Float(1.28e-17)), X)
    assert out.has(sympy.log(x0 + sympy.Float(1.28e-17) / sympy.Float(0.2355)))


def test_finish_turns_a_hidden_one_over_e_into_the_law():
    # log(1/e + 1/e*u) + 1 is log(1 + u): only with 1/e outside do the constants snap
    X = _data()
    y = X[:, 2] * np.log(1 + X[:, 0] / X[:, 1])
    c = sympy.Float(0.367879444713307)
    raw = x2 * sympy.log(c + sympy.Float(0.36787943976106) * x0 / x1) + x2
    found = finish(raw, X, y)
    assert not found.expr.atoms(sympy.Float)
    np.testing.assert_allclose(evaluate(found.expr, X), y, rtol=1e-12)


def test_finish_finds_the_log_inside_a_log_of_one_plus_a_large_term():
    # log(4.5e8*x + 1) - 19.92 is log(x) to 1e-9: with the factor of the term outside,
    # the tiny 1/4.5e8 and the two logs' difference snap to 0 (x0**(x1/x2) of the data)
    X = _data()
    y = X[:, 0] ** (X[:, 1] / X[:, 2])
    big = sympy.Float(448974536.325661)
    raw = sympy.exp(x1 * (sympy.log(big * x0 + 1) - sympy.Float(19.9224767329549)) / x2)
    found = finish(raw, X, y)
    assert not found.expr.atoms(sympy.Float), found.expr
    np.testing.assert_allclose(evaluate(found.expr, X), y, rtol=1e-9)


def test_finish_takes_the_factor_of_the_term_where_the_constant_beside_it_is_tiny():
    # log(0.225*x0 + 7.75e-6): on data where 7.75e-6 is a 1e-5 shift of 0.225*x0, the
    # factor 0.225 comes out (not 7.75e-6) and the shift snaps to 0
    X = _data()
    y = X[:, 0] ** (X[:, 1] / X[:, 2])
    log = sympy.log(sympy.Float(0.22504926790364) * x0 + sympy.Float(7.75074767660891e-6))
    inner = (sympy.Float(0.854458312703789) * x1 + sympy.Float(1.7658281572519e-6)) * (
        sympy.Float(1.00354507966204) * log + sympy.Float(1.49669687152718)
    )
    found = finish(sympy.exp(inner / x2), X, y)
    assert not found.expr.atoms(sympy.Float), found.expr
    np.testing.assert_allclose(evaluate(found.expr, X), y, rtol=1e-9)
    # without the data the constant term comes out, as before
    out = constants_out_of_logs(log)
    assert out.has(sympy.log(1 + sympy.Float(0.22504926790364 / 7.75074767660891e-6) * x0))
