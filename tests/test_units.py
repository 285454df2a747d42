"""Units of the features and the target: parsing, the dimension check, the repair, and
``KANRegressor(X_units=..., y_units=...)``."""

import json

import numpy as np
import pandas as pd
import pytest
import sympy

import kansr
from kansr import KANRegressor, MetaKANRegressor
from kansr.io import persistence
from kansr.symbolic.units import consistent, parse_unit, repaired, unit_dimensions

x0, x1 = sympy.symbols("x0 x1", real=True)
F = sympy.Float
R = sympy.Rational


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("m/s^2", "m s-2"),
        ("m/s^2", "m*s**-2"),
        ("mph", "mi/h"),
        ("kg m^2 s^-2", "J"),
        ("mM", "mol/L"),
        ("kPa", "N/m2"),
        ("cP", "Pa*s"),
        ("g/(hp*h)", "m^-2 s^2"),
        ("m^(1/2)", "m**0.5"),
        ("", "1"),
        ("ppm", "%"),  # a fraction on a scale of its own
        ("rad", ""),
        ("Shore^2/Shore", "Shore"),
    ],
)
def test_equivalent_spellings_have_one_dimension(a, b):
    assert parse_unit(a) == parse_unit(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("m", "s"), ("Shore", ""), ("mph", "ft"), ("K", "degC/s"), ("ppm", ""), ("deg", "rad")],
)
def test_different_units_have_different_dimensions(a, b):
    assert parse_unit(a) != parse_unit(b)


def test_no_unit_is_unknown():
    assert parse_unit(None) is None


@pytest.mark.parametrize(
    "bad", ["m/", "(m", "m^x", "m$", "2 m", "m^", "m^1.2.3", "s^(1/0)", "(" * 300 + "m" + ")" * 300]
)
def test_unreadable_unit_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="cannot read the unit"):
        parse_unit(bad)


DIMS = {x0: parse_unit("mph"), x1: parse_unit("h")}
FT = parse_unit("ft")


@pytest.mark.parametrize(
    ("expr", "ok"),
    [
        (F(2.9) * x0, True),  # a fitted constant carries ft per mph
        (3 * x0, False),  # an exact number carries no unit
        (x0 * x1, True),  # mph * h = a length
        (R(2, 3) * x0 * x1, True),
        (x0 * x1 + x0, False),  # a sum of a length and a speed
        (x0 * x1 + F(1.5), True),
        (F(0.7) * x0 ** R(3, 2), True),
        (R(2, 3) * x0 ** R(3, 2), False),
        (x0 ** F(1.6), False),  # a fitted power of units with no coefficient
        (F(0.5) * x0 ** F(1.6), True),
        (F(3.0) * sympy.exp(-F(0.1) * x0), True),
        (F(3.0) * sympy.exp(-x0), False),  # exp of a speed
        (F(3.0) * sympy.tanh(x0), False),
        (F(2.0) + F(3.0) * sympy.log(x0), True),  # a + b*log(x) = b*log(x/c)
        (F(3.0) * sympy.log(x0), False),
        (F(2.0) + F(3.0) * sympy.Abs(sympy.log(x0)), False),
        (F(3.0) * x0**x1, False),  # a power with units in its exponent
        (F(2.0) * sympy.Abs(x0 - F(3.0)), True),
        (F(2.0) * sympy.sign(x0 - F(3.0)), True),  # the sign of a speed has no unit
        (F(2.0) * sympy.sign(x0) + x0, False),  # ... so it cannot be added to a speed
        (F(2.0) * sympy.sign(x0 + x0 * x1), False),  # its argument is checked still
    ],
)
def test_dimension_check(expr, ok):
    assert consistent(expr, DIMS, FT) is ok


def test_the_form_does_not_depend_on_the_scale_of_a_dimensionless_column():
    conc, angle = {x0: parse_unit("ppm")}, {x0: parse_unit("deg")}
    assert not consistent(F(2.0) + F(3.0) * sympy.Abs(sympy.log(x0)), conc, None)  # a kink at 1
    assert consistent(F(2.0) + F(3.0) * sympy.log(x0), conc, None)  # = 3 log(x0/c)
    assert consistent(F(2.0) * x0 / (x0 + F(0.06)), conc, None)
    assert not consistent(F(2.0) * sympy.exp(-x0), conc, None)
    assert not consistent(sympy.sin(x0), angle, None)  # sine of degrees: needs pi/180
    assert consistent(sympy.sin(F(0.01745) * x0), angle, None)
    assert consistent(sympy.sin(x0), {x0: parse_unit("rad")}, None)


