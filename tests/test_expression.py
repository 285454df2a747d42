"""Tree-walking evaluation of formulas and the joint refit of their constants."""

import numpy as np
import pytest
import sympy
import torch

from kansr.symbolic.expressions import TorchFormula, evaluate, refit_constants, symbol_index

x0, x1 = sympy.symbols("x0 x1", real=True)


def test_evaluate_matches_numpy():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, (50, 2))
    expr = (
        sympy.Float(1.5) * sympy.sin(x0) * x1**2
        + sympy.exp(-x0 / 3)
        + sympy.sqrt(x1)
        - sympy.log(x0) * sympy.atan(x1)
        + sympy.pi * sympy.Abs(x0 - 1)
        + sympy.tanh(x1) / sympy.cos(x0)
    )
    a, b = X.T
    want = (
        1.5 * np.sin(a) * b**2
        + np.exp(-a / 3)
        + np.sqrt(b)
        - np.log(a) * np.arctan(b)
        + np.pi * np.abs(a - 1)
        + np.tanh(b) / np.cos(a)
    )
    np.testing.assert_allclose(evaluate(expr, X), want, rtol=1e-12)


def test_constant_formula_broadcasts():
    assert evaluate(sympy.Float(2.0), np.zeros((4, 3))).tolist() == [2.0] * 4


def test_outside_the_domain_is_nan_without_warnings():
    with np.errstate(all="raise"):
        out = evaluate(sympy.log(x0), np.array([[1.0], [-1.0]]))
    assert out[0] == 0 and np.isnan(out[1])


def test_unknown_operations_and_symbols_are_refused():
    with pytest.raises(ValueError, match="operation"):
        evaluate(sympy.gamma(x0), np.ones((2, 1)))
    with pytest.raises(ValueError, match="not an internal feature symbol"):
        evaluate(sympy.Symbol("os"), np.ones((2, 1)))
    with pytest.raises(ValueError, match="non-real or infinite"):
        evaluate(x0 + sympy.zoo, np.ones((2, 1)))
    assert symbol_index(sympy.Symbol("x12")) == 12


def test_torch_formula_matches_evaluate_and_keeps_rationals_fixed():
    expr = sympy.Float(2.0) * sympy.cos(sympy.Float(0.5) * x0) + x1 ** sympy.Rational(3, 2)
    module = TorchFormula(expr)
    assert len(module.floats) == 2  # the exponent 3/2 is not trainable
    X = np.random.default_rng(1).uniform(0.1, 3, (20, 2))
    out = module(torch.as_tensor(X)).detach().numpy()
    np.testing.assert_allclose(out, evaluate(expr, X), rtol=1e-12)
    assert module.export() == expr


def test_refit_constants_recovers_the_generating_constants():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (300, 2))
    y = 2.5 * np.sin(1.3 * X[:, 0]) + 0.7 * X[:, 1]
    start = sympy.Float(2.0) * sympy.sin(sympy.Float(1.2) * x0) + sympy.Float(0.5) * x1
    fitted, loss = refit_constants(start, X, y)
    assert loss < 1e-12
    values = sorted(float(f) for f in fitted.atoms(sympy.Float))
    np.testing.assert_allclose(values, [0.7, 1.3, 2.5], rtol=1e-6)


def test_refit_never_makes_a_formula_worse():
    X = np.linspace(1, 2, 30)[:, None]
    y = np.log(X[:, 0])
    start = sympy.log(sympy.Float(1.0) * x0)
    fitted, loss = refit_constants(start, X, y)
    assert loss <= 1e-20 and fitted.free_symbols == {x0}


def test_refit_constants_accepts_read_only_arrays_without_warning():
    import warnings

    x = sympy.Symbol("x0")
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(50, 1))
    y = 2.5 * X[:, 0] ** 2
    X.setflags(write=False)
    y.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when it wraps a read-only array
        expr, loss = refit_constants(sympy.Float(2.0) * x**2, X, y)
    assert loss < 1e-20 and abs(float(expr.coeff(x**2)) - 2.5) < 1e-10
