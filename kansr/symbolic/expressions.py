"""Evaluate kansr's sympy formulas numerically, and refit their floating-point constants.

The evaluators walk the expression tree; they never generate or execute code (no
``lambdify``, ``eval`` or ``exec``), so a formula rebuilt from a file cannot run anything.
Only the operations kansr's formulas use are supported; anything else is a ``ValueError``.

Formulas use the internal symbols ``x0 .. x{n-1}``: column ``i`` of ``X`` is ``x{i}``.

:data:`OPERATIONS` is the one registry of the functions formulas may use (sympy class, numpy
and torch forms, name in saved files). :func:`canonical` evaluates a formula the way sympy
does, refusing steps that would compute huge numbers (for formulas from files).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import sympy
import torch

__all__ = [
    "OPERATIONS",
    "EvaluationBudget",
    "EvaluationLimits",
    "Operation",
    "TorchFormula",
    "evaluate",
    "canonical",
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


class EvaluationLimits(NamedTuple):
    """Limits on what sympy may compute while :func:`canonical` evaluates a formula."""

    #: largest ``|exponent|`` of a power of a number (also ``c`` in ``exp(c*log(b)) = b**c``)
    exponent: float = 1000
    #: most decimal digits of a rational exponent
    exponent_digits: float = 50
    #: most decimal digits of an exact number (``str`` of an ``int`` allows 4300)
    digits: float = 4000
    #: largest ``|log2|`` of the magnitude of a number (``2**10000`` is about ``10**3010``)
    magnitude_bits: float = 10_000
    #: largest precision of a float, in bits (mpmath's ``exp`` slows down far beyond)
    precision: int = 512
    #: most decimal digits of a number whose root sympy extracts (a partial factorisation)
    root_digits: float = 100


class EvaluationBudget:
    """What :func:`canonical` may spend over many formulas (those of one file, say).

    ``digits``: decimal digits of the exact numbers of the evaluated formulas, in all;
    ``root_digits``: digits of the numbers whose roots sympy extracts; ``function_bits``: the
    ``log2`` magnitudes of the float arguments of functions (their argument reduction and
    ``exp`` cost time), in all.
    """

    def __init__(
        self,
        limits: EvaluationLimits | None = None,
        digits: float = 100_000,
        root_digits: float = 1_000,
        function_bits: float = 200_000,
    ) -> None:
        self.limits = EvaluationLimits() if limits is None else limits
        self.left = {"digits": digits, "root_digits": root_digits, "function_bits": function_bits}

    def spend(self, what: str, amount: float) -> None:
        self.left[what] -= amount
        if self.left[what] < 0:
            raise ValueError(f"the formulas need more {what.replace('_', ' ')} than allowed")


_LOG10_2 = math.log10(2)
_SIZE_LIMIT = 1e300  # beyond: infinite (avoids float overflow in the bounds)


class _Size(NamedTuple):
    """The numbers of an evaluated (canonical) tree."""

    digits: float  # decimal digits of its largest exact number (numerator, denominator)
    digit_sum: float  # of all its exact numbers
    up: float  # largest log2 of the magnitude of its numbers (0 at least)
    bits: float  # largest |log2| of the magnitude of its numbers
    bit_sum: float  # of all its numbers

    def __add__(self, other):  # the numbers of both
        return _Size(
            max(self.digits, other.digits),
            self.digit_sum + other.digit_sum,
            max(self.up, other.up),
            max(self.bits, other.bits),
            self.bit_sum + other.bit_sum,
        )


_NOTHING = _Size(0.0, 0.0, 0.0, 0.0, 0.0)


def _leaf_size(node: sympy.Basic) -> _Size:
    if isinstance(node, sympy.Rational):
        p, q = abs(int(node.p)).bit_length(), int(node.q).bit_length()
        digits = max(p, q) * _LOG10_2
        return _Size(digits, digits, float(max(p - q + 1, 0)), float(max(p, q)), float(max(p, q)))
    if isinstance(node, sympy.Float):
        _, mantissa, exponent, _ = node._mpf_
        magnitude = exponent + int(mantissa).bit_length() if mantissa else 0
        return _Size(
            0.0, 0.0, float(max(magnitude, 0)), float(abs(magnitude)), float(abs(magnitude))
        )
    if node in (sympy.pi, sympy.E):
        return _Size(0.0, 0.0, 2.0, 2.0, 2.0)
    return _NOTHING  # symbols


class _Value(NamedTuple):
    """Bounds on the value of a constant tree (one without symbols): ``log2 |v|`` lies in
    ``[-down, up]`` (or ``v`` is 0)."""

    constant: bool
    up: float = 0.0
    down: float = 0.0


_VARIABLE = _Value(False)
_SLACK = 64  # bits of cancellation in a sum, or to the zeros and poles of sin, tan, log, ...


def _leaf_value(node: sympy.Basic) -> _Value:
    if isinstance(node, sympy.Rational):
        p, q = abs(int(node.p)).bit_length(), int(node.q).bit_length()
        return _Value(True, max(p - q + 1, 0), max(q - p + 1, 0)) if p else _Value(True)
    if isinstance(node, sympy.Float):
        _, mantissa, exponent, _ = node._mpf_
        magnitude = exponent + int(mantissa).bit_length()
        return _Value(True, max(magnitude, 0), max(1 - magnitude, 0)) if mantissa else _Value(True)
    if node in (sympy.pi, sympy.E):
        return _Value(True, 2.0, 0.0)
    return _VARIABLE  # symbols


def _node_value(node: sympy.Basic, kids: list[_Value], digit_sum: float) -> _Value:
    """How sympy's ``evalf`` (printers call it on constant factors) sizes a constant node."""
    if not all(k.constant for k in kids):
        return _VARIABLE
    ups = [k.up for k in kids]
    width = max(max(k.up, k.down) for k in kids)
    func = node.func
    if node.is_Add:  # a sum may cancel: by its exact digits, and some slack
        up = max(ups) + math.log2(len(kids))
        down = max(k.down for k in kids) + _SLACK + digit_sum / _LOG10_2
    elif node.is_Mul:
        up, down = sum(ups), sum(k.down for k in kids)
    elif node.is_Pow:
        up = down = _times(width, 2.0 ** min(kids[1].up, 1100))
    elif func in (sympy.exp, *_EXP_LIKE):
        up = down = _exp_bits(kids[0].up)
    elif func in (sympy.sin, sympy.cos):
        up, down = 0.0, width + _SLACK
    elif func in (sympy.tanh, sympy.atan):
        up, down = 1.0, kids[0].down + 1
    elif func in (sympy.asin, sympy.acos):
        up, down = 2.0, kids[0].down + _SLACK
    elif func is sympy.log:
        up, down = math.log2(0.7 * width + 1) + 1, width + _SLACK
    elif func is sympy.Abs:
        up, down = kids[0].up, kids[0].down
    elif func is sympy.sign:
        up = down = 0.0
    else:  # tan, cot near their poles, and anything else
        up = down = width + _SLACK
    return _Value(True, up, down)


