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
    p = np.array([len(f.expr.atoms(sympy.Float)) for f in rows], dtype=float)
    crit = _criterion(size, loss, p, *_number_terms([f.expr for f in rows], n_samples), n_samples)
    on_front = {id(f) for f in front}
    kept = []
    index = np.arange(len(rows))
    for i, f in enumerate(rows):
        if id(f) in on_front:
            kept.append(f)
            continue
        if not np.isfinite(crit[i]):
            continue
        # dominated: as simple, as accurate and no worse by the criterion; of equal rows
        # (the same formula found twice) the earliest stays
        no_worse = (index != i) & (size <= size[i]) & (loss <= loss[i]) & (crit <= crit[i])
        better = (size < size[i]) | (loss < loss[i]) | (crit < crit[i]) | (index < i)
        dominated = no_worse & better
        if not dominated.any():
            kept.append(f)
    return kept


SELECTION_RULES = ("bic", "cv", "best", "accuracy")
# description length of one node of the expression tree (nats): the log of the number of
# symbols a node can hold in the default library (+, *, ^, exp, log, sin, cos, tanh, atan,
# abs, a variable, a constant: 12). It was ln 7.4 (2.0), which left out the library's
# functions: on measured data a shape bought by trying many (a 17-node Gaussian bump on 24
# rows of MASS::Rubber) beat the linear law that held-out rows prefer (docs/benchmarks.md).
_NODE_COST = math.log(12)
_PARSIMONY = 1.5  # a simpler formula within this factor of the chosen one's loss ...
_PARSIMONY_R2 = 0.01  # ... and within this much of its R^2 is preferred


def information_criterion(
    table: pd.DataFrame, n_samples: int, loss_floor: float = 0.0
) -> np.ndarray:
    """Bayesian information criterion of every row, with a description length of the tree.

    ``n ln(mse) + p ln(n) + ln(12) complexity + numbers + 2 (q + 1)(q + 2) / (n - q - 2)`` for
    ``n`` rows, ``p`` fitted constants and ``q = p + k`` with ``k`` the exact numbers the
    data chose (:func:`chosen_numbers`): the first two terms are the BIC of a least-squares
    fit with an estimated noise variance, the third charges each node of the formula
    (Operon's MDL idea: ln 12 nats a node, one of about 12 symbols), ``numbers`` the
    description length of the exact numbers (:func:`number_cost`: a 6 snapped from a
    fitted 6.38 is cheaper to write than a float), the last is the small-sample correction
    of AICc, which grows without bound as the constants approach the rows. A snapped
    number was still chosen to fit the data (the 9 of ``atan(9*conc)`` on 11 rows, from a
    fitted 8.7 +- 1.5), so it counts as a degree of freedom there. Rows with
    ``q >= n - 2`` (more than the data support) get ``inf``. Losses below ``loss_floor``
    count as equal.
    """
    n = int(n_samples)
    exprs = table["sympy_format"] if "sympy_format" in table else [None] * len(table)
    return _criterion(
        table["complexity"].to_numpy(dtype=float),
        np.maximum(table["loss"].to_numpy(dtype=float), max(float(loss_floor), 1e-300)),
        table["n_constants"].to_numpy(dtype=float),
        *_number_terms(exprs, n),
        n,
    )


def _number_terms(exprs, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`number_cost` and :func:`chosen_numbers` of every expression (0 for ``None``),
    in one pass over each."""
    parts = [(0.0, 0) if e is None else _numbers_cost_and_count(e, n) for e in exprs]
    return np.array([c for c, _ in parts], dtype=float), np.array([k for _, k in parts], float)


def _small_sample(n: int, q):
    """AICc's small-sample term for ``q`` degrees of freedom on ``n`` rows (``inf`` once
    ``q >= n - 2``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n - q - 2 > 0, 2 * (q + 1) * (q + 2) / (n - q - 2), np.inf)


