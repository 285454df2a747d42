"""The network of a model file: its widths, spline order and tensors checked against the
estimator's parameters, and rebuilt through the :class:`~kansr.nn.network.KAN` constructor and
``load_state_dict``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kansr.io.persistence._checks import _array, _check_keys, _fail, _int, _list, _str
from kansr.io.persistence._limits import (
    _LAYER_KEYS,
    _MAX_SPLINE_ORDER,
    _MODULE_KEYS,
    _OPTIONAL_MODULE_KEYS,
)
from kansr.nn.network import DTYPES, KAN, layer_shapes


def _decode_module(obj: Any, est, n_features: int):
    where = "module"
    _check_keys(obj, where, _MODULE_KEYS, _OPTIONAL_MODULE_KEYS)
    mult = est._mult_sizes()
    expected = [n_features, *(a + m for a, m in zip(est._hidden_sizes(), mult, strict=True)), 1]
    width = [_int(w, f"{where}.width", 1) for w in _list(obj["width"], f"{where}.width")]
    if width != expected:
        _fail(
            f"{where}.width",
            f"{width} does not match n_features_in_, hidden_layer_sizes and "
            f"multiplication_nodes ({expected})",
        )
    saved = [0] * len(mult)
    if "mult" in obj:
        saved = [_int(m, f"{where}.mult", 0) for m in _list(obj["mult"], f"{where}.mult")]
    if saved != mult:
        _fail(f"{where}.mult", f"{saved} does not match multiplication_nodes ({mult})")
    shapes = layer_shapes(width, mult)
    k = _int(obj["k"], f"{where}.k", 1, _MAX_SPLINE_ORDER)
    if k != est.spline_order:
        _fail(f"{where}.k", f"{k} does not match spline_order={est.spline_order}")
    base_fun = _str(obj["base_fun"], f"{where}.base_fun")
    if base_fun != est.base_function:
        _fail(f"{where}.base_fun", f"{base_fun!r} does not match base_function")
    dtype = _str(obj["dtype"], f"{where}.dtype")
    if dtype != est.dtype:
        _fail(f"{where}.dtype", f"{dtype!r} does not match the estimator's dtype {est.dtype!r}")
    layers = _list(obj["layers"], f"{where}.layers", len(width) - 1)
    states = [
        _decode_layer(layer, f"{where}.layers[{i}]", *shapes[i], k, dtype)
        for i, layer in enumerate(layers)
    ]
    try:
        device = torch.device(est.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        _fail("params.device", f"cannot use device {est.device!r}: {exc}")
    return _build_module(width, mult, k, base_fun, DTYPES[dtype], states).to(device).eval()


def _decode_layer(layer: Any, where: str, n_in: int, n_out: int, k: int, dtype: str) -> tuple:
    """``(grid, knots, weight, mask, bias)`` of one layer, checked against its sizes."""
    _check_keys(layer, where, _LAYER_KEYS)
    knots = _array(layer["knots"], f"{where}.knots", dtype=dtype, ndim=2)
    n_knots = knots.shape[1]
    if knots.shape[0] != n_in or n_knots < 2 * k + 2:
        _fail(
            f"{where}.knots",
            f"shape {list(knots.shape)} does not fit {n_in} inputs and spline order {k}",
        )
    _check_knots(knots, f"{where}.knots")
    grid = n_knots - 1 - 2 * k
    weight = _array(layer["weight"], f"{where}.weight", (n_in, grid + k + 1, n_out), dtype)
    mask = _array(layer["mask"], f"{where}.mask", (n_in, n_out), dtype)
    if not np.all((mask == 0) | (mask == 1)):
        _fail(f"{where}.mask", "entries must be 0 or 1")
    bias = _array(layer["bias"], f"{where}.bias", (n_out,), dtype)
    return grid, knots, weight, mask, bias


def _build_module(width: list, mult: list, k: int, base_fun: str, torch_dtype, states: list) -> KAN:
    """The :class:`KAN` of the checked layer ``states`` (on the CPU)."""
    # the smallest saved grid: the constructor allocates no more than the file holds
    grid = min(state[0] for state in states)
    module = KAN(width, grid=grid, k=k, base_fun=base_fun, dtype=torch_dtype, seed=0, mult=mult)
    state = {}
    for i, (grid, knots, weight, mask, bias) in enumerate(states):
        layer = module.layers[i]
        if grid != layer.grid:  # grids were extended: give the layer the saved sizes first
            layer.set_knots(torch.from_numpy(knots))
            layer.weight = torch.nn.Parameter(torch.zeros(weight.shape, dtype=torch_dtype))
        for key, value in (("knots", knots), ("mask", mask), ("weight", weight), ("bias", bias)):
            state[f"layers.{i}.{key}"] = torch.from_numpy(value)
    module.load_state_dict(state, strict=True)
    for layer in module.layers:
        layer._lookup_key = None
    return module


def _check_knots(knots: np.ndarray, where: str) -> None:
    """Knots as the spline evaluation needs them: strictly increasing in every row, with a
    span (last minus first knot) whose reciprocal is finite in their dtype too."""
    if not np.all(np.diff(knots, axis=1) > 0):
        _fail(where, "knots must be strictly increasing in every row")
    with np.errstate(over="ignore", divide="ignore"):
        span = knots[:, -1] - knots[:, 0]
        # the lookup cuts the span into up to 64 cells per interval
        cells = knots.dtype.type(64 * (knots.shape[1] - 1))
        inverse = cells / span
    if not (np.all(np.isfinite(span)) and np.all(np.isfinite(inverse))):
        _fail(where, "the span of the knots (last minus first) overflows or underflows")
