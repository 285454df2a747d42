"""Exports of fitted formulas: LaTeX table, numpy callable, torch module, plain text."""

import argparse
import importlib
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from sklearn.exceptions import NotFittedError

from kansr import KANRegressor
from kansr.cli import build_parser
from kansr.io.export import NumpyFormula, symbol_names

NAMES = ["mass", "speed"]
# column names that are not identifiers, or that sympy reads as a constant or a function
AWKWARD = ["mass (kg)", "v [m/s]", "pi", "height", "lambda"]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(1, 2, size=(300, 2)), columns=NAMES)
    y = 2 * X["mass"] + X["speed"]
    est = KANRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0).fit(X, y)
    return est, X


@pytest.fixture(scope="module")
def network_only():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 2, size=(50, 2))
    return KANRegressor(hidden_layer_sizes=(2,), max_iter=3, random_state=0, symbolic=False).fit(
        X, X[:, 0]
    )


@pytest.fixture(scope="module")
def awkward():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.uniform(1, 2, size=(300, 5)), columns=AWKWARD)
    y = X["mass (kg)"] * X["v [m/s]"] ** 2 + 2 * X["pi"] * X["height"] + X["lambda"]
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=20, random_state=0).fit(X, y)
    return est, X


def _points(seed=5, n=50):
    return np.random.default_rng(seed).uniform(1, 2, size=(n, 2))


def test_latex_table_lists_every_row_in_a_booktabs_tabular(fitted):
    est, _ = fitted
    table = est.latex_table()
    lines = table.splitlines()
    assert lines[0].startswith(r"\begin{tabular}") and lines[-1] == r"\end{tabular}"
    for marker in (r"\toprule", r"\midrule", r"\bottomrule", "Equation & Complexity & Loss"):
        assert marker in table
    body = lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]
    assert len(body) == len(est.equations_)
    for i, line in enumerate(body):
        assert line.endswith(r"\\") and line.count("&") == 3
        assert line.split(" & ")[1] == str(est.equations_["complexity"].iloc[i])
        assert (r"$\star$" in line) == (i == est.selected_index_)
    # equations are written in the feature names, not the internal x0, x1
    assert "mass" in table and "x_{0}" not in table
    # a subset of rows, and a single row
    assert len(est.latex_table([0]).splitlines()) == 7
    assert est.latex_table(0) == est.latex_table([0]) == est.latex_table(np.array([0]))


def test_to_numpy_matches_predict_and_pickles(fitted):
    est, X = fitted
    f = est.to_numpy()
    assert isinstance(f, NumpyFormula) and callable(f)
    Xt = pd.DataFrame(_points(), columns=NAMES)
    out = f(Xt)
    assert out.shape == (50,) and out.dtype == np.float64
    np.testing.assert_allclose(out, est.predict(Xt), rtol=0, atol=0)
    np.testing.assert_array_equal(f(Xt.to_numpy()), out)  # plain arrays: training column order
    np.testing.assert_array_equal(f(Xt[NAMES[::-1]].assign(extra=0.0)), out)  # matched by name
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(Xt), out)
    # another row of the front
    np.testing.assert_allclose(est.to_numpy(0)(Xt), float(est.sympy_expr(0)), rtol=1e-12)


