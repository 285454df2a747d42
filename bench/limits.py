#!/usr/bin/env python
"""Limits benchmark: wall time and peak memory of ``KANRegressor.fit`` on big inputs.

Cases (each in its own child process, so that ``ru_maxrss`` is the case's own peak):

* ``rows``: ``--rows`` samples (default 1,000,000) x 10 features, ``solver="adam"`` with
  mini-batches of ``--batch-size`` (default 4096) for ``--epochs`` epochs (default 2), the
  full symbolic stage (structure search and network formulas; both work on a fixed subsample
  of at most 10,000 rows, so their memory does not grow with the number of rows).
* ``features``: ``--wide-rows`` samples (default 5,000) x 100 features, ``solver="lbfgs"``,
  ``--wide-iter`` steps (default 20), hidden width 5, the full symbolic stage.

The target is ``sin(2 x0) + x1^2 + 0.5 x2`` (the other features are distractors). Reported
per case: fit wall time (s), peak RSS (MiB, ``resource.getrusage(...).ru_maxrss``), training
steps and stop reason, R^2 of the selected formula on the training data, its complexity.

Run on a quiet machine: ``python bench/limits.py`` (the 1M-row case needs a few GiB of RAM and
minutes); ``python bench/limits.py --rows 20000 --wide-rows 2000`` for a quick check;
``--markdown docs/benchmarks.md`` appends the report there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
if str(REPO) not in sys.path:  # benchmark the checkout, installed or not
    sys.path.insert(0, str(REPO))

RESULT_MARK = "LIMITS_BENCH_RESULT "


def _data(n_rows: int, n_features: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_rows, n_features))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]
    return X, y


def run_case(name: str, args: argparse.Namespace) -> dict:
    """Fit one case in this process and return its measurements."""
    import numpy as np
    import torch

    from kansr import KANRegressor

    torch.set_num_threads(args.threads)
    if name == "rows":
        X, y = _data(args.rows, 10)
        est = KANRegressor(
            hidden_layer_sizes=(5,),
            solver="adam",
            batch_size=args.batch_size,
            learning_rate_init=0.01,
            max_iter=args.epochs,
            grid_update_until=0,
            random_state=0,
        )
    elif name == "features":
        X, y = _data(args.wide_rows, 100)
        est = KANRegressor(hidden_layer_sizes=(5,), max_iter=args.wide_iter, random_state=0)
    else:
        raise ValueError(f"unknown case {name!r}")
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    est.fit(X, y)
    wall = time.perf_counter() - start
    pred = est.predict(X)
    r2 = 1.0 - float(np.mean((pred - y) ** 2) / np.var(y))
    return {
        "case": name,
        "rows": int(X.shape[0]),
        "features": int(X.shape[1]),
        "solver": est.solver,
        "steps": int(est.n_iter_),
        "stop_reason": est.stop_reason_,
        "fit_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_data_mib": round(rss_data, 1),
        "r2": round(r2, 6),
        "complexity": int(est.equations_["complexity"].iloc[est.selected_index_]),
        "formula": str(est.sympy_expr())[:120],
    }


def _child(name: str, argv: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--only", name],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    for line in out.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise RuntimeError(f"case {name} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")


def report(results: list[dict], args: argparse.Namespace) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### Run of {stamp}",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {args.threads}, Python {platform.python_version()}.",
        "",
        "| case | rows x features | solver, steps (stop) | fit (s) | peak RSS (MiB) "
        "| RSS after data (MiB) | R² formula | complexity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['rows']:,} x {r['features']} | {r['solver']}, {r['steps']} "
            f"({r['stop_reason']}) | {r['fit_s']} | {r['peak_rss_mib']} "
            f"| {r['rss_after_data_mib']} | {r['r2']} | {r['complexity']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the 'rows' case")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--wide-rows", type=int, default=5_000, help="rows of 'features'")
    parser.add_argument("--wide-iter", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default="rows,features")
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        print(RESULT_MARK + json.dumps(run_case(args.only, args)), flush=True)
        return
    forwarded = list(argv if argv is not None else sys.argv[1:])  # (children ignore --markdown)
    results = []
    for name in args.cases.split(","):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(_child(name, forwarded))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    text = report(results, args)
    print(text)
    if args.markdown is not None:
        with args.markdown.open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
