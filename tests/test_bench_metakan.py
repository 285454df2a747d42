"""Smoke test of ``bench/metakan.py`` (``--quick``) and its exact memory accounting."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "metakan.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_metakan", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run(tmp_path):
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n")
    cmd = [sys.executable, str(SCRIPT), "--quick", "--markdown", str(md)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for needle in (
        "| KAN (KANRegressor) |",
        "| MetaKAN, shared meta-learner |",
        "trainable parameters ≤ 1/10 of the KAN's",
        "test RMSE within 1.5× of the KAN's",
        "command: `python bench/metakan.py --quick",
        "date: ",
    ):
        assert needle in out, out
    kan_row = next(ln for ln in out.splitlines() if ln.startswith("| KAN (KANRegressor) |"))
    assert "| 1× | 1× | 1× | 1× |" in kan_row
    text = md.read_text()
    assert text.startswith("# Benchmarks\n") and "MetaKAN, shared meta-learner" in text
    assert list(tmp_path.iterdir()) == [md]  # nothing else written to the working directory


def test_lbfgs_history_fills_from_a_fresh_start():
    bench = _load_bench()
    X, y = bench.make_data(100, seed=0)
    from kansr import KANRegressor

    est = KANRegressor(hidden_layer_sizes=(4,), max_iter=2, symbolic=False, random_state=0)
    est.fit(X, y)
    n_bytes = sum(p.numel() * p.element_size() for p in est.module_.parameters())
    size, pairs = bench.optimizer_state_bytes(est, X, y, steps=3)
    assert pairs == 20  # history_size of kansr's LBFGS
    assert size >= 2 * 20 * n_bytes


def test_target_and_exact_adam_state_bytes():
    bench = _load_bench()
    X, y = bench.make_data(50, seed=0)
    assert X.shape == (50, 20) and np.allclose(y, bench.target(X))
    from kansr import MetaKANRegressor

    est = MetaKANRegressor(
        hidden_layer_sizes=(4,), max_iter=1, solver="adam", symbolic=False, random_state=0
    ).fit(X, y)
    module = est.meta_module_
    params = [p for p in module.parameters() if p.requires_grad]
    n_bytes = sum(p.numel() * p.element_size() for p in params)
    step_bytes = sum(torch.zeros(()).element_size() for _ in params)  # Adam's float32 step
    # exp_avg and exp_avg_sq per parameter, plus one scalar step tensor each
    assert bench.optimizer_state_bytes(est, X, y, steps=1) == (2 * n_bytes + step_bytes, 0)
