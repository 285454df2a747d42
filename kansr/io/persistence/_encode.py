""":func:`save` and the encoders of an estimator's parts: its parameters, fitted attributes,
network tensors and ``equations_``."""

from __future__ import annotations

import base64
import json
import math
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import sympy
import torch
from sklearn.utils.validation import check_is_fitted

from kansr._version import __version__
from kansr.io.persistence._checks import InvalidModelFile
from kansr.io.persistence._decode import _decode
from kansr.io.persistence._expressions import encode_expr
from kansr.io.persistence._limits import _NPDTYPES, FORMAT, VERSION
from kansr.io.persistence._reading import _parse
from kansr.io.persistence._registry import _classes
from kansr.nn.network import KAN
from kansr.symbolic.library import COMPOSITION_FUNCTIONS, DEFAULT_FUNCTIONS, SymbolicFunction


def save(estimator, path: str | os.PathLike) -> None:
    """Write the fitted ``estimator`` to ``path`` as data-only JSON (see the module docstring).

    Unlike ``pickle``/``joblib`` (which execute code on load: trusted files only), the file
    written here is safe to :func:`load` from an untrusted source.

    The file describes what was fitted: when parameters that shape the network
    (``hidden_layer_sizes``, ``spline_order``, ``base_function``, ``dtype``, ``device``) or
    ``symbolic`` were changed with ``set_params`` after fitting, the saved parameters are those
    of the fitted network and formulas (``symbolic`` is whether ``equations_`` exists), so
    that the loaded estimator predicts as the saved one. The document is checked as
    :func:`load` checks it before anything is written: ``save`` never writes a file that
    ``load`` rejects.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``estimator`` is not fitted.
    ValueError
        When the estimator cannot be written as data: an unsupported class, a ``library``
        with user-defined :class:`~kansr.symbolic.library.SymbolicFunction` objects, a
        formula with an operation outside the supported set, or a model that :func:`load`
        would refuse (for example, a file over :data:`MAX_FILE_BYTES` or an invalid
        parameter set after fitting); nothing is written then.
    """
    classes = _classes()
    name = type(estimator).__name__
    if classes.get(name) is not type(estimator):
        raise ValueError(f"cannot save a {name}: only {', '.join(sorted(classes))} are supported")
    check_is_fitted(estimator)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "kansr_version": _kansr_version(),
        "class": name,
        "params": _encode_params(_fitted_params(estimator)),
        "attributes": _encode_attributes(estimator),
        "module": _encode_module(estimator.module_),
        "equations": _encode_equations(estimator.equations_),
    }
    raw = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")
    try:
        _decode(_parse(raw, "the document"))
    except InvalidModelFile as exc:
        raise ValueError(f"cannot save this {name}: load would reject the file ({exc})") from exc
    with open(path, "wb") as fh:
        fh.write(raw)


def _fitted_params(estimator) -> dict:
    """``get_params()``, with the parameters that describe the fitted network and formulas
    taken from ``module_`` and ``equations_`` where ``set_params`` changed them after fit."""
    params = estimator.get_params(deep=False)
    module = estimator.module_
    first = module.layers[0]
    mult = [int(m) for m in module.mult[1:-1]]
    hidden = [int(w) - m for w, m in zip(module.width[1:-1], mult, strict=True)]
    try:
        same_hidden = estimator._hidden_sizes() == hidden
        same_mult = estimator._mult_sizes() == mult
    except (ValueError, TypeError):
        same_hidden = same_mult = False
    if not same_hidden:
        params["hidden_layer_sizes"] = tuple(hidden)
    if not same_mult and "multiplication_nodes" in params:
        params["multiplication_nodes"] = tuple(mult)
    fitted = {
        "spline_order": int(first.k),
        "base_function": str(first.base_fun),
        "dtype": "float32" if first.weight.dtype == torch.float32 else "float64",
        "symbolic": estimator.equations_ is not None,
    }
    for key, value in fitted.items():
        current = params.get(key)
        if type(current) is not type(value) or current != value:
            params[key] = value
    device = first.weight.device
    try:
        wanted = torch.device(params.get("device"))
        same_device = wanted.type == device.type and wanted.index in (None, device.index)
    except (RuntimeError, TypeError, ValueError):
        same_device = False
    if not same_device:
        params["device"] = "cpu" if device.type == "cpu" else str(device)
    return params


def _kansr_version() -> str:
    return __version__


