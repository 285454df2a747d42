"""Continual learning: ``warm_start`` continues a fit on new data, and a KAN keeps what it
learned on earlier data (spline locality) where an MLP of the same size forgets it."""

import numpy as np
import pytest
import torch
from sklearn.neural_network import MLPRegressor

from kansr import KAN, KANRegressor, MetaKAN, MetaKANRegressor, load


def _target(x):
    return np.sin(3 * np.pi * x) * np.exp(-(x**2))


def _phases(n=400, seed=0):
    """Old region x in [-1, 0], new region x in [0, 1]; the first phase never sees x > 0."""
    rng = np.random.default_rng(seed)
    xa = rng.uniform(-1, 0, (n, 1))
    xb = rng.uniform(0, 1, (n, 1))
    return xa, _target(xa[:, 0]), xb, _target(xb[:, 0])


def _r2(pred, y):
    return 1 - np.mean((pred - y) ** 2) / np.var(y)


@pytest.mark.parametrize("cls", [KAN, MetaKAN])
def test_widening_the_grid_keeps_the_functions_exactly(cls):
    model = cls([2, 3, 1], grid=5, dtype=torch.float64, seed=0)
    gen = torch.Generator().manual_seed(0)
    old = torch.rand(200, 2, generator=gen, dtype=torch.float64) * 2 - 1
    model.update_grid(old)  # non-uniform knots
    new = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 6 - 1
    both = torch.cat([old, new])
    with torch.no_grad():
        before = model(both)
    added = model.widen_grids(new)
    with torch.no_grad():
        after = model(both)
    assert any(left or right for left, right in added)
    assert torch.allclose(before, after, rtol=0, atol=1e-12)
    layer0 = model.layers[0]
    core = layer0.knots[:, layer0.k : layer0.grid + layer0.k + 1]
    assert bool((core[:, 0] <= new[:, 0].min()).all() and (core[:, -1] >= new.max(0).values).all())
    assert model.widen_grids(new) == [(0, 0)] * len(model.layers)  # already covered


def test_widening_is_capped_for_far_away_data():
    model = KAN([1, 1], grid=5, dtype=torch.float64, seed=0)
    added = model.widen_grids(torch.tensor([[1e6]], dtype=torch.float64))
    assert added == [(0, 4 * 5 + 16)]


def test_kan_keeps_the_old_region_where_an_mlp_forgets():
    xa, ya, xb, yb = _phases()
    old_grid = np.linspace(-1, 0, 201)[:, None]
    new_grid = np.linspace(0, 1, 201)[:, None]
    truth_old, truth_new = _target(old_grid[:, 0]), _target(new_grid[:, 0])

    kan = KANRegressor(
        hidden_layer_sizes=(), grid=20, symbolic=False, warm_start=True, random_state=0
    )
    kan.fit(xa, ya)
    before = kan.predict(old_grid)
    scaling = (kan.x_mean_.copy(), kan.x_scale_.copy(), kan.y_mean_, kan.y_scale_)
    kan.fit(xb, yb)
    after = kan.predict(old_grid)
    assert _r2(before, truth_old) > 0.999
    assert _r2(kan.predict(new_grid), truth_new) > 0.999  # it learned the new region ...
    assert _r2(after, truth_old) > 0.999  # ... and kept the old one
    assert np.max(np.abs(after - before)) < 0.05
    np.testing.assert_array_equal(kan.x_mean_, scaling[0])  # units of the first fit
    assert (kan.y_mean_, kan.y_scale_) == scaling[2:]
    n_kan = sum(p.numel() for p in kan.module_.parameters())

    # an MLP of about the same size, fitted the same way, loses the old region
    mlp = MLPRegressor(
        hidden_layer_sizes=(8,),
        activation="tanh",
        solver="lbfgs",
        max_iter=5000,
        tol=1e-9,
        warm_start=True,
        random_state=0,
    )
    mlp.fit(xa, ya)
    mlp_before = mlp.predict(old_grid)
    mlp.fit(xb, yb)
    n_mlp = sum(w.size for w in mlp.coefs_ + mlp.intercepts_)
    assert n_mlp <= n_kan
    assert _r2(mlp_before, truth_old) > 0.99  # it had learned the old region
    assert _r2(mlp.predict(old_grid), truth_old) < 0.5  # and forgot it


def test_without_warm_start_fit_starts_afresh():
    xa, ya, xb, yb = _phases(n=200)
    est = KANRegressor(hidden_layer_sizes=(), grid=10, symbolic=False, random_state=0)
    fresh = KANRegressor(hidden_layer_sizes=(), grid=10, symbolic=False, random_state=0)
    est.fit(xa, ya).fit(xb, yb)
    fresh.fit(xb, yb)
    grid = np.linspace(-1, 1, 50)[:, None]
    np.testing.assert_array_equal(est.predict(grid), fresh.predict(grid))


def test_warm_start_rejects_a_changed_shape():
    xa, ya, xb, yb = _phases(n=100)
    est = KANRegressor(
        hidden_layer_sizes=(2,), max_iter=5, symbolic=False, warm_start=True, random_state=0
    )
    est.fit(xa, ya)
    with pytest.raises(ValueError, match="features"):
        est.fit(np.hstack([xb, xb]), yb)
    est.set_params(hidden_layer_sizes=(3,))
    with pytest.raises(ValueError, match="warm_start"):
        est.fit(xb, yb)
    est.set_params(hidden_layer_sizes=(2,))
    est.fit(xb, yb)  # the estimator is still usable after the refusals
    assert np.all(np.isfinite(est.predict(xa)))


def test_warm_start_after_a_symbolic_fit_continues_the_pruned_network():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (300, 2))
    y = np.sin(2 * X[:, 0])  # x1 is irrelevant: its edges are pruned
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=30, warm_start=True, random_state=0)
    est.fit(X, y)
    masks = [layer.mask.clone() for layer in est.module_.layers]
    X2 = rng.uniform(1, 2, (300, 2))
    est.fit(X2, np.sin(2 * X2[:, 0]))
    for layer, mask in zip(est.module_.layers, masks, strict=True):
        assert torch.equal(layer.mask[mask == 0], mask[mask == 0])  # pruned stays pruned
    assert est.score(X2, np.sin(2 * X2[:, 0])) > 0.99


def test_metakan_warm_start_continues_the_meta_module(tmp_path):
    xa, ya, xb, yb = _phases(n=200)
    est = MetaKANRegressor(
        hidden_layer_sizes=(3,),
        grid=6,
        max_iter=20,
        symbolic=False,
        warm_start=True,
        random_state=0,
    )
    est.fit(xa, ya)
    first = est.meta_module_
    est.fit(xb, yb)
    assert est.meta_module_ is not first
    assert est.score(xb, yb) > 0.9
    path = tmp_path / "meta.json"
    est.save(path)
    loaded = load(path)  # the data-only format keeps the materialised network only
    with pytest.raises(ValueError, match="meta_module_"):
        loaded.fit(xa, ya)
    loaded.set_params(warm_start=False)
    assert np.all(np.isfinite(loaded.fit(xa, ya).predict(xa)))
