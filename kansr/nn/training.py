"""Training loops for KANs: full-batch LBFGS and mini-batch Adam.

Both minimise ``mean squared error + sparsity * penalty`` (the penalty is the network's exact
sample-based sparsity term), can hold out a validation set with early stopping, refresh the
grids from the data during the first steps, and recover from a non-finite loss by restoring
the last good parameters and lowering the step size instead of returning NaN weights.

Training also stops cleanly, keeping the last good parameters, when its wall-clock budget runs
out (checked between steps, between mini-batches and inside the LBFGS closure, so one long
LBFGS step cannot overrun it) and on ``KeyboardInterrupt`` (``stop_reason="interrupted"``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch

from kansr.nn.network import KAN
from kansr.utils.allocator import tune_allocator
from kansr.utils.deadline import Deadline, OutOfTime

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "train"]


class TrainingDiverged(RuntimeError):
    """Raised when the loss stays non-finite after every recovery attempt."""


@dataclass
class TrainConfig:
    """Settings of :func:`train` (units: steps are optimizer steps, or epochs for Adam)."""

    solver: str = "lbfgs"  # "lbfgs" (full batch) or "adam" (mini-batches)
    max_iter: int = 100
    lbfgs_inner_iter: int = 10  # LBFGS iterations per step
    learning_rate: float | None = None  # None: 1.0 for LBFGS, 1e-2 for Adam
    batch_size: int = 256  # Adam only
    tol: float = 1e-7  # relative loss improvement that counts as progress
    n_iter_no_change: int = 10
    sparsity: float = 0.0  # weight of the sparsity penalty
    l1_weight: float = 1.0
    entropy_weight: float = 2.0
    grid_update_every: int = 5  # refresh grids from data every this many steps ...
    grid_update_until: int = 50  # ... until this step (0 disables)
    grid_eps: float = 0.02
    grid_update_samples: int = 100_000  # grids are refreshed from at most this many rows
    clip_grad_norm: float | None = 100.0  # Adam only
    max_recoveries: int = 8
    verbose: int = 0
    print_every: int = 10


@dataclass
class TrainResult:
    """What happened in :func:`train`."""

    n_iter: int = 0
    loss_curve: list[float] = field(default_factory=list)
    validation_curve: list[float] = field(default_factory=list)
    best_loss: float = math.inf
    n_recoveries: int = 0
    stop_reason: str = "max_iter"  # also "converged", "early_stopping", "max_time", "interrupted"


def _objective(model: KAN, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    if cfg.sparsity > 0:
        out, penalty = model.forward_with_penalty(x, cfg.l1_weight, cfg.entropy_weight)
        return torch.mean((out - y) ** 2) + cfg.sparsity * penalty
    return torch.mean((model(x) - y) ** 2)


@torch.no_grad()
def _mse(model: KAN, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> float:
    total = 0.0
    for start in range(0, x.shape[0], chunk):
        diff = model(x[start : start + chunk]) - y[start : start + chunk]
        total += float((diff**2).sum())
    return total / max(x.shape[0], 1)


def _finite(model: KAN) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _make_optimizer(model: KAN, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    if cfg.solver == "lbfgs":
        return torch.optim.LBFGS(
            model.parameters(),
            lr=lr,
            max_iter=cfg.lbfgs_inner_iter,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-12,
            tolerance_change=1e-14,
        )
    if cfg.solver == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    raise ValueError(f"unknown solver {cfg.solver!r}; use 'lbfgs' or 'adam'")


def train(
    model: KAN,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    gradient_masks: dict[torch.nn.Parameter, torch.Tensor] | None = None,
    deadline: Deadline | None = None,
) -> TrainResult:
    """Fit ``model`` to ``x (n, n_in)`` and ``y (n, n_out)`` in place.

    ``gradient_masks`` maps parameters to 0/1 tensors of their shape: entries with 0 get no
    gradient and stay fixed (e.g. :meth:`KAN.local_gradient_masks` for continued training).

    With a validation set the parameters with the lowest validation loss are restored at the
    end and training stops after ``n_iter_no_change`` steps without improvement; without one
    the training objective decides. Raises :class:`TrainingDiverged` when the loss cannot be
    made finite again.

    When ``deadline`` passes, training stops within one mini-batch or one
    LBFGS function evaluation (``stop_reason="max_time"``); a ``KeyboardInterrupt`` stops it
    at once (``stop_reason="interrupted"``, not re-raised). Either way the model keeps the
    parameters of the last completed step (or the mid-step ones when their loss is finite and
    lower), never half-updated or non-finite ones.
    """
    handles = [
        param.register_hook(lambda grad, keep=keep: grad * keep)
        for param, keep in (gradient_masks or {}).items()
    ]
    try:
        return _train(model, x, y, config, x_val, y_val, generator, deadline or Deadline())
    finally:
        for handle in handles:
            handle.remove()


def _train(model, x, y, config, x_val, y_val, generator, deadline: Deadline) -> TrainResult:
    """:func:`train` without the gradient masks."""
    cfg = config or TrainConfig()
    tune_allocator()
    run = _Run(model, x, y, cfg, x_val, y_val, generator, deadline)
    if not _initial_grid_update(run):
        return run.result
    run.optimizer = _make_optimizer(model, cfg, run.lr)
    run.states = _States(model)
    for step in range(1, cfg.max_iter + 1):
        if deadline.expired():
            run.stop("max_time")
            break
        outcome = _solver_step(run, step)
        if outcome is None:
            break
        loss, out_of_time = outcome
        if not math.isfinite(loss) or not _finite(model):
            if _recover(run, step, out_of_time):
                continue
            break
        if _accept_step(run, step, loss, out_of_time):
            break
    return _finish(run)


class _States:
    """The last good parameters (restored after a failed, cut or interrupted step) and, with
    a validation set, those of the lowest validation loss (restored at the end)."""

    def __init__(self, model: KAN) -> None:
        self.model = model
        self.good = copy.deepcopy(model.state_dict())
        self.good_loss = math.inf  # training loss of the last good step
        self.best = self.good
        self.best_loss = math.inf  # the monitored loss of the best step

    def save_good(self, loss: float) -> None:
        self.good = copy.deepcopy(self.model.state_dict())
        self.good_loss = loss

    def restore_good(self) -> None:
        self.model.load_state_dict(self.good)

    def restore_best(self) -> None:
        if self.best is not self.good:
            self.model.load_state_dict(self.best)


class _Run:
    """What one :func:`train` call works on and keeps track of."""

    def __init__(self, model, x, y, cfg: TrainConfig, x_val, y_val, generator, deadline) -> None:
        self.model, self.x, self.y, self.cfg = model, x, y, cfg
        self.x_val, self.y_val = x_val, y_val
        self.use_val = x_val is not None and y_val is not None and x_val.shape[0] > 0
        self.generator, self.deadline = generator, deadline
        self.lr = cfg.learning_rate or (1.0 if cfg.solver == "lbfgs" else 1e-2)
        # grid updates hold (rows, n_in, n_out) activations: use evenly spaced rows of big data
        self.x_grid = x[:: math.ceil(x.shape[0] / cfg.grid_update_samples)] if x.shape[0] else x
        self.result = TrainResult()
        self.optimizer: torch.optim.Optimizer | None = None
        self.states: _States | None = None
        self.no_change = 0  # steps since the monitored loss last improved

    def stop(self, reason: str, restore: bool = False) -> None:
        """End training with ``reason``, back at the last good state when ``restore``."""
        if restore:
            self.states.restore_good()
        self.result.stop_reason = reason

    def closure(self) -> torch.Tensor:
        """The LBFGS objective and its gradient; :class:`OutOfTime` once the deadline passed."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = _objective(self.model, self.x, self.y, self.cfg)
        if self.deadline.expired():
            raise OutOfTime(float(loss.detach()))
        if torch.isfinite(loss):
            loss.backward()
        return loss


