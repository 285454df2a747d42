"""KANRegressor as a scikit-learn citizen: pipelines, pandas, pickling, determinism, errors."""

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kansr import KANRegressor

QUICK = {"hidden_layer_sizes": (3,), "max_iter": 10, "random_state": 0, "symbolic": False}


def _problem(n=200, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = scale * (np.sin(2 * X[:, 0]) + X[:, 1] ** 2)
    return X, y


def test_fit_returns_self_and_predicts_well():
    X, y = _problem(300)
    est = KANRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0)
    assert est.fit(X, y) is est
    Xt, yt = _problem(300, seed=1)
    assert est.predict(Xt).shape == (300,)
    assert est.score(Xt, yt) > 0.99
    assert est.n_iter_ >= 1 and est.loss_curve_ and est.fit_time_ > 0


def test_scaling_is_recorded_and_target_scale_does_not_matter():
    X, y = _problem()
    small = KANRegressor(**QUICK).fit(X, y)
    big = KANRegressor(**QUICK).fit(X * 1000 + 5, y * 1e6 - 3)
    np.testing.assert_allclose(big.x_mean_, X.mean(0) * 1000 + 5)
    np.testing.assert_allclose(big.x_scale_, X.std(0) * 1000)
    assert big.y_scale_ == pytest.approx(y.std() * 1e6)
    # standardisation makes the fit invariant to units (up to rounding)
    np.testing.assert_allclose(
        (big.predict(X * 1000 + 5) + 3) / 1e6, small.predict(X), rtol=1e-5, atol=1e-5
    )


def test_pipeline_in_grid_search_with_two_jobs():
    X, y = _problem(120)
    pipe = make_pipeline(StandardScaler(), KANRegressor(max_iter=5, random_state=0))
    search = GridSearchCV(pipe, {"kanregressor__hidden_layer_sizes": [(2,), (3,)]}, cv=2, n_jobs=2)
    search.fit(X, y)
    assert search.best_params_["kanregressor__hidden_layer_sizes"] in [(2,), (3,)]
    assert search.predict(X).shape == (120,)


def test_pandas_input_keeps_feature_names():
    X, y = _problem()
    frame = pd.DataFrame(X, columns=["mass", "velocity"])
    est = KANRegressor(**QUICK).fit(frame, pd.Series(y, name="energy"))
    assert list(est.feature_names_in_) == ["mass", "velocity"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = est.predict(frame.to_numpy())  # allowed, as in scikit-learn
    np.testing.assert_allclose(est.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(frame.rename(columns={"mass": "m"}))


def test_joblib_round_trip(tmp_path):
    X, y = _problem()
    est = KANRegressor(**QUICK).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    again = joblib.load(path)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


def test_same_random_state_same_predictions_and_no_global_rng():
    X, y = _problem()
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    a = KANRegressor(**QUICK).fit(X, y).predict(X)
    b = KANRegressor(**QUICK).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    c = KANRegressor(**{**QUICK, "random_state": 1}).fit(X, y).predict(X)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), np.ones(3), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]), np.ones(3), "infinity"),
        (np.ones((3, 2)), np.array([1.0, np.nan, 2.0]), "NaN"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object), np.ones(3), "string"),
        (np.empty((0, 2)), np.empty(0), "0 sample"),
        (np.ones((4, 2)), np.ones(3), "inconsistent numbers of samples"),
    ],
)
def test_bad_input_raises_clear_value_error(X, y, message):
    with pytest.raises(ValueError, match=message):
        KANRegressor(**QUICK).fit(X, y)


def test_non_numeric_dataframe_column_is_named():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    with pytest.raises(ValueError, match="string"):
        KANRegressor(**QUICK).fit(frame, [1.0, 2.0, 3.0])


def test_wrong_feature_count_at_predict():
    X, y = _problem()
    est = KANRegressor(**QUICK).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        est.predict(np.ones((5, 3)))


def test_unfitted_predict_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KANRegressor().predict(np.ones((2, 2)))


def test_constant_target_predicts_the_constant():
    X, _ = _problem(50)
    est = KANRegressor(**QUICK).fit(X, np.full(50, 3.5))
    np.testing.assert_allclose(est.predict(X), 3.5, atol=1e-6)


def test_invalid_parameters_are_rejected():
    X, y = _problem(20)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        KANRegressor(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        KANRegressor(solver="sgd").fit(X, y)


def test_early_stopping_and_verbose(capsys):
    X, y = _problem(200)
    est = KANRegressor(
        hidden_layer_sizes=(3,), max_iter=15, early_stopping=True, verbose=1, random_state=0
    ).fit(X, y)
    assert len(est.validation_scores_) == len(est.loss_curve_)
    assert "validation loss" in capsys.readouterr().out


def test_float32_and_adam():
    X, y = _problem(300)
    est = KANRegressor(
        hidden_layer_sizes=(3,),
        solver="adam",
        max_iter=40,
        dtype="float32",
        batch_size=64,
        learning_rate_init=0.02,
        random_state=0,
    ).fit(X, y)
    assert est.module_.layers[0].weight.dtype == torch.float32
    assert est.score(X, y) > 0.9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_fit_matches_cpu():
    X, y = _problem(200)
    cpu = KANRegressor(**QUICK).fit(X, y)
    gpu = KANRegressor(**QUICK, device="cuda").fit(X, y)
    assert gpu.module_.layers[0].weight.device.type == "cuda"
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=1e-4, atol=1e-4)
