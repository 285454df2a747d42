"""The command line interface (``kansr ...``) and the demo data set."""

import re

import numpy as np
import pandas as pd
import pytest
import sympy

import kansr
from kansr.benchmarks.datasets import make_demo
from kansr.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kansr {kansr.__version__}"


def test_demo_runs_and_prints_r2(capsys):
    # The hidden --max-iter keeps this to a few seconds; the quality is not the point here.
    assert main(["demo", "--n-samples", "200", "--max-iter", "2"]) == 0
    out = capsys.readouterr().out
    assert "exp(sin(pi*x) + y**2)" in out
    assert "width [2, 5, 1]" in out
    assert "100 training and 100 test samples" in out
    match = re.search(r"^test R\^2:\s+(\S+)", out, flags=re.MULTILINE)
    assert match is not None, out
    assert re.search(r"^formula:\s+f = \S", out, flags=re.MULTILINE), out
    assert np.isfinite(float(match.group(1)))


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        [],
        ["demo", "--n-samples", "two"],
        ["demo", "--n-samples", "1"],
        ["demo", "--unknown-option"],
    ],
)
def test_usage_errors_exit_2_without_traceback(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit is acceptable too
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error" in err
    assert "Traceback" not in err


def test_make_demo_shapes_and_names():
    X, y = make_demo(50, random_state=3)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (50, 2) and y.shape == (50,)
    assert list(X.columns) == ["x", "y"]
    assert y.name == "f"
    assert X.to_numpy().min() >= -1.0 and X.to_numpy().max() < 1.0
    expected = np.exp(np.sin(np.pi * X["x"]) + X["y"] ** 2)
    np.testing.assert_allclose(y.to_numpy(), expected.to_numpy())


def test_make_demo_is_deterministic_and_leaves_global_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X1, y1 = make_demo(20, random_state=7)
    X2, y2 = make_demo(20, random_state=7)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    X3, _ = make_demo(20, random_state=8)
    assert not np.allclose(X1.to_numpy(), X3.to_numpy())


def test_make_demo_rejects_empty():
    with pytest.raises(ValueError, match="n_samples"):
        make_demo(0)


# --------------------------------------------------------------------------- fit / predict
def _write_csv(path, n=100, seed=0, **extra):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": np.sin(2 * X[:, 0]) + X[:, 1] ** 2})
    for name, values in extra.items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return frame


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def fitted_cli(tmp_path_factory):
    """One ``kansr fit --save`` run shared by the tests below: (dir, data, stdout, code)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("cli_fit")
    frame = _write_csv(folder / "train.csv", note=["text"] * 100)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        argv = ["fit", folder / "train.csv", "--target", "y", "--features", "a,b"]
        argv += ["--save", folder / "model.json", "--max-iter", "3", "--hidden", "3"]
        argv += ["--restarts", "2", "--jobs", "1", "--mult", "1"]
        code = main([str(a) for a in argv])
    return folder, frame, out.getvalue(), code


def test_fit_prints_formula_latex_r2_and_pareto_table(fitted_cli):
    folder, _, out, code = fitted_cli
    assert code == 0, out
    assert re.search(r"^formula:\s+y = \S", out, flags=re.MULTILINE), out
    assert re.search(r"^latex:\s+\S", out, flags=re.MULTILINE), out
    match = re.search(r"^R\^2 \(train\):\s+(\S+)", out, flags=re.MULTILINE)
    assert match is not None and np.isfinite(float(match.group(1))), out
    assert re.search(r"complexity\s+loss\s+score\s+formula", out), out
    assert re.search(r"^\*\s+\d+\s+\S+\s+\S+\s+\S", out, flags=re.MULTILINE), out
    assert (folder / "model.json").is_file()
    loaded = kansr.load(folder / "model.json")
    assert loaded.get_params()["n_restarts"] == 2
    assert loaded.get_params()["multiplication_nodes"] == 1
    assert loaded.module_.mult == [0, 1, 0]  # --hidden 3 --mult 1: [2, 3 + 1, 1]


def test_predict_round_trip_matches_estimator(fitted_cli, tmp_path, capsys):
    folder, frame, _, _ = fitted_cli
    est = kansr.load(folder / "model.json")
    assert list(est.feature_names_in_) == ["a", "b"]
    new = _write_csv(tmp_path / "new.csv", n=7, seed=5)
    expected = est.predict(new[["a", "b"]])
    code, out, err = _run(["predict", folder / "model.json", tmp_path / "new.csv"], capsys)
    assert code == 0, err
    printed = np.array([float(line) for line in out.split()])
    np.testing.assert_array_equal(printed, expected)
    # column order in the CSV does not matter, extra columns are ignored
    new[["y", "b", "a"]].to_csv(tmp_path / "swapped.csv", index=False)
    out_csv = tmp_path / "pred.csv"
    code, out, err = _run(
        ["predict", folder / "model.json", tmp_path / "swapped.csv", "--out", out_csv], capsys
    )
    assert code == 0, err
    written = pd.read_csv(out_csv)
    assert list(written.columns) == ["prediction"]
    np.testing.assert_array_equal(written["prediction"].to_numpy(), expected)
    # the training data predicted through the CLI equals the fitted model's own predict
    code, out, _ = _run(["predict", folder / "model.json", folder / "train.csv"], capsys)
    assert code == 0
    np.testing.assert_array_equal(
        np.array(out.split(), dtype=float), est.predict(frame[["a", "b"]])
    )


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (["fit", "{d}/absent.csv", "--target", "y"], 2, "file not found"),
        (["fit", "{d}/empty.csv", "--target", "y"], 2, "empty"),
        (["fit", "{d}/header.csv", "--target", "y"], 2, "no data rows"),
        (["fit", "{d}/data.csv", "--target", "nope"], 2, "target column 'nope'"),
        (["fit", "{d}/data.csv", "--target", "y", "--features", "a,zz"], 2, "zz"),
        (["fit", "{d}/data.csv", "--target", "y"], 2, "non-numeric column(s) in"),
        (["fit", "{d}/data.csv", "--target", "y", "--features", "a,label"], 2, "label"),
        (["fit", "{d}/data.csv", "--target", "y", "--features", "a,y"], 2, "also be a feature"),
        (["fit", "{d}/data.csv", "--target", "y", "--hidden", "0"], 2, "--hidden"),
        (["fit", "{d}/data.csv", "--target", "y", "--mult", "-1"], 2, "--mult"),
        (["fit", "{d}/data.csv", "--target", "y", "--max-time", "-1"], 2, "--max-time"),
        (["fit", "{d}/data.csv", "--target", "y", "--restarts", "0"], 2, "--restarts"),
        (["fit", "{d}/data.csv", "--target", "y", "--jobs", "0"], 2, "--jobs"),
        (["fit", "{d}/data.csv"], 2, "--target"),
        (["predict", "{d}/absent.json", "{d}/data.csv"], 2, "model file not found"),
        (["predict", "{d}/bad.json", "{d}/data.csv"], 1, "invalid JSON"),
    ],
)
def test_fit_and_predict_errors(tmp_path, capsys, argv, code, needle):
    _write_csv(tmp_path / "data.csv", n=10, label=["x"] * 10)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,y\n")
    (tmp_path / "bad.json").write_text("{not json")
    argv = [a.format(d=tmp_path) for a in argv]
    try:
        got, _, err = _run(argv, capsys)
    except SystemExit as exc:  # argparse's own exit
        got, err = exc.code, capsys.readouterr().err
    assert got == code, err
    assert needle in err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("kansr") and "error" in lines[-1]
    if not lines[0].startswith("usage:"):  # ours (not argparse's): exactly one line
        assert len(lines) == 1, err


def test_predict_names_missing_feature_columns(fitted_cli, tmp_path, capsys):
    folder, _, _, _ = fitted_cli
    pd.DataFrame({"a": [0.1, 0.2], "c": [1.0, 2.0]}).to_csv(tmp_path / "x.csv", index=False)
    code, _, err = _run(["predict", folder / "model.json", tmp_path / "x.csv"], capsys)
    assert code == 2
    assert "lacks the model's feature column(s) b" in err
    assert len(err.strip().splitlines()) == 1
    pd.DataFrame({"a": [0.1, 0.2], "b": ["p", "q"]}).to_csv(tmp_path / "s.csv", index=False)
    code, _, err = _run(["predict", folder / "model.json", tmp_path / "s.csv"], capsys)
    assert code == 2 and "non-numeric column(s)" in err and ": b" in err


def test_fit_flags_reach_the_estimator(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(-1, 1, 60), "b": rng.uniform(-1, 1, 60)})
    frame["y"] = 1.234 * frame["a"] + 0.77 * frame["b"] ** 2 + rng.normal(0, 0.01, 60)
    frame.to_csv(tmp_path / "data.csv", index=False)
    argv = ["fit", tmp_path / "data.csv", "--target", "y", "--max-iter", "3"]
    argv += ["--sparsity", "0.001", "--model-selection", "accuracy", "--maxsize", "15"]
    argv += ["--library", "x,x^2,sin", "-v", "--save", tmp_path / "m.json"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    params = kansr.load(tmp_path / "m.json").get_params()
    assert params["sparsity"] == 0.001 and params["model_selection"] == "accuracy"
    assert params["maxsize"] == 15 and list(params["library"]) == ["x", "x^2", "sin"]
    assert "kansr: train the network done in" in out + err
    assert re.search(r"^constants:\s+\S+ ± \S+", out, flags=re.MULTILINE), out
    code, _, err = _run(argv[:4] + ["--library", "x,nope"], capsys)
    assert code == 2 and "nope" in err


def test_fit_pins_a_function_on_an_edge(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(-1, 1, 60), "b": rng.uniform(-1, 1, 60)})
    frame["y"] = np.sin(2 * frame["a"]) + frame["b"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    argv = ["fit", tmp_path / "data.csv", "--target", "y", "--max-iter", "3"]
    code, _, err = _run(argv + ["--pin", "0,0,0,tanh", "--save", tmp_path / "m.json"], capsys)
    assert code == 0, err
    assert [tuple(p) for p in kansr.load(tmp_path / "m.json").pinned_edges] == [(0, 0, 0, "tanh")]
    code, _, err = _run(argv + ["--pin", "0,0,tanh"], capsys)
    assert code == 2 and "LAYER,I,O,F" in err
    code, _, err = _run(argv + ["--pin", "0,9,0,tanh"], capsys)
    assert code == 1 and "joins 2 inputs" in err


def test_predict_needs_only_the_columns_the_formula_uses(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(1, 2, 80), "b": rng.uniform(1, 2, 80)})
    frame["y"] = 3 * frame["a"] ** 2
    frame.to_csv(tmp_path / "train.csv", index=False)
    argv = ["fit", tmp_path / "train.csv", "--target", "y", "--max-iter", "5"]
    code, _, err = _run(argv + ["--save", tmp_path / "m.json"], capsys)
    assert code == 0, err
    est = kansr.load(tmp_path / "m.json")
    assert {s.name for s in est.sympy_expr().free_symbols} == {"a"}
    frame[["a"]].to_csv(tmp_path / "only_a.csv", index=False)
    code, out, err = _run(["predict", tmp_path / "m.json", tmp_path / "only_a.csv"], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.array(out.split(), dtype=float), 3 * frame["a"] ** 2)


def test_fit_weights_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(1, 2, 80)})
    sigma = np.where(frame["a"] > 1.5, 1.0, 0.01)  # the right half is barely measured
    frame["y"] = 2.5 * frame["a"] + rng.normal(0, sigma)
    frame["w"] = 1 / sigma**2
    frame.to_csv(tmp_path / "d.csv", index=False)
    argv = ["fit", tmp_path / "d.csv", "--target", "y", "--max-iter", "5"]
    code, out, err = _run(argv + ["--weights", "w", "--save", tmp_path / "m.json"], capsys)
    assert code == 0, err
    assert "features a," in out  # the weights column is no feature
    est = kansr.load(tmp_path / "m.json")
    assert list(est.feature_names_in_) == ["a"]
    x = pd.DataFrame({"a": np.linspace(1, 1.5, 5)})
    np.testing.assert_allclose(est.predict(x), 2.5 * x["a"], rtol=0.01)
    code, _, err = _run(argv + ["--weights", "nope"], capsys)
    assert code == 2 and "weights column 'nope'" in err


def test_fit_units_reach_the_estimator(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"speed": rng.uniform(4, 25, 60)})
    frame["dist"] = 3.0 * frame["speed"] + rng.normal(0, 0.05, 60)
    frame.to_csv(tmp_path / "d.csv", index=False)
    argv = ["fit", tmp_path / "d.csv", "--target", "dist", "--max-iter", "5", "--hidden", "2"]
    argv += ["--units", "speed=mph", "--units", "dist=ft", "--save", tmp_path / "m.json"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    est = kansr.load(tmp_path / "m.json")
    assert est.X_units == {"speed": "mph"} and est.y_units == "ft"
    assert isinstance(est.sympy_expr().coeff(sympy.Symbol("speed", real=True)), sympy.Float)
    for bad, needle in (("time=s", "COL=UNIT"), ("speed", "COL=UNIT"), ("speed=m/", "m/")):
        code, _, err = _run(argv[:8] + ["--units", bad], capsys)
        assert code == 2 and needle in err, err
