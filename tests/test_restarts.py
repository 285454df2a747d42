"""Restarts inside ``fit`` through joblib (``n_restarts``, ``n_jobs``), the same result on
every backend, and ``bench/recovery.py`` on a Dask ``LocalCluster``."""

import importlib.util
import math
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning

from kansr import KANRegressor, MetaKANRegressor
from kansr.nn.restarts import Restart, best_restart
from kansr.nn.training import TrainingDiverged, TrainResult
from kansr.utils.threads import compute_threads

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"hidden_layer_sizes": (3,), "max_iter": 15, "grid": 4, "random_state": 0}


def _problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) * X[:, 1] + 0.3 * X[:, 1] ** 2


def _restart(loss, module=True):
    result = None if loss is None else TrainResult(best_loss=loss)
    return Restart(0, torch.nn.Linear(1, 1) if module else None, result, "diverged")


def test_best_restart_is_the_lowest_loss_first_among_equals():
    restarts = [_restart(2.0), _restart(1.0), _restart(1.0), _restart(None, module=False)]
    assert best_restart(restarts) is restarts[1]
    assert best_restart([_restart(None, module=False), _restart(math.inf)]).module is not None
    with pytest.raises(TrainingDiverged, match="diverged"):
        best_restart([_restart(None, module=False)] * 2)


def test_torch_threads_restores_the_count_under_concurrent_use():
    before = torch.get_num_threads()
    barrier = threading.Barrier(2)
    seen = []

    def work():
        with compute_threads(1):
            barrier.wait()
            seen.append(torch.get_num_threads())
            barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1, 1]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("cls", [KANRegressor, MetaKANRegressor])
def test_restarts_same_result_for_any_n_jobs_and_never_worse(cls):
    X, y = _problem()
    single = cls(**SMALL, symbolic=False).fit(X, y)
    serial = cls(**SMALL, symbolic=False, n_restarts=3).fit(X, y)
    parallel = cls(**SMALL, symbolic=False, n_restarts=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(serial.predict(X), parallel.predict(X))
    assert serial.loss_curve_ == parallel.loss_curve_
    # restart 0 is the single fit's network, so the best of three is at least as good
    assert min(serial.loss_curve_) <= min(single.loss_curve_)


def test_restarts_with_threads_backend_match_processes():
    X, y = _problem()
    est = KANRegressor(**SMALL, n_restarts=2, n_jobs=2, symbolic=False)
    by_processes = est.fit(X, y).predict(X)
    before = torch.get_num_threads()
    with parallel_config(backend="threading"):
        by_threads = est.fit(X, y).predict(X)
    np.testing.assert_array_equal(by_processes, by_threads)
    assert torch.get_num_threads() == before


def test_same_random_state_same_formula_across_n_jobs():
    X, y = _problem(300)
    kwargs = {**SMALL, "max_iter": 20, "n_restarts": 2}
    a = KANRegressor(**kwargs, n_jobs=1).fit(X, y)
    b = KANRegressor(**kwargs, n_jobs=2).fit(X, y)
    assert str(a.sympy_expr()) == str(b.sympy_expr())
    pd.testing.assert_frame_equal(a.equations_, b.equations_)


def test_max_time_holds_across_parallel_restarts():
    X, y = _problem(500)
    est = KANRegressor(
        hidden_layer_sizes=(4,),
        max_iter=100_000,
        tol=0,
        n_restarts=4,
        n_jobs=2,
        max_time=3,
        symbolic=False,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="max_time"):
        est.fit(X, y)
    assert est.stop_reason_ == "max_time"
    # wall-clock deadline shared by the workers: 4 restarts on 2 workers do not take 2 x 3 s
    assert est.fit_time_ < 3 + 20  # generous for process start-up on a loaded machine


def _dask():
    pytest.importorskip("dask")
    return pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client():
    distributed = _dask()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_restarts_run_on_a_dask_cluster(dask_client):
    distributed = _dask()
    X, y = _problem()
    est = KANRegressor(**SMALL, n_restarts=2, n_jobs=2, symbolic=False)
    local = est.fit(X, y).predict(X)
    with distributed.get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
        remote = est.fit(X, y).predict(X)
    assert len(tasks.data) >= 2  # the restarts ran as tasks on the cluster
    np.testing.assert_array_equal(local, remote)


def _recovery_module():
    spec = importlib.util.spec_from_file_location(
        "kansr_bench_recovery", ROOT / "bench/recovery.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recovery_benchmark_runs_on_a_dask_cluster(dask_client, tmp_path, monkeypatch):
    distributed = _dask()
    shared = Path(os.environ.get("KANSR_SHARED", ROOT.parent / "shared")) / "benchmarks"
    if not (shared / "feynman.csv").is_file():
        pytest.skip(f"benchmark tables not found at {shared} (set KANSR_SHARED)")
    recovery = _recovery_module()
    out = tmp_path / "dask.csv"
    monkeypatch.setattr(sys, "argv", ["recovery.py"])
    with distributed.get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
        assert recovery.main(["--problems", "I.12.1,II.3.24", "--out", str(out)]) == 0
    assert len(tasks.data) >= 2
    results = pd.read_csv(out)
    assert sorted(results["name"]) == ["I.12.1", "II.3.24"]
    assert results["error"].isna().all()
    assert results["symbolic_solution"].all()  # Nn*mu and Pwr/(4*pi*r**2): both exact


def test_compute_threads_sets_and_restores_the_blas_threads():
    from threadpoolctl import threadpool_info

    def blas_counts():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_counts()
    if not before:
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    with compute_threads(1):
        assert blas_counts() == [1] * len(before)
    assert blas_counts() == before


def test_the_searches_run_with_the_fits_blas_threads(monkeypatch):
    """The symbolic stage's linear algebra must not use as many BLAS threads as the machine
    has cores: an exact rational fit on two threads kept 60 coefficients of 1e-14 that one
    thread dropped (Feynman test_4)."""
    from threadpoolctl import threadpool_info

    import kansr.estimators.kan as kan_module

    if not [p for p in threadpool_info() if p["user_api"] == "blas"]:
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    seen = []
    original = kan_module.KANRegressor._search_formulas

    def recording(self, *args, **kwargs):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(kan_module.KANRegressor, "_search_formulas", recording)
    X, y = _problem()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        KANRegressor(**SMALL).fit(X, y)
    assert seen and set(seen) == {1}
