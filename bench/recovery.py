"""Symbolic recovery benchmark on the ground-truth problems (Feynman, Strogatz, compositional).

For every problem: 1000 training and 1000 test points sampled uniformly from the ranges
(fixed seed), Gaussian noise of ``level * RMS(y_train)`` added to the training target only,
an estimator fitted with its defaults, and the result judged by SRBench's symbolic-solution
rule (:func:`kansr.benchmarks.judge.is_symbolic_solution`) and by test R^2 > 0.999. Beside
SRBench's rule, ``domain_solution`` says whether the formula equals the law (up to a constant
term or factor) on 20 test points of the problem's domain, to 30 digits (not for SRSD, whose
scales can make a missing term negligible to that precision)
(:func:`kansr.benchmarks.judge.is_equal_on_domain`): ``c*m/sqrt(c**2 - v**2)`` is the law
``m/sqrt(1 - v**2/c**2)`` for ``c > 0``, which ``sympy.simplify`` cannot prove without
assumptions. The targets are stated with SRBench's rule. Problems run in
parallel through joblib (so ``joblib.parallel_config(backend="dask")`` scales it out).

Usage::

    python bench/recovery.py --set feynman --noise 0 --n-jobs 2 --out bench/results/feynman.csv
    python bench/recovery.py --set feynman --limit 20 --markdown docs/benchmarks.md
    python bench/recovery.py --set compositional --problems C.nest.01,C.poly.01

The Feynman and Strogatz tables live in ``../shared/benchmarks`` (or
``$KANSR_SHARED/benchmarks``). The compositional set (``--set compositional``: compositions,
saturating laws, variable exponents, polynomials of degree 5 and more, named
``C.<shape>.NN``) ships with kansr in ``kansr/benchmarks/data/compositional.csv``; its summary
also gives the solution rates per shape.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kansr import KANRegressor, MetaKANRegressor  # noqa: E402
from kansr.benchmarks.judge import (  # noqa: E402
    is_equal_on_domain,
    is_symbolic_solution,
    parse_formula,
)
from kansr.symbolic.expressions import complexity as expr_complexity  # noqa: E402


def shared_dir() -> Path:
    """Folder holding the benchmark CSV files; exits with a clear message when missing."""
    base = Path(os.environ.get("KANSR_SHARED", ROOT.parent / "shared")) / "benchmarks"
    if not base.is_dir():
        sys.exit(
            f"benchmark tables not found at {base}: put shared/ beside the repo or set KANSR_SHARED"
        )
    return base


SHARED_SETS = ("feynman", "strogatz", "feynman_srsd")  # read from shared_dir()
PACKAGE_SETS = ("compositional",)  # shipped in kansr/benchmarks/data/ only
SETS = (*SHARED_SETS, *PACKAGE_SETS)


def table_path(set_name: str) -> Path:
    """The CSV file of the problem set ``set_name`` (one of :data:`SETS`)."""
    if set_name in PACKAGE_SETS:
        return ROOT / "kansr" / "benchmarks" / "data" / f"{set_name}.csv"
    if set_name in SHARED_SETS:
        return shared_dir() / f"{set_name}.csv"
    raise ValueError(f"unknown problem set {set_name!r}; choose from {list(SETS)}")


def shape_of(name: str) -> str:
    """The shape group of a compositional problem (``C.nest.03`` -> ``nest``), else ``""``."""
    parts = name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "C" else ""


_MAX_REDRAWS = 100  # SRSD: rounds of redrawing the points where the law is not finite


def srsd_column(spec: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of one variable of ``feynman_srsd.csv`` (its ``sampling_json`` entry):
    ``DefaultSampling`` |x| = 10**U(log10 low, log10 high) (uniform when not
    ``log_uniform``), ``SimpleSampling`` |x| = U(low, high), ``IntegerSampling`` a uniform
    integer in [low, high); negative when only ``negative``, a random sign when both."""
    low, high, kind = float(spec["low"]), float(spec["high"]), spec["kind"]
    if kind == "IntegerSampling":
        magnitude = rng.integers(int(low), int(high), size=size).astype(float)
    elif kind == "DefaultSampling" and spec.get("log_uniform", True):
        magnitude = 10.0 ** rng.uniform(np.log10(low), np.log10(high), size=size)
    elif kind in ("DefaultSampling", "SimpleSampling"):
        magnitude = rng.uniform(low, high, size=size)
    else:
        raise ValueError(f"unknown SRSD sampling kind {kind!r}")
    positive, negative = spec.get("positive", True), spec.get("negative", False)
    if positive and negative:
        return magnitude * rng.choice([-1.0, 1.0], size=size)
    return -magnitude if negative else magnitude


def is_srsd(row) -> bool:
    """Whether ``row`` is one of SRSD's problems (its own sampling, ``sampling_json``; laws in
    SI units, judged with :func:`kansr.benchmarks.judge.is_symbolic_solution`'s
    ``scale_free`` rounding)."""
    return isinstance(row.get("sampling_json"), str)


