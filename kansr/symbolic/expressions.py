"""Evaluate kansr's sympy formulas numerically, and refit their floating-point constants.

The evaluators walk the expression tree; they never generate or execute code (no
``lambdify``, ``eval`` or ``exec``), so a formula rebuilt from a file cannot run anything.
Only the operations kansr's formulas use are supported; anything else is a ``ValueError``.

Formulas use the internal symbols ``x0 .. x{n-1}``: column ``i`` of ``X`` is ``x{i}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import sympy
import torch

__all__ = [
    "MAX_EXPONENT",
    "MAX_EXPONENT_DIGITS",
    "MAX_ROOT_DIGITS",
    "OPERATIONS",
    "Operation",
    "TorchFormula",
    "evaluate",
    "exact_digits",
    "mse",
    "operation",
    "refit_constants",
    "symbol_index",
]


@dataclass(frozen=True)
class Operation:
    """One function that formulas may contain: its sympy class and its numpy and torch forms.

    ``name`` is the function's name in saved files (:mod:`kansr.io.persistence`);
    ``numpy_fn`` and ``torch_fn`` are elementwise (float64 arrays, tensors).
    """

    name: str
    sympy_cls: type[sympy.Function]
    numpy_fn: Callable[[np.ndarray], np.ndarray]
    torch_fn: Callable[[torch.Tensor], torch.Tensor]


def _cot_numpy(u):
    return 1.0 / np.tan(u)


def _cot_torch(u):
    return 1.0 / torch.tan(u)


#: The one registry of the functions formulas may use, by name (read-only mapping).
#: Evaluation (:func:`evaluate`), :class:`TorchFormula` and the whitelist of saved files
#: (:mod:`kansr.io.persistence`) all read it.
OPERATIONS: MappingProxyType[str, Operation] = MappingProxyType(
    {
        op.name: op
        for op in (
            Operation("exp", sympy.exp, np.exp, torch.exp),
            Operation("log", sympy.log, np.log, torch.log),
            Operation("sin", sympy.sin, np.sin, torch.sin),
            Operation("cos", sympy.cos, np.cos, torch.cos),
            Operation("tan", sympy.tan, np.tan, torch.tan),
            Operation("cot", sympy.cot, _cot_numpy, _cot_torch),
            Operation("tanh", sympy.tanh, np.tanh, torch.tanh),
            Operation("sinh", sympy.sinh, np.sinh, torch.sinh),
            Operation("cosh", sympy.cosh, np.cosh, torch.cosh),
            Operation("atan", sympy.atan, np.arctan, torch.atan),
            Operation("asin", sympy.asin, np.arcsin, torch.asin),
            Operation("acos", sympy.acos, np.arccos, torch.acos),
            Operation("Abs", sympy.Abs, np.abs, torch.abs),
            Operation("sign", sympy.sign, np.sign, torch.sign),
        )
    }
)
_BY_CLASS: dict[type, Operation] = {op.sympy_cls: op for op in OPERATIONS.values()}


def operation(func: type) -> Operation | None:
    """The registered :class:`Operation` of the sympy function class ``func`` (``expr.func``),
    or ``None``."""
    return _BY_CLASS.get(func)


#: Largest ``|exponent|`` of a power that :func:`exact_digits` accepts (also for
#: ``exp(c*log(b))``, which sympy turns into ``b**c``).
MAX_EXPONENT = 1000
#: Most digits of the numerator or denominator of a rational (or integer) exponent.
MAX_EXPONENT_DIGITS = 50
#: Most digits (in all) of the exact numbers that may be put under roots (``n**(p/q)``).
MAX_ROOT_DIGITS = 100

_LOG10_2 = math.log10(2)
_SPECIAL_VALUE_DIGITS = 1.1  # cos(pi/12) = sqrt(2)/4 + sqrt(6)/4, acos(-1/2) = 2*pi/3, ...


def _height(number: sympy.Rational) -> float:
    """Upper bound on ``log10 max(|p|, q)`` of an exact number ``p/q``."""
    return max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) * _LOG10_2


def _exponent_bound(exponent: sympy.Basic, height: float) -> float:
    """Upper bound on ``|exponent|`` should it evaluate to a number; ``ValueError`` beyond
    :data:`MAX_EXPONENT` or :data:`MAX_EXPONENT_DIGITS`."""
    if isinstance(exponent, sympy.Rational):
        if height > MAX_EXPONENT_DIGITS:
            raise ValueError(
                f"an exponent has more than {MAX_EXPONENT_DIGITS} digits "
                f"(about {math.ceil(height)})"
            )
        bound = abs(float(exponent))
    elif isinstance(exponent, sympy.Float):
        bound = abs(float(exponent))
    else:  # an expression: it may collapse to a number of up to `height` digits
        bound = 10.0**height if height <= math.log10(MAX_EXPONENT) + 1 else math.inf
    if not bound <= MAX_EXPONENT:
        raise ValueError(
            f"an exponent may exceed {MAX_EXPONENT} in magnitude"
            + (f" ({exponent})" if exponent.is_Number and height < 20 else "")
        )
    return bound


def exact_digits(expr: sympy.Basic) -> float:
    """Upper bound on the decimal digits of the exact numbers sympy can create from ``expr``.

    sympy evaluates a tree again whenever something rebuilds it (``xreplace``, ``subs``,
    renaming the symbols for printing, :meth:`TorchFormula.export`): the unevaluated
    ``(3 + 0*x)**(10**8)`` becomes ``3**(10**8)``, an integer of 48 million digits, and a
    product of many large rationals becomes one huge rational. Printing, comparing and
    evaluating then take minutes or all memory. This bound on the size of every integer,
    numerator and denominator such an evaluation can produce (``log10`` of the largest) lets a
    caller refuse such trees before anyone touches them. It assumes the worst: every sub-tree
    may collapse to a number (``0*x``, ``x - x``, ``x/x``); sums and products have at most the
    digits of their terms together (plus a carry); a power multiplies the digits of its base
    by its exponent, and so does ``exp(c*log(b))``, which sympy turns into ``b**c``. Floats
    never become exact numbers (they count 0). Roots of exact numbers (``n**(p/q)``, also
    ``sqrt(a)*sqrt(b) = sqrt(a*b)``) cost sympy a partial factorisation: the numbers that may
    end up under a root are bounded by :data:`MAX_ROOT_DIGITS` digits in all. The tree is
    walked without recursion.

    Raises
    ------
    ValueError
        When an exponent (of a power, or the ``c`` of ``exp(c*log(b))``) may exceed
        :data:`MAX_EXPONENT` in magnitude (its value when it is a number, else its bound), a
        rational exponent has more than :data:`MAX_EXPONENT_DIGITS` digits, or the numbers
        under roots may have more than :data:`MAX_ROOT_DIGITS` digits.
    """
    heights: dict[int, float] = {}  # by id() of the nodes (all alive while walking)
    coefficients: dict[int, float] = {}  # digits of c in the terms c*log(b) it may become
    roots: dict[int, float] = {}  # digits of the numbers that may end up under a root
    has_log: dict[int, bool] = {}
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in heights:
            continue
        args = node.args
        if not done and args:
            stack.append((node, True))
            stack.extend((a, False) for a in args if id(a) not in heights)
            continue
        ids = [id(a) for a in args]
        logs = [i for i in ids if has_log[i]]
        root = sum(roots[i] for i in ids)
        coefficient = 0.0
        if isinstance(node, sympy.Rational):
            height = _height(node)
        elif not args:  # floats, symbols, pi, E: never an exact number of their own
            height = 0.0
        elif node.is_Add:
            height = sum(heights[i] for i in ids) + math.log10(len(args))
            if logs:  # c1*log(b) + c2*log(b) = (c1 + c2)*log(b)
                coefficient = max(coefficients[i] for i in logs) + math.log10(len(args))
        elif node.is_Mul:
            height = sum(heights[i] for i in ids)
            coefficient = sum(coefficients[i] if has_log[i] else heights[i] for i in ids)
        elif node.is_Pow or (isinstance(node, sympy.exp) and logs):
            # exp(c*log(b)) = b**c (also E**(c*log(b))): the base may become b
            base, exponent = args if node.is_Pow else (sympy.E, args[0])
            e = id(exponent)
            h_exp = heights[e]
            digits = max(h_exp, coefficients[e]) if node.is_Pow else coefficients[e]
            bound = _exponent_bound(exponent, digits)
            h_base = (heights[id(base)] if node.is_Pow else 0.0) + (h_exp if has_log[e] else 0.0)
            height = h_base * (bound + 1) + h_exp
            if node.is_Pow:
                coefficient = height + coefficients[id(base)] * (bound + 1) + coefficients[e]
                root = roots[id(base)] * (bound + 1) + roots[e]
            else:  # log(exp(y)) = y
                coefficient = max(coefficients[e], height)
                root = roots[e]
            if not isinstance(exponent, (sympy.Integer, sympy.Float)):  # may be a fraction
                root += h_base
        else:
            # functions give numbers of their argument (exp(log(b)) = b, Abs(-3*x) = 3*|x|,
            # log(exp(y)) = y) or a special value (cos(pi/3) = 1/2, acos(-1) = pi)
            height = max(sum(heights[i] for i in ids), _SPECIAL_VALUE_DIGITS)
            coefficient = max((coefficients[i] for i in logs), default=0.0)
        if root > MAX_ROOT_DIGITS:
            raise ValueError(
                f"the numbers under roots may reach {math.ceil(root)} digits "
                f"(at most {MAX_ROOT_DIGITS} are allowed)"
            )
        heights[key] = height
        coefficients[key] = coefficient
        roots[key] = root
        has_log[key] = isinstance(node, sympy.log) or bool(logs)
    return heights[id(expr)]


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
        op = operation(expr.func)
        if op is None or len(expr.args) != 1:
            raise ValueError(f"cannot evaluate the operation {expr.func} in a formula")
        inner = self._eval(expr.args[0], x)
        if not torch.is_tensor(inner):
            inner = torch.tensor(inner, dtype=torch.float64)
        return op.torch_fn(inner)

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
    expr: sympy.Expr,
    X: np.ndarray,
    y: np.ndarray,
    n_iter: int = 50,
    sample_weight: np.ndarray | None = None,
) -> tuple[sympy.Expr, float]:
    """Refit every float of ``expr`` to ``X, y`` by LBFGS on the mean squared error
    (weighted by ``sample_weight (n,)`` when given).

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
        return expr, start_loss
    if not bool(torch.isfinite(module.constants).all()):
        return expr, start_loss
    fitted = module.export()
    loss = mse(fitted, X, y, sample_weight)
    return (fitted, loss) if loss < start_loss else (expr, start_loss)


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
    if sample_weight is not None:
        return float(np.average((pred - y) ** 2, weights=sample_weight))
    return float(np.mean((pred - y) ** 2))


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes of the expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))
