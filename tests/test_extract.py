"""Reading formulas off a trained KAN (kansr.symbolic.extract): second terms on edges that
one library function matches poorly."""

from __future__ import annotations

import numpy as np
import torch

from kansr.nn.network import KAN
from kansr.nn.training import TrainConfig, train
from kansr.symbolic import extract
from kansr.symbolic.library import make_library
from kansr.symbolic.matching import match_edges
from kansr.utils.deadline import Deadline


def _edges():
    """Samples of two edges: a sine on a slope (no one function) and an exponential."""
    x = torch.linspace(-2.0, 2.0, 200, dtype=torch.float64)
    xs = torch.stack([x, x])
    ys = torch.stack([torch.sin(3 * x) + 0.8 * x, 0.5 * torch.exp(0.7 * x)])
    refs = ys.var(1, unbiased=False).numpy()
    return xs, ys, refs


def test_second_terms_go_only_where_one_function_misses():
    library = make_library()
    xs, ys, refs = _edges()
    matches = match_edges(xs, ys, library, reference_var=refs)
    pick, choice = extract._choose(matches, library, 0.25)
    one_error = matches.relative_error[0, pick[0]]
    assert one_error > extract._SECOND_TERM_ERROR  # a sine on a slope: no one function
    assert matches.relative_error[1, pick[1]] < 1e-8  # the exponential is exact
    where = [(0, 0, 0), (0, 0, 1)]
    extra = extract._second_terms((xs, ys, refs), where, matches, library, pick, choice, Deadline())
    assert [(level, edge.i, edge.o) for level, edge in extra] == [(0, 0, 0)]
    first = library[choice[0]]
    a, b, c, d = (torch.tensor(v) for v in matches.params[0, pick[0]])
    second = extra[0][1]
    a2, b2, c2, d2 = (torch.tensor(v) for v in second.params)
    both = c * first.safe_torch(a * xs[0] + b) + d + c2 * second.fn.safe_torch(a2 * xs[0] + b2) + d2
    two_error = float(torch.mean((both - ys[0]) ** 2)) / refs[0]
    assert two_error < 0.25 * one_error  # before any joint refit of the two terms
    # the user's pinned edge keeps its one function
    pinned = {(0, 0, 0): library[choice[0]]}
    assert not extract._second_terms(
        (xs, ys, refs), where, matches, library, pick, choice, Deadline(), pinned
    )


def test_the_network_read_with_second_terms_is_more_accurate():
    # a [1, 1] KAN trained on a sine on a slope: its one edge is that shape
    x = torch.linspace(-1.0, 1.0, 300, dtype=torch.float64)[:, None]
    y = torch.sin(4 * x) + 1.5 * x
    model = KAN([1, 1], grid=20, dtype=torch.float64, seed=0)
    train(model, x, y, TrainConfig(max_iter=60))
    X, t = x.numpy(), y[:, 0].numpy()
    args = (model, X, t, np.zeros(1), np.ones(1), 0.0, 1.0, make_library())
    plain = extract.extract_formulas(*args, complexity_weights=(0.25,), second_terms=False)
    both = extract.extract_formulas(*args, complexity_weights=(0.25,))
    assert len(plain) == 1 and len(both) == 2  # the second-term reading is one more candidate
    assert min(f.loss for f in both) < 1e-2 * plain[0].loss