def _encode_value(value: Any, where: str) -> Any:
    """A parameter value as JSON: scalars as they are, tuples, lists and dicts with text keys
    (``X_units``) tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (tuple, list, np.ndarray)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [_encode_value(v, where) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": [[k, _encode_value(v, where)] for k, v in value.items()]}
    raise ValueError(f"cannot save parameter {where}: {type(value).__name__} values are not data")


def _encode_params(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if key == "random_state" and isinstance(
            value, (np.random.RandomState, np.random.Generator)
        ):
            warnings.warn(
                "random_state is a RandomState instance; it is saved as None",
                UserWarning,
                stacklevel=3,
            )
            value = None
        if key == "library" and value is not None:
            value = _library_names(value)
        out[key] = _encode_value(value, key)
    return out


def _library_names(library) -> list | tuple:
    """The ``library`` parameter with kansr's own functions by name; user-defined
    :class:`SymbolicFunction` objects are refused."""
    names = []
    for item in library:
        if isinstance(item, SymbolicFunction):
            if item not in (DEFAULT_FUNCTIONS.get(item.name), COMPOSITION_FUNCTIONS.get(item.name)):
                raise ValueError(
                    f"cannot save library function {item.name!r}: user-defined "
                    "SymbolicFunction objects are code, not data (use pickle/joblib "
                    "for trusted files)"
                )
            item = item.name
        names.append(item)
    return type(library)(names) if isinstance(library, (list, tuple)) else names


def _encode_array(values, dtype: str | None = None) -> dict:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if dtype is None:
        dtype = "float32" if arr.dtype == np.float32 else "float64"
    arr = np.ascontiguousarray(arr, dtype=_NPDTYPES[dtype])
    return {
        "dtype": dtype,
        "shape": [int(s) for s in arr.shape],
        "data": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def _encode_attributes(est) -> dict:
    out: dict[str, Any] = {
        "n_features_in_": int(est.n_features_in_),
        "x_mean_": _encode_array(est.x_mean_, "float64"),
        "x_scale_": _encode_array(est.x_scale_, "float64"),
        "y_mean_": _encode_array([est.y_mean_], "float64"),
        "y_scale_": _encode_array([est.y_scale_], "float64"),
        "n_iter_": int(est.n_iter_),
        "loss_curve_": _encode_array(list(est.loss_curve_), "float64"),
        "stop_reason_": str(est.stop_reason_),
        "fit_time_": _encode_array([est.fit_time_], "float64"),
        "selected_index_": None if est.selected_index_ is None else int(est.selected_index_),
    }
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        out["feature_names_in_"] = [str(n) for n in names]
    importances = getattr(est, "feature_importances_", None)
    if importances is not None:
        out["feature_importances_"] = _encode_array(importances, "float64")
    scores = getattr(est, "validation_scores_", None)
    if scores is not None:
        out["validation_scores_"] = _encode_array(list(scores), "float64")
    return out


def _encode_module(module) -> dict:
    if type(module) is not KAN:
        raise ValueError(f"cannot save a module_ of type {type(module).__name__}")
    first = module.layers[0]
    dtype = "float32" if first.weight.dtype == torch.float32 else "float64"
    layers = []
    for layer in module.layers:
        layers.append(
            {
                "knots": _encode_array(layer.knots, dtype),
                "mask": _encode_array(layer.mask, dtype),
                "weight": _encode_array(layer.weight, dtype),
                "bias": _encode_array(layer.bias, dtype),
            }
        )
    out = {
        "width": [int(w) for w in module.width],
        "k": int(first.k),
        "base_fun": str(first.base_fun),
        "dtype": dtype,
        "layers": layers,
    }
    if any(module.mult):  # (files of networks without them stay as they were)
        out["mult"] = [int(m) for m in module.mult[1:-1]]
    return out


def _encode_equations(table: pd.DataFrame | None) -> dict | None:
    if table is None:
        return None
    columns = []
    for name in table.columns:
        col = table[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            raise ValueError(f"cannot save equations_ column {name!r} of dtype bool")
        if pd.api.types.is_integer_dtype(col.dtype):
            columns.append({"name": str(name), "kind": "int", "values": [int(v) for v in col]})
        elif pd.api.types.is_float_dtype(col.dtype):
            columns.append({"name": str(name), "kind": "float", "values": _encode_array(col)})
        elif all(isinstance(v, sympy.Basic) for v in col):
            exprs = [encode_expr(v) for v in col]
            columns.append({"name": str(name), "kind": "expr", "values": exprs})
        elif all(isinstance(v, str) for v in col):
            columns.append({"name": str(name), "kind": "str", "values": list(col)})
        else:
            raise ValueError(f"cannot save equations_ column {name!r} of dtype {col.dtype}")
    return {"n_rows": len(table), "columns": columns}
