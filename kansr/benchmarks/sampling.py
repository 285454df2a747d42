"""Synthetic data: the shipped example and sampling of any function on a box.

* :func:`make_demo`: the shipped example ``exp(sin(pi*x) + y**2)``.
* :func:`make_dataset`: sample any function (a Python callable or a sympy expression) on a box,
  like pykan's ``create_dataset``.

Both draw from ``numpy.random.default_rng(random_state)``; the global random state is never used
or changed. Sympy expressions are evaluated with :func:`kansr.symbolic.expressions.evaluate` (a
tree walk, no generated code); user strings are never parsed. The public module is
:mod:`kansr.benchmarks.datasets`.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
import sympy

from kansr.symbolic.expressions import evaluate

__all__ = ["DEMO_FORMULA", "make_dataset", "make_demo"]

DEMO_FORMULA = "f(x, y) = exp(sin(pi*x) + y**2)"


def make_demo(
    n_samples: int = 1000, random_state: int | np.random.Generator | None = 0
) -> tuple[pd.DataFrame, pd.Series]:
    """The shipped example ``f(x, y) = exp(sin(pi*x) + y**2)`` with ``x, y ~ U(-1, 1)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    random_state : int, numpy Generator or None, default=0
        Seed of ``numpy.random.default_rng``; the global RNG state is never used or changed.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 2)
        Columns ``"x"`` and ``"y"``.
    y : pandas.Series of shape (n_samples,)
        The noiseless target, named ``"f"``.

    Examples
    --------
    >>> X, y = make_demo(5, random_state=0)
    >>> X.shape, list(X.columns), y.name
    ((5, 2), ['x', 'y'], 'f')
    """
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    rng = np.random.default_rng(random_state)
    values = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    X = pd.DataFrame(values, columns=["x", "y"])
    f = np.exp(np.sin(np.pi * values[:, 0]) + values[:, 1] ** 2)
    return X, pd.Series(f, name="f")


# ------------------------------------------------------------------------------ make_dataset
def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, Real):
        raise TypeError(f"noise must be a real number, got {type(noise).__name__}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    return float(noise)


def _check_pair(pair, what: str) -> tuple[float, float]:
    try:
        lo, hi = pair
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (low, high) pair of numbers, got {pair!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{what} must be finite with low < high, got ({lo}, {hi})")
    return lo, hi


def _is_pair(ranges) -> bool:
    """``ranges`` is a single ``(low, high)`` pair of scalars (not a list of pairs)."""
    if isinstance(ranges, (str, bytes, Mapping)):
        return False
    try:
        items = list(ranges)
    except TypeError:
        return False
    return len(items) == 2 and all(np.ndim(v) == 0 for v in items)


def _natural_key(name: str):
    """Sort ``x2`` before ``x10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _positional_arity(func: Callable) -> int | None:
    """Number of required positional parameters of ``func``; ``None`` when it takes ``*args``
    or cannot be inspected (numpy ufuncs report ``nin``)."""
    if isinstance(func, np.ufunc):
        return func.nin
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(
        1
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


def _check_names(names, n_features: int | None) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise TypeError("names must be a sequence of column names, not a single string")
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"names must be unique, got {names}")
    if n_features is not None and len(names) != n_features:
        raise ValueError(f"expected {n_features} names, got {len(names)}: {names}")
    if not names:
        raise ValueError("names must not be empty")
    return names


