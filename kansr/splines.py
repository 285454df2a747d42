"""B-spline bases on per-input knot vectors, and least-squares spline fitting.

Conventions used throughout kansr:

* A grid of ``G`` intervals and spline order ``k`` is stored as an *extended* knot vector of
  ``G + 2k + 1`` knots per input: ``k`` extra intervals on each side of the core interval
  ``[t_k, t_{G+k}]``. Knots are strictly increasing.
* That knot vector carries ``n = G + k`` basis functions ``B_0 .. B_{n-1}``; on any knot
  interval ``[t_j, t_{j+1})`` only ``B_{j-k} .. B_j`` (``k + 1`` of them) are non-zero, and all
  are zero outside ``[t_0, t_{G+2k})``.
* Tensors: ``x`` is ``(batch, n_in)``, ``knots`` is ``(n_in, G + 2k + 1)``, a dense basis is
  ``(batch, n_in, n)``.

The fast path evaluates only the ``k + 1`` non-zero functions per input with de Boor's
triangular recursion on ``(batch, n_in)`` tensors, then scatters them into the dense basis;
its derivative with respect to ``x`` is written by hand (no autograd through the recursion).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = [
    "uniform_knots",
    "extend_knots",
    "KnotLookup",
    "knot_lookup",
    "local_basis",
    "bspline_basis",
    "bspline_basis_reference",
    "BasisWithBase",
    "fit_coefficients",
    "solve_normal_equations",
]


def uniform_knots(low: torch.Tensor, high: torch.Tensor, n_intervals: int, k: int) -> torch.Tensor:
    """Extended uniform knots on ``[low_i, high_i]`` for every input ``i``.

    Parameters
    ----------
    low, high : tensors of shape ``(n_in,)``; ``high > low``.
    n_intervals : number of core intervals ``G``.
    k : spline order.

    Returns
    -------
    knots : ``(n_in, G + 2k + 1)``.
    """
    steps = torch.arange(-k, n_intervals + k + 1, dtype=low.dtype, device=low.device)
    h = (high - low) / n_intervals  # (n_in,)
    return low[:, None] + steps[None, :] * h[:, None]


def extend_knots(core: torch.Tensor, k: int) -> torch.Tensor:
    """Add ``k`` knots on each side of core knots ``(n_in, G + 1)`` at the mean core spacing.

    Returns ``(n_in, G + 2k + 1)``.
    """
    n_intervals = core.shape[1] - 1
    h = (core[:, -1] - core[:, 0]) / n_intervals  # (n_in,)
    steps = torch.arange(1, k + 1, dtype=core.dtype, device=core.device)
    left = core[:, :1] - steps.flip(0)[None, :] * h[:, None]
    right = core[:, -1:] + steps[None, :] * h[:, None]
    return torch.cat([left, core, right], dim=1)


class KnotLookup(NamedTuple):
    """Precomputed tables that locate ``x`` in a knot vector without a binary search.

    Each input's span ``[t_0, t_M]`` is cut into ``n_cells`` equal cells; ``cell_interval``
    holds the knot interval at each cell's left edge and ``n_corrections`` is the largest
    number of knots strictly inside one cell (0 for a uniform grid, where the cell *is* the
    interval and ``uniform`` is true). ``shifted`` holds the padded knots shifted by
    ``m = -k+1 .. k`` so that every ``t_{j+m}`` is one gather; ``column[r]`` maps an interval
    ``j`` to the dense column of ``B_{j-k+r}``, or to column ``n`` (the base function's, which
    is overwritten afterwards) where that function does not exist.
    """

    low: torch.Tensor  # (n_in,) t_0
    high: torch.Tensor  # (n_in,) t_M
    inv_cell: torch.Tensor  # (n_in,) n_cells / (t_M - t_0)
    cell_interval: torch.Tensor  # (n_in * n_cells,) long, flat over inputs
    cell_offset: torch.Tensor  # (n_in,) long, i * n_cells
    knot_offset: torch.Tensor  # (n_in,) long, i * (M + 1 + 2k) + k
    padded: torch.Tensor  # (n_in * (M + 1 + 2k),) flat padded knots
    shifted: torch.Tensor  # (2k, n_in * (M + 1 + 2k))
    column: torch.Tensor  # (k + 1, M) long
    n_cells: int
    n_corrections: int
    uniform: bool


def knot_lookup(knots: torch.Tensor, k: int) -> KnotLookup:
    """Build the :class:`KnotLookup` of extended knots ``(n_in, M + 1)``."""
    n_in, n_knots = knots.shape
    n_int = n_knots - 1
    n_basis = n_int - k
    spacing = knots[:, 1:] - knots[:, :-1]
    if bool((spacing <= 0).any()):
        raise ValueError("knots must be strictly increasing")
    uniform = bool(
        (
            (spacing - spacing.mean(1, keepdim=True)).abs() <= 1e-6 * spacing.mean(1, keepdim=True)
        ).all()
    )
    n_cells = n_int if uniform else 4 * n_int
    low, high = knots[:, 0], knots[:, -1]
    frac = torch.arange(n_cells + 1, dtype=torch.float64, device=knots.device) / n_cells
    edges = (low.double()[:, None] + (high - low).double()[:, None] * frac).to(knots.dtype)
    kn = knots.contiguous()
    first = torch.searchsorted(kn, edges[:, :-1].contiguous(), right=True) - 1
    last = torch.searchsorted(kn, edges[:, 1:].contiguous(), right=False) - 1
    first = first.clamp(0, n_int - 1)
    n_corr = 0 if uniform else int((last - first).max().clamp_min(0))
    h_left = knots[:, 1:2] - knots[:, 0:1]
    h_right = knots[:, -1:] - knots[:, -2:-1]
    steps = torch.arange(1, k + 1, dtype=knots.dtype, device=knots.device)
    padded = torch.cat(
        [knots[:, :1] - steps.flip(0) * h_left, knots, knots[:, -1:] + steps * h_right], dim=1
    )  # (n_in, M + 1 + 2k); padded[:, m + k] = t_m (pad values only multiply zeros)
    width = padded.shape[1]
    flat = padded.reshape(-1)
    pos = torch.arange(flat.numel(), device=knots.device)
    shifted = torch.stack(
        [flat[(pos + m).clamp(0, flat.numel() - 1)] for m in range(-k + 1, k + 1)]
    )
    col = torch.arange(n_int, device=knots.device)[None, :] - k
    col = col + torch.arange(k + 1, device=knots.device)[:, None]  # (k + 1, M)
    col = torch.where((col >= 0) & (col < n_basis), col, n_basis)
    ids = torch.arange(n_in, device=knots.device)
    return KnotLookup(
        low=low.contiguous(),
        high=high.contiguous(),
        inv_cell=(n_cells / (high - low)).contiguous(),
        cell_interval=first.reshape(-1).contiguous(),
        cell_offset=ids * n_cells,
        knot_offset=ids * width + k,
        padded=flat.contiguous(),
        shifted=shifted.contiguous(),
        column=col.contiguous(),
        n_cells=n_cells,
        n_corrections=n_corr,
        uniform=uniform,
    )


def local_basis(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    with_derivative: bool = False,
    lookup: KnotLookup | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor] | None]:
    """The ``k + 1`` non-zero B-splines at every ``x``, and their first derivative.

    Parameters
    ----------
    x : ``(batch, n_in)``.
    knots : ``(n_in, M + 1)`` extended knots (``M = G + 2k`` intervals).
    k : spline order (``k >= 1``).
    lookup : :func:`knot_lookup` of ``knots`` (built here when omitted).

    Returns
    -------
    values : ``k + 1`` tensors ``(batch, n_in)``; entry ``r`` is ``B_{j-k+r}(x)`` where ``j``
        is the knot interval holding ``x`` (clamped into ``[t_0, t_M]``, where every basis
        function vanishes at the ends).
    columns : ``k + 1`` long tensors ``(batch, n_in)``: the basis index ``j - k + r``, or ``n``
        where no such basis function exists (its value must then be discarded).
    derivative : ``k + 1`` tensors ``(batch, n_in)``, ``d values / dx``, or ``None``. Zero
        outside ``[t_0, t_M]``.
    """
    if lookup is None:
        lookup = knot_lookup(knots, k)
    n_int = knots.shape[1] - 1
    batch, n_in = x.shape
    xc = torch.maximum(torch.minimum(x, lookup.high), lookup.low)
    cell = ((xc - lookup.low) * lookup.inv_cell).clamp_(0, lookup.n_cells - 1).long()
    if lookup.uniform:
        j = cell
    else:
        j = lookup.cell_interval.take(cell + lookup.cell_offset)  # (batch, n_in)
    flat = j + lookup.knot_offset
    for _ in range(lookup.n_corrections):
        step = (xc >= lookup.padded.take(flat + 1)) & (j < n_int - 1)
        j = j + step
        flat = flat + step
    # t_{j+m} for m = -k+1 .. k, each (batch, n_in)
    t = lookup.shifted.index_select(1, flat.reshape(-1)).reshape(2 * k, batch, n_in)
    # left[d] = x - t_{j+1-d}, right[d] = t_{j+d} - x, d = 1..k
    left = [None] + [xc - t[k - d] for d in range(1, k + 1)]
    right = [None] + [t[k - 1 + d] - xc for d in range(1, k + 1)]

    values = [torch.ones_like(x)]
    lower = values
    for d in range(1, k + 1):
        lower = values
        new = []
        saved = None
        for r in range(d):
            temp = values[r] / (right[r + 1] + left[d - r])
            term = right[r + 1] * temp
            new.append(term if saved is None else saved + term)
            saved = left[d - r] * temp
        new.append(saved)
        values = new
    j_flat = j.reshape(-1)
    columns = [lookup.column[r].index_select(0, j_flat).reshape(batch, n_in) for r in range(k + 1)]
    deriv = None
    if with_derivative:
        # dB_{i,k}/dx = k [B_{i,k-1}/(t_{i+k}-t_i) - B_{i+1,k-1}/(t_{i+k+1}-t_{i+1})]
        # with i = j-k+r and lower[s] = B_{j-k+1+s, k-1}; t_{i+k} - t_i = right[r] + left[k-r]
        deriv = []
        for r in range(k + 1):
            term = None
            if r >= 1:
                term = lower[r - 1] * (k / (right[r] + left[k - r + 1]))
            if r <= k - 1:
                down = lower[r] * (k / (right[r + 1] + left[k - r]))
                term = -down if term is None else term - down
            deriv.append(term)
        if k == 1:  # the only order whose derivative does not vanish at t_0 and t_M
            inside = ((x >= lookup.low) & (x <= lookup.high)).to(x.dtype)
            deriv = [d * inside for d in deriv]
    return values, columns, deriv


def _dense(values: list[torch.Tensor], columns: list[torch.Tensor], n_cols: int) -> torch.Tensor:
    """Scatter ``k + 1`` local values ``(batch, n_in)`` into a zero ``(batch, n_in, n_cols)``.

    Values whose column is ``n_cols - 1`` are garbage: the caller overwrites that column.
    """
    batch, n_in = values[0].shape
    dense = values[0].new_zeros(batch, n_in, n_cols)
    for v, c in zip(values, columns, strict=True):
        dense.scatter_add_(2, c[..., None], v[..., None])
    return dense


def bspline_basis(
    x: torch.Tensor, knots: torch.Tensor, k: int, lookup: KnotLookup | None = None
) -> torch.Tensor:
    """Dense B-spline basis ``(batch, n_in, G + k)`` (no gradient with respect to ``x``)."""
    n_basis = knots.shape[1] - 1 - k
    values, columns, _ = local_basis(x, knots, k, lookup=lookup)
    return _dense(values, columns, n_basis + 1)[..., :n_basis]


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


class BasisWithBase(torch.autograd.Function):
    """``x (batch, n_in) -> A (batch, n_in, n + 1)``: the B-spline basis plus the base function.

    Column ``n`` of ``A`` is ``b(x)`` (SiLU by default). The backward pass uses the analytic
    derivative of the basis (``k + 1`` non-zeros per input), so nothing of the recursion is
    kept for autograd. Call as ``BasisWithBase.apply(x, knots, k, base, lookup)``.
    """

    @staticmethod
    def forward(ctx, x, knots, k, base, lookup=None):  # noqa: D102
        n_basis = knots.shape[1] - 1 - k
        need_grad = ctx.needs_input_grad[0]
        values, columns, deriv = local_basis(x, knots, k, need_grad, lookup)
        dense = _dense(values, columns, n_basis + 1)
        b, db = _base_and_derivative(x, base)
        dense[..., n_basis] = b  # also discards the values of non-existent functions
        if need_grad:
            ctx.save_for_backward(torch.stack(columns), torch.stack(deriv), db)
            ctx.n_basis = n_basis
        return dense

    @staticmethod
    def backward(ctx, grad_a):  # noqa: D102
        columns, deriv, db = ctx.saved_tensors  # (k + 1, batch, n_in) twice, (batch, n_in)
        n_basis = ctx.n_basis
        grad_a = grad_a.contiguous()
        grad_x = grad_a[..., n_basis] * db
        for r in range(columns.shape[0]):
            picked = torch.gather(grad_a, 2, columns[r][..., None])[..., 0]
            # a non-existent function's column is n_basis: mask it out through valid
            grad_x = grad_x + picked * deriv[r] * (columns[r] != n_basis)
        return grad_x, None, None, None, None


def solve_normal_equations(
    gram: torch.Tensor, rhs: torch.Tensor, ridge: float = 1e-10
) -> torch.Tensor:
    """Solve ``(gram + ridge * mean(diag) * I) coef = rhs`` per input, in float64.

    ``gram (n_in, n, n)`` is a basis Gram matrix, ``rhs (n_in, n, n_out)``; one Cholesky
    factorisation per input serves all its outputs (least squares, falling back to ``lstsq``
    when the matrix is singular).
    """
    gram = gram.to(torch.float64)
    rhs = rhs.to(torch.float64)
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-300)  # (n_in,)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    gram = gram + (ridge * scale)[:, None, None] * eye
    chol, info = torch.linalg.cholesky_ex(gram)
    if bool((info != 0).any()):
        return torch.linalg.lstsq(gram, rhs).solution
    return torch.cholesky_solve(rhs, chol)


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
