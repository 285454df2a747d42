"""``kansr predict``: predict a CSV file's rows with a saved model."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from kansr.cli._common import UsageError, _numeric, _read_csv


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
