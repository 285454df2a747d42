"""MetaKAN: generated KAN weights, parameter counts, materialisation, penalty and grids."""

import copy
import pickle

import pytest
import torch

from kansr.nn.metakan import MetaKAN, sharing_groups
from kansr.nn.network import KAN
from kansr.nn.training import TrainConfig, train

F64 = torch.float64


def _meta(width=(3, 5, 2), sharing="shared", **kw) -> MetaKAN:
    kw = {"grid": 5, "k": 3, "dtype": F64, "seed": 0, **kw}
    return MetaKAN(list(width), sharing=sharing, **kw)


def _inputs(n=256, n_in=3, seed=0, low=-1.0, high=1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, n_in, generator=gen, dtype=F64)


def _edge_functions(model, points: list[torch.Tensor]) -> list[torch.Tensor]:
    """Every layer's edge outputs ``(batch, n_in, n_out)`` at that layer's own points."""
    kan = model.materialize() if isinstance(model, MetaKAN) else model
    with torch.no_grad():
        return [layer.edge_activations(p) for layer, p in zip(kan.layers, points, strict=True)]


def _core_points(model: MetaKAN, n: int = 400) -> list[torch.Tensor]:
    """Points inside every input's core interval, per layer ``(n, n_in)``."""
    points = []
    for layer in model.layers:
        k, g = layer.k, layer.grid
        lo, hi = layer.knots[:, k], layer.knots[:, g + k]
        steps = torch.linspace(0, 1, n, dtype=F64)[:, None]
        points.append(lo + steps * (hi - lo))
    return points


