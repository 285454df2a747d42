"""Training loops: convergence, early stopping, divergence recovery, time limits."""

import math
import time

import pytest
import torch

import kansr.nn.training as training
from kansr.nn.network import KAN
from kansr.nn.training import TrainConfig, TrainingDiverged, train
from kansr.utils.deadline import Deadline


def _data(n=300, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = (torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2).clone()
    return x, y


def test_lbfgs_fits_smooth_function():
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    result = train(model, x, y, TrainConfig(max_iter=20))
    assert result.loss_curve[-1] < 1e-3 < result.loss_curve[0]
    assert result.n_iter == len(result.loss_curve) <= 20


def test_adam_with_validation_keeps_best_parameters():
    x, y = _data(400)
    xv, yv = _data(100, seed=1)
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    cfg = TrainConfig(
        solver="adam", max_iter=60, batch_size=64, n_iter_no_change=5, grid_update_until=10
    )
    result = train(model, x, y, cfg, x_val=xv, y_val=yv, generator=torch.Generator().manual_seed(0))
    assert len(result.validation_curve) == result.n_iter
    with torch.no_grad():
        final = float(torch.mean((model(xv) - yv) ** 2))
    assert math.isclose(final, min(result.validation_curve), rel_tol=1e-9)
    assert result.stop_reason in {"early_stopping", "max_iter"}


def test_recovers_from_non_finite_loss(monkeypatch):
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    real = training._objective
    calls = {"n": 0}

    def flaky(model, x, y, cfg):
        calls["n"] += 1
        loss = real(model, x, y, cfg)
        return loss * math.nan if calls["n"] in (3, 4, 5) else loss

    monkeypatch.setattr(training, "_objective", flaky)
    result = train(model, x, y, TrainConfig(solver="adam", max_iter=10, batch_size=300))
    assert result.n_recoveries >= 1
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(math.isfinite(v) for v in result.loss_curve)


def test_persistent_divergence_raises_and_leaves_finite_weights(monkeypatch):
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    always_inf = lambda *a: torch.tensor(math.inf, requires_grad=True)  # noqa: E731
    monkeypatch.setattr(training, "_objective", always_inf)
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(model, x, y, TrainConfig(max_iter=50, max_recoveries=3))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_max_time_stops_training():
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    result = train(model, x, y, TrainConfig(max_iter=10_000, tol=0.0), deadline=Deadline.after(0.3))
    assert result.stop_reason == "max_time" and result.n_iter < 10_000


def test_sparsity_penalty_shrinks_edges():
    x, y = _data()
    dense = KAN([2, 4, 1], dtype=torch.float64, seed=0)
    sparse = KAN([2, 4, 1], dtype=torch.float64, seed=0)
    train(dense, x, y, TrainConfig(max_iter=15))
    train(sparse, x, y, TrainConfig(max_iter=15, sparsity=0.01))
    total = [sum(float(s.sum()) for s in m.edge_scores(x)) for m in (dense, sparse)]
    with torch.no_grad():
        l1 = [float(m.layers[0].edge_std(m.layers[0].basis(x)).sum()) for m in (dense, sparse)]
    assert l1[1] < l1[0] and total[1] < total[0]


def test_verbose_prints_losses(capsys):
    x, y = _data(100)
    xv, yv = _data(50, seed=2)
    model = KAN([2, 2, 1], dtype=torch.float64, seed=0)
    train(model, x, y, TrainConfig(max_iter=10, verbose=1, print_every=5), x_val=xv, y_val=yv)
    out = capsys.readouterr().out
    assert "train loss" in out and "validation loss" in out


def test_deadline_stops_inside_a_long_lbfgs_step(monkeypatch):
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    real = training._objective

    def slow(*args):  # every function evaluation takes 50 ms: one LBFGS step takes > 0.5 s
        time.sleep(0.05)
        return real(*args)

    monkeypatch.setattr(training, "_objective", slow)
    cfg = TrainConfig(max_iter=100, lbfgs_inner_iter=50, tol=0.0, grid_update_until=0)
    start = time.perf_counter()
    result = train(model, x, y, cfg, deadline=Deadline(start + 0.3))
    assert time.perf_counter() - start < 0.3 + 0.5
    assert result.stop_reason == "max_time"
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_keyboard_interrupt_keeps_the_last_good_state(monkeypatch, solver):
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    real = training._objective
    calls = {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(training, "_objective", interrupted)
    cfg = TrainConfig(solver=solver, max_iter=200, batch_size=64, tol=0.0, grid_update_until=0)
    result = train(model, x, y, cfg)
    assert result.stop_reason == "interrupted"
    assert 0 < result.n_iter < 200 and len(result.loss_curve) == result.n_iter
    with torch.no_grad():
        final = float(torch.mean((model(x) - y) ** 2))
    assert math.isfinite(final) and final <= result.loss_curve[0] * 1.01


def test_no_finite_step_at_all_raises(monkeypatch):
    x, y = _data()
    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    monkeypatch.setattr(training, "_objective", lambda *a: torch.tensor(math.nan))
    with pytest.raises(TrainingDiverged, match="no step"):
        train(model, x, y, TrainConfig(max_iter=3, max_recoveries=8))


def test_deadline_values():
    never = Deadline()
    assert not never.bounded and not never.expired() and never.remaining() == math.inf
    assert never.wall() is None and not Deadline.after(None).bounded
    soon = Deadline.after(10.0)
    assert soon.bounded and 9.0 < soon.remaining() <= 10.0 and not soon.expired()
    half = soon.share(0.5)
    assert 4.0 < half.remaining() <= 5.0
    assert soon.earliest(half) is half and half.earliest(never) is half
    assert Deadline.after(-1.0).expired() and Deadline.after(-1.0).at_least(2.0).remaining() > 1.0
    # the wall-clock form round-trips (another process rebuilds the same moment)
    assert abs(Deadline.from_wall(soon.wall()).remaining() - soon.remaining()) < 0.05


def test_allocator_is_tuned_at_most_once_per_process(monkeypatch):
    import kansr.utils.allocator as allocator

    calls = []
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator, "_set_thresholds", lambda: calls.append(1) or False)
    x, y = _data(50)
    for _ in range(2):
        train(KAN([2, 2, 1], dtype=torch.float64, seed=0), x, y, TrainConfig(max_iter=2))
    assert calls == [1] and allocator.tune_allocator() is False and calls == [1]


def test_allocator_is_left_alone_without_mallopt(monkeypatch):
    import kansr.utils.allocator as allocator

    class NoMallopt:  # a C library without mallopt (e.g. musl)
        pass

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: NoMallopt())
    assert allocator.tune_allocator() is False
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.tune_allocator() is False
