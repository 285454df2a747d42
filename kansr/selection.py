"""Pareto front of candidate formulas and the choice between accuracy and simplicity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import sympy

from .formula import Formula

__all__ = ["pareto_table", "rename", "select"]


def pareto_table(formulas: Sequence[Formula]) -> pd.DataFrame:
    """The complexity/loss Pareto front as a table, simplest first.

    Columns: ``complexity``, ``loss`` (mean squared error), ``score`` (PySR's
    ``-d log(loss) / d complexity`` against the next simpler formula on the front) and
    ``sympy_format`` (the expression in internal symbols ``x0 ..``).
    """
    rows = sorted(formulas, key=lambda f: (f.complexity, f.loss))
    front: list[Formula] = []
    for f in rows:
        if not front or f.loss < front[-1].loss:
            if front and front[-1].complexity == f.complexity:
                front[-1] = f
            else:
                front.append(f)
    scores = [0.0]
    for prev, cur in zip(front, front[1:]):  # noqa: B905 - front[1:] is one shorter
        ratio = math.log(max(cur.loss, 1e-300)) - math.log(max(prev.loss, 1e-300))
        scores.append(-ratio / max(cur.complexity - prev.complexity, 1))
    return pd.DataFrame(
        {
            "complexity": [f.complexity for f in front],
            "loss": [f.loss for f in front],
            "score": scores[: len(front)],
            "sympy_format": [f.expr for f in front],
        }
    )


def select(table: pd.DataFrame, rule: str = "best") -> int:
    """Row chosen by ``rule``: ``"accuracy"`` (lowest loss) or ``"best"`` (PySR's rule: the
    highest score among formulas whose loss is at most 1.5 times the lowest)."""
    if table.empty:
        raise ValueError("no formula to select from")
    loss = table["loss"].to_numpy()
    if rule == "accuracy":
        return int(np.argmin(loss))
    if rule == "best":
        ok = loss <= 1.5 * loss.min() + 1e-300
        score = np.where(ok, table["score"].to_numpy(), -np.inf)
        return int(np.argmax(score))
    raise ValueError(f"unknown model_selection {rule!r}; use 'best' or 'accuracy'")


def rename(expr: sympy.Expr, names: Sequence[str]) -> sympy.Expr:
    """Replace the internal symbols ``x0 ..`` by symbols named ``names`` (no parsing)."""
    mapping = {
        sympy.Symbol(f"x{i}", real=True): sympy.Symbol(str(n), real=True)
        for i, n in enumerate(names)
    }
    return expr.xreplace(mapping)
