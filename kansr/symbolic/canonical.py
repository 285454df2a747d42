"""Evaluating a formula from a file the way sympy does, refusing every step that would
compute huge numbers (exponents, digits, magnitudes): a saved file cannot make kansr hang or
exhaust memory (:func:`canonical`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import sympy

__all__ = ["EvaluationBudget", "EvaluationLimits", "canonical"]


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
