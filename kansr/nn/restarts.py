"""Independent training restarts, run through joblib.

Each restart builds a network from its own seed and trains it; nothing is shared, so the
restarts run in parallel through :class:`joblib.Parallel` with whatever backend is active
(processes by default, a Dask cluster under ``joblib.parallel_config(backend="dask")``).
Results do not depend on where or in which order a restart ran: every restart trains with
one torch thread (the parallelism is across restarts), its deadline is wall-clock time
(``time.time()``, comparable between processes and machines), and the winner is the lowest
loss with ties going to the first restart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from joblib import Parallel, delayed

from kansr.nn.fitting import train_weighted
from kansr.nn.training import TrainConfig, TrainingDiverged, TrainResult
from kansr.utils.deadline import Deadline
from kansr.utils.threads import compute_threads

__all__ = ["Restart", "best_restart", "run_restarts"]


@dataclass
class Restart:
    """One trained restart: its seed, network and training result (``None`` if diverged)."""

    seed: int
    module: torch.nn.Module | None
    result: TrainResult | None
    error: str = ""

    @property
    def loss(self) -> float:
        """The loss that ranks restarts: best validation loss with a validation set, else the
        best training objective; ``inf`` for a diverged restart."""
        if self.result is None or not math.isfinite(self.result.best_loss):
            return math.inf
        return float(self.result.best_loss)


def _train_restart(
    build,
    seed: int,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    x_val: torch.Tensor | None,
    y_val: torch.Tensor | None,
    wall_deadline: float | None,
    weights: tuple[torch.Tensor | None, torch.Tensor | None],
    threads: int | None,
) -> Restart:
    """Build the network of ``seed`` with ``build(seed)`` and train it (see :func:`train`)."""
    with compute_threads(threads):
        deadline = Deadline.from_wall(wall_deadline)
        module = build(seed)
        generator = torch.Generator().manual_seed(seed + 1)
        try:
            result = train_weighted(
                module,
                x,
                y,
                config,
                weights[0],
                x_val,
                y_val,
                weights[1],
                generator=generator,
                deadline=deadline,
            )
        except TrainingDiverged as exc:
            return Restart(seed, None, None, str(exc))
    return Restart(seed, module, result)


def run_restarts(
    build,
    seeds: Sequence[int],
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    deadline: Deadline | None = None,
    n_jobs: int | None = None,
    sample_weight: torch.Tensor | None = None,
    val_weight: torch.Tensor | None = None,
) -> list[Restart]:
    """Train one network per seed; ``build(seed)`` makes the untrained network (picklable).

    ``x (n, n_in)``, ``y (n, n_out)`` and the optional validation set are shared by all
    restarts, with their weights ``sample_weight (n,)`` and ``val_weight`` (``None``:
    unweighted); ``deadline`` reaches the workers in its wall-clock form. A single restart
    trains here with the current torch threads; several train with one thread each,
    through joblib with ``n_jobs`` workers. A ``KeyboardInterrupt`` keeps the restarts
    finished so far (raised again when there are none) and starts no more. Returns the
    restarts in seed order.
    """
    args = (
        x,
        y,
        config,
        x_val,
        y_val,
        (deadline or Deadline()).wall(),
        (sample_weight, val_weight),
    )
    if len(seeds) == 1:
        return [_train_restart(build, seeds[0], *args, threads=None)]
    jobs = (delayed(_train_restart)(build, seed, *args, threads=1) for seed in seeds)
    # under a time budget, threads: worker processes take seconds to start (and import
    # torch) that the budget would pay; an explicit joblib backend still wins
    prefer = "threads" if deadline is not None and deadline.bounded else None
    done: list[Restart] = []
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator", prefer=prefer)
        for restart in parallel(jobs):
            done.append(restart)
            if restart.result is not None and restart.result.stop_reason == "interrupted":
                break  # (sequential runs: the interrupt reached this restart's training)
    except KeyboardInterrupt:
        if not done:
            raise
    return done


def best_restart(restarts: Sequence[Restart]) -> Restart:
    """The restart with the lowest :attr:`Restart.loss` (the first among equals).

    Raises :class:`~kansr.nn.training.TrainingDiverged` when every restart diverged.
    """
    best = min(
        range(len(restarts)), key=lambda i: (restarts[i].loss, restarts[i].module is None, i)
    )
    if restarts[best].module is None:
        raise TrainingDiverged("; ".join(r.error for r in restarts))
    return restarts[best]
