"""Evaluate kansr's sympy formulas numerically, and refit their floating-point constants.

The evaluators walk the expression tree; they never generate or execute code (no
``lambdify``, ``eval`` or ``exec``), so a formula rebuilt from a file cannot run anything.
Only the operations of :data:`kansr.symbolic.operations.OPERATIONS` are supported; anything
else is a ``ValueError``.

Formulas use the internal symbols ``x0 .. x{n-1}``: column ``i`` of ``X`` is ``x{i}``.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from kansr.symbolic.least_squares import refit_least_squares
from kansr.symbolic.operations import operation

__all__ = [
    "TorchFormula",
    "complexity",
    "evaluate",
    "mse",
    "refit_constants",
    "symbol_index",
    "n_rows",
    "weighted_variance",
]


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
            text = str(expr)
            text = text if len(text) <= 60 else f"{text[:30]}...{text[-25:]} ({len(text)} chars)"
            raise ValueError(f"formula contains the non-real or infinite number {text}")
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
    op = operation(expr.func)
    if op is None or len(expr.args) != 1:
        raise ValueError(f"cannot evaluate the operation {expr.func} in a formula")
    return op.numpy_fn(_numpy(expr.args[0], X))


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


def _torch_program(expr: sympy.Expr, slot: dict) -> list[tuple]:
    """``expr`` as a postfix program for :func:`_run_program`: instructions ``("x", column)``,
    ``("c", constant slot)``, ``("n", number)``, ``("+", n_terms)``, ``("*", n_factors)``,
    ``("^", None)``, ``("f", torch function)`` or ``("!", message)`` for an operation that
    cannot be evaluated (raised as ``ValueError`` when run, as a tree walk would)."""
    program: list[tuple] = []

    def emit(node: sympy.Expr) -> None:
        if node.is_Float:
            program.append(("c", slot[node]))
        elif node.is_Symbol:
            program.append(("x", symbol_index(node)))
        elif node.is_Number or node in (sympy.pi, sympy.E):
            program.append(("n", float(node)))
        elif node.is_Add or node.is_Mul:
            for arg in node.args:
                emit(arg)
            program.append(("+" if node.is_Add else "*", len(node.args)))
        elif node.is_Pow:
            emit(node.base)
            emit(node.exp)
            program.append(("^", None))
        else:
            op = operation(node.func)
            if op is None or len(node.args) != 1:
                program.append(("!", f"cannot evaluate the operation {node.func} in a formula"))
                return
            emit(node.args[0])
            program.append(("f", op.torch_fn))

    emit(expr)
    return program


def _run_program(program: list[tuple], x: torch.Tensor, constants: torch.Tensor | list):
    """Value of a :func:`_torch_program` on ``x (batch, n_features)`` with ``constants``
    ``(p,)`` (or ``(B, 1, p)`` for ``B`` sets at once, or a list of ``p`` tensors, one per
    constant): a tensor or a Python float. Sums and products fold left from 0.0 and 1.0 in the
    order of the expression's arguments."""
    stack: list = []
    for kind, arg in program:
        if kind == "x":
            stack.append(x[:, arg])
        elif kind == "c":
            stack.append(constants[arg] if isinstance(constants, list) else constants[..., arg])
        elif kind == "n":
            stack.append(arg)
        elif kind == "+":
            out = 0.0
            for value in stack[-arg:]:
                out = out + value
            stack[-arg:] = [out]
        elif kind == "*":
            out = 1.0
            for value in stack[-arg:]:
                out = out * value
            stack[-arg:] = [out]
        elif kind == "^":
            power = stack.pop()
            base = stack.pop()
            if not torch.is_tensor(base):
                base = torch.tensor(base, dtype=torch.float64)
            stack.append(torch.pow(base, power))
        elif kind == "f":
            inner = stack.pop()
            if not torch.is_tensor(inner):
                inner = torch.tensor(inner, dtype=torch.float64)
            stack.append(arg(inner))
        else:
            raise ValueError(arg)
    return stack[0]


