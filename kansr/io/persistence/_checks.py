"""The validation helpers of :func:`~kansr.io.persistence.load`: :class:`InvalidModelFile`, and
checks of the JSON values (objects and their keys, integers, strings, lists, tensors) that name
the problem and its place in the file."""

from __future__ import annotations

import base64
import math
import re
from typing import Any

import numpy as np

from kansr.io.persistence._limits import _ARRAY_KEYS, _MAX_STR, _NPDTYPES


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
