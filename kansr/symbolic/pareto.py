"""Candidate formulas, their complexity/loss Pareto front and the choice among it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy


@dataclass
class Formula:
    """One candidate formula.

    ``expr`` uses the internal symbols ``x0 .. x{n-1}`` (safe to evaluate); ``loss`` is the
    mean squared error on the data in the target's units.
    """

    expr: sympy.Expr
    complexity: int
    loss: float


def pareto_table(formulas: Sequence[Formula], loss_floor: float = 0.0) -> pd.DataFrame:
    """The complexity/loss Pareto front as a table, simplest first.

    Columns: ``complexity``, ``loss`` (mean squared error), ``score`` (PySR's
    ``-d log(loss) / d complexity`` against the next simpler formula on the front) and
    ``sympy_format`` (the expression in internal symbols ``x0 ..``). Losses below
    ``loss_floor`` (rounding level, e.g. ``1e-12 * var(y)``) count as equal: a formula must
    beat a simpler one by more than rounding to be on the front.
    """
    floor = max(float(loss_floor), 1e-300)
    rows = sorted(formulas, key=lambda f: (f.complexity, f.loss))
    front: list[Formula] = []
    for f in rows:
        if not front or max(f.loss, floor) < max(front[-1].loss, floor):
            if front and front[-1].complexity == f.complexity:
                front[-1] = f
            else:
                front.append(f)
    scores = [0.0]
    for prev, cur in zip(front, front[1:]):  # noqa: B905 - front[1:] is one shorter
        ratio = math.log(max(cur.loss, floor)) - math.log(max(prev.loss, floor))
        scores.append(-ratio / max(cur.complexity - prev.complexity, 1))
    return pd.DataFrame(
        {
            "complexity": [f.complexity for f in front],
            "loss": [f.loss for f in front],
            "score": scores[: len(front)],
            "sympy_format": [f.expr for f in front],
        }
    )


def select(table: pd.DataFrame, rule: str = "best", loss_floor: float = 0.0) -> int:
    """Row chosen by ``rule``: ``"accuracy"`` (lowest loss) or ``"best"`` (PySR's rule: the
    highest score among formulas whose loss is at most 1.5 times the lowest, losses below
    ``loss_floor`` counting as equal)."""
    if table.empty:
        raise ValueError("no formula to select from")
    loss = table["loss"].to_numpy()
    if rule == "accuracy":
        return int(np.argmin(loss))
    if rule == "best":
        ok = loss <= 1.5 * max(loss.min(), loss_floor) + 1e-300
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
