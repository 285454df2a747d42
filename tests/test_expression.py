"""Tree-walking evaluation of formulas and the joint refit of their constants."""

import numpy as np
import pytest
import sympy
import torch

from kansr.symbolic.canonical import EvaluationBudget, EvaluationLimits, canonical
from kansr.symbolic.expressions import TorchFormula, evaluate, refit_constants, symbol_index
from kansr.symbolic.operations import OPERATIONS, operation

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


def test_row_jacobian_is_the_exact_derivative_by_each_constant():
    a, b, c = sympy.Float(1.5), sympy.Float(-0.7), sympy.Float(0.25)
    expr = a * sympy.exp(b * x0) + c * x1
    module = TorchFormula(expr)
    X = np.random.default_rng(2).uniform(0.1, 3, (50, 2))
    values, jac = (t.numpy() for t in module.row_jacobian(torch.as_tensor(X)))
    np.testing.assert_allclose(values, evaluate(expr, X), rtol=1e-12)
    by = {  # analytic derivatives, in the module's order of constants
        a: np.exp(-0.7 * X[:, 0]),
        b: 1.5 * X[:, 0] * np.exp(-0.7 * X[:, 0]),
        c: X[:, 1],
    }
    expected = np.column_stack([by[f] for f in module.floats])
    np.testing.assert_allclose(jac, expected, rtol=1e-12)
    assert module.constants.grad is None  # the module's own constants are untouched


def test_row_jacobian_of_a_formula_without_variables_is_one_per_row():
    module = TorchFormula(sympy.Float(3.5))
    values, jac = module.row_jacobian(torch.zeros(4, 2, dtype=torch.float64))
    assert values.tolist() == [3.5] * 4
    assert jac.tolist() == [[1.0]] * 4


def test_refit_constants_recovers_the_generating_constants():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (300, 2))
    y = 2.5 * np.sin(1.3 * X[:, 0]) + 0.7 * X[:, 1]
    start = sympy.Float(2.0) * sympy.sin(sympy.Float(1.2) * x0) + sympy.Float(0.5) * x1
    fitted, loss = refit_constants(start, X, y)
    assert loss < 1e-12
    values = sorted(float(f) for f in fitted.atoms(sympy.Float))
    np.testing.assert_allclose(values, [0.7, 1.3, 2.5], rtol=1e-6)


def test_refit_constants_settles_a_sum_of_exponentials_in_few_steps():
    # least squares with the exact Jacobian: 10 LBFGS steps leave a loss near 1e-3 here
    X = np.linspace(0, 5, 200)[:, None]
    y = 3.0 * np.exp(-0.4 * X[:, 0]) + 1.5 * np.exp(-2.5 * X[:, 0])
    F = sympy.Float
    start = F(2.0) * sympy.exp(F(-0.3) * x0) + F(2.2) * sympy.exp(F(-1.5) * x0)
    fitted, loss = refit_constants(start, X, y, n_iter=10)
    assert loss < 1e-20
    values = sorted(float(f) for f in fitted.atoms(sympy.Float))
    np.testing.assert_allclose(values, [-2.5, -0.4, 1.5, 3.0], rtol=1e-8)


def test_refit_constants_weights_the_rows():
    X = np.linspace(0, 5, 200)[:, None]
    y = 3.0 * np.exp(-0.4 * X[:, 0])
    y[100:] += 1.0  # weighted out: not fitted
    weights = np.r_[np.full(100, 2.0), np.zeros(100)]
    start = sympy.Float(2.0) * sympy.exp(sympy.Float(-0.3) * x0)
    fitted, loss = refit_constants(start, X, y, sample_weight=weights)
    assert loss < 1e-20
    np.testing.assert_allclose(sorted(float(f) for f in fitted.atoms(sympy.Float)), [-0.4, 3])


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


