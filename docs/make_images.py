"""Regenerate the pictures of the documentation: ``python docs/make_images.py``.

Writes ``docs/img/network.png``: the network of the demo problem f(x, y) = exp(sin(pi*x) + y**2)
trained with the sparsity penalty, pruned, with the formula read off its edges as the title.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from kansr import KANRegressor  # noqa: E402
from kansr.benchmarks.datasets import make_demo  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    X, y = make_demo(1000, random_state=0)
    est = KANRegressor(
        hidden_layer_sizes=(5,), sparsity=0.01, search_structure=False, random_state=0
    ).fit(X, y)
    print(est.sympy_expr(), est.score(X, y))
    fig = est.plot(X)
    fig.savefig(OUT / "network.png", dpi=80)


if __name__ == "__main__":
    main()