def test_to_numpy_checks_the_columns(fitted):
    est, _ = fitted
    f = est.to_numpy()
    with pytest.raises(ValueError, match="features"):
        f(np.ones((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        f(np.ones(3))
    with pytest.raises(ValueError, match="speed"):
        f(pd.DataFrame({"mass": [1.0]}))


def test_to_torch_matches_numpy_and_has_gradients(fitted):
    est, _ = fitted
    module = est.to_torch()
    assert isinstance(module, torch.nn.Module)
    x = torch.tensor(_points(), dtype=torch.float64, requires_grad=True)
    out = module(x)
    assert out.shape == (50,) and out.dtype == torch.float64
    np.testing.assert_allclose(
        out.detach().numpy(), est.to_numpy()(_points()), rtol=1e-10, atol=1e-10
    )
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    # the constants are parameters with gradients (row 0 of the front is a constant formula)
    constant = est.to_torch(0)
    assert [p.numel() for p in constant.parameters()] == [1]
    constant(x.detach()).sum().backward()
    assert constant.constants.grad.item() == pytest.approx(50.0)
    with pytest.raises(ValueError, match="shape"):
        module(torch.ones(4, 3, dtype=torch.float64))
    # every row of the front exports
    for i in range(len(est.equations_)):
        np.testing.assert_allclose(
            est.to_torch(i)(torch.tensor(_points(), dtype=torch.float64)).detach().numpy(),
            est.to_numpy(i)(_points()),
            rtol=1e-10,
            atol=1e-10,
        )


def test_formula_text_round_trips(fitted):
    est, _ = fitted
    symbols = {n: sympy.Symbol(n, real=True) for n in NAMES}
    points = _points(seed=9, n=20)
    for i in [None, *range(len(est.equations_))]:
        text = est.formula_text(i)
        assert isinstance(text, str)
        parsed = sympy.parse_expr(text, local_dict=symbols)  # our own text: trusted
        original = est.sympy_expr(i)
        for p in points:
            subs = {symbols[n]: v for n, v in zip(NAMES, p, strict=True)}
            a, b = float(parsed.evalf(subs=subs)), float(original.evalf(subs=subs))
            assert a == pytest.approx(b, rel=1e-12, abs=1e-300)


def test_symbol_names_map_safe_identifiers_to_the_columns(awkward, fitted):
    est, _ = awkward
    assert symbol_names(est) == {
        "mass_kg": "mass (kg)",
        "v_m_s": "v [m/s]",
        "pi_": "pi",
        "height": "height",
        "lambda_": "lambda",
    }
    assert symbol_names(fitted[0]) == {"mass": "mass", "speed": "speed"}
    with pytest.raises(NotFittedError):
        symbol_names(KANRegressor())


def test_formula_text_parses_back_with_awkward_column_names(awkward):
    est, X = awkward
    names = symbol_names(est)
    columns = [X[c].to_numpy() for c in names.values()]
    real = {s: sympy.Symbol(s, real=True) for s in names}
    for i in [None, *range(len(est.equations_))]:
        text = est.formula_text(i)
        want = est.to_numpy(i)(X)
        # plain parse_expr: the features are plain symbols (pi_ is not the constant pi)
        parsed = sympy.parse_expr(text)
        assert {s.name for s in parsed.free_symbols} <= set(names)
        f = sympy.lambdify([sympy.Symbol(s) for s in names], parsed, "numpy")
        got = np.broadcast_to(np.asarray(f(*columns), dtype=float), want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        # with real symbols (the documented local_dict): the formula of sympy_expr itself
        back = {real[s]: sympy.Symbol(c, real=True) for s, c in names.items()}
        assert sympy.parse_expr(text, local_dict=real).xreplace(back) == est.sympy_expr(i)
    exact = int(np.argmin(est.equations_["loss"]))
    assert est.equations_["loss"].iloc[exact] < 1e-20  # y is found exactly
    assert sympy.parse_expr(est.formula_text(exact)).free_symbols == set(sympy.symbols(list(names)))


def test_latex_prints_column_names_without_clashes(awkward):
    est, _ = awkward
    exact = int(np.argmin(est.equations_["loss"]))
    expr = est.sympy_expr(exact)
    assert len(expr.free_symbols) == 5 and not expr.has(sympy.pi)
    latex = est.latex(exact)
    assert r"\mathrm{height}" in latex  # multi-letter names upright
    assert r"\mathrm{pi}" in latex and r"\pi" not in latex  # the column, not the constant
    assert r"\mathrm{mass\ (kg)}" in latex and r"\mathrm{v\ [m/s]}^{2}" in latex
    assert r"\lambda" in latex  # Greek names as Greek letters
    assert est.equations_["latex"].iloc[exact] == latex
    table = est.latex_table(exact)
    assert f"${latex}$" in table and r"\pi" not in table


def test_index_errors(fitted):
    est, _ = fitted
    n = len(est.equations_)
    for method in (est.to_numpy, est.to_torch, est.formula_text, est.latex_table):
        with pytest.raises(IndexError):
            method(n)
    with pytest.raises(TypeError):
        est.to_numpy(0.5)
    assert est.formula_text(-1) == est.formula_text(n - 1)


@pytest.mark.parametrize("method", ["latex_table", "to_numpy", "to_torch", "formula_text"])
def test_errors_without_formulas_and_unfitted(method, network_only):
    with pytest.raises(ValueError, match="symbolic=False"):
        getattr(network_only, method)()
    with pytest.raises(NotFittedError):
        getattr(KANRegressor(), method)()


def test_arrays_without_feature_names():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 2, size=(60, 2))
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=5, random_state=0).fit(X, 3 * X[:, 1])
    f = est.to_numpy()
    np.testing.assert_allclose(f(X), est.predict(X))
    # a DataFrame with any column names is taken positionally, like the training arrays
    np.testing.assert_allclose(f(pd.DataFrame(X, columns=["a", "b"])), est.predict(X))
    assert "x_{1}" in est.latex_table() or "x_1" in est.latex_table()


# ---------------------------------------------------------------- docs/api.md, the reference
API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
_IDENTIFIER = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(\(.*\))?$")


def _resolve(path: str):
    """The module or attribute ``path`` (``kansr.a.b.name.attr``) names; fails if none."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            assert hasattr(obj, name), f"docs/api.md: {path} does not exist ({name})"
            obj = getattr(obj, name)
        return obj
    raise AssertionError(f"docs/api.md: {path} does not exist")


def test_api_reference_names_only_what_exists():
    text = API.read_text(encoding="utf-8")
    for path in sorted(set(re.findall(r"`(kansr(?:\.\w+)+)", text))):
        _resolve(path)  # e.g. no kansr.estimator, kansr.formula, kansr.selection
    bullets = re.findall(r"^\* `(kansr(?:\.\w+)*)`: (.*?)(?=^\S|^$)", text, re.M | re.S)
    assert len(bullets) >= 25
    for module, body in bullets:
        for code in re.findall(r"`([^`]+)`", body):
            match = _IDENTIFIER.match(code)
            if match and not match[1].startswith("kansr."):
                _resolve(f"{module}.{match[1]}")


def test_api_reference_lists_every_module():
    text = API.read_text(encoding="utf-8")
    modules = [
        "kansr.cli",
        "kansr.estimators.kan",
        "kansr.estimators.metakan",
        *(f"kansr.nn.{m}" for m in "splines activations layer network metakan".split()),
        *(f"kansr.nn.{m}" for m in "training restarts".split()),
        *(
            f"kansr.symbolic.{m}"
            for m in "library expressions snap finish matching network extract pareto".split()
        ),
        "kansr.symbolic.structure.search",
        "kansr.symbolic.structure.rational",
        "kansr.symbolic.uncertainty",
        "kansr.symbolic.names",
        *(f"kansr.io.{m}" for m in "export persistence plotting".split()),
        *(f"kansr.utils.{m}" for m in "deadline validation allocator".split()),
        "kansr.benchmarks.datasets",
        "kansr.benchmarks.judge",
    ]
    for module in modules:
        importlib.import_module(module)
        assert f"* `{module}`: " in text, f"docs/api.md does not list {module}"


def test_api_reference_lists_the_command_line():
    text = API.read_text(encoding="utf-8")
    parser = build_parser()
    assert "* `kansr --version`" in text
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subparsers.choices) == {"demo", "fit", "predict"}
    for name, sub in subparsers.choices.items():
        (usage,) = re.findall(rf"^\* `(kansr {name}\b[^`]*)`", text, re.M)
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or "--help" in action.option_strings:
                continue
            for option in action.option_strings:
                assert option.startswith("-")
                if option.startswith("--"):
                    assert option in usage, f"docs/api.md: kansr {name} lacks {option}"
            if not action.option_strings:
                assert action.dest.upper() in usage, f"docs/api.md: kansr {name} {action.dest}"
