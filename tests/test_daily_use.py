"""What a user meets in the first minutes: stage names, interrupts, time budgets."""

import time

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import kansr.estimators.kan as kan_module
from kansr import KANRegressor


def _data(n=80):
    X = np.linspace(-1, 1, n)[:, None]
    return X, X[:, 0] ** 2 + 0.5 * X[:, 0]


def test_verbose_names_every_stage_with_its_time(capsys):
    X, y = _data()
    KANRegressor(max_iter=3, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr()
    text = out.out + out.err
    for stage in (
        "prepare data",
        "train the network",
        "structure search on the data",
        "prune, retrain and read formulas off the network",
        "drop needless offsets",
    ):
        assert f"kansr: {stage} ..." in text
        assert f"kansr: {stage} done in" in text


def test_silent_by_default(capsys):
    X, y = _data()
    KANRegressor(max_iter=3, random_state=0).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and "kansr:" not in out.err


@pytest.mark.parametrize("where", ["run_restarts", "validate_input"])
def test_an_interrupt_leaves_the_estimator_unfitted(monkeypatch, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kan_module, where, interrupted)
    est = KANRegressor(max_iter=3, n_restarts=2, random_state=0)
    X, y = _data()
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    monkeypatch.undo()
    est.fit(X, y)  # and it can be fitted afterwards
    assert est.predict(X).shape == (len(X),)


def test_an_interrupted_warm_start_keeps_the_previous_fit(monkeypatch):
    X, y = _data()
    est = KANRegressor(max_iter=3, warm_start=True, symbolic=False, random_state=0).fit(X, y)
    before = est.predict(X)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kan_module, "train_weighted", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X + 0.5, y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_max_time_with_parallel_restarts_does_not_pay_worker_start_up():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 2))
    y = np.sin(X[:, 0]) * X[:, 1]
    est = KANRegressor(max_iter=100_000, tol=0, max_time=3, n_restarts=2, n_jobs=2)
    start = time.perf_counter()
    with pytest.warns(ConvergenceWarning, match="max_time"):
        est.set_params(random_state=0).fit(X, y)
    # 3 s of budget, at least 2 s for the symbolic stage, one indivisible step of slack
    assert time.perf_counter() - start < 3 + 2 + 4


def test_feature_importances_follow_the_network_and_survive_saving(tmp_path):
    import kansr

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    y = np.sin(2 * X[:, 0]) + 0.1 * X[:, 1]  # x2 is not used at all
    est = KANRegressor(max_iter=20, random_state=0).fit(X, y)
    imp = est.feature_importances_
    assert imp.shape == (3,) and np.isclose(imp.sum(), 1.0) and np.all(imp >= 0)
    assert imp[0] > imp[1] > imp[2]
    est.save(tmp_path / "m.json")
    np.testing.assert_array_equal(kansr.load(tmp_path / "m.json").feature_importances_, imp)


def test_printing_equations_shows_the_formulas(capsys):
    X, y = _data()
    est = KANRegressor(max_iter=5, random_state=0).fit(X, y)
    print(est.equations_)
    out = capsys.readouterr().out
    assert "rows x" not in out and "columns]" not in out
    for text in est.equations_["equation"]:
        assert text in out


def test_warm_start_with_another_dtype_is_refused():
    X, y = _data()
    est = KANRegressor(max_iter=3, warm_start=True, symbolic=False, random_state=0).fit(X, y)
    est.set_params(dtype="float32")
    with pytest.raises(ValueError, match="warm_start continues the fitted network in float64"):
        est.fit(X, y)
