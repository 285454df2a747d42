"""Export the formulas of a fitted estimator: a LaTeX table, numpy and torch callables, text.

Every function takes a fitted :class:`kansr.KANRegressor` (or :class:`kansr.MetaKANRegressor`)
and ``index``, a row of its ``equations_`` table (``None``: the selected formula), like
:meth:`~kansr.KANRegressor.sympy_expr`. The callables evaluate the formula by walking its
expression tree (:mod:`kansr.symbolic.expressions`); no code is generated, compiled or
executed, and no string is ever parsed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np
import pandas as pd
import sympy
import torch
from sklearn.utils.validation import check_is_fitted

from kansr.symbolic.expressions import TorchFormula, evaluate
from kansr.symbolic.names import formula_latex, name_map, named_expr
from kansr.utils.validation import feature_names

__all__ = [
    "NumpyFormula",
    "TorchExport",
    "formula_text",
    "latex_table",
    "symbol_names",
    "to_numpy",
    "to_torch",
]

_NO_FORMULAS = "no formulas: this estimator was fitted with symbolic=False"


def _table(est) -> pd.DataFrame:
    check_is_fitted(est)
    if getattr(est, "equations_", None) is None:
        raise ValueError(_NO_FORMULAS)
    return est.equations_


def _row(est, index) -> int:
    """Position in ``equations_`` of ``index`` (``None``: the selected formula)."""
    table = _table(est)
    if index is None:
        return int(est.selected_index_)
    if isinstance(index, bool) or not isinstance(index, Integral):
        raise TypeError(f"index must be an integer or None, got {type(index).__name__}")
    n = len(table)
    if not -n <= index < n:
        raise IndexError(f"index {index} out of range: equations_ has {n} rows")
    return int(index) % n


def _internal_expr(est, index) -> sympy.Expr:
    """Formula ``index`` in the internal symbols ``x0 ..`` (column ``i`` is ``x{i}``)."""
    row = _row(est, index)  # checks fitted and symbolic first
    return est.equations_["sympy_format"].iloc[row]


# ---------------------------------------------------------------------------- LaTeX table
def _latex_number(value: float, precision: int) -> str:
    if math.isnan(value):
        return "---"
    if math.isinf(value):
        return r"$\infty$" if value > 0 else r"$-\infty$"
    text = f"{value:.{precision}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"${mantissa} \times 10^{{{int(exponent)}}}$"
    return text


def _round_floats(expr: sympy.Expr, precision: int) -> sympy.Expr:
    floats = expr.atoms(sympy.Float)
    return expr.xreplace({f: sympy.Float(float(f), precision) for f in floats}) if floats else expr


def latex_table(est, index=None, precision: int = 3) -> str:
    r"""The Pareto front as a LaTeX ``tabular`` (booktabs style, like PySR's ``latex_table``).

    Columns Equation (in the feature names, in ``$...$``), Complexity, Loss and Score; the
    selected formula is marked with :math:`\star`. Needs ``\usepackage{booktabs}``.

    Parameters
    ----------
    est : fitted KANRegressor
    index : int, sequence of int or None, default=None
        Rows of ``equations_`` to include (``None``: all rows).
    precision : int, default=3
        Significant digits of the constants in the equations, of the loss and of the score.

    Returns
    -------
    str
    """
    table = _table(est)
    if isinstance(precision, bool) or not isinstance(precision, Integral) or precision < 1:
        raise ValueError(f"precision must be a positive integer, got {precision!r}")
    if index is None:
        rows = list(range(len(table)))
    elif not isinstance(index, (str, bytes)) and np.ndim(index) == 1:
        rows = [_row(est, i) for i in np.asarray(index).tolist()]
    else:
        rows = [_row(est, index)]
    names = feature_names(est)
    selected = int(est.selected_index_)
    lines = [
        r"\begin{tabular}{@{}lccc@{}}",
        r"\toprule",
        r"Equation & Complexity & Loss & Score \\",
        r"\midrule",
    ]
    for row in rows:
        expr = _round_floats(table["sympy_format"].iloc[row], precision)
        equation = f"${formula_latex(expr, names)}$"
        if row == selected:
            equation += r" $\star$"
        cells = [
            equation,
            str(int(table["complexity"].iloc[row])),
            _latex_number(float(table["loss"].iloc[row]), precision),
            _latex_number(float(table["score"].iloc[row]), precision),
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- numpy
def _as_matrix(X, names: list[str], named: bool) -> np.ndarray:
    """``X`` as a float64 ``(n, len(names))`` array; DataFrames are matched by column name
    when the estimator was fitted with feature names."""
    if isinstance(X, pd.DataFrame):
        if named:
            missing = [n for n in names if n not in X.columns]
            if missing:
                raise ValueError(
                    f"X lacks the feature columns {missing}; expected the columns {names}"
                )
            X = X[names]
        X = X.to_numpy(dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array (n_samples, {len(names)}), got {X.ndim}-D")
    if X.shape[1] != len(names):
        raise ValueError(
            f"X has {X.shape[1]} features, but the formula expects {len(names)} ({names})"
        )
    return X


class NumpyFormula:
    """A formula as a plain, picklable callable ``f(X) -> ndarray (n_samples,)``.

    ``X`` is a 2-D array with the estimator's feature columns in training order, or a DataFrame
    (matched by column name when the estimator was fitted on one). Values outside the
    formula's domain are NaN (unlike ``predict``, there is no network to fall back to).

    Attributes
    ----------
    expr : sympy.Expr
        The formula in the internal symbols ``x0 ..``.
    feature_names : list of str
    """

    def __init__(self, expr: sympy.Expr, feature_names: Sequence[str], named: bool = True):
        self.expr = expr
        self.feature_names = list(feature_names)
        self.named = named

    @property
    def sympy_expr(self) -> sympy.Expr:
        """The formula in the feature names (as :func:`symbol_names` makes them safe)."""
        return named_expr(self.expr, self.feature_names)

    def __call__(self, X) -> np.ndarray:
        return evaluate(self.expr, _as_matrix(X, self.feature_names, self.named))

    def __repr__(self) -> str:
        return f"NumpyFormula({self.sympy_expr})"


def to_numpy(est, index=None) -> NumpyFormula:
    """Formula ``index`` (``None``: the selected one) as a numpy callable, see
    :class:`NumpyFormula`."""
    expr = _internal_expr(est, index)
    named = getattr(est, "feature_names_in_", None) is not None
    return NumpyFormula(expr, feature_names(est), named=named)


# ---------------------------------------------------------------------------- torch
class TorchExport(TorchFormula):
    """A formula as a ``torch.nn.Module``: ``(batch, n_features)`` to ``(batch,)``.

    Its floating-point constants are the trainable float64 parameter ``constants``; integers
    and rationals stay fixed. :meth:`export` gives the formula (internal symbols) with the
    current constants; :attr:`sympy_expr` the same in the feature names.
    """

    def __init__(self, expr: sympy.Expr, feature_names: Sequence[str]) -> None:
        super().__init__(expr)
        self.feature_names = list(feature_names)

    @property
    def sympy_expr(self) -> sympy.Expr:
        """The formula with the current constants, in the feature names (as
        :func:`symbol_names` makes them safe)."""
        return named_expr(self.export(), self.feature_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected a tensor of shape (batch, {len(self.feature_names)}) for the "
                f"features {self.feature_names}, got {tuple(x.shape)}"
            )
        return super().forward(x)


def to_torch(est, index=None) -> TorchExport:
    """Formula ``index`` (``None``: the selected one) as a torch module, see
    :class:`TorchExport`."""
    return TorchExport(_internal_expr(est, index), feature_names(est))


# ---------------------------------------------------------------------------- text
def symbol_names(est) -> dict[str, str]:
    """``{symbol name: column name}`` of a fitted estimator's features, in column order.

    Formulas out of kansr (:func:`formula_text`, ``sympy_expr``, the ``equation`` column of
    ``equations_``) name each feature by a safe identifier: the column name itself when it
    is one that ``sympy.parse_expr`` reads as a plain symbol (``speed``, ``x0``, ``theta``),
    else a sanitised form (``"mass (kg)"`` -> ``mass_kg``, ``"pi"`` -> ``pi_``, ``"2theta"``
    -> ``x_2theta``; see :mod:`kansr.symbolic.names`). This maps them back to the columns;
    without feature names (arrays) the symbols are ``x0 ..``. To parse a formula text back
    into the very expression of ``sympy_expr`` (real symbols)::

        symbols = {s: sympy.Symbol(s, real=True) for s in symbol_names(est)}
        expr = sympy.parse_expr(formula_text(est), local_dict=symbols)
    """
    check_is_fitted(est)
    return name_map(feature_names(est))


def formula_text(est, index=None) -> str:
    """Formula ``index`` (``None``: the selected one) as plain text in the feature names, with
    every constant at full precision (``sympy.sstr``).

    The text is sympy syntax in safe identifiers (see :func:`symbol_names`, which maps them
    to the column names): ``sympy.parse_expr(text)`` rebuilds the formula, with symbols
    without assumptions; with ``local_dict={s: sympy.Symbol(s, real=True) for s in
    symbol_names(est)}`` the very expression of ``sympy_expr``. kansr itself never parses it.
    """
    return sympy.sstr(named_expr(_internal_expr(est, index), feature_names(est)), full_prec=True)
