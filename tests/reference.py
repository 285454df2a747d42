"""Reference implementations used only by the tests: textbook Cox-de Boor recursion,
least-squares spline fitting, and the basis and edge variance as autograd functions of their
own, each with a hand-written backward pass (the network fuses both into
:class:`kansr.nn.layer.LayerFunction`)."""

from __future__ import annotations

import torch

from kansr.nn.activations import basis_input_grad, basis_with_base, pack_saved, unpack_saved
from kansr.nn.layer import _edge_variance, _variance_basis_grad
from kansr.nn.splines import knot_lookup, solve_normal_equations


def bspline_basis_reference(x: torch.Tensor, knots: torch.Tensor, k: int) -> torch.Tensor:
    """Textbook Cox–de Boor recursion on the dense basis, for tests: ``(batch, n_in, G + k)``."""
    xe = x[..., None]  # (batch, n_in, 1)
    t = knots[None]  # (1, n_in, M + 1)
    basis = ((xe >= t[..., :-1]) & (xe < t[..., 1:])).to(x.dtype)
    for d in range(1, k + 1):
        left = (xe - t[..., : -(d + 1)]) / (t[..., d:-1] - t[..., : -(d + 1)]) * basis[..., :-1]
        right = (t[..., d + 1 :] - xe) / (t[..., d + 1 :] - t[..., 1:-d]) * basis[..., 1:]
        basis = left + right
    return basis


def fit_coefficients(
    basis: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-10
) -> torch.Tensor:
    """Least-squares spline coefficients, one factorisation per input.

    Parameters
    ----------
    basis : ``(n_in, n_samples, n)`` basis of each input at its sample points.
    targets : ``(n_in, n_samples, n_out)`` values to reproduce.
    ridge : relative Tikhonov term (scaled by the mean diagonal of the Gram matrix).

    Returns
    -------
    coef : ``(n_in, n, n_out)`` in ``basis.dtype``.
    """
    b = basis.to(torch.float64)
    normal = b.transpose(1, 2)
    coef = solve_normal_equations(normal @ b, normal @ targets.to(torch.float64), ridge)
    return coef.to(basis.dtype)


class BasisWithBase(torch.autograd.Function):
    """``x (batch, n_in) -> A (batch, n_in, n + 1)``: the B-spline basis plus the base function.

    Column ``n`` of ``A`` is ``b(x)`` (SiLU by default). The backward pass uses the analytic
    derivative of the basis (``k + 1`` non-zeros per input), so nothing of the evaluation is
    kept for autograd. Call as ``BasisWithBase.apply(x, knots, k, base, lookup)``.
    """

    @staticmethod
    def forward(ctx, x, knots, k, base, lookup=None):  # noqa: D102
        lookup = knot_lookup(knots, k) if lookup is None else lookup
        dense, saved = basis_with_base(x, knots, k, base, lookup, ctx.needs_input_grad[0])
        if saved is not None:
            ctx.lookup = lookup
            ctx.save_for_backward(*pack_saved(saved))
        return dense

    @staticmethod
    def backward(ctx, grad_a):  # noqa: D102
        saved = unpack_saved(ctx.saved_tensors)
        grad_x = basis_input_grad(grad_a.contiguous(), saved, ctx.lookup)
        return grad_x, None, None, None, None


class EdgeVariance(torch.autograd.Function):
    """Batch variance of every edge, ``Var phi_oi = w_oi^T Cov(A_i) w_oi``, with its gradient.

    ``basis (batch, n_in, p)``, ``weight (n_in, p, n_out)`` -> ``(n_in, n_out)`` (unbiased, as
    ``torch.std``). The covariance is one Gram per input; the backward pass is written by hand
    (``dVar/dA_i = 2 (A_i - mean_i) W_i diag(g_i) W_i^T / (N - 1)``), so no
    ``(batch, n_in, n_out)`` tensor and no centred copy of the basis is ever formed.
    """

    @staticmethod
    def forward(ctx, basis, weight):  # noqa: D102
        var, mean, cov_w = _edge_variance(basis, weight)
        ctx.save_for_backward(basis, mean, weight, cov_w)
        return var

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        basis, mean, weight, cov_w = ctx.saved_tensors
        grad_basis = grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = 2 * cov_w * grad[:, None, :]
        if ctx.needs_input_grad[0]:
            m, shift = _variance_basis_grad(weight, mean, grad, basis.shape[0])
            grad_basis = torch.baddbmm(shift[:, None, :], basis.transpose(0, 1), m)
            grad_basis = grad_basis.transpose(0, 1)
        return grad_basis, grad_weight
