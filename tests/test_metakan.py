"""MetaKANRegressor: fits, materialises a plain KAN for the symbolic stage, sklearn citizen."""

import inspect

import joblib
import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from kansr import KAN, KANRegressor, MetaKAN, MetaKANRegressor

QUICK = {"hidden_layer_sizes": (3,), "max_iter": 10, "random_state": 0, "symbolic": False}
# Small and short so that scikit-learn's ~50 checks run in seconds (as for KANRegressor).
FAST = {"hidden_layer_sizes": (3,), "max_iter": 8, "grid": 4, "random_state": 0, "symbolic": False}


def _problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2


@parametrize_with_checks(
    [MetaKANRegressor(**FAST)],
    # as for KANRegressor (tests/test_sklearn_checks.py): grids follow unweighted quantiles
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": "grids follow unweighted quantiles"
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_init_lists_every_kanregressor_parameter():
    """scikit-learn reads the parameters from ``__init__``: the subclass must repeat them all."""
    mine = inspect.signature(MetaKANRegressor.__init__).parameters
    parent = inspect.signature(KANRegressor.__init__).parameters
    for name, param in parent.items():
        assert name in mine, name
        if name not in ("self", "grid_update_until"):
            assert mine[name].default == param.default, name
    assert set(MetaKANRegressor().get_params()) == set(KANRegressor().get_params()) | {
        "embedding_dim",
        "meta_hidden",
        "meta_sharing",
    }


@pytest.mark.parametrize("sharing", ["shared", "layer", "cluster"])
def test_fits_a_simple_target(sharing):
    X, y = _problem(300)
    est = MetaKANRegressor(
        hidden_layer_sizes=(3,), max_iter=30, meta_sharing=sharing, symbolic=False, random_state=0
    ).fit(X, y)
    Xt, yt = _problem(300, seed=1)
    assert est.score(Xt, yt) > 0.98
    assert type(est.module_) is KAN
    assert isinstance(est.meta_module_, MetaKAN)
    z = torch.tensor((Xt - est.x_mean_) / est.x_scale_)
    with torch.no_grad():  # the materialised KAN is the trained MetaKAN
        torch.testing.assert_close(est.module_(z), est.meta_module_(z), rtol=0, atol=1e-12)


def test_symbolic_pipeline_on_the_materialised_kan():
    X, y = _problem(300)
    est = MetaKANRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0).fit(X, y)
    assert est.equations_ is not None and len(est.equations_) >= 1
    expr = est.sympy_expr()
    assert {str(s) for s in expr.free_symbols} <= {"x0", "x1"}
    assert isinstance(est.latex(), str) and est.latex()
    assert all(isinstance(layer.weight, torch.nn.Parameter) for layer in est.module_.layers)


def test_fewer_parameters_than_the_kan_for_a_wide_network():
    X = np.random.default_rng(0).uniform(-1, 1, (40, 20))
    y = X.sum(1)
    kw = {"hidden_layer_sizes": (64, 64), "grid": 10, "max_iter": 1, "symbolic": False}
    meta = MetaKANRegressor(**kw, random_state=0).fit(X, y)
    kan = KANRegressor(**kw, random_state=0).fit(X, y)
    assert meta.meta_module_.n_parameters() * 10 <= kan.module_.n_parameters()


def test_constant_target_predicts_the_constant():
    X, _ = _problem(50)
    est = MetaKANRegressor(**QUICK).fit(X, np.full(50, 3.5))
    np.testing.assert_allclose(est.predict(X), 3.5, atol=1e-6)


def test_same_random_state_same_predictions_and_no_global_rng():
    X, y = _problem()
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    a = MetaKANRegressor(**QUICK).fit(X, y).predict(X)
    b = MetaKANRegressor(**QUICK).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    c = MetaKANRegressor(**{**QUICK, "random_state": 1}).fit(X, y).predict(X)
    assert not np.allclose(a, c)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_joblib_round_trip(tmp_path):
    X, y = _problem()
    est = MetaKANRegressor(**QUICK).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    again = joblib.load(path)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    z = torch.tensor((X - est.x_mean_) / est.x_scale_)
    with torch.no_grad():
        torch.testing.assert_close(again.meta_module_(z), est.meta_module_(z), rtol=0, atol=0)


def test_invalid_parameters_are_rejected():
    X, y = _problem(20)
    with pytest.raises(ValueError, match="meta_sharing"):
        MetaKANRegressor(meta_sharing="all").fit(X, y)
    with pytest.raises(ValueError, match="embedding_dim"):
        MetaKANRegressor(embedding_dim=0).fit(X, y)
    with pytest.raises(ValueError, match="meta_hidden"):
        MetaKANRegressor(meta_hidden=0).fit(X, y)


def test_embedding_size_grid_updates_and_penalty():
    X, y = _problem(200)
    est = MetaKANRegressor(
        hidden_layer_sizes=(3,),
        embedding_dim=2,
        meta_hidden=8,
        sparsity=1e-3,
        grid_update_until=10,
        max_iter=15,
        symbolic=False,
        random_state=0,
    ).fit(X, y)
    assert est.meta_module_.embeddings[0].shape == (2, 3, 2)
    assert est.meta_module_.meta[0].w1.shape == (8, 2)
    assert est.score(X, y) > 0.9
