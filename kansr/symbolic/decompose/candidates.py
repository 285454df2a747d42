"""Formulas read off a trained KAN by decomposition: the network as an oracle
(:mod:`~kansr.symbolic.decompose.oracle`), split recursively
(:mod:`~kansr.symbolic.decompose.recursion`), each raw candidate refit, snapped and
simplified on the data (:func:`~kansr.symbolic.finish.finish`)."""

from __future__ import annotations

import numpy as np
import sympy
import torch

from kansr.symbolic.decompose.oracle import network_oracle
from kansr.symbolic.decompose.recursion import Recursion, decompose
from kansr.symbolic.expressions import weighted_variance
from kansr.symbolic.finish import finish
from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.pareto import Formula
from kansr.utils.deadline import Deadline

__all__ = ["decomposition_formulas"]


def decomposition_formulas(
    model: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    x_mean: np.ndarray,
    x_scale: np.ndarray,
    y_mean: float,
    y_scale: float,
    library: SymbolicLibrary,
    *,
    active: np.ndarray | None = None,
    deadline: Deadline | None = None,
    sample_weight: np.ndarray | None = None,
) -> list[Formula]:
    """Finished candidates of the decomposition of ``model`` (on standardised data, as in
    :func:`~kansr.symbolic.extract.extract_formulas`) over the ``active`` columns of
    ``X (n, m)`` (default all), in the symbols ``x0 .. x{m-1}``; ``[]`` when the network's
    function does not split down to functions of one variable."""
    deadline = deadline or Deadline()
    columns = list(range(X.shape[1]) if active is None else np.asarray(active).tolist())
    if not columns:
        return []
    symbols = sympy.symbols(f"x0:{X.shape[1]}", real=True)
    oracle = network_oracle(
        model, x_mean, x_scale, y_mean, y_scale, X.min(0), X.max(0), symbols, columns
    )
    residual = oracle(X[:, columns]) - y
    if not np.isfinite(residual).all() or weighted_variance(y, sample_weight) <= 0:
        return []
    oracle.error = float(np.sqrt(np.average(residual**2, weights=sample_weight)))
    raw = decompose(oracle, Recursion(library=library, deadline=deadline))
    out = []
    for expr in raw:
        if deadline.expired() and out:
            break
        formula = finish(
            expr, X, y, deadline=deadline, expand_first=True, sample_weight=sample_weight
        )
        if formula is not None:
            out.append(formula)
    return out
