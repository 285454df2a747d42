"""Training as the estimators use it: weighted least squares, and prune-and-retrain.

Sample weights enter training as an ordinary least-squares problem on scaled rows: with
``sqrt(w)`` as an extra last input column, :class:`RowWeighted` multiplies the network's output
by it and the target is ``sqrt(w) * y``, so that ``mean((sqrt(w) f(x) - sqrt(w) y)^2) = mean(w
(f(x) - y)^2)``. The weight travels with its row through mini-batches and validation splits;
:func:`~kansr.nn.training.train` needs to know nothing about it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from kansr.nn.network import prune
from kansr.nn.training import TrainConfig, TrainResult, train
from kansr.utils.deadline import Deadline

__all__ = ["RowWeighted", "prune_and_retrain", "train_weighted", "weighted_rows"]


class RowWeighted(nn.Module):
    """``model`` trained on weighted squared errors: the last input column is ``sqrt(w)``.

    Maps ``(batch, n_in + 1)`` to ``(batch, n_out)``; grid updates and the sparsity penalty
    see the inputs without the weight column.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x[:, :-1]) * x[:, -1:]

    def forward_with_penalty(self, x: torch.Tensor, lamb_l1: float, lamb_entropy: float):
        out, penalty = self.model.forward_with_penalty(x[:, :-1], lamb_l1, lamb_entropy)
        return out * x[:, -1:], penalty

    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        self.model.update_grid(x[:, :-1], grid_eps)


def weighted_rows(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x (n, n_in)``, ``y (n, n_out)`` and weights ``(n,)`` as the rows :class:`RowWeighted`
    trains on: ``([x, sqrt(w)], sqrt(w) * y)``."""
    root = torch.sqrt(weight.to(device=x.device, dtype=x.dtype))[:, None]
    return torch.cat([x, root], dim=1), y * root


def train_weighted(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    sample_weight: torch.Tensor | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    val_weight: torch.Tensor | None = None,
    **kwargs,
) -> TrainResult:
    """:func:`~kansr.nn.training.train` on ``mean(w (model(x) - y)^2)`` (plain when
    ``sample_weight (n,)`` is ``None``; validation rows weighted by ``val_weight``, 1 when
    ``None``). ``kwargs`` go to ``train`` (generator, gradient_masks, deadline)."""
    if sample_weight is None:
        return train(model, x, y, config, x_val, y_val, **kwargs)
    x, y = weighted_rows(x, y, sample_weight)
    if x_val is not None and y_val is not None:
        if val_weight is None:
            val_weight = torch.ones(x_val.shape[0], dtype=x_val.dtype, device=x_val.device)
        x_val, y_val = weighted_rows(x_val, y_val, val_weight)
    return train(RowWeighted(model), x, y, config, x_val, y_val, **kwargs)


def prune_and_retrain(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    threshold: float,
    retrain_iter: int = 20,
    deadline: Deadline | None = None,
    sample_weight: torch.Tensor | None = None,
) -> str | None:
    """Cut the edges and nodes of ``model`` whose importance on ``x (n, n_in)`` is below
    ``threshold``, then retrain the rest on ``y (n, n_out)`` (weights ``sample_weight``) for
    ``retrain_iter`` steps without grid updates. Returns the retraining's stop reason,
    ``None`` when nothing was cut (then nothing is retrained). Raises
    :class:`~kansr.nn.training.TrainingDiverged` like ``train``.
    """
    if not prune(model, x, threshold):
        return None
    retrain = copy.copy(config)
    retrain.max_iter, retrain.grid_update_until = retrain_iter, 0
    result = train_weighted(model, x, y, retrain, sample_weight, deadline=deadline)
    return result.stop_reason
