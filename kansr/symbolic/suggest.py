"""What function one edge of a trained KAN looks like: the library's best matches of it, in
the units of its input (pykan's ``suggest_symbolic``, for users who want to steer).

:func:`suggest_edge` samples the edge ``(layer, i, o)`` at the network's inputs, fits every
library function ``c * f(a*x + b) + d`` to it (:func:`~kansr.symbolic.matching.match_edges`)
and returns the best ones as a table.
"""

from __future__ import annotations

import pandas as pd
import sympy
import torch

from kansr.symbolic.library import SymbolicLibrary
from kansr.symbolic.matching import match_edges

__all__ = ["suggest_edge"]


def suggest_edge(
    model: torch.nn.Module,
    z: torch.Tensor,
    edge: tuple[int, int, int],
    library: SymbolicLibrary,
    *,
    top: int = 5,
    input_name: str | None = None,
    x_mean: float = 0.0,
    x_scale: float = 1.0,
) -> pd.DataFrame:
    """The ``top`` library matches of edge ``edge = (layer, i, o)`` of ``model`` on the
    standardised network inputs ``z (n, n_features)``, best first.

    On the first layer the edge's input is feature ``i``, standardised with ``x_mean`` and
    ``x_scale``: the constants are given for the feature in its own units and the formula
    in ``input_name``; deeper edges read hidden node ``i`` (``h{i}``). The edge's output is
    in the network's internal units. Columns: ``function``, ``formula``, ``a``, ``b``, ``c``,
    ``d`` (of ``c*f(a*x + b) + d``), ``r2`` (on the samples), ``complexity``.

    Raises ``ValueError`` for an edge outside the network or one that pruning removed.
    """
    level, i, o = (int(v) for v in edge)
    layers = model.layers if hasattr(model, "layers") else model.kan.layers
    if not 0 <= level < len(layers):
        raise ValueError(f"layer {level} is not in the network (it has {len(layers)} layers)")
    layer = layers[level]
    n_in, n_out = layer.mask.shape
    if not (0 <= i < n_in and 0 <= o < n_out):
        raise ValueError(
            f"edge ({level}, {i}, {o}) is not in layer {level}, which joins {n_in} inputs "
            f"to {n_out} outputs"
        )
    if float(layer.mask[i, o]) == 0.0:
        raise ValueError(f"edge ({level}, {i}, {o}) was pruned: it contributes nothing")
    with torch.no_grad():
        inputs, phi = model.edge_activations(z)[level]
    u = inputs[:, i].double().cpu().numpy()  # (n,) the edge's input
    v = phi[:, i, o].double().cpu().numpy()  # (n,) its output
    if level == 0:
        name = input_name or f"x{i}"
        u = u * x_scale + x_mean  # back to the feature's units
    else:
        name, x_mean, x_scale = f"h{i}", 0.0, 1.0
    matches = match_edges(u[None], v[None], library, top=min(int(top), len(library)))
    variable = sympy.Symbol(name, real=True)
    rows = []
    for rank, fname in enumerate(matches.names[0]):
        fn = library[fname]
        a, b, c, d = (float(p) for p in matches.params[0, rank])
        if fn.complexity == 0:
            formula = sympy.Float(d, 4)
        else:
            inner = sympy.Float(a, 4) * variable + sympy.Float(b, 4)
            formula = sympy.Float(c, 4) * fn.sympy_expr(inner) + sympy.Float(d, 4)
        rows.append(
            {
                "function": fname,
                "formula": sympy.sstr(formula),
                "a": a,
                "b": b,
                "c": c,
                "d": d,
                "r2": float(matches.r2[0, rank]),
                "complexity": int(fn.complexity),
            }
        )
    return pd.DataFrame(rows)
