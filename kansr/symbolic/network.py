"""Networks of symbolic edges ``c*f(a*x + b) + d``: their sympy composition and a torch
module with trainable constants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy
import torch
from torch import nn


class SymbolicEdge:
    """Edge ``i -> o`` of a layer computing ``c * f(a * x_i + b) + d``.

    ``fn`` is a :class:`~kansr.symbolic.library.SymbolicFunction`.
    """

    __slots__ = ("i", "o", "fn", "params")

    def __init__(self, i: int, o: int, fn, params: Sequence[float]) -> None:
        self.i, self.o, self.fn = int(i), int(o), fn
        self.params = [float(p) for p in params]

    def __repr__(self) -> str:
        a, b, c, d = self.params
        return (
            f"SymbolicEdge({self.i}->{self.o}: {c:.4g}*{self.fn.name}({a:.4g}*x+{b:.4g})+{d:.4g})"
        )


def _number(value: float) -> sympy.Expr:
    return sympy.Float(value, 15)


def compose(
    layers: Sequence[Sequence[SymbolicEdge]],
    biases: Sequence[np.ndarray],
    inputs: Sequence[sympy.Expr],
) -> list[sympy.Expr]:
    """Expressions of the output nodes: layer by layer, ``out_o = bias_o + sum_edges phi``.

    ``layers[l]`` lists the symbolic edges of layer ``l``, ``biases[l]`` its ``(n_out,)`` bias and
    ``inputs`` the expressions of the first layer's input nodes.
    """
    nodes = list(inputs)
    for edges, bias in zip(layers, biases, strict=True):
        out = [_number(float(v)) for v in bias]
        for edge in edges:
            a, b, c, d = (_number(p) for p in edge.params)
            if edge.fn.complexity == 0:  # the zero function: a constant
                out[edge.o] += d
                continue
            out[edge.o] += c * edge.fn.sympy_expr(a * nodes[edge.i] + b) + d
        nodes = out
    return nodes


class SymbolicNetwork(nn.Module):
    """A KAN whose every edge is ``c * f(a*x + b) + d`` with trainable constants.

    ``layers[l]`` is a list of :class:`~kansr.symbolic.snap.SymbolicEdge`; ``biases[l]`` the
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