def make_dataset(
    func,
    ranges=(-1.0, 1.0),
    n_samples: int = 1000,
    n_test: int | None = None,
    noise: float = 0.0,
    random_state: int | np.random.Generator | None = 0,
    as_frame: bool = False,
    names: Sequence[str] | None = None,
    n_features: int | None = None,
):
    """Sample ``y = func(X)`` with every column of ``X`` uniform on its range.

    Like pykan's ``create_dataset``, with a scikit-learn style return value.

    Parameters
    ----------
    func : callable or sympy expression
        * A Python callable taking either the ``(n, n_features)`` array (``f(X)``, pykan
          style) or one ``(n,)`` array per column (``f(x0, x1, ...)``); the second form is
          used when ``n_features > 1`` and ``func`` has exactly ``n_features`` required
          positional parameters (or is a numpy ufunc with that many inputs). With one feature
          ``func`` gets the ``(n, 1)`` array, so elementwise functions (``np.sin``) work too.
          It must return ``n`` values (shape ``(n,)`` or ``(n, 1)``; a scalar is broadcast).
        * A sympy expression: its free symbols are the features, in the order of ``names`` or
          else sorted by name (``x2`` before ``x10``). It is evaluated by a tree walk, never
          compiled. Strings are rejected (``TypeError``): build the expression yourself.
    ranges : (low, high), sequence of (low, high), or mapping name -> (low, high), default=(-1, 1)
        One pair for every feature, or one pair per feature.
    n_samples : int, default=1000
        Number of (training) rows.
    n_test : int or None, default=None
        When positive, also draw this many test rows (independently, same distribution) and
        return ``X_train, X_test, y_train, y_test``.
    noise : float, default=0.0
        Gaussian noise with standard deviation ``noise * RMS(y_train)`` is added to the
        training target only (SRBench's protocol); test targets stay clean.
    random_state : int, numpy Generator or None, default=0
        Seed of ``numpy.random.default_rng``.
    as_frame : bool, default=False
        Return a DataFrame (columns ``names``) and a Series named ``"y"`` instead of arrays.
    names : sequence of str, optional
        Feature names; default the expression's symbol names, or ``x0, x1, ...``.
    n_features : int, optional
        Number of features of a callable when neither ``names`` nor per-feature ``ranges`` say
        it; by default the callable's number of required positional parameters.

    Returns
    -------
    X, y
        ``X (n_samples, n_features)`` and ``y (n_samples,)``; or ``X_train, X_test, y_train,
        y_test`` when ``n_test`` is positive.

    Raises
    ------
    TypeError
        ``func`` is a string or neither callable nor a sympy expression; wrong argument types.
    ValueError
        Inconsistent sizes, invalid ranges, or ``func`` not finite on some of the points.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = make_dataset(lambda x, v: x * v**2, ranges=[(1, 2), (0, 1)], n_samples=4)
    >>> X.shape, y.shape
    ((4, 2), (4,))
    """
    n_samples = _check_count(n_samples, "n_samples", 1)
    n_test = 0 if n_test is None else _check_count(n_test, "n_test", 0)
    noise = _check_noise(noise)
    if n_features is not None:
        n_features = _check_count(n_features, "n_features", 1)
    if isinstance(func, (str, bytes)):
        raise TypeError(
            "func must be a callable or a sympy expression; strings are never parsed "
            "(build the expression with sympy.symbols and operators)"
        )
    if isinstance(func, sympy.Basic):
        names, target = _expression_target(func, ranges, names, n_features)
    elif callable(func):
        names, target = _callable_target(func, ranges, names, n_features)
    else:
        raise TypeError(f"func must be a callable or a sympy expression, got {type(func).__name__}")
    lo, hi = _bounds(ranges, names)
    rng = np.random.default_rng(random_state)
    X_train, y_train = _draw(target, lo, hi, n_samples, rng)
    X_test, y_test = _draw(target, lo, hi, n_test, rng) if n_test else (None, None)
    if noise > 0:
        rms = float(np.sqrt(np.mean(y_train**2)))
        y_train = y_train + rng.normal(0.0, noise * rms, size=n_samples)
    X_train, y_train = _wrap(X_train, y_train, names, as_frame)
    if not n_test:
        return X_train, y_train
    X_test, y_test = _wrap(X_test, y_test, names, as_frame)
    return X_train, X_test, y_train, y_test


def _expression_target(
    func, ranges, names, n_features: int | None
) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """The feature names of a sympy expression and its values on ``X (n, d)`` (a tree walk)."""
    if not isinstance(func, sympy.Expr):
        raise TypeError(f"func must be a sympy expression, got {type(func).__name__}")
    by_name = {s.name: s for s in func.free_symbols}
    if len(by_name) != len(func.free_symbols):
        raise ValueError("the expression has two different symbols with the same name")
    if names is None:
        names = sorted(by_name, key=_natural_key)
        if isinstance(ranges, Mapping):
            names = [n for n in ranges if n in by_name] + [n for n in names if n not in ranges]
        if not names:
            raise ValueError("the expression has no free symbols: pass names")
    names = _check_names(names, n_features)
    missing = sorted(set(by_name) - set(names))
    if missing:
        raise ValueError(f"the expression uses symbols {missing} not in names {names}")
    internal = func.xreplace(
        {by_name[n]: sympy.Symbol(f"x{i}") for i, n in enumerate(names) if n in by_name}
    )

    def target(X: np.ndarray) -> np.ndarray:
        return evaluate(internal, X)

    return names, target


