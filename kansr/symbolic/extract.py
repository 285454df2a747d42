"""From a trained KAN to closed-form formulas."""

from __future__ import annotations

import copy
import math

import numpy as np
import sympy
import torch

from kansr.nn.network import KAN
from kansr.symbolic.finish import finish
from kansr.symbolic.least_squares import refit_least_squares
from kansr.symbolic.library import SymbolicFunction, SymbolicLibrary
from kansr.symbolic.matching import EdgeMatches, match_edges
from kansr.symbolic.network import SymbolicEdge, SymbolicNetwork
from kansr.symbolic.pareto import Formula
from kansr.utils.deadline import Deadline, OutOfTime

_SECOND_TERM_ERROR = 1e-3  # share of its output node's variance an edge's match may miss
_MARGIN = 0.05  # the refit keeps formulas finite this far beyond the data (of z's spread)
_MARGIN_ROWS = 256


def _refit(
    net: SymbolicNetwork,
    z: torch.Tensor,
    t: torch.Tensor,
    n_iter: int,
    deadline: Deadline,
    weight: torch.Tensor | None = None,
) -> float:
    """Joint refit of every constant on the (``weight (n, 1)``-weighted) mean squared error:
    Levenberg-Marquardt with the exact Jacobian (:meth:`SymbolicNetwork.row_jacobian`), for
    up to ``n_iter`` steps, and LBFGS where that does not improve the start (a Jacobian that
    is not finite there). Keeps the start when neither improves it; stops at ``deadline``,
    keeping the constants reached when they are better than the start. Returns the loss.

    The refit uses the functions' safe forms, finite everywhere; when the formula it
    reaches is not finite on the data or a margin beyond them (:func:`_margin_rows`), it is
    done again from the start with the exact functions, steps that leave the domain
    rejected (on the margin rows too when the start is finite there). With the safe forms
    a ``log`` whose argument turns negative is flat, so that refit can lower the loss by
    moving rows out of the domain, and the sympy formula it exports is not finite on them;
    a steep ``log`` also fits best with its argument's zero at the smallest training value,
    where new rows from the same range fall outside it."""
    margin = _margin_rows(z)
    rows = torch.cat([z, margin])
    start = net.vector()
    loss = _refit_constants(net, z, t, n_iter, deadline, weight)
    if _exact_finite_rows(net, rows).all():
        return loss
    finite = _exact_finite_rows(net, rows, start)
    if not finite[: z.shape[0]].all():  # the start is not in the domain: keep the safe refit
        return loss
    net.load_vector(start)
    with net.exact_forms():
        return _refit_constants(
            net, z, t, n_iter, deadline, weight, margin if finite.all() else None
        )


