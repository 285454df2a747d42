"""Networks of symbolic edges ``c*f(a*x + b) + d``: their sympy composition and a torch
module with trainable constants."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import sympy
import torch
from torch import nn

from kansr.nn.network import multiply_nodes


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


def _multiplied(out: list, n_mult: int) -> list:
    """:func:`~kansr.nn.network.multiply_nodes` on a list of a layer's outputs."""
    if n_mult == 0:
        return out
    a = len(out) - 2 * n_mult
    return out[:a] + [out[a + 2 * k] * out[a + 2 * k + 1] for k in range(n_mult)]


def compose(
    layers: Sequence[Sequence[SymbolicEdge]],
    biases: Sequence[np.ndarray],
    inputs: Sequence[sympy.Expr],
    mult: Sequence[int] | None = None,
) -> list[sympy.Expr]:
    """Expressions of the output nodes: layer by layer, ``out_o = bias_o + sum_edges phi``.

    ``layers[l]`` lists the symbolic edges of layer ``l``, ``biases[l]`` its ``(n_out,)`` bias and
    ``inputs`` the expressions of the first layer's input nodes; ``mult[l]``: the
    multiplication nodes the outputs of layer ``l`` make (its last ``2 * mult[l]`` outputs,
    in pairs; default none), as :class:`~kansr.nn.network.KAN` makes them.
    """
    mult = [0] * len(layers) if mult is None else list(mult)
    nodes = list(inputs)
    for edges, bias, n_mult in zip(layers, biases, mult, strict=True):
        out = [_number(float(v)) for v in bias]
        for edge in edges:
            a, b, c, d = (_number(p) for p in edge.params)
            if edge.fn.complexity == 0:  # the zero function: a constant
                out[edge.o] += d
                continue
            out[edge.o] += c * edge.fn.sympy_expr(a * nodes[edge.i] + b) + d
        nodes = _multiplied(out, n_mult)
    return nodes


class SymbolicNetwork(nn.Module):
    """A KAN whose every edge is ``c * f(a*x + b) + d`` with trainable constants.

    ``layers[l]`` is a list of :class:`~kansr.symbolic.snap.SymbolicEdge`; ``biases[l]`` the
    ``(n_out,)`` biases. Maps ``(batch, n_in)`` to ``(batch, n_out)``.

    With ``guarded`` (the default) every edge uses its function's safe form, finite
    everywhere (an argument outside the domain is moved into it); without, the exact form,
    as the sympy composition evaluates it: ``nan`` or ``inf`` where an argument leaves the
    domain (``log`` of a negative number). ``mult[l]``: multiplication nodes made of the
    outputs of layer ``l`` (as in :func:`compose`; default none).
    """

    def __init__(self, layers, biases, widths, guarded: bool = True, mult=None) -> None:
        super().__init__()
        self.guarded = guarded
        self.edges = layers
        self.widths = list(widths)
        self.mult = [0] * len(layers) if mult is None else [int(m) for m in mult]
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
        return self._run(x, [list(p) for p in self.params], list(self.biases))

    def _run(self, x: torch.Tensor, params, biases) -> torch.Tensor:
        """The network on ``x (batch, n_in)`` with ``params[l][e]`` the ``(a, b, c, d)`` of
        edge ``e`` of layer ``l``, ``(4,)`` or per row ``(batch, 4)``, and ``biases[l]``
        ``(n_out,)`` or ``(batch, n_out)``."""
        for level, edges in enumerate(self.edges):
            out = biases[level].expand(x.shape[0], -1).clone()
            for idx, edge in enumerate(edges):
                p = params[level][idx]
                a, b, c, d = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
                if edge.fn.complexity == 0:
                    value = d.expand(x.shape[0])
                else:
                    value = c * self._edge_function(edge.fn, a * x[:, edge.i] + b) + d
                out = out.index_add(1, torch.tensor([edge.o]), value[:, None])
            x = multiply_nodes(out, self.mult[level])
        return x

    @contextmanager
    def exact_forms(self) -> Iterator[SymbolicNetwork]:
        """Within the block the network evaluates its functions' exact forms
        (``guarded=False``); the mode is restored after it."""
        before = self.guarded
        self.guarded = False
        try:
            yield self
        finally:
            self.guarded = before

    def _edge_function(self, fn, u: torch.Tensor) -> torch.Tensor:
        """``fn`` on the arguments ``u (batch,)``: its safe form when :attr:`guarded`."""
        if self.guarded:
            return fn.safe_torch(u)
        return fn.torch_fn(u).expand(u.shape)

    def vector(self) -> np.ndarray:
        """Every constant, ``(p,)``: layer by layer the edges' ``(a, b, c, d)``, then the
        layer's biases (the columns of :meth:`row_jacobian`)."""
        parts = []
        for params, bias in zip(self.params, self.biases, strict=True):
            parts += [params.detach().reshape(-1), bias.detach().reshape(-1)]
        return torch.cat(parts).numpy().copy()

    def load_vector(self, theta: np.ndarray) -> None:
        """Set every constant from ``theta (p,)``, ordered as :meth:`vector`."""
        values = torch.as_tensor(np.asarray(theta, dtype=np.float64))
        start = 0
        with torch.no_grad():
            for params, bias in zip(self.params, self.biases, strict=True):
                for tensor in (params, bias):
                    size = tensor.numel()
                    tensor.copy_(values[start : start + size].reshape(tensor.shape))
                    start += size

    def row_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first output ``(batch,)`` on ``x (batch, n_in)`` and its exact derivatives by
        every constant, ``(batch, p)`` in the order of :meth:`vector`, by one forward and one
        backward pass: each row has its own copy of the constants, so the gradient of the
        summed output by a copy is that row of the Jacobian."""
        n = x.shape[0]
        params = [
            [p.detach().expand(n, 4).clone().requires_grad_(True) for p in level]
            for level in self.params
        ]
        biases = [b.detach().expand(n, -1).clone().requires_grad_(True) for b in self.biases]
        out = self._run(x, params, biases)[:, 0]
        copies = []
        for level, bias in zip(params, biases, strict=True):
            copies += [*level, bias]
        grads = torch.autograd.grad(out.sum(), copies, materialize_grads=True, allow_unused=True)
        return out.detach(), torch.cat(grads, 1)

    def compose(self, inputs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
        """:func:`compose` of the network with its current constants."""
        edges, biases = self.export()
        return compose(edges, biases, inputs, self.mult)

    def export(self) -> tuple[list[list[SymbolicEdge]], list[np.ndarray]]:
        """Edges and biases with the current constants."""
        layers = []
        for level, edges in enumerate(self.edges):
            values = self.params[level].detach().numpy()
            layers.append([SymbolicEdge(e.i, e.o, e.fn, values[j]) for j, e in enumerate(edges)])
        return layers, [b.detach().numpy().copy() for b in self.biases]
