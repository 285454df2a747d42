"""The shipped ground-truth benchmark problems.

:func:`load_problem`, :func:`get_problem`, :func:`list_problems`: the Feynman (AI Feynman,
Udrescu & Tegmark 2020; 99 main + 20 bonus equations, as used by SRBench's ground-truth track,
La Cava et al. 2021), Strogatz (SRBench's 2-D ODE right-hand sides) and compositional problems
with their true formulas. The definitions ship with the package in
``kansr/benchmarks/data/*.csv``.

:meth:`Problem.sample` draws from ``numpy.random.default_rng(random_state)``; the global random
state is never used or changed. Formulas are evaluated with
:func:`kansr.symbolic.expressions.evaluate` (a tree walk, no generated code). The public module
is :mod:`kansr.benchmarks.datasets`.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
import sympy
from sklearn.utils import Bunch

from kansr.benchmarks.sampling import _check_count, _check_noise
from kansr.symbolic.expressions import evaluate

__all__ = ["PROBLEM_SETS", "Problem", "get_problem", "list_problems", "load_problem"]

#: Names of the shipped benchmark sets (files ``kansr/benchmarks/data/<set>.csv``).
PROBLEM_SETS: tuple[str, ...] = ("feynman", "strogatz", "compositional")

_MAX_REDRAWS = 100  # rounds of redrawing points where a benchmark formula is not finite


@dataclass(frozen=True, eq=False)
class Problem:
    """A ground-truth benchmark problem.

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"I.6.20"`` or ``"strogatz_vdp1"``.
    set : str
        ``"feynman"`` or ``"strogatz"``.
    output : str
        Name of the target.
    formula : sympy.Expr
        The true formula in real symbols named like ``variables`` (the same assumptions as
        :meth:`kansr.KANRegressor.sympy_expr`, so the two can be compared directly).
    variables : tuple of str
        Feature names, in column order.
    ranges : dict
        ``{variable: (low, high)}``; :meth:`sample` draws each variable uniformly from it.
    bonus : bool
        One of AI Feynman's 20 bonus equations.
    difficulty : str or None
        SRSD's easy / medium / hard class (Feynman problems only).
    """

    name: str
    set: str
    output: str
    formula: sympy.Expr = field(repr=False)
    variables: tuple[str, ...]
    ranges: dict = field(repr=False)
    bonus: bool = False
    difficulty: str | None = None

    def evaluate(self, X) -> np.ndarray:
        """The true formula on ``X (n, len(variables))`` (array, or DataFrame with the
        variable columns); NaN outside its domain."""
        if isinstance(X, pd.DataFrame):
            missing = [v for v in self.variables if v not in X.columns]
            if missing:
                raise ValueError(f"X lacks the columns {missing} of problem {self.name}")
            X = X[list(self.variables)].to_numpy(dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.variables):
            raise ValueError(
                f"expected X of shape (n, {len(self.variables)}) for {self.variables}, "
                f"got {X.shape}"
            )
        return evaluate(self._internal, X)

    @functools.cached_property
    def _internal(self) -> sympy.Expr:
        mapping = {
            sympy.Symbol(v, real=True): sympy.Symbol(f"x{i}") for i, v in enumerate(self.variables)
        }
        return self.formula.xreplace(mapping)

    def sample(
        self,
        n_samples: int = 1000,
        random_state: int | np.random.Generator | None = 0,
        noise: float = 0.0,
        as_frame: bool = True,
    ):
        """Draw ``n_samples`` points uniformly from :attr:`ranges` and the true targets.

        Points where the formula is not finite are drawn again (none of the shipped problems
        needs it on its ranges). ``noise`` adds Gaussian noise of standard deviation
        ``noise * RMS(y)`` (SRBench's protocol). Returns ``X, y``: a DataFrame with the
        variable columns and a Series named :attr:`output`, or arrays.
        """
        n_samples = _check_count(n_samples, "n_samples", 1)
        noise = _check_noise(noise)
        rng = np.random.default_rng(random_state)
        lo = np.array([self.ranges[v][0] for v in self.variables], dtype=np.float64)
        hi = np.array([self.ranges[v][1] for v in self.variables], dtype=np.float64)
        X = rng.uniform(lo, hi, size=(n_samples, len(self.variables)))
        y = self.evaluate(X)
        for _ in range(_MAX_REDRAWS):
            bad = ~np.isfinite(y)
            if not bad.any():
                break
            X[bad] = rng.uniform(lo, hi, size=(int(bad.sum()), len(self.variables)))
            y[bad] = self.evaluate(X[bad])
        else:
            raise ValueError(f"problem {self.name}: could not draw finite targets")
        if noise > 0:
            y = y + rng.normal(0.0, noise * float(np.sqrt(np.mean(y**2))), size=n_samples)
        if as_frame:
            return pd.DataFrame(X, columns=list(self.variables)), pd.Series(y, name=self.output)
        return X, y


def _parse_trusted(text: str, variables: Sequence[str]) -> sympy.Expr:
    """Parse a formula of a shipped benchmark file.

    These CSV files are part of the package (trusted data, like its code), so ``parse_expr``
    with every variable bound to a real Symbol is acceptable here. kansr never parses strings
    that come from users.
    """
    from kansr.benchmarks.judge import parse_formula  # parse_expr with a restricted local_dict

    expr = parse_formula(text, list(variables))
    return expr.xreplace({sympy.Symbol(v): sympy.Symbol(v, real=True) for v in variables})


@functools.cache
def _problems(set_name: str) -> dict[str, Problem]:
    path = resources.files("kansr.benchmarks").joinpath("data", f"{set_name}.csv")
    with path.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype=str, keep_default_na=False)
    problems = {}
    for row in table.to_dict("records"):
        variables = tuple(row["variables"].split())
        ranges = {
            k: (float(lo), float(hi)) for k, (lo, hi) in json.loads(row["ranges_json"]).items()
        }
        problems[row["name"]] = Problem(
            name=row["name"],
            set=set_name,
            output=row["output"],
            formula=_parse_trusted(row["formula"], variables),
            variables=variables,
            ranges=ranges,
            bonus=row.get("bonus", "False") == "True",
            difficulty=row.get("difficulty") or None,
        )
    return problems


def _check_set(set) -> tuple[str, ...]:
    if set is None:
        return PROBLEM_SETS
    if set not in PROBLEM_SETS:
        raise ValueError(f"unknown problem set {set!r}; choose from {list(PROBLEM_SETS)}")
    return (set,)


def list_problems(set: str | None = None) -> list[str]:
    """Names of the shipped benchmark problems.

    Parameters
    ----------
    set : {"feynman", "strogatz"} or None, default=None
        Only that set (``None``: all, Feynman first).

    Examples
    --------
    >>> len(list_problems("feynman")), len(list_problems("strogatz"))
    (119, 14)
    """
    return [name for s in _check_set(set) for name in _problems(s)]


def get_problem(name: str) -> Problem:
    """The :class:`Problem` called ``name``; ``ValueError`` (with close matches) if unknown."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    for s in PROBLEM_SETS:
        if name in _problems(s):
            return _problems(s)[name]
    known = list_problems()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else "; see kansr.benchmarks.datasets.list_problems()"
    )
    raise ValueError(f"unknown problem {name!r}{hint}")