def _margin_rows(z: torch.Tensor) -> torch.Tensor:
    """Up to :data:`_MARGIN_ROWS` of the standardised rows ``z (n, m)`` moved
    :data:`_MARGIN` of their distance from the centre outwards ``(k, m)``."""
    step = max(1, z.shape[0] // _MARGIN_ROWS)
    return z[::step] * (1.0 + _MARGIN)


def _exact_finite_rows(
    net: SymbolicNetwork, z: torch.Tensor, constants: np.ndarray | None = None
) -> np.ndarray:
    """Whether ``net`` with its exact (unguarded) functions, at ``constants`` (default: its
    own, which it keeps), is finite on each row of ``z``: ``(n,)`` bool."""
    own = net.vector() if constants is not None else None
    if constants is not None:
        net.load_vector(constants)
    try:
        with torch.no_grad(), net.exact_forms():
            return torch.isfinite(net(z)).all(1).numpy()
    finally:
        if own is not None:
            net.load_vector(own)


def _refit_constants(
    net: SymbolicNetwork,
    z: torch.Tensor,
    t: torch.Tensor,
    n_iter: int,
    deadline: Deadline,
    weight: torch.Tensor | None = None,
    margin: torch.Tensor | None = None,
) -> float:
    """:func:`_refit` in ``net``'s current mode (guarded or exact); constants at which
    ``net`` is not finite on the ``margin`` rows count as not fitting."""
    root = torch.ones_like(t[:, 0]) if weight is None else torch.sqrt(weight[:, 0])
    root = root / math.sqrt(t.shape[0])  # residuals whose sum of squares is the mean
    n = z.shape[0]
    rows = z if margin is None else torch.cat([z, margin])

    def predict() -> np.ndarray:
        with torch.no_grad():
            values = net(rows)[:, 0].numpy()
        if margin is not None and not np.isfinite(values[n:]).all():
            return np.full(n, np.nan)
        return values[:n]

    def predict_with_jacobian() -> tuple[np.ndarray, np.ndarray]:
        values, jac = net.row_jacobian(z)
        return values.numpy(), jac.numpy()

    found = refit_least_squares(
        net.vector(),
        net.load_vector,
        predict,
        predict_with_jacobian,
        t[:, 0].numpy(),
        root.numpy(),
        n_iter,
        expired=deadline.expired,
    )
    if found is not None:
        return found
    return _lbfgs_refit(net, z, t, n_iter, deadline, weight)


def _lbfgs_refit(
    net: SymbolicNetwork,
    z: torch.Tensor,
    t: torch.Tensor,
    n_iter: int,
    deadline: Deadline,
    weight: torch.Tensor | None = None,
) -> float:
    """:func:`_refit` by LBFGS (``n_iter`` steps) on the mean squared error."""

    def objective() -> torch.Tensor:
        squared = (net(z) - t) ** 2
        return torch.mean(squared if weight is None else weight * squared)

    start = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        before = float(objective())
    opt = torch.optim.LBFGS(
        net.parameters(), lr=1.0, max_iter=n_iter, line_search_fn="strong_wolfe"
    )

    def closure():
        if deadline.expired():
            raise OutOfTime
        opt.zero_grad()
        loss = objective()
        if torch.isfinite(loss):
            loss.backward()
        return loss

    try:
        opt.step(closure)
    except (RuntimeError, OutOfTime):  # a singular line search or no time left
        pass
    with torch.no_grad():
        after = float(objective())
        if not math.isfinite(after) or after > before:
            for p, s in zip(net.parameters(), start, strict=True):
                p.copy_(s)
            after = before
    return after


def _edge_samples(
    model: KAN, z_match: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float], list[tuple[int, int, int]]]:
    """Inputs, outputs, output-node variance and ``(level, i, o)`` of every active edge of
    ``model`` on the samples ``z_match``, all layers at once."""
    xs, ys, refs, where = [], [], [], []
    with torch.no_grad():
        for level, (inputs, phi) in enumerate(model.edge_activations(z_match)):
            layer = model.layers[level]
            out_var = layer(inputs).double().var(0)  # (n_out,)
            for i, o in zip(*torch.nonzero(layer.mask > 0, as_tuple=True), strict=True):
                xs.append(inputs[:, i].double())
                ys.append(phi[:, i, o].double())
                refs.append(float(out_var[o]))
                where.append((level, int(i), int(o)))
    return xs, ys, refs, where


def _edge_matches(
    model: KAN,
    z_match: torch.Tensor,
    library: SymbolicLibrary,
    deadline: Deadline,
    pinned: dict[tuple[int, int, int], SymbolicFunction] | None = None,
) -> tuple[list[tuple[int, int, int]], EdgeMatches | None, tuple]:
    """``(level, i, o)`` of every active edge of ``model``, their matches against
    ``library`` on the samples ``z_match`` (``[], None`` when no edge is active; a
    ``pinned`` edge's candidates are all its pinned function, fitted to it) and the edges'
    samples (inputs, outputs, output-node variances: :func:`_edge_samples`)."""
    xs, ys, refs, where = _edge_samples(model, z_match)
    if not where:
        return [], None, ()
    matches = match_edges(
        torch.stack(xs), torch.stack(ys), library, reference_var=np.array(refs), deadline=deadline
    )
    for e, edge in enumerate(where):
        if edge in (pinned or {}):
            fn = pinned[edge]
            one = match_edges(
                xs[e][None],
                ys[e][None],
                SymbolicLibrary([fn]),
                reference_var=np.array(refs[e : e + 1]),
                top=1,
            )
            matches.names[e] = [fn.name] * len(matches.names[e])
            for field in ("params", "relative_error", "r2", "score"):
                getattr(matches, field)[e] = getattr(one, field)[0, 0]
    return where, matches, (xs, ys, refs)


