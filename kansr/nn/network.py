"""Kolmogorov-Arnold Networks: a stack of KAN layers, their sparsity penalty and pruning."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kansr.nn.layer import KANLayer

#: torch dtypes by the names the estimators and saved files use
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def batch_std(x: torch.Tensor) -> torch.Tensor:
    """Unbiased standard deviation over the batch, ``(batch, n) -> (n,)``, as ``x.std(0)``.

    Two passes (mean, then squared deviations) instead of ``torch.std``'s reduction, which is
    some 50x slower over dim 0 on CPU; ``sqrt(var + eps^2)`` keeps the gradient finite for a
    constant column (e.g. a hidden node whose edges were all pruned).
    """
    centred = x - x.mean(0)
    var = (centred * centred).sum(0) / max(x.shape[0] - 1, 1)
    tiny = torch.finfo(x.dtype).eps
    return torch.sqrt(var + tiny * tiny)


def sparsity_penalty(
    edge_scale: torch.Tensor, lamb_l1: float = 1.0, lamb_entropy: float = 2.0
) -> torch.Tensor:
    """KAN paper's sparsity penalty of one layer from per-edge magnitudes ``(n_in, n_out)``.

    ``lamb_l1 * sum |phi| + lamb_entropy * (row entropy + column entropy)``, with the
    entropies of the normalised magnitudes into each output and out of each input (as pykan).
    """
    vec = edge_scale.t()  # (n_out, n_in)
    l1 = vec.sum()
    p_row = vec / (vec.sum(1, keepdim=True) + 1)
    p_col = vec / (vec.sum(0, keepdim=True) + 1)
    ent_row = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
    ent_col = -(p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
    return lamb_l1 * l1 + lamb_entropy * (ent_row + ent_col)


def multiply_nodes(sub: torch.Tensor, n_mult: int) -> torch.Tensor:
    """Node values from a layer's outputs (its subnodes): ``(batch, a + 2m) -> (batch, a + m)``
    for ``m = n_mult`` multiplication nodes; the first ``a`` outputs are addition nodes and
    pass, each later pair is multiplied (MultKAN, KAN 2.0: ``x*y`` is one node)."""
    if n_mult == 0:
        return sub
    a = sub.shape[1] - 2 * n_mult
    pairs = sub[:, a:].reshape(sub.shape[0], n_mult, 2)
    return torch.cat([sub[:, :a], pairs[..., 0] * pairs[..., 1]], 1)


def layer_shapes(width: Sequence[int], mult: Sequence[int]) -> list[tuple[int, int]]:
    """``(n_in, n_out)`` of every layer of a network of node counts ``width`` with ``mult``
    multiplication nodes at each hidden level: a layer has one more output for each product
    node it feeds (its second factor)."""
    factors = [*mult, 0]  # the output level has none
    return [(a, b + m) for a, b, m in zip(width[:-1], width[1:], factors, strict=True)]


def subnode_values(node: torch.Tensor, n_mult: int) -> torch.Tensor:
    """Per-node values ``(a + m,)`` repeated for the subnodes that feed them ``(a + 2m,)``:
    each factor of a multiplication node gets that node's value (importance, a mask)."""
    if n_mult == 0:
        return node
    a = node.shape[0] - n_mult
    return torch.cat([node[:a], node[a:].repeat_interleave(2)])