# ------------------------------------------------------------------ the registry of operations
def test_every_registered_operation_evaluates_by_its_numpy_and_torch_forms():
    X = np.random.default_rng(3).uniform(0.1, 0.9, (25, 1))  # inside every domain
    assert len(OPERATIONS) == len({op.sympy_cls for op in OPERATIONS.values()})
    for name, op in OPERATIONS.items():
        assert op.name == name and operation(op.sympy_cls) is op
        expr = op.sympy_cls(sympy.Float(0.5) * x0)
        want = op.numpy_fn(0.5 * X[:, 0])
        np.testing.assert_allclose(evaluate(expr, X), want, rtol=1e-12, err_msg=name)
        out = TorchFormula(expr)(torch.as_tensor(X)).detach().numpy()
        np.testing.assert_allclose(out, op.torch_fn(torch.as_tensor(0.5 * X[:, 0])), rtol=1e-12)
        np.testing.assert_allclose(out, want, rtol=1e-12, err_msg=name)
    assert operation(sympy.gamma) is None


def test_a_function_outside_the_registry_is_refused_by_both_evaluators():
    with pytest.raises(ValueError, match="operation"):
        TorchFormula(sympy.erf(x0))(torch.ones(3, 1))


# ------------------------------------------------------------------ canonical (safe evaluation)
def test_canonical_is_sympys_evaluation():
    unevaluated = sympy.Mul(2, sympy.Add(x0, x1, evaluate=False), evaluate=False)
    assert canonical(unevaluated) == 2 * x0 + 2 * x1
    collapsing = sympy.Pow(sympy.Add(3, sympy.Mul(0, x0, evaluate=False), evaluate=False), 2)
    assert canonical(sympy.Pow(collapsing, 1, evaluate=False)) == 9
    # evaluated trees (all kansr builds) come back equal, floats bit for bit
    expr = sympy.Float(0.1234) * sympy.exp(-(x0**2)) + sympy.Rational(-2, 3) * sympy.pi * x1
    expr += sympy.sqrt(sympy.Float(2.5) + x1**2) + sympy.log(sympy.Abs(x0) + 1) / 7
    back = canonical(expr)
    assert back == expr and sympy.srepr(back) == sympy.srepr(expr)


def _collapse(value):
    """``value + 0*x0``, unevaluated: sympy computes ``value`` once the tree is rebuilt."""
    zero = sympy.Mul(0, x0, evaluate=False)
    return sympy.Add(value, zero, evaluate=False)


def _pow(base, exponent):
    return sympy.Pow(base, exponent, evaluate=False)


_BIG = 10**998 + 7


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (_pow(_collapse(3), 10**8), "an exponent would reach 100000000"),
        (_pow(_collapse(2), sympy.Rational(10**60 + 1, 3)), "digits of an exponent"),
        (_pow(_pow(_collapse(3), 1000), 1000), "digits of a power"),
        (_pow(_pow(x0, 1000), 1000), "an exponent would reach 1000000"),
        (
            sympy.Mul(
                *[sympy.Rational(_BIG + 2 * i, _BIG + 2 * i + 1) for i in range(30)],
                x0,
                evaluate=False,
            ),
            "digits of a product",
        ),
        (
            sympy.exp(sympy.Mul(10**8, sympy.log(_collapse(3)), evaluate=False), evaluate=False),
            "an exponent",
        ),
        (_pow(_collapse(sympy.Rational(_BIG, _BIG + 2)), sympy.Rational(1, 2)), "under a root"),
        (
            sympy.cosh(_collapse(sympy.Float((0, 1, 5000), 53)), evaluate=False),
            "magnitude",
        ),
        (
            sympy.exp(sympy.exp(sympy.exp(_collapse(100), evaluate=False), evaluate=False)),
            "magnitude",
        ),
        (_collapse(sympy.Float((0, 3, 0), 1024)), "precision"),
    ],
)
def test_canonical_refuses_steps_that_compute_huge_numbers(expr, message):
    with pytest.raises(ValueError, match=message):
        canonical(expr)


def test_canonical_spends_a_budget_over_many_formulas():
    budget = EvaluationBudget(EvaluationLimits(root_digits=30), root_digits=50)
    root = _pow(_collapse(sympy.Integer(10**25 + 13)), sympy.Rational(1, 2))
    canonical(root, budget)  # 26 digits under a root
    with pytest.raises(ValueError, match="root digits"):
        canonical(root, budget)  # 52 in all
    with pytest.raises(ValueError, match="an exponent would reach 5"):
        canonical(_pow(x0, 5), EvaluationBudget(EvaluationLimits(exponent=4)))
