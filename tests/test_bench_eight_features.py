"""bench/eight_features.py: the front of a noisy 8-feature fit, scored on held-out rows."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location(
        "kansr_bench_eight_features", ROOT / "bench/eight_features.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_data_follow_the_stated_law_with_noise_of_0_1():
    X, y = _module().example_data(2000)
    law = 2 * X[:, 0] * X[:, 1] + np.sin(np.pi * X[:, 2]) + 0.5 * X[:, 3] ** 2
    assert X.shape == (2000, 8) and np.all(np.abs(X) <= 1)
    assert abs(np.std(y - law) - 0.1) < 0.01


def test_every_front_row_is_scored_on_the_held_out_rows():
    result = _module().front_on_held_out_rows(300, {"max_iter": 30})
    n = len(result["formulas"])
    assert n >= 1 and len(result["held_out_r2"]) == len(result["complexities"]) == n
    assert 0 <= result["selected"] < n
    assert all(np.isfinite(r2) for r2 in result["held_out_r2"])
    assert max(result["held_out_r2"]) > 0.5  # some row predicts the held-out rows
