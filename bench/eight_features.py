"""Selection on noisy data with many features: issue 14's 8-feature example.

``y = 2*x0*x1 + sin(pi*x2) + 0.5*x3**2 + N(0, 0.1)``, ``x`` uniform on ``[-1, 1]^8`` (x4..x7
unused), 5,000 rows: 4,000 to fit, 1,000 held out. Prints every row of the Pareto front
(complexity, held-out R², formula) and the default's choice against the best held-out R².

    python bench/eight_features.py
"""

import argparse
import json
import time

import numpy as np
from sklearn.metrics import r2_score

from kansr import KANRegressor


def example_data(n_rows: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X (n_rows, 8)`` uniform on ``[-1, 1]`` and the noisy target ``y (n_rows,)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n_rows, 8))
    y = 2 * X[:, 0] * X[:, 1] + np.sin(np.pi * X[:, 2]) + 0.5 * X[:, 3] ** 2
    return X, y + rng.normal(0, 0.1, n_rows)


def front_on_held_out_rows(n_rows: int = 5000, params: dict | None = None) -> dict:
    """Fit on the first 80 % of the rows; held-out R² of every front row and of the choice."""
    X, y = example_data(n_rows)
    n_fit = int(0.8 * n_rows)
    start = time.perf_counter()
    est = KANRegressor(random_state=0, **(params or {})).fit(X[:n_fit], y[:n_fit])
    seconds = time.perf_counter() - start
    held_out = [r2_score(y[n_fit:], est.to_numpy(i)(X[n_fit:])) for i in range(len(est.equations_))]
    return {
        "fit_seconds": seconds,
        "complexities": [int(c) for c in est.equations_["complexity"]],
        "formulas": [str(est.sympy_expr(i)) for i in range(len(held_out))],
        "held_out_r2": held_out,
        "selected": int(est.selected_index_),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows in all (80 %% to fit)")
    parser.add_argument("--params", default="{}", help="JSON of KANRegressor parameters")
    args = parser.parse_args()
    result = front_on_held_out_rows(args.rows, json.loads(args.params))
    print(f"fit: {result['fit_seconds']:.1f} s")
    for c, r2, f in zip(
        result["complexities"], result["held_out_r2"], result["formulas"], strict=True
    ):
        print(f"{c:>5} {r2:8.4f}  {f[:100]}")
    k = result["selected"]
    print(
        f"selected: {result['formulas'][k]} (complexity {result['complexities'][k]}, "
        f"held-out R2 {result['held_out_r2'][k]:.4f}; "
        f"best on the front {max(result['held_out_r2']):.4f})"
    )


if __name__ == "__main__":
    main()
