"""Functions pinned on edges by the user (``pinned_edges``, pykan's ``fix_symbolic``)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from kansr import KANRegressor, MetaKANRegressor


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1]


def _functions(expr) -> set[str]:
    return {type(node).__name__ for node in sympy.preorder_traversal(expr)}


@pytest.mark.parametrize(("name", "function"), [("cosh", "cosh"), ("tanh", "tanh")])
def test_a_pinned_function_is_read_off_its_edge_and_kept_on_the_front(name, function):
    # sin(2*x0) + x1 on a network without hidden layer: edge (0, 0, 0) reads x0; pinned to
    # another function, the network's formula uses it and stays on equations_ though the
    # exact law (found by the structure search) dominates it
    X, y = _data()
    est = KANRegressor(
        hidden_layer_sizes=(), max_iter=30, random_state=0, pinned_edges=[(0, 0, 0, name)]
    ).fit(X, y)
    forms = [_functions(e) for e in est.equations_["sympy_format"]]
    assert any(function in f for f in forms), list(est.equations_["equation"])
    plain = KANRegressor(hidden_layer_sizes=(), max_iter=30, random_state=0).fit(X, y)
    assert not any(function in _functions(e) for e in plain.equations_["sympy_format"])
    assert est.sympy_expr() == plain.sympy_expr()  # the selection still follows the data


@pytest.mark.parametrize(
    ("pins", "error", "message"),
    [
        ([(0, 0, 0)], TypeError, "items are"),
        (["sin"], TypeError, "items are"),
        ([(0.0, 0, 0, "sin")], TypeError, "integers"),
        ([(1, 0, 0, "sin")], ValueError, "layer 1 is not in the network"),
        ([(0, 2, 0, "sin")], ValueError, "joins 2 inputs to 1 outputs"),
        ([(0, 0, 0, "sine")], ValueError, "unknown function 'sine'"),
        ([(0, 0, 0, "sin"), (0, 0, 0, "cos")], ValueError, "pinned twice"),
    ],
)
def test_bad_pins_fail_before_training_naming_the_problem(pins, error, message):
    X, y = _data(50)
    est = KANRegressor(hidden_layer_sizes=(), max_iter=5, pinned_edges=pins)
    with pytest.raises(error, match=message):
        est.fit(X, y)
    assert not hasattr(est, "module_")


def test_a_pin_on_a_pruned_edge_is_reported():
    # x1 does not enter y: its edge is pruned and its pin cannot be used
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (200, 2))
    y = np.sin(2 * X[:, 0])
    est = KANRegressor(
        hidden_layer_sizes=(),
        max_iter=30,
        random_state=0,
        search_structure=False,
        pinned_edges=[(0, 1, 0, "exp")],
    )
    with pytest.warns(UserWarning, match=r"pinned edges \[\(0, 1, 0\)\] were pruned") as rec:
        est.fit(X, y)
    pruned = [w for w in rec if "pinned edges" in str(w.message)]
    assert pruned[0].filename == __file__  # the user's line, not inside kansr or sklearn


def test_pins_are_parameters_saved_with_the_estimator(tmp_path):
    from kansr import load

    X, y = _data(100)
    est = MetaKANRegressor(
        hidden_layer_sizes=(), max_iter=5, random_state=0, pinned_edges=[(0, 1, 0, "sinh")]
    ).fit(X, y)
    est.save(tmp_path / "pinned.kansr")
    back = load(tmp_path / "pinned.kansr")
    assert [tuple(p) for p in back.get_params()["pinned_edges"]] == [(0, 1, 0, "sinh")]
    assert np.allclose(back.predict(X), est.predict(X))
