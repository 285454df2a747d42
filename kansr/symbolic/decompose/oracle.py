"""A smooth model of the data as an oracle: a function of some variables on a box, with the
sympy expression of every variable, from which smaller problems are cut.

The trained KAN is such a model (AI Feynman uses a neural network the same way): it can be
evaluated anywhere inside the data's box, exactly differentiated, and restricted to a few
variables with the others held fixed. An :class:`Oracle` never samples outside its box; the
sub-problems it makes (a group of variables, a product of two, a transform of the output)
carry boxes of their own, chosen so that every point maps back inside the parent's box.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch

from kansr.symbolic.expressions import TorchFormula

__all__ = ["COMBINATIONS", "Oracle", "formula_oracle", "network_oracle"]

TorchFn = Callable[[torch.Tensor], torch.Tensor]

#: Two variables ``(u, v)`` joined into one: name -> (sympy form, torch form).
COMBINATIONS: dict[str, tuple[Callable, Callable]] = {
    "product": (lambda u, v: u * v, lambda u, v: u * v),
    "quotient": (lambda u, v: u / v, lambda u, v: u / v),
    "sum": (lambda u, v: u + v, lambda u, v: u + v),
    "difference": (lambda u, v: u - v, lambda u, v: u - v),
}


@dataclass
class Oracle:
    """``fn``: ``(m, k)`` float64 tensor -> ``(m,)`` values of a smooth function of ``k``
    variables on the box ``[lo, hi]`` (``(k,)`` arrays); ``exprs[i]`` is variable ``i`` as a
    sympy expression in the data's symbols; ``error``: the RMS error of the values (in the
    function's units), which sets the tolerance of every structure test."""

    fn: TorchFn
    lo: np.ndarray
    hi: np.ndarray
    exprs: list[sympy.Expr]
    error: float = 0.0

    @property
    def n_vars(self) -> int:
        return len(self.exprs)

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """``(m, k)`` points drawn uniformly from the box."""
        return rng.uniform(self.lo, self.hi, size=(m, self.n_vars))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Values ``(m,)`` at ``points (m, k)``."""
        with torch.no_grad():
            out = self.fn(torch.as_tensor(points, dtype=torch.float64))
        return out.numpy().astype(np.float64)

    def gradient(self, points: np.ndarray) -> np.ndarray:
        """``(m, k)`` partial derivatives at ``points (m, k)`` (autograd)."""
        x = torch.as_tensor(points, dtype=torch.float64).clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.fn(x).sum(), x)
        return grad.detach().numpy()

    # ------------------------------------------------------------------ smaller problems
    def restricted(self, keep: Sequence[int], reference: np.ndarray) -> Oracle:
        """The function of the variables ``keep`` with the others at ``reference (k,)``."""
        keep = list(keep)
        ref = torch.as_tensor(reference, dtype=torch.float64)
        parent = self.fn

        def fn(x: torch.Tensor) -> torch.Tensor:
            full = ref.expand(x.shape[0], -1).clone()
            full[:, keep] = x
            return parent(full)

        exprs = [self.exprs[i] for i in keep]
        return Oracle(fn, self.lo[keep], self.hi[keep], exprs, self.error)

    def combined(self, i: int, j: int, kind: str) -> Oracle:
        """The function of ``u = combine(x_i, x_j)`` (in place of ``x_i``) and the other
        variables (``x_j`` removed): each ``u`` is mapped back to an ``(x_i, x_j)`` in the box,
        with ``x_j`` in the middle of the values that allow it."""
        a, b, c, d = self.lo[i], self.hi[i], self.lo[j], self.hi[j]
        corners = [COMBINATIONS[kind][1](p, q) for p in (a, b) for q in (c, d)]
        keep = [m for m in range(self.n_vars) if m != j]
        at = keep.index(i)  # where u sits among the remaining variables
        parent, k = self.fn, self.n_vars

        def fn(x: torch.Tensor) -> torch.Tensor:
            u = x[:, at]
            xj = _feasible_partner(u, kind, a, b, c, d)
            full = torch.empty(x.shape[0], k, dtype=x.dtype)
            full[:, keep] = x
            full[:, i] = _inverse(u, xj, kind)
            full[:, j] = xj
            return parent(full)

        lo, hi = self.lo[keep], self.hi[keep]
        lo[at], hi[at] = float(min(corners)), float(max(corners))
        exprs = [self.exprs[m] for m in keep]
        exprs[at] = COMBINATIONS[kind][0](self.exprs[i], self.exprs[j])
        return Oracle(fn, lo, hi, exprs, self.error)

    def recombined(self, i: int, j: int, kind: str) -> Oracle | None:
        """The function of ``x_i`` and ``u = combine(x_i, x_j)`` (in place of ``x_j``) and
        the other variables: ``-sin(x) + sin(x - y)/2`` is a sum in ``(x, u = x - y)``.
        The box of ``(x_i, u)`` is a rectangle whose every point maps back to an ``x_j`` in
        its range: ``x_i`` keeps the middle of its range, at most half the width of
        ``x_j``'s (for products and quotients in logarithms: both variables positive).
        ``None`` when a product or quotient has a variable that is not positive."""
        multiplicative = kind in ("product", "quotient")
        if multiplicative and not (self.lo[i] > 0 and self.lo[j] > 0):
            return None
        to = np.log if multiplicative else (lambda v: v)
        a, b, c, d = (float(to(v)) for v in (self.lo[i], self.hi[i], self.lo[j], self.hi[j]))
        width = min(b - a, (d - c) / 2)
        a, b = (a + b - width) / 2, (a + b + width) / 2
        adds = kind in ("product", "sum")  # u = x_i + x_j (in logs), else u = x_i - x_j
        u_lo, u_hi = (c + b, d + a) if adds else (b - d, a - c)
        parent = self.fn

        def fn(x: torch.Tensor) -> torch.Tensor:
            v, u = x[:, i], x[:, j]
            if multiplicative:
                v, u = torch.log(v), torch.log(u)
            xj = u - v if adds else v - u
            full = x.clone()
            full[:, j] = torch.exp(xj) if multiplicative else xj
            return parent(full)

        back = np.exp if multiplicative else (lambda v: v)
        lo, hi = self.lo.copy(), self.hi.copy()
        lo[i], hi[i] = float(back(a)), float(back(b))
        lo[j], hi[j] = float(back(u_lo)), float(back(u_hi))
        exprs = list(self.exprs)
        exprs[j] = COMBINATIONS[kind][0](self.exprs[i], self.exprs[j])
        return Oracle(fn, lo, hi, exprs, self.error)

    def scaled_by(self, i: int, power: int) -> Oracle | None:
        """The oracle of ``f * x_i**power`` (``x - cos(y)/x`` times ``x`` is the sum
        ``x**2 - cos(y)``); its error is the error times the largest ``|x_i|**power`` on the
        box. ``None`` when ``x_i``'s range reaches zero."""
        lo, hi = float(self.lo[i]), float(self.hi[i])
        if lo <= 0 <= hi:
            return None
        parent = self.fn
        largest = max(abs(lo) ** power, abs(hi) ** power)

        def fn(x: torch.Tensor) -> torch.Tensor:
            return parent(x) * x[:, i] ** power

        return Oracle(fn, self.lo, self.hi, self.exprs, self.error * largest)

    def profile(
        self, i: int, rest: np.ndarray, weights: np.ndarray, expr: sympy.Expr | None = None
    ) -> Oracle:
        """The function ``C(x_i) = sum_b weights[b] f(x_i, r_b)`` of one variable, at the
        ``rest (m, k)`` points (their ``x_i`` ignored; ``weights (m,)``): where ``f = A(r) +
        B(r) C(x_i)``, an affine map of ``C``. ``expr``: its variable's expression (default
        ``x_i``'s)."""
        points = torch.as_tensor(rest, dtype=torch.float64)
        w = torch.as_tensor(weights, dtype=torch.float64)
        parent, m = self.fn, len(rest)

        def fn(x: torch.Tensor) -> torch.Tensor:
            full = points.repeat(x.shape[0], 1)
            full[:, i] = x[:, 0].repeat_interleave(m)
            return parent(full).reshape(x.shape[0], m) @ w

        error = self.error * float(np.linalg.norm(weights))
        variable = self.exprs[i] if expr is None else expr
        return Oracle(fn, self.lo[[i]], self.hi[[i]], [variable], error)

    def affine_parts(
        self, i: int, shape: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[Oracle, Oracle] | None:
        """The oracles of ``A`` and ``B`` in ``f = A(r) + B(r) shape(x_i)``, functions of the
        other variables ``r``: at each ``r``, the least-squares line of ``f`` on ``shape`` at
        :data:`_AFFINE_GRID` values of ``x_i`` across its range (inside the box: ``A`` is
        where the line meets ``shape = 0``). ``None`` when ``shape`` is not finite or
        constant there."""
        grid = np.linspace(self.lo[i], self.hi[i], _AFFINE_GRID)
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(shape(grid), dtype=float), grid.shape)
        if not np.isfinite(values).all() or np.ptp(values) <= 1e-12 * np.abs(values).max():
            return None
        solve = np.linalg.pinv(np.stack([np.ones_like(values), values], axis=1))  # (2, n)
        keep = [m for m in range(self.n_vars) if m != i]
        xs = torch.as_tensor(grid, dtype=torch.float64)
        rows = torch.as_tensor(solve, dtype=torch.float64)
        parent, n, k = self.fn, _AFFINE_GRID, self.n_vars

        def part(row: int) -> TorchFn:
            def fn(x: torch.Tensor) -> torch.Tensor:
                full = torch.empty(x.shape[0] * n, k, dtype=x.dtype)
                full[:, keep] = x.repeat_interleave(n, dim=0)
                full[:, i] = xs.repeat(x.shape[0])
                return parent(full).reshape(x.shape[0], n) @ rows[row]

            return fn

        exprs = [self.exprs[m] for m in keep]
        lo, hi = self.lo[keep], self.hi[keep]
        return tuple(
            Oracle(part(r), lo, hi, exprs, self.error * float(np.linalg.norm(solve[r])))
            for r in (0, 1)
        )

    def transformed(self, forward: TorchFn, rng: np.random.Generator) -> Oracle:
        """The oracle of ``forward(f)``; its error is the RMS change of ``forward`` under
        a change of ``f`` by the error, at points of the box."""
        parent = self.fn
        with torch.no_grad():
            values = parent(torch.as_tensor(self.sample(256, rng)))
            moved = forward(values + self.error) - forward(values)
        error = float(torch.sqrt(torch.mean(moved**2)))
        return Oracle(lambda x: forward(parent(x)), self.lo, self.hi, self.exprs, error)