def _initial_grid_update(run: _Run) -> bool:
    """Fit the grids to the data before the first step; ``False`` when interrupted (then the
    model is as it was)."""
    model = run.model
    before = copy.deepcopy(model.state_dict())
    try:
        if run.cfg.grid_update_until > 0:
            model.update_grid(run.x_grid, run.cfg.grid_eps)
    except KeyboardInterrupt:
        model.load_state_dict(before)
        run.result.stop_reason = "interrupted"
        return False
    return True


def _solver_step(run: _Run, step: int) -> tuple[float, bool] | None:
    """Step ``step``: a grid update when one is due, then one LBFGS step or Adam epoch.

    Returns its loss and whether the deadline cut it short, or ``None`` when training stops
    here (interrupted, or out of time without a better state; then at the last good state).
    """
    cfg = run.cfg
    try:
        if 0 < step <= cfg.grid_update_until and step % cfg.grid_update_every == 0 and step > 1:
            run.model.update_grid(run.x_grid, cfg.grid_eps)
            run.optimizer = _make_optimizer(run.model, cfg, run.lr)
        if cfg.solver == "lbfgs":
            return _lbfgs_step(run)
        return _adam_epoch(run)
    except KeyboardInterrupt:
        return run.stop("interrupted", restore=True)


def _lbfgs_step(run: _Run) -> tuple[float, bool] | None:
    """One LBFGS step: its loss, ``False``. When the deadline passes inside it, the parameters
    it reached are kept (loss, ``True``) only when their loss is finite and lower than the last
    good one; otherwise training stops at the last good state (``None``)."""
    try:
        return float(run.optimizer.step(run.closure).detach()), False
    except OutOfTime as stop:
        if stop.loss < run.states.good_loss and _finite(run.model):  # (False for NaN)
            return stop.loss, True
        return run.stop("max_time", restore=True)


