"""Formulas read off a trained KAN by decomposition: the network as an oracle
(:mod:`~kansr.symbolic.decompose.oracle`), split recursively
(:mod:`~kansr.symbolic.decompose.recursion`), each raw candidate refit, snapped and
simplified on the data (:func:`~kansr.symbolic.finish.finish`); and the structure searches
(:mod:`~kansr.symbolic.structure.search`) run again on the data in the variables the
oracle joins (``x_i*x_j``, ``x_i - x_j`` ...)."""

from __future__ import annotations

import numpy as np
import sympy
import torch

from kansr.symbolic.decompose.oracle import network_oracle
from kansr.symbolic.decompose.recursion import Recursion, combined_variables, decompose
from kansr.symbolic.expressions import complexity, evaluate, weighted_variance
from kansr.symbolic.finish import finish
from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.pareto import Formula
from kansr.symbolic.structure.search import structure_formulas
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
    out = _joined_structure(oracle, X, y, library, deadline, sample_weight)
    raw = decompose(oracle, Recursion(library=library, deadline=deadline))
    for expr in raw:
        if deadline.expired() and out:
            break
        formula = finish(
            expr, X, y, deadline=deadline, expand_first=True, sample_weight=sample_weight
        )
        if formula is not None:
            out.append(formula)
    return out


_JOINED_SHARE = 0.3  # share of the time left for the structure search in joined variables


def _joined_structure(oracle, X, y, library, deadline, sample_weight) -> list[Formula]:
    """The structure searches' formulas of ``y`` in the variables the oracle joins
    (:func:`~kansr.symbolic.decompose.recursion.combined_variables`), written back in the
    data's symbols; ``[]`` when no pair joins."""
    joined = combined_variables(oracle, Recursion(library=library, deadline=deadline))
    if joined is None:
        return []
    Xj = np.column_stack([evaluate(e, X) for e in joined])
    if not np.isfinite(Xj).all():
        return []
    found = structure_formulas(
        Xj, y, library, deadline=deadline.share(_JOINED_SHARE), sample_weight=sample_weight
    )
    back = {sympy.Symbol(f"x{k}", real=True): e for k, e in enumerate(joined)}
    out = []
    for expr, loss in found:
        written = expr.xreplace(back)
        out.append(Formula(expr=written, complexity=complexity(written), loss=loss))
    return out