_AFFINE_GRID = 9  # values of a variable on which f is fitted as a line in its shape


def _feasible_partner(u: torch.Tensor, kind: str, a, b, c, d) -> torch.Tensor:
    """For ``u = combine(x_i, x_j)`` with ``x_i`` in ``[a, b]``, ``x_j`` in ``[c, d]``: the
    middle of the ``x_j`` that keep ``x_i`` in ``[a, b]`` (geometric middle for products
    and quotients, whose partner ``x_j`` is positive; ``x_i`` may take either sign)."""
    if kind == "product":  # x_i = u * t with t = 1/x_j in [1/d, 1/c]
        low, high = _scaled_within(u, a, b, 1 / d, 1 / c)
        return 1 / torch.sqrt(low * high)
    if kind == "quotient":  # x_i = u * x_j
        low, high = _scaled_within(u, a, b, c, d)
        return torch.sqrt(low * high)
    if kind == "sum":  # x_i = u - x_j
        low, high = torch.clamp(u - b, min=c), torch.clamp(u - a, max=d)
        return 0.5 * (low + high)
    low, high = torch.clamp(a - u, min=c), torch.clamp(b - u, max=d)  # x_i = u + x_j
    return 0.5 * (low + high)


def _scaled_within(k: torch.Tensor, a, b, lo, hi) -> tuple[torch.Tensor, torch.Tensor]:
    """The interval of ``t`` in ``[lo, hi]`` (positive) with ``a <= k*t <= b``, per ``k``."""
    safe = torch.where(k == 0, torch.ones_like(k), k)
    first, second = a / safe, b / safe
    low = torch.where(k > 0, first, torch.where(k < 0, second, torch.full_like(k, lo)))
    high = torch.where(k > 0, second, torch.where(k < 0, first, torch.full_like(k, hi)))
    low, high = torch.clamp(low, min=lo), torch.clamp(high, max=hi)
    return low, torch.maximum(high, low)


