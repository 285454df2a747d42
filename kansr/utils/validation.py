"""Input checks of the estimators: numeric columns named when they are not, one target
column, magnitudes float64 formulas can handle, and overflow-safe standardisation."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import validate_data

_MAX_MAGNITUDE = 1e100  # |values| above this overflow squared errors and powers in float64
_MIN_SPREAD = 1e-100  # a non-constant column varying less than this underflows them
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)  # 2.2e-308: below, floats are subnormal
_SMALLEST_SUBNORMAL = 5e-324
_CONSTANT_ULPS = 4  # a column whose spread is at most this many ulps of its magnitude is constant


def standard_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means, standard deviations (1 where a column is constant) and the constant
    columns' mask, for ``values (n_samples, n_columns)``, in float64.

    A column is constant when its spread (max - min) is at most a few units in the last place
    of its largest magnitude, i.e. when its values differ only by rounding: ``1e12 + x`` varies
    and is not constant, however large its offset. The statistics are computed on the column
    scaled by a power of two (exact) and centred on its median, then scaled by a power of two
    again, so that neither huge values (squares overflow), tiny ones (squares underflow) nor a
    large offset (the spread drowned in the magnitude) breaks them.
    """
    mean, std, constant = _column_statistics(values)
    return mean, np.where(constant | (std == 0), 1.0, std), constant


