"""The one registry of the functions formulas may use (:data:`OPERATIONS`): sympy class,
numpy and torch forms, and the name in saved files; evaluation, torch export and the
persistence whitelist all read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import sympy
import torch

__all__ = ["OPERATIONS", "Operation", "operation"]


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