def _inverse(u: torch.Tensor, xj: torch.Tensor, kind: str) -> torch.Tensor:
    """``x_i`` with ``combine(x_i, x_j) = u``."""
    if kind == "product":
        return u / xj
    if kind == "quotient":
        return u * xj
    if kind == "sum":
        return u - xj
    return u + xj


def network_oracle(
    model: torch.nn.Module,
    x_mean: np.ndarray,
    x_scale: np.ndarray,
    y_mean: float,
    y_scale: float,
    lo: np.ndarray,
    hi: np.ndarray,
    symbols: Sequence[sympy.Expr],
    columns: Sequence[int],
    error: float = 0.0,
) -> Oracle:
    """The trained ``model`` (on standardised inputs and target) as an oracle of the data's
    ``columns`` in original units on the box ``[lo, hi]`` of those columns; the other inputs
    are held at their mean (a float64 copy of the model; ``model`` is not changed); ``error``
    is its RMS error on the data."""
    net = copy.deepcopy(model).cpu().double().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    columns = list(columns)
    mean = torch.as_tensor(np.asarray(x_mean, float))
    scale = torch.as_tensor(np.asarray(x_scale, float))

    def fn(x: torch.Tensor) -> torch.Tensor:
        full = mean.expand(x.shape[0], -1).clone()
        full[:, columns] = x
        return net((full - mean) / scale)[:, 0] * y_scale + y_mean

    return Oracle(
        fn,
        np.asarray(lo, float)[columns],
        np.asarray(hi, float)[columns],
        [symbols[c] for c in columns],
        float(error),
    )


def formula_oracle(
    expr: sympy.Expr,
    x_mean: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    symbols: Sequence[sympy.Expr],
    columns: Sequence[int],
    error: float = 0.0,
) -> Oracle:
    """A formula in the internal symbols ``x0 ..`` (an accurate approximant of the data,
    such as a structure search's rational function) as an oracle of the data's ``columns``
    on the box ``[lo, hi]`` of those columns, the other inputs held at ``x_mean``; exact
    gradients through :class:`~kansr.symbolic.expressions.TorchFormula`. ``error``: its RMS
    error on the data."""
    module = TorchFormula(expr)
    module.constants.requires_grad_(False)
    columns = list(columns)
    mean = torch.as_tensor(np.asarray(x_mean, float))

    def fn(x: torch.Tensor) -> torch.Tensor:
        full = mean.expand(x.shape[0], -1).clone()
        full[:, columns] = x
        return module(full)

    return Oracle(
        fn,
        np.asarray(lo, float)[columns],
        np.asarray(hi, float)[columns],
        [symbols[c] for c in columns],
        float(error),
    )