def _perturb_inputs(model: MetaKAN) -> torch.Tensor:
    """Data that leaves the hidden layers' inputs in ranges unlike the first layer's."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(500, model.width[0], generator=gen, dtype=F64)
    return x * torch.tensor([0.5, 1.0, 2.0], dtype=F64)[: model.width[0]] + 0.3


# ---------------------------------------------------------------------------- structure
def test_sharing_groups_rule():
    assert sharing_groups([20, 64, 64, 1], "shared") == [0, 0, 0]
    assert sharing_groups([20, 64, 64, 1], "layer") == [0, 1, 2]
    assert sharing_groups([20, 64, 64, 1], "cluster") == [0, 1, 1]  # octaves 16-31, 64-127
    assert sharing_groups([3, 100, 7, 1], "cluster") == [0, 1, 2]
    with pytest.raises(ValueError, match="sharing"):
        sharing_groups([2, 1], "everything")


@pytest.mark.parametrize("sharing,n_meta", [("shared", 1), ("layer", 2), ("cluster", 2)])
def test_parameter_count(sharing, n_meta):
    d, hidden, p = 2, 8, 5 + 3 + 1
    model = _meta((3, 5, 2), sharing, embedding_dim=d, meta_hidden=hidden)
    if sharing == "cluster":  # n_in 3 and 5: octaves 1 and 2
        assert model.groups == [0, 1]
    edges = 3 * 5 + 5 * 2
    meta_size = hidden * d + hidden + p * hidden + p
    biases = 5 + 2
    assert model.n_parameters() == d * edges + n_meta * meta_size + biases
    assert len(model.meta) == n_meta
    assert all(not isinstance(layer.weight, torch.nn.Parameter) for layer in model.layers)


def test_wide_network_has_a_tenth_of_the_parameters():
    width = [20, 64, 64, 1]
    kan = KAN(width, grid=10, seed=0)
    meta = MetaKAN(width, grid=10, seed=0)
    assert meta.n_parameters() * 10 <= kan.n_parameters()


def test_seeded_and_no_global_rng():
    state = torch.get_rng_state().clone()
    a, b, c = _meta(seed=1), _meta(seed=1), _meta(seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    x = _inputs()
    assert torch.equal(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


def test_initial_weights_look_like_a_kans():
    model = MetaKAN([20, 64, 1], grid=10, dtype=F64, seed=0)
    w = model.generated_weights()[0] * 20**0.5  # undo the 1 / sqrt(n_in) scale
    assert w[:, -1, :].std().item() == pytest.approx(3**-0.5, rel=0.2)  # base weights
    assert w[:, :-1, :].std().item() == pytest.approx(0.1, rel=0.3)  # spline coefficients


# ---------------------------------------------------------------------------- forward
@pytest.mark.parametrize("sharing", ["shared", "layer", "cluster"])
def test_materialize_matches_forward_and_penalty(sharing):
    model = _meta(sharing=sharing)
    x = _inputs()
    kan = model.materialize()
    assert type(kan) is KAN
    assert all(isinstance(layer.weight, torch.nn.Parameter) for layer in kan.layers)
    torch.testing.assert_close(kan(x), model(x), rtol=0, atol=1e-14)
    out, penalty = model.forward_with_penalty(x, 1.0, 2.0)
    ref_out, ref_penalty = kan.forward_with_penalty(x, 1.0, 2.0)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-14)
    torch.testing.assert_close(penalty, ref_penalty, rtol=1e-12, atol=0)
    for mine, ref in zip(model.edge_scores(x), kan.edge_scores(x), strict=True):
        torch.testing.assert_close(mine, ref)


def test_gradients_reach_only_embeddings_meta_learners_and_biases():
    model = _meta()
    x = _inputs()
    out, penalty = model.forward_with_penalty(x)
    (out.square().mean() + 1e-3 * penalty).backward()
    names = {n for n, p in model.named_parameters() if p.grad is not None}
    assert names == {n for n, _ in model.named_parameters()}
    assert all(n.startswith(("embeddings.", "meta.", "kan.layers.")) for n in names)
    assert all(n.endswith("bias") for n in names if n.startswith("kan."))


def test_gradient_matches_finite_differences():
    model = _meta((2, 3, 1), meta_hidden=4)
    x = _inputs(64, 2)

    def loss() -> torch.Tensor:
        out, penalty = model.forward_with_penalty(x)
        return out.square().mean() + 0.1 * penalty

    loss().backward()
    eps = 1e-6
    for p in (model.embeddings[0], model.meta[0].w1, model.meta[0].w2, model.meta[0].b2):
        flat = p.view(-1)
        for idx in (0, flat.numel() - 1):
            old = flat[idx].item()
            with torch.no_grad():  # in-place edits: the weights are regenerated
                flat[idx] = old + eps
                up = loss().item()
                flat[idx] = old - eps
                down = loss().item()
                flat[idx] = old
            assert p.grad.view(-1)[idx].item() == pytest.approx(
                (up - down) / (2 * eps), rel=1e-5, abs=1e-9
            )


def test_weights_follow_parameter_changes_and_keep_edits_until_then():
    model = _meta()
    x = _inputs()
    before = model(x)
    with torch.no_grad():
        model.layers[-1].weight.zero_()  # as KANRegressor does for a constant target
        model.layers[-1].bias.zero_()
        assert model(x).abs().max() == 0
        assert model.materialize()(x).abs().max() == 0
        model.meta[0].b2.add_(0.0)  # any change of a generating parameter regenerates
    assert not torch.allclose(model(x), torch.zeros_like(before))


def test_pickle_and_deepcopy():
    model = _meta()
    x = _inputs()
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)
        assert other._cache_key is None or other._cache_key != model._cache_key


def test_trains_with_kansr_train():
    model = _meta((2, 3, 1), sharing="layer")
    x = _inputs(300, 2)
    y = (torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2).to(F64)
    with torch.no_grad():
        before = float(((model(x) - y) ** 2).mean())
    config = TrainConfig(max_iter=15, sparsity=1e-3, grid_update_until=10)
    result = train(model, x, y, config)
    assert result.loss_curve[-1] < 0.05 * before
    assert all(not isinstance(layer.weight, torch.nn.Parameter) for layer in model.layers)


def test_float32_train_update_and_extend():
    model = MetaKAN([3, 4, 1], grid=5, seed=0)  # float32
    x = _inputs(200).float()
    y = x[:, :1] * x[:, 1:2]
    train(model, x, y, TrainConfig(max_iter=3, grid_update_until=3))
    model.extend_grid(10, x)
    assert model.meta[0].w2.dtype == torch.float32
    assert model.generated_weights()[0].dtype == torch.float32
    assert torch.isfinite(model(x)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    model = _meta()
    x = _inputs()
    cpu = model(x)
    model = model.to("cuda")
    torch.testing.assert_close(model(x.cuda()).cpu(), cpu, rtol=0, atol=1e-10)
    model.update_grid(x.cuda())
    assert model.materialize().layers[0].weight.is_cuda


# ---------------------------------------------------------------------------- grids
@pytest.mark.parametrize("sharing", ["shared", "layer", "cluster"])
def test_extend_grid_is_exact_on_uniform_grids(sharing):
    model = _meta(sharing=sharing)
    points = _core_points(model)
    before = _edge_functions(model, points)
    n_params = model.n_parameters()
    model.extend_grid(10)
    assert all(layer.grid == 10 for layer in model.layers)
    assert all(meta.w2.shape[0] == 10 + 3 + 1 for meta in model.meta)
    assert model.n_parameters() == n_params + 5 * len(model.meta) * (model.meta[0].w2.shape[1] + 1)
    for old, new in zip(before, _edge_functions(model, points), strict=True):
        torch.testing.assert_close(new, old, rtol=0, atol=1e-6)
        assert (new - old).abs().max() < 1e-9
    x = _inputs()
    torch.testing.assert_close(model.materialize()(x), model(x), rtol=0, atol=1e-14)


def test_extend_grid_with_data_and_non_uniform_single_input_grid():
    """One input per meta-learner: even quantile knots map exactly (one coefficient map)."""
    model = _meta((1, 3), sharing="layer")
    x = _inputs(300, 1) ** 3  # skewed: non-uniform quantile knots
    model.update_grid(x)
    points = _core_points(model)
    before = _edge_functions(model, points)
    model.extend_grid(15, x)
    assert model.layers[0].grid == 15
    torch.testing.assert_close(_edge_functions(model, points)[0], before[0], rtol=0, atol=1e-6)


def test_extend_grid_after_update_is_close():
    model = _meta()
    x = _perturb_inputs(model)
    model.update_grid(x)
    before = model(x)
    model.extend_grid(10, x)
    err = (model(x) - before).square().mean().sqrt()
    assert err < 0.05 * before.std()


def test_update_grid_matches_the_kans_when_inputs_share_knots():
    """Identical input columns give one coefficient map: the output layer maps exactly."""
    model = _meta((3, 2))
    column = torch.randn(400, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    x = column.repeat(1, 3)
    kan = model.materialize()
    kan.update_grid(x)
    model.update_grid(x)
    torch.testing.assert_close(model.layers[0].knots, kan.layers[0].knots)
    torch.testing.assert_close(model(x), kan(x), rtol=0, atol=1e-9)


def _refit_error(model: MetaKAN, x: torch.Tensor, old: list[torch.Tensor]) -> float:
    new = _edge_functions(model, [x])[0]
    return float((new - old[0]).square().sum())


def test_update_grid_output_layer_is_the_least_squares_fit():
    model = _meta((3, 4), meta_hidden=6)
    x = _perturb_inputs(model)
    old = _edge_functions(model, [x])
    w2 = model.meta[0].w2
    model.update_grid(x)
    assert model.meta[0].w2 is w2  # Parameter objects kept: optimizers still hold them
    best = _refit_error(model, x, old)
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        d_w = torch.randn(w2.shape, generator=gen, dtype=F64) * 1e-3
        d_b = torch.randn(model.meta[0].b2.shape, generator=gen, dtype=F64) * 1e-3
        d_w[-1], d_b[-1] = 0, 0  # the base-weight row is kept, not fitted
        for sign in (1, -1):
            with torch.no_grad():
                model.meta[0].w2.add_(sign * d_w)
                model.meta[0].b2.add_(sign * d_b)
            assert _refit_error(model, x, old) > best
            with torch.no_grad():
                model.meta[0].w2.sub_(sign * d_w)
                model.meta[0].b2.sub_(sign * d_b)


def _trained(sharing: str) -> tuple[MetaKAN, torch.Tensor]:
    model = _meta((2, 4, 1), sharing=sharing)
    x = _inputs(400, 2, low=-2, high=2)
    y = torch.sin(2 * x[:, :1]) * x[:, 1:]
    train(model, x, y, TrainConfig(max_iter=10, grid_update_until=10))
    return model, x


def _rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).square().mean().sqrt())


def test_update_grid_one_meta_learner_per_layer_is_close_to_the_kans():
    model, x = _trained("layer")
    with torch.no_grad():
        before = model(x)
        kan = model.materialize()
        kan.update_grid(x)
        model.update_grid(x)
        assert _rms(model(x), before) < 0.01 * float(before.std())
        assert _rms(model(x), before) < 2 * _rms(kan(x), before) + 1e-9


def test_update_grid_shared_meta_learner_beats_keeping_the_output_layer():
    """One output layer for inputs with different coefficient maps: least squares, not exact."""
    model, x = _trained("shared")
    with torch.no_grad():
        before = model(x)
        naive = copy.deepcopy(model)  # new knots, output layer left as it was
        inputs = model.layer_inputs(x)[:-1]
        for layer, old, h in zip(naive.layers, model.layers, inputs, strict=True):
            layer.set_knots(old.data_knots(h))
        naive._cache_key = None
        model.update_grid(x)
        assert _rms(model(x), before) < 0.6 * _rms(naive(x), before)
        assert _rms(model(x), before) < 0.3 * float(before.std())