def test_unknown_units_are_free():
    assert consistent(3 * x0, {x0: None}, FT)
    assert consistent(3 * x0, DIMS, None) is True  # any target
    assert not consistent(x0 + x0 * x1, DIMS, None)  # a sum is checked even then


def test_repair_makes_the_snapped_coefficient_a_fitted_constant():
    rng = np.random.default_rng(0)
    X = rng.uniform(4, 25, (40, 2))
    y = 0.7 * X[:, 0] ** 1.5 + rng.normal(0, 1.0, 40)
    fixed, loss = repaired(R(2, 3) * x0 ** R(3, 2), X, y, DIMS, FT)
    assert consistent(fixed, DIMS, FT)
    coef = fixed.as_coeff_Mul()[0]
    slope = float(np.sum(X[:, 0] ** 1.5 * y) / np.sum(X[:, 0] ** 3))  # least squares
    assert isinstance(coef, sympy.Float) and float(coef) == pytest.approx(slope, rel=1e-6)
    assert loss == pytest.approx(np.mean((slope * X[:, 0] ** 1.5 - y) ** 2), rel=1e-6)


def test_repair_unsnaps_a_rate_inside_a_function():
    rng = np.random.default_rng(1)
    X = rng.uniform(0.1, 3, (50, 2))
    y = 29 - 33 * np.exp(-1.6 * X[:, 0]) + rng.normal(0, 0.1, 50)
    dims, mm = {x0: parse_unit("mM"), x1: None}, parse_unit("mm")
    snapped = F(29.0) - F(33.0) * sympy.exp(-R(3, 2) * x0)
    assert not consistent(snapped, dims, mm)
    fixed, _ = repaired(snapped, X, y, dims, mm)
    assert consistent(fixed, dims, mm)
    (inner,) = fixed.atoms(sympy.exp)
    assert float(inner.args[0].coeff(x0)) == pytest.approx(-1.6, rel=0.05)


def test_repair_fits_the_implicit_rate_of_a_function_of_a_quantity_with_units():
    rng = np.random.default_rng(1)
    X = rng.uniform(0.1, 3, (50, 2))
    y = 29 * np.tanh(0.8 * X[:, 0]) + rng.normal(0, 0.1, 50)
    dims, mm = {x0: parse_unit("mM"), x1: None}, parse_unit("mm")
    fixed, _ = repaired(F(29.0) * sympy.tanh(x0), X, y, dims, mm)
    assert consistent(fixed, dims, mm)
    (inner,) = fixed.atoms(sympy.tanh)
    assert float(inner.args[0].coeff(x0)) == pytest.approx(0.8, rel=0.05)


@pytest.mark.parametrize(
    "form",
    [
        F(2.0) * (x0 - x1),  # the -1 between unlike units is part of the form
        F(2.0) * (x0 + x1),
        F(2.0) / (x0 - x1),
    ],
)
def test_a_formula_inconsistent_by_its_form_is_not_repaired(form):
    X = np.random.default_rng(2).uniform(1, 2, (20, 2))
    dims = {x0: parse_unit("mM"), x1: parse_unit("s")}
    assert repaired(form, X, X[:, 0], dims, None) is None


def test_repair_gives_up_when_one_constant_cannot_fix_it():
    X = np.random.default_rng(2).uniform(1, 2, (20, 2))
    # a speed plus 3 lengths, as a length: floating the 3 cannot make the speed a length
    assert repaired(x0 + 3 * x0 * x1, X, X[:, 0], DIMS, FT) is None


def test_unit_parameters_are_checked_and_read_by_column():
    names = ["speed", "time"]
    units = unit_dimensions({"time": "h"}, "ft", names)
    assert units.x == {x0: None, x1: parse_unit("h")} and units.y == FT
    assert unit_dimensions(None, None, names) is None
    with pytest.raises(ValueError, match="3 entries, X has 2"):
        unit_dimensions(["m", "s", "kg"], None, names)
    with pytest.raises(ValueError, match="'weight'"):
        unit_dimensions({"weight": "kg"}, None, names)
    with pytest.raises(ValueError, match="X_units of 'time'"):
        unit_dimensions(["m", "s^"], None, names)
    with pytest.raises(ValueError, match="y_units"):
        unit_dimensions(None, "ft/", names)


