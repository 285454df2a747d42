"""The estimators on a CUDA device (``device="cuda"``), end to end.

Skipped where torch sees no CUDA device (CI has none); run them on a machine with a GPU:
``python -m pytest tests/test_cuda.py``. Each stage that moves tensors between the network
and numpy (training, pruning, edge matching, the network's formulas, ``suggest``, pins,
warm starts, restarts, weights, persistence, plotting) runs once on the GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

from kansr import KANRegressor, MetaKANRegressor
from kansr.io import persistence

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _product(n=300, seed=0):
    """``y = x0*x1 + sin(x2)`` on ``[-1, 1]^3``: ``X (n, 3)``, ``y (n,)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    return X, X[:, 0] * X[:, 1] + np.sin(X[:, 2])


def _is_exact(est, X, y) -> bool:
    return bool(est.score(X, y) > 1 - 1e-8)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_fit_on_the_gpu_finds_the_law_and_keeps_the_network_there(dtype):
    X, y = _product()
    est = KANRegressor(max_iter=30, random_state=0, device="cuda", dtype=dtype).fit(X, y)
    assert next(est.module_.parameters()).device.type == "cuda"
    assert _is_exact(est, X, y), est.sympy_expr()
    assert np.all(np.isfinite(est.predict_network(X)))
    assert est.predict(X).dtype == np.float64


def test_the_network_path_alone_runs_on_the_gpu_like_on_the_cpu():
    # search_structure=False: every formula is read off the network's edges (cuda tensors)
    X, y = _product()
    params = dict(max_iter=30, random_state=0, search_structure=False, sparsity=1e-3)
    gpu = KANRegressor(device="cuda", **params).fit(X, y)
    cpu = KANRegressor(device="cpu", **params).fit(X, y)
    # LBFGS on other floating-point reductions drifts apart over the steps: both fit, not
    # to the same network
    assert gpu.score(X, y) > 0.99
    assert abs(gpu.score(X, y) - cpu.score(X, y)) < 0.01
    network = gpu.predict_network(X)
    assert 1 - np.mean((network - y) ** 2) / np.var(y) > 0.99
    assert len(gpu.equations_) >= 1


def test_suggest_and_pins_read_gpu_edges():
    # sin(2*x0) + x1 on a network without hidden layer: edge (0, 0, 0) is sin(2*x0)
    X, _ = _product()
    y = np.sin(2 * X[:, 0]) + X[:, 1]
    est = KANRegressor(
        hidden_layer_sizes=(),
        max_iter=30,
        random_state=0,
        device="cuda",
        pinned_edges=[(0, 1, 0, "tanh")],
    ).fit(X, y)
    table = est.suggest((0, 0, 0), X)
    assert table["function"].iloc[0] in ("sin", "cos")  # cos(a*x + b) with b = -pi/2 is sin
    assert table["r2"].iloc[0] > 0.999
    assert any(e.has(sympy.tanh) for e in est.equations_["sympy_format"])


def test_weights_restarts_early_stopping_and_warm_start_on_the_gpu():
    X, y = _product(400)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    est = KANRegressor(
        max_iter=20,
        random_state=0,
        device="cuda",
        n_restarts=2,
        early_stopping=True,
        warm_start=True,
    ).fit(X, y, sample_weight=w)
    assert _is_exact(est, X, y), est.sympy_expr()
    est.fit(X, y)  # continues the fitted network on the GPU
    assert next(est.module_.parameters()).device.type == "cuda"
    assert est.score(X, y) > 0.999


def test_a_gpu_model_saved_and_loaded_predicts_the_same(tmp_path):
    X, y = _product()
    est = KANRegressor(max_iter=20, random_state=0, device="cuda").fit(X, y)
    path = tmp_path / "gpu.json"
    persistence.save(est, str(path))
    loaded = persistence.load(str(path))
    assert loaded.device == "cuda"
    np.testing.assert_allclose(loaded.predict(X), est.predict(X), rtol=1e-12)
    np.testing.assert_allclose(loaded.predict_network(X), est.predict_network(X), rtol=1e-10)


def test_metakan_trains_and_reads_formulas_on_the_gpu(tmp_path):
    X, y = _product()
    est = MetaKANRegressor(hidden_layer_sizes=(4,), max_iter=30, random_state=0, device="cuda").fit(
        X, y
    )
    assert next(est.module_.parameters()).device.type == "cuda"
    assert _is_exact(est, X, y), est.sympy_expr()
    path = tmp_path / "meta.json"
    persistence.save(est, str(path))
    np.testing.assert_allclose(persistence.load(str(path)).predict(X), est.predict(X))


def test_plots_of_a_gpu_model():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = _product()
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=10, random_state=0, device="cuda")
    est.fit(X, y)
    assert est.plot(X) is not None
    assert est.plot_parity(X, y) is not None
