"""bench/recovery.py and bench/contenders.py: estimators by name, gplearn programs as sympy,
and a clear exit when a contender is not installed."""

import importlib.util
import json
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KANSR_SHARED", ROOT.parent / "shared")) / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"kansr_bench_{name}", ROOT / f"bench/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Fn = namedtuple("Fn", "name arity")


def test_gplearn_programs_become_sympy_node_by_node():
    contenders = _load("contenders")
    x, y = sympy.symbols("x y", real=True)
    # add(mul(X0, 0.5), div(sqrt(X1), neg(X0)))
    program = [Fn("add", 2), Fn("mul", 2), 0, 0.5, Fn("div", 2), Fn("sqrt", 1), 1, Fn("neg", 1), 0]
    expr = contenders.gplearn_to_sympy(program, [x, y])
    assert sympy.simplify(expr - (0.5 * x - sympy.sqrt(sympy.Abs(y)) / x)) == 0
    with pytest.raises(ValueError, match="no sympy translation"):
        contenders.gplearn_to_sympy([Fn("exec", 1), 0], [x])
    with pytest.raises(ValueError, match="trailing"):
        contenders.gplearn_to_sympy([0, 1], [x, y])


def test_missing_contender_exits_with_a_clear_message():
    contenders = _load("contenders")
    with pytest.raises(SystemExit, match="not usable.*pip install"):
        contenders.require("surely_not_a_module_kansr", "pip install it")


def test_make_estimator_by_name():
    recovery = _load("recovery")
    est = recovery.make_estimator("metakan", {"max_iter": 3}, 7)
    assert type(est).__name__ == "MetaKANRegressor" and est.random_state == 7
    assert type(recovery.make_estimator("gplearn", {}, 0)).__name__ == "GplearnRegressor"


@pytest.mark.parametrize("estimator", ["gplearn", "pykan"])
def test_contenders_run_through_the_same_judge(estimator, tmp_path):
    pytest.importorskip({"gplearn": "gplearn", "pykan": "kan"}[estimator])
    if not (SHARED / "feynman.csv").is_file():
        pytest.skip(f"benchmark tables not found at {SHARED} (set KANSR_SHARED)")
    recovery = _load("recovery")
    row = pd.read_csv(SHARED / "feynman.csv").set_index("name").loc["I.12.1"]
    row = {"name": "I.12.1", **row.to_dict()}
    params = {"generations": 3} if estimator == "gplearn" else {"steps": 5}
    result = recovery.run_problem(row, 0, 0.0, params, estimator)
    assert result["error"] == ""
    assert np.isfinite(result["r2"]) and result["complexity"] >= 1
    assert result["estimator"] == estimator


