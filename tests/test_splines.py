"""B-spline basis: exact against Cox-de Boor, analytic derivative, least-squares fitting."""

import pytest
import torch

from kansr.nn.splines import (
    bspline_basis,
    extend_knots,
    interval_polynomials,
    knot_lookup,
    local_basis,
    uniform_knots,
)
from tests.reference import BasisWithBase, bspline_basis_reference, fit_coefficients


def _random_knots(n_in, n_knots, generator):
    """Strictly increasing, clearly non-uniform knots (n_in, n_knots) in float64."""
    gaps = torch.rand(n_in, n_knots - 1, generator=generator, dtype=torch.float64) ** 3 + 1e-3
    return torch.cat([torch.zeros(n_in, 1, dtype=torch.float64), gaps.cumsum(1)], 1) - 1.0


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("uniform", [True, False])
def test_basis_matches_cox_de_boor(k, uniform):
    gen = torch.Generator().manual_seed(k)
    grid = 7
    if uniform:
        low = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
        knots = uniform_knots(low, low + torch.tensor([2.0, 0.5, 9.0]), grid, k)
    else:
        knots = _random_knots(3, grid + 2 * k + 1, gen)
    lo, hi = knots[:, 0], knots[:, -1]
    span = hi - lo
    x = lo + (torch.rand(2000, 3, generator=gen, dtype=torch.float64) * 1.4 - 0.2) * span
    x[: knots.shape[1]] = knots.t()  # exactly on every knot, both ends included
    fast = bspline_basis(x, knots, k)
    ref = bspline_basis_reference(x, knots, k)
    assert fast.shape == (2000, 3, grid + k)
    assert torch.max(torch.abs(fast - ref)) < 1e-12


def test_partition_of_unity_on_core_and_zero_outside():
    k, grid = 3, 5
    knots = uniform_knots(
        torch.tensor([-1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), grid, k
    )
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    assert torch.allclose(bspline_basis(x, knots, k).sum(-1), torch.ones_like(x), atol=1e-12)
    far = torch.tensor([[-50.0], [50.0]], dtype=torch.float64)
    assert torch.all(bspline_basis(far, knots, k) == 0)


@pytest.mark.parametrize("base", ["silu", "identity", "zero"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("uniform", [True, False])
def test_analytic_gradient(base, k, uniform):
    gen = torch.Generator().manual_seed(0)
    if uniform:
        low = torch.tensor([-1.0, 0.5], dtype=torch.float64)
        knots = uniform_knots(low, low + torch.tensor([2.0, 3.0], dtype=torch.float64), 6, k)
    else:
        knots = _random_knots(2, 6 + 2 * k + 1, gen)
    assert knot_lookup(knots, k).uniform == uniform
    # avoid the kinks of k = 1 exactly at knots
    x = (knots[:, 2:3].t() + 0.37 * (knots[:, 3:4] - knots[:, 2:3]).t()).repeat(5, 1)
    x = x + 0.05 * torch.randn(5, 2, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    lookup = knot_lookup(knots, k)
    assert torch.autograd.gradcheck(lambda z: BasisWithBase.apply(z, knots, k, base, lookup), (x,))


def test_base_column_and_float32():
    knots = uniform_knots(-torch.ones(4), torch.ones(4), 10, 3)
    x = torch.rand(64, 4) * 2 - 1
    a = BasisWithBase.apply(x, knots, 3, "silu", None)
    assert a.dtype == torch.float32 and a.shape == (64, 4, 14)
    assert torch.allclose(a[..., -1], torch.nn.functional.silu(x))
    ref = bspline_basis_reference(x.double(), knots.double(), 3)
    assert torch.max(torch.abs(a[..., :-1].double() - ref)) < 1e-6


def test_lookup_rejects_unsorted_knots():
    with pytest.raises(ValueError, match="strictly increasing"):
        knot_lookup(torch.tensor([[0.0, 1.0, 1.0, 2.0, 3.0]]), 1)


def test_fit_coefficients_reproduces_a_spline():
    gen = torch.Generator().manual_seed(1)
    k, grid = 3, 6
    core = torch.linspace(-1, 1, grid + 1, dtype=torch.float64)[None].repeat(2, 1)
    knots = extend_knots(core, k)
    coef = torch.randn(2, grid + k, 3, generator=gen, dtype=torch.float64)
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    basis = bspline_basis(x, knots, k).transpose(0, 1)  # (n_in, N, n)
    values = basis @ coef
    fitted = fit_coefficients(basis, values)
    assert torch.max(torch.abs(basis @ fitted - values)) < 1e-8


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_interval_polynomials_are_the_b_spline_pieces(k):
    gen = torch.Generator().manual_seed(10 + k)
    knots = _random_knots(2, 5 + 2 * k + 1, gen)
    poly = interval_polynomials(knots, k)  # (n_in, M, k + 1, k + 1)
    n_int = knots.shape[1] - 1
    u = torch.rand(50, generator=gen, dtype=torch.float64)
    for j in range(n_int):
        x = knots[:, j : j + 1] + u * (knots[:, j + 1 : j + 2] - knots[:, j : j + 1])  # (2, 50)
        ref = bspline_basis_reference(x.t(), knots, k)  # (50, 2, n)
        powers = u[:, None] ** torch.arange(k + 1, dtype=torch.float64)  # (50, k + 1)
        pieces = torch.einsum("sq,iqr->sir", powers, poly[:, j])  # (50, 2, k + 1)
        for r in range(k + 1):
            m = j - k + r
            if 0 <= m < n_int - k:
                assert torch.max(torch.abs(pieces[..., r] - ref[..., m])) < 1e-12
            else:  # functions that do not exist have no coefficients
                assert torch.all(poly[:, j, :, r] == 0)


def test_uniform_detection_and_paths_agree():
    k = 3
    low = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    knots = uniform_knots(low, low + 2.0, 8, k)
    assert knot_lookup(knots, k).uniform
    nudged = knots.clone()
    nudged[:, 5] += 1e-9  # no longer uniform to float64 rounding: the general path
    assert not knot_lookup(nudged, k).uniform
    x = low + (torch.rand(500, 2, dtype=torch.float64) * 2.6 - 0.3) * 2.0
    fast = BasisWithBase.apply(x, knots, k, "silu", None)
    general = BasisWithBase.apply(x, nudged, k, "silu", None)
    assert torch.max(torch.abs(fast - general)) < 1e-7  # the nudge itself moves values ~1e-8
    local = local_basis(x, knots, k, with_derivative=True)
    local_general = local_basis(x, nudged, k, with_derivative=True)
    slope = local.derivative(knot_lookup(knots, k))
    slope_general = local_general.derivative(knot_lookup(nudged, k))
    assert torch.max(torch.abs(slope - slope_general)) < 1e-6


@pytest.mark.parametrize("uniform", [True, False])
def test_non_finite_inputs_do_not_crash(uniform):
    gen = torch.Generator().manual_seed(3)
    if uniform:
        knots = uniform_knots(-torch.ones(2), torch.ones(2), 5, 3)
    else:
        knots = _random_knots(2, 12, gen).float()
    x = torch.tensor([[float("nan"), 0.1], [float("inf"), -float("inf")], [0.2, 1e30]])
    a = BasisWithBase.apply(x, knots, 3, "silu", None)
    assert torch.isnan(a[0, 0]).any() and torch.isfinite(a[0, 1]).all()  # NaN propagates
    assert torch.isfinite(a[1, :, :-1]).all()  # +-inf lie outside the grid
    assert torch.all(a[2, 1, :-1] == 0)  # far outside the grid: no spline contributes
