"""Reading a model file and parsing its JSON, both capped before anything is allocated:
at most :data:`~kansr.io.persistence.MAX_FILE_BYTES` bytes, a million JSON values, finite
numbers and no duplicate keys."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from kansr.io.persistence._checks import InvalidModelFile
from kansr.io.persistence._limits import _MAX_JSON_VALUES, _max_file_bytes


def _read_document(path: str | os.PathLike) -> Any:
    """The JSON document of the file at ``path``, read and parsed within the caps."""
    name = os.fspath(path)
    limit = _max_file_bytes()
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > limit:
            raise InvalidModelFile(_too_large(name))
        raw = _read_at_most(fh, limit + 1)  # the size on disk may change, or be 0
    if len(raw) > limit:
        raise InvalidModelFile(_too_large(name))
    return _parse(raw, name)


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
        f"(larger than {_max_file_bytes()} bytes, the most load reads)"
    )


def _parse(raw: bytes, name: str) -> Any:
    """The JSON document of ``raw``; ``InvalidModelFile`` when it is none, or too large."""
    if len(raw) > _max_file_bytes():
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
