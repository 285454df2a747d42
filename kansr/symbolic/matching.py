"""Match every edge of a KAN against a library of candidates ``c * f(a*x + b) + d``, at once.

For each candidate the search is vectorised over all edges: a coarse grid over ``(a, b)`` in
standardised coordinates, where the best ``(c, d)`` are closed-form (the squared correlation of
``f(a*x + b)`` with the edge gives the fit), then a batched Levenberg-Marquardt refinement of
all four constants. Candidates are ranked by ``log10(relative error) + complexity_weight *
complexity``, so an extra unit of complexity must buy a ``10**complexity_weight`` times
smaller error. Unlike pykan's ranking, the zero function (relative error 1) never beats a
fitting candidate, low-variance edges are judged against a reference variance the caller
passes, and the result depends only on the samples given.

This module knows nothing about networks: it takes samples ``x, y`` of shape ``(n_edges,
n_samples)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kansr.symbolic.library import SymbolicLibrary, make_library
from kansr.utils.deadline import Deadline

__all__ = ["EdgeMatches", "match_edges"]

_A_GRID = np.concatenate([-np.geomspace(0.1, 6.0, 14)[::-1], np.geomspace(0.1, 6.0, 14)])
# periodic functions: frequencies up to 30 per standard deviation of the input (an input
# over 30 units, std 8.7, under sin(x) needs a = 8.7), as finely spaced as below 6
_A_GRID_PERIODIC = np.concatenate([-np.geomspace(0.1, 30.0, 22)[::-1], np.geomspace(0.1, 30.0, 22)])
_B_GRID = np.linspace(-3.0, 3.0, 13)
_ERROR_FLOOR = 1e-12
_COARSE_ELEMENTS = 1 << 22  # grid points x edges x samples per chunk of the coarse search
_COARSE_SAMPLES = 256  # the coarse search scores the grid on at most about this many samples


@dataclass
class EdgeMatches:
    """Top candidates of every edge, best first.

    Attributes
    ----------
    names : list of list of str, ``[n_edges][top]``
    params : ndarray ``(n_edges, top, 4)``: ``a, b, c, d`` of ``c * f(a*x + b) + d``.
    relative_error : ndarray ``(n_edges, top)``: mean squared error / reference variance.
    r2 : ndarray ``(n_edges, top)``: ``1 - mse / var(y)`` on the samples.
    score : ndarray ``(n_edges, top)``: the ranking criterion (lower is better).
    """

    names: list[list[str]]
    params: np.ndarray
    relative_error: np.ndarray
    r2: np.ndarray
    score: np.ndarray

    def best(self, edge: int) -> tuple[str, np.ndarray]:
        """Name and ``(a, b, c, d)`` of the best candidate of ``edge``."""
        return self.names[edge][0], self.params[edge, 0]


def _coarse(fn, xs: torch.Tensor, yc: torch.Tensor, y_norm: torch.Tensor) -> torch.Tensor:
    """Best ``(a, b)`` on the grid for one candidate, per edge: ``(n_edges, 2)``.

    ``xs (E, N)`` standardised inputs, ``yc`` centred targets, ``y_norm (E,)`` their norms.
    The grid only picks where the refinement starts: more than ``2 * _COARSE_SAMPLES``
    samples are thinned to every k-th to score it (centring and the norm of ``y`` do not
    change which grid point correlates best), while the domain is checked on all of them.
    Edges are processed in chunks so that the ``(grid points, edges, N)`` intermediates stay
    below ``_COARSE_ELEMENTS`` elements (32 MiB in float64) each, however many edges there are.
    """
    ends = torch.stack([xs.amin(-1), xs.amax(-1)], -1)  # (E, 2)
    if xs.shape[1] > 2 * _COARSE_SAMPLES:
        step = xs.shape[1] // _COARSE_SAMPLES
        xs, yc = xs[:, ::step], yc[:, ::step]
    a_grid = _A_GRID_PERIODIC if fn.periodic else _A_GRID
    chunk = max(1, _COARSE_ELEMENTS // max(len(a_grid) * len(_B_GRID) * xs.shape[1], 1))
    parts = []
    for i in range(0, xs.shape[0], chunk):
        edges = slice(i, i + chunk)
        parts.append(_coarse_chunk(fn, a_grid, xs[edges], yc[edges], y_norm[edges], ends[edges]))
    return torch.cat(parts)


def _coarse_chunk(fn, a_grid, xs, yc, y_norm, ends) -> torch.Tensor:
    """:func:`_coarse` on one chunk of edges; ``ends (E, 2)``: each edge's smallest and
    largest input over all samples."""
    a = torch.as_tensor(a_grid, dtype=xs.dtype)
    b = torch.as_tensor(_B_GRID, dtype=xs.dtype)
    aa, bb = torch.meshgrid(a, b, indexing="ij")
    aa, bb = aa.reshape(-1, 1, 1), bb.reshape(-1, 1, 1)  # (P, 1, 1)
    u = aa * xs + bb  # (P, E, N)
    # u is affine in x: inside the domain (an interval) at both ends is inside for every row
    valid = fn.in_domain(u.numpy()).all(-1) & fn.in_domain((aa * ends + bb).numpy()).all(-1)
    g = fn.safe_torch(u)
    gc = g - g.mean(-1, keepdim=True)
    cov = (gc * yc).sum(-1)
    g_norm = gc.norm(dim=-1)
    corr2 = torch.where(
        g_norm > 1e-12 * (1 + g.abs().amax(-1)), cov**2 / (g_norm**2 * y_norm**2 + 1e-300), 0.0
    )
    corr2 = torch.where(torch.as_tensor(valid), corr2, -1.0)
    best = corr2.argmax(0)  # (E,)
    return torch.stack([aa.reshape(-1)[best], bb.reshape(-1)[best]], dim=1)


def _linear_cd(g: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares ``c, d`` of ``y ~ c * g + d`` per row."""
    gc = g - g.mean(-1, keepdim=True)
    var = (gc**2).sum(-1)
    c = torch.where(
        var > 0, (gc * (y - y.mean(-1, keepdim=True))).sum(-1) / var.clamp_min(1e-300), 0.0
    )
    d = y.mean(-1) - c * g.mean(-1)
    return c, d


