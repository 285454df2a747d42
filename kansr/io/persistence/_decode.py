""":func:`load` and the decoders of a model document: its header, the estimator's parameters,
fitted attributes and ``equations_`` (the network: :mod:`._decode_network`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from kansr.io.persistence._checks import (
    InvalidModelFile,
    _array,
    _check_keys,
    _fail,
    _int,
    _list,
    _scalar,
    _str,
    _type_name,
)
from kansr.io.persistence._decode_network import _decode_module
from kansr.io.persistence._expressions import _Budget, _decode_formula
from kansr.io.persistence._limits import (
    _ATTRIBUTE_KEYS,
    _COLUMN_KINDS,
    _DEVICE,
    _INT64,
    _MAX_COLUMNS,
    _MAX_ROWS,
    _OPTIONAL_ATTRIBUTES,
    _STOP_REASON,
    _TOP_KEYS,
    FORMAT,
    VERSION,
)
from kansr.io.persistence._reading import _read_document
from kansr.io.persistence._registry import _classes
from kansr.nn.network import DTYPES
from kansr.symbolic.library import make_library
from kansr.symbolic.names import EquationTable


def load(path: str | os.PathLike):
    """Rebuild the estimator :func:`save` wrote to ``path``.

    Safe for untrusted files: nothing in the file is executed (see the module docstring), and
    the work and memory of loading, and of the estimator's methods afterwards, are bounded:

    * the file may have at most :data:`MAX_FILE_BYTES` (64 MiB), checked before it is read,
      and at most a million JSON values (counted before parsing);
    * the formulas may have 50,000 nodes in all, and floats of at most 512 bits of precision.
      Each formula is evaluated by sympy once, as it will be whenever something rebuilds it
      (printing, renaming symbols, ``xreplace``), and every step is checked before it runs
      (:func:`kansr.symbolic.canonical.canonical`): exponents of numbers of at most 1000 in
      magnitude (rational ones of at most 50 digits), exact numbers of at most 4,000 digits
      (100,000 in all), magnitudes of at most ``2**10000``, roots of numbers of at most 100
      digits (1,000 in all) and 200,000 bits of float arguments of functions in all. The
      loaded ``equations_`` hold the evaluated formulas (what kansr saves is evaluated
      already, and comes back equal);
    * ``equations_`` may have 10,000 rows and 64 columns, the network a spline order of at
      most 20, strictly increasing finite knots, and the device ``"cpu"``, ``"cuda"`` or
      ``"cuda:N"``.

    ``MetaKANRegressor.meta_module_`` is not saved and is ``None`` after loading.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InvalidModelFile
        (a :class:`ValueError`) When the file is too large, not valid JSON, not a kansr model
        of a supported format and version, or any field is missing, unknown, of the wrong
        type or shape, not finite where a finite number is needed, or beyond the bounds
        above; the message names the problem.
    """
    return _decode_checked(_read_document(path))


def _decode_checked(doc: Any):
    try:
        return _decode(doc)
    except InvalidModelFile:
        raise
    except RecursionError as exc:
        raise InvalidModelFile("invalid kansr model file: structure nested too deeply") from exc
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
        # defence in depth: every check should already have named the problem
        raise InvalidModelFile(f"invalid kansr model file: {type(exc).__name__}: {exc}") from exc


def _decode(doc: Any):
    _check_keys(doc, "document", _TOP_KEYS)
    fmt = doc["format"]
    if fmt != FORMAT:
        _fail("format", f"expected {FORMAT!r}, got {str(fmt)[:80]!r}")
    version = doc["version"]
    if isinstance(version, bool) or version != VERSION:
        _fail("version", f"unsupported version {str(version)[:40]!r} (this kansr reads {VERSION})")
    _str(doc["kansr_version"], "kansr_version")
    classes = _classes()
    name = _str(doc["class"], "class")
    if name not in classes:
        _fail("class", f"unknown estimator class {name[:80]!r}; expected one of {sorted(classes)}")
    est = classes[name]()
    _decode_params(est, doc["params"])
    attrs = _decode_attributes(doc["attributes"])
    n_features = attrs["n_features_in_"]
    if est.dtype not in DTYPES:  # validated already; keeps the lookup below safe
        _fail("params.dtype", f"unknown dtype {est.dtype!r}")
    module = _decode_module(doc["module"], est, n_features)
    equations = _decode_equations(doc["equations"], n_features)
    _check_selection(est, equations, attrs["selected_index_"])
    for key, value in attrs.items():
        setattr(est, key, value)
    est.module_ = module
    est.equations_ = equations
    if name == "MetaKANRegressor":
        est.meta_module_ = None
    return est


def _check_selection(est, equations: pd.DataFrame | None, index: int | None) -> None:
    """``equations_`` exists exactly when ``symbolic`` is true, and ``selected_index_`` is one
    of its rows (``None`` without it)."""
    if equations is None and est.symbolic:
        _fail("equations", "missing although the estimator was fitted with symbolic=True")
    if equations is not None and not est.symbolic:
        _fail("equations", "present although the estimator was fitted with symbolic=False")
    if equations is None and index is not None:
        _fail("attributes.selected_index_", "must be null without equations")
    if equations is not None:
        if index is None:
            _fail("attributes.selected_index_", "must be an integer with equations")
        if not 0 <= index < len(equations):
            _fail("attributes.selected_index_", f"{index} is not a row of equations_")


def _decode_param_value(value: Any, where: str, depth: int = 0) -> Any:
    if depth > 5:
        _fail(where, "parameter value nested too deeply")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return _str(value, where)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("tuple", "list"):
            items = [_decode_param_value(v, where, depth + 1) for v in _list(inner, where)]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            pairs = _list(inner, where)
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                _fail(where, "a dict parameter must be a list of [text key, value] pairs")
            return {_str(k, where): _decode_param_value(v, where, depth + 1) for k, v in pairs}
        if kind == "float" and inner in ("inf", "-inf", "nan"):
            return float(inner)
    _fail(where, f"unsupported parameter value {str(value)[:80]}")


def _decode_params(est, params: Any) -> None:
    if not isinstance(params, dict):
        _fail("params", f"expected an object, got {_type_name(params)}")
    known = set(est.get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        _fail("params", f"unknown parameter(s) {', '.join(map(repr, unknown))}")
    values = {k: _decode_param_value(v, f"params.{k}") for k, v in params.items()}
    library = values.get("library")
    if library is not None:
        if not isinstance(library, (list, tuple)) or not all(
            isinstance(item, str) for item in library
        ):
            _fail("params.library", "expected a list of function names")
        try:
            make_library(list(library))
        except (ValueError, TypeError) as exc:
            _fail("params.library", str(exc))
    try:
        est.set_params(**values)
        est._validate_params()
        est._hidden_sizes()
        est._mult_sizes()
    except (ValueError, TypeError) as exc:
        _fail("params", str(exc))
    if not isinstance(est.device, str) or not _DEVICE.fullmatch(est.device):
        _fail(
            "params.device",
            f"unsupported device {str(est.device)[:40]!r}; expected 'cpu', 'cuda' or 'cuda:N'",
        )


def _decode_attributes(obj: Any) -> dict:
    where = "attributes"
    _check_keys(obj, where, _ATTRIBUTE_KEYS - _OPTIONAL_ATTRIBUTES, _OPTIONAL_ATTRIBUTES)
    n = _int(obj["n_features_in_"], f"{where}.n_features_in_", 1, 10**7)
    out: dict[str, Any] = {"n_features_in_": n}
    if "feature_names_in_" in obj:
        names = _list(obj["feature_names_in_"], f"{where}.feature_names_in_", n)
        names = [_str(s, f"{where}.feature_names_in_") for s in names]
        out["feature_names_in_"] = np.asarray(names, dtype=object)
    out["x_mean_"] = _array(obj["x_mean_"], f"{where}.x_mean_", (n,), "float64")
    x_scale = _array(obj["x_scale_"], f"{where}.x_scale_", (n,), "float64")
    if np.any(x_scale <= 0):
        _fail(f"{where}.x_scale_", "scales must be positive")
    out["x_scale_"] = x_scale
    out["y_mean_"] = _scalar(obj["y_mean_"], f"{where}.y_mean_")
    y_scale = _scalar(obj["y_scale_"], f"{where}.y_scale_")
    if y_scale <= 0:
        _fail(f"{where}.y_scale_", "scale must be positive")
    out["y_scale_"] = y_scale
    out["n_iter_"] = _int(obj["n_iter_"], f"{where}.n_iter_", 0)
    curve = _array(
        obj["loss_curve_"], f"{where}.loss_curve_", dtype="float64", finite=False, ndim=1
    )
    out["loss_curve_"] = [float(v) for v in curve]
    if "feature_importances_" in obj:
        importances = _array(
            obj["feature_importances_"], f"{where}.feature_importances_", (n,), "float64"
        )
        if np.any(importances < 0):
            _fail(f"{where}.feature_importances_", "must not be negative")
        out["feature_importances_"] = importances
    scores = obj.get("validation_scores_")
    out["validation_scores_"] = (
        None
        if scores is None
        else [
            float(v)
            for v in _array(
                scores, f"{where}.validation_scores_", dtype="float64", finite=False, ndim=1
            )
        ]
    )
    out["stop_reason_"] = _str(obj["stop_reason_"], f"{where}.stop_reason_", _STOP_REASON)
    fit_time = _scalar(obj["fit_time_"], f"{where}.fit_time_")
    if fit_time < 0:
        _fail(f"{where}.fit_time_", "must not be negative")
    out["fit_time_"] = fit_time
    index = obj["selected_index_"]
    out["selected_index_"] = None if index is None else _int(index, f"{where}.selected_index_", 0)
    return out


# the columns the estimators' methods read, and their kinds
_REQUIRED_COLUMNS = (
    ("complexity", "int"),
    ("loss", "float"),
    ("score", "float"),
    ("sympy_format", "expr"),
)


def _decode_equations(obj: Any, n_features: int) -> pd.DataFrame | None:
    if obj is None:
        return None
    where = "equations"
    _check_keys(obj, where, {"n_rows", "columns"})
    n_rows = _int(obj["n_rows"], f"{where}.n_rows", 1, _MAX_ROWS)
    columns = _list(obj["columns"], f"{where}.columns")
    if len(columns) > _MAX_COLUMNS:
        _fail(f"{where}.columns", f"more than {_MAX_COLUMNS} columns")
    budget = _Budget()
    data: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for j, col in enumerate(columns):
        cw = f"{where}.columns[{j}]"
        _check_keys(col, cw, {"name", "kind", "values"})
        name = _str(col["name"], f"{cw}.name")
        if name in data:
            _fail(f"{cw}.name", f"duplicate column {name[:40]!r}")
        kind = _str(col["kind"], f"{cw}.kind")
        if kind not in _COLUMN_KINDS:
            _fail(f"{cw}.kind", f"unknown column kind {kind[:40]!r}")
        kinds[name] = kind
        values = col["values"]
        data[name] = _decode_column(
            kind, values, f"{where}.{name[:40]}", n_rows, n_features, budget
        )
    for required, kind in _REQUIRED_COLUMNS:
        if kinds.get(required) != kind:
            _fail(where, f"missing column {required!r} of kind {kind!r}")
    if not np.all(np.isfinite(data["loss"].to_numpy())):
        _fail(f"{where}.loss", "contains NaN or infinite values where finite numbers are required")
    return EquationTable(pd.DataFrame(data))


def _decode_column(
    kind: str, values: Any, where: str, n_rows: int, n_features: int, budget: _Budget
) -> pd.Series:
    """The values of one column of ``equations_`` of the given kind."""
    if kind == "float":
        return pd.Series(
            _array(values, where, (n_rows,), "float64", finite=False), dtype=np.float64
        )
    values = _list(values, where, n_rows)
    if kind == "int":
        return pd.Series([_int(v, where, *_INT64) for v in values], dtype=np.int64)
    if kind == "str":
        # no dtype: pandas infers the string dtype as it did for the fitted table
        return pd.Series([_str(v, where) for v in values])
    exprs = [
        _decode_formula(v, f"{where}[{r}]", n_features, budget)[1] for r, v in enumerate(values)
    ]
    return pd.Series(exprs, dtype=object)
