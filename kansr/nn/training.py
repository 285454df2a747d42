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

from kansr.nn.network import KAN, prune
from kansr.utils.allocator import tune_allocator
from kansr.utils.deadline import Deadline, OutOfTime

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "prune_and_retrain", "train"]


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
    lr = cfg.learning_rate or (1.0 if cfg.solver == "lbfgs" else 1e-2)
    result = TrainResult()
    use_val = x_val is not None and y_val is not None and x_val.shape[0] > 0
    # grid updates hold (rows, n_in, n_out) activations: use evenly spaced rows of big data
    x_grid = x[:: math.ceil(x.shape[0] / cfg.grid_update_samples)] if x.shape[0] else x
    good_state = copy.deepcopy(model.state_dict())
    try:
        if cfg.grid_update_until > 0:
            model.update_grid(x_grid, cfg.grid_eps)
    except KeyboardInterrupt:
        model.load_state_dict(good_state)
        result.stop_reason = "interrupted"
        return result
    optimizer = _make_optimizer(model, cfg, lr)
    good_state = copy.deepcopy(model.state_dict())
    good_loss = math.inf
    best_state, best = good_state, math.inf
    no_change = 0
    n = x.shape[0]

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = _objective(model, x, y, cfg)
        if deadline.expired():
            raise OutOfTime(float(loss.detach()))
        if torch.isfinite(loss):
            loss.backward()
        return loss

    for step in range(1, cfg.max_iter + 1):
        if deadline.expired():
            result.stop_reason = "max_time"
            break
        out_of_time = False
        try:
            if 0 < step <= cfg.grid_update_until and step % cfg.grid_update_every == 0 and step > 1:
                model.update_grid(x_grid, cfg.grid_eps)
                optimizer = _make_optimizer(model, cfg, lr)
            if cfg.solver == "lbfgs":
                try:
                    loss = float(optimizer.step(closure).detach())
                except OutOfTime as stop:
                    # keep the parameters the step reached only when they are better
                    out_of_time, loss = True, stop.loss
                    if not (loss < good_loss and _finite(model)):  # (False for NaN)
                        model.load_state_dict(good_state)
                        result.stop_reason = "max_time"
                        break
            else:
                order = torch.randperm(n, generator=generator, device="cpu").to(x.device)
                total, seen = 0.0, 0
                loss = 0.0
                for begin in range(0, n, cfg.batch_size):
                    if seen and deadline.expired():
                        out_of_time = True
                        break
                    idx = order[begin : begin + cfg.batch_size]
                    optimizer.zero_grad(set_to_none=True)
                    batch_loss = _objective(model, x[idx], y[idx], cfg)
                    if not torch.isfinite(batch_loss):
                        loss = math.nan
                        break
                    batch_loss.backward()
                    if cfg.clip_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                    optimizer.step()
                    total += float(batch_loss.detach()) * idx.shape[0]
                    seen += idx.shape[0]
                else:
                    loss = total / n
                if out_of_time and seen:
                    loss = total / seen
        except KeyboardInterrupt:
            model.load_state_dict(good_state)
            result.stop_reason = "interrupted"
            break
        train_loss = loss
        if not math.isfinite(loss) or not _finite(model):
            result.n_recoveries += 1
            if out_of_time:  # no time left to recover: back to the last good state
                model.load_state_dict(good_state)
                result.stop_reason = "max_time"
                break
            if result.n_recoveries > cfg.max_recoveries:
                model.load_state_dict(good_state)
                raise TrainingDiverged(
                    f"loss stayed non-finite after {cfg.max_recoveries} recoveries "
                    f"(last learning rate {lr:.3g})"
                )
            model.load_state_dict(good_state)
            lr *= 0.5
            optimizer = _make_optimizer(model, cfg, lr)
            if cfg.verbose:
                print(f"step {step}: non-finite loss, restored last good state, lr -> {lr:.3g}")
            continue
        good_state = copy.deepcopy(model.state_dict())
        good_loss = train_loss
        result.n_iter = step
        result.loss_curve.append(train_loss)
        monitored = train_loss
        try:
            if use_val:
                monitored = _mse(model, x_val, y_val)
                result.validation_curve.append(monitored)
        except KeyboardInterrupt:
            result.stop_reason = "interrupted"
            break
        improved = not math.isfinite(best) or monitored < best - cfg.tol * max(abs(best), 1e-12)
        if improved:
            best, no_change = monitored, 0
            if use_val:
                best_state = good_state
        else:
            no_change += 1
        if cfg.verbose and (step % cfg.print_every == 0 or step == 1):
            msg = f"step {step:4d}  train loss {train_loss:.4e}"
            if use_val:
                msg += f"  validation loss {monitored:.4e}"
            print(msg, flush=True)
        if out_of_time:
            result.stop_reason = "max_time"
            break
        if no_change >= cfg.n_iter_no_change and step > cfg.grid_update_until:
            result.stop_reason = "converged" if not use_val else "early_stopping"
            break
    if result.n_iter == 0 and result.n_recoveries > 0 and result.stop_reason == "max_iter":
        raise TrainingDiverged(
            f"no step out of {cfg.max_iter} gave a finite loss ({result.n_recoveries} "
            f"recoveries, last learning rate {lr:.3g})"
        )
    if use_val and best_state is not good_state:
        model.load_state_dict(best_state)
    result.best_loss = best
    return result


def prune_and_retrain(
    model: KAN,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    threshold: float,
    retrain_iter: int = 20,
    deadline: Deadline | None = None,
) -> str | None:
    """Cut the edges and nodes of ``model`` whose importance on ``x (n, n_in)`` is below
    ``threshold``, then retrain the rest on ``y (n, n_out)`` for ``retrain_iter`` steps
    without grid updates. Returns the retraining's stop reason, ``None`` when nothing was
    cut (then nothing is retrained). Raises :class:`TrainingDiverged` like :func:`train`.
    """
    if not prune(model, x, threshold):
        return None
    retrain = copy.copy(config)
    retrain.max_iter, retrain.grid_update_until = retrain_iter, 0
    return train(model, x, y, retrain, deadline=deadline).stop_reason