def _callable_features(func: Callable, ranges, names, n_features: int | None):
    """The checked ``names`` (``None`` when nothing names the features) and the number of
    features of a callable: from the names, ``n_features``, one range per feature, or else
    its number of required positional parameters."""
    names = _check_names(names, n_features)
    if names is None and isinstance(ranges, Mapping):
        names = _check_names(list(ranges), n_features)
    if names is not None:
        d = len(names)
    elif n_features is not None:
        d = n_features
    elif not _is_pair(ranges):
        try:
            d = len(ranges)
        except TypeError:
            d = None
    else:
        d = _positional_arity(func)
    if d is None or d < 1:
        raise ValueError(
            "cannot tell the number of features of func: pass n_features, names or one "
            "range per feature"
        )
    return names, d


def _callable_target(
    func: Callable, ranges, names, n_features: int | None
) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """The feature names of a callable and its values on ``X (n, d)``: ``func(X)``, or
    ``func(x0, x1, ...)`` when it takes one positional argument per feature."""
    names, d = _callable_features(func, ranges, names, n_features)
    arity = _positional_arity(func)
    per_column = d > 1 and arity == d
    if d > 1 and arity not in (None, 1, d):
        raise ValueError(
            f"func takes {arity} positional arguments; expected 1 (the array) or "
            f"{d} (one per feature)"
        )

    def target(X: np.ndarray) -> np.ndarray:
        try:
            with np.errstate(all="ignore"):
                out = func(*X.T) if per_column else func(X)
        except IndexError as exc:
            raise ValueError(
                f"func failed on an array of {d} column(s) ({exc}); pass n_features, names "
                "or one range per feature"
            ) from exc
        out = np.asarray(out, dtype=np.float64)
        if out.ndim == 0:
            return np.full(X.shape[0], float(out))
        if out.size != X.shape[0] or (out.ndim == 2 and 1 not in out.shape) or out.ndim > 2:
            raise ValueError(
                f"func must return one value per row ({X.shape[0]},), got shape {out.shape}"
            )
        return out.reshape(-1)

    return (names if names is not None else [f"x{i}" for i in range(d)]), target


def _bounds(ranges, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds ``(d,)`` of the features ``names`` from ``ranges`` (one pair,
    one pair per feature, or a mapping name -> pair)."""
    d = len(names)
    if isinstance(ranges, Mapping):
        unknown = sorted(set(map(str, ranges)) - set(names))
        absent = [n for n in names if n not in ranges]
        if unknown or absent:
            raise ValueError(
                f"ranges keys must be the feature names {names}; unknown {unknown}, "
                f"missing {absent}"
            )
        bounds = [_check_pair(ranges[n], f"range of {n!r}") for n in names]
    elif _is_pair(ranges):
        bounds = [_check_pair(ranges, "ranges")] * d
    else:
        try:
            items = list(ranges)
        except TypeError:
            raise ValueError("ranges must be a (low, high) pair or one per feature") from None
        if len(items) != d:
            raise ValueError(f"got {len(items)} ranges for {d} features {names}")
        bounds = [_check_pair(r, f"range of {n!r}") for r, n in zip(items, names, strict=True)]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def _draw(
    target: Callable[[np.ndarray], np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in the box ``[lo, hi]`` and ``target`` on them, which must be
    finite."""
    X = rng.uniform(lo, hi, size=(n, len(lo)))
    y = target(X)
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(
            f"func is not finite on {int(bad.sum())} of {n} sampled points; "
            "restrict ranges to its domain"
        )
    return X, y


def _wrap(X: np.ndarray, y: np.ndarray, names: list[str], as_frame: bool):
    """``X, y`` as arrays, or as a DataFrame with the columns ``names`` and a Series ``"y"``."""
    if as_frame:
        return pd.DataFrame(X, columns=names), pd.Series(y, name="y")
    return X, y
