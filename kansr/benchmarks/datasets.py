"""Synthetic data sets and ground-truth benchmark problems (the public module).

* :func:`make_demo`: the shipped example ``exp(sin(pi*x) + y**2)``.
* :func:`make_dataset`: sample any function (a Python callable or a sympy expression) on a box,
  like pykan's ``create_dataset``.
* :func:`load_problem`, :func:`get_problem`, :func:`list_problems`: the Feynman (AI Feynman,
  Udrescu & Tegmark 2020; 99 main + 20 bonus equations, as used by SRBench's ground-truth track,
  La Cava et al. 2021) and Strogatz (SRBench's 2-D ODE right-hand sides) problems with their
  true formulas. The definitions ship with the package in ``kansr/benchmarks/data/*.csv``.

Every sampler draws from ``numpy.random.default_rng(random_state)``; the global random state is
never used or changed. Formulas are evaluated with :func:`kansr.symbolic.expressions.evaluate` (a
tree walk, no generated code); user strings are never parsed.

The code lives in :mod:`kansr.benchmarks.sampling` (``make_demo``, ``make_dataset``) and
:mod:`kansr.benchmarks.problems` (``Problem`` and the shipped problem sets); import the names
from here.
"""

from __future__ import annotations

from kansr.benchmarks.problems import (
    PROBLEM_SETS,
    Problem,
    get_problem,
    list_problems,
    load_problem,
)
from kansr.benchmarks.sampling import DEMO_FORMULA, make_dataset, make_demo

__all__ = [
    "DEMO_FORMULA",
    "PROBLEM_SETS",
    "Problem",
    "get_problem",
    "list_problems",
    "load_problem",
    "make_dataset",
    "make_demo",
]
