"""Evaluate kansr's sympy formulas numerically, and refit their floating-point constants.

The evaluators walk the expression tree; they never generate or execute code (no
``lambdify``, ``eval`` or ``exec``), so a formula rebuilt from a file cannot run anything.
Only the operations kansr's formulas use are supported; anything else is a ``ValueError``.

Formulas use the internal symbols ``x0 .. x{n-1}``: column ``i`` of ``X`` is ``x{i}``.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch

__all__ = ["TorchFormula", "evaluate", "mse", "refit_constants", "symbol_index"]

_NUMPY_FUNCS = {
    sympy.exp: np.exp,
    sympy.log: np.log,
    sympy.sin: np.sin,
    sympy.cos: np.cos,
    sympy.tan: np.tan,
    sympy.cot: lambda u: 1.0 / np.tan(u),
    sympy.tanh: np.tanh,
    sympy.sinh: np.sinh,
    sympy.cosh: np.cosh,
    sympy.atan: np.arctan,
    sympy.asin: np.arcsin,
    sympy.acos: np.arccos,
    sympy.Abs: np.abs,
    sympy.sign: np.sign,
}
_TORCH_FUNCS = {
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.cot: lambda u: 1.0 / torch.tan(u),
    sympy.tanh: torch.tanh,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.atan: torch.atan,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
}


def symbol_index(symbol: sympy.Symbol) -> int:
    """Column of an internal symbol ``x{i}``; ``ValueError`` for any other name."""
    name = symbol.name
    if not (name.startswith("x") and name[1:].isdigit()):
        raise ValueError(f"formula symbol {name!r} is not an internal feature symbol x<i>")
    return int(name[1:])


def _numpy(expr: sympy.Expr, X: np.ndarray) -> np.ndarray | float:
    if expr.is_Symbol:
        return X[:, symbol_index(expr)]
    if expr.is_Number or expr in (sympy.pi, sympy.E):
        value = complex(expr)
        if value.imag != 0 or not math.isfinite(value.real):
            raise ValueError(f"formula contains the non-real or infinite number {expr}")
        return value.real
    if expr.is_Add:
        return sum((_numpy(a, X) for a in expr.args), 0.0)
    if expr.is_Mul:
        out = 1.0
        for a in expr.args:
            out = out * _numpy(a, X)
        return out
    if expr.is_Pow:
        base, power = _numpy(expr.base, X), _numpy(expr.exp, X)
        return np.power(np.asarray(base, dtype=np.float64), power)
    fn = _NUMPY_FUNCS.get(expr.func)
    if fn is None or len(expr.args) != 1:
        raise ValueError(f"cannot evaluate the operation {expr.func} in a formula")
    return fn(_numpy(expr.args[0], X))


def evaluate(expr: sympy.Expr, X: np.ndarray) -> np.ndarray:
    """Values ``(n_samples,)`` of ``expr`` on ``X (n_samples, n_features)``, float64.

    Points outside the formula's domain give NaN (no warnings are raised).
    """
    X = np.asarray(X, dtype=np.float64)
    if not isinstance(expr, sympy.Basic):  # never parse strings
        raise TypeError(f"expected a sympy expression, got {type(expr).__name__}")
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I):
        raise ValueError(f"formula contains a non-real or infinite number: {expr}")
    with np.errstate(all="ignore"):
        out = np.asarray(_numpy(expr, X), dtype=np.float64)
    return np.broadcast_to(out, (X.shape[0],)).copy()


class TorchFormula(torch.nn.Module):
    """``expr`` as a torch module whose floating-point constants are trainable parameters.

    Integers and rationals (exponents, snapped constants) stay fixed. ``forward`` maps
    ``(batch, n_features)`` to ``(batch,)``.
    """

    def __init__(self, expr: sympy.Expr) -> None:
        super().__init__()
        self.expr = expr
        self.floats = sorted(expr.atoms(sympy.Float), key=lambda f: (float(f), str(f)))
        self.constants = torch.nn.Parameter(
            torch.tensor([float(f) for f in self.floats], dtype=torch.float64)
        )
        self._slot = {f: i for i, f in enumerate(self.floats)}

    def _eval(self, expr: sympy.Expr, x: torch.Tensor):
        if expr.is_Float:
            return self.constants[self._slot[expr]]
        if expr.is_Symbol:
            return x[:, symbol_index(expr)]
        if expr.is_Number or expr in (sympy.pi, sympy.E):
            return float(expr)
        if expr.is_Add:
            out = 0.0
            for a in expr.args:
                out = out + self._eval(a, x)
            return out
        if expr.is_Mul:
            out = 1.0
            for a in expr.args:
                out = out * self._eval(a, x)
            return out
        if expr.is_Pow:
            base, power = self._eval(expr.base, x), self._eval(expr.exp, x)
            if not torch.is_tensor(base):
                base = torch.tensor(base, dtype=torch.float64)
            return torch.pow(base, power)
        fn = _TORCH_FUNCS.get(expr.func)
        if fn is None or len(expr.args) != 1:
            raise ValueError(f"cannot evaluate the operation {expr.func} in a formula")
        inner = self._eval(expr.args[0], x)
        if not torch.is_tensor(inner):
            inner = torch.tensor(inner, dtype=torch.float64)
        return fn(inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._eval(self.expr, x)
        if not torch.is_tensor(out):
            out = torch.tensor(out, dtype=torch.float64)
        return out.expand(x.shape[0])

    def export(self) -> sympy.Expr:
        """``expr`` with the current constants."""
        values = self.constants.detach().numpy()
        return self.expr.xreplace(
            {f: sympy.Float(float(v), 15) for f, v in zip(self.floats, values, strict=True)}
        )


def refit_constants(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, n_iter: int = 50
) -> tuple[sympy.Expr, float]:
    """Refit every float of ``expr`` to ``X, y`` by LBFGS on the mean squared error.

    Returns the refit expression and its loss; the input is returned unchanged when the fit
    does not improve it or fails.
    """
    start_loss = mse(expr, X, y)
    if not math.isfinite(start_loss):
        return expr, start_loss
    module = TorchFormula(expr)
    if not module.floats:
        return expr, start_loss
    # copies: the caller's arrays may be read-only views, which torch cannot wrap safely
    xt = torch.from_numpy(np.array(X, dtype=np.float64))
    yt = torch.from_numpy(np.array(y, dtype=np.float64))
    opt = torch.optim.LBFGS(
        [module.constants],
        lr=1.0,
        max_iter=n_iter,
        tolerance_grad=1e-12,
        tolerance_change=1e-16,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = torch.mean((module(xt) - yt) ** 2)
        if torch.isfinite(loss):
            loss.backward()
        return loss

    try:
        opt.step(closure)
    except (RuntimeError, IndexError, ValueError):  # torch's line search on a non-finite loss
        return expr, start_loss
    if not bool(torch.isfinite(module.constants).all()):
        return expr, start_loss
    fitted = module.export()
    loss = mse(fitted, X, y)
    return (fitted, loss) if loss < start_loss else (expr, start_loss)


def mse(expr: sympy.Expr, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of ``expr`` on ``X, y``; ``inf`` when it is not finite or cannot be
    evaluated."""
    try:
        pred = evaluate(expr, X)
    except (ValueError, TypeError):
        return math.inf
    if not np.all(np.isfinite(pred)):
        return math.inf
    return float(np.mean((pred - y) ** 2))


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes of the expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))