class _Sizes:
    """:class:`_Size` and :class:`_Value` of evaluated trees, memoised by node (the nodes
    are kept alive)."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[sympy.Basic, _Size, _Value]] = {}

    def __call__(self, expr: sympy.Basic) -> _Size:
        stack = [(expr, False)]
        while stack:
            node, done = stack.pop()
            hit = self._memo.get(id(node))
            if hit is not None and hit[0] is node:
                continue
            if not node.args:
                self._memo[id(node)] = (node, _leaf_size(node), _leaf_value(node))
                continue
            if not done:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args)
                continue
            size = _NOTHING
            for a in node.args:
                size = size + self._memo[id(a)][1]
            values = [self._memo[id(a)][2] for a in node.args]
            self._memo[id(node)] = (node, size, _node_value(node, values, size.digit_sum))
        return self._memo[id(expr)][1]

    def value(self, expr: sympy.Basic) -> _Value:
        self(expr)
        return self._memo[id(expr)][2]

    def powered(self, base: sympy.Basic) -> _Size:
        """The numbers a power of ``base`` computes with: a number, the numeric factors of a
        product (``(2*x)**3 = 8*x**3``), the number of a power (``(2**(1/3))**6 = 4``); a
        sum or a function stays as it is."""
        size = _NOTHING
        for factor in sympy.Mul.make_args(base):
            if factor.is_Number or factor in (sympy.pi, sympy.E):
                size = size + self(factor)
            elif factor.is_Pow and (factor.base.is_Number or factor.base is sympy.E):
                size = size + self(factor)
        return size


def _check(value: float, limit: float, what: str) -> None:
    if not value <= limit:
        shown = f"{value:.0f}" if value < 1e15 else f"{value:.3g}"
        shown = shown if value < _SIZE_LIMIT else "without bound"
        raise ValueError(f"{what} would reach {shown} (at most {limit:g})")


def _times(a: float, b: float) -> float:
    product = 0.0 if a == 0 or b == 0 else a * b
    return product if product < _SIZE_LIMIT else math.inf


def _exp_bits(up: float) -> float:
    """Bits of the magnitude of ``exp(x)`` for ``x`` below ``2**up``."""
    return 1.45 * 2.0**up if up < 1000 else math.inf


_EXP_LIKE = (sympy.sinh, sympy.cosh)  # their magnitude grows like exp's


class _Guard:
    """Checks each evaluation step of :func:`canonical` before sympy runs it."""

    def __init__(self, budget: EvaluationBudget) -> None:
        self.budget = budget
        self.limits = budget.limits
        self.sizes = _Sizes()

    def power(self, size: _Size, exponent: sympy.Basic) -> None:
        """A power with the number ``exponent`` of the numbers of ``size`` (see
        :meth:`_Sizes.powered`), and the root of them it may extract."""
        limits = self.limits
        if isinstance(exponent, sympy.Rational):
            _check(self.sizes(exponent).digits, limits.exponent_digits, "the digits of an exponent")
        value = abs(float(exponent))
        _check(value, limits.exponent, "an exponent")
        if isinstance(exponent, sympy.Rational):
            _check(_times(size.digit_sum, value + 1), limits.digits, "the digits of a power")
        _check(_times(size.bit_sum, value + 1), limits.magnitude_bits, "the magnitude of a power")
        if not isinstance(exponent, (sympy.Integer, sympy.Float)) and size.digit_sum:
            # sympy factors the exact numbers partly to extract the root
            self.root(size.digit_sum)

    def root(self, digits: float) -> None:
        _check(digits, self.limits.root_digits, "the digits of a number under a root")
        self.budget.spend("root_digits", digits)

    def exp(self, arg: sympy.Basic) -> None:
        """``exp(arg)``: sympy computes ``exp`` of float terms and turns ``c*log(b)`` into
        ``b**c``."""
        for term in sympy.Add.make_args(arg):
            if term.is_Float:
                up = self.sizes(term).up
                _check(_exp_bits(up), self.limits.magnitude_bits, "the magnitude of exp of a float")
                self.budget.spend("function_bits", up)
                continue
            coefficient, rest = term.as_coeff_Mul()
            logs = [f for f in sympy.Mul.make_args(rest) if isinstance(f, sympy.log)]
            if logs:
                size = _NOTHING
                for f in logs:
                    size = size + self.sizes.powered(f.args[0])
                self.power(size, coefficient)

    def step(self, node: sympy.Basic, args: list) -> None:
        """Check ``node.func(*args)`` (``args`` evaluated already)."""
        limits, sizes = self.limits, self.sizes
        func = node.func
        if node.is_Add:  # numbers and the coefficients of like terms are added
            terms = [t for a in args for t in sympy.Add.make_args(a)]
            digits = sum(sizes(t.as_coeff_Mul()[0]).digits for t in terms)
            _check(digits + math.log10(len(terms)), limits.digits, "the digits of a sum")
        elif node.is_Mul:  # numbers multiplied, also into a sum (2*(x + 1) = 2*x + 2)
            kids = [sizes(f) for a in args for f in sympy.Mul.make_args(a)]
            _check(sum(k.digits for k in kids), limits.digits, "the digits of a product")
            _check(sum(k.up for k in kids), limits.magnitude_bits, "the magnitude of a product")
            roots = [  # roots of numbers with equal exponents are combined
                sizes(f).digit_sum
                for a in args
                for f in sympy.Mul.make_args(a)
                if f.is_Pow and f.base.is_Number and f.exp.is_Rational and not f.exp.is_Integer
            ]
            if len(roots) > 1:
                self.root(sum(roots))
        elif node.is_Pow:
            base, exponent = args
            if exponent.is_Number:
                self.power(sizes.powered(base), exponent)
            elif base is sympy.E:
                self.exp(exponent)
        elif func is sympy.exp:
            self.exp(args[0])
        elif len(args) == 1 and args[0].is_Float:  # evaluated by mpmath
            up = sizes(args[0]).up
            if func in _EXP_LIKE:
                _check(_exp_bits(up), limits.magnitude_bits, f"the magnitude of {func}")
            self.budget.spend("function_bits", up)

    def result(self, new: sympy.Basic) -> None:
        for term in (new, *new.args):  # exponents sympy combined: (x**a)**b, x**a*x**b
            if term.is_Pow and term.exp.is_Number:
                _check(abs(float(term.exp)), self.limits.exponent, "an exponent")
        size = self.sizes(new)
        _check(size.digits, self.limits.digits, "the digits of a number")
        _check(size.bits, self.limits.magnitude_bits, "the magnitude of a number (bits)")
        value = self.sizes.value(new)
        if value.constant:  # printers evaluate constant factors (evalf)
            bits = max(value.up, value.down)
            _check(bits, self.limits.magnitude_bits, "the magnitude of a constant (bits)")


def canonical(expr: sympy.Basic, budget: EvaluationBudget | None = None) -> sympy.Basic:
    """``expr`` as sympy evaluates it (rebuilt bottom up with ``evaluate=True``), refusing
    any step that would compute numbers beyond the budget's limits.

    sympy evaluates a tree again whenever something rebuilds it (``xreplace``, ``subs``,
    renaming the symbols for printing, :meth:`TorchFormula.export`): an unevaluated
    ``(3 + 0*x)**(10**8)`` becomes ``3**(10**8)``, an integer of 48 million digits; a product
    of many large rationals becomes one huge rational; ``cosh`` of a float near ``2**10000``
    at high precision takes seconds. This evaluates ``expr`` once, checking each step against
    its arguments (already evaluated, so their numbers are known) before sympy runs it: the
    digits and magnitudes of sums, products and powers (``(2*x)**3 = 8*x**3``, also
    ``exp(c*log(b)) = b**c``), exponents, roots of numbers (``n**(p/q)``, also
    ``sqrt(a)*sqrt(b) = sqrt(a*b)``: a partial factorisation), and functions of floats. The
    evaluated tree is what sympy makes of it again later: renaming its symbols or replacing
    its floats by floats computes nothing large. A tree sympy built (evaluated already) comes
    back equal. The walk does not recurse.

    Raises
    ------
    ValueError
        When a step would exceed a limit of ``budget`` (:class:`EvaluationBudget`, default
        limits when ``None``), naming it.
    """
    guard = _Guard(EvaluationBudget() if budget is None else budget)
    done: dict[int, tuple[sympy.Basic, sympy.Basic]] = {}  # id(node) -> (node, evaluated)
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        hit = done.get(id(node))
        if hit is not None and hit[0] is node:
            continue
        if not node.args:
            if isinstance(node, sympy.Float):
                _check(int(node._prec), guard.limits.precision, "the precision of a float")
            guard.result(node)
            done[id(node)] = (node, node)
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
            continue
        args = [done[id(a)][1] for a in node.args]
        guard.step(node, args)
        new = node.func(*args)
        guard.result(new)
        done[id(node)] = (node, new)
    result = done[id(expr)][1]
    guard.budget.spend("digits", guard.sizes(result).digit_sum)
    return result


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
