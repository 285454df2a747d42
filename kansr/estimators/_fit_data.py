"""The data of one :meth:`KANRegressor.fit` call, prepared once and read by every stage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["FitData"]


@dataclass
class FitData:
    """Validated data of a fit, in the user's units and standardised.

    ``X (n, m)``, ``y (n,)``: float64 in the user's units. ``z (n, m)``, ``t (n, 1)``: the
    standardised tensors the network trains on (``z = (X - x_mean) / x_scale``, ``t = (y -
    y_mean) / y_scale``). ``train_idx``, ``val_idx``: training rows and rows held out for
    early stopping (``None`` and empty without it: every row trains, nothing is copied).
    ``constant_features (m,)``: columns that do not vary. ``width``: the network's layer
    widths. ``seeds``: one per restart. ``warm``: the fit continues a fitted network.
    ``weights (n,)``: sample weights scaled to mean 1, ``None`` for an unweighted fit.
    """

    X: np.ndarray
    y: np.ndarray
    z: torch.Tensor
    t: torch.Tensor
    train_idx: np.ndarray | None
    val_idx: np.ndarray
    constant_features: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float
    width: list[int]
    seeds: list[int]
    warm: bool
    weights: np.ndarray | None = None

    def fit_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised training rows ``(n_train, m)``, ``(n_train, 1)``."""
        rows = self.train_idx
        if rows is None:
            return self.z, self.t
        return self.z[rows], self.t[rows]

    def fit_weights(self) -> torch.Tensor | None:
        """Weights ``(n_train,)`` of the training rows (``None``: unweighted)."""
        if self.weights is None:
            return None
        w = self.weights if self.train_idx is None else self.weights[self.train_idx]
        return torch.as_tensor(w, dtype=self.z.dtype, device=self.z.device)

    def validation_tensors(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Standardised validation rows, or ``(None, None)``."""
        if not self.val_idx.size:
            return None, None
        return self.z[self.val_idx], self.t[self.val_idx]

    def validation_weights(self) -> torch.Tensor | None:
        """Weights of the validation rows (``None``: unweighted or no validation set)."""
        if self.weights is None or not self.val_idx.size:
            return None
        return torch.as_tensor(self.weights[self.val_idx], dtype=self.z.dtype, device=self.z.device)

    def symbolic_rows(self, max_rows: int):
        """``X, y, z, t, w`` of the training rows for the symbolic stage: at most
        ``max_rows``, a fixed (seed 0) subsample of larger data (``w``: their weights or
        ``None``)."""
        rows = self.train_idx
        X, y, z, t, w = self.X, self.y, self.z, self.t, self.weights
        if rows is not None:
            X, y, z, t = X[rows], y[rows], z[rows], t[rows]
            w = None if w is None else w[rows]
        if X.shape[0] > max_rows:
            keep = np.sort(np.random.default_rng(0).choice(X.shape[0], max_rows, replace=False))
            index = torch.as_tensor(keep, device=z.device)
            X, y, z, t = X[keep], y[keep], z[index], t[index]
            w = None if w is None else w[keep]
        return X, y, z, t, w
