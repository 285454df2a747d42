"""Smoke test of ``bench/symbolic_speed.py`` and the fairness of its comparison."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "symbolic_speed.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_symbolic_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lbfgs_refit_it_compares_against_is_refit_constants_without_least_squares():
    from kansr.symbolic import expressions

    expr, X, y = _load().test_formula(3)
    least_squares = expressions._least_squares_fit
    expressions._least_squares_fit = lambda *args: False
    try:
        _, loss = expressions.refit_constants(expr, X, y, n_iter=200)
    finally:
        expressions._least_squares_fit = least_squares
    assert loss < 1e-3 * expressions.mse(expr, X, y)  # LBFGS alone refits it too


def test_the_central_differences_it_compares_against_give_the_same_jacobian():
    from kansr.symbolic.uncertainty import constants_jacobian

    expr, X, _ = _load().test_formula(4)
    exact, pred = constants_jacobian(expr, X)
    central, central_pred = _load().central_jacobian(expr, X)
    np.testing.assert_allclose(central, exact, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(central_pred, pred)


def test_the_matrix_copy_it_compares_against_gives_the_same_jacobian():
    from kansr.symbolic.expressions import TorchFormula

    expr, X, _ = _load().test_formula(4)
    x = torch.from_numpy(X)
    values, jac = TorchFormula(expr).row_jacobian(x)
    matrix_values, matrix_jac = _load().MatrixCopy(expr).row_jacobian(x)
    assert torch.equal(values, matrix_values)
    assert torch.equal(jac, matrix_jac)


def test_quick_run_prints_every_kernel():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, check=True
    ).stdout
    rows = [
        line
        for line in out.splitlines()
        if line.startswith(("| match", "| refit", "| standard errors", "| exact Jacobian"))
    ]
    assert len(rows) == 4
    for row in rows:
        now, before = (float(cell) for cell in row.split("|")[2:4])
        assert now > 0 and before > 0
