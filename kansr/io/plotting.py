"""Pictures of a fitted estimator: the network, the Pareto front and a parity plot.

matplotlib is optional (``pip install kansr[plot]``) and imported only when a plot is made.
Every function returns a :class:`matplotlib.figure.Figure` built with the object API: nothing
is shown and pyplot's global state is not touched, so the functions work on headless machines
(``fig.savefig("net.png")``) and the figures display inline in notebooks.
"""

from __future__ import annotations

import textwrap

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from kansr.symbolic.snap import round_expression
from kansr.utils.validation import feature_names

__all__ = ["plot_network", "plot_pareto", "plot_parity"]

_N_SAMPLES = 512  # random points in the first layer's grid box when no X is given
_MAX_TITLE = 110  # characters per title line


def _figure_class():
    """``matplotlib.figure.Figure``, or a clear ImportError when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib: install kansr[plot] (pip install 'kansr[plot]') "
            "or pip install matplotlib"
        ) from exc
    return Figure


def _formula_text(estimator, index: int | None = None, digits: int = 4) -> str:
    """The formula with constants rounded to ``digits`` significant digits, as plain text."""
    expr = estimator.sympy_expr(index)
    try:
        expr = round_expression(expr, digits)
    except (TypeError, ValueError):  # pragma: no cover - rounding is cosmetic
        pass
    return str(expr)


def _wrap(text: str, width: int = _MAX_TITLE, max_lines: int = 3) -> str:
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 3] + "..."
    return "\n".join(lines)


def network_inputs(estimator, X) -> torch.Tensor:
    """Standardised inputs at which the network's edges are evaluated."""
    model = estimator.module_
    first = model.layers[0]
    dtype, device = first.knots.dtype, first.knots.device
    if X is not None:
        X = validate_data(estimator, X, dtype=[np.float64, np.float32], reset=False)
        z = (np.asarray(X, dtype=np.float64) - estimator.x_mean_) / estimator.x_scale_
        return torch.as_tensor(z, dtype=dtype, device=device)
    # the core interval of the first layer's knots: the range of the training data after the
    # last grid update, or the initial grid range
    k, grid = first.k, first.grid
    core = first.knots[:, k : grid + k + 1].detach().double().cpu().numpy()
    low, high = core.min(axis=1), core.max(axis=1)
    rng = np.random.default_rng(0)
    z = low + rng.uniform(size=(_N_SAMPLES, len(low))) * (high - low)
    return torch.as_tensor(z, dtype=dtype, device=device)


def _node_x(n: int) -> np.ndarray:
    """Horizontal positions (figure fraction) of ``n`` nodes, centred."""
    return (np.arange(n) + 0.5) / n * 0.9 + 0.05


def plot_network(
    estimator,
    X=None,
    *,
    n_points: int = 64,
    beta: float = 3.0,
    title: bool = True,
    figsize: tuple[float, float] | None = None,
):
    """Draw the trained network ``estimator.module_`` the way pykan does.

    Nodes sit in rows, inputs at the bottom and the output at the top. Every active edge is
    a small inset showing the shape of its learned function over the range its input takes;
    lines join the inset to the edge's two nodes. An edge's opacity is ``tanh(beta * s)`` of
    its importance ``s`` (:meth:`kansr.nn.network.KAN.edge_scores`, output counts 1), so weak
    edges fade; masked (pruned) edges are not drawn.

    The estimator does not keep its training data: pass ``X`` (e.g. the training inputs) to
    show every edge over the range of its inputs on those data. Without ``X`` the inputs are
    sampled uniformly in the box covered by the first layer's grid (the training range after
    the last grid update).

    Inputs are labelled with the feature names. When the estimator has formulas, the title is
    the selected formula (constants rounded to 4 digits). It is one global expression: the
    edges are not labelled with symbolic functions of their own.

    Parameters
    ----------
    estimator : fitted KANRegressor or MetaKANRegressor
    X : array-like of shape (n_samples, n_features), optional
    n_points : int, default=64
        Points per edge curve.
    beta : float, default=3.0
        Sharpness of the importance-to-opacity map.
    title : bool, default=True
        Put the selected formula (when there is one) above the network.
    figsize : (float, float), optional
        Default: grows with the number of edges per layer and the number of layers.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding nodes, lines and labels, plus one inset axes per drawn edge.
    """
    check_is_fitted(estimator)
    Figure = _figure_class()
    model = estimator.module_
    width = [int(w) for w in model.width]
    z = network_inputs(estimator, X)
    with torch.no_grad():
        activations = model.edge_activations(z)
        scores = [s.double().cpu().numpy() for s in model.edge_scores(z)]
    if figsize is None:
        max_edges = max(a * b for a, b in zip(width[:-1], width[1:], strict=True))
        figsize = (float(np.clip(0.45 * max_edges, 5.0, 18.0)), 1.0 + 2.0 * len(model.layers))
    fig = Figure(figsize=figsize)
    has_title = bool(title) and getattr(estimator, "equations_", None) is not None
    layout = _Layout(fig, figsize[0], np.linspace(0.08, 0.86 if has_title else 0.94, len(width)))
    mult = list(model.mult)
    active = _active_nodes(model, width, mult)
    for level, (layer, (inputs, _)) in enumerate(zip(model.layers, activations, strict=True)):
        nodes = _output_nodes(width[level + 1], mult[level + 1])
        _draw_layer(layout, level, layer, inputs, scores[level], n_points, beta, nodes)
    _draw_nodes(layout, width, active, feature_names(estimator), mult)
    if has_title:
        fig.suptitle(_wrap(_formula_text(estimator)), fontsize=10, y=0.99, va="top")
    return fig


