#!/usr/bin/env python
"""MetaKAN vs KAN side by side: trainable parameters, test RMSE and peak training memory.

Problem: 20 inputs uniform on [-1, 1], the smooth target
``f(x) = sum_i c_i sin(w_i x_i) + 0.5 sum_j x_{2j} x_{2j+1}`` (``c_i`` in [0.5, 1.5] and ``w_i``
in [1, 3] drawn once with seed 123), no noise; ``--n-train`` training and ``--n-test`` test
points. Both estimators use width ``[20, 64, 64, 1]``, grid 10, k 3, float64, their default
training and ``symbolic=False``: ``KANRegressor`` and ``MetaKANRegressor`` (default
``meta_sharing="shared"``, no grid updates); ``--contenders`` adds ``metakan-layer``,
``metakan-cluster`` and ``metakan-grid-updates`` (the KAN's grid-update schedule).

Memory, per model:

* exact bytes of the trainable parameters, their gradients and the optimizer state: the state
  is read from the tensors of the optimizer that ``kansr.nn.training.train`` builds, run from a
  fresh initialisation until LBFGS's history is full (its size does not depend on the number
  of samples);
* the process RSS increase during ``fit`` (``ru_maxrss`` after minus the RSS before), each
  model in its own child process (this script with ``--only NAME``), started before the parent
  imports torch, so the numbers do not mix.

Run ``python bench/metakan.py --help`` for the options; see ``bench/README.md``.
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
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
if str(REPO) not in sys.path:  # benchmark the checkout, installed or not
    sys.path.insert(0, str(REPO))

N_INPUTS = 20
HIDDEN = (64, 64)
GRID = 10
RESULT_MARK = "METAKAN_BENCH_RESULT "
CONTENDERS = {
    "kan": ("KANRegressor", {}),
    "metakan": ("MetaKANRegressor", {}),
    "metakan-layer": ("MetaKANRegressor", {"meta_sharing": "layer"}),
    "metakan-cluster": ("MetaKANRegressor", {"meta_sharing": "cluster"}),
    "metakan-grid-updates": ("MetaKANRegressor", {"grid_update_until": 50}),
}
NAMES = {
    "kan": "KAN (KANRegressor)",
    "metakan": "MetaKAN, shared meta-learner",
    "metakan-layer": "MetaKAN, one meta-learner per layer",
    "metakan-cluster": "MetaKAN, clustered meta-learners",
    "metakan-grid-updates": "MetaKAN, shared, grid updates as the KAN's (every 5 steps to 50)",
}
QUICK = {"n_train": 200, "n_test": 200, "hidden": (8, 8), "grid": 5, "max_iter": 3}


# ----------------------------------------------------------------------------- problem
def target(X):
    """The known smooth target of ``X (n, 20)``: ``(n,)``."""
    import numpy as np

    rng = np.random.default_rng(123)
    c = rng.uniform(0.5, 1.5, N_INPUTS)
    w = rng.uniform(1.0, 3.0, N_INPUTS)
    return (c * np.sin(w * X)).sum(1) + 0.5 * (X[:, 0::2] * X[:, 1::2]).sum(1)


def make_data(n: int, seed: int):
    """``X (n, 20)`` uniform on [-1, 1] and ``y = target(X)``."""
    import numpy as np

    X = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, N_INPUTS))
    return X, target(X)


# ----------------------------------------------------------------------------- child
def rss_now_kib() -> int:
    """Current resident set size in KiB (Linux /proc; falls back to ru_maxrss)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return peak_rss_kib()