def _second_terms(
    samples: tuple,
    where: list[tuple[int, int, int]],
    matches: EdgeMatches,
    library: SymbolicLibrary,
    pick: np.ndarray,
    choice: tuple[str, ...],
    deadline: Deadline,
    pinned: dict | None = None,
) -> list[tuple[int, SymbolicEdge]]:
    """A second term ``c2*g(a2*x + b2) + d2`` for every edge whose chosen candidate misses
    more than :data:`_SECOND_TERM_ERROR` of its output node's variance: the best library
    match of what the candidate leaves, kept when it removes at least half of that error.
    ``[(edge index, SymbolicEdge)]``; the user's ``pinned`` edges get none.

    A trained edge is often a shape no single library function has (a rise and a
    saturation, a slope and a curvature); read as one function, its error is what the
    formula of the network loses against the network, and no refit of the constants can
    restore it. Two functions on one edge fit such shapes far better."""
    xs, ys, refs = samples
    rows = [
        e
        for e, (level, i, o) in enumerate(where)
        if matches.relative_error[e, pick[e]] > _SECOND_TERM_ERROR
        and (level, i, o) not in (pinned or {})
        and library[choice[e]].complexity > 0
    ]
    if not rows or deadline.expired():
        return []
    residuals = []
    for e in rows:
        a, b, c, d = (torch.tensor(v, dtype=torch.float64) for v in matches.params[e, pick[e]])
        fitted = c * library[choice[e]].safe_torch(a * xs[e] + b) + d
        residuals.append(ys[e] - fitted)
    second = match_edges(
        torch.stack([xs[e] for e in rows]),
        torch.stack(residuals),
        library,
        reference_var=np.array([refs[e] for e in rows]),
        complexity_weight=0.25,
        top=3,
        deadline=deadline,
    )
    extra = []
    for k, e in enumerate(rows):
        best = [j for j, name in enumerate(second.names[k]) if library[name].complexity > 0]
        if not best:
            continue
        j = best[0]
        if second.relative_error[k, j] < 0.5 * matches.relative_error[e, pick[e]]:
            level, i, o = where[e]
            fn = library[second.names[k][j]]
            extra.append((level, SymbolicEdge(i, o, fn, second.params[k, j])))
    return extra


