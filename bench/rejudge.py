"""Judge the formulas of a saved recovery run again, without fitting anything.

Adds (or recomputes) the ``domain_solution`` column of a ``bench/recovery.py`` CSV: whether
each formula equals its law up to a constant term or factor on 20 test points of the problem's
domain (:func:`kansr.benchmarks.judge.is_equal_on_domain`; not for SRSD), and checks
``symbolic_solution`` (SRBench's rule) again. The test points are the ones
``bench/recovery.py`` draws for the row's seed and noise level.

Usage::

    python bench/rejudge.py --set feynman bench/results/feynman_noise0_fc838f8.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recovery  # noqa: E402

from kansr.benchmarks.judge import is_symbolic_solution, parse_formula  # noqa: E402


def rejudge(results: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``results`` with ``symbolic_solution`` and ``domain_solution`` judged again from the
    ``formula`` column (rows with an error or no formula are not solutions)."""
    rows = {r["name"]: r for r in table.to_dict("records")}
    symbolic, domain = [], []
    for res in results.to_dict("records"):
        formula, row = res.get("formula"), rows.get(res["name"])
        if row is None:
            raise ValueError(f"problem {res['name']!r} is not in the problem table")
        if not isinstance(formula, str) or not formula:
            symbolic.append(False)
            domain.append(0.0)
            continue
        truth, variables, _, _, Xt, _ = recovery.make_problem(
            pd.Series(row), int(res["seed"]), float(res["noise"])
        )
        model = parse_formula(formula, variables)  # the run's own output: trusted text
        r2 = float(res["r2"])
        solved = bool(is_symbolic_solution(model, truth, r2=r2, scale_free=recovery.is_srsd(row)))
        symbolic.append(solved)
        domain.append(recovery.domain_solution(row, model, truth, Xt, variables, r2, solved))
    return results.assign(symbolic_solution=symbolic, domain_solution=domain)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="a CSV written by bench/recovery.py --out")
    parser.add_argument("--set", choices=recovery.SETS, required=True)
    parser.add_argument("--out", default=None, help="where to write (default: the input CSV)")
    args = parser.parse_args(argv)
    results = pd.read_csv(args.csv, dtype={"error": str})
    results["error"] = results["error"].fillna("")
    table = pd.read_csv(recovery.table_path(args.set))
    judged = rejudge(results, table)
    judged.to_csv(args.out or args.csv, index=False)
    gained = judged[(judged["domain_solution"] == 1) & ~judged["symbolic_solution"]]
    print(recovery.summary(judged).to_string())
    print("equal on the domain but not proved by SRBench's rule:", ", ".join(gained["name"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