def make_problem(row: pd.Series, seed: int, noise: float, n: int = 1000):
    """Train/test arrays of one problem (trusted benchmark formula): uniform over
    ``ranges_json``, or SRSD's sampling (``sampling_json``, :func:`srsd_column`; points
    where the law is not finite are drawn again, as SRSD does)."""
    import sympy

    variables = row["variables"].split()
    truth = parse_formula(row["formula"], variables)
    symbols = [sympy.Symbol(v) for v in variables]
    fn = sympy.lambdify(symbols, truth, "numpy")
    srsd = is_srsd(row)
    ranges = json.loads(row["sampling_json"] if srsd else row["ranges_json"])
    rng = np.random.default_rng(seed)

    def draw(size):
        if srsd:
            return np.column_stack([srsd_column(ranges[v], size, rng) for v in variables])
        return np.column_stack([rng.uniform(*ranges[v], size=size) for v in variables])

    def law(X):
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(*X.T), dtype=float), (len(X),)).copy()

    def sample():
        X = draw(n)
        y = law(X)
        for _ in range(_MAX_REDRAWS):
            bad = ~np.isfinite(y)
            if not bad.any():
                break
            X[bad] = draw(int(bad.sum()))
            y[bad] = law(X[bad])
        return X, y

    X_train, y_train = sample()
    X_test, y_test = sample()
    if noise > 0:
        rms = float(np.sqrt(np.mean(y_train**2)))
        y_train = y_train + rng.normal(0, noise * rms, size=n)
    return truth, variables, X_train, y_train, X_test, y_test


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(1 - np.mean((pred - y) ** 2) / np.var(y))


ESTIMATORS = {"kan": KANRegressor, "metakan": MetaKANRegressor}
CONTENDER_NAMES = ("gplearn", "pykan")  # bench/contenders.py, imported only when asked for
LABELS = {
    "kan": "KANRegressor defaults",
    "metakan": "MetaKANRegressor defaults",
    "pykan": "pykan 0.2.8 README workflow (bench/contenders.py)",
    "gplearn": "gplearn SymbolicRegressor (bench/contenders.py)",
}


