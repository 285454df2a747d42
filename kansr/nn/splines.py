"""B-spline bases on per-input knot vectors (see the module notes in docs/architecture.md)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


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
    """Precomputed tables that evaluate the B-splines of one knot vector per input quickly.

    Locating ``x``: each input's span ``[t_0, t_M]`` is cut into ``n_cells`` equal cells;
    ``cell_interval`` holds the knot interval at each cell's left edge and ``n_corrections``
    is the largest number of knots strictly inside one cell (each costs one step forward).
    On a uniform grid (``uniform`` true) the cell *is* the interval and nothing is looked up.

    Evaluating: on a uniform grid the ``k + 1`` non-zero B-splines ``B_{j-k+r}`` of interval
    ``j`` are the same polynomials ``uniform_poly`` in the local coordinate
    ``u = (x - t_j) / (t_{j+1} - t_j)`` (``uniform_slope``: those of their ``u``-derivatives).
    Otherwise de Boor's recursion runs on the ``2k`` knots around the interval, column
    ``i * M + j`` of ``local_knots`` (one gather per sample). Functions that do not exist
    (near the ends of the extended grid) are sent to column ``n`` (the base function's,
    overwritten afterwards) by ``column``, whose last entry, ``n + 1``, is the base column in
    the *gradient layout* ``[B_0 .. B_{n-1}, 0, b]`` (see :func:`basis_input_grad`).
    """

    low: torch.Tensor  # (n_in,) t_0
    high: torch.Tensor  # (n_in,) t_M
    inv_cell: torch.Tensor  # (n_in,) n_cells / (t_M - t_0)
    cell_width: torch.Tensor  # (n_in,) (t_M - t_0) / n_cells
    cell_interval: torch.Tensor  # (n_in * n_cells,) long, flat over inputs (empty if uniform)
    cell_offset: torch.Tensor  # (n_in,) long, i * n_cells
    interval_offset: torch.Tensor  # (n_in,) long, i * M
    next_knot: torch.Tensor  # (n_in * M,) t_{j+1}, NaN for the last interval
    local_knots: torch.Tensor  # (2k, n_in * M): t_{j+m}, m = -k+1 .. k (padded past the ends)
    uniform_poly: torch.Tensor  # (k + 1, k + 1): C[q, r] of a uniform grid
    uniform_slope: torch.Tensor  # (k, k + 1): dC/du, (q + 1) C[q + 1, r]
    column: torch.Tensor  # (M, k + 2) long: column of B_{j-k+r} (n if it does not exist), n + 1
    n_cells: int
    n_corrections: int
    uniform: bool

    @property
    def n_basis(self) -> int:
        """Number of B-splines per input, ``n = M - k`` (also the base column's index)."""
        n_intervals, n_local = self.column.shape
        return n_intervals - (n_local - 2)


def _column_table(n_intervals: int, k: int, device) -> torch.Tensor:
    """``(M, k + 2)``: dense column of ``B_{j-k+r}`` on interval ``j`` (``n`` where none exists),
    then ``n + 1``, the base column of the gradient layout."""
    n_basis = n_intervals - k
    col = torch.arange(n_intervals, device=device)[:, None] - k
    col = col + torch.arange(k + 1, device=device)[None, :]
    col = torch.where((col >= 0) & (col < n_basis), col, n_basis)
    return torch.cat([col, torch.full_like(col[:, :1], n_basis + 1)], dim=1)


def _padded_knots(knots: torch.Tensor, k: int) -> torch.Tensor:
    """``(n_in, M + 1 + 2k)``: ``k`` more knots on each side at the outermost spacing, so that
    ``padded[:, m + k] = t_m`` for ``m = -k .. M + k``. The pad values only ever meet
    functions that do not exist."""
    steps = torch.arange(1, k + 1, dtype=knots.dtype, device=knots.device)
    left = knots[:, :1] - steps.flip(0) * (knots[:, 1:2] - knots[:, :1])
    right = knots[:, -1:] + steps * (knots[:, -1:] - knots[:, -2:-1])
    return torch.cat([left, knots, right], dim=1)


def interval_polynomials(knots: torch.Tensor, k: int) -> torch.Tensor:
    """Power-basis coefficients of the B-splines on every knot interval, in float64.

    Parameters
    ----------
    knots : ``(n_in, M + 1)`` extended knots.
    k : spline order.

    Returns
    -------
    poly : ``(n_in, M, k + 1, k + 1)``; on ``[t_j, t_{j+1})``,
        ``B_{j-k+r}(x) = sum_q poly[i, j, q, r] * u**q`` with ``u = (x - t_j) / (t_{j+1} - t_j)``.
        Built by de Boor's recursion on polynomials in ``u``; functions that do not exist
        (``j - k + r`` outside ``0 .. n - 1``) get zero coefficients.
    """
    t = knots.to(torch.float64)
    n_in, n_knots = t.shape
    n_int = n_knots - 1
    padded = _padded_knots(t, k)
    j = torch.arange(n_int, device=t.device)

    def knot(m: int) -> torch.Tensor:  # t_{j+m}, (n_in, M)
        return padded[:, j + m + k]

    t_j = knot(0)
    h = (knot(1) - t_j)[..., None]  # (n_in, M, 1)

    def times_linear(p: torch.Tensor, c0: torch.Tensor, c1: torch.Tensor) -> torch.Tensor:
        """``p(u) * (c0 + c1 u)`` for coefficient tensors ``(n_in, M, k + 1)``."""
        shifted = torch.cat([torch.zeros_like(p[..., :1]), p[..., :-1]], dim=-1)
        return p * c0 + shifted * c1

    one = torch.zeros(n_in, n_int, k + 1, dtype=t.dtype, device=t.device)
    one[..., 0] = 1
    values = [one]
    for d in range(1, k + 1):
        new = []
        saved = None
        for r in range(d):
            # temp = B / (t_{j+r+1} - t_{j+r+1-d}); right = t_{j+r+1} - x; left = x - t_{j+r+1-d}
            temp = values[r] / (knot(r + 1) - knot(r + 1 - d))[..., None]
            term = times_linear(temp, (knot(r + 1) - t_j)[..., None], -h)
            new.append(term if saved is None else saved + term)
            saved = times_linear(temp, (t_j - knot(r + 1 - d))[..., None], h)
        new.append(saved)
        values = new
    poly = torch.stack(values, dim=-1)  # (n_in, M, k + 1 powers, k + 1 functions)
    exists = _column_table(n_int, k, t.device)[:, : k + 1] < n_int - k  # (M, k + 1)
    return poly * exists[None, :, None, :].to(poly.dtype)


def _uniform_polynomials(k: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients ``C (k + 1, k + 1)`` of the cardinal B-splines (any uniform grid) in ``u``,
    and those of their ``u``-derivatives, ``(k, k + 1)``."""
    knots = torch.arange(2 * k + 2, dtype=torch.float64)[None]
    coef = interval_polynomials(knots, k)[0, k]  # an interval where all k + 1 functions exist
    coef = torch.round(coef * math.factorial(k)) / math.factorial(k)  # exact rationals
    slope = coef[1:] * torch.arange(1, k + 1, dtype=torch.float64)[:, None]
    return coef.to(dtype=dtype, device=device), slope.to(dtype=dtype, device=device)


def _is_uniform(knots: torch.Tensor) -> bool:
    """Whether every input's knots lie on an equal spacing (to rounding of their dtype)."""
    n_int = knots.shape[1] - 1
    t = knots.to(torch.float64)
    h = (t[:, -1] - t[:, 0]) / n_int
    ideal = t[:, :1] + torch.arange(n_int + 1, dtype=t.dtype, device=t.device) * h[:, None]
    tol = 64 * torch.finfo(knots.dtype).eps * (1 + t.abs().amax(1) / h)
    return bool(((t - ideal).abs().amax(1) <= tol * h).all())


def knot_lookup(knots: torch.Tensor, k: int) -> KnotLookup:
    """Build the :class:`KnotLookup` of extended knots ``(n_in, M + 1)``."""
    n_in, n_knots = knots.shape
    n_int = n_knots - 1
    if bool((knots[:, 1:] - knots[:, :-1] <= 0).any()):
        raise ValueError("knots must be strictly increasing")
    dtype, device = knots.dtype, knots.device
    uniform = _is_uniform(knots)
    low, high = knots[:, 0], knots[:, -1]
    kn = knots.contiguous()
    ids = torch.arange(n_in, device=device)
    n_cells, n_corr = n_int, 0
    cell_interval = torch.zeros(0, dtype=torch.long, device=device)
    if not uniform:
        for factor in (4, 16, 64):  # finer cells until at most one knot falls inside a cell
            n_cells = factor * n_int
            frac = torch.arange(n_cells + 1, dtype=torch.float64, device=device) / n_cells
            edges = (low.double()[:, None] + (high - low).double()[:, None] * frac).to(dtype)
            first = torch.searchsorted(kn, edges[:, :-1].contiguous(), right=True) - 1
            last = torch.searchsorted(kn, edges[:, 1:].contiguous(), right=False) - 1
            first = first.clamp(0, n_int - 1)
            n_corr = int((last - first).max().clamp_min(0))
            if n_corr <= 1:
                break
        cell_interval = first.reshape(-1).contiguous()
    padded = _padded_knots(knots, k)
    j = torch.arange(n_int, device=device)
    local_knots = torch.stack([padded[:, j + m + k].reshape(-1) for m in range(1 - k, k + 1)])
    next_knot = knots[:, 1:].clone()
    next_knot[:, -1] = math.nan  # x >= NaN is false: never step past the last interval
    uniform_poly, uniform_slope = _uniform_polynomials(k, dtype, device)
    return KnotLookup(
        low=low.contiguous(),
        high=high.contiguous(),
        inv_cell=(n_cells / (high - low)).contiguous(),
        cell_width=((high - low) / n_cells).contiguous(),
        cell_interval=cell_interval,
        cell_offset=ids * n_cells,
        interval_offset=ids * n_int,
        next_knot=next_knot.reshape(-1).contiguous(),
        local_knots=local_knots.contiguous(),
        uniform_poly=uniform_poly,
        uniform_slope=uniform_slope,
        column=_column_table(n_int, k, device),
        n_cells=n_cells,
        n_corrections=n_corr,
        uniform=uniform,
    )


class LocalBasis(NamedTuple):
    """The ``k + 1`` non-zero B-splines at every ``x`` (:func:`local_basis`).

    ``values (batch, n_in, k + 1)``: entry ``r`` is ``B_{j-k+r}(x)`` where ``j`` is the knot
    interval holding ``x`` (all zero outside ``[t_0, t_M)``). ``columns (batch, n_in, k + 2)``:
    entry ``r <= k`` is the dense column of value ``r``, or ``n`` where no such function exists
    (its value is to be discarded); the last entry is ``n + 1`` (the base column of the
    gradient layout, :func:`basis_input_grad`). The derivative is kept in the cheapest form
    for the grid: on a uniform grid the powers ``inside * u**q`` ``(k + 1, batch, n_in)``
    (``slope`` is ``None``), otherwise ``slope = d values / dx`` ``(k + 1, batch, n_in)``
    (``powers`` is ``None``). ``values`` may be a strided view.
    """

    values: torch.Tensor | None
    columns: torch.Tensor
    powers: torch.Tensor | None
    slope: torch.Tensor | None

    @property
    def spline_columns(self) -> torch.Tensor:
        """``(batch, n_in, k + 1)`` dense columns of the values (a view of ``columns``)."""
        return self.columns[..., :-1]

    def derivative(self, lookup: KnotLookup) -> torch.Tensor:
        """``d values / dx`` ``(batch, n_in, k + 1)``; zero for functions that do not exist."""
        if self.slope is not None:
            slope = self.slope.permute(1, 2, 0)
        else:
            k = self.powers.shape[0] - 1
            slope = torch.einsum("qbi,qr->bir", self.powers[:k], lookup.uniform_slope)
            slope = slope * lookup.inv_cell[:, None]
        exists = self.spline_columns != lookup.n_basis
        return slope * exists.to(slope.dtype)

    def input_grad(
        self, picked: torch.Tensor, lookup: KnotLookup, zero_if_missing: bool = False
    ) -> torch.Tensor:
        """``sum_r picked_r * d values_r / dx``, ``(batch, n_in)``, for ``picked (batch, n_in,
        k + 1)`` (a gradient with respect to the values). Entries of functions that do not exist
        are ignored; ``zero_if_missing`` says they are zero already (gradient layout)."""
        batch, n_in, n_local = picked.shape
        if not zero_if_missing:
            picked = picked.masked_fill(self.spline_columns == lookup.n_basis, 0)
        if self.slope is not None:
            by_row = picked.reshape(-1, n_local).t() * self.slope.reshape(n_local, -1)
            return by_row.sum(0).reshape(batch, n_in)
        # sum_r picked_r sum_q S[q, r] u^q = sum_q u^q (S @ picked^T)[q]: one GEMM, by rows
        per_power = lookup.uniform_slope @ picked.reshape(-1, n_local).t()  # (k, batch * n_in)
        grad = (self.powers[: n_local - 1].reshape(n_local - 1, -1) * per_power).sum(0)
        return grad.reshape(batch, n_in) * lookup.inv_cell


def _powers(u: torch.Tensor, inside: torch.Tensor, k: int) -> torch.Tensor:
    """``inside * u**q`` for ``q = 0 .. k``: ``(k + 1, batch, n_in)`` from ``(batch, n_in)``."""
    out = u.new_empty(k + 1, *u.shape)
    out[0] = inside
    for q in range(1, k + 1):
        torch.mul(out[q - 1], u, out=out[q])
    return out


def _de_boor(
    x: torch.Tensor, lookup: KnotLookup, flat: torch.Tensor, k: int, with_derivative: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """De Boor's recursion for the values (and slopes) ``(k + 1, batch, n_in)`` at ``x`` clamped
    into ``[t_0, t_M]`` (where every function vanishes at the ends), on the intervals ``flat``
    (``i * M + j``, ``(batch, n_in)``)."""
    batch, n_in = x.shape
    xc = torch.maximum(torch.minimum(x, lookup.high), lookup.low)
    t = lookup.local_knots.index_select(1, flat.reshape(-1)).reshape(2 * k, batch, n_in)
    # left[d] = x - t_{j+1-d}, right[d] = t_{j+d} - x, d = 1..k (t[m] is t_{j+m-k+1})
    left = [None] + [xc - t[k - d] for d in range(1, k + 1)]
    right = [None] + [t[k - 1 + d] - xc for d in range(1, k + 1)]
    values = [torch.ones_like(x)]
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
    slope = None
    if with_derivative:
        # dB_{i,k}/dx = k [B_{i,k-1}/(t_{i+k}-t_i) - B_{i+1,k-1}/(t_{i+k+1}-t_{i+1})]
        # with i = j-k+r and lower[s] = B_{j-k+1+s, k-1}; t_{i+k} - t_i = right[r] + left[k-r]
        slope = x.new_zeros(k + 1, batch, n_in)
        for r in range(k + 1):
            if r >= 1:
                slope[r] += lower[r - 1] * (k / (right[r] + left[k - r + 1]))
            if r <= k - 1:
                slope[r] -= lower[r] * (k / (right[r + 1] + left[k - r]))
    return torch.stack(values), slope


def local_basis(
    x: torch.Tensor,
    knots: torch.Tensor,
    k: int,
    with_derivative: bool = False,
    lookup: KnotLookup | None = None,
) -> LocalBasis:
    """The ``k + 1`` non-zero B-splines at every ``x`` and their derivative (:class:`LocalBasis`).

    Parameters
    ----------
    x : ``(batch, n_in)``.
    knots : ``(n_in, M + 1)`` extended knots (``M = G + 2k`` intervals).
    k : spline order (``k >= 1``).
    with_derivative : also keep what the derivative needs (non-uniform grids compute it).
    lookup : :func:`knot_lookup` of ``knots`` (built here when omitted).
    """
    if lookup is None:
        lookup = knot_lookup(knots, k)
    batch, n_in = x.shape
    s = (x - lookup.low) * lookup.inv_cell  # position in cells
    cell = torch.floor(s)
    cell_in = cell.clamp(0, lookup.n_cells - 1)
    cell_index = cell_in.long().clamp_(0, lookup.n_cells - 1)  # NaN -> a valid index
    slope = None
    if lookup.uniform:  # cell = interval
        inside = 1 - (cell - cell_in).abs_().clamp_(max=1)  # 1 on [t_0, t_M), else 0
        # u from x - t_j rather than s - cell: the rounding error of s grows with the cell
        u = (x - torch.addcmul(lookup.low, cell_in, lookup.cell_width)) * lookup.inv_cell
        powers = _powers(u.clamp_(0, 1), inside, k)  # (k + 1, batch, n_in); finite at +-inf
        values = powers.reshape(k + 1, -1).t() @ lookup.uniform_poly  # (batch * n_in, k + 1)
        values = values.reshape(batch, n_in, k + 1)
        j = cell_index
        if not with_derivative:
            powers = None
    else:
        flat = lookup.cell_interval.take(cell_index + lookup.cell_offset)
        flat = flat + lookup.interval_offset
        for _ in range(lookup.n_corrections):
            flat = flat + (x >= lookup.next_knot.take(flat))
        values, slope = _de_boor(x, lookup, flat, k, with_derivative)
        values = values.permute(1, 2, 0)  # (batch, n_in, k + 1), a view
        if k == 1 and slope is not None:  # the only order whose slope is not 0 at t_0, t_M
            slope = slope * (1 - (cell - cell_in).abs_().clamp_(max=1))  # 0 off [t_0, t_M)
        powers = None
        j = flat - lookup.interval_offset
    columns = lookup.column.index_select(0, j.reshape(-1)).reshape(batch, n_in, k + 2)
    return LocalBasis(values, columns, powers, slope)


def _dense(values: torch.Tensor, columns: torch.Tensor, n_cols: int) -> torch.Tensor:
    """Scatter local values ``(batch, n_in, k + 1)`` into a zero ``(batch, n_in, n_cols)``.

    Values whose column is ``n_cols - 1`` are garbage: the caller overwrites that column.
    """
    batch, n_in = values.shape[:2]
    return values.new_zeros(batch, n_in, n_cols).scatter_(2, columns, values)


def bspline_basis(
    x: torch.Tensor, knots: torch.Tensor, k: int, lookup: KnotLookup | None = None
) -> torch.Tensor:
    """Dense B-spline basis ``(batch, n_in, G + k)`` (no gradient with respect to ``x``)."""
    n_basis = knots.shape[1] - 1 - k
    local = local_basis(x, knots, k, lookup=lookup)
    return _dense(local.values, local.spline_columns, n_basis + 1)[..., :n_basis]


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
