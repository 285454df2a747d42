#!/usr/bin/env python
"""Side-by-side speed of kernels of the symbolic stage, each against its former version.

(a) 1-D matching (``kansr.symbolic.matching.match_edges``, the structure search's and the
    decomposition's workhorse) of three pieces on ``--rows`` rows against the default
    library: the coarse ``(a, b)`` grid scored on every k-th of the rows (now) against all
    rows (``_COARSE_SAMPLES`` raised: before 475734e).
(b) Refitting the constants of a formula of ``--terms`` terms (``refit_constants``, at most
    20 steps): Levenberg-Marquardt with the exact Jacobian (now) against LBFGS (before this
    change), with the loss each reaches. (Until this change the row compared the postfix
    program with a walk of the sympy tree, the evaluator before 105bddc:
    ``docs/benchmarks.md``.)
(c) Standard errors of the constants of the same formula (``standard_errors``: the Jacobian
    of the predictions by the constants): exact by one backward pass of per-row copies of
    the constants (now) against central differences, two evaluations per constant (before
    this change; ``central_jacobian`` below).
(d) The exact Jacobian of a formula of ``--big-terms`` terms on ``--big-rows`` rows: one
    ``(rows,)`` copy per constant (now) against one ``(rows, p)`` copy of all constants
    (``MatrixCopy`` below, bd1d0f8), whose backward pass writes a full ``(rows, p)`` gradient
    for every constant read.

Each row is the best of ``--repeats`` runs, one torch thread, in one process, so both sides
see the same machine. ``python bench/symbolic_speed.py [--quick]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmark the checkout, installed or not
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import sympy  # noqa: E402
import torch  # noqa: E402

from kansr.symbolic import expressions, matching, uncertainty  # noqa: E402


class MatrixCopy(expressions.TorchFormula):
    """:class:`TorchFormula` whose exact Jacobian reads the constants from one ``(rows, p)``
    tensor (the version of bd1d0f8), for comparison."""

    def row_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start = self.constants.detach()
        rows = start.expand(x.shape[0], start.shape[0]).clone().requires_grad_(True)
        out = torch.as_tensor(
            expressions._run_program(self._program, x, rows), dtype=torch.float64
        ).expand(x.shape[0])
        (jac,) = torch.autograd.grad(out.sum(), rows, allow_unused=True)
        return out.detach(), torch.zeros_like(rows) if jac is None else jac


def _best(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def matching_times(rows: int, repeats: int) -> tuple[float, float]:
    """Seconds to match three pieces ``(3, rows)``: thinned grid, then the grid on all rows."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, (3, rows))
    y = np.stack([np.sin(1.3 * x[0]), np.log(x[1]), x[2] ** -2.0])
    now = _best(lambda: matching.match_edges(x, y, projected=False), repeats)
    saved = matching._COARSE_SAMPLES
    matching._COARSE_SAMPLES = 10**12
    try:
        before = _best(lambda: matching.match_edges(x, y, projected=False), repeats)
    finally:
        matching._COARSE_SAMPLES = saved
    return now, before


def test_formula(terms: int) -> tuple[sympy.Expr, np.ndarray, np.ndarray]:
    """A formula of ``terms`` terms (``terms + 1`` constants), 1000 rows and a target."""
    x0, x1 = sympy.symbols("x0:2", real=True)
    expr = sum(
        sympy.Float(0.1 * i + 0.05) * x0**i * sympy.sin(sympy.Float(0.3) * x1 + i)
        for i in range(1, terms + 1)
    )
    X = np.random.default_rng(1).uniform(0.1, 1.0, (1000, 2))
    y = expressions.evaluate(expr, X) * 1.01
    return expr, X, y


def central_jacobian(expr, X):
    """The Jacobian as ``uncertainty.constants_jacobian`` took it before: central differences
    only."""
    module = expressions.TorchFormula(expr)
    x = torch.from_numpy(np.array(X, dtype=np.float64))
    with torch.no_grad():
        pred = module(x).numpy()
    return uncertainty._central_differences(module, x), pred


