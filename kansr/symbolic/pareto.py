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


def pareto_table(
    formulas: Sequence[Formula],
    loss_floor: float = 0.0,
    n_samples: int | None = None,
    keep: Sequence[Formula] = (),
) -> pd.DataFrame:
    """The complexity/loss Pareto front as a table, simplest first.

    Columns: ``complexity``, ``loss`` (mean squared error), ``score`` (PySR's
    ``-d log(loss) / d complexity`` against the next simpler formula on the front),
    ``n_constants`` (fitted floating-point constants) and ``sympy_format`` (the expression in
    internal symbols ``x0 ..``). Losses below
    ``loss_floor`` (rounding level, e.g. ``1e-12 * var(y)``) count as equal: a formula must
    beat a simpler one by more than rounding to be on the front.

    With ``n_samples`` the front also keeps every formula whose
    :func:`information_criterion` is lower than that of each formula as simple and as
    accurate (one with fewer fitted constants than a slightly better formula of the same
    size: ``a*x/(x + b)`` beside ``a - b*exp(-6*x)``), so that the criterion chooses among
    all the formulas it could prefer; such rows are not on the plain front (a simpler or
    equally simple formula is more accurate). The formulas of ``keep`` (those the user asked
    for by pinning functions on edges) are rows whatever dominates them.
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
    if n_samples is not None:
        front = _criterion_front(rows, front, n_samples, floor)
    shown = {sympy.srepr(f.expr) for f in front}
    extra = {sympy.srepr(f.expr): f for f in keep if sympy.srepr(f.expr) not in shown}
    front = sorted([*front, *extra.values()], key=lambda f: (f.complexity, f.loss))
    scores = [0.0]
    for prev, cur in zip(front, front[1:]):  # noqa: B905 - front[1:] is one shorter
        ratio = math.log(max(cur.loss, floor)) - math.log(max(prev.loss, floor))
        scores.append(-ratio / max(cur.complexity - prev.complexity, 1))
    return pd.DataFrame(
        {
            "complexity": [f.complexity for f in front],
            "loss": [f.loss for f in front],
            "score": scores[: len(front)],
            "n_constants": [len(f.expr.atoms(sympy.Float)) for f in front],
            "sympy_format": [f.expr for f in front],
        }
    )


def _criterion_front(
    rows: list[Formula], front: list[Formula], n_samples: int, floor: float
) -> list[Formula]:
    """``front`` and the ``rows`` (sorted by complexity, then loss) that no formula as
    simple, as accurate and with no higher criterion dominates, simplest first."""
    size = np.array([f.complexity for f in rows], dtype=float)
    loss = np.maximum(np.array([f.loss for f in rows], dtype=float), floor)
    crit = _criterion(
        size,
        loss,
        np.array([len(f.expr.atoms(sympy.Float)) for f in rows], dtype=float),
        np.array([number_cost(f.expr, n_samples) for f in rows]),
        n_samples,
    )
    on_front = {id(f) for f in front}
    kept = []
    for i, f in enumerate(rows):
        if id(f) in on_front:
            kept.append(f)
            continue
        if not np.isfinite(crit[i]):
            continue
        others = np.arange(len(rows)) != i
        # dominated: as simple, as accurate and no worse by the criterion (ties: the earlier)
        dominated = others & (size <= size[i]) & (loss <= loss[i]) & (crit <= crit[i])
        if not dominated.any():
            kept.append(f)
    return kept


SELECTION_RULES = ("bic", "best", "accuracy")
_NODE_COST = 2.0  # description length of one node of the expression tree (nats)
_PARSIMONY = 1.5  # a simpler formula within this factor of the chosen one's loss ...
_PARSIMONY_R2 = 0.01  # ... and within this much of its R^2 is preferred


def information_criterion(
    table: pd.DataFrame, n_samples: int, loss_floor: float = 0.0
) -> np.ndarray:
    """Bayesian information criterion of every row, with a description length of the tree.

    ``n ln(mse) + p ln(n) + 2 complexity + numbers + 2 (p + 1)(p + 2) / (n - p - 2)`` for
    ``n`` rows and ``p`` fitted constants: the first two terms are the BIC of a least-squares
    fit with an estimated noise variance, the third charges each node of the formula
    (Operon's MDL idea, about ln 7 nats a node), ``numbers`` the exact numbers in it
    (:func:`number_cost`: a 6 snapped from a fitted 6.38 was chosen by the data too), the
    last is the small-sample correction of AICc, which grows without bound as the constants
    approach the rows. Rows with ``p >= n - 2`` (more constants than the data support) get
    ``inf``. Losses below ``loss_floor`` count as equal.
    """
    n = int(n_samples)
    exprs = table["sympy_format"] if "sympy_format" in table else [None] * len(table)
    return _criterion(
        table["complexity"].to_numpy(dtype=float),
        np.maximum(table["loss"].to_numpy(dtype=float), max(float(loss_floor), 1e-300)),
        table["n_constants"].to_numpy(dtype=float),
        np.array([0.0 if e is None else number_cost(e, n) for e in exprs]),
        n,
    )


def _criterion(size, loss, p, numbers, n: int) -> np.ndarray:
    """:func:`information_criterion` from its parts (arrays of one length)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.where(n - p - 2 > 0, 2 * (p + 1) * (p + 2) / (n - p - 2), np.inf)
        crit = n * np.log(loss) + p * math.log(max(n, 2)) + _NODE_COST * size + numbers + small
    return np.where(np.isfinite(crit), crit, np.inf)


def _constant_cost(n: int, p: int) -> float:
    """What the criterion charges for a ``p+1``-th fitted constant: ``ln n`` and the rise of
    the small-sample term (``inf`` when the data cannot support it)."""
    small = _criterion(np.zeros(2), np.ones(2), np.array([p + 1.0, p]), np.zeros(2), n)
    return float(small[0] - small[1]) if np.isfinite(small).all() else math.inf


def snap_gain(exact: sympy.Expr, n_samples: int, n_constants: int, nodes_saved: int = 0) -> float:
    """What :func:`information_criterion` saves (nats) when one of ``n_constants`` fitted
    constants becomes the exact number ``exact``: the constant's cost less
    :func:`number_cost` of ``exact`` (never negative), plus the description length of the
    ``nodes_saved`` nodes the formula loses (``x + 0.003`` becomes ``x``: two nodes)."""
    saved = _constant_cost(int(n_samples), int(n_constants) - 1)
    numbers = max(saved - number_cost(exact, n_samples, int(n_constants) - 1), 0.0)
    return numbers + _NODE_COST * max(int(nodes_saved), 0)


_NAMED_NUMBER_COST = 2 * math.log(3)  # pi, E: about as much as a small integer


def number_cost(expr: sympy.Expr, n_samples: int, n_constants: int | None = None) -> float:
    """Description length (nats, in the units of ``n ln(mse)``) of the exact numbers of
    ``expr``: ``2 ln|p| + 2 ln q`` for each rational ``p/q`` (0, 1 and -1 are free, ``x**2``
    costs 2 ln 2), a small integer's worth for pi and E, each at most what one more fitted
    constant would cost beside the ``n_constants`` (default: the floats of ``expr``):
    ``ln n`` and its rise of the small-sample term. A number the data chose is never
    cheaper to leave free, nor cheaper than a free constant by the small-sample term
    alone. Fitted floats are not counted here."""
    p = len(expr.atoms(sympy.Float)) if n_constants is None else int(n_constants)
    cap = _constant_cost(int(n_samples), p)
    cost = 0.0
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Float):
            continue
        if isinstance(node, sympy.Rational):
            bits = 2 * (math.log(max(abs(int(node.p)), 1)) + math.log(int(node.q)))
            cost += min(bits, cap)
        elif isinstance(node, sympy.NumberSymbol):
            cost += min(_NAMED_NUMBER_COST, cap)
    return cost


