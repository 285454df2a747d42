"""Library of candidate 1-D functions for symbolic matching of KAN edges.

Every learned KAN edge ``phi(x)`` is later compared against candidates of the form
``c * f(a * x + b) + d``; this module supplies the ``f``. It knows nothing about networks.

Each candidate is a :class:`SymbolicFunction` holding three equivalent forms of ``f`` (torch,
numpy, sympy), a small integer complexity, and a description of the arguments ``u = a*x + b``
for which ``f(u)`` is defined. Its *safe* forms (:meth:`SymbolicFunction.safe_numpy`,
:meth:`SymbolicFunction.safe_torch`) first move ``u`` into the domain, so that matching code can
evaluate any candidate on any argument without producing NaN or inf.

Domain semantics
----------------
``domain = (low, high)`` bounds the allowed arguments. An infinite bound is always open. A
finite bound is included when the matching entry of ``domain_closed`` is ``True``
(``sqrt``: ``u >= 0``) and excluded otherwise (``log``, ``1/sqrt``: ``u > 0``). Points listed
in ``singularities`` are excluded as well (``1/x``, ``1/x^2``: ``u != 0``). NaN and +-inf
arguments are never in the domain.

Safe forms
----------
Before applying ``f``, the safe forms guard the argument:

1. clamp ``u`` into ``[low, high]`` when the bound is closed, into ``[low + eps, high - eps]``
   when it is open (so ``log`` and ``1/sqrt`` use ``max(u, eps)``, ``sqrt`` uses
   ``max(u, 0)``);
2. clamp ``u`` into ``safe_range`` (default ``+-1e8``, so that ``x^4`` stays finite even in
   float32; ``exp`` uses an upper limit of 80 so that ``exp(u) < 6e34``);
3. replace every ``u`` with ``|u - p| < eps`` by ``p + sign(u - p) * eps`` (``+eps`` when
   ``u == p``) for each singular point ``p`` (``1/x`` never sees ``|u| < eps``).

Inside the domain and away from the guarded regions, safe and exact forms agree exactly. NaN
arguments still give NaN.

Default library
---------------
:data:`DEFAULT_FUNCTIONS` maps names to functions, in this order (complexity in brackets)::

    x (1)       x^2 (2)     x^3 (3)     x^4 (4)     1/x (2)      1/x^2 (3)
    sqrt (2)    1/sqrt (3)  exp (2)     log (2)     sin (3)      cos (3)
    tanh (3)    arctan (4)  abs (3)     gaussian (3) = exp(-u^2)  0 (0) = zero function

Use :func:`make_library` to build a :class:`SymbolicLibrary` from a subset of these names and/or
user-defined :class:`SymbolicFunction` objects. :data:`COMPOSITION_FUNCTIONS` (``sinh``,
``cosh``, ``arcsin``) are offered to compositions ``F(a*G(u) + b)`` of the default library
only; name them in :func:`make_library` to offer them on edges too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import sympy
import torch

__all__ = [
    "DEFAULT_EPS",
    "COMPOSITION_FUNCTIONS",
    "DEFAULT_FUNCTIONS",
    "DEFAULT_SAFE_RANGE",
    "DIVIDED_POWERS",
    "SymbolicFunction",
    "SymbolicLibrary",
    "make_library",
]

#: Half-width of the guarded neighbourhood around open bounds and singular points.
DEFAULT_EPS: float = 1e-6

#: Default clamp applied to arguments by the safe forms: ``(1e8)**4 = 1e32`` fits in float32.
DEFAULT_SAFE_RANGE: tuple[float, float] = (-1e8, 1e8)

_INF = math.inf


@dataclass(frozen=True)
class SymbolicFunction:
    """One candidate function ``f`` for ``c * f(a*x + b) + d``.

    Parameters
    ----------
    name : str
        Unique name within a library (e.g. ``"x^2"``, ``"sin"``, ``"1/x"``, ``"0"``).
    torch_fn : callable
        Exact torch form, ``Tensor (...) -> Tensor (...)``, elementwise.
    numpy_fn : callable
        Exact numpy form, ``ndarray (...) -> ndarray (...)``, elementwise.
    sympy_fn : callable
        Sympy form, ``sympy.Expr -> sympy.Expr``, built from sympy objects
        (e.g. ``lambda u: sympy.sin(u)``).
    complexity : int
        Small non-negative integer cost used to prefer simple candidates
        (``x`` = 1, ``x^2`` = 2, ``sin`` = 3, zero function = 0).
    domain : tuple of float
        ``(low, high)`` bounds of the allowed arguments ``u``; see ``domain_closed``.
    domain_closed : tuple of bool
        Whether each *finite* bound of ``domain`` is itself allowed. Infinite bounds are
        always open.
    singularities : tuple of float
        Isolated points excluded from the domain (``(0.0,)`` for ``1/x``).
    safe_range : tuple of float
        Range the safe forms additionally clamp arguments into, to keep outputs finite.
    eps : float
        Half-width of the guarded neighbourhood around open bounds and singular points.
    periodic : bool
        Whether ``f`` is periodic (``sin``, ``cos``): matching then tries higher frequencies
        ``a``, for inputs that span many periods.
    """

    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    numpy_fn: Callable[[np.ndarray], np.ndarray]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    domain: tuple[float, float] = (-_INF, _INF)
    domain_closed: tuple[bool, bool] = (False, False)
    singularities: tuple[float, ...] = ()
    safe_range: tuple[float, float] = DEFAULT_SAFE_RANGE
    eps: float = DEFAULT_EPS
    periodic: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"SymbolicFunction name must be a non-empty string, got {self.name!r}")
        for attr in ("torch_fn", "numpy_fn", "sympy_fn"):
            if not callable(getattr(self, attr)):
                raise TypeError(f"SymbolicFunction {self.name!r}: {attr} must be callable")
        if isinstance(self.complexity, bool) or not isinstance(self.complexity, int):
            raise TypeError(f"SymbolicFunction {self.name!r}: complexity must be an int")
        if self.complexity < 0:
            raise ValueError(f"SymbolicFunction {self.name!r}: complexity must be >= 0")
        low, high = (float(v) for v in self.domain)
        if not low < high:
            raise ValueError(f"SymbolicFunction {self.name!r}: empty domain {self.domain}")
        safe_low, safe_high = (float(v) for v in self.safe_range)
        if not (math.isfinite(safe_low) and math.isfinite(safe_high) and safe_low < safe_high):
            raise ValueError(
                f"SymbolicFunction {self.name!r}: safe_range must be finite and increasing, "
                f"got {self.safe_range}"
            )
        if not (self.eps > 0 and math.isfinite(self.eps)):
            raise ValueError(f"SymbolicFunction {self.name!r}: eps must be positive and finite")
        if self.guard_bounds[0] > self.guard_bounds[1]:
            raise ValueError(
                f"SymbolicFunction {self.name!r}: safe_range {self.safe_range} does not "
                f"intersect the domain {self.domain}"
            )

    # ------------------------------------------------------------------ domain
    @property
    def guard_bounds(self) -> tuple[float, float]:
        """Interval ``(low, high)`` the safe forms clamp arguments into (before singularities)."""
        low, high = (float(v) for v in self.domain)
        closed_low, closed_high = self.domain_closed
        if math.isfinite(low) and not closed_low:
            low += self.eps
        if math.isfinite(high) and not closed_high:
            high -= self.eps
        return max(low, float(self.safe_range[0])), min(high, float(self.safe_range[1]))

    def in_domain(self, u: np.ndarray | float) -> np.ndarray:
        """Whether each argument lies in the (exact) domain.

        Parameters
        ----------
        u : ndarray, shape (...)
            Arguments ``a*x + b``.

        Returns
        -------
        ndarray of bool, shape (...)
            ``True`` where ``f(u)`` is defined (finite ``u``, within the bounds, not singular).
        """
        u = np.asarray(u, dtype=np.float64)
        low, high = (float(v) for v in self.domain)
        closed_low, closed_high = self.domain_closed
        ok = np.isfinite(u)
        if math.isfinite(low):
            ok &= (u >= low) if closed_low else (u > low)
        if math.isfinite(high):
            ok &= (u <= high) if closed_high else (u < high)
        for p in self.singularities:
            ok &= u != p
        return ok

    # ------------------------------------------------------------------ safe forms
    def guard_numpy(self, u: np.ndarray | float) -> np.ndarray:
        """Move arguments into the guarded domain (see module docstring); shape preserved."""
        u = _as_float_array(u)
        low, high = self.guard_bounds
        u = np.clip(u, low, high)
        for p in self.singularities:
            d = u - p
            near = np.abs(d) < self.eps
            if np.any(near):
                u = np.where(near, np.where(d < 0, p - self.eps, p + self.eps), u).astype(u.dtype)
        return u

    def guard_torch(self, u: torch.Tensor) -> torch.Tensor:
        """Torch version of :meth:`guard_numpy`; keeps dtype, device and autograd graph."""
        if not torch.is_floating_point(u):
            u = u.to(torch.get_default_dtype())
        low, high = self.guard_bounds
        u = torch.clamp(u, min=low, max=high)
        for p in self.singularities:
            d = u - p
            near = d.abs() < self.eps
            shifted = torch.where(
                d < 0, torch.full_like(u, p - self.eps), torch.full_like(u, p + self.eps)
            )
            u = torch.where(near, shifted, u)
        return u

    def safe_numpy(self, u: np.ndarray | float) -> np.ndarray:
        """Evaluate ``f`` on guarded arguments: finite for every non-NaN input.

        Parameters
        ----------
        u : ndarray, shape (...)

        Returns
        -------
        ndarray, shape (...)
            Floating dtype of ``u`` (float64 for integer input).
        """
        g = self.guard_numpy(u)
        out = np.asarray(self.numpy_fn(g))
        return np.broadcast_to(out, g.shape).astype(g.dtype, copy=False)

    def safe_torch(self, u: torch.Tensor) -> torch.Tensor:
        """Torch version of :meth:`safe_numpy`, differentiable where the guard is inactive.

        Parameters
        ----------
        u : Tensor, shape (...)

        Returns
        -------
        Tensor, shape (...)
        """
        g = self.guard_torch(u)
        out = self.torch_fn(g)
        if out.shape != g.shape:
            out = out.expand(g.shape)
        return out

    def sympy_expr(self, u: sympy.Expr) -> sympy.Expr:
        """Sympy form ``f(u)`` (no guarding)."""
        return self.sympy_fn(u)


def _as_float_array(u: np.ndarray | float) -> np.ndarray:
    arr = np.asarray(u)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


# ---------------------------------------------------------------------------- default library
_POSITIVE = (0.0, _INF)


def _build_defaults() -> dict[str, SymbolicFunction]:
    specs = [
        SymbolicFunction("x", lambda u: u, lambda u: u, lambda u: u, 1),
        SymbolicFunction("x^2", lambda u: u**2, lambda u: u**2, lambda u: u**2, 2),
        SymbolicFunction("x^3", lambda u: u**3, lambda u: u**3, lambda u: u**3, 3),
        SymbolicFunction("x^4", lambda u: u**4, lambda u: u**4, lambda u: u**4, 4),
        SymbolicFunction(
            "1/x",
            lambda u: 1.0 / u,
            lambda u: 1.0 / u,
            lambda u: 1 / u,
            2,
            singularities=(0.0,),
        ),
        SymbolicFunction(
            "1/x^2",
            lambda u: 1.0 / u**2,
            lambda u: 1.0 / u**2,
            lambda u: u**-2,
            3,
            singularities=(0.0,),
        ),
        SymbolicFunction(
            "sqrt",
            torch.sqrt,
            np.sqrt,
            lambda u: sympy.sqrt(u),
            2,
            domain=_POSITIVE,
            domain_closed=(True, False),
        ),
        SymbolicFunction(
            "1/sqrt",
            torch.rsqrt,
            lambda u: 1.0 / np.sqrt(u),
            lambda u: 1 / sympy.sqrt(u),
            3,
            domain=_POSITIVE,
        ),
        SymbolicFunction(
            "exp",
            torch.exp,
            np.exp,
            lambda u: sympy.exp(u),
            2,
            safe_range=(DEFAULT_SAFE_RANGE[0], 80.0),
        ),
        SymbolicFunction("log", torch.log, np.log, lambda u: sympy.log(u), 2, domain=_POSITIVE),
        SymbolicFunction("sin", torch.sin, np.sin, lambda u: sympy.sin(u), 3, periodic=True),
        SymbolicFunction("cos", torch.cos, np.cos, lambda u: sympy.cos(u), 3, periodic=True),
        SymbolicFunction("tanh", torch.tanh, np.tanh, lambda u: sympy.tanh(u), 3),
        SymbolicFunction("arctan", torch.arctan, np.arctan, lambda u: sympy.atan(u), 4),
        SymbolicFunction("abs", torch.abs, np.abs, lambda u: sympy.Abs(u), 3),
        SymbolicFunction(
            "gaussian",
            lambda u: torch.exp(-(u**2)),
            lambda u: np.exp(-(u**2)),
            lambda u: sympy.exp(-(u**2)),
            3,
        ),
        SymbolicFunction(
            "0",
            torch.zeros_like,
            np.zeros_like,
            lambda u: sympy.Integer(0),
            0,
        ),
    ]
    return {f.name: f for f in specs}


#: Default candidates, name -> :class:`SymbolicFunction`, in a fixed order (read-only mapping).
DEFAULT_FUNCTIONS: MappingProxyType[str, SymbolicFunction] = MappingProxyType(_build_defaults())


def _build_composition_extras() -> dict[str, SymbolicFunction]:
    specs = [
        SymbolicFunction(
            "sinh",
            torch.sinh,
            np.sinh,
            lambda u: sympy.sinh(u),
            3,
            safe_range=(-80.0, 80.0),
        ),
        SymbolicFunction(
            "cosh",
            torch.cosh,
            np.cosh,
            lambda u: sympy.cosh(u),
            3,
            safe_range=(-80.0, 80.0),
        ),
        SymbolicFunction(
            "arcsin",
            torch.arcsin,
            np.arcsin,
            lambda u: sympy.asin(u),
            4,
            domain=(-1.0, 1.0),
            domain_closed=(True, True),
        ),
    ]
    return {f.name: f for f in specs}


#: Functions offered to compositions ``F(a*G(u) + b)`` of the default library only, not to
#: single edges (where they would compete with ``exp``, ``x^2`` and ``x`` for every smooth
#: edge): ``log(cosh(u))``, ``sinh(sqrt(u))``, ``arcsin(sin(u)/n)``. They can be named in
#: :func:`make_library` to offer them on edges too.
COMPOSITION_FUNCTIONS: MappingProxyType[str, SymbolicFunction] = MappingProxyType(
    _build_composition_extras()
)

#: Integer powers ``k`` of the variable that a match may multiply, ``x**k * (c*f(a*x + b) + d)``
#: (the searches match ``g(x) / x**k``): ``x*exp(-x)``, ``sin(x)/x``, ``x**3/(exp(x) - 1)``.
DIVIDED_POWERS: tuple[int, ...] = (-3, -2, -1, 1, 2, 3)

#: An item accepted by :func:`make_library`: a default name or a user function.
FunctionSpec = str | SymbolicFunction


class SymbolicLibrary:
    """An ordered, immutable collection of uniquely named :class:`SymbolicFunction`.

    Iterating yields the functions in order; ``len`` is their count; ``lib["sin"]`` or
    ``lib[3]`` looks one up; ``"sin" in lib`` tests membership. Build one with
    :func:`make_library`.

    Parameters
    ----------
    functions : iterable of SymbolicFunction
        The candidates, in order. Names must be unique.
    """

    def __init__(self, functions: Iterable[SymbolicFunction]) -> None:
        funcs = tuple(functions)
        for f in funcs:
            if not isinstance(f, SymbolicFunction):
                raise TypeError(f"expected SymbolicFunction, got {type(f).__name__}: {f!r}")
        names = [f.name for f in funcs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate function names in symbolic library: {dupes}")
        if not funcs:
            raise ValueError("a symbolic library needs at least one function")
        self._functions: tuple[SymbolicFunction, ...] = funcs
        self._index: dict[str, int] = {n: i for i, n in enumerate(names)}

    # ------------------------------------------------------------------ container protocol
    def __iter__(self) -> Iterator[SymbolicFunction]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, key: str | int) -> SymbolicFunction:
        if isinstance(key, str):
            try:
                return self._functions[self._index[key]]
            except KeyError:
                raise KeyError(
                    f"unknown symbolic function {key!r}; available: {list(self.names)}"
                ) from None
        return self._functions[key]

    def __repr__(self) -> str:
        return f"SymbolicLibrary({list(self.names)})"

    @property
    def functions(self) -> tuple[SymbolicFunction, ...]:
        """The functions, in order."""
        return self._functions

    @property
    def names(self) -> tuple[str, ...]:
        """Function names, in order."""
        return tuple(f.name for f in self._functions)

    @property
    def complexities(self) -> np.ndarray:
        """Complexities, int64 array of shape ``(n_functions,)``."""
        return np.array([f.complexity for f in self._functions], dtype=np.int64)

    def index(self, name: str) -> int:
        """Position of ``name`` in the library (raises ``KeyError`` if absent)."""
        if name not in self._index:
            raise KeyError(f"unknown symbolic function {name!r}; available: {list(self.names)}")
        return self._index[name]

    def subset(self, names: Sequence[str]) -> SymbolicLibrary:
        """New library with the named functions of this one, in the given order."""
        return SymbolicLibrary(self[n] for n in _check_names(names, self._index))


def _check_names(names: Iterable[str], known: Iterable[str]) -> list[str]:
    names = list(names)
    known = set(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown symbolic function name(s) {unknown}; known: {sorted(known)}")
    return names


def make_library(
    functions: Iterable[FunctionSpec] | SymbolicLibrary | None = None,
) -> SymbolicLibrary:
    """Build a :class:`SymbolicLibrary`.

    Parameters
    ----------
    functions : None, SymbolicLibrary, or iterable of (str or SymbolicFunction)
        ``None`` gives every function of :data:`DEFAULT_FUNCTIONS`, in its order. Otherwise each
        item is either a name from :data:`DEFAULT_FUNCTIONS` or a user-defined
        :class:`SymbolicFunction`; order is kept. A library is returned unchanged.

    Returns
    -------
    SymbolicLibrary

    Raises
    ------
    ValueError
        On unknown names (all of them are listed), duplicate names, or an empty list.
    TypeError
        On items of another type, or a bare string instead of a list of names.
    """
    if functions is None:
        return SymbolicLibrary(DEFAULT_FUNCTIONS.values())
    if isinstance(functions, SymbolicLibrary):
        return functions
    if isinstance(functions, (str, SymbolicFunction)):
        raise TypeError(
            "make_library expects a list of names/SymbolicFunction objects, e.g. "
            f"make_library([{functions!r}]), not a single item"
        )
    items = list(functions)
    bad = [it for it in items if not isinstance(it, (str, SymbolicFunction))]
    if bad:
        raise TypeError(f"library items must be names or SymbolicFunction objects, got {bad!r}")
    known = {**DEFAULT_FUNCTIONS, **COMPOSITION_FUNCTIONS}
    _check_names([it for it in items if isinstance(it, str)], known)
    resolved = [known[it] if isinstance(it, str) else it for it in items]
    return SymbolicLibrary(resolved)