class TorchFormula(torch.nn.Module):
    """``expr`` as a torch module whose floating-point constants are trainable parameters.

    Integers and rationals (exponents, snapped constants) stay fixed. ``forward`` maps
    ``(batch, n_features)`` to ``(batch,)``. The expression tree is translated once into a
    postfix program of torch operations (no code is generated), so each call only runs
    the operations.
    """

    def __init__(self, expr: sympy.Expr) -> None:
        super().__init__()
        self.expr = expr
        self.floats = sorted(expr.atoms(sympy.Float), key=lambda f: (float(f), str(f)))
        self.constants = torch.nn.Parameter(
            torch.tensor([float(f) for f in self.floats], dtype=torch.float64)
        )
        self._program = _torch_program(expr, {f: i for i, f in enumerate(self.floats)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _run_program(self._program, x, self.constants)
        if not torch.is_tensor(out):
            out = torch.tensor(out, dtype=torch.float64)
        return out.expand(x.shape[0])

    def batched(self, x: torch.Tensor, constant_sets: torch.Tensor) -> torch.Tensor:
        """Values ``(B, batch)`` for ``B`` sets of constants ``(B, p)`` in one pass (no
        gradient to ``constants``)."""
        sets = constant_sets.to(torch.float64)[:, None, :]  # (B, 1, p)
        out = torch.as_tensor(_run_program(self._program, x, sets), dtype=torch.float64)
        return out.expand(constant_sets.shape[0], x.shape[0])

    def row_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values ``(batch,)`` and their exact derivatives ``(batch, p)`` by the constants at
        their current values, by one forward and one backward pass: every constant is a
        ``(batch,)`` tensor (each row its own copy), so the gradient of the summed values by
        that tensor is its column of the Jacobian (row ``i`` depends on copy ``i`` only)."""
        n = x.shape[0]
        copies = [c.expand(n).clone().requires_grad_(True) for c in self.constants.detach()]
        out = torch.as_tensor(_run_program(self._program, x, copies), dtype=torch.float64)
        out = out.expand(n)
        if not out.requires_grad:  # no constant reaches the value (e.g. 0*c)
            return out.detach(), torch.zeros(n, len(copies), dtype=torch.float64, device=x.device)
        # (a constant the value does not depend on gets a zero column)
        grads = torch.autograd.grad(out.sum(), copies, materialize_grads=True)
        return out.detach(), torch.stack(grads, 1)

    def export(self) -> sympy.Expr:
        """``expr`` with the current constants."""
        values = self.constants.detach().numpy()
        return self.expr.xreplace(
            {f: sympy.Float(float(v), 15) for f, v in zip(self.floats, values, strict=True)}
        )


def refit_constants(
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    n_iter: int = 50,
    sample_weight: np.ndarray | None = None,
) -> tuple[sympy.Expr, float]:
    """Refit every float of ``expr`` to ``X, y`` on the mean squared error (weighted by
    ``sample_weight (n,)`` when given): Levenberg-Marquardt with the exact Jacobian for up to
    ``n_iter`` steps, LBFGS where that finds no step (a Jacobian that is not finite).

    Returns the refit expression and its loss; the input is returned unchanged when the fit
    does not improve it or fails.
    """
    start_loss = mse(expr, X, y, sample_weight)
    if not math.isfinite(start_loss):
        return expr, start_loss
    module = TorchFormula(expr)
    if not module.floats:
        return expr, start_loss
    # copies: the caller's arrays may be read-only views, which torch cannot wrap safely
    xt = torch.from_numpy(np.array(X, dtype=np.float64))
    yt = torch.from_numpy(np.array(y, dtype=np.float64))
    wt = None if sample_weight is None else torch.from_numpy(np.array(sample_weight, float))
    if not _least_squares_fit(module, xt, yt, wt, n_iter) and not _lbfgs_fit(
        module, xt, yt, wt, n_iter
    ):
        return expr, start_loss
    if not bool(torch.isfinite(module.constants).all()):
        return expr, start_loss
    fitted = module.export()
    loss = mse(fitted, X, y, sample_weight)
    return (fitted, loss) if loss < start_loss else (expr, start_loss)


def _least_squares_fit(module: TorchFormula, xt, yt, wt, n_iter: int) -> bool:
    """Levenberg-Marquardt on the constants of ``module`` with the exact Jacobian
    (:meth:`TorchFormula.row_jacobian`); whether it lowered the (weighted) mean squared
    error. The constants are left at the best point seen."""
    root = torch.ones_like(yt) if wt is None else torch.sqrt(wt / wt.mean())

    def load(theta: np.ndarray) -> None:
        with torch.no_grad():
            module.constants.copy_(torch.from_numpy(theta))

    def predict() -> np.ndarray:
        with torch.no_grad():
            return module(xt).numpy()

    def predict_with_jacobian() -> tuple[np.ndarray, np.ndarray]:
        values, jac = module.row_jacobian(xt)
        return values.numpy(), jac.numpy()

    start = module.constants.detach().numpy().copy()
    found = refit_least_squares(
        start,
        load,
        predict,
        predict_with_jacobian,
        yt.numpy(),
        (root / math.sqrt(yt.shape[0])).numpy(),
        n_iter,
    )
    return found is not None


def _lbfgs_fit(module: TorchFormula, xt, yt, wt, n_iter: int) -> bool:
    """LBFGS on the constants of ``module`` (``n_iter`` steps); ``False`` when torch's line
    search fails (a loss that is not finite)."""
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
        squared = (module(xt) - yt) ** 2
        loss = torch.mean(squared if wt is None else wt * squared)
        if torch.isfinite(loss):
            loss.backward()
        return loss

    try:
        opt.step(closure)
    except (RuntimeError, IndexError, ValueError):  # torch's line search on a non-finite loss
        return False
    return True


def mse(
    expr: sympy.Expr, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Mean squared error of ``expr`` on ``X, y`` (``sample_weight (n,)``: weighted, the
    weights' mean taken as 1); ``inf`` when it is not finite or cannot be evaluated."""
    try:
        pred = evaluate(expr, X)
    except (ValueError, TypeError):
        return math.inf
    if not np.all(np.isfinite(pred)):
        return math.inf
    with np.errstate(over="ignore"):  # a finite but huge prediction: inf, not a warning
        if sample_weight is not None:
            return float(np.average((pred - y) ** 2, weights=sample_weight))
        return float(np.mean((pred - y) ** 2))


def weighted_variance(y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Variance of ``y (n,)``, weighted by ``sample_weight (n,)`` when given."""
    mean = np.average(y, weights=sample_weight)
    return float(np.average((y - mean) ** 2, weights=sample_weight))


def n_rows(y: np.ndarray, sample_weight: np.ndarray | None = None) -> int:
    """Rows that count: those of nonzero weight (all without weights)."""
    return len(y) if sample_weight is None else int(np.count_nonzero(sample_weight))


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes of the expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))
