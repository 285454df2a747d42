"""Save and load fitted estimators in a data-only JSON format, safe for untrusted files.

``pickle`` and ``joblib`` work on kansr's estimators too, but loading a pickle executes code
chosen by whoever wrote the file: use them for your own, trusted files only. :func:`save` and
:func:`load` write and read a single JSON document that holds only data: the estimator's
parameters, its fitted attributes, the network's tensors (raw little-endian bytes, base64) and
the formulas of ``equations_`` as expression trees. :func:`load` never calls ``pickle``,
``torch.load``, ``eval``, ``exec``, ``sympify`` or ``parse_expr``; it rebuilds

* the estimator from a fixed set of classes (:class:`~kansr.estimators.kan.KANRegressor`,
  :class:`~kansr.estimators.metakan.MetaKANRegressor`) through their own ``set_params``
  and parameter validation,
* the network through the :class:`~kansr.nn.network.KAN` constructor and ``load_state_dict`` of
  tensors whose dtype and shapes are checked against the network's widths,
* every formula from a whitelist of sympy constructors (``Add``, ``Mul``, ``Pow``, numbers,
  ``pi``, ``E``, the internal feature symbols ``x<i>`` and the functions of
  :data:`kansr.symbolic.operations.OPERATIONS`), with every float kept bit for bit.

Safe also means bounded: :func:`load` reads at most :data:`MAX_FILE_BYTES` (64 MiB), and
bounds the formulas' size and the numbers sympy may compute from them later (printing a
formula re-evaluates it), so that neither loading nor the estimator's methods afterwards
can hang or exhaust memory; see :func:`load` for the limits.

Anything unexpected (unknown keys, wrong types or shapes, non-finite numbers where finite
ones are needed, unknown expression nodes, a different format or version, a limit exceeded)
raises :class:`InvalidModelFile`, a :class:`ValueError`, naming the problem.

Not saved: ``MetaKANRegressor.meta_module_`` (the embeddings and meta-learners that generated
the network; prediction, formulas and pruning only need the materialised ``module_``). It is
``None`` after :func:`load`.

The document (format ``"kansr-model"``, version 1) is an object with the keys ``format``,
``version``, ``kansr_version``, ``class``, ``params``, ``attributes``, ``module`` and
``equations``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import sympy
import torch
from sklearn.utils.validation import check_is_fitted

from kansr._version import __version__
from kansr.nn.network import DTYPES, KAN
from kansr.symbolic.canonical import EvaluationBudget, EvaluationLimits, canonical
from kansr.symbolic.library import DEFAULT_FUNCTIONS, SymbolicFunction, make_library
from kansr.symbolic.operations import OPERATIONS, operation

__all__ = ["FORMAT", "MAX_FILE_BYTES", "VERSION", "InvalidModelFile", "load", "save"]

FORMAT = "kansr-model"
VERSION = 1

_NPDTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}

#: Largest model file :func:`load` reads (64 MiB; a network of some 6 million float64
#: coefficients). The size is checked before anything is parsed.
MAX_FILE_BYTES = 64 * 2**20
_MAX_JSON_VALUES = 1_000_000  # commas and opening brackets: bounds what parsing allocates
_MAX_DEPTH = 200  # nesting of one formula
_MAX_NODES = 50_000  # nodes of all formulas together
# what sympy may compute from the formulas as it evaluates them (printing, renaming symbols):
# see kansr.symbolic.canonical.canonical
_LIMITS = EvaluationLimits(
    exponent=1000,  # |exponent| of a power (also c in exp(c*log(b)) = b**c)
    exponent_digits=50,  # digits of a rational exponent
    digits=4000,  # of an exact number (str() of an int allows 4300)
    magnitude_bits=10_000,  # |log2| of the magnitude of a number, floats included
    precision=512,  # bits of a float
    root_digits=100,  # of a number whose root is extracted (a partial factorisation)
)
_FILE_BUDGET = {"digits": 100_000, "root_digits": 1_000, "function_bits": 200_000}
_MAX_ROWS = 10_000  # rows of equations_
_MAX_COLUMNS = 64  # columns of equations_
_MAX_SPLINE_ORDER = 20  # the spline evaluation's exact factorials fit in int64 up to k = 20
_MAX_INT_DIGITS = 1000
_MAX_PREC = _LIMITS.precision  # bits of a Float's precision
_MAX_EXP = 1_000_000  # |binary exponent| of a Float
_MAX_STR = 10_000  # characters of a plain string value
_INT64 = (-(2**63), 2**63 - 1)
_DEVICE = re.compile(r"cpu|cuda(:(0|[1-9][0-9]{0,3}))?")

# sympy's assumption names (the keys of Symbol.assumptions0)
_ASSUMPTIONS = frozenset(
    {
        "algebraic",
        "antihermitian",
        "commutative",
        "complex",
        "composite",
        "even",
        "extended_negative",
        "extended_nonnegative",
        "extended_nonpositive",
        "extended_nonzero",
        "extended_positive",
        "extended_real",
        "finite",
        "hermitian",
        "imaginary",
        "infinite",
        "integer",
        "irrational",
        "negative",
        "noninteger",
        "nonnegative",
        "nonpositive",
        "nonzero",
        "odd",
        "positive",
        "prime",
        "rational",
        "real",
        "transcendental",
        "zero",
    }
)
_REAL_ASSUMPTIONS = sympy.Symbol("x", real=True).assumptions0
_SYMBOL_NAME = re.compile(r"x(0|[1-9][0-9]{0,8})")
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
_HEX_TEXT = re.compile(r"0|[1-9a-f][0-9a-f]*")
_STOP_REASON = re.compile(r"[a-z_]{1,64}")

_TOP_KEYS = {
    "format",
    "version",
    "kansr_version",
    "class",
    "params",
    "attributes",
    "module",
    "equations",
}
_ATTRIBUTE_KEYS = {
    "n_features_in_",
    "feature_names_in_",
    "x_mean_",
    "x_scale_",
    "y_mean_",
    "y_scale_",
    "n_iter_",
    "loss_curve_",
    "validation_scores_",
    "stop_reason_",
    "fit_time_",
    "selected_index_",
}
_OPTIONAL_ATTRIBUTES = {"feature_names_in_", "validation_scores_"}
_MODULE_KEYS = {"width", "k", "base_fun", "dtype", "layers"}
_LAYER_KEYS = {"knots", "mask", "weight", "bias"}
_ARRAY_KEYS = {"dtype", "shape", "data"}
_COLUMN_KINDS = {"int", "float", "str", "expr"}


_CLASSES: dict[str, type] = {}  # filled by the estimator modules as they are defined


def register_estimator(cls: type) -> type:
    """Allow :func:`save` and :func:`load` for the estimator class ``cls`` (by its name).

    The estimator modules register their classes; this module imports none of them, so
    the dependencies point one way (estimators -> io).
    """
    _CLASSES[cls.__name__] = cls
    return cls


def _classes() -> dict[str, type]:
    return dict(_CLASSES)


# ============================================================================ save
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
    hidden = [int(w) for w in module.width[1:-1]]
    try:
        same_hidden = estimator._hidden_sizes() == hidden
    except (ValueError, TypeError):
        same_hidden = False
    if not same_hidden:
        params["hidden_layer_sizes"] = tuple(hidden)
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
    """A parameter value as JSON: scalars as they are, tuples and lists tagged."""
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
            names = []
            for item in value:
                if isinstance(item, SymbolicFunction):
                    if DEFAULT_FUNCTIONS.get(item.name) is not item:
                        raise ValueError(
                            f"cannot save library function {item.name!r}: user-defined "
                            "SymbolicFunction objects are code, not data (use pickle/joblib "
                            "for trusted files)"
                        )
                    item = item.name
                names.append(item)
            value = type(value)(names) if isinstance(value, (list, tuple)) else names
        out[key] = _encode_value(value, key)
    return out


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
    return {
        "width": [int(w) for w in module.width],
        "k": int(first.k),
        "base_fun": str(first.base_fun),
        "dtype": dtype,
        "layers": layers,
    }


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


def encode_expr(expr: sympy.Basic) -> list:
    """A JSON tree of ``expr`` (see :func:`decode_expr`); ``ValueError`` on other nodes."""
    if isinstance(expr, sympy.Symbol):
        if type(expr) is not sympy.Symbol or not _SYMBOL_NAME.fullmatch(expr.name):
            raise ValueError(f"cannot save the symbol {expr!r}: only x<i> symbols are supported")
        # the assumptions as given to the constructor (as srepr shows them); sympy < 1.12
        # lacks them, and the full set rebuilds an equal symbol
        given = getattr(expr, "_assumptions_orig", None)
        given = expr.assumptions0 if given is None else given
        return ["Symbol", expr.name, {str(k): bool(v) for k, v in sorted(given.items())}]
    if isinstance(expr, sympy.Integer):
        return ["Integer", str(int(expr))]
    if isinstance(expr, sympy.Rational):
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    if isinstance(expr, sympy.Float):
        sign, man, exp, _ = expr._mpf_
        if man == 0 and exp != 0:  # mpmath's inf / nan encodings
            raise ValueError(f"cannot save the non-finite float {expr}")
        return ["Float", int(sign), format(int(man), "x"), int(exp), int(expr._prec)]
    if expr is sympy.pi:
        return ["pi"]
    if expr is sympy.E:
        return ["E"]
    if type(expr) is sympy.Add:
        return ["Add", [encode_expr(a) for a in expr.args]]
    if type(expr) is sympy.Mul:
        return ["Mul", [encode_expr(a) for a in expr.args]]
    if type(expr) is sympy.Pow:
        return ["Pow", encode_expr(expr.base), encode_expr(expr.exp)]
    op = operation(type(expr))
    if op is not None and len(expr.args) == 1:
        return ["Function", op.name, [encode_expr(expr.args[0])]]
    raise ValueError(f"cannot save the operation {type(expr).__name__} in a formula: {expr}")


# ============================================================================ load
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
    name = os.fspath(path)
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > MAX_FILE_BYTES:
            raise InvalidModelFile(_too_large(name))
        raw = _read_at_most(fh, MAX_FILE_BYTES + 1)  # the size on disk may change, or be 0
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidModelFile(_too_large(name))
    return _decode_checked(_parse(raw, name))


def _read_at_most(fh, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``fh``, in chunks: memory grows with what is there (one
    ``read(limit)`` would allocate ``limit`` bytes at once)."""
    chunks, total = [], 0
    while total < limit:
        chunk = fh.read(min(2**20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _too_large(name: str) -> str:
    return (
        f"{name!s}: not a kansr model file "
        f"(larger than {MAX_FILE_BYTES} bytes, the most load reads)"
    )


def _parse(raw: bytes, name: str) -> Any:
    """The JSON document of ``raw``; ``InvalidModelFile`` when it is none, or too large."""
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidModelFile(_too_large(name))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidModelFile(f"{name!s}: not a kansr model file (not UTF-8 text)") from exc
    values = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if values > _MAX_JSON_VALUES:
        raise InvalidModelFile(
            f"{name!s}: not a kansr model file (more than {_MAX_JSON_VALUES} JSON values)"
        )
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError as exc:
        raise InvalidModelFile(
            f"{name!s}: not a kansr model file (JSON nested too deeply)"
        ) from exc
    except ValueError as exc:  # json.JSONDecodeError and the hooks' errors
        raise InvalidModelFile(f"{name!s}: not a kansr model file (invalid JSON: {exc})") from exc


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


def _reject_constant(name: str):
    raise ValueError(f"invalid JSON constant {name} (non-finite numbers are not allowed)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of the range of a float")
    return value


def _no_duplicates(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in JSON object")
        out[key] = value
    return out


class InvalidModelFile(ValueError):
    """A file :func:`load` refuses (a :class:`ValueError`): the message names the problem."""


def _fail(where: str, problem: str):
    problem = " ".join(str(problem).split())  # one line, whatever the source message
    raise InvalidModelFile(f"invalid kansr model file: {where}: {problem}")


def _check_keys(obj: Any, where: str, required: set, optional: set = frozenset()) -> dict:
    if not isinstance(obj, dict):
        _fail(where, f"expected an object, got {_type_name(obj)}")
    unknown = sorted(set(obj) - required - optional)
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(map(repr, unknown))}")
    missing = sorted(required - set(obj))
    if missing:
        _fail(where, f"missing key(s) {', '.join(map(repr, missing))}")
    return obj


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _int(value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, f"expected an integer, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        _fail(where, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        _fail(where, f"must be at most {maximum}, got {value}")
    return value


def _str(value: Any, where: str, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str):
        _fail(where, f"expected a string, got {_type_name(value)}")
    if len(value) > _MAX_STR:
        _fail(where, f"string longer than {_MAX_STR} characters")
    if pattern is not None and not pattern.fullmatch(value):
        _fail(where, f"unexpected value {value[:80]!r}")
    return value


def _list(value: Any, where: str, length: int | None = None) -> list:
    if not isinstance(value, list):
        _fail(where, f"expected a list, got {_type_name(value)}")
    if length is not None and len(value) != length:
        _fail(where, f"expected {length} entries, got {len(value)}")
    return value


def _array(
    obj: Any,
    where: str,
    shape: tuple[int, ...] | None = None,
    dtype: str | None = None,
    finite: bool = True,
    ndim: int | None = None,
) -> np.ndarray:
    _check_keys(obj, where, _ARRAY_KEYS)
    kind = _str(obj["dtype"], f"{where}.dtype")
    if kind not in _NPDTYPES:
        _fail(f"{where}.dtype", f"expected one of {sorted(_NPDTYPES)}, got {kind[:40]!r}")
    if dtype is not None and kind != dtype:
        _fail(f"{where}.dtype", f"expected {dtype!r}, got {kind!r}")
    dims = _list(obj["shape"], f"{where}.shape")
    if len(dims) > 8:
        _fail(f"{where}.shape", "too many dimensions")
    dims = tuple(_int(d, f"{where}.shape", 0, 2**40) for d in dims)
    if ndim is not None and len(dims) != ndim:
        _fail(f"{where}.shape", f"expected {ndim} dimension(s), got {list(dims)}")
    if shape is not None and dims != tuple(shape):
        _fail(f"{where}.shape", f"expected {list(shape)}, got {list(dims)}")
    data = obj["data"]
    if not isinstance(data, str):
        _fail(f"{where}.data", f"expected a base64 string, got {_type_name(data)}")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        _fail(f"{where}.data", "not valid base64")
    np_dtype = _NPDTYPES[kind]
    size = math.prod(dims)
    if len(raw) != size * np_dtype.itemsize:
        _fail(
            f"{where}.data",
            f"{len(raw)} bytes do not match shape {list(dims)} of {kind} "
            f"({size * np_dtype.itemsize} bytes)",
        )
    arr = np.frombuffer(raw, dtype=np_dtype).reshape(dims).astype(np_dtype.newbyteorder("="))
    if finite and not np.all(np.isfinite(arr)):
        _fail(where, "contains NaN or infinite values where finite numbers are required")
    return arr


def _scalar(obj: Any, where: str, finite: bool = True) -> float:
    return float(_array(obj, where, shape=(1,), dtype="float64", finite=finite)[0])


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
    if equations is None and est.symbolic:
        _fail("equations", "missing although the estimator was fitted with symbolic=True")
    if equations is not None and not est.symbolic:
        _fail("equations", "present although the estimator was fitted with symbolic=False")
    index = attrs["selected_index_"]
    if equations is None and index is not None:
        _fail("attributes.selected_index_", "must be null without equations")
    if equations is not None:
        if index is None:
            _fail("attributes.selected_index_", "must be an integer with equations")
        if not 0 <= index < len(equations):
            _fail("attributes.selected_index_", f"{index} is not a row of equations_")

    for key, value in attrs.items():
        setattr(est, key, value)
    est.module_ = module
    est.equations_ = equations
    if name == "MetaKANRegressor":
        est.meta_module_ = None
    return est


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


def _decode_module(obj: Any, est, n_features: int):
    where = "module"
    _check_keys(obj, where, _MODULE_KEYS)
    expected = [n_features, *est._hidden_sizes(), 1]
    width = [_int(w, f"{where}.width", 1) for w in _list(obj["width"], f"{where}.width")]
    if width != expected:
        _fail(
            f"{where}.width",
            f"{width} does not match n_features_in_ and hidden_layer_sizes ({expected})",
        )
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
    states = []
    for i, layer in enumerate(layers):
        lw = f"{where}.layers[{i}]"
        _check_keys(layer, lw, _LAYER_KEYS)
        n_in, n_out = width[i], width[i + 1]
        knots = _array(layer["knots"], f"{lw}.knots", dtype=dtype, ndim=2)
        n_knots = knots.shape[1]
        if knots.shape[0] != n_in or n_knots < 2 * k + 2:
            _fail(
                f"{lw}.knots",
                f"shape {list(knots.shape)} does not fit {n_in} inputs and spline order {k}",
            )
        _check_knots(knots, f"{lw}.knots")
        grid = n_knots - 1 - 2 * k
        weight = _array(layer["weight"], f"{lw}.weight", (n_in, grid + k + 1, n_out), dtype)
        mask = _array(layer["mask"], f"{lw}.mask", (n_in, n_out), dtype)
        if not np.all((mask == 0) | (mask == 1)):
            _fail(f"{lw}.mask", "entries must be 0 or 1")
        bias = _array(layer["bias"], f"{lw}.bias", (n_out,), dtype)
        states.append((grid, knots, weight, mask, bias))
    try:
        device = torch.device(est.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        _fail("params.device", f"cannot use device {est.device!r}: {exc}")
    torch_dtype = DTYPES[dtype]
    # the smallest saved grid: the constructor allocates no more than the file holds
    grid = min(state[0] for state in states)
    module = KAN(width, grid=grid, k=k, base_fun=base_fun, dtype=torch_dtype, seed=0)
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
    return module.to(device).eval()


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
        cw = f"{where}.{name[:40]}"
        if kind == "float":
            data[name] = pd.Series(
                _array(col["values"], cw, (n_rows,), "float64", finite=False), dtype=np.float64
            )
            continue
        values = _list(col["values"], cw, n_rows)
        if kind == "int":
            data[name] = pd.Series([_int(v, cw, *_INT64) for v in values], dtype=np.int64)
        elif kind == "str":
            # no dtype: pandas infers the string dtype as it did for the fitted table
            data[name] = pd.Series([_str(v, cw) for v in values])
        else:
            exprs = [
                _decode_formula(v, f"{cw}[{r}]", n_features, budget)[1]
                for r, v in enumerate(values)
            ]
            data[name] = pd.Series(exprs, dtype=object)
    for required, kind in _REQUIRED_COLUMNS:
        if kinds.get(required) != kind:
            _fail(where, f"missing column {required!r} of kind {kind!r}")
    if not np.all(np.isfinite(data["loss"].to_numpy())):
        _fail(f"{where}.loss", "contains NaN or infinite values where finite numbers are required")
    return pd.DataFrame(data)


class _Budget:
    """What the formulas of one file may use together: nodes, and what sympy computes as it
    evaluates them."""

    def __init__(self) -> None:
        self.nodes = 0
        self.evaluation = EvaluationBudget(_LIMITS, **_FILE_BUDGET)


def decode_expr(tree: Any, where: str = "expression", n_features: int | None = None) -> sympy.Expr:
    """Rebuild a sympy expression from the JSON tree of :func:`encode_expr`.

    Only whitelisted node kinds are accepted and each is built with its sympy constructor
    (``evaluate=False``, so the rebuilt tree is the saved one); nothing is parsed or executed.
    Symbols must be ``x<i>`` (with ``i < n_features`` when given). The tree is checked as
    :func:`load` checks formulas (its size, and what sympy computes as it evaluates it);
    :class:`InvalidModelFile` (a ``ValueError``) otherwise.
    """
    return _decode_formula(tree, where, n_features, _Budget())[0]


def _decode_formula(tree: Any, where: str, n_features: int | None, budget: _Budget):
    """The tree as saved, and as sympy evaluates it (checked: see ``canonical``)."""
    expr = _decode_node(tree, where, n_features, 0, budget)
    try:
        evaluated = canonical(expr, budget.evaluation)
    except ValueError as exc:
        _fail(where, f"formula refused: as sympy evaluates it, {exc}")
    return expr, evaluated


def _decode_node(node: Any, where: str, n_features: int | None, depth: int, budget: _Budget) -> Any:
    budget.nodes += 1
    if budget.nodes > _MAX_NODES:
        _fail(where, f"the formulas have more than {_MAX_NODES} nodes in all")
    if depth > _MAX_DEPTH:
        _fail(where, f"formula nested deeper than {_MAX_DEPTH}")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        _fail(where, f"expected an expression node [kind, ...], got {str(node)[:80]}")
    kind, args = node[0], node[1:]

    def children(items: Any, minimum: int) -> list:
        items = _list(items, where)
        if len(items) < minimum:
            _fail(where, f"{kind} needs at least {minimum} arguments, got {len(items)}")
        return [_decode_node(c, where, n_features, depth + 1, budget) for c in items]

    def arity(n: int) -> None:
        if len(args) != n:
            _fail(where, f"{kind} node needs {n} field(s), got {len(args)}")

    if kind == "Symbol":
        arity(2)
        name = _str(args[0], where)
        if not _SYMBOL_NAME.fullmatch(name):
            _fail(where, f"symbol {name[:40]!r} is not an internal feature symbol x<i>")
        if n_features is not None and int(name[1:]) >= n_features:
            _fail(where, f"symbol {name} refers to a feature beyond the {n_features} inputs")
        assumptions = args[1]
        if not isinstance(assumptions, dict) or not all(
            key in _ASSUMPTIONS and isinstance(val, bool) for key, val in assumptions.items()
        ):
            _fail(where, f"invalid assumptions of symbol {name}")
        try:
            symbol = sympy.Symbol(name, **assumptions)
        except ValueError:  # sympy's InconsistentAssumptions
            _fail(where, f"inconsistent assumptions of symbol {name}")
        # kansr's symbols are real; others (positive, integer, ...) make sympy's evaluation
        # ask questions that can take long (the real roots of a polynomial in the symbol)
        if symbol.assumptions0 != _REAL_ASSUMPTIONS:
            _fail(where, f"symbol {name} is not real (only real=True symbols are supported)")
        return symbol
    if kind == "Integer":
        arity(1)
        return sympy.Integer(_int_text(args[0], where))
    if kind == "Rational":
        arity(2)
        p, q = _int_text(args[0], where), _int_text(args[1], where)
        if q <= 0:
            _fail(where, f"Rational denominator must be positive, got {q}")
        return sympy.Rational(p, q)
    if kind == "Float":
        arity(4)
        sign = _int(args[0], where, 0, 1)
        man_text = _str(args[1], where)
        if len(man_text) > _MAX_PREC // 4 + 1 or not _HEX_TEXT.fullmatch(man_text):
            _fail(where, f"invalid Float mantissa {man_text[:40]!r}")
        exp = _int(args[2], where, -_MAX_EXP, _MAX_EXP)
        prec = _int(args[3], where, 1, _MAX_PREC)
        man = int(man_text, 16)
        if man == 0:
            if sign or exp:
                _fail(where, "invalid Float: non-finite or malformed zero")
            return sympy.Float(0.0, precision=prec)
        if man.bit_length() > prec:
            _fail(where, "Float mantissa is longer than its precision")
        return sympy.Float((sign, man, exp), precision=prec)
    if kind in ("pi", "E"):
        arity(0)
        return sympy.pi if kind == "pi" else sympy.E
    if kind in ("Add", "Mul"):
        arity(1)
        cls = sympy.Add if kind == "Add" else sympy.Mul
        return cls(*children(args[0], 2), evaluate=False)
    if kind == "Pow":
        arity(2)
        base, exponent = children(list(args), 2)
        return sympy.Pow(base, exponent, evaluate=False)
    if kind == "Function":
        arity(2)
        fname = args[0]
        if not isinstance(fname, str) or fname not in OPERATIONS:
            _fail(where, f"function {str(fname)[:60]!r} is not one of {sorted(OPERATIONS)}")
        if len(_list(args[1], where)) != 1:
            _fail(where, f"function {fname} takes exactly one argument")
        (arg,) = children(args[1], 1)
        return OPERATIONS[fname].sympy_cls(arg, evaluate=False)
    _fail(where, f"unknown expression node {kind[:60]!r}")


def _int_text(text: Any, where: str) -> int:
    value = _str(text, where)
    if len(value) > _MAX_INT_DIGITS or not _INT_TEXT.fullmatch(value):
        _fail(where, f"invalid integer text {value[:40]!r}")
    return int(value)
