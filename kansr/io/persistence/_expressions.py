"""Formulas as JSON trees: :func:`encode_expr`, and :func:`decode_expr`, which rebuilds a tree
from a whitelist of sympy constructors, each node checked, within the budget of one file."""

from __future__ import annotations

from typing import Any

import sympy

from kansr.io.persistence._checks import _fail, _int, _list, _str
from kansr.io.persistence._limits import (
    _ASSUMPTIONS,
    _FILE_BUDGET,
    _HEX_TEXT,
    _INT_TEXT,
    _LIMITS,
    _MAX_DEPTH,
    _MAX_EXP,
    _MAX_INT_DIGITS,
    _MAX_NODES,
    _MAX_PREC,
    _REAL_ASSUMPTIONS,
    _SYMBOL_NAME,
)
from kansr.symbolic.canonical import EvaluationBudget, canonical
from kansr.symbolic.operations import OPERATIONS, operation


def encode_expr(expr: sympy.Basic) -> list:
    """A JSON tree of ``expr`` (see :func:`decode_expr`); ``ValueError`` on other nodes."""
    if isinstance(expr, sympy.Symbol):
        if type(expr) is not sympy.Symbol or not _SYMBOL_NAME.fullmatch(expr.name):
            raise ValueError(f"cannot save the symbol {expr!r}: only x<i> symbols are supported")
        # the assumptions as given to the constructor (as srepr shows them); sympy < 1.12
        # lacks them, and the full set rebuilds an equal symbol
        given = getattr(expr, "_assumptions_orig", None)
        given = expr.assumptions0 if given is None else given
        return ["Symbol", expr.name, {str(k): bool(v) for k, v in sorted(given.items())}]
    if isinstance(expr, sympy.Integer):
        return ["Integer", str(int(expr))]
    if isinstance(expr, sympy.Rational):
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    if isinstance(expr, sympy.Float):
        sign, man, exp, _ = expr._mpf_
        if man == 0 and exp != 0:  # mpmath's inf / nan encodings
            raise ValueError(f"cannot save the non-finite float {expr}")
        return ["Float", int(sign), format(int(man), "x"), int(exp), int(expr._prec)]
    if expr is sympy.pi:
        return ["pi"]
    if expr is sympy.E:
        return ["E"]
    if type(expr) is sympy.Add:
        return ["Add", [encode_expr(a) for a in expr.args]]
    if type(expr) is sympy.Mul:
        return ["Mul", [encode_expr(a) for a in expr.args]]
    if type(expr) is sympy.Pow:
        return ["Pow", encode_expr(expr.base), encode_expr(expr.exp)]
    op = operation(type(expr))
    if op is not None and len(expr.args) == 1:
        return ["Function", op.name, [encode_expr(expr.args[0])]]
    raise ValueError(f"cannot save the operation {type(expr).__name__} in a formula: {expr}")


class _Budget:
    """What the formulas of one file may use together: nodes, and what sympy computes as it
    evaluates them."""

    def __init__(self) -> None:
        self.nodes = 0
        self.evaluation = EvaluationBudget(_LIMITS, **_FILE_BUDGET)


def decode_expr(tree: Any, where: str = "expression", n_features: int | None = None) -> sympy.Expr:
    """Rebuild a sympy expression from the JSON tree of :func:`encode_expr`.

    Only whitelisted node kinds are accepted and each is built with its sympy constructor
    (``evaluate=False``, so the rebuilt tree is the saved one); nothing is parsed or executed.
    Symbols must be ``x<i>`` (with ``i < n_features`` when given). The tree is checked as
    :func:`load` checks formulas (its size, and what sympy computes as it evaluates it);
    :class:`InvalidModelFile` (a ``ValueError``) otherwise.
    """
    return _decode_formula(tree, where, n_features, _Budget())[0]


def _decode_formula(tree: Any, where: str, n_features: int | None, budget: _Budget):
    """The tree as saved, and as sympy evaluates it (checked: see ``canonical``)."""
    expr = _decode_node(tree, where, n_features, 0, budget)
    try:
        evaluated = canonical(expr, budget.evaluation)
    except ValueError as exc:
        _fail(where, f"formula refused: as sympy evaluates it, {exc}")
    return expr, evaluated


def _decode_node(node: Any, where: str, n_features: int | None, depth: int, budget: _Budget) -> Any:
    budget.nodes += 1
    if budget.nodes > _MAX_NODES:
        _fail(where, f"the formulas have more than {_MAX_NODES} nodes in all")
    if depth > _MAX_DEPTH:
        _fail(where, f"formula nested deeper than {_MAX_DEPTH}")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        _fail(where, f"expected an expression node [kind, ...], got {str(node)[:80]}")
    kind = node[0]
    decoder = _DECODERS.get(kind)
    if decoder is None:
        _fail(where, f"unknown expression node {kind[:60]!r}")
    return decoder(_Node(kind, node[1:], where, n_features, depth, budget))


