"""sample_weight: in training, the searches' refits, the losses, the errors and selection."""

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from kansr import KANRegressor, MetaKANRegressor


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, (n, 1))
    y = 1.7 * X[:, 0] ** 2 + 0.3
    return X, y


def test_rows_of_weight_zero_are_ignored():
    X, y = _data()
    y_bad = y.copy()
    y_bad[::4] += 50.0  # gross outliers ...
    w = np.ones(len(y))
    w[::4] = 0.0  # ... that the weights switch off
    weighted = KANRegressor(max_iter=20, random_state=0).fit(X, y_bad, sample_weight=w)
    assert weighted.score(X, y) > 0.9999
    plain = KANRegressor(max_iter=20, random_state=0).fit(X, y_bad)
    assert plain.score(X, y) < 0.9


def test_losses_and_errors_are_weighted():
    rng = np.random.default_rng(3)
    X, y = _data(3)
    sigma = np.where(X[:, 0] > 1.25, 0.5, 0.005)
    noisy = y + rng.normal(0, sigma)
    est = KANRegressor(max_iter=20, random_state=0).fit(X, noisy, sample_weight=1 / sigma**2)
    table = est.equations_
    expr = table["sympy_format"].iloc[est.selected_index_]
    from kansr.symbolic.expressions import mse

    w = 1 / sigma**2
    assert table["loss"].iloc[est.selected_index_] == pytest.approx(mse(expr, X, noisy, w))
    # the precise half decides: the law holds to its noise there
    precise = X[:, 0] <= 1.25
    assert np.sqrt(np.mean((est.predict(X[precise]) - y[precise]) ** 2)) < 0.01


def test_equal_weights_change_nothing():
    X, y = _data()
    a = KANRegressor(max_iter=10, random_state=0).fit(X, y)
    b = KANRegressor(max_iter=10, random_state=0).fit(X, y, sample_weight=np.full(len(y), 3.0))
    assert a.sympy_expr() == b.sympy_expr()


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (-np.ones(120), "(?i)negative"),
        (np.zeros(120), "non-zero"),
        (np.full(120, np.nan), "NaN|finite"),
        (np.ones(7), "7"),
    ],
)
def test_bad_weights_are_named(weights, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        KANRegressor(max_iter=2).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("cls", [KANRegressor, MetaKANRegressor])
def test_weights_reach_the_estimator_through_a_pipeline(cls):
    X, y = _data()
    y_bad = y.copy()
    y_bad[::4] += 50.0
    w = np.ones(len(y))
    w[::4] = 0.0
    with sklearn.config_context(enable_metadata_routing=True):
        est = cls(max_iter=20, random_state=0).set_fit_request(sample_weight=True)
        pipe = Pipeline([("identity", FunctionTransformer()), ("kan", est)])
        pipe.fit(X, y_bad, sample_weight=w)
        assert pipe.score(X, y) > 0.999