class _Layout:
    """Where :func:`plot_network` draws: the figure, one axes over all of it for nodes, lines
    and labels (figure-fraction coordinates), and the heights of the node rows."""

    def __init__(self, fig, fig_width: float, level_y: np.ndarray) -> None:
        self.fig, self.fig_width, self.level_y = fig, fig_width, level_y
        self.gap = level_y[1] - level_y[0]
        self.inset_h = 0.45 * self.gap
        self.canvas = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.canvas.set_xlim(0, 1)
        self.canvas.set_ylim(0, 1)
        self.canvas.set_axis_off()


def _output_nodes(n_nodes: int, n_mult: int) -> np.ndarray:
    """The node each output of a layer feeds: ``(n_nodes + n_mult,)``; both factors of a
    multiplication node (the last ``n_mult`` nodes) feed that node."""
    a = n_nodes - n_mult
    return np.concatenate([np.arange(a), a + np.arange(2 * n_mult) // 2]).astype(int)


def _active_nodes(model, width: list[int], mult: list[int]) -> list[np.ndarray]:
    """Per level, which nodes have at least one unmasked edge."""
    active = [np.zeros(w, dtype=bool) for w in width]
    for level, layer in enumerate(model.layers):
        mask = layer.mask.detach().cpu().numpy() > 0
        active[level] |= mask.any(axis=1)
        fed = _output_nodes(width[level + 1], mult[level + 1])[mask.any(axis=0)]
        active[level + 1][fed] = True
    return active


def _edge_curves(layer, inputs: torch.Tensor, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Every edge's function on ``n_points`` points over the range of its input (``phi_oi``
    depends on ``x_i`` only): the points ``(P, n_in)`` and the values ``(P, n_in, n_out)``."""
    low = inputs.min(0).values
    high = inputs.max(0).values
    steps = torch.linspace(0, 1, n_points, dtype=inputs.dtype, device=inputs.device)
    grid = low[None, :] + steps[:, None] * (high - low)[None, :]  # (n_points, n_in)
    with torch.no_grad():
        phi = layer.edge_activations(grid).double().cpu().numpy()  # (P, n_in, n_out)
    return grid.double().cpu().numpy(), phi


def _draw_layer(
    layout: _Layout, level: int, layer, inputs, scores, n_points: int, beta: float, nodes
):
    """The active edges of ``layer`` between node rows ``level`` and ``level + 1``: an inset
    of each edge's function, joined to its nodes (``nodes[o]``: the node output ``o``
    feeds), with opacity ``tanh(beta * score)``."""
    n_in, n_out = layer.n_in, layer.n_out
    mask = layer.mask.detach().cpu().numpy() > 0
    grid_np, phi = _edge_curves(layer, inputs, n_points)
    x_in, x_out = _node_x(n_in), _node_x(int(nodes.max()) + 1)[nodes]
    slot = 0.9 / (n_in * n_out)
    inset_w = min(0.8 * slot, 0.12, 1.0 / layout.fig_width)  # at most about 1 inch wide
    y_low, y_high = layout.level_y[level], layout.level_y[level + 1]
    y_mid, half = y_low + 0.5 * layout.gap, layout.inset_h / 2
    for i in range(n_in):
        for o in range(n_out):
            if not mask[i, o]:
                continue
            alpha = float(np.tanh(beta * max(scores[i, o], 0.0)))
            alpha = max(alpha, 0.05)
            cx = 0.05 + (i * n_out + o + 0.5) * slot
            line = {"color": "black", "lw": 0.8, "alpha": alpha}
            layout.canvas.plot([x_in[i], cx], [y_low, y_mid - half], **line)
            layout.canvas.plot([cx, x_out[o]], [y_mid + half, y_high], **line)
            inset = layout.fig.add_axes((cx - inset_w / 2, y_mid - half, inset_w, layout.inset_h))
            inset.plot(grid_np[:, i], phi[:, i, o], color="black", lw=1.2, alpha=alpha)
            inset.set_xticks([])
            inset.set_yticks([])
            inset.patch.set_alpha(0.0)
            for spine in inset.spines.values():
                spine.set_alpha(alpha)


def _draw_nodes(
    layout: _Layout, width: list[int], active: list[np.ndarray], names, mult: list[int]
) -> None:
    """The nodes (inactive ones grey; multiplication nodes marked "×"), the inputs labelled
    with ``names``, the output "y"."""
    canvas, level_y = layout.canvas, layout.level_y
    for level, n in enumerate(width):
        colors = ["black" if a else "lightgray" for a in active[level]]
        canvas.scatter(_node_x(n), np.full(n, level_y[level]), s=40, c=colors, zorder=3)
        for x in _node_x(n)[n - mult[level] :] if mult[level] else []:
            canvas.text(x + 0.012, level_y[level], "×", ha="left", va="center", fontsize=9)
    label_size = 10 if width[0] <= 8 else 7
    for i, name in enumerate(names[: width[0]]):
        x = _node_x(width[0])[i]
        canvas.text(x, level_y[0] - 0.035, str(name), ha="center", va="top", fontsize=label_size)
    canvas.text(_node_x(1)[0], level_y[-1] + 0.03, "y", ha="center", va="bottom", fontsize=10)


def plot_pareto(estimator, *, figsize: tuple[float, float] = (6.0, 4.0)):
    """Complexity against loss of every formula of ``estimator.equations_``.

    The loss (mean squared error on the training data) is drawn on a log scale; a loss of
    exactly 0 is drawn, as a downward triangle, one decade below the smallest positive loss.
    The formula chosen by ``model_selection`` is highlighted and annotated.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_is_fitted(estimator)
    if estimator.equations_ is None:
        raise ValueError("no formulas: this estimator was fitted with symbolic=False")
    Figure = _figure_class()
    table = estimator.equations_
    cx = table["complexity"].to_numpy(dtype=float)
    loss = table["loss"].to_numpy(dtype=float)
    positive = loss[loss > 0]
    floor = positive.min() / 10 if positive.size else 1e-30
    shown = np.maximum(loss, floor)
    zero = loss <= 0

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    ax.step(cx, shown, where="post", color="tab:blue", alpha=0.4, lw=1)
    ax.plot(cx[~zero], shown[~zero], "o", color="tab:blue", label="Pareto front")
    if zero.any():
        ax.plot(cx[zero], shown[zero], "v", color="tab:blue", label="loss 0")
    sel = int(estimator.selected_index_)
    ax.plot(cx[sel], shown[sel], "*", color="tab:red", ms=16, label="selected", zorder=3)
    text = _wrap(_formula_text(estimator, sel), width=50, max_lines=2)
    right = cx[sel] > 0.5 * (cx.min() + cx.max())  # annotate towards the middle
    ax.annotate(
        text,
        (cx[sel], shown[sel]),
        xytext=(-12 if right else 12, 12),
        textcoords="offset points",
        ha="right" if right else "left",
        va="bottom",
        fontsize=8,
        color="tab:red",
        bbox={"boxstyle": "round", "fc": "white", "ec": "tab:red", "alpha": 0.8},
    )
    ax.set_yscale("log")
    ax.set_xlabel("complexity (expression-tree nodes)")
    ax.set_ylabel("loss (training MSE)")
    ax.set_title("Pareto front of formulas")
    ax.margins(x=0.1, y=0.15)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_parity(
    estimator, X, y, *, network: bool = False, figsize: tuple[float, float] = (4.5, 4.5)
):
    """Predicted against true targets with the line ``y = x``; R² in the title.

    ``network=True`` plots :meth:`predict_network` instead of :meth:`predict` (the formula).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_is_fitted(estimator)
    Figure = _figure_class()
    from sklearn.metrics import r2_score

    y = np.asarray(y, dtype=np.float64).ravel()
    pred = estimator.predict_network(X) if network else estimator.predict(X)
    r2 = r2_score(y, pred)
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    ax.scatter(y, pred, s=8, alpha=0.6, color="tab:blue", edgecolors="none")
    finite = np.concatenate([y[np.isfinite(y)], pred[np.isfinite(pred)]])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--", label="y = x")
    ax.set_xlabel("true")
    source = "network" if network or estimator.equations_ is None else "formula"
    ax.set_ylabel(f"predicted ({source})")
    ax.set_title(f"{source}: $R^2$ = {r2:.6g}")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return fig
