r"""Feature names in formulas: safe identifiers for text, LaTeX for printing, and a table
that prints the formulas in full (:class:`EquationTable`).

Formulas are computed in the internal symbols ``x0 .. x{n-1}`` (column ``i`` of ``X`` is
``x{i}``); users read them in the names of their columns. Column names can be anything
(``"mass (kg)"``, ``"v [m/s]"``, ``"2theta"``, ``"pi"``, ``"lambda"``), so they are shown in
two forms:

* **Text** (:func:`safe_names`): every name becomes a valid, unique Python identifier that
  ``sympy.parse_expr`` reads as a plain symbol: characters other than letters, digits and
  ``_`` become ``_`` (``"mass (kg)"`` -> ``mass_kg``, ``"v [m/s]"`` -> ``v_m_s``), a leading
  digit gets the prefix ``x_`` (``"2theta"`` -> ``x_2theta``), Python keywords and names
  that sympy's parser or Python's builtins already define get the suffix ``_`` (``pi`` ->
  ``pi_``, ``E`` -> ``E_``, ``lambda`` -> ``lambda_``, ``beta`` -> ``beta_``, ``sin`` ->
  ``sin_``, ``max`` -> ``max_``), and names that still clash get ``_2``, ``_3``, ... (a
  name that is already safe keeps it). Names that are safe identifiers to begin with
  (``speed``, ``x0``, ``theta``) are unchanged. :func:`name_map` maps them back.
* **LaTeX** (:func:`latex_name`): a single letter as it is (``x``, ``E``; so a column ``e``
  looks like Euler's number, which sympy prints as ``e``, too); a Greek letter's
  name as that letter (``theta`` -> ``\theta``, ``Omega`` -> ``\Omega``), except ``pi``,
  which would read as the constant :math:`\pi` and prints as ``\mathrm{pi}``; a name with a
  subscript -- trailing digits or one ``_`` -- with that subscript (``x0`` -> ``x_{0}``,
  ``theta_1`` -> ``\theta_{1}``, ``v_max`` -> ``v_{\mathrm{max}}``); any other name upright
  in ``\mathrm{...}`` with LaTeX's special characters escaped (``height`` ->
  ``\mathrm{height}``, ``mass (kg)`` -> ``\mathrm{mass\ (kg)}``).
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
import types
import unicodedata
from collections.abc import Sequence

import pandas as pd
import sympy

__all__ = [
    "EquationTable",
    "formula_latex",
    "internal_expr",
    "latex_name",
    "name_map",
    "named_expr",
    "named_latex",
    "safe_names",
]

_NOT_WORD = re.compile(r"\W+")
_SUBSCRIPT = re.compile(r"^([^\W\d_]+)(?:_?(\d+)|_([^\W_]+))$")  # x0, x_0, v_max, theta_i

# LaTeX has commands for these Greek letters (lowercase omicron is just "o"; pi is left out
# on purpose: \pi reads as the constant).
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu "
    "nu xi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)
_LATEX_ESCAPES = {
    "\\": r"\backslash{}",
    "{": r"\{",
    "}": r"\}",
    "_": r"\_",
    "^": r"\hat{}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "~": r"\sim{}",
    " ": r"\ ",
}


@functools.cache
def _reserved() -> frozenset[str]:
    """Names ``sympy.parse_expr`` does not read as a plain symbol: Python keywords, the names
    of ``from sympy import *`` and Python's builtin functions (its default namespace)."""
    names = set(keyword.kwlist) | set(sympy.__all__)
    names |= {n for n, o in vars(builtins).items() if isinstance(o, types.BuiltinFunctionType)}
    return frozenset(names)


def _identifier(name: str, position: int) -> str:
    """``name`` as a Python identifier that is not reserved (not yet unique)."""
    text = unicodedata.normalize("NFKC", str(name))
    if not text.isidentifier():
        text = _NOT_WORD.sub("_", text).strip("_")
        if text and text[0].isdigit():
            text = "x_" + text
        if not text.isidentifier():  # word characters that are not identifier characters
            text = "_".join(re.findall(r"[A-Za-z0-9]+", text))
            text = ("x_" + text) if text[:1].isdigit() else text
        if not text:
            text = f"x{position}"
    if text in _reserved():
        text += "_"
    return text


