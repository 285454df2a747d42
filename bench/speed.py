#!/usr/bin/env python
"""Side-by-side speed benchmark: kansr KAN vs pykan 0.2.8 MultKAN vs a parameter-matched MLP.

(a) Training step time: ``zero_grad + forward + loss + backward + Adam step`` on a batch of
    1024, float32, width ``[8, 64, 64, 1]``, grid 10, k 3; median over ``--steps`` steps after a
    warm-up, with ``torch.set_num_threads(--threads)``.
(b) Grid update on 8192 samples: wall time and peak memory of kansr's ``KAN.update_grid`` and
    pykan's ``MultKAN.update_grid``, each measured in its own child process (this script run
    with the internal ``--only NAME`` flag) so the contenders do not contaminate each other.

The children run before the parent imports torch: a child started with vfork inherits the
parent's peak RSS in ``ru_maxrss`` at ``exec``, so the parent must still be small then.

pykan is optional (it is not a kansr dependency); without it the pykan rows are skipped.
Run ``python bench/speed.py --help`` for the options; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
if str(REPO) not in sys.path:  # benchmark the checkout, installed or not
    sys.path.insert(0, str(REPO))

WIDTH = (8, 64, 64, 1)
GRID = 10
K = 3
BATCH = 1024
GRID_SAMPLES = 8192
LR = 1e-3
PENALTY_WEIGHT = 1e-3  # loss = mse + PENALTY_WEIGHT * penalty, for kansr and pykan alike
LAMB_L1, LAMB_ENTROPY = 1.0, 2.0
PYKAN_VERSION = "0.2.8"
PYKAN_HINT = (
    f"pykan {PYKAN_VERSION} not installed: pip install pykan=={PYKAN_VERSION} "
    "(with --no-deps, plus numpy scikit-learn sympy pandas matplotlib pyyaml tqdm) "
    "into the benchmark environment; skipping pykan rows"
)
RESULT_MARK = "SPEED_BENCH_RESULT "
GRID_CONTENDERS = ("kansr", "pykan")

TRAIN_NAMES = {
    "kansr": "kansr KAN, uniform grid",
    "kansr-nonuniform": "kansr KAN, grid updated (non-uniform knots)",
    "kansr-penalty": "kansr KAN + exact sparsity penalty",
    "pykan-fast": "pykan MultKAN, speed() mode, no reg",
    "pykan-reg": "pykan MultKAN, fit(lamb>0) step",
    "pykan-reg-symbolic": "pykan MultKAN, fit(lamb>0) step, symbolic branch on",
    "mlp": "MLP {width}, SiLU",
}
GRID_NAMES = {"kansr": "kansr KAN.update_grid", "pykan": "pykan MultKAN.update_grid"}


# ----------------------------------------------------------------------------- environment
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


@contextlib.contextmanager
def in_tempdir() -> Iterator[str]:
    """Run inside a throw-away working directory (pykan may write ./model, ./figures...)."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="kansr-bench-") as tmp:
        os.chdir(tmp)
        try:
            yield tmp
        finally:
            os.chdir(old)


def pykan_status() -> tuple[bool, str]:
    """Whether pykan looks installed (without importing it) and its version or a hint."""
    if importlib.util.find_spec("kan") is None:
        return False, PYKAN_HINT
    try:
        version = importlib.metadata.version("pykan")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return True, version


def load_pykan():
    """Import pykan's ``kan`` package; return ``(module, None)`` or ``(None, message)``."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # pykan imports matplotlib.pyplot
    try:
        with in_tempdir():
            import kan
    except Exception as exc:  # ImportError, or a missing dependency of pykan's own imports
        return None, f"{PYKAN_HINT} (import failed: {type(exc).__name__}: {exc})"
    missing = [
        name
        for name in ("speed", "disable_symbolic_in_fit", "get_reg", "update_grid")
        if not hasattr(kan.MultKAN, name)
    ]
    if missing:
        return None, f"installed pykan lacks MultKAN.{', '.join(missing)}; skipping pykan rows"
    return kan, None


# ----------------------------------------------------------------------------- models
def mlp_param_count(width: list[int]) -> int:
    return sum(a * b + b for a, b in zip(width[:-1], width[1:], strict=False))


def mlp_hidden_width(n_target: int) -> int:
    """Width h of ``[in, h, h, out]`` whose parameter count is closest to ``n_target``."""
    n_in, n_out = WIDTH[0], WIDTH[-1]
    return min(
        range(1, 4096),
        key=lambda h: abs(mlp_param_count([n_in, h, h, n_out]) - n_target),
    )


def trainable(model, exclude_prefix: str | None = None) -> int:
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.requires_grad and not (exclude_prefix and name.startswith(exclude_prefix))
    )


def make_data(n: int, seed: int, normal: bool = False):
    """Inputs ``(n, 8)`` (uniform on [-1, 1], or standard normal) and a smooth target."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    if normal:
        x = torch.randn(n, WIDTH[0], generator=gen)
    else:
        x = torch.rand(n, WIDTH[0], generator=gen) * 2 - 1
    y = torch.sin(torch.pi * x[:, :1]) + x[:, 1:2] * x[:, 2:3] + 0.5 * x[:, 3:4] ** 2
    return x, y