def _stopping_distances():
    """Speeds (mph) and distances (ft) that are three times the speed, with noise."""
    rng = np.random.default_rng(0)
    speed = rng.uniform(4, 25, 60)
    return pd.DataFrame({"speed": speed}), 3.0 * speed + rng.normal(0, 0.05, 60)


FAST = dict(hidden_layer_sizes=(2,), max_iter=20, random_state=0)


def test_without_units_the_coefficient_snaps_to_three():
    X, y = _stopping_distances()
    expr = KANRegressor(**FAST).fit(X, y).sympy_expr()
    assert expr == 3 * sympy.Symbol("speed", real=True)


@pytest.mark.parametrize("Estimator", [KANRegressor, MetaKANRegressor])
def test_with_units_a_distance_from_a_speed_keeps_a_fitted_coefficient(Estimator):
    X, y = _stopping_distances()
    est = Estimator(**FAST, X_units={"speed": "mph"}, y_units="ft").fit(X, y)
    speed = sympy.Symbol("speed", real=True)
    expr = est.sympy_expr()
    coef = expr.coeff(speed)
    assert expr.free_symbols == {speed} and isinstance(coef, sympy.Float)
    assert float(coef) == pytest.approx(3.0, abs=0.01)
    dims = {x0: parse_unit("mph")}
    assert all(consistent(e, dims, FT) for e in est.equations_["sympy_format"])


def test_bad_units_fail_before_training():
    X, y = _stopping_distances()
    est = KANRegressor(**FAST, X_units=["mph", "s"])
    with pytest.raises(ValueError, match="2 entries, X has 1"):
        est.fit(X, y)
    assert not hasattr(est, "module_")


def test_units_survive_save_and_load(tmp_path):
    X, y = _stopping_distances()
    est = KANRegressor(**FAST, X_units={"speed": "mph"}, y_units="ft").fit(X, y)
    est.save(tmp_path / "m.json")
    back = kansr.load(tmp_path / "m.json")
    assert back.X_units == {"speed": "mph"} and back.y_units == "ft"
    np.testing.assert_allclose(back.predict(X), est.predict(X))


@pytest.mark.parametrize("bad", [[["speed"]], [[1, "mph"]], "speed", [["speed", {"x": 1}]]])
def test_a_malformed_units_dict_in_a_file_is_refused(tmp_path, bad):
    X, y = _stopping_distances()
    est = KANRegressor(**FAST, symbolic=False, X_units={"speed": "mph"}).fit(X, y)
    est.save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["params"]["X_units"] == {"dict": [["speed", "mph"]]}
    doc["params"]["X_units"] = {"dict": bad}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(persistence.InvalidModelFile, match="params.X_units"):
        kansr.load(tmp_path / "m.json")


def test_the_front_keeps_consistent_formulas_repairs_snapped_ones_and_drops_the_rest(
    monkeypatch,
):
    from kansr.symbolic import units as units_module
    from kansr.symbolic.pareto import Formula

    rng = np.random.default_rng(3)
    X = rng.uniform(4, 25, (40, 2))
    y = 2.9 * X[:, 0] + rng.normal(0, 0.1, 40)
    units = unit_dimensions(["mph", "h"], "ft", ["speed", "time"])
    made = [
        Formula(F(2.9) * x0, 3, 0.01),  # consistent: kept as it is
        Formula(3 * x0, 3, 1.0),  # the snapped 3 of a speed as a length: fitted again
        Formula(F(2.0) * sympy.exp(x0) + x0, 6, 2.0),  # a speed as a length: dropped
        *(Formula(k * x0 * x1 + x0, 7, 3.0 + k) for k in range(2, 6)),  # no fix: dropped
        *(Formula(k * x0**2 * x1, 7, 9.0 + k) for k in range(2, 6)),  # fixable, but late
    ]
    monkeypatch.setattr(units_module, "MAX_REPAIRED", 6)  # the two fixable ones come first
    out = units_module.formulas_with_units(made, X, y, units)
    assert out[0] is made[0] and len(out) == 2
    assert consistent(out[1].expr, units.x, units.y) and out[1].loss < 0.1
