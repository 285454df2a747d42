"""Other symbolic regressors run through the same recovery protocol as kansr.

Each contender has ``fit(X: DataFrame, y)`` and ``sympy_expr()`` (the formula in
``Symbol(column, real=True)``), like :class:`kansr.KANRegressor`. Neither package is a kansr
dependency: :func:`require` says clearly when one is missing, and the benchmark then stops.

* :class:`PykanWorkflow` -- pykan 0.2.8's documented workflow, step by step as in its README
  ("hellokan"): ``KAN(width=[n, 5, 1], grid=3, k=3, seed)``; ``fit(LBFGS, 50 steps,
  lamb=0.001)``; ``prune()``; ``fit(50)``; ``refine(10)``; ``fit(50)``;
  ``auto_symbolic(lib=[x, x^2, x^3, x^4, exp, log, sqrt, tanh, sin, abs])``; ``fit(50)``;
  ``ex_round(symbolic_formula()[0][0], 4)``. Install it into a separate environment:
  ``pip install --no-deps pykan==0.2.8`` plus matplotlib, pyyaml, tqdm (see docs/benchmarks.md).
* :class:`GplearnRegressor` -- ``gplearn.genetic.SymbolicRegressor`` (population 1000, 20
  generations, parsimony 0.001, functions add sub mul div sqrt log sin cos neg inv), its
  best program translated node by node into sympy (gplearn's protected ``sqrt``/``log`` act
  on ``|x|``, which the translation keeps; its protected division is written as plain
  division, which differs only where ``|denominator| < 0.001``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile

import numpy as np
import sympy

__all__ = ["CONTENDERS", "GplearnRegressor", "PykanWorkflow", "gplearn_to_sympy", "require"]

PYKAN_LIBRARY = ["x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs"]
GPLEARN_FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "sin", "cos", "neg", "inv")


def require(module: str, hint: str) -> None:
    """Exit with a clear message when ``module`` cannot be imported."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means: not usable here
        raise SystemExit(f"{module} is not usable in this environment ({exc}); {hint}") from exc


class PykanWorkflow:
    """pykan 0.2.8's README workflow as an estimator (see the module docstring)."""

    def __init__(self, random_state: int = 0, steps: int = 50) -> None:
        self.random_state = random_state
        self.steps = steps

    def fit(self, X, y):
        import torch
        from kan import KAN
        from kan.utils import ex_round

        names = [str(c) for c in X.columns]
        x = torch.tensor(np.asarray(X, dtype=np.float64), dtype=torch.float32)
        t = torch.tensor(np.asarray(y, dtype=np.float64)[:, None], dtype=torch.float32)
        dataset = {"train_input": x, "train_label": t, "test_input": x, "test_label": t}
        quiet = io.StringIO()
        with (
            tempfile.TemporaryDirectory() as tmp,
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),  # (its progress bars)
        ):
            cwd = os.getcwd()
            os.chdir(tmp)  # pykan writes checkpoints and figures into the working directory
            try:
                model = KAN(width=[len(names), 5, 1], grid=3, k=3, seed=self.random_state)
                model.fit(dataset, opt="LBFGS", steps=self.steps, lamb=0.001)
                model = model.prune()
                model.fit(dataset, opt="LBFGS", steps=self.steps)
                model = model.refine(10)
                model.fit(dataset, opt="LBFGS", steps=self.steps)
                model.auto_symbolic(lib=PYKAN_LIBRARY)
                model.fit(dataset, opt="LBFGS", steps=self.steps)
                formula = ex_round(model.symbolic_formula(var=names)[0][0], 4)
            finally:
                os.chdir(cwd)
        self.model_ = model
        # pykan's symbols carry no assumptions; the benchmark evaluates real symbols
        self.formula_ = formula.xreplace(
            {s: sympy.Symbol(s.name, real=True) for s in formula.free_symbols}
        )
        return self

    def sympy_expr(self) -> sympy.Expr:
        return self.formula_

    def predict_network(self, X) -> np.ndarray:
        import torch

        x = torch.tensor(np.asarray(X, dtype=np.float64), dtype=torch.float32)
        with torch.no_grad():
            return self.model_(x)[:, 0].double().numpy()


_GPLEARN_SYMPY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
    "log": lambda a: sympy.log(sympy.Abs(a)),
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "neg": lambda a: -a,
    "inv": lambda a: 1 / a,
    "abs": sympy.Abs,
    "max": sympy.Max,
    "min": sympy.Min,
}


def gplearn_to_sympy(program: list, symbols: list[sympy.Symbol]) -> sympy.Expr:
    """A gplearn program (prefix list of functions, feature indices and float constants) as
    a sympy expression in ``symbols``; built node by node, never from a string."""
    position = 0

    def node() -> sympy.Expr:
        nonlocal position
        item = program[position]
        position += 1
        if isinstance(item, (int, np.integer)):
            return symbols[int(item)]
        if isinstance(item, (float, np.floating)):
            return sympy.Float(float(item))
        name, arity = getattr(item, "name", None), getattr(item, "arity", None)
        if name not in _GPLEARN_SYMPY:
            raise ValueError(f"gplearn function {name!r} has no sympy translation")
        return _GPLEARN_SYMPY[name](*[node() for _ in range(arity)])

    expr = node()
    if position != len(program):
        raise ValueError("gplearn program has trailing nodes")
    return expr


class GplearnRegressor:
    """gplearn's ``SymbolicRegressor`` with the settings of the module docstring."""

    def __init__(self, random_state: int = 0, generations: int = 20) -> None:
        self.random_state = random_state
        self.generations = generations

    def fit(self, X, y):
        from gplearn.genetic import SymbolicRegressor

        names = [str(c) for c in X.columns]
        self.model_ = SymbolicRegressor(
            population_size=1000,
            generations=self.generations,
            function_set=GPLEARN_FUNCTIONS,
            parsimony_coefficient=0.001,
            random_state=self.random_state,
        ).fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
        symbols = [sympy.Symbol(n, real=True) for n in names]
        self.formula_ = gplearn_to_sympy(self.model_._program.program, symbols)
        return self

    def sympy_expr(self) -> sympy.Expr:
        return self.formula_


CONTENDERS = {
    "pykan": (
        PykanWorkflow,
        "kan",
        "pip install --no-deps pykan==0.2.8 (plus matplotlib pyyaml tqdm)",
    ),
    "gplearn": (GplearnRegressor, "gplearn", "pip install gplearn"),
}
