"""``kansr demo``: fit the shipped example and print the fit time and the test R^2."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from kansr.cli._common import _int_at_least


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="fit the shipped example f(x, y) = exp(sin(pi*x) + y**2)",
        description=(
            "Fit KANRegressor(hidden_layer_sizes=(5,)) to f(x, y) = exp(sin(pi*x) + y**2) on "
            "x, y ~ U(-1, 1), half the samples for training and half for testing, and print "
            "the fit time and the test R^2."
        ),
    )
    parser.add_argument(
        "--n-samples",
        type=_int_at_least(4),
        default=1000,
        metavar="N",
        help="number of samples, split half/half into train and test (default: 1000)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the data, the split and the network (default: 0)",
    )
    # Hidden: keeps the CLI tests fast.
    parser.add_argument("--max-iter", type=_int_at_least(1), default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from kansr import KANRegressor
    from kansr.benchmarks.datasets import DEMO_FORMULA, make_demo

    X, y = make_demo(args.n_samples, random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=args.seed)
    params = {"hidden_layer_sizes": (5,), "random_state": args.seed}
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    est = KANRegressor(**params)

    print(f"problem:    {DEMO_FORMULA}, x, y ~ U(-1, 1)")
    print(f"data:       {len(X_train)} training and {len(X_test)} test samples, seed {args.seed}")
    sys.stdout.flush()
    start = time.perf_counter()
    est.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    print(f"network:    width {est.module_.width}, {est.module_.n_parameters()} parameters")
    print(f"fit time:   {fit_time:.2f} s")
    print(f"iterations: {est.n_iter_} (stopped: {est.stop_reason_})")
    network = est.predict_network(X_test)
    network_r2 = 1 - np.mean((network - y_test) ** 2) / np.var(y_test)
    print(f"test R^2:   {network_r2:.6f}  (network)")
    print(f"test R^2:   {est.score(X_test, y_test):.6f}  (selected formula)")
    if est.equations_ is not None:
        print(f"formula:    f = {est.sympy_expr()}")
        print(f"complexity: {int(est.equations_['complexity'].iloc[est.selected_index_])}")
    return 0