def _adam_epoch(run: _Run) -> tuple[float, bool]:
    """One Adam pass over shuffled mini-batches: the mean batch loss, and whether the deadline
    ended the pass early (then the mean over the batches done; at least one is done). The loss
    is NaN as soon as a batch's loss is not finite (that batch takes no step)."""
    model, x, y, cfg = run.model, run.x, run.y, run.cfg
    n = x.shape[0]
    order = torch.randperm(n, generator=run.generator, device="cpu").to(x.device)
    total, seen = 0.0, 0
    for begin in range(0, n, cfg.batch_size):
        if seen and run.deadline.expired():
            return total / seen, True
        idx = order[begin : begin + cfg.batch_size]
        run.optimizer.zero_grad(set_to_none=True)
        batch_loss = _objective(model, x[idx], y[idx], cfg)
        if not torch.isfinite(batch_loss):
            return math.nan, False
        batch_loss.backward()
        if cfg.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
        run.optimizer.step()
        total += float(batch_loss.detach()) * idx.shape[0]
        seen += idx.shape[0]
    return total / n, False


def _recover(run: _Run, step: int, out_of_time: bool) -> bool:
    """After a non-finite loss or parameters: back to the last good state with half the
    learning rate and a fresh optimizer. ``False`` when there is no time left to recover (then
    training stops); raises :class:`TrainingDiverged` after ``max_recoveries``."""
    cfg, result = run.cfg, run.result
    result.n_recoveries += 1
    if out_of_time:
        run.stop("max_time", restore=True)
        return False
    run.states.restore_good()
    if result.n_recoveries > cfg.max_recoveries:
        raise TrainingDiverged(
            f"loss stayed non-finite after {cfg.max_recoveries} recoveries "
            f"(last learning rate {run.lr:.3g})"
        )
    run.lr *= 0.5
    run.optimizer = _make_optimizer(run.model, cfg, run.lr)
    if cfg.verbose:
        print(f"step {step}: non-finite loss, restored last good state, lr -> {run.lr:.3g}")
    return True


def _accept_step(run: _Run, step: int, train_loss: float, out_of_time: bool) -> bool:
    """Keep a finite step: save it as the last good state, record its losses, track the best
    and the steps without improvement. Returns whether training stops after it."""
    cfg, result = run.cfg, run.result
    run.states.save_good(train_loss)
    result.n_iter = step
    result.loss_curve.append(train_loss)
    monitored = train_loss
    try:
        if run.use_val:
            monitored = _mse(run.model, run.x_val, run.y_val)
            result.validation_curve.append(monitored)
    except KeyboardInterrupt:
        run.stop("interrupted")
        return True
    _track_improvement(run, monitored)
    if cfg.verbose and (step % cfg.print_every == 0 or step == 1):
        msg = f"step {step:4d}  train loss {train_loss:.4e}"
        if run.use_val:
            msg += f"  validation loss {monitored:.4e}"
        print(msg, flush=True)
    if out_of_time:
        run.stop("max_time")
        return True
    if run.no_change >= cfg.n_iter_no_change and step > cfg.grid_update_until:
        run.stop("converged" if not run.use_val else "early_stopping")
        return True
    return False


def _track_improvement(run: _Run, monitored: float) -> None:
    """A relative improvement of more than ``tol`` makes ``monitored`` the best loss (and, with
    a validation set, the last good state the best one); else one more step without change."""
    states = run.states
    best = states.best_loss
    if not math.isfinite(best) or monitored < best - run.cfg.tol * max(abs(best), 1e-12):
        states.best_loss, run.no_change = monitored, 0
        if run.use_val:
            states.best = states.good
    else:
        run.no_change += 1


def _finish(run: _Run) -> TrainResult:
    """Raise when no step ever gave a finite loss; else restore the best validated state."""
    result = run.result
    if result.n_iter == 0 and result.n_recoveries > 0 and result.stop_reason == "max_iter":
        raise TrainingDiverged(
            f"no step out of {run.cfg.max_iter} gave a finite loss ({result.n_recoveries} "
            f"recoveries, last learning rate {run.lr:.3g})"
        )
    if run.use_val:
        run.states.restore_best()
    result.best_loss = run.states.best_loss
    return result
