"""The symbolic stage of KANRegressor: equations_, sympy_expr, latex, selection."""

import numpy as np
import pandas as pd
import pytest
import sympy

from kansr import KANRegressor
from kansr.symbolic.expressions import complexity
from kansr.symbolic.names import EquationTable
from kansr.symbolic.pareto import Formula, pareto_table, select
from kansr.symbolic.snap import snap_constant


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, (600, 2)), columns=["speed", "mass"])
    y = np.sin(X["speed"]) + X["mass"] ** 2
    est = KANRegressor(max_iter=40, sparsity=1e-3, random_state=0).fit(X, y)
    return est, X, y


def test_equations_table_and_formula_in_feature_names(fitted):
    est, X, y = fitted
    table = est.equations_
    assert {"complexity", "loss", "score", "sympy_format", "latex"} <= set(table.columns)
    assert table["complexity"].is_monotonic_increasing
    assert np.all(np.diff(table["loss"]) < 0)  # a Pareto front: more complex, more accurate
    expr = est.sympy_expr()
    assert {s.name for s in expr.free_symbols} <= {"speed", "mass"}
    assert "mass" in est.latex()
    assert all(expr.atoms(sympy.Float)) and all(
        np.isfinite(float(a)) for a in expr.atoms(sympy.Float)
    )
    speed, mass = sympy.symbols("speed mass", real=True)
    fn = sympy.lambdify((speed, mass), expr, "numpy")
    pred = fn(X["speed"].to_numpy(), X["mass"].to_numpy())
    assert 1 - np.mean((pred - y) ** 2) / np.var(y) > 0.999


def test_equations_show_every_formula_in_the_feature_names(fitted):
    est, X, _ = fitted
    table = est.equations_
    columns = list(table.columns)
    assert columns.index("equation") < columns.index("sympy_format")
    speed, mass = sympy.symbols("speed mass")
    for i in range(len(table)):
        # text and LaTeX in the column names, as formula_text and latex give them
        assert table["equation"].iloc[i] == est.formula_text(i)
        assert table["latex"].iloc[i] == est.latex(i)
        assert sympy.parse_expr(table["equation"].iloc[i]).free_symbols <= {speed, mass}
        # sympy_format stays in the internal symbols (column i of X is x<i>)
        internal = table["sympy_format"].iloc[i]
        assert {s.name for s in internal.free_symbols} <= {"x0", "x1"}
        x0, x1, s, m = sympy.symbols("x0 x1 speed mass", real=True)
        assert internal.xreplace({x0: s, x1: m}) == est.sympy_expr(i)
    # printed as an EquationTable, every formula shows in full, one per line
    text = str(EquationTable(table))
    for i, equation in enumerate(table["equation"]):
        assert text.splitlines()[i + 1].endswith(equation)
    assert "rows x" not in text


def test_symbolic_false_has_no_formulas():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (100, 2))
    est = KANRegressor(max_iter=5, symbolic=False, random_state=0).fit(X, X[:, 0])
    assert est.equations_ is None
    with pytest.raises(ValueError, match="symbolic=False"):
        est.sympy_expr()


def test_constant_target_formula_is_the_constant():
    X = np.random.default_rng(2).uniform(-1, 1, (50, 2))
    est = KANRegressor(max_iter=5, random_state=0).fit(X, np.full(50, 3.5))
    assert float(est.sympy_expr()) == pytest.approx(3.5)


def test_pareto_front_and_selection_rules():
    x = sympy.Symbol("x0", real=True)
    formulas = [
        Formula(sympy.Integer(1), 1, 1.0),
        Formula(x, 1, 0.5),  # same complexity, better: replaces the constant
        Formula(x**2, 3, 0.01),
        Formula(x**2 + x, 5, 0.02),  # worse than a simpler one: not on the front
        Formula(x**2 + sympy.sin(x), 9, 0.009),
    ]
    table = pareto_table(formulas)
    assert list(table["complexity"]) == [1, 3, 9]
    assert select(table, "accuracy") == 2
    assert select(table, "best") == 1  # big gain from 1 to 3, tiny from 3 to 9
    with pytest.raises(ValueError, match="model_selection"):
        select(table, "fastest")


def test_snapping_and_complexity():
    assert snap_constant(0.50004) == sympy.Rational(1, 2)
    assert snap_constant(3.14159) == sympy.pi
    assert snap_constant(2.0 / 3.0 + 1e-5) == sympy.Rational(2, 3)
    assert snap_constant(0.123456) is None
    # constants of physics formulas
    assert snap_constant(np.pi**2 * (1 + 1e-5)) == sympy.pi**2
    assert snap_constant(1 / (4 * np.pi)) == 1 / (4 * sympy.pi)
    assert snap_constant(1 / (8 * np.pi)) == 1 / (8 * sympy.pi)
    assert snap_constant(1 / np.sqrt(2 * np.pi)) == 1 / sympy.sqrt(2 * sympy.pi)
    x = sympy.Symbol("x")
    assert complexity(x**2 + 1) == 5


def test_symbolic_estimator_pickles(fitted, tmp_path):
    import joblib

    est, X, _ = fitted
    joblib.dump(est, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    assert again.sympy_expr() == est.sympy_expr()
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
