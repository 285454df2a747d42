"""Functions the user pins on edges of the network before the symbolic stage (pykan's
``fix_symbolic``): ``pinned_edges=[(layer, i, o, "sin")]`` makes edge ``(layer, i, o)`` of
the network read as ``c*sin(a*x + b) + d`` whatever the library's best match is."""

from __future__ import annotations

from numbers import Integral

from kansr.symbolic.library import COMPOSITION_FUNCTIONS, SymbolicLibrary, make_library

__all__ = ["checked_pins", "pin_library"]

Edge = tuple[int, int, int]


def pin_library(library_param) -> SymbolicLibrary:
    """The functions a pin may name: those of the estimator's ``library`` parameter (the
    default library for ``None``) and :data:`~kansr.symbolic.library.COMPOSITION_FUNCTIONS`."""
    library = make_library(None if library_param is None else list(library_param))
    extra = [f for name, f in COMPOSITION_FUNCTIONS.items() if name not in library]
    return make_library([*library, *extra])


def checked_pins(pinned_edges, shapes: list[tuple[int, int]], library_param) -> dict[Edge, str]:
    """``{(layer, i, o): function name}`` of ``pinned_edges`` (a list of
    ``(layer, i, o, name)``) for a network whose layers have ``shapes`` ``(n_in, n_out)``
    (``n_out`` counts both factors of a multiplication node); ``ValueError`` or
    ``TypeError`` naming the first bad item (not four items, an edge outside the network, an
    unknown function, an edge pinned twice)."""
    if pinned_edges is None:
        return {}
    names = [f.name for f in pin_library(library_param)]
    pins: dict[Edge, str] = {}
    for item in pinned_edges:
        if isinstance(item, str) or not hasattr(item, "__len__") or len(item) != 4:
            raise TypeError(f"pinned_edges items are (layer, i, o, function name), got {item!r}")
        *edge, name = item
        if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in edge):
            raise TypeError(f"pinned edge {item!r}: layer, i and o must be integers")
        level, i, o = (int(v) for v in edge)
        if not 0 <= level < len(shapes):
            raise ValueError(
                f"pinned edge {item!r}: layer {level} is not in the network "
                f"(layers 0 to {len(shapes) - 1})"
            )
        n_in, n_out = shapes[level]
        if not (0 <= i < n_in and 0 <= o < n_out):
            raise ValueError(
                f"pinned edge {item!r}: layer {level} joins {n_in} inputs to {n_out} outputs"
            )
        if not isinstance(name, str) or name not in names:
            raise ValueError(f"pinned edge {item!r}: unknown function {name!r}; known: {names}")
        if (level, i, o) in pins:
            raise ValueError(f"edge {(level, i, o)} is pinned twice in pinned_edges")
        pins[(level, i, o)] = name
    return pins
