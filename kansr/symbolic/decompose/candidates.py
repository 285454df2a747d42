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
from kansr.symbolic.decompose.recursion import (
    Recursion,
    combined_variables,
    decompose,
    leaf_forms,
    recombined_variables,
)
from kansr.symbolic.expressions import complexity, evaluate, weighted_variance
from kansr.symbolic.finish import finish
from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.pareto import Formula
from kansr.symbolic.structure.search import structure_formulas
from kansr.utils.deadline import Deadline

__all__ = ["decomposition_formulas", "refined_on_data"]


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
    settings = Recursion(library=library, deadline=deadline)
    raw = decompose(oracle, settings)
    if raw and not deadline.expired():
        raw += [e for e in refined_on_data(raw[0], X, y, settings) if e not in raw]
    for expr in raw:
        if deadline.expired() and out:
            break
        formula = finish(
            expr, X, y, deadline=deadline, expand_first=True, sample_weight=sample_weight
        )
        if formula is not None:
            out.append(formula)
    return out


_MAX_REFINED = 3  # candidates with one-variable parts refit on the data, per decomposition
_REFINE_POINTS = 256  # data rows the parts are matched on


def refined_on_data(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, settings: Recursion
) -> list[sympy.Expr]:
    """``expr``, a product (or sum) of parts read off the network, with its parts of one
    variable ``g(u)`` matched again on the data: ``y / rest`` (or ``y - rest``) at the data's
    ``u`` is ``g`` with the error of ``rest`` only, not the network's slice through ``g``
    (AI Feynman's recursion on the data once the structure is known). The candidate with
    every such part replaced by its best new form, then one part at a time changed (at most
    :data:`_MAX_REFINED`); a part is left as it is when no new form explains its data
    (:func:`_explained`: ``rest`` was not accurate enough); ``[]`` when nothing changed."""
    if not (expr.is_Mul or expr.is_Add):
        return []
    step = max(1, len(y) // _REFINE_POINTS)  # every step-th row: a fixed subsample
    X, y = X[::step], y[::step]
    parts = expr.as_ordered_factors() if expr.is_Mul else expr.as_ordered_terms()
    by_symbol: dict[sympy.Symbol, list[sympy.Expr]] = {}
    for part in parts:
        free = part.free_symbols
        if len(free) == 1:
            by_symbol.setdefault(next(iter(free)), []).append(part)
    join = sympy.Mul if expr.is_Mul else sympy.Add
    options = []  # (the factors or terms of a part, the rest, the part's new forms)
    for symbol, own in sorted(by_symbol.items(), key=lambda item: item[0].name):
        if settings.deadline.expired():
            break
        part = join(*own)
        if part.is_Pow and part.base == symbol or part == symbol:
            continue  # a power of the variable: nothing to match again
        rest = join(*[p for p in parts if p not in own])
        with np.errstate(all="ignore"):
            rest_values = np.broadcast_to(evaluate(rest, X), y.shape)
            values = y / rest_values if expr.is_Mul else y - rest_values
        if not np.isfinite(values).all() or np.ptp(values) == 0:
            continue
        u = X[:, int(symbol.name[1:])]
        forms = [f for f in leaf_forms(u, values, symbol, settings) if f != part]
        if forms and _explained(forms, X, values):
            options.append((own, rest, forms))
    if not options:
        return []
    replaced = {id(p) for own, _, _ in options for p in own}
    kept = [p for p in parts if id(p) not in replaced]
    out = [join(*kept, *[forms[0] for _, _, forms in options])]
    for _, rest, forms in options:
        out.extend(join(rest, form) for form in forms)
    return list(dict.fromkeys(out))[:_MAX_REFINED]


_EXPLAINED = 1e-3  # a part's data must be this close to a function of its variable


def _explained(forms: list[sympy.Expr], X: np.ndarray, values: np.ndarray) -> bool:
    """Whether one of ``forms`` fits ``values (n,)`` to a relative mean squared error of
    :data:`_EXPLAINED`: if not, ``rest`` was not accurate enough to reveal the part."""
    for form in forms:
        with np.errstate(all="ignore"):
            fitted = np.broadcast_to(evaluate(form, X), values.shape)
            error = float(np.mean((fitted - values) ** 2) / np.var(values))
        if error <= _EXPLAINED:
            return True
    return False


_JOINED_SHARE = 0.3  # share of the time left for the structure search in joined variables


def _joined_structure(oracle, X, y, library, deadline, sample_weight) -> list[Formula]:
    """The structure searches' formulas of ``y`` in the variables the oracle joins
    (:func:`~kansr.symbolic.decompose.recursion.combined_variables`), or else in those in
    which it splits once one is joined to another
    (:func:`~kansr.symbolic.decompose.recursion.recombined_variables`), written back in the
    data's symbols; ``[]`` when there are none."""
    settings = Recursion(library=library, deadline=deadline)
    joined = combined_variables(oracle, settings)
    if joined is None:
        joined = recombined_variables(oracle, settings)
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
