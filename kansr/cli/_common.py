"""What the commands share: the error for a bad command line, argparse types, CSV reading."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np

PROG = "kansr"


class UsageError(Exception):
    """A problem with the command line found after parsing (exit code 2)."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def _positive_float(text: str) -> float:
    """An argparse ``type`` accepting finite numbers ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    """argparse type: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _nonzero_int(text: str) -> int:
    """argparse type: an integer other than 0 (joblib's ``n_jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 workers: use a positive number, or -1 for all cores")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    """An argparse ``type`` for comma-separated positive integers, e.g. ``5`` or ``8,4``."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"layer widths must be at least 1, got {text!r}")
    return values


def _read_csv(path: str):
    """The CSV at ``path`` as a DataFrame with at least one row; :class:`UsageError` else."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read {path} as CSV: {message}") from None
    if frame.empty:
        raise UsageError(f"{path} has no data rows")
    return frame


def _numeric(frame, columns: Sequence[str], path: str):
    """``frame[columns]`` as float64; names the non-numeric columns and those with gaps."""
    import pandas as pd

    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise UsageError(f"non-numeric column(s) in {path}: {', '.join(bad)}")
    data = frame[list(columns)].astype("float64")
    missing = [c for c in columns if not np.all(np.isfinite(data[c].to_numpy()))]
    if missing:
        raise UsageError(f"missing or infinite values in column(s) of {path}: {', '.join(missing)}")
    return data
