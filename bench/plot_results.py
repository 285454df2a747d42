"""Plot recovery benchmark results side by side: ``python bench/plot_results.py OUT.png
LABEL=results.csv [LABEL=results.csv ...]``.

Left: share of problems solved symbolically and with test R^2 > 0.999, per run. Right: the
distribution of fit times (empirical CDF, log scale; failed fits have no time). The CSVs are
those written by ``bench/recovery.py --out``; ``--common`` compares only the problems that
every run has. Needs matplotlib.

    python bench/plot_results.py docs/img/recovery.png \\
        "kansr=bench/results/feynman_noise0.csv" \\
        "kansr, noise 0.01=bench/results/feynman_noise0.01.csv"
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd


def load_runs(specs: list[str]) -> dict[str, pd.DataFrame]:
    """``{label: results}`` from ``LABEL=path`` strings (exits with a message on bad input)."""
    runs = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            sys.exit(f"expected LABEL=path.csv, got {spec!r}")
        if not Path(path).is_file():
            sys.exit(f"results file not found: {path}")
        frame = pd.read_csv(path)
        needed = {"name", "noise", "symbolic_solution", "accuracy_solution", "fit_time"}
        missing = needed - set(frame.columns)
        if missing:
            sys.exit(f"{path} is not a bench/recovery.py result (missing {sorted(missing)})")
        runs[label] = frame
    return runs


def common_problems(runs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every run restricted to the problems (``name``, ``noise``) that all runs have."""
    keys = None
    for frame in runs.values():
        these = set(zip(frame["name"], frame["noise"], strict=True))
        keys = these if keys is None else keys & these
    return {
        label: frame[[k in keys for k in zip(frame["name"], frame["noise"], strict=True)]]
        for label, frame in runs.items()
    }


def plot_runs(runs: dict[str, pd.DataFrame]):
    """The two-panel figure (matplotlib ``Figure``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = list(runs)
    pos = np.arange(len(labels))
    sym = [100 * runs[k]["symbolic_solution"].astype(bool).mean() for k in labels]
    acc = [100 * runs[k]["accuracy_solution"].astype(bool).mean() for k in labels]
    left.bar(pos - 0.2, sym, 0.4, label="symbolic solution")
    left.bar(pos + 0.2, acc, 0.4, label="test R² > 0.999")
    for x, (s, a) in enumerate(zip(sym, acc, strict=True)):
        left.text(x - 0.2, s + 1, f"{s:.0f}", ha="center", fontsize=8)
        left.text(x + 0.2, a + 1, f"{a:.0f}", ha="center", fontsize=8)
    ticks = [textwrap.fill(k, 16) + f"\n({len(runs[k])} problems)" for k in labels]
    left.set_xticks(pos, ticks, fontsize=7)
    left.set_ylabel("% of problems")
    left.set_ylim(0, 118)  # room for the legend above the bars
    left.legend(fontsize=8, loc="upper right", ncols=2)
    for k in labels:
        times = np.sort(runs[k]["fit_time"].dropna().to_numpy())
        if times.size:
            right.step(times, np.arange(1, times.size + 1) / times.size, where="post", label=k)
    right.set_xscale("log")
    right.set_xlabel("fit time per problem (s)")
    right.set_ylabel("share of problems fitted within")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("runs", nargs="+", help="LABEL=results.csv")
    parser.add_argument(
        "--common", action="store_true", help="compare only the problems that every run has"
    )
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    fig = plot_runs(common_problems(runs) if args.common else runs)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
