"""Multiplication nodes (MultKAN, KAN 2.0): ``multiplication_nodes`` of KANRegressor, the
network's products, their formulas, pruning, persistence, pins and pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy
import torch

from kansr import KANRegressor, MetaKANRegressor
from kansr.io import persistence
from kansr.nn.network import KAN, multiply_nodes, prune, subnode_values
from kansr.symbolic import extract
from kansr.symbolic.library import make_library
from kansr.symbolic.network import SymbolicEdge, SymbolicNetwork, compose


def _product_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, X[:, 0] * X[:, 1]


def test_multiply_nodes_passes_addition_nodes_and_multiplies_pairs():
    sub = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(multiply_nodes(sub, 2), [[1.0, 6.0, 20.0]])
    assert multiply_nodes(sub, 0) is sub
    np.testing.assert_allclose(subnode_values(torch.tensor([7.0, 8.0]), 1), [7.0, 8.0, 8.0])


def test_a_network_with_a_multiplication_node_multiplies_its_layer_outputs():
    model = KAN([2, 3, 1], mult=[1], dtype=torch.float64, seed=0)
    assert model.layer_shapes == [(2, 4), (3, 1)]  # two addition nodes, one product of two
    x = torch.rand(20, 2, dtype=torch.float64)
    sub = model.layers[0](x)
    nodes = torch.stack([sub[:, 0], sub[:, 1], sub[:, 2] * sub[:, 3]], 1)
    torch.testing.assert_close(model(x), model.layers[1](nodes))
    inputs = model.layer_inputs(x)
    torch.testing.assert_close(inputs[1], nodes)
    assert [s.shape for s in model.edge_scores(x)] == [(2, 4), (3, 1)]
    assert [n.shape for n in model.node_scores(x)] == [(2,), (3,), (1,)]


@pytest.mark.parametrize("mult", [[4], [-1], [1, 1]])
def test_impossible_multiplication_nodes_are_rejected(mult):
    with pytest.raises(ValueError, match="mult"):
        KAN([2, 3, 1], mult=mult)


def test_the_symbolic_network_and_its_composition_multiply_as_the_network_does():
    library = make_library()
    x0, x1 = sympy.symbols("x0 x1", real=True)
    line = library["x"]
    # layer 0: x0 -> output 0, x1 -> output 1 (the factors of one node); layer 1: 2 * node
    layers = [
        [
            SymbolicEdge(0, 0, line, [1.0, 0.0, 1.0, 0.0]),
            SymbolicEdge(1, 1, line, [1.0, 1.0, 1.0, 0.0]),
        ],
        [SymbolicEdge(0, 0, line, [1.0, 0.0, 2.0, 0.0])],
    ]
    biases = [np.zeros(2), np.zeros(1)]
    (expr,) = compose(layers, biases, [x0, x1], mult=[1, 0])
    assert sympy.simplify(expr - 2 * x0 * (x1 + 1)) == 0
    net = SymbolicNetwork(layers, biases, [2, 1, 1], mult=[1, 0])
    z = torch.rand(10, 2, dtype=torch.float64)
    torch.testing.assert_close(net(z)[:, 0], 2 * z[:, 0] * (z[:, 1] + 1))
    assert sympy.simplify(net.compose([x0, x1])[0] - expr) == 0
    values, jac = net.row_jacobian(z)
    assert jac.shape == (10, net.vector().size) and torch.isfinite(jac).all()


def test_a_product_is_read_off_the_edges_of_one_multiplication_node():
    # x0*x1 on [-1, 1]^2: no sum of one-variable functions through one addition node can
    # make it, one multiplication node makes it exactly, and the edges read the law
    X, y = _product_data()
    found = {}
    for hidden, mult in (((0,), 1), ((1,), 0)):
        est = KANRegressor(
            hidden_layer_sizes=hidden, multiplication_nodes=mult, symbolic=False, random_state=0
        ).fit(X, y)
        args = (est.x_mean_, est.x_scale_, est.y_mean_, est.y_scale_, make_library())
        formulas = extract.extract_formulas(est.module_, X, y, *args)
        found[mult] = min(formulas, key=lambda f: f.loss)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.simplify(found[1].expr - x0 * x1) == 0
    assert found[1].loss < 1e-20
    assert found[0].loss > 1e-4 * np.var(y)  # one addition node: an approximant


def test_the_estimator_with_multiplication_nodes_finds_the_law_and_round_trips(tmp_path):
    X, y = _product_data()
    est = KANRegressor(
        hidden_layer_sizes=(0,), multiplication_nodes=1, search_structure=False, random_state=0
    ).fit(X, y)
    assert est.module_.width == [2, 1, 1] and est.module_.mult == [0, 1, 0]
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.simplify(est.sympy_expr() - x0 * x1) == 0
    path = tmp_path / "mult.json"
    persistence.save(est, path)
    loaded = persistence.load(path)
    assert loaded.module_.mult == [0, 1, 0]
    np.testing.assert_allclose(loaded.predict_network(X), est.predict_network(X))
    assert loaded.get_params()["multiplication_nodes"] == 1
    # a file whose network does not match its parameters is refused, naming the key
    doc = json.loads(path.read_text())
    doc["module"]["mult"] = [0]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="mult"):
        persistence.load(path)


def test_pruning_keeps_the_factors_of_an_important_multiplication_node():
    X, y = _product_data()
    est = KANRegressor(
        hidden_layer_sizes=(2,), multiplication_nodes=1, symbolic=False, random_state=0
    ).fit(X, y)
    module = est.module_
    z = torch.as_tensor((X - est.x_mean_) / est.x_scale_, dtype=module.layers[0].weight.dtype)
    with torch.no_grad():
        before = module(z).clone()
        prune(module, z, threshold=0.02)
        after = module(z)
    mask = module.layers[0].mask
    assert bool(mask[:, 2:].any(0).all())  # both factors of the product still fed
    assert float(torch.mean((after - before) ** 2)) < 1e-3 * float(before.var())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"multiplication_nodes": -1}, "multiplication_nodes"),
        ({"multiplication_nodes": (-1,)}, "non-negative"),
        ({"multiplication_nodes": (1, 1)}, "one count per hidden layer"),
        ({"multiplication_nodes": (0, 0)}, "one count per hidden layer"),
        ({"multiplication_nodes": 1, "hidden_layer_sizes": ()}, "one count per hidden layer"),
        ({"multiplication_nodes": 1.5}, "multiplication_nodes"),
        ({"hidden_layer_sizes": (0,)}, "without nodes"),
    ],
)
def test_bad_multiplication_nodes_get_a_clear_error(params, message):
    X, y = _product_data(30)
    with pytest.raises(ValueError, match=message):
        KANRegressor(max_iter=2, symbolic=False, **params).fit(X, y)


def test_pins_and_warm_start_know_the_factors_of_multiplication_nodes():
    X, y = _product_data(60)
    quick = {"max_iter": 5, "random_state": 0, "symbolic": False}
    # [2, 2 + 1 product, 1]: layer 0 has 2 + 2 outputs
    KANRegressor(
        hidden_layer_sizes=(2,), multiplication_nodes=1, pinned_edges=[(0, 1, 3, "sin")], **quick
    ).fit(X, y)
    with pytest.raises(ValueError, match="joins 2 inputs to 4 outputs"):
        KANRegressor(
            hidden_layer_sizes=(2,),
            multiplication_nodes=1,
            pinned_edges=[(0, 1, 4, "sin")],
            **quick,
        ).fit(X, y)
    est = KANRegressor(hidden_layer_sizes=(2,), warm_start=True, **quick).fit(X, y)
    est.set_params(multiplication_nodes=1)
    with pytest.raises(ValueError, match="multiplication"):
        est.fit(X, y)


def test_the_picture_marks_multiplication_nodes():
    pytest.importorskip("matplotlib")
    X, y = _product_data(100)
    est = KANRegressor(
        hidden_layer_sizes=(1,), multiplication_nodes=1, max_iter=5, random_state=0
    ).fit(X, y)
    fig = est.plot(X)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("×") == 1
    active = sum(int((layer.mask > 0).sum()) for layer in est.module_.layers)
    assert len(fig.axes) == 1 + active  # an inset for every edge, the factors' included


def test_metakan_generates_the_edges_of_multiplication_nodes():
    X, y = _product_data()
    est = MetaKANRegressor(
        hidden_layer_sizes=(0,),
        multiplication_nodes=1,
        search_structure=False,
        grid_update_until=10,
        random_state=0,
    ).fit(X, y)
    assert est.meta_module_.mult == [0, 1, 0] and est.module_.mult == [0, 1, 0]
    np.testing.assert_allclose(
        est.predict_network(X),
        est.meta_module_(torch.as_tensor((X - est.x_mean_) / est.x_scale_, dtype=torch.float64))
        .detach()
        .numpy()[:, 0]
        * est.y_scale_
        + est.y_mean_,
        rtol=1e-9,
        atol=1e-12,
    )
    assert est.score(X, y) > 0.999


def test_a_network_pickled_before_multiplication_nodes_existed_still_runs():
    import pickle

    model = KAN([2, 3, 1], dtype=torch.float64, seed=0)
    x = torch.rand(5, 2, dtype=torch.float64)
    state = model.__getstate__()
    del state["mult"]  # what a pickle of an older kansr holds
    old = KAN.__new__(KAN)
    old.__setstate__(state)
    assert old.mult == [0, 0, 0]
    torch.testing.assert_close(old(x), model(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(model))(x), model(x))
