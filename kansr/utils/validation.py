"""Input checks of the estimators: numeric columns named when they are not, one target
column, magnitudes float64 formulas can handle, and overflow-safe standardisation."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import validate_data

_MAX_MAGNITUDE = 1e100  # |values| above this overflow squared errors and powers in float64
_MIN_SPREAD = 1e-100  # a non-constant column varying less than this underflows them


def standard_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means, standard deviations (1 where a column is constant) and the constant
    columns' mask, for ``values (n_samples, n_columns)``.

    Computed on the columns divided by their largest magnitude, so that neither huge values
    (squares overflow) nor tiny ones (squares underflow) break it; a column is constant when
    its spread is below 1e-12 of its largest magnitude (rounding level).
    """
    peak = np.abs(values).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    unit = values / peak
    mean, std = unit.mean(axis=0) * peak, unit.std(axis=0)
    constant = std <= 1e-12
    return mean, np.where(constant, 1.0, std * peak), constant


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
    return out[0], _numeric_target(estimator, out[1])


def _numeric_target(estimator, y) -> np.ndarray:
    """``y`` as float64, or a ValueError saying that it must be numeric."""
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{type(estimator).__name__} needs a numeric target y (one float per sample): {exc}"
        ) from exc


def check_magnitudes(X: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """ValueError when values are too large or vary too little for float64 formulas."""
    for what, values, labels in (("X", X, names), ("y", y[:, None], ["y"])):
        peak = np.abs(values).max(axis=0)
        _, std, constant = standard_scale(values)
        for j in np.flatnonzero(peak > _MAX_MAGNITUDE):
            raise ValueError(
                f"{labels[j]} has values up to {peak[j]:.3g} in magnitude; kansr's formulas "
                f"are computed in float64, where squares of values beyond {_MAX_MAGNITUDE:g} "
                f"overflow: rescale {what} (e.g. divide that column by {peak[j]:.0e})"
            )
        for j in np.flatnonzero(~constant & (std < _MIN_SPREAD)):
            raise ValueError(
                f"{labels[j]} varies only by about {std[j]:.3g}; kansr's formulas are computed "
                f"in float64, where squares of differences below {_MIN_SPREAD:g} underflow: "
                f"rescale {what} (e.g. multiply that column by {1 / std[j]:.0e})"
            )


def feature_names(estimator) -> list[str]:
    """The fitted ``estimator``'s column names (``feature_names_in_``), else ``x0 ..``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(estimator.n_features_in_)]
