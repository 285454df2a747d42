"""Pictures of a fitted estimator: network, Pareto front and parity plot (kansr.io.plotting)."""

import builtins
import copy
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from kansr import KANRegressor
from kansr.io.plotting import plot_network

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, (300, 2)), columns=["mass", "speed"])
    y = np.sin(2 * X["mass"]) + X["speed"] ** 2
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return KANRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0).fit(X, y)


def _assert_png(fig, path):
    assert isinstance(fig, Figure)
    fig.savefig(path, dpi=50)
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def _n_active_edges(est):
    return sum(int((layer.mask > 0).sum()) for layer in est.module_.layers)


def _texts(fig):
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    return texts + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_plot_network_draws_one_inset_per_active_edge(fitted, data, tmp_path):
    X, _ = data
    fig = fitted.plot(X)
    _assert_png(fig, tmp_path / "network.png")
    # one canvas axes for nodes and lines, plus one inset per active edge of [2, 3, 1]
    assert _n_active_edges(fitted) == 2 * 3 + 3 * 1
    assert len(fig.axes) == 1 + _n_active_edges(fitted)
    texts = _texts(fig)
    assert "mass" in texts and "speed" in texts  # inputs labelled with the feature names
    assert fig._suptitle is not None and "mass" in fig._suptitle.get_text()  # the formula
    # every inset shows a curve over its input's range
    for inset in fig.axes[1:]:
        (line,) = inset.get_lines()
        assert np.ptp(line.get_xdata()) > 0


def test_plot_network_without_data_uses_the_grid_range(fitted, tmp_path):
    fig = fitted.plot(title=False, n_points=16)
    _assert_png(fig, tmp_path / "network_no_x.png")
    assert len(fig.axes) == 1 + _n_active_edges(fitted)
    assert fig._suptitle is None
    assert all(len(ax.get_lines()[0].get_xdata()) == 16 for ax in fig.axes[1:])


def test_masked_edges_are_not_drawn(fitted, tmp_path):
    est = copy.deepcopy(fitted)
    before = len(est.plot().axes)
    est.module_.layers[0].mask[1, 2] = 0  # prune one edge by hand
    est.module_.layers[1].mask[0, 0] = 0  # and one of the second layer
    fig = est.plot()
    assert len(fig.axes) == before - 2
    _assert_png(fig, tmp_path / "masked.png")


def test_unimportant_edges_fade(fitted, data):
    X, _ = data
    est = copy.deepcopy(fitted)
    est.module_.layers[0].weight.data[0, :, 0] *= 1e-6  # edge mass -> hidden 0: ~flat
    fig = plot_network(est, X, beta=3.0)
    alphas = [ax.get_lines()[0].get_alpha() for ax in fig.axes[1:]]
    # insets are drawn in (input, output) order: the first one is the weakened edge
    assert alphas[0] < 0.1 < max(alphas[1:])


def test_plot_pareto_highlights_the_selected_formula(fitted, tmp_path):
    fig = fitted.plot_pareto()
    _assert_png(fig, tmp_path / "pareto.png")
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert any("mass" in t.get_text() for t in ax.texts)  # the selected formula annotated
    labels = [line.get_label() for line in ax.get_lines()]
    assert "selected" in labels


def test_plot_parity_reports_r2(fitted, data, tmp_path):
    X, y = data
    fig = fitted.plot_parity(X, y)
    _assert_png(fig, tmp_path / "parity.png")
    (ax,) = fig.axes
    assert "R^2" in ax.get_title() and "formula" in ax.get_title()
    net = fitted.plot_parity(X, y, network=True)
    assert "network" in net.axes[0].get_title()


def test_missing_matplotlib_gives_a_clear_error(fitted, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"kansr\[plot\]"):
        fitted.plot()


def test_missing_matplotlib_via_import_hook(fitted, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    for make in (fitted.plot_pareto, lambda: fitted.plot_parity([[0.0, 0.0]], [1.0])):
        with pytest.raises(ImportError, match=r"install kansr\[plot\]"):
            make()


def test_unfitted_estimator_raises_not_fitted():
    est = KANRegressor()
    for make in (est.plot, est.plot_pareto, lambda: est.plot_parity([[0.0]], [0.0])):
        with pytest.raises(NotFittedError):
            make()


def test_plot_pareto_needs_formulas(data):
    X, y = data
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=3, symbolic=False, random_state=0)
    est.fit(X, y)
    with pytest.raises(ValueError, match="symbolic=False"):
        est.plot_pareto()
    fig = est.plot()  # no formula: no title, the network is still drawn
    assert fig._suptitle is None and len(fig.axes) == 1 + _n_active_edges(est)
    assert "network" in est.plot_parity(X, y).axes[0].get_title()
