"""Features and targets on temperature scales with an arbitrary zero (°C, °F): the check that
a formula's form does not depend on the zero, its repair, and the estimator's front."""

import numpy as np
import pytest
import sympy

from kansr import KANRegressor
from kansr.symbolic.offset_scales import offset_of, shift_closed, shift_repaired
from kansr.symbolic.pareto import Formula
from kansr.symbolic.units import formulas_with_units, unit_dimensions

x0, x1 = sympy.symbols("x0 x1", real=True)
F = sympy.Float
RNG = np.random.default_rng(0)
X = np.c_[RNG.uniform(194, 212, 30), RNG.uniform(1, 2, 30)]  # boiling points (°F), other
FAHRENHEIT = {x0: 459.67}


@pytest.mark.parametrize(
    ("unit", "zero"),
    [("degF", 459.67), (" °C ", 273.15), ("degC", 273.15), ("K", None), ("degC/s", None)],
)
def test_offset_of_names_interval_scales_only(unit, zero):
    assert offset_of(unit) == zero
    assert offset_of(None) is None


@pytest.mark.parametrize(
    ("expr", "closed"),
    [
        (F(0.39) * sympy.exp(F(0.0205) * x0), True),  # exp(a + b*T): a takes the shift
        (F(0.52) * x0 - F(81.5), True),
        (F(1.3e-10) * (x0 + F(459.67)) ** 4, True),  # a power of T from a fitted zero
        ((F(0.05) * x0**2 - F(17.5) * x0 + F(1261.0)) / (x0 - F(122.9)), True),
        (F(2.0) * x1, True),  # does not hold the temperature
        (F(1.47e-8) * x0**4, False),  # a power law of °F
        (F(3.0) * x0, False),  # proportional to °F
        (F(2.0) + F(3.0) * sympy.log(x0), False),
        (F(25.6) - F(7.8) * sympy.cos(F(0.069) * x0), False),  # no phase to take the shift
        (F(0.1) * x0 * x1 + F(1.0), False),  # the shift times x1: nothing follows it
    ],
)
def test_a_form_is_closed_when_its_constants_can_follow_a_shift_of_the_zero(expr, closed):
    assert shift_closed(expr, X, FAHRENHEIT) is closed


def test_a_target_on_an_interval_scale_needs_a_constant_added():
    assert not shift_closed(F(3.0) * x0, X, {}, y_offset=273.15)
    assert shift_closed(F(3.0) * x0 + F(1.0), X, {}, y_offset=273.15)
    assert shift_closed(F(3.0) * x0, X, {})  # a ratio-scale target: anything goes


def test_the_repair_measures_the_temperature_from_a_fitted_zero():
    y = 1.3e-10 * (X[:, 0] + 459.67) ** 4  # a power law of absolute temperature
    fitted, loss = shift_repaired(F(1.47e-8) * x0**4, X, y, FAHRENHEIT)
    assert shift_closed(fitted, X, FAHRENHEIT)
    assert loss < 1e-6 * np.var(y)
    (zero,) = [f for f in fitted.atoms(sympy.Float) if float(f) > 1]
    assert float(zero) == pytest.approx(459.67, rel=0.05)


def test_the_repair_of_a_target_adds_a_constant():
    y = 3.0 * X[:, 0] + 5.0
    fitted, loss = shift_repaired(F(3.0) * x0, X, y, {}, y_offset=273.15)
    assert shift_closed(fitted, X, {}, y_offset=273.15) and loss < 1e-12


def test_units_name_the_interval_scales_and_the_front_keeps_only_closed_forms():
    units = unit_dimensions({"bp": "degF"}, "inHg", ["bp", "other"])
    assert units.x_offsets == {x0: 459.67} and units.y_offset is None
    assert unit_dimensions(["K", ""], "degC", ["T", "other"]).y_offset == 273.15
    y = np.exp(-0.95 + 0.0205 * X[:, 0])
    made = [
        Formula(F(0.39) * sympy.exp(F(0.0205) * x0), 6, 0.01),  # closed: kept as it is
        Formula(F(1.47e-8) * x0**4, 5, 0.02),  # open: repaired
    ]
    out = formulas_with_units(made, X, y, units)
    assert out[0] is made[0] and len(out) == 2
    assert shift_closed(out[1].expr, X, FAHRENHEIT) and out[1].complexity == 7


def test_the_estimator_keeps_forms_that_do_not_depend_on_the_zero_of_celsius():
    rng = np.random.default_rng(1)
    celsius = rng.uniform(20, 100, (60, 1))
    y = 5.67e-8 * (celsius[:, 0] + 273.15) ** 4  # radiated power of a black body (W/m2)
    params = dict(hidden_layer_sizes=(2,), max_iter=20, random_state=0)
    est = KANRegressor(**params, X_units=["degC"], y_units="W/m^2").fit(celsius, y)
    offsets = {x0: 273.15}
    assert all(shift_closed(e, celsius, offsets) for e in est.equations_["sympy_format"])
    assert est.score(celsius, y) > 0.999
    plain = KANRegressor(**params).fit(celsius, y)  # without units, some are not closed
    assert not all(shift_closed(e, celsius, offsets) for e in plain.equations_["sympy_format"])
