"""A KAN layer: learnable 1-D edge functions summed at nodes, as one autograd node."""

from __future__ import annotations

import torch
from torch import nn

from kansr.nn.activations import (
    _base_and_derivative,
    basis_input_grad,
    basis_with_base,
    pack_saved,
    to_gradient_layout,
    unpack_saved,
)
from kansr.nn.splines import (
    KnotLookup,
    bspline_basis,
    extend_knots,
    knot_lookup,
    solve_normal_equations,
    uniform_knots,
)

_REFIT_CHUNK = 2048  # samples per chunk when accumulating least-squares normal equations


def _edge_variance(
    basis: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``Var phi_oi = w_oi^T Cov(A_i) w_oi`` (unbiased) of every edge, with what its gradient needs.

    ``basis (batch, n_in, p)``, ``weight (n_in, p, n_out)`` -> ``var (n_in, n_out)``, the basis
    mean ``(n_in, p)`` and ``Cov(A_i) W_i`` ``(n_in, p, n_out)``. The covariance is one Gram
    matrix per input, read from the basis in place (no centred or transposed copy).
    """
    n = basis.shape[0]
    mean = basis.mean(0)  # (n_in, p)
    gram = torch.bmm(basis.permute(1, 2, 0), basis.permute(1, 0, 2))  # (n_in, p, p)
    cov = (gram - n * mean[:, :, None] * mean[:, None, :]) / max(n - 1, 1)
    cov_w = torch.bmm(cov, weight)  # (n_in, p, n_out)
    return (cov_w * weight).sum(1), mean, cov_w


def _variance_basis_grad(
    weight: torch.Tensor, mean: torch.Tensor, grad_var: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``dL/dA_i = (A_i - mean_i) M_i`` with ``M_i = 2 W_i diag(g_i) W_i^T / (N - 1)``.

    Returns ``M (n_in, p, p)`` and ``shift = -mean_i M_i`` ``(n_in, p)``, so that the gradient is
    ``A_i M_i + shift_i`` (``grad_var`` is ``g (n_in, n_out)``, ``n`` the batch size).
    """
    m = torch.bmm(weight * grad_var[:, None, :], weight.transpose(1, 2))  # (n_in, p, p)
    m = m * (2 / max(n - 1, 1))
    return m, -torch.bmm(mean[:, None, :], m)[:, 0, :]


class LayerFunction(torch.autograd.Function):
    """A whole KAN layer as one autograd node, optionally with every edge's batch variance.

    ``x (batch, n_in)``, ``weight (n_in, p, n_out)`` (masked), ``bias (n_out,)`` ->
    ``out (batch, n_out)`` and ``var (n_in, n_out)`` (unbiased; empty unless
    ``with_variance``). Call as
    ``LayerFunction.apply(x, weight, bias, knots, k, base, lookup, with_variance)``.

    Forward: the dense basis ``A (batch, n_in, p)`` (:func:`~kansr.nn.activations.basis_with_base`)
    and one GEMM. The variance is ``w^T Cov(A_i) w``, one Gram matrix per input
    (:func:`_edge_variance`); with a single output node the edge activations form a
    ``(n_in, batch)`` matrix, no larger than ``x``, and their variance is taken directly.

    Backward, written by hand: ``dL/dA = g W^T`` is one GEMM into a contiguous buffer in the
    gradient layout (:func:`~kansr.nn.activations.basis_input_grad`), the penalty's part
    ``A_i M_i + shift_i`` is added in place (the shift as one more row of that GEMM, the product
    by a batched GEMM on a strided view of the same buffer), and only the ``k + 1`` non-zero columns
    and the base column of it are read to form ``dL/dx``. With a single output node
    ``dL/dA_bi`` is a multiple of ``w_i``, so ``dL/dx`` is that factor times the edge
    function's slope and no ``A``-sized gradient is formed at all. No
    ``(batch, n_in, n_out)`` tensor, no second ``A``-sized gradient and no strided add.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, knots, k, base, lookup, with_variance):  # noqa: D102
        ctx.set_materialize_grads(False)
        need_x = ctx.needs_input_grad[0]
        basis, saved = basis_with_base(x, knots, k, base, lookup, need_x)
        weight = weight.contiguous()
        batch, n_in, p = basis.shape
        n_out = weight.shape[2]
        out = torch.addmm(bias, basis.reshape(batch, -1), weight.reshape(n_in * p, n_out))
        stats: tuple[torch.Tensor, ...] = ()
        if not with_variance:
            var = out.new_empty(0)
            ctx.mark_non_differentiable(var)
        elif n_out == 1:  # edge activations (n_in, batch): as small as x
            phi = torch.bmm(basis.transpose(0, 1), weight)[..., 0]
            centred = phi - phi.mean(1, keepdim=True)
            var = (centred * centred).sum(1, keepdim=True) / max(batch - 1, 1)
            stats = (centred,)
        else:
            var, mean, cov_w = _edge_variance(basis, weight)
            stats = (mean, cov_w)
        ctx.n_stats, ctx.lookup = len(stats), lookup
        ctx.save_for_backward(basis, weight, *stats, *(pack_saved(saved) if saved else ()))
        return out, var

    @staticmethod
    def backward(ctx, grad_out, grad_var):  # noqa: D102
        basis, weight, *rest = ctx.saved_tensors
        stats, saved = rest[: ctx.n_stats], rest[ctx.n_stats :]
        batch, n_in, p = basis.shape
        n_out = weight.shape[2]
        if grad_out is None:
            grad_out = basis.new_zeros(batch, n_out)
        if not stats:
            grad_var = None
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n_basis = p - 1
        grad_x = grad_w = grad_b = None
        if need_b:
            grad_b = grad_out.sum(0)
        if n_out == 1:
            # dL/dA_bi = G_bi w_i and dL/dW_i = A_i^T G_i, with G = g, plus with the variance
            # 2 g_var (phi - mean) / (N - 1); so dL/dx_bi = G_bi phi_i'(x_bi)
            g_full = grad_out.t()  # (1, batch)
            if grad_var is not None:
                (centred,) = stats
                g_full = centred * (grad_var * (2 / max(batch - 1, 1))) + g_full  # (n_in, batch)
            if need_w and grad_var is None:
                grad_w = (basis.reshape(batch, -1).t() @ grad_out).reshape(n_in, p, 1)
            elif need_w:
                grad_w = torch.bmm(basis.permute(1, 2, 0), g_full[..., None])  # (n_in, p, 1)
            if need_x:  # w read at the k + 2 columns of every sample: no dL/dA at all
                w_row = to_gradient_layout(weight, n_basis, 1)[:, :, 0]  # (n_in, p + 1)
                slope = basis_input_grad(
                    w_row.expand(batch, n_in, p + 1), unpack_saved(saved), ctx.lookup, True
                )
                grad_x = g_full.t() * slope
        else:
            if need_w:
                grad_w = (basis.reshape(batch, -1).t() @ grad_out).reshape(n_in, p, n_out)
                if grad_var is not None:
                    grad_w = grad_w + 2 * stats[1] * grad_var[:, None, :]
            if need_x:
                # dL/dA in the gradient layout [splines, 0, base] (p + 1 columns per input)
                w_t = to_gradient_layout(weight, n_basis, 1).reshape(n_in * (p + 1), n_out).t()
                if grad_var is None:
                    grad_a = grad_out @ w_t  # (batch, n_in * (p + 1))
                else:
                    m, shift = _variance_basis_grad(weight, stats[0], grad_var, batch)
                    m = to_gradient_layout(m, n_basis, 2)  # (n_in, p, p + 1)
                    shift = to_gradient_layout(shift, n_basis, 1).reshape(1, -1)
                    # the shift as one more row of the GEMM (a broadcast bias would be copied)
                    ones = grad_out.new_ones(batch, 1)
                    grad_a = torch.cat([grad_out, ones], 1) @ torch.cat([w_t, shift], 0)
                    view = grad_a.view(batch, n_in, p + 1).transpose(0, 1)  # strided, in place
                    view.baddbmm_(basis.transpose(0, 1), m)
                grad_a = grad_a.view(batch, n_in, p + 1)
                grad_x = basis_input_grad(grad_a, unpack_saved(saved), ctx.lookup, True)
        return grad_x, grad_w, grad_b, None, None, None, None, None


class KANLayer(nn.Module):
    """One KAN layer mapping ``(batch, n_in)`` to ``(batch, n_out)``.

    Parameters
    ----------
    n_in, n_out : number of input and output nodes.
    grid : number of grid intervals ``G``.
    k : spline order.
    base_fun : ``"silu"``, ``"identity"`` or ``"zero"``.
    grid_range : initial core interval of every input's grid.
    noise_scale : standard deviation of the initial spline coefficients (times ``1/sqrt(n_in)``).
    generator : torch generator for the initialisation (global RNG state is never used).

    Attributes
    ----------
    weight : ``(n_in, G + k + 1, n_out)`` parameter; ``weight[i, :G+k, o]`` are the spline
        coefficients of edge ``i -> o`` and ``weight[i, G+k, o]`` its base weight.
    bias : ``(n_out,)`` parameter added to every output node.
    knots : ``(n_in, G + 2k + 1)`` buffer, the extended grid of each input.
    mask : ``(n_in, n_out)`` buffer of 0/1; a masked edge contributes nothing.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        grid: int = 5,
        k: int = 3,
        base_fun: str = "silu",
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if grid < 1 or k < 1:
            raise ValueError(f"grid and k must be >= 1, got grid={grid}, k={k}")
        _base_and_derivative(torch.zeros(1), base_fun)  # validates the name
        self.n_in, self.n_out, self.grid, self.k, self.base_fun = n_in, n_out, grid, k, base_fun
        factory = {"dtype": dtype, "device": device}
        low = torch.full((n_in,), float(grid_range[0]), **factory)
        high = torch.full((n_in,), float(grid_range[1]), **factory)
        self.register_buffer("knots", uniform_knots(low, high, grid, k))
        self.register_buffer("mask", torch.ones(n_in, n_out, **factory))
        n_basis = grid + k
        weight = torch.empty(n_in, n_basis + 1, n_out, **factory)
        gen_device = "cpu" if generator is None else generator.device
        spline = torch.randn(n_in, n_basis, n_out, generator=generator, device=gen_device)
        base = torch.rand(n_in, n_out, generator=generator, device=gen_device) * 2 - 1
        weight[:, :n_basis, :] = (spline * noise_scale / n_in**0.5).to(**factory)
        weight[:, n_basis, :] = (base / n_in**0.5).to(**factory)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(n_out, **factory))

    @property
    def n_basis(self) -> int:
        """Number of B-spline functions per input, ``G + k``."""
        return self.knots.shape[1] - 1 - self.k

    def masked_weight(self) -> torch.Tensor:
        """Effective weight ``(n_in, n + 1, n_out)`` with masked edges zeroed."""
        return self.weight * self.mask[:, None, :]

    def lookup(self) -> KnotLookup:
        """The :class:`~kansr.nn.splines.KnotLookup` of the current knots (cached)."""
        key = (self.knots.data_ptr(), self.knots._version, self.knots.device, self.knots.dtype)
        if getattr(self, "_lookup_key", None) != key:
            self._lookup = knot_lookup(self.knots, self.k)
            self._lookup_key = key
        return self._lookup

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """``A (batch, n_in, n + 1)``: spline basis of every input, base function last.

        For evaluation: it has no gradient with respect to ``x`` (training differentiates
        :meth:`forward_and_variance`, whose :class:`LayerFunction` has the analytic one).
        """
        if x.requires_grad and torch.is_grad_enabled():
            raise ValueError(
                "KANLayer.basis has no gradient with respect to x; call it under "
                "torch.no_grad() or on a detached x (forward_and_variance differentiates)"
            )
        return basis_with_base(x, self.knots, self.k, self.base_fun, self.lookup())[0]

    def forward_from_basis(self, basis: torch.Tensor) -> torch.Tensor:
        """Layer output ``(batch, n_out)`` from ``basis (batch, n_in, n + 1)``: one matmul."""
        w = self.masked_weight().reshape(-1, self.n_out)  # (n_in * (n + 1), n_out)
        return torch.addmm(self.bias, basis.reshape(basis.shape[0], -1), w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (batch, n_in) -> (batch, n_out)``."""
        return self.forward_and_variance(x, with_variance=False)[0]

    def forward_and_variance(
        self, x: torch.Tensor, with_variance: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output ``(batch, n_out)`` and every edge's batch variance ``(n_in, n_out)``.

        One :class:`LayerFunction` node; the variance (``w^T Cov(A) w``, unbiased) is an empty
        tensor when ``with_variance`` is false.
        """
        return LayerFunction.apply(
            x,
            self.masked_weight(),
            self.bias,
            self.knots,
            self.k,
            self.base_fun,
            self.lookup(),
            with_variance,
        )

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """``phi (batch, n_in, n_out)``: every edge's output at ``x`` (masked edges are 0)."""
        return torch.einsum("bip,ipo->bio", self.basis(x), self.masked_weight())

    def edge_std(self, basis: torch.Tensor) -> torch.Tensor:
        """Batch standard deviation of every edge's output, ``(n_in, n_out)``.

        Uses ``Var phi_oi = w_oi^T Cov(A_i) w_oi`` (unbiased covariance, as ``torch.std``), so no
        ``(batch, n_in, n_out)`` tensor is formed. Differentiable (by autograd).
        """
        return self.std_from_variance(_edge_variance(basis, self.masked_weight())[0])

    def std_from_variance(self, var: torch.Tensor) -> torch.Tensor:
        """Edge standard deviations ``(n_in, n_out)`` from variances; exact 0 on masked edges."""
        tiny = torch.finfo(var.dtype).eps
        return torch.sqrt(var.clamp_min(0) + tiny * tiny) * self.mask

    # ------------------------------------------------------------------ grids
    @torch.no_grad()
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B_1..B_n(x_i), b(x_i)]`` per input: ``(n_in, batch, n + 1)`` in float64."""
        basis = bspline_basis(x, self.knots, self.k, self.lookup())  # (batch, n_in, n)
        basis = basis.to(torch.float64)
        base, _ = _base_and_derivative(x.to(torch.float64), self.base_fun)
        return torch.cat([basis, base[..., None]], dim=2).transpose(0, 1)

    @torch.no_grad()
    def refit_system(
        self, new_knots: torch.Tensor, x_fit: torch.Tensor, x_src: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normal equations of refitting this layer's edges onto ``new_knots``, in float64.

        Each edge's new spline is fitted at the points ``x_fit (N, n_in)`` to reproduce
        ``phi_old(x_src) - w_b * b(x_fit)`` (``x_src`` defaults to ``x_fit``), i.e. the old
        edge function with its unchanged base part removed. The targets are never formed:
        with ``D = [B_old(x_src), b(x_src) - b(x_fit)]`` the right-hand side of edge ``i -> o``
        is ``cross[i] @ weight[i, :, o]`` with ``cross = B_new^T D``, and the sums over samples
        run over chunks, so memory stays ``O(n_in * chunk * n)`` whatever ``N`` and ``n_out``.

        Returns ``gram (n_in, n_new, n_new)`` and ``cross (n_in, n_new, n + 1)``; the old
        functions are this layer's current knots and ``weight``.
        """
        n_new = new_knots.shape[1] - 1 - self.k
        n_feat = self.n_basis + 1
        lookup = knot_lookup(new_knots, self.k)
        gram = x_fit.new_zeros(self.n_in, n_new, n_new, dtype=torch.float64)
        cross = x_fit.new_zeros(self.n_in, n_new, n_feat, dtype=torch.float64)
        for start in range(0, x_fit.shape[0], _REFIT_CHUNK):  # bounded memory: sum over chunks
            fit = x_fit[start : start + _REFIT_CHUNK]
            new_basis = bspline_basis(fit, new_knots, self.k, lookup)
            new_basis = new_basis.to(torch.float64).transpose(0, 1)  # (n_in, chunk, n_new)
            src = self._features(fit if x_src is None else x_src[start : start + _REFIT_CHUNK])
            if x_src is not None:
                src[..., -1] -= self._features(fit)[..., -1]
            else:
                src[..., -1] = 0
            gram += new_basis.transpose(1, 2) @ new_basis
            cross += new_basis.transpose(1, 2) @ src  # (n_in, n_new, n + 1)
        return gram, cross

    @torch.no_grad()
    def set_knots(self, knots: torch.Tensor) -> None:
        """Install extended knots ``(n_in, G' + 2k + 1)`` (coefficients are left alone)."""
        self.knots = knots.to(self.knots.dtype).contiguous()
        self._lookup_key = None
        self.grid = knots.shape[1] - 1 - 2 * self.k

    @torch.no_grad()
    def _refit(
        self, new_knots: torch.Tensor, x_fit: torch.Tensor, x_src: torch.Tensor | None = None
    ) -> None:
        """Install ``new_knots`` and refit the spline coefficients by least squares.

        See :meth:`refit_system`; one factorisation per input serves all its edges.
        """
        gram, cross = self.refit_system(new_knots, x_fit, x_src)
        rhs = cross @ self.weight.to(torch.float64)  # (n_in, n_new, n_out)
        coef = solve_normal_equations(gram, rhs).to(self.weight.dtype)
        base_w = self.weight[:, self.n_basis : self.n_basis + 1, :]
        new_weight = torch.cat([coef, base_w], dim=1)
        if new_weight.shape == self.weight.shape:
            self.weight.copy_(new_weight)  # keep the Parameter object (optimizers hold it)
        else:
            self.weight = nn.Parameter(new_weight.contiguous())
        self.set_knots(new_knots)

    @torch.no_grad()
    def data_knots(self, x: torch.Tensor, grid_eps: float = 0.02) -> torch.Tensor:
        """Extended knots ``(n_in, G + 2k + 1)`` at the sample quantiles of ``x (batch, n_in)``.

        The core grid is ``grid_eps * uniform + (1 - grid_eps) * quantiles`` over the range of
        each input (float64).
        """
        g = self.grid
        x_sorted = torch.sort(x.to(torch.float64), dim=0).values  # (batch, n_in)
        n = x_sorted.shape[0]
        ranks = torch.linspace(0, n - 1, g + 1, dtype=torch.float64, device=x.device)
        lo_r, frac = ranks.floor().long(), ranks - ranks.floor()
        hi_r = (lo_r + 1).clamp(max=n - 1)
        adaptive = x_sorted[lo_r] * (1 - frac[:, None]) + x_sorted[hi_r] * frac[:, None]
        low, high = x_sorted[0], x_sorted[-1]
        flat = (high - low) <= 1e-12 * (1 + high.abs())
        low = torch.where(flat, low - 1, low)
        high = torch.where(flat, high + 1, high)
        steps = torch.linspace(0, 1, g + 1, dtype=torch.float64, device=x.device)
        uniform = low[None, :] + steps[:, None] * (high - low)[None, :]  # (g + 1, n_in)
        adaptive = torch.where(flat[None, :], uniform, adaptive)
        core = (grid_eps * uniform + (1 - grid_eps) * adaptive).t()  # (n_in, g + 1)
        return extend_knots(core, self.k)

    @torch.no_grad()
    def update_grid(
        self, x: torch.Tensor, grid_eps: float = 0.02, x_old: torch.Tensor | None = None
    ) -> None:
        """Move knots to the sample quantiles of ``x (batch, n_in)``, keeping the functions.

        The new knots are :meth:`data_knots`; coefficients are refit by least squares on ``x``
        (float64, one factorisation per input). When earlier layers were just refit, ``x_old``
        are this layer's inputs before that: each edge is then refit so that ``phi_new(x)``
        reproduces ``phi_old(x_old)``, which absorbs the small shift of its inputs.
        """
        self._refit(self.data_knots(x, grid_eps), x, x_old)

    @torch.no_grad()
    def refined_knots(self, new_grid: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Knots of ``new_grid`` intervals on the same core interval, and dense fit points.

        When ``new_grid`` is a multiple of the current grid the new knots contain the old ones
        (nested); otherwise knot positions are interpolated. Returns the extended knots
        ``(n_in, new_grid + 2k + 1)`` and ``points (P, n_in)`` spanning each core interval, on
        which a least-squares refit reproduces a nested refinement exactly (float64).
        """
        g, k = self.grid, self.k
        core = self.knots[:, k : g + k + 1].to(torch.float64)  # (n_in, g + 1)
        pos = torch.linspace(0, g, new_grid + 1, dtype=torch.float64, device=core.device)
        lo = pos.floor().long().clamp(max=g - 1)
        frac = pos - lo
        new_core = core[:, lo] * (1 - frac) + core[:, lo + 1] * frac  # (n_in, new_grid + 1)
        n_points = 4 * (new_grid + k) + 16
        steps = torch.linspace(0, 1, n_points, dtype=torch.float64, device=core.device)
        dense = core[:, :1] + steps[None, :] * (core[:, -1:] - core[:, :1])  # (n_in, P)
        return extend_knots(new_core, k), dense.t()

    @torch.no_grad()
    def extend_grid(self, new_grid: int, x: torch.Tensor | None = None) -> None:
        """Refine to ``new_grid`` intervals on the same core interval, keeping the functions.

        When ``new_grid`` is a multiple of the current grid, the new knots contain the old
        ones and the refit is exact on the core interval (knot insertion, computed by least
        squares on dense points, see :meth:`refined_knots`). Otherwise knot positions are
        interpolated.
        """
        new_knots, points = self.refined_knots(new_grid)
        if x is not None:
            points = torch.cat([points, x.to(torch.float64)], dim=0)
        self._refit(new_knots, points.to(self.knots.dtype))

    @torch.no_grad()
    def intervals_to_cover(self, x: torch.Tensor, max_new: int | None = None) -> tuple[int, int]:
        """Grid intervals ``(left, right)`` to add so that the core grid covers ``x (batch, n_in)``.

        Counted at the spacing of the outermost knot interval on each side; the largest count
        over the inputs (every input of a layer gets the same number of new intervals), at
        most ``max_new`` per side (``None``: ``4 * G + 16``).
        """
        if x.shape[0] == 0:
            return 0, 0
        k, g = self.k, self.grid
        knots = self.knots.to(torch.float64)
        x = x.to(torch.float64)
        h_left = knots[:, 1] - knots[:, 0]
        h_right = knots[:, -1] - knots[:, -2]
        below = (knots[:, k] - x.min(0).values) / h_left  # (n_in,)
        above = (x.max(0).values - knots[:, g + k]) / h_right
        cap = 4 * g + 16 if max_new is None else max_new
        left = int(torch.ceil(below - 1e-9).clamp_min(0).max())
        right = int(torch.ceil(above - 1e-9).clamp_min(0).max())
        return min(left, cap), min(right, cap)

    @torch.no_grad()
    def widened_knots(self, left: int, right: int) -> torch.Tensor:
        """The knots with ``left`` / ``right`` more intervals outside, ``(n_in, G' + 2k + 1)``.

        New knots continue the outermost spacing, so every old B-spline is unchanged (it only
        depends on its own ``k + 2`` knots): the old functions are reproduced exactly by the
        old coefficients with ``left`` zeros before and ``right`` zeros after them.
        """
        knots = self.knots
        steps_l = torch.arange(left, 0, -1, dtype=knots.dtype, device=knots.device)
        steps_r = torch.arange(1, right + 1, dtype=knots.dtype, device=knots.device)
        new_left = knots[:, :1] - steps_l[None, :] * (knots[:, 1:2] - knots[:, :1])
        new_right = knots[:, -1:] + steps_r[None, :] * (knots[:, -1:] - knots[:, -2:-1])
        return torch.cat([new_left, knots, new_right], dim=1)

    @torch.no_grad()
    def widen_grid(self, left: int, right: int) -> None:
        """Add ``left`` / ``right`` grid intervals outside the grid; the functions are unchanged.

        See :meth:`widened_knots`; the new coefficients are zero.
        """
        if left == 0 and right == 0:
            return
        n, w = self.n_basis, self.weight
        zeros = w.new_zeros
        new_weight = torch.cat(
            [
                zeros(self.n_in, left, self.n_out),
                w[:, :n],
                zeros(self.n_in, right, self.n_out),
                w[:, n:],
            ],
            dim=1,
        )
        self.weight = nn.Parameter(new_weight.contiguous())
        self.set_knots(self.widened_knots(left, right))
