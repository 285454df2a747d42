"""Feature names in formulas (kansr.symbolic.names): safe identifiers, LaTeX, the table."""

import keyword

import numpy as np
import pandas as pd
import pytest
import sympy

from kansr.symbolic.names import (
    EquationTable,
    formula_latex,
    internal_expr,
    latex_name,
    name_map,
    named_expr,
    safe_names,
)

AWKWARD = [
    "mass (kg)",
    "v [m/s]",
    "2theta",
    "pi",
    "E",
    "I",
    "S",
    "N",
    "O",
    "Q",
    "beta",
    "gamma",
    "zeta",
    "lambda",
    "sin",
    "max",
    "if",
    "None",
    "a b",
    "a-b",
    "a_b_2",
    "",
    "%",
    "θ",
    "speed",
    "x0",
]


def test_safe_names_are_unique_identifiers_that_parse_as_plain_symbols():
    safe = safe_names(AWKWARD)
    assert len(set(safe)) == len(AWKWARD)
    for name in safe:
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert sympy.parse_expr(name) == sympy.Symbol(name), name
        assert sympy.parse_expr(f"2*{name}**2 + 1") == 2 * sympy.Symbol(name) ** 2 + 1, name


def test_safe_names_rules():
    safe = dict(zip(AWKWARD, safe_names(AWKWARD), strict=True))
    assert safe["mass (kg)"] == "mass_kg"
    assert safe["v [m/s]"] == "v_m_s"
    assert safe["2theta"] == "x_2theta"
    for reserved in ("pi", "E", "I", "S", "N", "O", "Q", "beta", "gamma", "zeta", "lambda"):
        assert safe[reserved] == reserved + "_"
    assert safe["sin"] == "sin_" and safe["max"] == "max_" and safe["if"] == "if_"
    # names that are plain identifiers stay; a name that is safe as it is keeps it
    assert safe["speed"] == "speed" and safe["x0"] == "x0" and safe["θ"] == "θ"
    assert safe["a_b_2"] == "a_b_2"
    assert safe["a b"] == "a_b" and safe["a-b"] not in {"a_b", "a_b_2"}
    assert safe[""] == "x21"  # nothing usable left: x<position>
    assert name_map(["mass (kg)", "pi", "speed"]) == {
        "mass_kg": "mass (kg)",
        "pi_": "pi",
        "speed": "speed",
    }


def test_named_expr_round_trips_through_text_for_awkward_names():
    x = [sympy.Symbol(f"x{i}", real=True) for i in range(len(AWKWARD))]
    expr = sum((i + 1.5) * s**2 for i, s in enumerate(x)) + sympy.exp(x[3]) * sympy.pi + x[4]
    named = named_expr(expr, AWKWARD)
    text = sympy.sstr(named, full_prec=True)
    safe = safe_names(AWKWARD)
    point = np.linspace(0.1, 0.9, len(AWKWARD))
    want = float(expr.subs(dict(zip(x, point, strict=True))))
    # plain parse_expr: every feature a plain symbol, pi still the constant
    parsed = sympy.parse_expr(text)
    assert {s.name for s in parsed.free_symbols} == set(safe)
    subs = {sympy.Symbol(s): v for s, v in zip(safe, point, strict=True)}
    assert float(parsed.subs(subs)) == pytest.approx(want, rel=1e-12)
    # with real symbols as local_dict: the very expression
    local = {s: sympy.Symbol(s, real=True) for s in safe}
    assert sympy.parse_expr(text, local_dict=local) == named


def test_internal_expr_inverts_named_expr():
    x = [sympy.Symbol(f"x{i}", real=True) for i in range(3)]
    expr = x[0] * sympy.sin(x[1]) + x[2] ** 2 + sympy.pi
    for names in (["x1", "x0", "pi"], ["a b", "a-b", "a_b"], ["mass (kg)", "", "E"]):
        named = named_expr(expr, names)
        assert named != expr or names[:2] == ["x0", "x1"]
        assert internal_expr(named, names) == expr


