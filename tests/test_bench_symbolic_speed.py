"""Smoke test of ``bench/symbolic_speed.py`` and the fairness of its comparison."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import sympy
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "symbolic_speed.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_symbolic_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tree_walk_it_compares_against_computes_the_same_values_and_gradients():
    from kansr.symbolic.expressions import TorchFormula

    x0, x1 = sympy.symbols("x0:2", real=True)
    expr = sympy.Float(1.5) * sympy.exp(-sympy.Float(0.3) * x0**2) / (x1 + sympy.Float(2.0))
    x = torch.from_numpy(np.random.default_rng(0).uniform(0.1, 1, (20, 2)))
    now, before = TorchFormula(expr), _load().TreeWalk(expr)
    a, b = now(x), before(x)
    assert torch.equal(a, b)
    a.sum().backward()
    b.sum().backward()
    assert torch.equal(now.constants.grad, before.constants.grad)


def test_the_central_differences_it_compares_against_give_the_same_jacobian():
    from kansr.symbolic.uncertainty import _jacobian

    expr, X, _ = _load().test_formula(4)
    exact, pred = _jacobian(expr, X)
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
