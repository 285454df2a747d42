"""What a fitted estimator gives back: the formulas (sympy, LaTeX, text, numpy, torch), their
constants with standard errors, predictions, plots and the saved file.

A mixin of :class:`~kansr.estimators.kan.KANRegressor`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import sympy
import torch
from sklearn.utils.validation import check_is_fitted

from kansr.io import export, persistence, plotting
from kansr.symbolic.expressions import evaluate
from kansr.symbolic.names import formula_latex
from kansr.symbolic.pareto import rename
from kansr.symbolic.uncertainty import fitted_constants
from kansr.utils.validation import validate_input

__all__ = ["FormulaOutputs"]


class FormulaOutputs:
    """Formulas, constants, predictions, plots and persistence of a fitted estimator."""

    def constants(self, index: int | None = None) -> pd.DataFrame:
        """The fitted constants of the selected formula (or row ``index`` of ``equations_``)
        with their standard errors on the training data, one row per constant.

        Columns ``value``, ``std_error`` (from the Jacobian at the optimum: ``s^2 (J^T
        J)^-1`` with the residual variance ``s^2``, as ``scipy.optimize.curve_fit`` reports
        them; ``nan`` when they cannot be estimated, ``inf`` when the data do not determine
        the constant) and ``relative_error``; rows in the order of the values. Integers and
        fractions of a formula (snapped constants, exponents) are exact and not listed.
        """
        row = self._row(index)
        expr = self.equations_["sympy_format"].iloc[row]
        values = [float(c) for c in fitted_constants(expr)]
        text = self.equations_["std_errors"].iloc[row] if "std_errors" in self.equations_ else ""
        errors = [float(e) for e in text.split(",")] if text else [math.nan] * len(values)
        if len(errors) != len(values):
            errors = [math.nan] * len(values)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.abs(np.array(errors) / np.array(values)) if values else []
        return pd.DataFrame({"value": values, "std_error": errors, "relative_error": relative})

    @property
    def constants_(self) -> pd.DataFrame:
        """:meth:`constants` of the selected formula."""
        return self.constants()

    def _row(self, index: int | None) -> int:
        check_is_fitted(self)
        if self.equations_ is None:
            raise ValueError("no formulas: this estimator was fitted with symbolic=False")
        return self.selected_index_ if index is None else index

    def sympy_expr(self, index: int | None = None) -> sympy.Expr:
        """The selected formula (or row ``index`` of ``equations_``) in the feature names.

        Each feature is a real symbol named exactly as its column (``"mass (kg)"`` too: any
        string is a sympy symbol name). :meth:`formula_text` writes the formula in safe
        identifiers that ``sympy.parse_expr`` reads back (``"mass (kg)"`` -> ``mass_kg``,
        ``"pi"`` -> ``pi_``; :func:`kansr.io.export.symbol_names` maps them to the columns).
        """
        row = self._row(index)
        return rename(self.equations_["sympy_format"].iloc[row], self._feature_names())

    def latex(self, index: int | None = None) -> str:
        r"""LaTeX of :meth:`sympy_expr`, each feature printed by its column name: single
        letters as they are, Greek letters' names as the letters (but a column ``pi`` as
        ``\mathrm{pi}``, not the constant), other names as ``\mathrm{...}`` (see
        :func:`kansr.symbolic.names.latex_name`)."""
        row = self._row(index)
        return formula_latex(self.equations_["sympy_format"].iloc[row], self._feature_names())

    def latex_table(self, index=None, precision: int = 3) -> str:
        """The Pareto front (``index``: rows to include, ``None``: all) as a booktabs LaTeX
        ``tabular``; the selected formula is starred. See :func:`kansr.io.export.latex_table`."""
        return export.latex_table(self, index, precision=precision)

    def to_numpy(self, index: int | None = None):
        """The selected formula (or row ``index``) as a picklable numpy callable
        ``f(X) -> (n_samples,)``. See :func:`kansr.io.export.to_numpy`."""
        return export.to_numpy(self, index)

    def to_torch(self, index: int | None = None) -> torch.nn.Module:
        """The selected formula (or row ``index``) as a ``torch.nn.Module`` mapping
        ``(batch, n_features)`` to ``(batch,)``, its constants trainable parameters. See
        :func:`kansr.io.export.to_torch`."""
        return export.to_torch(self, index)

    def formula_text(self, index: int | None = None) -> str:
        """The selected formula (or row ``index``) as sympy-parsable text in the feature names,
        constants at full precision. See :func:`kansr.io.export.formula_text`."""
        return export.formula_text(self, index)

    def predict(self, X) -> np.ndarray:
        """Predicted targets ``(n_samples,)`` in the units of the training target.

        With ``symbolic=True`` this evaluates the selected formula (rows where it is not
        finite, e.g. outside its domain, fall back to the network with a warning); otherwise
        the network. :meth:`predict_network` always uses the network.
        """
        check_is_fitted(self)
        X = validate_input(self, X, dtype=[np.float64, np.float32], reset=False)
        if self.equations_ is None:
            return self._predict_network(X)
        expr = self.equations_["sympy_format"].iloc[self.selected_index_]
        out = evaluate(expr, np.ascontiguousarray(X, dtype=np.float64))
        bad = ~np.isfinite(out)
        if bad.any():
            warnings.warn(
                f"the selected formula is not finite on {int(bad.sum())} of {len(out)} rows; "
                "the network predicts those rows",
                RuntimeWarning,
                stacklevel=2,
            )
            out[bad] = self._predict_network(np.asarray(X)[bad])
        return out

    def predict_network(self, X) -> np.ndarray:
        """Predictions ``(n_samples,)`` of the trained network (not of a formula)."""
        check_is_fitted(self)
        X = validate_input(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._predict_network(X)

    def plot(self, X=None, **kwargs):
        """Picture of the trained network (needs matplotlib: ``pip install kansr[plot]``).

        Every active edge is an inset with the shape of its learned function, faded by its
        importance; pruned edges are not drawn; the title is the selected formula. Pass the
        training ``X`` to show each edge over the range of its inputs on those data. See
        :func:`kansr.io.plotting.plot_network` for the keyword arguments.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return plotting.plot_network(self, X, **kwargs)

    def plot_pareto(self, **kwargs):
        """Complexity against loss of ``equations_``, the selected formula highlighted.

        See :func:`kansr.io.plotting.plot_pareto`. Returns a ``matplotlib.figure.Figure``.
        """
        return plotting.plot_pareto(self, **kwargs)

    def plot_parity(self, X, y, **kwargs):
        """Predicted against true ``y`` with the line ``y = x`` and R² in the title.

        See :func:`kansr.io.plotting.plot_parity`. Returns a ``matplotlib.figure.Figure``.
        """
        return plotting.plot_parity(self, X, y, **kwargs)

    def suggest(self, edge: tuple[int, int, int], X=None, top: int = 5) -> pd.DataFrame:
        """The library functions that best match one edge of the trained network (pykan's
        ``suggest_symbolic``): a table, best first, with ``function``, ``formula`` (in the
        feature's name and units on the first layer; ``h{i}`` for hidden node ``i``), the
        constants ``a, b, c, d`` of ``c*f(a*x + b) + d``, ``r2`` and ``complexity``.

        Parameters
        ----------
        edge : (layer, i, o)
            The edge from input ``i`` of ``layer`` to its output ``o`` (``plot`` draws them).
        X : array-like of shape (n_samples, n_features), optional
            Where to sample the edge (the training data are best); default: random points in
            the range of the first layer's grid.
        top : int, default=5
            How many candidates.

        Raises
        ------
        ValueError
            For an edge outside the network or one that pruning removed.
        """
        from kansr.io.plotting import network_inputs
        from kansr.symbolic.library import make_library
        from kansr.symbolic.suggest import suggest_edge

        check_is_fitted(self)
        level, i = int(edge[0]), int(edge[1])
        first = level == 0 and 0 <= i < len(self.x_mean_)
        names = self._feature_names()
        return suggest_edge(
            self.module_,
            network_inputs(self, X),
            edge,
            make_library(None if self.library is None else list(self.library)),
            top=top,
            input_name=names[i] if first else None,
            x_mean=float(self.x_mean_[i]) if first else 0.0,
            x_scale=float(self.x_scale_[i]) if first else 1.0,
        )

    def _predict_network(self, X) -> np.ndarray:
        z = (np.ascontiguousarray(X, dtype=np.float64) - self.x_mean_) / self.x_scale_
        out = np.empty(z.shape[0], dtype=np.float64)
        with torch.no_grad():
            for begin in range(0, z.shape[0], 4096):
                chunk = self._torch(z[begin : begin + 4096])
                out[begin : begin + 4096] = self.module_(chunk)[:, 0].double().cpu().numpy()
        return out * self.y_scale_ + self.y_mean_

    def save(self, path) -> None:
        """Write the fitted estimator to ``path`` in kansr's data-only JSON format.

        Read it back with :func:`kansr.load`. ``pickle``/``joblib`` also work but execute code
        when loading (trusted files only); this format holds only data and is safe to load
        from untrusted sources. See :mod:`kansr.io.persistence`.
        """
        persistence.save(self, path)