def _contenders():
    """``bench/contenders.py`` (next to this file; imported lazily: not a kansr module)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import contenders

    return contenders


DOMAIN_POINTS = 20  # test rows on which is_equal_on_domain compares model and truth


def domain_solution(
    row, model, truth, Xt: np.ndarray, variables, r2: float, symbolic: bool
) -> float:
    """:func:`is_equal_on_domain` on the first test rows (1.0 or 0.0; 1.0 for a
    ``symbolic`` solution by SRBench's rule); NaN for SRSD's problems, whose variables and
    constants span tens of decades: there a term can be negligible to 30 digits on the whole
    domain (``L**2/(2*m*r**2)`` beside ``E_n - U``), so equality of values does not show
    that the law was found."""
    if is_srsd(row):
        return float("nan")
    if symbolic:
        return 1.0
    points = Xt[:DOMAIN_POINTS]
    return float(is_equal_on_domain(model, truth, points, variables, r2, check_symbolic=False))


def make_estimator(name: str, params: dict, seed: int):
    """The estimator called ``name`` (see ``--estimator``) with ``random_state=seed``."""
    if name in ESTIMATORS:
        return ESTIMATORS[name](**params, random_state=seed)
    return _contenders().CONTENDERS[name][0](**params, random_state=seed)


def run_problem(row: dict, seed: int, noise: float, params: dict, estimator: str = "kan") -> dict:
    """Fit and judge one problem with ``ESTIMATORS[estimator]``; never raises (errors recorded)."""
    import sympy

    row = pd.Series(row)
    result = {"name": row["name"], "noise": noise, "seed": seed, "estimator": estimator}
    try:
        truth, variables, X, y, Xt, yt = make_problem(row, seed, noise)
        start = time.perf_counter()
        est = make_estimator(estimator, params, seed).fit(pd.DataFrame(X, columns=variables), y)
        result["fit_time"] = time.perf_counter() - start
        model = est.sympy_expr()
        network_r2 = (
            _r2(est.predict_network(pd.DataFrame(Xt, columns=variables)), yt)
            if hasattr(est, "predict_network")
            else np.nan
        )
        symbols = [sympy.Symbol(v, real=True) for v in variables]
        pred = sympy.lambdify(symbols, model, "numpy")(*Xt.T)
        pred = np.broadcast_to(np.asarray(pred, dtype=float), yt.shape)
        r2 = (
            float(1 - np.mean((pred - yt) ** 2) / np.var(yt))
            if np.all(np.isfinite(pred))
            else -np.inf
        )
        # the judge compares expressions in the benchmark's own (plain) symbols
        plain = model.xreplace({s: sympy.Symbol(s.name) for s in model.free_symbols})
        symbolic = bool(is_symbolic_solution(plain, truth, r2=r2, scale_free=is_srsd(row)))
        result.update(
            r2=r2,
            network_r2=network_r2,
            symbolic_solution=symbolic,
            domain_solution=domain_solution(row, plain, truth, Xt, variables, r2, symbolic),
            accuracy_solution=bool(r2 > 0.999),
            complexity=(
                int(est.equations_["complexity"].iloc[est.selected_index_])
                if hasattr(est, "equations_")
                else expr_complexity(model)
            ),
            formula=str(model),
            error="",
        )
    except Exception as exc:  # noqa: BLE001 - a benchmark records failures, it does not stop
        result.update(
            r2=np.nan,
            symbolic_solution=False,
            domain_solution=0.0,
            accuracy_solution=False,
            error=f"{type(exc).__name__}: {exc}",
        )
    return result


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per noise level: problems, symbolic-solution % (SRBench's rule, and equality on the
    domain), R^2>0.999 %, median fit time, errors."""
    columns = {
        "problems": ("name", "count"),
        "symbolic_solution_pct": ("symbolic_solution", lambda s: 100 * s.mean()),
        "domain_solution_pct": ("domain_solution", lambda s: 100 * s.astype(float).mean()),
        "accuracy_solution_pct": ("accuracy_solution", lambda s: 100 * s.mean()),
        "median_fit_time_s": ("fit_time", "median"),
        "errors": ("error", lambda s: int((s != "").sum())),
    }
    present = {k: v for k, v in columns.items() if v[0] in df.columns}  # runs before the column
    return df.groupby("noise").agg(**present).round(1)


def shape_summary(df: pd.DataFrame) -> pd.DataFrame | None:
    """Per shape group and noise level (compositional set): problems and solution rates."""
    shapes = df["name"].map(shape_of)
    if not (shapes != "").all():
        return None
    return (
        df.assign(shape=shapes)
        .groupby(["shape", "noise"])
        .agg(
            problems=("name", "count"),
            symbolic_solution_pct=("symbolic_solution", lambda s: 100 * s.mean()),
            accuracy_solution_pct=("accuracy_solution", lambda s: 100 * s.mean()),
        )
        .round(1)
    )


def _markdown(frame: pd.DataFrame) -> str:
    """A Markdown table of ``frame`` with its index (no extra dependency)."""
    cols = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in frame.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.to_list()]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        choices=SETS,
        default="feynman",
        help="feynman, strogatz, feynman_srsd (from ../shared/benchmarks) or compositional "
        "(shipped with kansr)",
    )
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--problems", default=None, help="comma-separated problem names only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--estimator",
        choices=sorted([*ESTIMATORS, *CONTENDER_NAMES]),
        default="kan",
        help="kan: KANRegressor(), metakan: MetaKANRegressor() (defaults); pykan: pykan 0.2.8's "
        "README workflow, gplearn: SymbolicRegressor (see bench/contenders.py; installed "
        "separately)",
    )
    parser.add_argument(
        "--params",
        default="{}",
        help="JSON of estimator parameters, e.g. '{\"search_structure\": false}' (the network "
        "path alone)",
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="CSV of every result")
    parser.add_argument("--markdown", default=None, help="append the summary to this file")
    args = parser.parse_args(argv)
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        parser.error(f"--params is not JSON: {exc}")
    if not isinstance(params, dict):
        parser.error("--params must be a JSON object")
    if args.estimator in CONTENDER_NAMES:
        contenders = _contenders()
        _, module, hint = contenders.CONTENDERS[args.estimator]
        contenders.require(module, hint)

    table = pd.read_csv(table_path(args.set))
    if args.problems:
        wanted = args.problems.split(",")
        unknown = sorted(set(wanted) - set(table["name"]))
        if unknown:
            parser.error(f"unknown problem(s) for --set {args.set}: {', '.join(unknown)}")
        table = table[table["name"].isin(wanted)]
    if args.limit:
        table = table.head(args.limit)
    jobs = [(row, args.seed, level) for level in args.noise for row in table.to_dict("records")]
    start = time.perf_counter()
    results = []
    for result in Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(run_problem)(row, seed, level, params, args.estimator) for row, seed, level in jobs
    ):
        results.append(result)
        print(
            f"[{len(results)}/{len(jobs)}] {result['name']} noise={result['noise']} "
            f"r2={result.get('r2', float('nan')):.4f} solved={result['symbolic_solution']} "
            f"time={result.get('fit_time', float('nan')):.1f}s {result.get('error', '')}",
            flush=True,
        )
    wall = time.perf_counter() - start
    df = pd.DataFrame(results)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    summ = summary(df)
    by_shape = shape_summary(df)
    command = "python bench/recovery.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        f"### Recovery: {args.set} ({len(table)} problems), "
        f"{LABELS[args.estimator]}{f' with {params}' if params else ''}\n\n"
        f"- command: `{command}`\n- wall time: {wall:.0f} s with n_jobs={args.n_jobs}\n\n"
        + _markdown(summ)
        + "\n"
    )
    if by_shape is not None:
        by_shape.index = [f"{shape} {noise}" for shape, noise in by_shape.index]
        by_shape.index.name = "shape noise"
        text += "\n" + _markdown(by_shape) + "\n"
    print(text)
    print(df[["name", "noise", "r2", "symbolic_solution", "fit_time", "formula"]].to_string())
    if args.markdown:
        with open(args.markdown, "a") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