def refit_times(terms: int, repeats: int) -> tuple[float, float, float, float]:
    """Seconds and loss of one refit (at most 20 steps) of a ``terms``-term formula on 1000
    rows: Levenberg-Marquardt, then LBFGS alone."""
    expr, X, y = test_formula(terms)
    losses = []

    def refit():
        losses.append(expressions.refit_constants(expr, X, y, n_iter=20)[1])

    now = _best(refit, repeats)
    least_squares = expressions._least_squares_fit
    expressions._least_squares_fit = lambda *args: False  # no step found: LBFGS alone
    try:
        before = _best(refit, repeats)
    finally:
        expressions._least_squares_fit = least_squares
    return now, before, losses[0], losses[-1]


def error_times(terms: int, repeats: int) -> tuple[float, float]:
    """Seconds for the standard errors of a ``terms``-term formula on 1000 rows: exact
    Jacobian, central differences."""
    expr, X, y = test_formula(terms)
    now = _best(lambda: uncertainty.standard_errors(expr, X, y), repeats)
    exact = uncertainty.constants_jacobian
    uncertainty.constants_jacobian = central_jacobian
    try:
        before = _best(lambda: uncertainty.standard_errors(expr, X, y), repeats)
    finally:
        uncertainty.constants_jacobian = exact
    return now, before


def jacobian_times(terms: int, rows: int, repeats: int) -> tuple[float, float]:
    """Seconds for the exact Jacobian of a ``terms``-term formula on ``rows`` rows: one copy
    per constant, one matrix copy."""
    expr, _, _ = test_formula(terms)
    x = torch.from_numpy(np.random.default_rng(2).uniform(0.1, 1.0, (rows, 2)))
    now = _best(lambda: expressions.TorchFormula(expr).row_jacobian(x), repeats)
    before = _best(lambda: MatrixCopy(expr).row_jacobian(x), repeats)
    return now, before


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1000, help="rows of the matched pieces (1000)")
    p.add_argument("--terms", type=int, default=40, help="terms of the refit formula (40)")
    p.add_argument("--big-terms", type=int, default=240, help="terms for the Jacobian (240)")
    p.add_argument("--big-rows", type=int, default=10_000, help="rows for the Jacobian (10000)")
    p.add_argument("--repeats", type=int, default=3, help="runs per row, best kept (3)")
    p.add_argument("--quick", action="store_true", help="smoke test: small sizes, 1 run")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.terms, args.repeats = 600, 3, 1
        args.big_terms, args.big_rows = 4, 1000
    torch.set_num_threads(1)
    match_now, match_before = matching_times(args.rows, args.repeats)
    refit_now, refit_before, loss_now, loss_before = refit_times(args.terms, args.repeats)
    errors_now, errors_before = error_times(args.terms, args.repeats)
    jac_now, jac_before = jacobian_times(args.big_terms, args.big_rows, args.repeats)
    print("| kernel | now (s) | before (s) | speed-up |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| match 3 pieces x {args.rows} rows, default library | {match_now:.3g} | "
        f"{match_before:.3g} | {match_before / match_now:.2f}x |"
    )
    print(
        f"| refit a {args.terms}-term formula, 1000 rows, <= 20 steps (loss {loss_now:.2g} "
        f"against {loss_before:.2g} by LBFGS) | {refit_now:.3g} | {refit_before:.3g} | "
        f"{refit_before / refit_now:.2f}x |"
    )
    print(
        f"| standard errors of the {args.terms}-term formula's {args.terms + 1} constants, "
        f"1000 rows | {errors_now:.3g} | {errors_before:.3g} | "
        f"{errors_before / errors_now:.2f}x |"
    )
    print(
        f"| exact Jacobian of a {args.big_terms}-term formula ({args.big_terms + 1} constants), "
        f"{args.big_rows} rows | {jac_now:.3g} | {jac_before:.3g} | "
        f"{jac_before / jac_now:.2f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