def peak_rss_kib() -> int:
    """Peak resident set size of this process in KiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


def tensor_bytes(obj) -> int:
    """Bytes of every tensor in ``obj`` (nested dicts, lists and tuples)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def optimizer_state_bytes(est, X, y, steps: int = 4) -> tuple[int, int]:
    """Peak bytes of the optimizer state ``train`` would hold for ``est``'s network.

    The optimizer is built as ``kansr.nn.training.train`` builds it (the estimator's
    configuration) for a freshly initialised network of the fitted one's architecture, and
    runs ``steps`` steps on (at most 512 of) the training points: from a fresh start LBFGS
    makes progress (10 iterations a step), so its 20-pair history fills, which a network
    already at a minimum would not do. The state's size does not depend on the number of
    samples. Returns the bytes and the number of LBFGS history pairs then held (0 for Adam).
    """
    from kansr.nn.training import _make_optimizer, _objective

    cfg = est._train_config()
    lr = cfg.learning_rate or (1.0 if cfg.solver == "lbfgs" else 1e-2)
    module = est._build_module([est.n_features_in_, *est._hidden_sizes(), 1], 0)
    x = est._torch((X[:512] - est.x_mean_) / est.x_scale_)
    t = est._torch(((y[:512] - est.y_mean_) / est.y_scale_)[:, None])
    optimizer = _make_optimizer(module, cfg, lr)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = _objective(module, x, t, cfg)
        loss.backward()
        return loss

    peak, pairs = 0, 0
    for _ in range(steps):
        optimizer.step(closure)
        size = tensor_bytes(list(optimizer.state.values()))
        if size > peak:
            peak = size
            pairs = max((len(v.get("old_dirs", [])) for v in optimizer.state.values()), default=0)
    return peak, pairs


def child(name: str, args) -> dict:
    """Fit one contender in this (fresh) process and measure it."""
    import numpy as np
    import torch

    import kansr
    from kansr.utils.allocator import tune_allocator

    tuned = tune_allocator()
    torch.set_num_threads(args.threads)
    X, y = make_data(args.n_train, seed=0)
    X_test, y_test = make_data(args.n_test, seed=1)
    cls_name, extra = CONTENDERS[name]
    params = {
        "hidden_layer_sizes": tuple(args.hidden),
        "grid": args.grid,
        "symbolic": False,
        "random_state": 0,
        **({"max_iter": args.max_iter} if args.max_iter else {}),
        **extra,
    }
    est = getattr(kansr, cls_name)(**params)
    rss_before, maxrss_before = rss_now_kib(), peak_rss_kib()
    start = time.perf_counter()
    est.fit(X, y)
    fit_time = time.perf_counter() - start
    peak = peak_rss_kib()
    module = est.meta_module_ if hasattr(est, "meta_module_") else est.module_
    trainable = [p for p in module.parameters() if p.requires_grad]
    param_bytes = sum(p.numel() * p.element_size() for p in trainable)
    rmse = float(np.sqrt(np.mean((est.predict(X_test) - y_test) ** 2)))
    train_rmse = float(np.sqrt(np.mean((est.predict(X) - y) ** 2)))
    state_bytes, history_pairs = optimizer_state_bytes(est, X, y)
    return {
        "name": name,
        "params": sum(p.numel() for p in trainable),
        "param_bytes": param_bytes,
        "grad_bytes": param_bytes,  # one gradient per trainable scalar, same dtype
        "state_bytes": state_bytes,
        "history_pairs": history_pairs,
        "test_rmse": rmse,
        "train_rmse": train_rmse,
        "y_test_std": float(np.std(y_test)),
        "fit_time": fit_time,
        "n_iter": int(est.n_iter_),
        "stop_reason": est.stop_reason_,
        "solver": est.solver,
        "rss_before_mib": rss_before / 1024,
        "maxrss_before_mib": maxrss_before / 1024,
        "peak_mib": peak / 1024,
        "increase_mib": max(peak - rss_before, 0) / 1024,
        "allocator_tuned": tuned,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "estimator": f"{cls_name}({', '.join(f'{k}={v!r}' for k, v in params.items())})",
    }


