"""``KANRegressor.suggest``: the library's best matches of one edge of the trained network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kansr import KANRegressor


@pytest.fixture(scope="module")
def fitted():
    rs = np.random.default_rng(0)
    X = pd.DataFrame({"angle": rs.uniform(-3, 3, 400), "speed": rs.uniform(1, 4, 400)})
    y = np.sin(X["angle"].to_numpy()) + 0.5 * X["speed"].to_numpy() ** 2
    est = KANRegressor(hidden_layer_sizes=(), symbolic=False, random_state=0).fit(X, y)
    return est, X


def test_suggest_names_the_function_of_each_input_edge_in_its_units(fitted):
    est, X = fitted
    angle = est.suggest((0, 0, 0), X)
    assert list(angle.columns) == ["function", "formula", "a", "b", "c", "d", "r2", "complexity"]
    # sin(angle), or cos(angle - pi/2): in the feature's own units, a = +-1
    assert angle["function"].iloc[0] in ("sin", "cos") and angle["r2"].iloc[0] > 0.999
    assert abs(abs(angle["a"].iloc[0]) - 1) < 0.02
    assert "angle" in angle["formula"].iloc[0]
    speed = est.suggest((0, 1, 0), X, top=3)
    assert len(speed) == 3 and speed["function"].iloc[0] == "x^2"
    assert "speed" in speed["formula"].iloc[0]


def test_suggest_samples_the_grid_box_without_data(fitted):
    est, _ = fitted
    assert est.suggest((0, 0, 0))["function"].iloc[0] in ("sin", "cos")


@pytest.mark.parametrize("edge", [(1, 0, 0), (0, 2, 0), (0, 0, 1), (-1, 0, 0)])
def test_suggest_rejects_an_edge_outside_the_network(fitted, edge):
    est, X = fitted
    with pytest.raises(ValueError, match="not in"):
        est.suggest(edge, X)


def test_suggest_rejects_a_pruned_edge():
    rs = np.random.default_rng(1)
    X = rs.uniform(-1, 1, size=(200, 2))
    est = KANRegressor(hidden_layer_sizes=(), symbolic=False, random_state=0).fit(X, X[:, 0])
    est.module_.layers[0].mask[1, 0] = 0.0
    with pytest.raises(ValueError, match="pruned"):
        est.suggest((0, 1, 0), X)
