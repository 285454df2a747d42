"""bench/fold_fronts.py: selection rules re-choose among saved per-fold fronts and are scored
by their pooled out-of-fold R²."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fold_fronts():
    spec = importlib.util.spec_from_file_location(
        "kansr_bench_fold_fronts", ROOT / "bench/fold_fronts.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _fronts(tmp_path):
    """Two folds of a noisy line on 16 rows; each front holds the mean, the line and a
    degree-6 polynomial fitted to the training rows; the stored choice is the polynomial."""
    rng = np.random.default_rng(0)
    x = np.linspace(1, 4, 16)
    y = 2 * x + rng.normal(0, 0.3, x.size)
    x0 = sympy.Symbol("x0", real=True)
    folds = []
    for test in (np.arange(0, 16, 2), np.arange(1, 16, 2)):
        train = np.setdiff1d(np.arange(16), test)
        rows = []
        for degree in (0, 1, 6):
            coef = np.polyfit(x[train], y[train], degree)
            expr = sum(sympy.Float(c) * x0 ** (degree - k) for k, c in enumerate(coef))
            fitted = np.polyval(coef, x[train])
            rows.append(
                {
                    "expr": sympy.srepr(expr),
                    "complexity": 1 if degree == 0 else 5 if degree == 1 else 40,
                    "n_constants": degree + 1,
                    "loss": float(np.mean((fitted - y[train]) ** 2)),
                    "held_out": np.polyval(coef, x[test]).tolist(),
                }
            )
        folds.append({"train": train.tolist(), "test": test.tolist(), "selected": 2, "rows": rows})
    line = np.polyfit(x, y, 1)
    data = {
        "line": {
            "X": x[:, None].tolist(),
            "y": y.tolist(),
            "folds": folds,
            "published": np.polyval(line, x).tolist(),
        }
    }
    path = tmp_path / "fronts.json"
    path.write_text(json.dumps(data))
    return path, x, y, folds


def test_rules_rechoose_on_the_saved_fronts(fold_fronts, tmp_path):
    path, x, y, folds = _fronts(tmp_path)
    df = fold_fronts.compare(str(path), [2.0])
    assert list(df["set"]) == ["line"]
    stored = np.empty(y.size)
    line = np.empty(y.size)
    for fold in folds:
        stored[fold["test"]] = fold["rows"][2]["held_out"]
        line[fold["test"]] = fold["rows"][1]["held_out"]
    r2 = lambda p: 1 - np.sum((p - y) ** 2) / np.sum((y - y.mean()) ** 2)  # noqa: E731
    assert df["stored"].iloc[0] == pytest.approx(r2(stored))
    # on 8 training rows the criterion and the cross-validated refits choose the line
    for rule in ("bic", "node=2", "innercv1se", "stable", "cv", "fewer"):
        assert df[rule].iloc[0] == pytest.approx(r2(line)), rule
    assert df["bic"].iloc[0] > df["stored"].iloc[0]
    # the oracle takes each fold's best member on its held-out rows: no rule does better
    rules = [c for c in df.columns if c not in ("set", "published", "oracle")]
    assert df["oracle"].iloc[0] >= max(df[r].iloc[0] for r in rules)


def test_only_the_rules_asked_for_are_scored(fold_fronts, tmp_path):
    path, *_ = _fronts(tmp_path)
    df = fold_fronts.compare(str(path), [2.0], ["cv", "oracle"])
    assert list(df.columns) == ["set", "published", "stored", "cv", "oracle"]
    with pytest.raises(ValueError, match="unknown rules"):
        fold_fronts.compare(str(path), [2.0], ["cv", "lasso"])


def test_forms_on_all_rows_are_judged_for_each_rule(fold_fronts, tmp_path):
    """A front fitted to all rows (``full``) of a set named like one of realdata's (cats:
    ``Hwt = a*Bwt``): the rules' formulas there are judged against the published form."""
    path, x, y, folds = _fronts(tmp_path)
    data = json.loads(path.read_text())
    x0 = sympy.Symbol("x0", real=True)
    slope = float(np.sum(x * y) / np.sum(x * x))
    coef = np.polyfit(x, y, 6)
    rows = [
        {"expr": sympy.srepr(sympy.Float(float(y.mean()))), "complexity": 1, "n_constants": 1},
        {"expr": sympy.srepr(sympy.Float(slope) * x0), "complexity": 3, "n_constants": 1},
        {
            "expr": sympy.srepr(sum(sympy.Float(c) * x0 ** (6 - k) for k, c in enumerate(coef))),
            "complexity": 40,
            "n_constants": 7,
        },
    ]
    for r, pred in zip(
        rows, (np.full_like(y, y.mean()), slope * x, np.polyval(coef, x)), strict=True
    ):
        r["loss"] = float(np.mean((pred - y) ** 2))
    data["cats"] = {**data.pop("line"), "full": {"selected": 2, "rows": rows}}
    path.write_text(json.dumps(data))
    df = fold_fronts.compare(str(path), [2.0], ["bic", "fewer", "oracle"])
    assert bool(df["bic form"].iloc[0]) and bool(df["fewer form"].iloc[0])  # a*Bwt
    assert not bool(df["stored form"].iloc[0])  # the degree-6 polynomial
    assert "oracle form" not in df  # (the oracle needs held-out rows)