# ----------------------------------------------------------------------------- (a) training
def time_steps(step: Callable[[], object], n_steps: int, n_warmup: int) -> list[float]:
    """Wall time in ms of ``n_steps`` calls of ``step`` after ``n_warmup`` untimed ones."""
    for _ in range(n_warmup):
        step()
    gc.collect()
    times = []
    for _ in range(n_steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def adam_step(model, loss_fn: Callable[[], object]) -> Callable[[], object]:
    """zero_grad + forward/loss (``loss_fn``) + backward + Adam step."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    return step


def pykan_fit_step(model, x, y, lamb: float) -> Callable[[], object]:
    """One Adam iteration of pykan 0.2.8 ``MultKAN.fit(opt="Adam", lamb=lamb)`` (training part).

    Mirrors MultKAN.py ``fit``: ``self.get_params()`` into ``torch.optim.Adam``; per step
    ``forward(x, singularity_avoiding=False, y_th=1000.)``, ``mean((pred - y)**2)``, and when
    ``self.save_act``: ``get_reg('edge_forward_spline_n', lamb_l1, lamb_entropy, lamb_coef,
    lamb_coefdiff)``; ``loss = train_loss + lamb * reg_``; zero_grad, backward, step. fit's
    extra per-step work (random batch indexing, a test-set forward, logging) is not timed.
    """
    import torch

    opt = torch.optim.Adam(model.get_params(), lr=LR)

    def step():
        pred = model.forward(x, singularity_avoiding=False, y_th=1000.0)
        train_loss = torch.mean((pred - y) ** 2)
        if model.save_act:
            reg = model.get_reg("edge_forward_spline_n", LAMB_L1, LAMB_ENTROPY, 0.0, 0.0)
        else:
            reg = torch.tensor(0.0)
        loss = train_loss + lamb * reg
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def _row(key: str, times: list[float], params: str, n_params: int, note: str = "") -> dict:
    return {
        "key": key,
        "ms": statistics.median(times),
        "min_ms": min(times),
        "steps": len(times),
        "params": params,
        "n_params": n_params,
        "note": note,
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_rows(args, kan) -> list[dict]:
    """Time every training contender in this process; ``kan`` is pykan or None."""
    import torch
    import torch.nn.functional as F

    from kansr.nn.network import KAN

    x, y = make_data(BATCH, seed=0)
    rows = []

    def run(key, model, loss_fn, n_steps, n_warmup, params=None, n_params=None, note=""):
        log(f"timing {key}: {n_warmup} warm-up + {n_steps} steps")
        n = trainable(model) if n_params is None else n_params
        times = time_steps(adam_step(model, loss_fn), n_steps, n_warmup)
        rows.append(_row(key, times, params or f"{n:,}", n, note))

    kansr_model = KAN(list(WIDTH), grid=GRID, k=K, seed=0)
    n_kansr = kansr_model.n_parameters()
    run("kansr", kansr_model, lambda: F.mse_loss(kansr_model(x), y), args.steps, args.warmup)

    xn, yn = make_data(BATCH, seed=1, normal=True)
    nonuni = KAN(list(WIDTH), grid=GRID, k=K, seed=0)
    nonuni.update_grid(xn)  # quantile knots on every layer, as after training starts
    run(
        "kansr-nonuniform",
        nonuni,
        lambda: F.mse_loss(nonuni(xn), yn),
        args.steps,
        args.warmup,
        note="update_grid on N(0,1) inputs, trained on them",
    )

    pen = KAN(list(WIDTH), grid=GRID, k=K, seed=0)

    def penalised():
        out, penalty = pen.forward_with_penalty(x, lamb_l1=LAMB_L1, lamb_entropy=LAMB_ENTROPY)
        return F.mse_loss(out, y) + PENALTY_WEIGHT * penalty

    run("kansr-penalty", pen, penalised, args.steps, args.warmup)

    if kan is not None:
        with in_tempdir():
            fast = kan.MultKAN(
                width=list(WIDTH),
                grid=GRID,
                k=K,
                seed=0,
                auto_save=False,
                symbolic_enabled=False,
            ).speed()  # symbolic_enabled=False, save_act=False, auto_save=False
            n_sym = trainable(fast) - trainable(fast, exclude_prefix="symbolic_fun")
            n_pk = trainable(fast, exclude_prefix="symbolic_fun")
            pk_params = f"{n_pk:,} (+{n_sym:,} symbolic)"
            run(
                "pykan-fast",
                fast,
                lambda: torch.mean((fast(x) - y) ** 2),
                args.steps,
                args.warmup,
                params=pk_params,
                n_params=n_pk,
            )
            # fit(lamb>0) as pykan trains it: save_act stays True; disable_symbolic_in_fit
            # turns the symbolic branch off because no edge has a symbolic function fixed.
            reg = kan.MultKAN(width=list(WIDTH), grid=GRID, k=K, seed=0, auto_save=False)
            reg.disable_symbolic_in_fit(PENALTY_WEIGHT)
            log(f"timing pykan-reg: {args.slow_warmup} warm-up + {args.slow_steps} steps")
            times = time_steps(
                pykan_fit_step(reg, x, y, PENALTY_WEIGHT), args.slow_steps, args.slow_warmup
            )
            note = f"save_act={reg.save_act}, symbolic_enabled={reg.symbolic_enabled}"
            rows.append(_row("pykan-reg", times, pk_params, n_pk, note))
            if not args.no_symbolic_row:
                # Same step with the symbolic branch evaluated (fit keeps it on as soon as
                # any edge is fixed symbolic, e.g. during auto_symbolic workflows).
                sym = kan.MultKAN(width=list(WIDTH), grid=GRID, k=K, seed=0, auto_save=False)
                log(
                    f"timing pykan-reg-symbolic: {args.slow_warmup} warm-up + "
                    f"{args.slow_steps} steps"
                )
                times = time_steps(
                    pykan_fit_step(sym, x, y, PENALTY_WEIGHT),
                    args.slow_steps,
                    args.slow_warmup,
                )
                note = f"save_act={sym.save_act}, symbolic_enabled={sym.symbolic_enabled}"
                rows.append(_row("pykan-reg-symbolic", times, pk_params, n_pk, note))

    h = mlp_hidden_width(n_kansr)
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(WIDTH[0], h),
        torch.nn.SiLU(),
        torch.nn.Linear(h, h),
        torch.nn.SiLU(),
        torch.nn.Linear(h, WIDTH[-1]),
    )
    run(
        "mlp",
        mlp,
        lambda: F.mse_loss(mlp(x), y),
        args.steps,
        args.warmup,
        note=f"hidden width {h} matches kansr's {n_kansr:,} parameters",
    )
    rows[-1]["width"] = [WIDTH[0], h, h, WIDTH[-1]]
    return rows


# ----------------------------------------------------------------------------- (b) grid update
def grid_child(name: str, threads: int, repeats: int, samples: int) -> dict:
    """Body of ``--only NAME``: time one contender's grid update and its peak RSS."""
    import torch

    from kansr.utils.allocator import tune_allocator

    tuned = tune_allocator()  # same process-wide allocator setting for both contenders
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(samples, WIDTH[0], generator=gen)
    if name == "kansr":
        from kansr.nn.network import KAN

        model = KAN(list(WIDTH), grid=GRID, k=K, seed=0)
    elif name == "pykan":
        kan, message = load_pykan()
        if kan is None:
            return {"name": name, "skipped": message}
        # as inside fit(): auto_save off, symbolic branch off (none fixed)
        model = kan.MultKAN(
            width=list(WIDTH), grid=GRID, k=K, seed=0, auto_save=False, symbolic_enabled=False
        )
    else:
        raise ValueError(f"unknown grid contender {name!r}")
    gc.collect()
    rss_before = rss_now_kib()
    maxrss_before = peak_rss_kib()
    times = []
    t0 = time.perf_counter()
    model.update_grid(x)
    times.append(time.perf_counter() - t0)
    peak = peak_rss_kib()
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        model.update_grid(x)
        times.append(time.perf_counter() - t0)
    return {
        "name": name,
        "seconds": statistics.median(times),
        "times": times,
        "rss_before_mib": rss_before / 1024,
        "maxrss_before_mib": maxrss_before / 1024,
        "peak_mib": peak / 1024,
        "increase_mib": max(peak - rss_before, 0) / 1024,
        "allocator_tuned": tuned,
        "threads": threads,
    }


def run_grid_children(args, names: list[str]) -> list[dict]:
    """Run each grid contender in a fresh child process (in a temporary directory)."""
    results = []
    for name in names:
        log(f"grid update {name}: child process, {args.grid_repeats} call(s)")
        cmd = [
            sys.executable,
            str(SCRIPT),
            "--only",
            name,
            "--threads",
            str(args.threads),
            "--grid-repeats",
            str(args.grid_repeats),
            "--grid-samples",
            str(args.grid_samples),
        ]
        env = dict(os.environ, MPLBACKEND="Agg")
        with tempfile.TemporaryDirectory(prefix="kansr-bench-") as tmp:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            results.append({"name": name, "error": f"rc={proc.returncode}: " + " | ".join(tail)})
            continue
        results.append(json.loads(lines[-1][len(RESULT_MARK) :]))
    return results


# ----------------------------------------------------------------------------- report
def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "–"
    return f"{a / b:.2f}×"


def train_table(rows: list[dict]) -> str:
    ref = {r["key"]: r["ms"] for r in rows}
    lines = [
        "| contender | ms/step (median) | vs kansr (no penalty) | vs MLP | trainable params "
        "| timed steps | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        name = TRAIN_NAMES[r["key"]].format(width=r.get("width", ""))
        lines.append(
            f"| {name} | {r['ms']:.2f} | {_ratio(r['ms'], ref.get('kansr'))} "
            f"| {_ratio(r['ms'], ref.get('mlp'))} | {r['params']} | {r['steps']} "
            f"| {r['note']} |"
        )
    return "\n".join(lines)


def grid_table(results: list[dict]) -> str:
    ok = {r["name"]: r for r in results if "seconds" in r}
    ref = ok.get("kansr")
    lines = [
        "| contender | seconds (median) | peak RSS MiB | RSS increase MiB | time vs kansr "
        "| increase vs kansr | calls |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for r in results:
        name = GRID_NAMES.get(r["name"], r["name"])
        if "seconds" not in r:
            why = r.get("skipped") or r.get("error")
            lines.append(f"| {name} | – | – | – | – | – | 0 |")
            notes.append(f"- {name}: {why}")
            continue
        lines.append(
            f"| {name} | {r['seconds']:.3f} "
            f"| {r['peak_mib']:.0f} | {r['increase_mib']:.0f} "
            f"| {_ratio(r['seconds'], ref and ref['seconds'])} "
            f"| {_ratio(r['increase_mib'], ref and ref['increase_mib'])} | {len(r['times'])} |"
        )
        if r["maxrss_before_mib"] > r["rss_before_mib"] + 32:
            notes.append(
                f"- {name}: ru_maxrss was already {r['maxrss_before_mib']:.0f} MiB before the "
                f"update (RSS {r['rss_before_mib']:.0f} MiB): the increase is a lower bound"
            )
    return "\n".join(lines + ([""] + notes if notes else []))


# (description, numerator row, denominator row, target, whether the ratio must be >= target)
TARGETS = (
    ("step with exact penalty vs pykan fit(lamb>0) step", "pykan-reg", "kansr-penalty", 20, True),
    ("step without penalty vs pykan speed() mode", "pykan-fast", "kansr", 5, True),
    ("step without penalty vs equal-parameter MLP", "kansr", "mlp", 3, False),
    ("step, non-uniform knots, vs equal-parameter MLP", "kansr-nonuniform", "mlp", None, False),
)


def target_lines(rows: list[dict], grid_results: list[dict]) -> list[str]:
    """The foundation issue's ratios, computed from this run's rows (``–`` where a row is
    missing): speed-ups are ``slower / faster``, the MLP ratios ``kansr / MLP``."""
    ms = {r["key"]: r["ms"] for r in rows}
    lines = ["| ratio | measured | target | met |", "| --- | ---: | ---: | --- |"]

    def add(name, value, target, at_least):
        if value is None:
            lines.append(f"| {name} | – | {target or '–'} | – |")
            return
        bound = "–" if target is None else f"{'≥' if at_least else '≤'} {target}×"
        met = "–" if target is None else ("yes" if (value >= target) == at_least else "no")
        lines.append(f"| {name} | {value:.2f}× | {bound} | {met} |")

    for name, num, den, target, at_least in TARGETS:
        value = ms[num] / ms[den] if num in ms and den in ms and ms[den] > 0 else None
        add(name, value, target, at_least)
    grid = {r["name"]: r for r in grid_results if "seconds" in r}
    if "kansr" in grid and "pykan" in grid:
        ours, theirs = grid["kansr"], grid["pykan"]
        add("grid update time, pykan / kansr", theirs["seconds"] / ours["seconds"], 10, True)
        memory = theirs["increase_mib"] / max(ours["increase_mib"], 1e-9)
        add("grid update memory increase, pykan / kansr", memory, 10, True)
    return lines


def header(args, argv: list[str], pykan_note: str) -> str:
    import torch

    from kansr.utils.allocator import tune_allocator

    cmd = " ".join(["python", os.path.relpath(SCRIPT, REPO), *argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"- command: `{cmd}`",
            f"- date: {now}",
            f"- torch {torch.__version__}, python {platform.python_version()}, "
            f"threads {torch.get_num_threads()}, allocator tuned: {tune_allocator()}",
            f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
            f"- pykan: {pykan_note}",
            f"- setup: width {list(WIDTH)}, grid {GRID}, k {K}, float32, batch {BATCH}, Adam "
            f"lr {LR}; penalty rows: loss = mse + {PENALTY_WEIGHT} * penalty "
            f"(lamb_l1={LAMB_L1}, lamb_entropy={LAMB_ENTROPY}); grid update on "
            f"{args.grid_samples} N(0,1) samples, each contender in its own process",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per contender (30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (5)")
    p.add_argument(
        "--slow-steps",
        type=int,
        default=5,
        help="timed steps of the slow pykan regularised rows (5)",
    )
    p.add_argument("--slow-warmup", type=int, default=1, help="their warm-up steps (1)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    p.add_argument(
        "--grid-repeats",
        type=int,
        default=3,
        help="update_grid calls per contender, median reported (3)",
    )
    p.add_argument(
        "--grid-samples",
        type=int,
        default=GRID_SAMPLES,
        help=f"samples for the grid update ({GRID_SAMPLES})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 3 steps, 1 warm-up, 1 slow step, 1 grid-update call",
    )
    p.add_argument("--no-pykan", action="store_true", help="skip pykan even if installed")
    p.add_argument(
        "--no-symbolic-row",
        action="store_true",
        help="skip the (very slow) pykan row with the symbolic branch on",
    )
    p.add_argument("--no-grid", action="store_true", help="skip the grid-update table")
    p.add_argument(
        "--markdown",
        metavar="PATH",
        help="append the report (command, environment, tables) to PATH",
    )
    p.add_argument("--only", choices=GRID_CONTENDERS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup = min(args.steps, 3), min(args.warmup, 1)
        args.slow_steps, args.slow_warmup = 1, min(args.slow_warmup, 1)
        args.grid_repeats = 1
    if min(args.steps, args.slow_steps, args.threads, args.grid_repeats) < 1:
        p.error("--steps, --slow-steps, --threads and --grid-repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.only:
        result = grid_child(args.only, args.threads, args.grid_repeats, args.grid_samples)
        print(RESULT_MARK + json.dumps(result), flush=True)
        return 0

    if args.no_pykan:
        have_pykan, pykan_note = False, "skipped (--no-pykan)"
    else:
        have_pykan, pykan_note = pykan_status()
        if not have_pykan:
            print(PYKAN_HINT, flush=True)
    # Grid-update children first, while this process has not imported torch yet (see top).
    grid_results = []
    if not args.no_grid:
        grid_results = run_grid_children(args, ["kansr"] + (["pykan"] if have_pykan else []))

    import torch

    from kansr.utils.allocator import tune_allocator

    tune_allocator()  # kansr's training does this too; the MLP and pykan share the setting
    torch.set_num_threads(args.threads)
    kan = None
    if have_pykan:
        kan, message = load_pykan()
        if kan is None:
            print(message, flush=True)
            pykan_note = message
        else:
            pykan_note = f"{pykan_note} (MultKAN)"
    rows = train_rows(args, kan)

    sections = [
        "### Training step (zero_grad + forward + loss + backward + Adam step)",
        "",
        train_table(rows),
        "",
        "Ratios are this row's median time divided by the reference row's (higher = slower).",
    ]
    if not args.no_grid:
        sections += [
            "",
            f"### Grid update ({args.grid_samples} samples)",
            "",
            grid_table(grid_results),
            "",
            "Peak RSS is `ru_maxrss` of the contender's own process; the increase is peak minus "
            "the RSS just before the first `update_grid` call.",
        ]
    sections += [
        "",
        "### Against the foundation issue's targets (ratios of this run)",
        "",
        *target_lines(rows, grid_results),
    ]
    report = "\n".join(
        [
            "## Speed benchmark: kansr vs pykan vs MLP",
            "",
            header(args, argv, pykan_note),
            "",
            *sections,
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