def _damped_step(jac: torch.Tensor, resid: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Levenberg-Marquardt steps ``(E, P)`` for Jacobians ``jac (E, N, P)``, residuals
    ``resid (E, N)`` and dampings ``lam (E,)`` (non-finite steps, and those of systems that
    are singular, e.g. where ``jac`` overflowed, are 0)."""
    eye = torch.eye(jac.shape[-1], dtype=jac.dtype)
    jtj = jac.transpose(1, 2) @ jac  # (E, P, P)
    jtr = (jac * resid[..., None]).sum(1)  # (E, P)
    damp = lam[:, None, None] * (jtj.diagonal(dim1=1, dim2=2)[:, :, None] * eye + eye)
    step, info = torch.linalg.solve_ex(jtj + damp, -jtr[..., None])
    step = torch.where((info == 0)[:, None], step[..., 0], 0.0)
    return torch.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)


def _refine(
    fn, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n_iter: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Levenberg-Marquardt on ``(a, b, c, d)``; returns params ``(E, 4)`` and mse."""

    def evaluate(a, b):
        u = (a[:, None] * x + b[:, None]).requires_grad_(True)
        g = fn.safe_torch(u)
        (dg,) = torch.autograd.grad(g.sum(), u)
        ok = torch.as_tensor(fn.in_domain(u.detach().numpy()).all(-1))
        return g.detach(), dg, ok

    g, dg, ok = evaluate(a, b)
    c, d = _linear_cd(g, y)
    resid = c[:, None] * g + d[:, None] - y
    mse = torch.where(ok, (resid**2).mean(-1), torch.inf)
    lam = torch.full_like(a, 1e-3)
    for _ in range(n_iter):
        jac = torch.stack([c[:, None] * dg * x, c[:, None] * dg, g, torch.ones_like(g)], -1)
        step = _damped_step(jac, resid, lam)  # (E, 4)
        a2, b2 = a + step[:, 0], b + step[:, 1]
        c2, d2 = c + step[:, 2], d + step[:, 3]
        g2, dg2, ok2 = evaluate(a2, b2)
        resid2 = c2[:, None] * g2 + d2[:, None] - y
        mse2 = torch.where(ok2, (resid2**2).mean(-1), torch.inf)
        better = mse2 < mse
        a, b, c, d, g, dg, resid, mse = _kept(
            better, (a2, b2, c2, d2, g2, dg2, resid2, mse2), (a, b, c, d, g, dg, resid, mse)
        )
        lam = torch.where(better, lam / 3, lam * 4).clamp(1e-12, 1e12)
    return torch.stack([a, b, c, d], dim=1), mse


def _kept(better: torch.Tensor, new: tuple, old: tuple) -> tuple:
    """Per edge (``better (E,)``), each tensor of ``new`` where the step was better, else
    that of ``old`` (tensors ``(E,)`` or ``(E, N)``)."""
    return tuple(
        torch.where(better if n.ndim == 1 else better[:, None], n, o)
        for n, o in zip(new, old, strict=True)
    )


def _edge_tensors(
    x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` as float64 tensors, checked to be finite ``(n_edges, n_samples)``
    (a read-only array, such as a view of pandas data, is copied: torch warns on one)."""
    xt = torch.as_tensor(np.require(x, dtype=np.float64, requirements="W"))
    yt = torch.as_tensor(np.require(y, dtype=np.float64, requirements="W"))
    if xt.ndim != 2 or xt.shape != yt.shape:
        raise ValueError(f"x and y must both be (n_edges, n_samples); got {xt.shape}, {yt.shape}")
    if not (torch.isfinite(xt).all() and torch.isfinite(yt).all()):
        raise ValueError("edge samples contain NaN or infinity")
    return xt, yt


def _is_zero(fn) -> bool:
    """Whether ``fn`` is the zero function, fitted as ``y ~ d``."""
    return fn.complexity == 0 or fn.name == "0"


def _zero_fit(yt: torch.Tensor, var_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Params ``(E, 4)`` and mse of the zero function: ``y ~ d``."""
    params = torch.zeros(yt.shape[0], 4, dtype=torch.float64)
    params[:, 0] = 1.0
    params[:, 3] = yt.mean(-1)
    return params, var_y.clone()


def _standardised(xt: torch.Tensor, yt: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``mu, sigma`` of every edge's inputs, the standardised inputs, the centred outputs and
    their norms."""
    mu, sigma = xt.mean(-1, keepdim=True), xt.std(-1, unbiased=False, keepdim=True)
    sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    xs = (xt - mu) / sigma
    yc = yt - yt.mean(-1, keepdim=True)
    y_norm = yc.norm(dim=-1)
    return mu, sigma, xs, yc, y_norm


def _fit_candidate(
    fn,
    xt: torch.Tensor,
    yt: torch.Tensor,
    standard: tuple[torch.Tensor, ...],
    n_refine: int,
    projected: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Params ``(E, 4)`` and mse of ``c * fn(a*x + b) + d`` for every edge: the coarse grid in
    standardised coordinates (``standard``: :func:`_standardised`), then Levenberg-Marquardt
    on all four constants and (``projected``) on ``(a, b)`` with ``c, d`` projected out; the
    better of the two for each edge."""
    mu, sigma, xs, yc, y_norm = standard
    ab = _coarse(fn, xs, yc, y_norm)
    # back to raw coordinates: a*xs + b = (a/sigma) x + (b - a mu / sigma)
    a = ab[:, 0] / sigma[:, 0]
    b = ab[:, 1] - ab[:, 0] * mu[:, 0] / sigma[:, 0]
    params, mse = _refine(fn, xt, yt, a, b, n_refine)
    if not projected:
        return params, mse
    projected, projected_mse = _refine_projected(fn, xt, yt, a, b, n_refine)
    better = projected_mse < mse
    return torch.where(better[:, None], projected, params), torch.where(better, projected_mse, mse)


def _refine_projected(
    fn, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n_iter: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Levenberg-Marquardt on ``(a, b)`` alone with ``c, d`` solved by least squares at every
    point (variable projection, Kaufman's Jacobian: the derivatives projected off ``g`` and
    the constant). It follows the long curved valleys of ``c * sinh(a*x + b)`` (exp-like for
    large ``b``) that the four-parameter steps of :func:`_refine` crawl along; params
    ``(E, 4)`` and mse."""

    def at(a, b):
        u = (a[:, None] * x + b[:, None]).requires_grad_(True)
        g = fn.safe_torch(u)
        (dg,) = torch.autograd.grad(g.sum(), u)
        ok = torch.as_tensor(fn.in_domain(u.detach().numpy()).all(-1))
        g = g.detach()
        c, d = _linear_cd(g, y)
        resid = c[:, None] * g + d[:, None] - y
        return g, dg, c, d, resid, torch.where(ok, (resid**2).mean(-1), torch.inf)

    g, dg, c, d, resid, mse = at(a, b)
    lam = torch.full_like(a, 1e-3)
    unit = torch.full_like(g, 1 / math.sqrt(g.shape[1]))  # the constant, normalised
    for _ in range(n_iter):
        jac = torch.stack([c[:, None] * dg * x, c[:, None] * dg], -1)  # (E, N, 2)
        gc = g - g.mean(-1, keepdim=True)
        shape = gc / gc.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        for e in (unit, shape):  # orthonormal basis of span(1, g)
            jac = jac - e[..., None] * (e[..., None] * jac).sum(1, keepdim=True)
        step = _damped_step(jac, resid, lam)  # (E, 2)
        g2, dg2, c2, d2, resid2, mse2 = at(a + step[:, 0], b + step[:, 1])
        better = mse2 < mse
        a, b, c, d, g, dg, resid, mse = _kept(
            better,
            (a + step[:, 0], b + step[:, 1], c2, d2, g2, dg2, resid2, mse2),
            (a, b, c, d, g, dg, resid, mse),
        )
        lam = torch.where(better, lam / 3, lam * 4).clamp(1e-12, 1e12)
    return torch.stack([a, b, c, d], dim=1), mse


def _fit_library(
    lib: SymbolicLibrary,
    xt: torch.Tensor,
    yt: torch.Tensor,
    var_y: torch.Tensor,
    n_refine: int,
    deadline: Deadline | None,
    projected: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Params ``(E, F, 4)`` and mse ``(E, F)`` of every candidate of ``lib`` for every edge;
    the candidates skipped at ``deadline`` get an infinite error."""
    n_edges = xt.shape[0]
    standard = _standardised(xt, yt)
    all_params, all_mse = [], []
    n_fitted = 0
    for fn in lib:
        if (
            deadline is not None and n_fitted > 0 and not _is_zero(fn) and deadline.expired()
        ):  # out of time: this candidate never wins
            all_params.append(torch.zeros(n_edges, 4, dtype=torch.float64))
            all_mse.append(torch.full((n_edges,), math.inf, dtype=torch.float64))
            continue
        if _is_zero(fn):
            params, mse = _zero_fit(yt, var_y)
        else:
            params, mse = _fit_candidate(fn, xt, yt, standard, n_refine, projected)
            n_fitted += 1
        all_params.append(params)
        all_mse.append(mse)
    return torch.stack(all_params, 1), torch.stack(all_mse, 1)


def _ranked(
    lib: SymbolicLibrary,
    params: torch.Tensor,
    mse: torch.Tensor,
    ref: torch.Tensor,
    var_y: torch.Tensor,
    complexity_weight: float,
    top: int,
) -> EdgeMatches:
    """The ``top`` candidates of every edge by ``log10(relative error) + complexity_weight *
    complexity``, best first."""
    rel = mse / ref[:, None]
    complexity = torch.as_tensor(lib.complexities, dtype=torch.float64)
    score = torch.log10(rel + _ERROR_FLOOR) + complexity_weight * complexity
    score = torch.where(torch.isfinite(score), score, torch.inf)
    order = torch.argsort(score, dim=1, stable=True)[:, :top]
    names = [[lib.names[j] for j in row] for row in order.tolist()]
    pick = order[..., None].expand(-1, -1, 4)
    r2 = 1 - mse / var_y.clamp_min(1e-300)[:, None]
    return EdgeMatches(
        names=names,
        params=torch.gather(params, 1, pick).numpy(),
        relative_error=torch.gather(rel, 1, order).numpy(),
        r2=torch.gather(r2, 1, order).numpy(),
        score=torch.gather(score, 1, order).numpy(),
    )


def match_edges(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    library: SymbolicLibrary | None = None,
    *,
    reference_var: np.ndarray | None = None,
    complexity_weight: float = 0.5,
    top: int = 3,
    n_refine: int = 30,
    deadline: Deadline | None = None,
    projected: bool = True,
) -> EdgeMatches:
    """Fit ``c * f(a*x + b) + d`` for every edge and every candidate ``f``; keep the best.

    Parameters
    ----------
    x, y : ``(n_edges, n_samples)`` inputs and outputs of every edge.
    library : candidates (default: :func:`~kansr.symbolic.library.make_library`).
    reference_var : ``(n_edges,)`` variance that errors are measured against (default: each
        edge's own variance); pass e.g. the output node's variance so that an edge that is
        nearly constant relative to its node is matched by the zero function.
    complexity_weight : log10 error reduction one unit of complexity must buy.
    top : how many candidates to keep per edge.
    n_refine : Levenberg-Marquardt iterations.
    projected : also refine ``(a, b)`` with ``c, d`` projected out and keep the better fit
        (exact fits in long curved valleys such as ``sinh``'s; about 40 % more time).
    deadline : :class:`~kansr.utils.deadline.Deadline` after which the remaining
        candidates are skipped (scored as not fitting); the first candidate and the zero
        function always run.
    """
    lib = library if library is not None else make_library()
    xt, yt = _edge_tensors(x, y)
    var_y = yt.var(-1, unbiased=False)
    ref = var_y if reference_var is None else torch.as_tensor(reference_var, dtype=torch.float64)
    ref = ref.clamp_min(1e-300)
    params, mse = _fit_library(lib, xt, yt, var_y, n_refine, deadline, projected)
    return _ranked(lib, params, mse, ref, var_y, complexity_weight, top)
