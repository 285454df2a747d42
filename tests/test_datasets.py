"""Synthetic data (make_dataset) and the shipped ground-truth problems (load_problem)."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import sympy

from kansr.benchmarks.datasets import (
    PROBLEM_SETS,
    Problem,
    get_problem,
    list_problems,
    load_problem,
    make_dataset,
    make_demo,
)


# ------------------------------------------------------------------------------ make_dataset
def test_make_dataset_shapes_ranges_and_values():
    X, y = make_dataset(lambda X: X[:, 0] * X[:, 1], ranges=[(1, 2), (-3, -1)], n_samples=200)
    assert X.shape == (200, 2) and y.shape == (200,)
    assert X.dtype == y.dtype == np.float64
    assert X[:, 0].min() >= 1 and X[:, 0].max() <= 2
    assert X[:, 1].min() >= -3 and X[:, 1].max() <= -1
    np.testing.assert_array_equal(y, X[:, 0] * X[:, 1])


def test_make_dataset_calling_conventions():
    # one argument per column, same numbers as the array form
    X1, y1 = make_dataset(lambda a, b: a + 2 * b, ranges=(0, 1), n_samples=20)
    X2, y2 = make_dataset(
        lambda X: X[:, 0] + 2 * X[:, 1], ranges=(0, 1), n_samples=20, n_features=2
    )
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    # numpy ufuncs: nin arguments
    X, y = make_dataset(np.hypot, ranges=(0, 1), n_samples=10)
    np.testing.assert_allclose(y, np.hypot(X[:, 0], X[:, 1]))
    # one feature: elementwise functions and (n, 1) outputs both work
    X, y = make_dataset(np.sin, ranges=(0, 1), n_samples=10)
    assert X.shape == (10, 1) and y.shape == (10,)
    np.testing.assert_allclose(y, np.sin(X[:, 0]))
    # a constant is broadcast; number of features from the names
    X, y = make_dataset(lambda X: 3.0, names=["a", "b", "c"], n_samples=4)
    assert X.shape == (4, 3) and np.all(y == 3.0)


def test_make_dataset_is_deterministic_and_uses_its_own_rng():
    f = lambda x, v: x * v  # noqa: E731
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = make_dataset(f, ranges=(0, 1), n_samples=30, random_state=7, noise=0.1)
    b = make_dataset(f, ranges=(0, 1), n_samples=30, random_state=7, noise=0.1)
    c = make_dataset(f, ranges=(0, 1), n_samples=30, random_state=8, noise=0.1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    gen = np.random.default_rng(7)
    d = make_dataset(f, ranges=(0, 1), n_samples=30, random_state=gen, noise=0.1)
    np.testing.assert_array_equal(a[0], d[0])


def test_make_dataset_noise_and_test_split():
    f = lambda X: 10 + X[:, 0]  # noqa: E731
    X, Xt, y, yt = make_dataset(f, ranges=(0, 1), n_samples=4000, n_test=500, noise=0.1)
    assert X.shape == (4000, 1) and Xt.shape == (500, 1) and y.shape == (4000,)
    np.testing.assert_array_equal(yt, 10 + Xt[:, 0])  # test targets are clean
    residual = y - (10 + X[:, 0])
    rms = np.sqrt(np.mean((10 + X[:, 0]) ** 2))
    assert np.std(residual) == pytest.approx(0.1 * rms, rel=0.05)
    assert abs(np.mean(residual)) < 0.05
    # n_test=0 is the same as None
    X0, y0 = make_dataset(f, ranges=(0, 1), n_samples=5, n_test=0)
    np.testing.assert_array_equal(X0, make_dataset(f, ranges=(0, 1), n_samples=5)[0])


def test_make_dataset_as_frame():
    X, Xt, y, yt = make_dataset(
        lambda a, b: a - b, ranges=(0, 1), n_samples=6, n_test=3, as_frame=True, names=["p", "q"]
    )
    assert isinstance(X, pd.DataFrame) and list(X.columns) == ["p", "q"]
    assert isinstance(yt, pd.Series) and y.name == "y" and len(Xt) == 3
    np.testing.assert_array_equal(y.to_numpy(), (X["p"] - X["q"]).to_numpy())


def test_make_dataset_sympy_expression():
    mass, v = sympy.symbols("mass v", positive=True)
    expr = mass * v**2 / 2 + sympy.sin(v)
    X, y = make_dataset(expr, ranges={"mass": (1, 2), "v": (-1, 0)}, n_samples=50, as_frame=True)
    assert list(X.columns) == ["mass", "v"]
    assert X["v"].max() <= 0 and X["mass"].min() >= 1
    np.testing.assert_allclose(y, X["mass"] * X["v"] ** 2 / 2 + np.sin(X["v"]), rtol=1e-14)
    # default order: sorted names, numbers in natural order; names may add unused columns
    x2, x10 = sympy.symbols("x2 x10")
    X, y = make_dataset(x10 - x2, ranges=[(0, 1), (5, 6)], n_samples=10)
    assert np.all(X[:, 1] >= 5)  # x10 comes second
    np.testing.assert_allclose(y, X[:, 1] - X[:, 0])
    X, y = make_dataset(x2 * 2, names=["x2", "unused"], n_samples=5)
    np.testing.assert_allclose(y, 2 * X[:, 0])


def test_make_dataset_errors():
    f = lambda X: X[:, 0]  # noqa: E731
    with pytest.raises(TypeError, match="strings are never parsed"):
        make_dataset("x0**2", ranges=(0, 1))
    with pytest.raises(TypeError, match="callable"):
        make_dataset(3.0)
    with pytest.raises(ValueError, match="n_samples"):
        make_dataset(f, n_samples=0)
    with pytest.raises(TypeError, match="n_samples"):
        make_dataset(f, n_samples=2.5)
    with pytest.raises(ValueError, match="n_test"):
        make_dataset(f, n_test=-1)
    with pytest.raises(ValueError, match="noise"):
        make_dataset(f, noise=-0.1)
    with pytest.raises(ValueError, match="low < high"):
        make_dataset(f, ranges=(1, 0))
    with pytest.raises(ValueError, match="low < high"):
        make_dataset(f, ranges=(0, np.inf))
    with pytest.raises(ValueError, match="3 ranges for 2 features"):
        make_dataset(lambda a, b: a, ranges=[(0, 1)] * 3, n_features=2)
    with pytest.raises(ValueError, match="positional arguments"):
        make_dataset(lambda a, b: a, ranges=[(0, 1)] * 3)
    with pytest.raises(ValueError, match="names must be unique"):
        make_dataset(f, names=["a", "a"])
    with pytest.raises(ValueError, match="not finite"):
        make_dataset(np.log, ranges=(-1, 1))
    with pytest.raises(ValueError, match="one value per row"):
        make_dataset(lambda X: X, ranges=[(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="pass n_features"):
        make_dataset(lambda X: X[:, 0] * X[:, 1], ranges=(0, 1))
    x, y = sympy.symbols("x y")
    with pytest.raises(ValueError, match="not in names"):
        make_dataset(x + y, names=["x"])
    with pytest.raises(ValueError, match="no free symbols"):
        make_dataset(sympy.Integer(2))
    with pytest.raises(ValueError, match="missing"):
        make_dataset(x + y, ranges={"x": (0, 1)})
    with pytest.raises(ValueError, match="cannot evaluate"):
        make_dataset(sympy.gamma(x), ranges=(1, 2))


def test_make_demo_still_works():
    X, y = make_demo(5)
    assert X.shape == (5, 2) and y.name == "f"


# ------------------------------------------------------------------------------ problems
def test_list_problems():
    feynman, strogatz = list_problems("feynman"), list_problems("strogatz")
    assert len(feynman) == 119 and len(strogatz) == 14
    assert list_problems() == feynman + strogatz + list_problems("compositional")
    assert "I.6.20" in feynman and "strogatz_vdp1" in strogatz
    assert set(PROBLEM_SETS) == {"feynman", "strogatz", "compositional"}
    with pytest.raises(ValueError, match="unknown problem set"):
        list_problems("srsd")


def test_load_problem_gaussian_matches_its_formula():
    data = load_problem("I.6.20", n_samples=200, random_state=3)
    assert data.feature_names == ["sigma", "theta"] and data.target_name == "f"
    X, y = data.data, data.target
    assert isinstance(X, pd.DataFrame) and list(X.columns) == ["sigma", "theta"]
    assert isinstance(y, pd.Series) and y.name == "f" and len(y) == 200
    sigma, theta = X["sigma"].to_numpy(), X["theta"].to_numpy()
    expected = np.exp(-(theta**2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    np.testing.assert_allclose(y.to_numpy(), expected, rtol=1e-13)
    assert sigma.min() >= 1 and sigma.max() <= 3 and theta.min() >= 1 and theta.max() <= 3
    assert data.ranges == {"sigma": (1.0, 3.0), "theta": (1.0, 3.0)}
    # the formula uses real symbols named like the columns (as KANRegressor.sympy_expr does)
    s, t = sympy.symbols("sigma theta", real=True)
    truth = sympy.exp(-(t**2) / (2 * s**2)) / (sympy.sqrt(2 * sympy.pi) * s)
    assert data.formula.free_symbols == {s, t}
    assert sympy.simplify(data.formula - truth) == 0
    assert list(data.frame.columns) == ["sigma", "theta", "f"]
    assert "I.6.20" in data.DESCR
    # the same problem again gives the same rows; as arrays with return_X_y
    Xa, ya = load_problem("I.6.20", n_samples=200, random_state=3, as_frame=False, return_X_y=True)
    np.testing.assert_array_equal(Xa, X.to_numpy())
    np.testing.assert_array_equal(ya, y.to_numpy())


def test_problem_object():
    problem = get_problem("II.11.27")
    assert isinstance(problem, Problem) and problem.set == "feynman"
    assert problem.variables == tuple(problem.ranges)
    X, y = problem.sample(30, random_state=0)
    np.testing.assert_array_equal(problem.evaluate(X), y.to_numpy())
    np.testing.assert_array_equal(problem.evaluate(X[list(problem.variables)[::-1]]), y)
    with pytest.raises(ValueError, match="shape"):
        problem.evaluate(np.ones((3, 1)))
    assert pickle.loads(pickle.dumps(problem)).name == "II.11.27"
    noisy = problem.sample(30, random_state=0, noise=0.01)[1]
    diff, rms = (noisy - y).to_numpy(), np.sqrt(np.mean(y.to_numpy() ** 2))
    assert 0 < np.abs(diff).max() < 5 * 0.01 * rms  # sigma = 0.01 * RMS(y)
    assert get_problem("test_1").bonus and not problem.bonus
    vdp = get_problem("strogatz_vdp1")
    assert vdp.set == "strogatz" and vdp.difficulty is None


@pytest.mark.parametrize("name", list_problems())
def test_every_shipped_problem_samples_finite_targets(name):
    X, y = load_problem(name, n_samples=20, random_state=0, return_X_y=True)
    problem = get_problem(name)
    assert X.shape == (20, len(problem.variables)) and np.all(np.isfinite(y))
    for v in problem.variables:
        lo, hi = problem.ranges[v]
        assert lo <= X[v].min() and X[v].max() <= hi
    assert {s.name for s in problem.formula.free_symbols} <= set(problem.variables)


def test_unknown_problem_lists_close_matches():
    with pytest.raises(ValueError, match="I.6.20"):
        load_problem("I.6.2")
    with pytest.raises(ValueError, match="list_problems"):
        get_problem("no such problem at all")
    with pytest.raises(TypeError):
        get_problem(6)


def test_problem_values_agree_with_sympy():
    data = load_problem("I.12.1", n_samples=3)  # F = mu * Nn
    np.testing.assert_allclose(data.target, data.data["mu"] * data.data["Nn"], rtol=1e-15)
    for name in ["II.11.27", "I.6.20b", "test_12", "strogatz_vdp1", "strogatz_glider2"]:
        problem = get_problem(name)
        X, y = problem.sample(5, random_state=1)
        point = {sympy.Symbol(v, real=True): X[v].iloc[0] for v in problem.variables}
        assert math.isfinite(y.iloc[0])
        assert float(problem.formula.evalf(subs=point)) == pytest.approx(y.iloc[0], rel=1e-12)