@pytest.mark.parametrize(
    ("name", "latex"),
    [
        ("x", "x"),
        ("E", "E"),
        ("height", r"\mathrm{height}"),
        ("pi", r"\mathrm{pi}"),
        ("theta", r"\theta"),
        ("Omega", r"\Omega"),
        ("lambda", r"\lambda"),
        ("x0", "x_{0}"),
        ("x_1", "x_{1}"),
        ("theta_1", r"\theta_{1}"),
        ("pi2", r"\mathrm{pi}_{2}"),
        ("v_max", r"v_{\mathrm{max}}"),
        ("mass (kg)", r"\mathrm{mass\ (kg)}"),
        ("v [m/s]", r"\mathrm{v\ [m/s]}"),
        ("a_b_c", r"\mathrm{a\_b\_c}"),
        ("100% & $#{x}^~", r"\mathrm{100\%\ \&\ \$\#\{x\}\hat{}\sim{}}"),
    ],
)
def test_latex_names(name, latex):
    assert latex_name(name) == latex


def test_formula_latex_prints_columns_not_constants():
    x0, x1, x2 = (sympy.Symbol(f"x{i}", real=True) for i in range(3))
    text = formula_latex(x0 * x1**2 + x2 * sympy.Integer(3), ["mass (kg)", "height", "pi"])
    assert r"\mathrm{mass\ (kg)}" in text and r"\mathrm{height}^{2}" in text
    assert r"\mathrm{pi}" in text and r"\pi" not in text
    assert r"\pi" in formula_latex(x2 * sympy.pi, ["pi"])  # the constant stays \pi
    # a blank column name prints as its safe name
    assert formula_latex(x0 + x1, ["a", " "]) == "a + x_{1}"


def _table():
    long = " + ".join(f"{k}.12345678901234*mass_kg**{k}" for k in range(2, 9))
    return EquationTable(
        {
            "complexity": [1, 5, 31],
            "loss": [2.5, 0.125, 1e-20],
            "score": [0.0, 1.2, 0.9],
            "equation": ["1.5", "3.0*mass_kg", long],
            "sympy_format": [sympy.Float(1.5), sympy.Symbol("x0", real=True), sympy.Integer(0)],
            "latex": ["1.5", r"3.0 \mathrm{mass\ (kg)}", "0"],
        }
    )


def test_equation_table_prints_every_formula_in_full():
    table = _table()
    text = str(table)
    assert text == repr(table)
    lines = text.splitlines()
    assert lines[0].split() == ["complexity", "loss", "score", "equation"]
    assert len(lines) == 5  # header, three formulas, the columns
    for line, equation in zip(lines[1:4], table["equation"], strict=True):
        assert line.endswith(equation)  # never truncated with "..."
    assert "rows x" not in text
    columns = "complexity, loss, score, equation, sympy_format, latex"
    assert lines[-1] == f"[3 formulas; columns: {columns}]"
    # pd.DataFrame's repr would wrap or truncate the same table
    assert "..." in repr(pd.DataFrame(table)) or "\\" in repr(pd.DataFrame(table))


def test_equation_table_is_a_dataframe():
    table = _table()
    assert isinstance(table, pd.DataFrame)
    assert list(table["complexity"]) == [1, 5, 31]
    assert type(table.copy()) is EquationTable and type(table.iloc[1:]) is EquationTable
    assert len(str(table.iloc[1:]).splitlines()) == 4
    pd.testing.assert_frame_equal(table.copy(), table)
    assert table.equals(pd.DataFrame(table))
    # frames without the formula text print as any DataFrame
    assert repr(table[["complexity", "loss"]]) == repr(pd.DataFrame(table[["complexity", "loss"]]))
    assert "Empty" in repr(table.iloc[:0])
