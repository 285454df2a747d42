"""Small synthetic data sets for examples and tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DEMO_FORMULA", "make_demo"]

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
