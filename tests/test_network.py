"""KAN network: shapes, exact penalty, read-outs, masks, grid update and extension."""

import pytest
import torch

from kansr.nn.network import KAN, sparsity_penalty
from kansr.nn.splines import bspline_basis
from tests.reference import fit_coefficients


def _trained_kan(grid=5, seed=0, steps=8):
    """A [3, 4, 2] KAN fitted to smooth targets as kansr.nn.training does it (float64): grids
    from data, LBFGS steps of 10 iterations, grids refreshed after step 2 (5 steps before
    the end, the training loop's interval)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(800, 3, generator=gen, dtype=torch.float64) * 4 - 2
    y = torch.stack([torch.sin(2 * x[:, 0]) + x[:, 1] ** 2, torch.exp(0.5 * x[:, 2])], 1)
    model = KAN([3, 4, 2], grid=grid, k=3, dtype=torch.float64, seed=seed)
    model.update_grid(x)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        return loss

    for step in range(steps):
        opt.step(closure)
        if step == 2:
            model.update_grid(x)
    return model, x, y


def test_shapes_dtypes_and_parameter_count():
    for dtype in (torch.float32, torch.float64):
        model = KAN([3, 5, 2], grid=6, k=3, dtype=dtype, seed=0)
        out = model(torch.zeros(7, 3, dtype=dtype))
        assert out.shape == (7, 2) and out.dtype == dtype
    # weight (n_in, G + k + 1, n_out) and bias per layer
    assert model.n_parameters() == 3 * 10 * 5 + 5 + 5 * 10 * 2 + 2


def test_invalid_width_and_grid():
    with pytest.raises(ValueError, match="width"):
        KAN([3])
    with pytest.raises(ValueError, match="grid"):
        KAN([2, 1], grid=0)
    with pytest.raises(ValueError, match="base function"):
        KAN([2, 1], base_fun="relu6")


def test_same_seed_same_network_and_global_rng_untouched():
    torch_state = torch.get_rng_state()
    a, b = KAN([2, 3, 1], seed=4), KAN([2, 3, 1], seed=4)
    assert torch.equal(torch.get_rng_state(), torch_state)
    x = torch.rand(10, 2)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), KAN([2, 3, 1], seed=5)(x))


def test_edge_std_equals_explicit_per_edge_std():
    model, x, _ = _trained_kan()
    for (inputs, phi), layer in zip(model.edge_activations(x), model.layers, strict=True):
        exact = layer.edge_std(layer.basis(inputs))
        assert torch.max(torch.abs(exact - phi.std(0))) < 1e-12 * (1 + phi.std(0).max())


def test_edge_activations_sum_to_layer_output():
    model, x, _ = _trained_kan()
    for (inputs, phi), layer in zip(model.edge_activations(x), model.layers, strict=True):
        assert torch.allclose(phi.sum(1) + layer.bias, layer(inputs), atol=1e-12)


def test_penalty_is_differentiable_and_matches_definition():
    model, x, _ = _trained_kan()
    out, penalty = model.forward_with_penalty(x, lamb_l1=1.0, lamb_entropy=2.0)
    expected = 0.0
    inputs = x
    for layer, (_, phi) in zip(model.layers, model.edge_activations(x), strict=True):
        scale = phi.std(0) / (inputs.std(0)[:, None] + 0.1)
        expected = expected + sparsity_penalty(scale, 1.0, 2.0)
        inputs = layer(inputs)
    assert torch.allclose(penalty, expected, rtol=1e-10)
    assert torch.allclose(out, model(x))
    penalty.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_penalty_prefers_sparse_edges():
    # same total magnitude, concentrated on one edge vs spread: L1 equal, entropy lower
    sparse = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    spread = torch.tensor([[0.5, 0.0], [0.5, 0.0]])
    assert sparsity_penalty(sparse, 0.0, 1.0) < sparsity_penalty(spread, 0.0, 1.0)


def test_mask_removes_edge():
    model, x, _ = _trained_kan()
    layer = model.layers[0]
    before = model.edge_activations(x)[0][1][:, 1, 2].abs().max()
    assert before > 0
    layer.mask[1, 2] = 0
    phi = model.edge_activations(x)[0][1]
    assert torch.all(phi[:, 1, 2] == 0)
    assert model.edge_scores(x)[0][1, 2] == 0


def test_scores_identify_unused_input():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(500, 2, generator=gen, dtype=torch.float64) * 2 - 1
    model = KAN([2, 1], dtype=torch.float64, seed=0)
    with torch.no_grad():
        model.layers[0].weight[1].zero_()  # input 1 feeds nothing
    edges = model.edge_scores(x)
    nodes = model.node_scores(x)
    assert edges[0][0, 0] > 0 and edges[0][1, 0] < 1e-12 * edges[0][0, 0]
    assert nodes[0][1] < 1e-12 * nodes[0][0] and len(nodes) == 2


def _smooth_kan(seed=0):
    """A [3, 4, 2] KAN (grid 5, uniform knots on [-2, 2]) whose edges are smooth functions
    a*sin(x) + b*x**2/4 + silu part, set by least squares."""
    gen = torch.Generator().manual_seed(seed)
    model = KAN([3, 4, 2], grid=5, k=3, grid_range=(-2, 2), dtype=torch.float64, seed=seed)
    for layer in model.layers:
        pts = torch.linspace(-2, 2, 200, dtype=torch.float64)[:, None].repeat(1, layer.n_in)
        a = torch.randn(layer.n_in, 1, layer.n_out, generator=gen, dtype=torch.float64)
        b = torch.randn(layer.n_in, 1, layer.n_out, generator=gen, dtype=torch.float64)
        target = a * torch.sin(pts.t())[..., None] + b * (pts.t() ** 2 / 4)[..., None]
        basis = bspline_basis(pts, layer.knots, 3).transpose(0, 1)
        with torch.no_grad():
            layer.weight[:, :-1, :] = fit_coefficients(basis, target * 0.4)
            layer.weight[:, -1, :] = 0.1
    return model


def test_update_grid_keeps_smooth_functions():
    model = _smooth_kan()
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(2000, 3, generator=gen, dtype=torch.float64) * 0.6).clamp(-1.9, 1.9)
    before = model(x).detach()
    hidden = model.layers[0](x)
    assert hidden.abs().max() < 2  # every layer's inputs inside its grid
    old_knots = [layer.knots.clone() for layer in model.layers]
    model.update_grid(x)
    after = model(x).detach()
    for old, layer in zip(old_knots, model.layers, strict=True):
        assert not torch.allclose(old, layer.knots)  # knots moved to the data's quantiles
    assert torch.linalg.norm(after - before) / torch.linalg.norm(before) < 1e-3
    # the core spans the data range of each input, denser where the data are dense
    core = model.layers[0].knots[:, 3:-3]
    assert torch.allclose(core[:, 0], x.min(0).values)
    assert torch.allclose(core[:, -1], x.max(0).values)
    spacing = core[:, 1:] - core[:, :-1]
    assert torch.all(spacing[:, 2] < spacing[:, 0])


def test_update_grid_on_a_trained_network_changes_little():
    # a trained spline is tied to its knots: refitting it on new quantile knots (here from
    # half of the data) costs about 1e-3 of the output, 1e-2 at worst with grid 10
    model, x, _ = _trained_kan()
    model.update_grid(x)
    before = model(x).detach()
    model.update_grid(x[::2])
    rel = torch.linalg.norm(model(x).detach() - before) / torch.linalg.norm(before)
    assert rel < 5e-3


@pytest.mark.parametrize("new_grid", [10, 15, 20])
def test_extend_grid_keeps_functions(new_grid):
    model, x, _ = _trained_kan()
    model.update_grid(x)  # every layer's inputs inside its core interval
    before = model(x).detach()
    model.extend_grid(new_grid)
    assert model.layers[0].grid == new_grid and model.layers[1].weight.shape[1] == new_grid + 4
    rel = torch.linalg.norm(model(x).detach() - before) / torch.linalg.norm(before)
    # nested grids (multiples of 5) are exact; others interpolate knots and stay close
    assert rel < (1e-8 if new_grid % 5 == 0 else 1e-3)


def test_float32_training_step_and_grid_ops():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, 4, generator=gen) * 2 - 1
    y = (x[:, :1] * x[:, 1:2]).clone()
    model = KAN([4, 3, 1], grid=5, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        out, pen = model.forward_with_penalty(x)
        loss = torch.mean((out - y) ** 2) + 1e-3 * pen
        loss.backward()
        opt.step()
    model.update_grid(x)
    model.extend_grid(10)
    assert model.layers[0].weight.dtype == torch.float32
    assert torch.isfinite(model(x)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    model = KAN([3, 4, 1], dtype=torch.float64, seed=0)
    x = torch.rand(100, 3, dtype=torch.float64)
    cpu = model(x)
    gpu = model.to("cuda")(x.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-10)


def test_edge_variance_gradient():
    from kansr.nn.layer import _edge_variance
    from tests.reference import EdgeVariance

    gen = torch.Generator().manual_seed(0)
    basis = torch.rand(30, 3, 5, generator=gen, dtype=torch.float64).requires_grad_(True)
    weight = torch.randn(3, 5, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(EdgeVariance.apply, (basis, weight))
    explicit = torch.einsum("bip,ipo->bio", basis, weight).var(0)
    assert torch.allclose(EdgeVariance.apply(basis, weight), explicit, rtol=1e-12)
    # KANLayer.edge_std differentiates the same variance by autograd: same gradients
    g = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    by_hand = torch.autograd.grad((EdgeVariance.apply(basis, weight) * g).sum(), (basis, weight))
    by_autograd = torch.autograd.grad((_edge_variance(basis, weight)[0] * g).sum(), (basis, weight))
    for got, want in zip(by_autograd, by_hand, strict=True):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_layer_basis_has_no_input_gradient():
    from tests.reference import BasisWithBase

    layer = KAN([2, 3], seed=0).layers[0]
    x = torch.rand(5, 2, requires_grad=True)
    with pytest.raises(ValueError, match="no gradient with respect to x"):
        layer.basis(x)
    with torch.no_grad():
        assert layer.basis(x).shape == (5, 2, layer.n_basis + 1)
    assert torch.equal(
        layer.basis(x.detach()), BasisWithBase.apply(x.detach(), layer.knots, 3, "silu")
    )


@pytest.mark.parametrize("n_out", [1, 3])
@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_layer_function_matches_the_composition_and_its_gradient(n_out, uniform, k):
    """The fused layer (basis + GEMM + edge variance, hand-written backward) equals the plain
    composition in value and gradient, inside, at the edge of and outside the grid."""
    from kansr.nn.layer import LayerFunction
    from tests.reference import BasisWithBase, EdgeVariance

    gen = torch.Generator().manual_seed(k + 10 * n_out)
    model = KAN([3, n_out], grid=4, k=k, dtype=torch.float64, seed=0)
    layer = model.layers[0]
    if not uniform:
        model.update_grid(torch.randn(300, 3, generator=gen, dtype=torch.float64))
    lookup = layer.lookup()
    assert lookup.uniform == uniform
    x = (torch.randn(40, 3, generator=gen, dtype=torch.float64) * 1.5).requires_grad_(True)
    weight = torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64)
    weight.requires_grad_(True)
    bias = torch.randn(n_out, generator=gen, dtype=torch.float64).requires_grad_(True)

    def fused(x, weight, bias, with_variance=True):
        return LayerFunction.apply(x, weight, bias, layer.knots, k, "silu", lookup, with_variance)

    assert torch.autograd.gradcheck(fused, (x, weight, bias))
    assert torch.autograd.gradcheck(lambda *a: fused(*a, with_variance=False)[0], (x, weight, bias))
    basis = BasisWithBase.apply(x, layer.knots, k, "silu", lookup)
    out_ref = torch.addmm(bias, basis.reshape(40, -1), weight.reshape(-1, n_out))
    var_ref = EdgeVariance.apply(basis, weight)
    out, var = fused(x, weight, bias)
    assert torch.allclose(out, out_ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(var, var_ref, rtol=1e-10, atol=1e-14)
    g_out = torch.randn(40, n_out, generator=gen, dtype=torch.float64)
    g_var = torch.randn(3, n_out, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad((out * g_out).sum() + (var * g_var).sum(), (x, weight, bias))
    refs = torch.autograd.grad((out_ref * g_out).sum() + (var_ref * g_var).sum(), (x, weight, bias))
    for got, want in zip(grads, refs, strict=True):
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_layer_function_without_input_gradient_and_float32():
    from kansr.nn.layer import LayerFunction

    layer = KAN([4, 5], grid=6, seed=1).layers[0]
    x = torch.rand(64, 4) * 2 - 1  # no gradient: the first layer of a network
    out, var = LayerFunction.apply(
        x, layer.masked_weight(), layer.bias, layer.knots, 3, "silu", layer.lookup(), True
    )
    (out.sum() + var.sum()).backward()
    assert out.dtype == torch.float32 and layer.weight.grad.shape == layer.weight.shape
    phi = layer.edge_activations(x)
    assert torch.allclose(var, phi.var(0), rtol=1e-4, atol=1e-6)


def test_batch_std_matches_torch_and_keeps_gradients_finite():
    from kansr.nn.network import batch_std

    x = torch.randn(50, 4, dtype=torch.float64)
    x[:, 2] = 3.0  # a constant column, as from a node whose edges were all pruned
    x.requires_grad_(True)
    std = batch_std(x)
    assert torch.allclose(std, x.detach().std(0), atol=1e-14)
    std.sum().backward()
    assert torch.isfinite(x.grad).all()
