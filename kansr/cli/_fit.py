"""``kansr fit``: fit a formula to the columns of a CSV file."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from kansr.cli._common import (
    UsageError,
    _int_at_least,
    _int_list,
    _nonnegative_float,
    _nonzero_int,
    _numeric,
    _positive_float,
    _read_csv,
)
from kansr.symbolic.pareto import SELECTION_RULES


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
        "--mult",
        type=_int_at_least(0),
        default=0,
        metavar="N",
        help="multiplication nodes added to each hidden layer (default: 0)",
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
        choices=SELECTION_RULES,
        default=None,
        help="how the formula is chosen from the Pareto front (default: bic; cv: checked "
        "by cross-validation on at most 200 rows)",
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
    parser.add_argument(
        "--units",
        action="append",
        default=None,
        metavar="COL=UNIT",
        help="units of a feature or of the target, e.g. speed=mph dist=ft (repeatable; "
        "formulas are then dimensionally consistent: see KANRegressor's X_units)",
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=None,
        metavar="LAYER,I,O,F",
        help="read edge (LAYER, I, O) of the network as function F, e.g. 0,1,0,sin for the "
        "edge from the second feature (repeatable; see KANRegressor's pinned_edges)",
    )


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
    if args.mult:
        params["multiplication_nodes"] = args.mult
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
    if args.pin:
        params["pinned_edges"] = [_pin(text) for text in args.pin]
    return params


def _units(args: argparse.Namespace, features: list[str]) -> dict:
    """``X_units`` and ``y_units`` of the ``--units COL=UNIT`` options (none: ``{}``);
    :class:`UsageError` for a column that is neither a feature nor the target, or a unit
    that cannot be read."""
    if not args.units:
        return {}
    from kansr.symbolic.units import parse_unit

    x_units, y_units = {}, None
    for text in args.units:
        column, sep, unit = text.partition("=")
        column = column.strip()
        if not sep or column not in (*features, args.target):
            raise UsageError(
                f"--units {text!r}: expected COL=UNIT with COL a feature or the target "
                f"({', '.join([*features, args.target])})"
            )
        try:
            parse_unit(unit)
        except ValueError as exc:
            raise UsageError(f"--units {text!r}: {exc}") from None
        if column == args.target:
            y_units = unit
        else:
            x_units[column] = unit
    return {"X_units": x_units or None, "y_units": y_units}


def _pin(text: str) -> tuple[int, int, int, str]:
    """``(layer, i, o, name)`` of ``--pin LAYER,I,O,F``; :class:`UsageError` when malformed
    (the estimator checks the edge and the name against the network before training)."""
    fields = [f.strip() for f in text.split(",")]
    try:
        if len(fields) != 4:
            raise ValueError
        return int(fields[0]), int(fields[1]), int(fields[2]), fields[3]
    except ValueError:
        raise UsageError(f"--pin {text!r}: expected LAYER,I,O,F such as 0,1,0,sin") from None


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
    est = KANRegressor(**_fit_params(args), **_units(args, features))
    print(f"data:       {len(X)} rows, features {', '.join(features)}, target {args.target}")
    sys.stdout.flush()
    est.fit(X, y, sample_weight=weights)
    _print_fit_report(est, X, y, args.target)
    if args.save is not None:
        est.save(args.save)
        print()
        print(f"saved:      {args.save}")
    return 0