def load_problem(
    name: str,
    n_samples: int = 1000,
    random_state: int | np.random.Generator | None = 0,
    as_frame: bool = True,
    noise: float = 0.0,
    return_X_y: bool = False,
):
    """Sample a benchmark problem with a known formula (Feynman or Strogatz).

    Parameters
    ----------
    name : str
        Problem name, see :func:`list_problems` (e.g. ``"I.6.20"``, ``"II.11.27"``,
        ``"strogatz_vdp1"``).
    n_samples : int, default=1000
        Number of rows, each variable uniform on its range.
    random_state : int, numpy Generator or None, default=0
        Seed of ``numpy.random.default_rng``.
    as_frame : bool, default=True
        ``data`` a DataFrame with the variable names and ``target`` a Series (else arrays).
    noise : float, default=0.0
        Relative Gaussian noise on the target, standard deviation ``noise * RMS(y)``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch
        ``data``, ``target``, ``frame`` (data and target in one DataFrame, or ``None`` when
        ``as_frame=False``), ``formula`` (sympy, real symbols named like the columns),
        ``feature_names``, ``target_name``, ``ranges``, ``problem`` (the :class:`Problem`) and
        ``DESCR``.

    Examples
    --------
    >>> data = load_problem("I.12.1", n_samples=5)
    >>> data.formula, list(data.data.columns), data.target.shape
    (Nn*mu, ['mu', 'Nn'], (5,))
    """
    problem = get_problem(name)
    X, y = problem.sample(n_samples, random_state=random_state, noise=noise, as_frame=as_frame)
    if return_X_y:
        return X, y
    frame = pd.concat([X, y], axis=1) if as_frame else None
    return Bunch(
        data=X,
        target=y,
        frame=frame,
        formula=problem.formula,
        feature_names=list(problem.variables),
        target_name=problem.output,
        ranges=dict(problem.ranges),
        problem=problem,
        DESCR=(
            f"{problem.set} problem {problem.name}: {problem.output} = {problem.formula}, "
            + ", ".join(f"{v} ~ U{problem.ranges[v]}" for v in problem.variables)
        ),
    )
