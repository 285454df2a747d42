"""Base activations ``b(x)`` of the edges, and a layer's design matrix ``A = [B(x), b(x)]``
(B-spline basis plus base function) with its gradient."""

from __future__ import annotations

import torch

from kansr.nn.splines import KnotLookup, LocalBasis, _dense, local_basis

_BASE_FUNCTIONS = ("silu", "identity", "zero")


def _base_and_derivative(x: torch.Tensor, base: str) -> tuple[torch.Tensor, torch.Tensor]:
    if base == "silu":
        s = torch.sigmoid(x)
        return x * s, s * (1 + x * (1 - s))
    if base == "identity":
        return x, torch.ones_like(x)
    if base == "zero":
        return torch.zeros_like(x), torch.zeros_like(x)
    raise ValueError(f"unknown base function {base!r}; choose one of {_BASE_FUNCTIONS}")


def basis_with_base(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    base: str,
    lookup: KnotLookup,
    with_derivative: bool = False,
) -> tuple[torch.Tensor, tuple[LocalBasis, torch.Tensor] | None]:
    """``A (batch, n_in, n + 1)``: the B-spline basis of every input, base function ``b(x)`` last.

    With ``with_derivative`` also what :func:`basis_input_grad` needs to map a gradient with
    respect to ``A`` onto ``x``: the :class:`LocalBasis` and ``b'(x)`` ``(batch, n_in)``.
    """
    n_basis = knots.shape[1] - 1 - k
    local = local_basis(x, knots, k, with_derivative, lookup)
    dense = _dense(local.values, local.spline_columns, n_basis + 1)
    b, db = _base_and_derivative(x, base)
    dense[..., n_basis] = b  # also discards the values of non-existent functions
    return dense, ((local, db) if with_derivative else None)


def basis_input_grad(
    grad_a: torch.Tensor,
    saved: tuple[LocalBasis, torch.Tensor],
    lookup: KnotLookup,
    gradient_layout: bool = False,
) -> torch.Tensor:
    """Gradient ``(batch, n_in)`` with respect to ``x`` from one with respect to ``A``.

    ``grad_a`` is ``(batch, n_in, n + 1)`` in the layout of ``A``, or with
    ``gradient_layout`` ``(batch, n_in, n + 2)`` laid out ``[B_0 .. B_{n-1}, 0, b]``: the zero
    column is where non-existent functions point, so nothing has to be masked. Only the
    ``k + 1`` non-zero columns and the base column are read (``saved`` from
    :func:`basis_with_base`).
    """
    local, db = saved
    if gradient_layout:
        picked = torch.gather(grad_a, 2, local.columns)  # (batch, n_in, k + 2)
        spline = local.input_grad(picked[..., :-1], lookup, zero_if_missing=True)
        return spline + picked[..., -1] * db
    picked = torch.gather(grad_a, 2, local.spline_columns)  # (batch, n_in, k + 1)
    return local.input_grad(picked, lookup) + grad_a[..., -1] * db


def to_gradient_layout(t: torch.Tensor, n_basis: int, dim: int) -> torch.Tensor:
    """Insert a zero slice before index ``n_basis`` (the base function's) along ``dim``."""
    size = list(t.shape)
    size[dim] = 1
    parts = [t.narrow(dim, 0, n_basis), t.new_zeros(size), t.narrow(dim, n_basis, 1)]
    return torch.cat(parts, dim=dim)


def pack_saved(saved: tuple[LocalBasis, torch.Tensor]) -> list[torch.Tensor | None]:
    """The tensors of :func:`basis_with_base`'s ``saved``, for ``ctx.save_for_backward``."""
    local, db = saved
    return [local.columns, local.powers, local.slope, db]  # the values are not needed


def unpack_saved(tensors) -> tuple[LocalBasis, torch.Tensor]:
    """Inverse of :func:`pack_saved` (on ``ctx.saved_tensors``); ``values`` is ``None``."""
    columns, powers, slope, db = tensors
    return LocalBasis(None, columns, powers, slope), db