def safe_names(names: Sequence[str]) -> list[str]:
    """Valid, unique Python identifiers for the column ``names`` that ``sympy.parse_expr``
    reads as plain symbols (see the module docstring for the rules)."""
    base = [_identifier(n, i) for i, n in enumerate(names)]
    out: list[str | None] = [None] * len(base)
    taken: set[str] = set()
    # names that are safe as they are keep them; then the others, in column order
    order = sorted(range(len(base)), key=lambda i: (base[i] != str(names[i]), i))
    for i in order:
        candidate, k = base[i], 2
        while candidate in taken:
            candidate, k = f"{base[i]}_{k}", k + 1
        taken.add(candidate)
        out[i] = candidate
    return [str(n) for n in out]


def name_map(names: Sequence[str]) -> dict[str, str]:
    """``{safe name: original column name}`` for the column ``names``, in column order."""
    return dict(zip(safe_names(names), [str(n) for n in names], strict=True))


def named_expr(expr: sympy.Expr, names: Sequence[str]) -> sympy.Expr:
    """``expr`` (internal symbols ``x0 ..``) in the real symbols of :func:`safe_names`."""
    mapping = {
        sympy.Symbol(f"x{i}", real=True): sympy.Symbol(s, real=True)
        for i, s in enumerate(safe_names(names))
    }
    return expr.xreplace(mapping)


def internal_expr(expr: sympy.Expr, names: Sequence[str]) -> sympy.Expr:
    """The inverse of :func:`named_expr`: ``expr`` in the symbols of :func:`safe_names`
    back in the internal symbols ``x0 ..`` (the safe names are unique, so nothing is lost)."""
    mapping = {
        sympy.Symbol(s, real=True): sympy.Symbol(f"x{i}", real=True)
        for i, s in enumerate(safe_names(names))
    }
    return expr.xreplace(mapping)


def _escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(c, c) for c in text)


def _latex_part(text: str) -> str:
    """One name without a subscript: a letter, a Greek letter, digits or ``\\mathrm``."""
    if (len(text) == 1 and text.isalpha()) or text.isdigit():
        return text
    if text in _GREEK:
        return "\\" + text
    return rf"\mathrm{{{_escape(text)}}}"


def latex_name(name: str) -> str:
    """LaTeX of a column name (see the module docstring for the rules)."""
    name = str(name)
    match = _SUBSCRIPT.match(name)
    if match:
        base, sub = match[1], match[2] if match[2] is not None else match[3]
        return f"{_latex_part(base)}_{{{_latex_part(sub)}}}"
    return _latex_part(name)


def named_latex(expr: sympy.Expr, names: Sequence[str], **settings) -> str:
    """LaTeX of ``expr`` written in the symbols of :func:`safe_names` (as
    :func:`named_expr` gives it), each feature printed by :func:`latex_name`; ``settings``
    go to ``sympy.latex``."""
    symbol_names = {  # a blank column name prints as its safe name (x<i>)
        sympy.Symbol(s, real=True): latex_name(n if str(n).strip() else s)
        for s, n in zip(safe_names(names), names, strict=True)
    }
    return sympy.latex(expr, symbol_names=symbol_names, **settings)


def formula_latex(expr: sympy.Expr, names: Sequence[str], **settings) -> str:
    """LaTeX of ``expr`` (internal symbols ``x0 ..``) in the column ``names``."""
    return named_latex(named_expr(expr, names), names, **settings)


class EquationTable(pd.DataFrame):
    """A Pareto table (``equations_``) that prints its formulas in full.

    A ``pandas.DataFrame`` in every other respect: ``print`` shows ``complexity``, ``loss``,
    ``score`` and the formula text of the column ``equation`` (one formula per line, never
    truncated or wrapped into blocks), then the names of all columns; frames without those
    columns print as any DataFrame. ``pandas`` operations that keep the columns keep the
    class (``copy``, row slices); ``pd.DataFrame(table)`` gives a plain frame.
    """

    _metadata: list[str] = []

    @property
    def _constructor(self):
        return EquationTable

    def __repr__(self) -> str:
        numeric = [c for c in ("complexity", "loss", "score") if c in self.columns]
        if "equation" not in self.columns or "complexity" not in numeric or self.empty:
            return super().__repr__()
        head = pd.DataFrame(self[numeric]).to_string().splitlines()
        texts = ["equation", *(str(e) for e in self["equation"])]
        if len(head) != len(texts):  # a multi-line header (named columns): plain repr
            return super().__repr__()
        lines = [f"{h}  {t}" for h, t in zip(head, texts, strict=True)]
        n = len(self)
        columns = ", ".join(map(str, self.columns))
        lines.append(f"[{n} formula{'' if n == 1 else 's'}; columns: {columns}]")
        return "\n".join(lines)