class KAN(nn.Module):
    """A stack of :class:`KANLayer` mapping ``(batch, width[0])`` to ``(batch, width[-1])``.

    Parameters
    ----------
    width : node counts ``[n_in, hidden..., n_out]``.
    grid, k, base_fun, grid_range, noise_scale : as in :class:`KANLayer`.
    dtype, device : of parameters and buffers.
    seed : seed of a private generator for the initialisation (``None``: nondeterministic).
    mult : multiplication nodes of every hidden level (``len(width) - 2`` counts, each at
        most that level's width; ``None``: none): the last ``mult[l]`` nodes of hidden level
        ``l + 1`` are each the product of two outputs of the layer before it, which then
        has ``width[l + 1] + mult[l]`` outputs (:func:`multiply_nodes`).
    """

    def __init__(
        self,
        width: Sequence[int],
        grid: int = 5,
        k: int = 3,
        base_fun: str = "silu",
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
        mult: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        width = [int(w) for w in width]
        if len(width) < 2 or min(width) < 1:
            raise ValueError(f"width needs at least two positive entries, got {width}")
        hidden_mult = [0] * (len(width) - 2) if mult is None else [int(m) for m in mult]
        if len(hidden_mult) != len(width) - 2 or any(
            not 0 <= m <= w for m, w in zip(hidden_mult, width[1:-1], strict=True)
        ):
            raise ValueError(
                f"mult needs one count per hidden level, each between 0 and its width "
                f"{width[1:-1]}, got {mult}"
            )
        self.width = width
        self.mult = [0, *hidden_mult, 0]  # per level; the input and output have none
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        self.layers = nn.ModuleList(
            KANLayer(
                n_in,
                n_out,
                grid,
                k,
                base_fun,
                grid_range,
                noise_scale,
                dtype=dtype,
                device=device,
                generator=generator,
            )
            for n_in, n_out in layer_shapes(width, hidden_mult)
        )

    def __setstate__(self, state: dict) -> None:
        """Unpickling; a network pickled before multiplication nodes existed has none."""
        super().__setstate__(state)
        if "mult" not in self.__dict__:
            self.mult = [0] * len(self.width)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(n_in, n_out)`` of every layer; ``n_out`` counts both factors of a
        multiplication node."""
        return [(layer.n_in, layer.n_out) for layer in self.layers]

    def _nodes(self, level: int, sub: torch.Tensor) -> torch.Tensor:
        """Values of the nodes of ``level`` from the outputs ``sub`` of the layer before it."""
        return multiply_nodes(sub, self.mult[level])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (batch, width[0]) -> (batch, width[-1])``."""
        for level, layer in enumerate(self.layers, start=1):
            x = self._nodes(level, layer(x))
        return x

    def forward_with_penalty(
        self, x: torch.Tensor, lamb_l1: float = 1.0, lamb_entropy: float = 2.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output and the exact sample-based sparsity penalty summed over layers.

        Each edge's magnitude is its batch standard deviation divided by (the standard
        deviation of its input + 0.1), as in the KAN paper's code, computed through the
        covariance identity of :meth:`KANLayer.edge_std`.
        """
        penalty = x.new_zeros(())
        for level, layer in enumerate(self.layers, start=1):
            out, var = layer.forward_and_variance(x)
            scale = layer.std_from_variance(var) / (batch_std(x)[:, None] + 0.1)
            penalty = penalty + sparsity_penalty(scale, lamb_l1, lamb_entropy)
            x = self._nodes(level, out)
        return x, penalty

    @torch.no_grad()
    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Inputs of every layer plus the final output: ``len(width)`` tensors."""
        out = [x]
        for level, layer in enumerate(self.layers, start=1):
            x = self._nodes(level, layer(x))
            out.append(x)
        return out

    @torch.no_grad()
    def edge_activations(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, ``(inputs (batch, n_in), phi (batch, n_in, n_out))`` at ``x``."""
        result = []
        for level, layer in enumerate(self.layers, start=1):
            result.append((x, layer.edge_activations(x)))
            x = self._nodes(level, layer(x))
        return result

    @torch.no_grad()
    def edge_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Importance of every edge, per layer ``(n_in, n_out)``, attributed from the outputs.

        Output nodes have importance 1. Backwards, an edge's score is its output's importance
        times the edge's batch std over the std of that output; an input node's score is
        the sum of its outgoing edges' scores. Both factors of a multiplication node have
        the node's importance.
        """
        stds, out_stds = [], []
        for level, layer in enumerate(self.layers, start=1):
            basis = layer.basis(x)
            stds.append(layer.edge_std(basis))
            sub = layer.forward_from_basis(basis)
            out_stds.append(sub.std(0) if sub.shape[0] > 1 else torch.ones_like(sub[0]))
            x = self._nodes(level, sub)
        node = torch.ones(self.width[-1], dtype=x.dtype, device=x.device)
        scores: list[torch.Tensor] = []
        levels = range(len(self.layers), 0, -1)
        for level, std, out_std in zip(levels, reversed(stds), reversed(out_stds), strict=True):
            sub = subnode_values(node, self.mult[level])
            edge = std * (sub / (out_std + 1e-12))[None, :]
            scores.append(edge)
            node = edge.sum(1)
        return scores[::-1]

    @torch.no_grad()
    def node_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Importance of the nodes of every level: ``len(width)`` tensors."""
        edges = self.edge_scores(x)
        nodes = [e.sum(1) for e in edges]
        nodes.append(torch.ones(self.width[-1], dtype=edges[-1].dtype, device=edges[-1].device))
        return nodes

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        """Update every layer's grid from its inputs at ``x``, first layer first.

        Later layers are refit to reproduce their old outputs at their old inputs, so the
        small changes of earlier layers do not accumulate.
        """
        old_inputs = self.layer_inputs(x)
        for i, layer in enumerate(self.layers):
            layer.update_grid(x, grid_eps, x_old=old_inputs[i] if i else None)
            x = self._nodes(i + 1, layer(x))

    @torch.no_grad()
    def extend_grid(self, new_grid: int, x: torch.Tensor | None = None) -> None:
        """Refine every layer's grid to ``new_grid`` intervals, keeping the functions."""
        for level, layer in enumerate(self.layers, start=1):
            layer.extend_grid(new_grid, x)
            if x is not None:
                x = self._nodes(level, layer(x))

    @torch.no_grad()
    def widen_grids(self, x: torch.Tensor, max_new: int | None = None) -> list[tuple[int, int]]:
        """Widen every layer's grid so that its inputs at ``x`` lie on it; functions unchanged.

        Used before training on data outside the range seen so far (``warm_start``): new
        intervals at the outermost spacing (:meth:`KANLayer.widen_grid`), at most ``max_new``
        on each side of a layer (``None``: ``4 * G + 16``). Returns ``(left, right)`` per layer.
        """
        added = []
        for level, layer in enumerate(self.layers, start=1):
            left, right = layer.intervals_to_cover(x, max_new)
            layer.widen_grid(left, right)
            added.append((left, right))
            x = self._nodes(level, layer(x))
        return added

    def local_gradient_masks(self) -> dict[nn.Parameter, torch.Tensor]:
        """0/1 gradient masks that train only the spline coefficients.

        Base weights and node biases act on the whole input range; holding them fixed keeps
        training on new data from changing the functions elsewhere (spline locality).
        """
        masks: dict[nn.Parameter, torch.Tensor] = {}
        for layer in self.layers:
            keep = torch.ones_like(layer.weight)
            keep[:, layer.n_basis :, :] = 0
            masks[layer.weight] = keep
            masks[layer.bias] = torch.zeros_like(layer.bias)
        return masks

    def n_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


@torch.no_grad()
def prune(model: KAN, x: torch.Tensor, threshold: float = 0.02) -> int:
    """Mask edges and hidden nodes whose importance is below ``threshold``; return edges cut.

    Importance is :meth:`KAN.edge_scores` (output nodes count 1). A hidden node whose total
    score is below the threshold loses all its edges. A cut edge's mean output over ``x`` is
    added to its output node's bias, so the constant it contributed is kept.
    """
    edges = model.edge_scores(x)
    nodes = model.node_scores(x)
    cut = 0
    inputs = x
    for level, layer in enumerate(model.layers):
        keep = edges[level] >= threshold
        if level > 0:  # a weak hidden input node feeds nothing
            keep &= (nodes[level] >= threshold)[:, None]
        if level + 1 < len(model.layers):  # a weak hidden output node receives nothing
            strong = subnode_values(nodes[level + 1], model.mult[level + 1]) >= threshold
            keep &= strong[None, :]
        drop = (layer.mask > 0) & ~keep
        if bool(drop.any()):
            phi_mean = layer.edge_activations(inputs).mean(0)  # (n_in, n_out)
            layer.bias += (phi_mean * drop).sum(0)
            layer.mask[drop] = 0
            cut += int(drop.sum())
        inputs = model._nodes(level + 1, layer(inputs))
    return cut