def _column_statistics(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`standard_scale`'s means, standard deviations as computed (0 when a varying
    column's deviation underflows) and constant mask."""
    values = np.asarray(values, dtype=np.float64)
    unit, e_values = _unit_scaled(values)  # |unit| < 1
    centre = np.median(unit, axis=0)
    deviation, e_dev = _unit_scaled(unit - centre)  # exact for values within 2x of the centre
    mean = np.ldexp(centre + np.ldexp(deviation.mean(axis=0), e_dev), e_values)
    std = np.ldexp(deviation.std(axis=0), e_values + e_dev)
    constant = np.ptp(unit, axis=0) <= _CONSTANT_ULPS * np.spacing(np.abs(unit).max(axis=0))
    return mean, std, constant


def _unit_scaled(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` times a power of two per column (exact) so that the largest magnitude is in
    [0.5, 1), and the exponents ``e`` (``values = unit * 2**e``); 0 for an all-zero column."""
    _, exponent = np.frexp(np.abs(values).max(axis=0))
    return np.ldexp(values, -exponent), exponent


def _column_names(X, n_columns: int) -> list[str]:
    columns = getattr(X, "columns", None)
    if columns is not None and len(columns) == n_columns:
        return [repr(c) for c in columns]
    return [f"x{i}" for i in range(n_columns)]


def _non_numeric_columns(X) -> list[str]:
    """Columns of ``X`` (DataFrame or 2-D array-like) that do not convert to float, each as
    ``name (dtype, e.g. first bad value)``."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2:  # pandas DataFrame
        columns = [X.iloc[:, j] for j in range(X.shape[1])]
    else:
        try:
            values = np.asarray(X, dtype=object)
        except (TypeError, ValueError):
            return []
        if values.ndim != 2:
            return []
        columns = list(values.T)
    bad = []
    for name, column in zip(_column_names(X, len(columns)), columns, strict=True):
        try:
            np.asarray(column, dtype=np.float64)
        except (TypeError, ValueError):
            example = next((v for v in np.asarray(column, dtype=object) if not _is_number(v)), "")
            dtype = getattr(column, "dtype", np.asarray(column).dtype)
            bad.append(f"{name} (dtype {dtype}, e.g. {example!r})")
    return bad


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def validate_input(estimator, X, y="no_validation", **kwargs):
    """:func:`validate_data` whose conversion errors name the non-numeric columns of ``X``
    and whose errors about ``y`` say that one numeric target column is expected."""
    target = not (isinstance(y, str) and y == "no_validation")
    if target and y is not None:
        shape = getattr(y, "shape", None)
        if not isinstance(shape, tuple):
            try:
                shape = np.asarray(y, dtype=object).shape
            except (TypeError, ValueError):  # validate_data says what is wrong
                shape = ()
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise ValueError(
                f"{type(estimator).__name__} fits one target column, but y has shape {shape}; "
                "fit one estimator per output (e.g. "
                "sklearn.multioutput.MultiOutputRegressor) or pass a 1-D y"
            )
    try:
        out = validate_data(estimator, X, y, **kwargs)
    except (TypeError, ValueError) as exc:
        if "could not convert" not in str(exc) and "numeric" not in str(exc):
            raise  # (sparse input, NaN, shapes: validate_data's message says it)
        bad = _non_numeric_columns(X)
        if bad:
            raise ValueError(
                f"{type(estimator).__name__} needs numeric features; column(s) "
                f"{', '.join(bad)} of X are not numeric: encode them as numbers (e.g. "
                f"sklearn.preprocessing.OneHotEncoder) or drop them ({exc})"
            ) from exc
        if target and y is not None:
            _numeric_target(estimator, y)
        raise
    if not target:
        return out
    return out[0], _finite_target(estimator, _numeric_target(estimator, out[1]), y)


def _numeric_target(estimator, y) -> np.ndarray:
    """``y`` as float64, or a ValueError saying that it must be numeric."""
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{type(estimator).__name__} needs a numeric target y (one float per sample): {exc}"
        ) from exc


def _finite_target(estimator, values: np.ndarray, original) -> np.ndarray:
    """``values`` (``y`` as float64), or a ValueError saying that ``y`` has missing
    (``None``, NaN, ``"nan"``: sklearn converts an object ``y`` without checking them) or
    infinite values, showing the first as given in ``original`` (``y`` as passed)."""
    if np.isfinite(values).all():
        return values
    flat = values.ravel()
    missing = np.isnan(flat)
    bad = missing if missing.any() else ~np.isfinite(flat)
    rows = np.flatnonzero(bad)
    example = _given_value(original, int(rows[0]), flat.size, default=float(flat[rows[0]]))
    name = type(estimator).__name__
    if missing.any():
        raise ValueError(
            f"y has {rows.size} missing or NaN value(s) (e.g. row {rows[0]}: {example!r}); "
            f"{name} needs a finite target for every sample: drop those rows or fill them in "
            "(e.g. sklearn.impute.SimpleImputer)"
        )
    raise ValueError(
        f"y has {rows.size} infinite value(s) (e.g. row {rows[0]}: {example!r}); {name} "
        "needs a finite target for every sample: drop those rows or replace the infinities"
    )


def _given_value(original, index: int, size: int, default: float):
    """Element ``index`` of the flattened ``original`` (``y`` as passed, ``size`` elements),
    as a plain Python value; ``default`` when it cannot be read."""
    try:
        flat = np.asarray(original, dtype=object).ravel()
    except (TypeError, ValueError):
        return default
    if flat.size != size:
        return default
    value = flat[index]
    return value.item() if isinstance(value, np.generic) else value


def check_magnitudes(X: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """ValueError when values are not finite, too large, or vary too little for float64
    formulas."""
    for what, values, labels in (("X", X, names), ("y", y[:, None], ["y"])):
        values = np.asarray(values, dtype=np.float64)
        for j in np.flatnonzero(~np.isfinite(values).all(axis=0)):
            column = values[:, j]
            kind = "NaN (missing)" if np.isnan(column).any() else "infinite"
            raise ValueError(
                f"{labels[j]} has {kind} values (e.g. row {_first_bad_row(column)}); kansr "
                f"needs finite values: drop those rows or fill them in"
            )
        peak = np.abs(values).max(axis=0)
        _, std, constant = _column_statistics(values)
        for j in np.flatnonzero(peak > _MAX_MAGNITUDE):
            raise ValueError(
                f"{labels[j]} has values up to {peak[j]:.3g} in magnitude; kansr's formulas "
                f"are computed in float64, where squares of values beyond {_MAX_MAGNITUDE:g} "
                f"overflow: rescale {what} (e.g. divide that column by {peak[j]:.0e})"
            )
        for j in np.flatnonzero(~constant & (std < _MIN_SPREAD)):
            raise ValueError(_tiny_spread_message(labels[j], what, values[:, j], std[j]))


def _first_bad_row(column: np.ndarray) -> str:
    row = int(np.flatnonzero(~np.isfinite(column))[0])
    return f"{row}: {column[row]}"


def _tiny_spread_message(label: str, what: str, column: np.ndarray, std: float) -> str:
    """Why a varying column whose standard deviation ``std`` is below ``_MIN_SPREAD`` cannot
    be used, and by what power of ten to multiply it."""
    spread = float(np.max(column) - np.min(column))
    if spread >= _SMALLEST_NORMAL:
        factor = f"1e{math.ceil(-math.log10(max(std, _SMALLEST_SUBNORMAL))):+d}"
        return (
            f"{label} varies only by about {std:.3g}; kansr's formulas are computed in "
            f"float64, where squares of differences below {_MIN_SPREAD:g} underflow: rescale "
            f"{what} (e.g. multiply that column by {factor})"
        )
    factor = f"1e{math.ceil(-math.log10(max(spread, _SMALLEST_SUBNORMAL))):+d}"
    return (
        f"{label} varies only by about {spread:.3g}, a spread too small to represent in "
        f"float64: numbers below {_SMALLEST_NORMAL:.3g} are subnormal and keep only a few "
        f"digits; rescale {what} (e.g. multiply that column by {factor}, in steps since "
        f"float64 ends near 1e308) or drop the column if it should be constant"
    )


def feature_names(estimator) -> list[str]:
    """The fitted ``estimator``'s column names (``feature_names_in_``), else ``x0 ..``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(estimator.n_features_in_)]
