"""Vectorised edge matching against the symbolic library."""

import warnings

import numpy as np
import pytest
import torch

from kansr.symbolic.library import make_library
from kansr.symbolic.matching import match_edges


def _edges(noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (6, 300))
    y = np.stack(
        [
            3 * np.sin(2 * x[0] + 1) + 0.5,
            0.7 * x[1] ** 2 - 1,
            np.exp(0.8 * x[2]),
            np.tanh(1.5 * x[3]),
            1 / (x[4] + 3),
            -2 * x[5] + 4,
        ]
    )
    return x, y + noise * y.std(1, keepdims=True) * rng.standard_normal(y.shape)


def _evaluate(name, params, x):
    a, b, c, d = params
    return c * make_library()[name].numpy_fn(a * x + b) + d


def test_recovers_each_generating_function():
    x, y = _edges()
    matches = match_edges(x, y)
    assert [m[0] for m in matches.names] == ["sin", "x^2", "exp", "tanh", "1/x", "x"]
    for e in range(6):
        name, params = matches.best(e)
        np.testing.assert_allclose(_evaluate(name, params, x[e]), y[e], atol=1e-6)
        assert matches.r2[e, 0] > 1 - 1e-10


def test_zero_function_does_not_beat_a_noisy_sine():
    # pykan's ranking can prefer the zero function over a correct but imperfect sine
    x, y = _edges(noise=0.05)
    matches = match_edges(x[:1], y[:1])
    assert matches.names[0][0] in ("sin", "cos")  # the same function, shifted by pi/2
    assert matches.r2[0, 0] > 0.99


def test_constant_or_negligible_edge_gets_the_zero_function():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 100))
    y = np.stack([np.full(100, 2.5), 1e-6 * np.sin(x[1])])
    matches = match_edges(x, y, reference_var=np.array([1.0, 1.0]))
    assert matches.names[0][0] == "0" and matches.params[0, 0, 3] == pytest.approx(2.5)
    assert matches.names[1][0] == "0"


def test_keeps_top_candidates_sorted_and_respects_subsets():
    x, y = _edges()
    matches = match_edges(x, y, make_library(["x", "x^2", "sin", "0"]), top=4)
    assert matches.params.shape == (6, 4, 4)
    assert np.all(np.diff(matches.score, axis=1) >= 0)
    assert all(set(row) == {"x", "x^2", "sin", "0"} for row in matches.names)


def test_domain_is_respected():
    # log needs a*x + b > 0 on every sample: the chosen constants must keep it there
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 3.0, (1, 200))
    y = np.log(2 * x + 1)
    matches = match_edges(x, y, make_library(["log", "x", "0"]))
    name, (a, b, c, d) = matches.best(0)
    assert name == "log" and np.all(a * x + b > 0)


def test_bad_input():
    with pytest.raises(ValueError, match="n_edges, n_samples"):
        match_edges(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        match_edges(np.full((1, 5), np.nan), np.zeros((1, 5)))


def test_a_sine_over_many_periods_is_matched():
    # y = sin(x) over [-1.3, 28.8] (Strogatz's glider: about 5 periods, 8.7 radians per
    # standard deviation of x): periodic functions are tried at frequencies beyond 6
    x = np.linspace(-1.32, 28.77, 400)[None, :]
    matches = match_edges(x, np.sin(x))
    name, params = matches.best(0)
    assert name in ("sin", "cos")
    np.testing.assert_allclose(_evaluate(name, params, x[0]), np.sin(x[0]), atol=1e-6)


def test_a_function_in_a_long_curved_valley_is_matched_exactly():
    # c*sinh(a*x + b) is exp-like for large b: the coarse grid's best point lies there and
    # four-parameter steps crawl along the valley; with c, d projected out the fit reaches
    # the exact sinh(sqrt(u)) of a composition
    from kansr.symbolic.library import COMPOSITION_FUNCTIONS, SymbolicLibrary

    rng = np.random.default_rng(0)
    x = np.sqrt(rng.uniform(0.1, 4, 1000)[::15])
    m = match_edges(
        x[None], 1.37 * np.sinh(x)[None], SymbolicLibrary([COMPOSITION_FUNCTIONS["sinh"]])
    )
    assert m.relative_error[0, 0] < 1e-20
    a, b, c, d = m.params[0, 0]
    assert abs(a * c - 1.37) < 1e-8 and abs(b) < 1e-8 and abs(d) < 1e-8


def test_the_coarse_grid_on_thinned_samples_starts_where_all_samples_would(monkeypatch):
    # the grid is scored on every k-th of many samples: the same start for functions whose
    # (a, b) the data determine (exp(a*x + b) and a*x + b have ties in b, x**2 in a), and
    # every generating function recovered exactly after the refinement
    from kansr.symbolic import matching

    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (6, 2000))
    y = np.stack([3 * np.sin(2 * x[0] + 1), x[1] ** 2, np.exp(0.8 * x[2]), np.tanh(1.5 * x[3]),
                  1 / (x[4] + 3), -2 * x[5]])  # fmt: skip
    _, _, xs, yc, y_norm = matching._standardised(torch.as_tensor(x), torch.as_tensor(y))
    for e, name in ((0, "sin"), (3, "tanh"), (4, "1/x")):
        fn = make_library()[name]
        thinned = matching._coarse(fn, xs[e : e + 1], yc[e : e + 1], y_norm[e : e + 1])
        monkeypatch.setattr(matching, "_COARSE_SAMPLES", 10**9)
        everything = matching._coarse(fn, xs[e : e + 1], yc[e : e + 1], y_norm[e : e + 1])
        monkeypatch.undo()
        assert torch.equal(thinned, everything), name
    matches = match_edges(x, y)
    assert [m[0] for m in matches.names] == ["sin", "x^2", "exp", "tanh", "1/x", "x"]
    assert np.all(matches.r2[:, 0] > 1 - 1e-10)


def test_the_thinned_coarse_grid_checks_the_domain_on_every_sample():
    # one sample far below the others sits between the thinned ones: a start of log(a*x + b)
    # must still keep it inside the domain
    from kansr.symbolic import matching

    rng = np.random.default_rng(4)
    x = rng.uniform(0.0, 3.0, (1, 1200))
    x[0, 1] = -2.5  # not among every 4th sample
    y = np.log(x + 0.5 + 3.0 * (x < 0))
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    mu, sigma, xs, yc, y_norm = matching._standardised(xt, yt)
    a, b = matching._coarse(make_library()["log"], xs, yc, y_norm)[0]
    assert torch.all(a * xs + b > 0)


def test_read_only_samples_are_matched_without_a_warning():
    # views of pandas data can be read-only; torch warns when it shares such memory
    x = np.linspace(0.5, 3.0, 64)[None]
    y = 2.0 * np.sin(x) + 1.0
    x.flags.writeable = False
    y.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        matches = match_edges(x, y, make_library(["sin", "x", "0"]))
    assert matches.names[0][0] == "sin"
