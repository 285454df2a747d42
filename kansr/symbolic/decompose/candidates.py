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

from kansr.symbolic.decompose.backfit import backfitted
from kansr.symbolic.decompose.oracle import formula_oracle, network_oracle
from kansr.symbolic.decompose.parts import joined_argument, oriented_forms, relative_error
from kansr.symbolic.decompose.recursion import (
    Recursion,
    combined_variables,
    decompose,
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
    approximant: sympy.Expr | None = None,
) -> list[Formula]:
    """Finished candidates of the decomposition of ``model`` (on standardised data, as in
    :func:`~kansr.symbolic.extract.extract_formulas`) over the ``active`` columns of
    ``X (n, m)`` (default all), in the symbols ``x0 .. x{m-1}``; ``[]`` when the network's
    function does not split down to functions of one variable.

    ``approximant``: a formula of the data in those symbols (the searches' most accurate);
    unless its RMS error is more than :data:`_APPROXIMANT_SLACK` times the network's, it is
    decomposed too, the more accurate of the two first. A formula's gradients can be a
    sharper oracle than a network of the same error: a rational approximant of
    ``I0*(exp(q*V/(k*T)) - 1)`` reveals the joined variable ``q*V/(k*T)`` and its
    exponential, where the network's decomposition goes through a logarithm."""
    deadline = deadline or Deadline()
    columns = list(range(X.shape[1]) if active is None else np.asarray(active).tolist())
    if not columns or weighted_variance(y, sample_weight) <= 0:
        return []
    symbols = sympy.symbols(f"x0:{X.shape[1]}", real=True)
    lo, hi = X.min(0), X.max(0)
    oracles = [network_oracle(model, x_mean, x_scale, y_mean, y_scale, lo, hi, symbols, columns)]
    if approximant is not None:
        oracles.append(formula_oracle(approximant, x_mean, lo, hi, symbols, columns))
    measured = []
    for oracle in oracles:
        with np.errstate(all="ignore"):
            residual = oracle(X[:, columns]) - y
        if np.isfinite(residual).all():
            oracle.error = float(np.sqrt(np.average(residual**2, weights=sample_weight)))
            measured.append(oracle)
    if not measured:
        return []
    if len(measured) == 2 and measured[1].error > _APPROXIMANT_SLACK * measured[0].error:
        measured = measured[:1]  # an approximant far less accurate than the network
    measured.sort(key=lambda o: o.error)  # the sharper oracle first
    out = _joined_structure(measured[0], X, y, library, deadline, sample_weight)
    raw: list[sympy.Expr] = []
    for oracle in measured:
        if deadline.expired():
            break
        settings = Recursion(library=library, deadline=deadline)
        found = decompose(oracle, settings)
        for first in found[:_REFINED_CANDIDATES]:
            if deadline.expired():
                break
            found += [e for e in refined_on_data(first, X, y, settings) if e not in found]
        for first in found[:_BACKFITTED]:  # the first trees, every level matched again
            if deadline.expired():
                break
            again = backfitted(first, X, y, settings)
            if again is not None and again not in found:
                found.append(again)
        raw += [e for e in found if e not in raw]
    for expr in raw:
        if deadline.expired() and out:
            break
        formula = finish(
            expr, X, y, deadline=deadline, expand_first=True, sample_weight=sample_weight
        )
        if formula is not None:
            out.append(formula)
    return out


_APPROXIMANT_SLACK = 4.0  # an approximant this much less accurate than the network is skipped
_REFINED_CANDIDATES = 2  # first decomposition candidates whose parts are matched on the data
_BACKFITTED = 3  # first decomposition candidates matched again on the data at every level
_MAX_REFINED = 3  # candidates with one-variable parts refit on the data, per decomposition
_REFINE_POINTS = 256  # data rows the parts are matched on


def refined_on_data(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, settings: Recursion
) -> list[sympy.Expr]:
    """``expr``, a product (or sum) of parts read off the network, with its parts of one
    variable ``g(u)`` matched again on the data: ``y / rest`` (or ``y - rest``) at the data's
    ``u`` is ``g`` with the error of ``rest`` only, not the network's slice through ``g``
    (AI Feynman's recursion on the data once the structure is known). ``u`` is a column or
    the variables the decomposition joined
    (:func:`~kansr.symbolic.decompose.parts.joined_argument`: the ``q*V/(k*T)`` of
    ``tanh(2.7 - 0.56*q*V/(k*T))``). The candidate with every such part replaced by its best
    new form, then one part at a time changed (at most :data:`_MAX_REFINED`); a part is left
    as it is when no new form explains its data (:func:`_explained`: ``rest`` was not
    accurate enough); ``[]`` when nothing changed."""
    if not (expr.is_Mul or expr.is_Add):
        return []
    step = max(1, len(y) // _REFINE_POINTS)  # every step-th row: a fixed subsample
    X, y = X[::step], y[::step]
    parts = expr.as_ordered_factors() if expr.is_Mul else expr.as_ordered_terms()
    by_argument: dict[sympy.Expr, list[sympy.Expr]] = {}
    for part in parts:
        argument = joined_argument(part)
        if argument is not None:
            by_argument.setdefault(argument, []).append(part)
    join = sympy.Mul if expr.is_Mul else sympy.Add
    options = []  # (the factors or terms of a part, the rest, the part's new forms)
    for argument, own in sorted(by_argument.items(), key=lambda item: sympy.srepr(item[0])):
        if settings.deadline.expired():
            break
        part = join(*own)
        if part.is_Pow and part.base == argument or part == argument:
            continue  # a power of the variable: nothing to match again
        rest = join(*[p for p in parts if p not in own])
        with np.errstate(all="ignore"):
            rest_values = np.broadcast_to(evaluate(rest, X), y.shape)
            values = y / rest_values if expr.is_Mul else y - rest_values
            u = np.array(np.broadcast_to(evaluate(argument, X), y.shape))
        if not (np.isfinite(values).all() and np.isfinite(u).all()) or np.ptp(values) == 0:
            continue
        forms = [f for f in oriented_forms(u, values, argument, settings, X) if f != part]
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
    return any(relative_error(form, X, values) <= _EXPLAINED for form in forms)


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