def test_plot_results_draws_the_runs(tmp_path):
    pytest.importorskip("matplotlib")
    plot = _load("plot_results")
    for name, solved in [("a", [True, False, True]), ("b", [False, False, True])]:
        pd.DataFrame(
            {
                "name": ["p", "q", "r"] if name == "a" else ["q", "r", "s"],
                "noise": 0.0,
                "symbolic_solution": solved,
                "accuracy_solution": [True] * 3,
                "fit_time": [1, 5, 9],
            }
        ).to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "runs.png"
    assert plot.main([str(out), f"A={tmp_path / 'a.csv'}", f"B={tmp_path / 'b.csv'}"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plot.plot_runs(plot.load_runs([f"A={tmp_path / 'a.csv'}"]))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([100 * 2 / 3, 100.0])
    both = plot.common_problems(
        plot.load_runs([f"A={tmp_path / 'a.csv'}", f"B={tmp_path / 'b.csv'}"])
    )
    assert [list(f["name"]) for f in both.values()] == [["q", "r"], ["q", "r"]]
    assert (
        plot.main([str(out), "--common", f"A={tmp_path / 'a.csv'}", f"B={tmp_path / 'b.csv'}"]) == 0
    )
    with pytest.raises(SystemExit, match="LABEL=path"):
        plot.load_runs(["no-equals-sign"])
    with pytest.raises(SystemExit, match="not found"):
        plot.load_runs([f"A={tmp_path / 'absent.csv'}"])


def test_params_reach_the_estimator_and_the_report(tmp_path, monkeypatch):
    recovery = _load("recovery")
    seen = []

    def fake_run(row, seed, noise, params, estimator="kan"):
        seen.append(params)
        return {"name": row["name"], "noise": noise, "seed": seed, "estimator": estimator,
                "r2": 1.0, "symbolic_solution": True, "accuracy_solution": True,
                "complexity": 3, "fit_time": 0.1, "formula": "x", "error": ""}  # fmt: skip

    monkeypatch.setattr(recovery, "run_problem", fake_run)
    md = tmp_path / "r.md"
    argv = ["--set", "compositional", "--limit", "2", "--n-jobs", "1", "--markdown", str(md)]
    assert recovery.main([*argv, "--params", '{"search_structure": false}']) == 0
    assert seen == [{"search_structure": False}] * 2
    assert "search_structure" in md.read_text()
    with pytest.raises(SystemExit):
        recovery.main([*argv, "--params", "[1]"])


def test_srsd_sampling_follows_the_kinds_signs_and_redraws():
    recovery = _load("recovery")
    rng = np.random.default_rng(0)
    spec = {"kind": "DefaultSampling", "low": 0.1, "high": 10.0, "positive": True,
            "negative": True, "log_uniform": True}  # fmt: skip
    x = recovery.srsd_column(spec, 4000, rng)
    assert 0.1 <= np.abs(x).min() and np.abs(x).max() <= 10.0
    assert 0.4 < np.mean(x < 0) < 0.6  # both signs
    assert 0.4 < np.mean(np.abs(x) < 1.0) < 0.6  # log-uniform: half the draws below 1
    ints = recovery.srsd_column({"kind": "IntegerSampling", "low": 1, "high": 4}, 500, rng)
    assert set(ints) == {1.0, 2.0, 3.0}
    neg = recovery.srsd_column(
        {"kind": "SimpleSampling", "low": 2, "high": 3, "positive": False, "negative": True},
        100,
        rng,
    )
    assert np.all((neg <= -2) & (neg >= -3))
    # the law is drawn again where it is not finite (sqrt of a negative here)
    row = pd.Series({"name": "t", "formula": "sqrt(a)", "variables": "a",
                     "sampling_json": json.dumps({"a": spec})})  # fmt: skip
    _, _, X, y, Xt, yt = recovery.make_problem(row, 0, 0.0, n=200)
    assert np.all(X > 0) and np.all(np.isfinite(y)) and np.all(np.isfinite(yt))


def test_rejudge_adds_the_domain_column_and_checks_srbench_again(tmp_path):
    rejudge = _load("rejudge")
    law = "nu0*exp(-Ea/(Rg*Tk))"  # C.prod.01, Rg in [0.5, 1.5]
    runs = pd.DataFrame(
        {
            "name": ["C.prod.01"] * 4,
            "noise": [0.0] * 4,
            "seed": [0] * 4,
            "r2": [1.0, 1.0, 0.99, float("nan")],
            # the law; the law for Rg > 0 only (sympy cannot prove it without the sign);
            # an approximant; a failed fit
            "formula": [law, "nu0*exp(-Ea*sqrt(1/Rg**2)/Tk)", "nu0*(1 - Ea/(Rg*Tk))", ""],
            "symbolic_solution": [False] * 4,  # wrong on purpose: judged again
            "error": ["", "", "", "RuntimeError: boom"],
        }
    )
    csv = tmp_path / "run.csv"
    runs.to_csv(csv, index=False)
    assert rejudge.main([str(csv), "--set", "compositional"]) == 0
    judged = pd.read_csv(csv)
    assert judged["symbolic_solution"].tolist() == [True, False, False, False]
    assert judged["domain_solution"].tolist() == [1.0, 1.0, 0.0, 0.0]
