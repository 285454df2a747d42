"""Reference implementations used only by the tests: textbook Cox-de Boor recursion and
least-squares spline fitting."""

from __future__ import annotations

import torch

from kansr.nn.splines import solve_normal_equations


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
