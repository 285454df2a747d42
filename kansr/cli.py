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

from kansr._version import __version__

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


# --------------------------------------------------------------------------- fit / predict
def _positive_float(text: str) -> float:
    """An argparse ``type`` accepting finite numbers ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    """An argparse ``type`` for comma-separated positive integers, e.g. ``5`` or ``8,4``."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"layer widths must be at least 1, got {text!r}")
    return values


def _read_csv(path: str):
    """The CSV at ``path`` as a DataFrame with at least one row; :class:`UsageError` else."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read {path} as CSV: {message}") from None
    if frame.empty:
        raise UsageError(f"{path} has no data rows")
    return frame


def _numeric(frame, columns: Sequence[str], path: str):
    """``frame[columns]`` as float64; names the non-numeric columns and those with gaps."""
    import pandas as pd

    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise UsageError(f"non-numeric column(s) in {path}: {', '.join(bad)}")
    data = frame[list(columns)].astype("float64")
    missing = [c for c in columns if not np.all(np.isfinite(data[c].to_numpy()))]
    if missing:
        raise UsageError(f"missing or infinite values in column(s) of {path}: {', '.join(missing)}")
    return data


def _add_fit(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a formula to the columns of a CSV file",
        description=(
            "Fit KANRegressor to a CSV file (with a header row): predict the column --target "
            "from the --features columns (default: every other column). Prints the chosen "
            "formula, its LaTeX, R^2 on the training data and the Pareto front of formulas; "
            "--save writes the model in kansr's data-only format (read by 'kansr predict' and "
            "kansr.load). Problems with the file or the columns exit with code 2."
        ),
    )
    # declared in this order, which is the order of the usage line and of --help
    _add_fit_data_options(parser)
    _add_fit_training_options(parser)
    _add_fit_loss_options(parser)
    _add_fit_selection_options(parser)
    parser.add_argument(
        "--verbose", "-v", action="count", default=0, help="name every stage as it runs"
    )
    parser.set_defaults(func=_run_fit)


def _add_fit_data_options(parser: argparse.ArgumentParser) -> None:
    """``kansr fit``: the CSV file, its columns and where the model goes."""
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--target", required=True, metavar="COL", help="column to predict")
    parser.add_argument(
        "--features",
        metavar="A,B,...",
        help="comma-separated input columns (default: every column except the target)",
    )
    parser.add_argument("--save", metavar="MODEL", help="write the fitted model to this file")


def _add_fit_training_options(parser: argparse.ArgumentParser) -> None:
    """``kansr fit``: the time budget, the seed, the network and its training."""
    parser.add_argument(
        "--max-time",
        type=_positive_float,
        default=None,
        metavar="S",
        help="wall-clock budget of the whole fit in seconds (default: none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--hidden",
        type=_int_list,
        default=(5,),
        metavar="W[,W...]",
        help="hidden layer widths, e.g. 5 or 8,4 (default: 5)",
    )
    parser.add_argument(
        "--max-iter",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="maximum optimizer steps (default: the estimator's, 100)",
    )
    parser.add_argument(
        "--restarts",
        type=_int_at_least(1),
        default=1,
        metavar="N",
        help="networks trained from different seeds, the best one kept (default: 1)",
    )
    parser.add_argument(
        "--jobs",
        type=_nonzero_int,
        default=None,
        metavar="N",
        help="parallel workers for the restarts (-1: all cores; default: 1)",
    )


def _add_fit_loss_options(parser: argparse.ArgumentParser) -> None:
    """``kansr fit``: what the fit minimises (sample weights, sparsity penalty)."""
    parser.add_argument(
        "--weights",
        metavar="COL",
        help="column of sample weights, e.g. 1/sigma**2 of each measurement (default: none)",
    )
    parser.add_argument(
        "--sparsity",
        type=_nonnegative_float,
        default=None,
        metavar="L",
        help="weight of the KAN sparsity penalty (default: the estimator's, 0)",
    )


def _add_fit_selection_options(parser: argparse.ArgumentParser) -> None:
    """``kansr fit``: which formulas are candidates and how one is chosen."""
    parser.add_argument(
        "--model-selection",
        choices=("bic", "best", "accuracy"),
        default=None,
        help="how the formula is chosen from the Pareto front (default: bic)",
    )
    parser.add_argument(
        "--maxsize",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="largest complexity (nodes) of a formula on the front (default: no cap)",
    )
    parser.add_argument(
        "--library",
        metavar="F,G,...",
        help="comma-separated edge functions, e.g. x,x^2,exp,sin (default: the full library)",
    )


def _nonnegative_float(text: str) -> float:
    """argparse type: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _nonzero_int(text: str) -> int:
    """argparse type: an integer other than 0 (joblib's ``n_jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 workers: use a positive number, or -1 for all cores")
    return value


def _fit_columns(frame, args: argparse.Namespace) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if args.target not in columns:
        raise UsageError(
            f"target column {args.target!r} not in {args.csv} (columns: {', '.join(columns)})"
        )
    if args.features is None:
        features = [c for c in columns if c != args.target]
        if not features:
            raise UsageError(f"{args.csv} has no column besides the target {args.target!r}")
        return features
    features = [name.strip() for name in args.features.split(",")]
    if any(not name for name in features):
        raise UsageError(f"empty name in --features {args.features!r}")
    unknown = [name for name in features if name not in columns]
    if unknown:
        raise UsageError(
            f"unknown feature column(s) {', '.join(unknown)} in {args.csv} "
            f"(columns: {', '.join(columns)})"
        )
    if args.target in features:
        raise UsageError(f"the target {args.target!r} cannot also be a feature")
    if len(set(features)) != len(features):
        raise UsageError(f"repeated column in --features {args.features!r}")
    return features


def _fit_data(args: argparse.Namespace):
    """The feature names, ``X``, ``y`` and sample weights (or ``None``) of ``kansr fit``."""
    frame = _read_csv(args.csv)
    frame.columns = [str(c) for c in frame.columns]
    features = _fit_columns(frame, args)
    if args.weights is not None:
        if args.weights not in frame.columns:
            raise UsageError(f"weights column {args.weights!r} not in {args.csv}")
        if args.weights == args.target:
            raise UsageError("the target cannot also be the weights column")
        features = [c for c in features if c != args.weights]
    X = _numeric(frame, features, args.csv)
    y = _numeric(frame, [args.target], args.csv)[args.target]
    weights = None
    if args.weights is not None:
        weights = _numeric(frame, [args.weights], args.csv)[args.weights].to_numpy()
        if np.any(weights < 0) or not np.any(weights > 0):
            raise UsageError(f"weights column {args.weights!r} must be >= 0, not all 0")
    if len(frame) < 2:
        raise UsageError(f"{args.csv} needs at least 2 data rows, got {len(frame)}")
    return features, X, y, weights


def _fit_params(args: argparse.Namespace) -> dict:
    """The KANRegressor parameters that the options of ``kansr fit`` set."""
    params: dict = {
        "hidden_layer_sizes": args.hidden,
        "random_state": args.seed,
        "n_restarts": args.restarts,
        "n_jobs": args.jobs,
    }
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    if args.max_time is not None:
        params["max_time"] = args.max_time
    for name in ("sparsity", "model_selection", "maxsize", "verbose"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    if args.library is not None:
        from kansr.symbolic.library import make_library

        params["library"] = [name.strip() for name in args.library.split(",") if name.strip()]
        try:
            make_library(params["library"])
        except ValueError as exc:
            raise UsageError(f"--library: {exc}") from None
    return params


def _print_fit_report(est, X, y, target: str) -> None:
    """The chosen formula, its constants, the fit and the Pareto front of a fitted ``est``."""
    print(f"formula:    {target} = {est.sympy_expr()}")
    print(f"latex:      {est.latex()}")
    print(f"R^2 (train): {est.score(X, y):.6f}")
    constants = est.constants_
    if len(constants):
        shown = ", ".join(
            f"{v:.6g} ± {e:.2g}"
            for v, e in zip(constants["value"], constants["std_error"], strict=True)
        )
        print(f"constants:  {shown}")
    print(f"fit time:   {est.fit_time_:.2f} s ({est.n_iter_} steps, stopped: {est.stop_reason_})")
    print()
    print("Pareto front (* = chosen):")
    print(f"  {'complexity':>10}  {'loss':>11}  {'score':>9}  formula")
    table = est.equations_
    for i in range(len(table)):
        mark = "*" if i == est.selected_index_ else " "
        print(
            f"{mark} {int(table['complexity'].iloc[i]):>10}  {table['loss'].iloc[i]:>11.4g}  "
            f"{table['score'].iloc[i]:>9.4g}  {est.sympy_expr(i)}"
        )


def _run_fit(args: argparse.Namespace) -> int:
    from kansr import KANRegressor

    features, X, y, weights = _fit_data(args)
    est = KANRegressor(**_fit_params(args))
    print(f"data:       {len(X)} rows, features {', '.join(features)}, target {args.target}")
    sys.stdout.flush()
    est.fit(X, y, sample_weight=weights)
    _print_fit_report(est, X, y, args.target)
    if args.save is not None:
        est.save(args.save)
        print()
        print(f"saved:      {args.save}")
    return 0


def _add_predict(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict a CSV file's rows with a saved model",
        description=(
            "Load a model written by 'kansr fit --save' (or KANRegressor.save) and predict "
            "every row of a CSV file that has the model's feature columns (other columns are "
            "ignored). Prints one prediction per line, or writes a CSV with a 'prediction' "
            "column with --out."
        ),
    )
    parser.add_argument("model", help="model file written by 'kansr fit --save'")
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--out", metavar="FILE", help="write the predictions to this CSV file")
    parser.set_defaults(func=_run_predict)


def _predict_columns(est, frame, features: list[str], path: str):
    """The model's feature columns of ``frame``. Columns the selected formula does not use
    may be missing: they are filled with their training mean (never read by the formula)."""
    import pandas as pd

    missing = [n for n in features if n not in frame.columns]
    used = set(features)
    if getattr(est, "equations_", None) is not None:
        expr = est.equations_["sympy_format"].iloc[est.selected_index_]
        used = {features[int(s.name[1:])] for s in expr.free_symbols}
    needed = [n for n in missing if n in used]
    if needed:
        raise UsageError(
            f"{path} lacks the model's feature column(s) {', '.join(needed)}, which its "
            f"formula uses (it has: {', '.join(frame.columns)})"
        )
    present = _numeric(frame, [n for n in features if n in frame.columns], path)
    columns = {
        n: present[n] if n in frame.columns else np.full(len(frame), est.x_mean_[i])
        for i, n in enumerate(features)
    }
    return pd.DataFrame(columns, index=frame.index)


def _run_predict(args: argparse.Namespace) -> int:
    from kansr.io.persistence import load

    try:
        est = load(args.model)
    except FileNotFoundError:
        raise UsageError(f"model file not found: {args.model}") from None
    except IsADirectoryError:
        raise UsageError(f"{args.model} is a directory, not a model file") from None
    frame = _read_csv(args.csv)
    frame.columns = [str(c) for c in frame.columns]
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        X = _predict_columns(est, frame, [str(n) for n in names], args.csv)
    else:  # a model fitted on an array: the columns in order
        if frame.shape[1] != est.n_features_in_:
            raise UsageError(
                f"the model takes {est.n_features_in_} unnamed features; {args.csv} has "
                f"{frame.shape[1]} columns"
            )
        X = _numeric(frame, list(frame.columns), args.csv).to_numpy()
    prediction = est.predict(X)
    if args.out is not None:
        import pandas as pd

        pd.DataFrame({"prediction": prediction}).to_csv(args.out, index=False)
        print(f"wrote {len(prediction)} predictions to {args.out}")
    else:
        sys.stdout.write("".join(f"{float(v)!r}\n" for v in prediction))
    return 0


# --------------------------------------------------------------------------- main
_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_demo,
    _add_fit,
    _add_predict,
)


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