def _criterion(size, loss, p, numbers, chosen, n: int) -> np.ndarray:
    """:func:`information_criterion` from its parts (arrays of one length; ``chosen``: the
    exact numbers the data chose)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = n * np.log(loss) + p * math.log(max(n, 2)) + _NODE_COST * size + numbers
        crit = crit + _small_sample(n, p + chosen)
    return np.where(np.isfinite(crit), crit, np.inf)


def _freedom_cost(n: int, q: int) -> float:
    """The rise of the small-sample term from ``q - 1`` to ``q`` degrees of freedom on ``n``
    rows (``inf`` when the data cannot support ``q``)."""
    more = float(_small_sample(n, q))
    return more - float(_small_sample(n, q - 1)) if math.isfinite(more) else math.inf


def snap_gain(exact: sympy.Expr, n_samples: int, freedoms: int, nodes_saved: int = 0) -> float:
    """What :func:`information_criterion` saves (nats) when a fitted constant of a formula
    with ``freedoms`` degrees of freedom (fitted constants and :func:`chosen_numbers`)
    becomes the exact number ``exact``: the constant's ``ln n`` less :func:`number_cost` of
    ``exact`` (never negative), the small-sample term's share of one degree of freedom when
    ``exact`` is 0, 1 or -1 (a term or a factor fewer; another number the data chose still
    counts there), plus the description length of the ``nodes_saved`` nodes the formula
    loses (``x + 0.003`` becomes ``x``: two nodes)."""
    n = int(n_samples)
    saved = max(math.log(max(n, 2)) - number_cost(exact, n), 0.0)
    if chosen_numbers(exact) == 0:
        saved += _freedom_cost(n, int(freedoms))
    return saved + _NODE_COST * max(int(nodes_saved), 0)


_NAMED_NUMBER_COST = 2 * math.log(3)  # pi, E: about as much as a small integer


def _numbers(expr: sympy.Expr):
    """The exact numbers of ``expr`` that cost something: rationals other than 0, 1 and -1
    (``x**2``'s 2, ``x/2``'s 1/2), pi and E."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Float):
            continue
        if isinstance(node, sympy.Rational) and abs(node) != 1 and node != 0:
            yield node
        elif isinstance(node, sympy.NumberSymbol):
            yield node


def chosen_numbers(expr: sympy.Expr) -> int:
    """How many exact numbers of ``expr`` the data chose (:func:`number_cost` > 0 each):
    degrees of freedom of the small-sample term of :func:`information_criterion`."""
    return sum(1 for _ in _numbers(expr))


def _numbers_cost_and_count(expr: sympy.Expr, n_samples: int) -> tuple[float, int]:
    """:func:`number_cost` and :func:`chosen_numbers` of ``expr``."""
    cap = math.log(max(int(n_samples), 2))
    cost, count = 0.0, 0
    for node in _numbers(expr):
        if isinstance(node, sympy.NumberSymbol):
            cost += min(_NAMED_NUMBER_COST, cap)
        else:
            bits = 2 * (math.log(max(abs(int(node.p)), 1)) + math.log(int(node.q)))
            cost += min(bits, cap)
        count += 1
    return cost, count


def number_cost(expr: sympy.Expr, n_samples: int) -> float:
    """Description length (nats, in the units of ``n ln(mse)``) of the exact numbers of
    ``expr``: ``2 ln|p| + 2 ln q`` for each rational ``p/q`` (0, 1 and -1 are free, ``x**2``
    costs 2 ln 2), a small integer's worth for pi and E, each at most ``ln n``, what the
    criterion charges a fitted constant beside the small-sample term (which counts both):
    a number the data chose is never cheaper to leave free. Fitted floats are not counted
    here."""
    return _numbers_cost_and_count(expr, n_samples)[0]


def select(
    table: pd.DataFrame,
    rule: str = "bic",
    loss_floor: float = 0.0,
    n_samples: int | None = None,
    variance: float | None = None,
) -> int:
    """Row chosen by ``rule``:

    * ``"bic"``: the lowest :func:`information_criterion` on ``n_samples`` rows, then the
      simplest formula (fewer nodes, no more fitted constants) whose loss is within 1.5
      times that one's and whose R² is within 0.01 of it (``variance``: of the target; an
      improvement that small, and smaller than half the noise level, is not worth a more
      complex law): the most accurate formula on exact data (its loss is far below every
      other), a parsimonious one on noisy or small data;
    * ``"cv"``: as ``"bic"`` here; the estimator then checks the choice on held-out rows
      (:func:`~kansr.symbolic.cross_validation.cross_validated_choice`);
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
    if rule in ("bic", "cv"):
        if n_samples is None:
            raise ValueError(f"model_selection={rule!r} needs the number of samples")
        crit = information_criterion(table, n_samples, loss_floor)
        if not np.isfinite(crit).any():  # nothing the data support: the simplest formula
            return 0
        chosen = int(np.argmin(crit))
        floored = np.maximum(loss, max(float(loss_floor), 1e-300))
        slack = _PARSIMONY_R2 * (float(loss[0]) if variance is None else float(variance))
        size = table["complexity"].to_numpy()
        constants = table["n_constants"].to_numpy()
        # simpler: fewer nodes and no more fitted constants (a 13-node formula of three
        # constants is not simpler than the 14-node law of none)
        simpler = (size < size[chosen]) & (constants <= constants[chosen])
        close = np.flatnonzero(
            np.isfinite(crit)
            & (simpler | (np.arange(len(table)) == chosen))
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
