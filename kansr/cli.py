"""Command line interface: ``kansr <command> [options]`` (also ``python -m kansr``).

Every subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its parser and
``_run_<name>(args) -> int`` does the work. To add one, write both and list the first in
:data:`_COMMANDS`; :func:`main` handles usage errors (exit code 2) and runtime errors (exit
code 1, one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from . import __version__

__all__ = ["main"]

PROG = "kansr"


class UsageError(Exception):
    """A problem with the command line found after parsing (exit code 2)."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


# --------------------------------------------------------------------------- demo
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

    from . import KANRegressor
    from .datasets import DEMO_FORMULA, make_demo

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


# --------------------------------------------------------------------------- main
_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_demo,)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Symbolic regression with Kolmogorov-Arnold Networks.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    0: success; 1: the command failed; 2: usage error (the message goes to stderr).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (try '{PROG} --help')", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # any failure: one line on stderr, no traceback
        print(f"{PROG} {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