def _choose(
    matches: EdgeMatches, library: SymbolicLibrary, weight: float
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Index and name of every edge's kept candidate, re-ranked with complexity ``weight``."""
    cplx = np.array([[library[n].complexity for n in row] for row in matches.names])
    score = np.log10(matches.relative_error + 1e-12) + weight * cplx
    pick = np.argmin(score, axis=1)
    choice = tuple(matches.names[e][pick[e]] for e in range(len(matches.names)))
    return pick, choice


def _on_cpu(model: torch.nn.Module) -> bool:
    """Whether every parameter and buffer of ``model`` lives on the CPU."""
    tensors = [*model.parameters(), *model.buffers()]
    return all(t.device.type == "cpu" for t in tensors)


def _standardised(
    X: np.ndarray,
    y: np.ndarray,
    x_mean: np.ndarray,
    x_scale: np.ndarray,
    y_mean: float,
    y_scale: float,
    sample_weight: np.ndarray | None,
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``z`` as an array and a tensor, the standardised target ``t (n, 1)`` and the row
    weights ``(n, 1)`` (``None`` without ``sample_weight``)."""
    z_np = (X - x_mean) / x_scale
    z = torch.as_tensor(z_np, dtype=torch.float64)
    t = torch.as_tensor((y - y_mean) / y_scale, dtype=torch.float64)[:, None]
    row_weight = None
    if sample_weight is not None:
        row_weight = torch.as_tensor(sample_weight, dtype=torch.float64)[:, None]
    return z_np, z, t, row_weight


def _symbolic_network(
    model: KAN,
    where: list[tuple[int, int, int]],
    matches: EdgeMatches,
    library: SymbolicLibrary,
    pick: np.ndarray,
    choice: tuple[str, ...],
    biases: list[np.ndarray],
    extra: list[tuple[int, SymbolicEdge]] = (),
) -> SymbolicNetwork:
    """The network of ``model`` with every active edge replaced by its chosen candidate,
    plus the ``extra`` edges ``(layer, edge)`` (second terms of edges)."""
    layers: list[list[SymbolicEdge]] = [[] for _ in model.layers]
    for e, (level, i, o) in enumerate(where):
        fn = library[choice[e]]
        layers[level].append(SymbolicEdge(i, o, fn, matches.params[e, pick[e]]))
    for level, edge in extra:
        layers[level].append(edge)
    return SymbolicNetwork(layers, biases, model.width, mult=model.mult[1:])


def _network_formula(
    net: SymbolicNetwork,
    inputs: list[sympy.Expr],
    X: np.ndarray,
    y: np.ndarray,
    y_mean: float,
    y_scale: float,
    snap_r2_tol: float,
    deadline: Deadline,
    sample_weight: np.ndarray | None,
) -> Formula | None:
    """The (refit) ``net`` as a finished formula in the original units, or ``None``."""
    out = net.compose(inputs)[0]
    expr = out * sympy.Float(y_scale, 15) + sympy.Float(y_mean, 15)
    return finish(
        expr,
        X,
        y,
        deadline=deadline,
        refit=False,
        expand_first=True,
        r2_tol=snap_r2_tol,
        sample_weight=sample_weight,
    )


def extract_formulas(
    model: KAN,
    X: np.ndarray,
    y: np.ndarray,
    x_mean: np.ndarray,
    x_scale: np.ndarray,
    y_mean: float,
    y_scale: float,
    library: SymbolicLibrary,
    *,
    complexity_weights: tuple[float, ...] = (0.25, 0.5, 1.0),
    n_match_samples: int = 512,
    refit_iter: int = 100,
    snap_r2_tol: float = 1e-6,
    dtype: torch.dtype = torch.float64,
    deadline: Deadline | None = None,
    sample_weight: np.ndarray | None = None,
    pinned: dict[tuple[int, int, int], SymbolicFunction] | None = None,
    second_terms: bool = True,
) -> list[Formula]:
    """Candidate formulas of a trained ``model`` for ``X (n, n_features)``, ``y (n,)``.

    The model works on standardised data ``z = (X - x_mean) / x_scale`` and predicts
    ``(y - y_mean) / y_scale``; formulas are returned in the original units, in the symbols
    ``x0 .. x{n-1}``.

    ``sample_weight (n,)`` weights the squared errors of the joint refit and the losses.
    ``pinned`` edges ``(layer, i, o)`` are read as the given function whatever matches
    them best (the user's pins). With ``second_terms``, the most accurate candidate is
    also read with a second function on each edge that one function matches poorly
    (:func:`_second_terms`).
    ``deadline`` cuts the work short: edge matching skips
    the remaining library candidates, refits and sympy calls stop, and after the first
    complexity weight no further candidates are built; what was found is returned.
    """
    symbols = sympy.symbols(f"x0:{X.shape[1]}", real=True)
    z_np, z, t, row_weight = _standardised(X, y, x_mean, x_scale, y_mean, y_scale, sample_weight)
    step = max(1, X.shape[0] // n_match_samples)
    z_match = torch.as_tensor(z_np[::step], dtype=dtype)
    # a copy on the CPU: `.cpu()` moves a module in place, and the caller's stays on its device
    model = model if _on_cpu(model) else copy.deepcopy(model).cpu()
    deadline = deadline or Deadline()

    where, matches, samples = _edge_matches(model, z_match, library, deadline, pinned)
    if not where:
        return []
    missing = [fn for fn in (pinned or {}).values() if fn.name not in library]
    if missing:  # pinned functions from outside the library: looked up by name below
        library = SymbolicLibrary([*library, *{fn.name: fn for fn in missing}.values()])
    biases = [layer.bias.detach().double().numpy().copy() for layer in model.layers]
    inputs = [(s - m) / sc for s, m, sc in zip(symbols, x_mean, x_scale, strict=True)]

    formulas: list[Formula] = []
    seen = set()
    # one candidate per complexity weight; the first also with second terms on its edges
    plans = [(w, False) for w in complexity_weights]
    if second_terms and complexity_weights:
        plans.insert(1, (complexity_weights[0], True))
    for weight, with_second in plans:
        if formulas and deadline.expired():
            break
        pick, choice = _choose(matches, library, weight)
        extra = []
        if with_second:
            extra = _second_terms(samples, where, matches, library, pick, choice, deadline, pinned)
            if not extra:
                continue
        key = (choice, with_second)  # the second terms follow from the choice
        if key in seen:
            continue
        seen.add(key)
        net = _symbolic_network(model, where, matches, library, pick, choice, biases, extra)
        _refit(net, z, t, refit_iter, deadline, row_weight)
        formula = _network_formula(
            net, inputs, X, y, y_mean, y_scale, snap_r2_tol, deadline, sample_weight
        )
        if formula is not None:
            formulas.append(formula)
    return formulas
