"""From a trained KAN to closed-form formulas.

Steps: read every active edge's samples -> match all of them against the library at once
(:func:`kansr.symbolic_fit.match_edges`) -> build a network of symbolic edges whose constants
are refit jointly on the data (LBFGS, float64) -> compose one sympy expression, written in
the original units -> snap constants to simple values when the loss allows -> simplify.
Several complexity weights give several candidate formulas (a small Pareto front).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from torch import nn

from ._timeout import call_with_timeout
from .expression import mse
from .network import KAN
from .simplify import SymbolicEdge, complexity, compose, snap_constants
from .symbolic_fit import match_edges
from .symbolic_library import SymbolicLibrary

__all__ = ["Formula", "SymbolicNetwork", "extract_formulas"]

_MAX_SIMPLIFY_NODES = 120
_SYMPY_TIMEOUT = 5.0  # seconds for one expand or simplify (main thread only; see judge)


@dataclass
class Formula:
    """One candidate formula.

    ``expr`` uses the internal symbols ``x0 .. x{n-1}`` (safe to evaluate); ``loss`` is the
    mean squared error on the data in the target's units.
    """

    expr: sympy.Expr
    complexity: int
    loss: float


class SymbolicNetwork(nn.Module):
    """A KAN whose every edge is ``c * f(a*x + b) + d`` with trainable constants.

    ``layers[l]`` is a list of :class:`~kansr.simplify.SymbolicEdge`; ``biases[l]`` the
    ``(n_out,)`` biases. Maps ``(batch, n_in)`` to ``(batch, n_out)``.
    """

    def __init__(self, layers, biases, widths) -> None:
        super().__init__()
        self.edges = layers
        self.widths = list(widths)
        self.params = nn.ParameterList(
            nn.Parameter(
                torch.tensor([e.params for e in edges], dtype=torch.float64).reshape(-1, 4)
            )
            for edges in layers
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.as_tensor(np.asarray(b), dtype=torch.float64)) for b in biases
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for level, edges in enumerate(self.edges):
            out = self.biases[level].expand(x.shape[0], -1).clone()
            params = self.params[level]
            for idx, edge in enumerate(edges):
                a, b, c, d = params[idx]
                if edge.fn.complexity == 0:
                    value = d.expand(x.shape[0])
                else:
                    value = c * edge.fn.safe_torch(a * x[:, edge.i] + b) + d
                out = out.index_add(1, torch.tensor([edge.o]), value[:, None])
            x = out
        return x

    def export(self) -> tuple[list[list[SymbolicEdge]], list[np.ndarray]]:
        """Edges and biases with the current constants."""
        layers = []
        for level, edges in enumerate(self.edges):
            values = self.params[level].detach().numpy()
            layers.append([SymbolicEdge(e.i, e.o, e.fn, values[j]) for j, e in enumerate(edges)])
        return layers, [b.detach().numpy().copy() for b in self.biases]


class _OutOfTime(Exception):
    """The deadline passed inside an LBFGS refit."""


def _remaining(deadline: float | None) -> float:
    """Seconds left until ``deadline`` (``inf`` without one)."""
    return math.inf if deadline is None else deadline - time.perf_counter()


def _refit(
    net: SymbolicNetwork,
    z: torch.Tensor,
    t: torch.Tensor,
    n_iter: int,
    deadline: float | None = None,
) -> float:
    """Joint LBFGS refit of every constant; keeps the start when it does not improve. Stops
    at ``deadline`` (a ``time.perf_counter()`` value), keeping the constants reached when
    they are better than the start."""
    start = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        before = float(torch.mean((net(z) - t) ** 2))
    opt = torch.optim.LBFGS(
        net.parameters(), lr=1.0, max_iter=n_iter, line_search_fn="strong_wolfe"
    )

    def closure():
        if _remaining(deadline) <= 0:
            raise _OutOfTime
        opt.zero_grad()
        loss = torch.mean((net(z) - t) ** 2)
        if torch.isfinite(loss):
            loss.backward()
        return loss

    try:
        opt.step(closure)
    except (RuntimeError, _OutOfTime):  # a singular line search or no time left
        pass
    with torch.no_grad():
        after = float(torch.mean((net(z) - t) ** 2))
        if not math.isfinite(after) or after > before:
            for p, s in zip(net.parameters(), start, strict=True):
                p.copy_(s)
            after = before
    return after


def _expand(expr: sympy.Expr, deadline: float | None = None) -> sympy.Expr:
    """Multiply out products and integer powers so that constants merge (small expressions)."""
    timeout = min(_SYMPY_TIMEOUT, _remaining(deadline))
    if complexity(expr) > _MAX_SIMPLIFY_NODES or timeout <= 0:
        return expr
    try:
        return call_with_timeout(
            lambda: sympy.expand(expr, deep=True, power_exp=False, log=False), timeout
        )
    except (TimeoutError, RecursionError):
        return expr


def _simplify(expr: sympy.Expr, deadline: float | None = None) -> sympy.Expr:
    timeout = min(_SYMPY_TIMEOUT, _remaining(deadline))
    if complexity(expr) > _MAX_SIMPLIFY_NODES or timeout <= 0:
        return expr
    try:
        simpler = call_with_timeout(lambda: sympy.simplify(expr), timeout)
    except Exception:  # noqa: BLE001 - sympy can fail or time out; the input stays valid
        return expr
    return simpler if complexity(simpler) <= complexity(expr) else expr


def extract_formulas(
    model: KAN,
    X: np.ndarray,
    y: np.ndarray,
    x_mean: np.ndarray,
    x_scale: np.ndarray,
    y_mean: float,
    y_scale: float,
    library: SymbolicLibrary,
    *,
    complexity_weights: tuple[float, ...] = (0.25, 0.5, 1.0),
    n_match_samples: int = 512,
    refit_iter: int = 100,
    snap_r2_tol: float = 1e-6,
    dtype: torch.dtype = torch.float64,
    deadline: float | None = None,
) -> list[Formula]:
    """Candidate formulas of a trained ``model`` for ``X (n, n_features)``, ``y (n,)``.

    The model works on standardised data ``z = (X - x_mean) / x_scale`` and predicts
    ``(y - y_mean) / y_scale``; formulas are returned in the original units, in the symbols
    ``x0 .. x{n-1}``.

    ``deadline`` (a ``time.perf_counter()`` value) cuts the work short: edge matching skips
    the remaining library candidates, refits and sympy calls stop, and after the first
    complexity weight no further candidates are built; what was found is returned.
    """
    symbols = sympy.symbols(f"x0:{X.shape[1]}", real=True)
    z_np = (X - x_mean) / x_scale
    z = torch.as_tensor(z_np, dtype=torch.float64)
    t = torch.as_tensor((y - y_mean) / y_scale, dtype=torch.float64)[:, None]
    step = max(1, X.shape[0] // n_match_samples)
    z_match = torch.as_tensor(z_np[::step], dtype=dtype)
    model = model.cpu()

    # every active edge's samples, all layers at once
    xs, ys, refs, where = [], [], [], []
    with torch.no_grad():
        for level, (inputs, phi) in enumerate(model.edge_activations(z_match)):
            layer = model.layers[level]
            out_var = layer(inputs).double().var(0)  # (n_out,)
            for i, o in zip(*torch.nonzero(layer.mask > 0, as_tuple=True), strict=True):
                xs.append(inputs[:, i].double())
                ys.append(phi[:, i, o].double())
                refs.append(float(out_var[o]))
                where.append((level, int(i), int(o)))
    if not where:
        return []
    matches = match_edges(
        torch.stack(xs), torch.stack(ys), library, reference_var=np.array(refs), deadline=deadline
    )
    widths = model.width
    biases = [layer.bias.detach().double().numpy().copy() for layer in model.layers]
    inputs = [(s - m) / sc for s, m, sc in zip(symbols, x_mean, x_scale, strict=True)]

    formulas: list[Formula] = []
    seen = set()
    for weight in complexity_weights:
        if formulas and _remaining(deadline) <= 0:
            break
        # re-rank the kept candidates with this complexity weight
        cplx = np.array([[library[n].complexity for n in row] for row in matches.names])
        score = np.log10(matches.relative_error + 1e-12) + weight * cplx
        pick = np.argmin(score, axis=1)
        choice = tuple(matches.names[e][pick[e]] for e in range(len(where)))
        if choice in seen:
            continue
        seen.add(choice)
        layers: list[list[SymbolicEdge]] = [[] for _ in model.layers]
        for e, (level, i, o) in enumerate(where):
            fn = library[choice[e]]
            layers[level].append(SymbolicEdge(i, o, fn, matches.params[e, pick[e]]))
        net = SymbolicNetwork(layers, biases, widths)
        _refit(net, z, t, refit_iter, deadline)
        edges, fitted_biases = net.export()
        out = compose(edges, fitted_biases, inputs)[0]
        expr = out * sympy.Float(y_scale, 15) + sympy.Float(y_mean, 15)
        loss = mse(expr, X, y)
        if not math.isfinite(loss):
            continue
        expr = _expand(expr, deadline)
        loss = mse(expr, X, y)
        if _remaining(deadline) > 0:
            budget = max(loss * 1.001, snap_r2_tol * float(np.var(y)))
            expr, loss = snap_constants(expr, X, y, loss, budget)
        expr = _simplify(expr, deadline)
        loss = mse(expr, X, y)
        if math.isfinite(loss) and not expr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            formulas.append(Formula(expr=expr, complexity=complexity(expr), loss=loss))
    return formulas