def select(
    table: pd.DataFrame,
    rule: str = "bic",
    loss_floor: float = 0.0,
    n_samples: int | None = None,
    variance: float | None = None,
) -> int:
    """Row chosen by ``rule``:

    * ``"bic"``: the lowest :func:`information_criterion` on ``n_samples`` rows, then the
      simplest (smaller) formula whose loss is within 1.5 times that one's and whose R² is
      within 0.01 of it (``variance``: of the target; an improvement that small, and
      smaller than half the noise level, is not worth a more complex law): the most
      accurate formula on exact data (its loss is far below every other), a parsimonious
      one on noisy or small data;
    * ``"accuracy"``: the lowest loss;
    * ``"best"``: PySR's rule, the highest score among formulas whose loss is at most 1.5
      times the lowest (designed for exact data: on noisy data it rewards any fall in
      training loss).

    Losses below ``loss_floor`` count as equal.
    """
    if table.empty:
        raise ValueError("no formula to select from")
    loss = table["loss"].to_numpy()
    if rule == "accuracy":
        return int(np.argmin(loss))
    if rule == "best":
        ok = loss <= 1.5 * max(loss.min(), loss_floor) + 1e-300
        score = np.where(ok, table["score"].to_numpy(), -np.inf)
        return int(np.argmax(score))
    if rule == "bic":
        if n_samples is None:
            raise ValueError("model_selection='bic' needs the number of samples")
        crit = information_criterion(table, n_samples, loss_floor)
        if not np.isfinite(crit).any():  # nothing the data support: the simplest formula
            return 0
        chosen = int(np.argmin(crit))
        floored = np.maximum(loss, max(float(loss_floor), 1e-300))
        slack = _PARSIMONY_R2 * (float(loss[0]) if variance is None else float(variance))
        size = table["complexity"].to_numpy()
        close = np.flatnonzero(
            np.isfinite(crit)
            & ((size < size[chosen]) | (np.arange(len(table)) == chosen))
            & (floored <= _PARSIMONY * floored[chosen])
            & (loss <= loss[chosen] + slack)
        )
        return int(close[0])  # rows are simplest first
    raise ValueError(f"unknown model_selection {rule!r}; use one of {SELECTION_RULES}")


def rename(expr: sympy.Expr, names: Sequence[str]) -> sympy.Expr:
    """Replace the internal symbols ``x0 ..`` by real symbols named exactly as the column
    ``names`` (no parsing; any string is a valid sympy symbol name). For text that
    ``sympy.parse_expr`` reads back use :func:`kansr.symbolic.names.named_expr` (safe
    identifiers)."""
    mapping = {
        sympy.Symbol(f"x{i}", real=True): sympy.Symbol(str(n), real=True)
        for i, n in enumerate(names)
    }
    return expr.xreplace(mapping)