class _Node:
    """One node of a tree being decoded: its kind and fields, and where it sits."""

    __slots__ = ("kind", "args", "where", "n_features", "depth", "budget")

    def __init__(self, kind, args, where, n_features, depth, budget) -> None:
        self.kind, self.args, self.where = kind, args, where
        self.n_features, self.depth, self.budget = n_features, depth, budget

    def arity(self, n: int) -> None:
        if len(self.args) != n:
            _fail(self.where, f"{self.kind} node needs {n} field(s), got {len(self.args)}")

    def children(self, items: Any, minimum: int) -> list:
        """The decoded child nodes ``items`` (a list of at least ``minimum``)."""
        items = _list(items, self.where)
        if len(items) < minimum:
            _fail(self.where, f"{self.kind} needs at least {minimum} arguments, got {len(items)}")
        out = []  # a loop, not a comprehension: one stack frame less per level of nesting
        for child in items:
            out.append(
                _decode_node(child, self.where, self.n_features, self.depth + 1, self.budget)
            )
        return out


def _symbol(node: _Node) -> sympy.Symbol:
    node.arity(2)
    where, n_features = node.where, node.n_features
    name = _str(node.args[0], where)
    if not _SYMBOL_NAME.fullmatch(name):
        _fail(where, f"symbol {name[:40]!r} is not an internal feature symbol x<i>")
    if n_features is not None and int(name[1:]) >= n_features:
        _fail(where, f"symbol {name} refers to a feature beyond the {n_features} inputs")
    assumptions = node.args[1]
    if not isinstance(assumptions, dict) or not all(
        key in _ASSUMPTIONS and isinstance(val, bool) for key, val in assumptions.items()
    ):
        _fail(where, f"invalid assumptions of symbol {name}")
    try:
        symbol = sympy.Symbol(name, **assumptions)
    except ValueError:  # sympy's InconsistentAssumptions
        _fail(where, f"inconsistent assumptions of symbol {name}")
    # kansr's symbols are real; others (positive, integer, ...) make sympy's evaluation
    # ask questions that can take long (the real roots of a polynomial in the symbol)
    if symbol.assumptions0 != _REAL_ASSUMPTIONS:
        _fail(where, f"symbol {name} is not real (only real=True symbols are supported)")
    return symbol


def _integer(node: _Node) -> sympy.Integer:
    node.arity(1)
    return sympy.Integer(_int_text(node.args[0], node.where))


def _rational(node: _Node) -> sympy.Rational:
    node.arity(2)
    p, q = _int_text(node.args[0], node.where), _int_text(node.args[1], node.where)
    if q <= 0:
        _fail(node.where, f"Rational denominator must be positive, got {q}")
    return sympy.Rational(p, q)


def _float(node: _Node) -> sympy.Float:
    node.arity(4)
    where, args = node.where, node.args
    sign = _int(args[0], where, 0, 1)
    man_text = _str(args[1], where)
    if len(man_text) > _MAX_PREC // 4 + 1 or not _HEX_TEXT.fullmatch(man_text):
        _fail(where, f"invalid Float mantissa {man_text[:40]!r}")
    exp = _int(args[2], where, -_MAX_EXP, _MAX_EXP)
    prec = _int(args[3], where, 1, _MAX_PREC)
    man = int(man_text, 16)
    if man == 0:
        if sign or exp:
            _fail(where, "invalid Float: non-finite or malformed zero")
        return sympy.Float(0.0, precision=prec)
    if man.bit_length() > prec:
        _fail(where, "Float mantissa is longer than its precision")
    return sympy.Float((sign, man, exp), precision=prec)


def _constant(node: _Node) -> sympy.Expr:
    node.arity(0)
    return sympy.pi if node.kind == "pi" else sympy.E


def _sum_or_product(node: _Node) -> sympy.Expr:
    node.arity(1)
    cls = sympy.Add if node.kind == "Add" else sympy.Mul
    return cls(*node.children(node.args[0], 2), evaluate=False)


def _power(node: _Node) -> sympy.Expr:
    node.arity(2)
    base, exponent = node.children(list(node.args), 2)
    return sympy.Pow(base, exponent, evaluate=False)


def _function(node: _Node) -> sympy.Expr:
    node.arity(2)
    fname = node.args[0]
    if not isinstance(fname, str) or fname not in OPERATIONS:
        _fail(node.where, f"function {str(fname)[:60]!r} is not one of {sorted(OPERATIONS)}")
    if len(_list(node.args[1], node.where)) != 1:
        _fail(node.where, f"function {fname} takes exactly one argument")
    (arg,) = node.children(node.args[1], 1)
    return OPERATIONS[fname].sympy_cls(arg, evaluate=False)


# the whitelist: node kind -> its decoder
_DECODERS = {
    "Symbol": _symbol,
    "Integer": _integer,
    "Rational": _rational,
    "Float": _float,
    "pi": _constant,
    "E": _constant,
    "Add": _sum_or_product,
    "Mul": _sum_or_product,
    "Pow": _power,
    "Function": _function,
}


def _int_text(text: Any, where: str) -> int:
    value = _str(text, where)
    if len(value) > _MAX_INT_DIGITS or not _INT_TEXT.fullmatch(value):
        _fail(where, f"invalid integer text {value[:40]!r}")
    return int(value)