def run_children(args, names: list[str]) -> list[dict]:
    """Fit each contender in a fresh child process, one after the other."""
    results = []
    for name in names:
        log(f"{name}: fitting in a child process")
        cmd = [sys.executable, str(SCRIPT), "--only", name, *child_flags(args)]
        with tempfile.TemporaryDirectory(prefix="kansr-bench-") as tmp:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            results.append({"name": name, "error": f"rc={proc.returncode}: " + " | ".join(tail)})
            continue
        results.append(json.loads(lines[-1][len(RESULT_MARK) :]))
        log(f"{name}: done in {results[-1]['fit_time']:.0f} s")
    return results


def child_flags(args) -> list[str]:
    flags = ["--threads", str(args.threads), "--n-train", str(args.n_train)]
    flags += ["--n-test", str(args.n_test), "--grid", str(args.grid)]
    flags += ["--hidden", *map(str, args.hidden)]
    if args.max_iter:
        flags += ["--max-iter", str(args.max_iter)]
    return flags


def log(msg: str) -> None:
    print(f"[metakan bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- report
def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "–"
    return f"{a / b:.3g}×"


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.3f}"


def results_table(results: list[dict]) -> str:
    ok = {r["name"]: r for r in results if "params" in r}
    ref = ok.get("kan", {})
    lines = [
        "| model | trainable params | test RMSE | train RMSE | params + grads + optimizer "
        "state MiB | RSS increase MiB | fit s | steps | params vs KAN | RMSE vs KAN "
        "| exact memory vs KAN | RSS increase vs KAN |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for r in results:
        name = NAMES.get(r["name"], r["name"])
        if "params" not in r:
            lines.append(f"| {name} | – | – | – | – | – | – | – | – | – | – | – |")
            notes.append(f"- {name}: {r.get('error')}")
            continue
        exact = r["param_bytes"] + r["grad_bytes"] + r["state_bytes"]
        ref_exact = ref and ref["param_bytes"] + ref["grad_bytes"] + ref["state_bytes"]
        lines.append(
            f"| {name} | {r['params']:,} | {r['test_rmse']:.4f} | {r['train_rmse']:.4f} "
            f"| {_mib(exact)} | {r['increase_mib']:.0f} | {r['fit_time']:.0f} "
            f"| {r['n_iter']} ({r['stop_reason']}) "
            f"| {_ratio(r['params'], ref.get('params'))} "
            f"| {_ratio(r['test_rmse'], ref.get('test_rmse'))} "
            f"| {_ratio(exact, ref_exact)} "
            f"| {_ratio(r['increase_mib'], ref.get('increase_mib'))} |"
        )
        if r["maxrss_before_mib"] > r["rss_before_mib"] + 32:
            notes.append(
                f"- {name}: ru_maxrss was already {r['maxrss_before_mib']:.0f} MiB before fit "
                f"(RSS {r['rss_before_mib']:.0f} MiB): the increase is a lower bound"
            )
    return "\n".join(lines + ([""] + notes if notes else []))


def memory_table(results: list[dict]) -> str:
    lines = [
        "| model | parameters B | gradients B | optimizer state B | LBFGS history pairs "
        "| peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if "params" in r:
            lines.append(
                f"| {NAMES.get(r['name'], r['name'])} | {r['param_bytes']:,} "
                f"| {r['grad_bytes']:,} | {r['state_bytes']:,} | {r['history_pairs']} "
                f"| {r['peak_mib']:.0f} |"
            )
    return "\n".join(lines)


def targets_table(results: list[dict]) -> str:
    ok = {r["name"]: r for r in results if "params" in r}
    kan, meta = ok.get("kan"), ok.get("metakan")
    if kan is None or meta is None:
        return "(targets need both the kan and the metakan rows)"

    def exact(r):
        return r["param_bytes"] + r["grad_bytes"] + r["state_bytes"]

    rows = [
        ("trainable parameters ≤ 1/10 of the KAN's", meta["params"] / kan["params"], 0.1),
        ("test RMSE within 1.5× of the KAN's", meta["test_rmse"] / kan["test_rmse"], 1.5),
        ("params + grads + optimizer state lower", exact(meta) / exact(kan), 1.0),
        (
            "process RSS increase during fit lower",
            meta["increase_mib"] / max(kan["increase_mib"], 1e-9),
            1.0,
        ),
    ]
    lines = ["| target (shared MetaKAN / KAN) | ratio | met |", "| --- | ---: | --- |"]
    for label, ratio, bound in rows:
        met = ratio <= bound if bound != 1.0 else ratio < bound
        lines.append(f"| {label} | {ratio:.3g} | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def header(args, argv: list[str], results: list[dict]) -> str:
    cmd = " ".join(["python", os.path.relpath(SCRIPT, REPO), *argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ok = [r for r in results if "params" in r]
    torch_version = ok[0]["torch"] if ok else "?"
    lines = [
        f"- command: `{cmd}`",
        f"- date: {now}",
        f"- torch {torch_version}, python {platform.python_version()}, threads {args.threads}, "
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"- problem: 20 inputs U(-1, 1), f = Σ c_i sin(w_i x_i) + 0.5 Σ x_2j x_2j+1, "
        f"{args.n_train} training / {args.n_test} test points (test std of y "
        f"{ok[0]['y_test_std']:.3f})"
        if ok
        else "- problem: see bench/metakan.py",
        f"- width [{N_INPUTS}, {', '.join(map(str, args.hidden))}, 1], grid {args.grid}, k 3, "
        "float64, symbolic=False, random_state=0; each model in its own child process",
    ]
    lines += [f"- `{r['name']}`: `{r['estimator']}`, solver {r['solver']}" for r in ok]
    return "\n".join(lines)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform's best guess)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=3000, help="training points (3000)")
    p.add_argument("--n-test", type=int, default=2000, help="test points (2000)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN), help="(64 64)")
    p.add_argument("--grid", type=int, default=GRID, help=f"grid intervals ({GRID})")
    p.add_argument("--max-iter", type=int, default=0, help="optimizer steps (0: estimator default)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    p.add_argument(
        "--contenders",
        default="kan,metakan",
        help=f"comma-separated, from {', '.join(CONTENDERS)} (kan,metakan)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 200 points, width [20, 8, 8, 1], grid 5, 3 steps",
    )
    p.add_argument("--markdown", metavar="PATH", help="append the report to PATH")
    p.add_argument("--only", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test = QUICK["n_train"], QUICK["n_test"]
        args.hidden, args.grid, args.max_iter = list(QUICK["hidden"]), QUICK["grid"], 3
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown or not names:
        p.error(f"unknown contenders {unknown}; choose from {list(CONTENDERS)}")
    args.names = names
    if min(args.n_train, args.n_test, args.threads, args.grid) < 1:
        p.error("--n-train, --n-test, --threads and --grid must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.only:
        print(RESULT_MARK + json.dumps(child(args.only, args)), flush=True)
        return 0
    results = run_children(args, args.names)  # before this process imports torch
    report = "\n".join(
        [
            "## MetaKAN vs KAN: parameters, accuracy, training memory",
            "",
            header(args, argv, results),
            "",
            "### Against the MetaKAN issue's targets (a)",
            "",
            targets_table(results),
            "",
            "### Results",
            "",
            results_table(results),
            "",
            "Exact memory: trainable parameters + their gradients + the optimizer state (LBFGS "
            "with the history pairs shown, from a fresh start). RSS increase: `ru_maxrss` after "
            "`fit` minus the RSS just before, in the model's own process; it includes the "
            "activations, the generated weights and `train`'s state snapshots.",
            "",
            memory_table(results),
        ]
    )
    print(report, flush=True)
    if args.markdown:
        path = Path(args.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_text() if path.exists() else ""
        sep = "" if not existing else ("\n" if existing.endswith("\n") else "\n\n")
        with path.open("a") as fh:
            fh.write(sep + report + "\n")
        log(f"appended to {path}")
    return 0 if all("params" in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
