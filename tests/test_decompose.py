"""The decomposition of a smooth oracle into modules (kansr.symbolic.decompose)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

from kansr import KANRegressor
from kansr.symbolic.decompose.oracle import COMBINATIONS, Oracle
from kansr.symbolic.decompose.recursion import Recursion, decompose
from kansr.symbolic.decompose.separability import (
    Tolerance,
    best_combination,
    homogeneous_pair,
    product_groups,
    relevant_variables,
    separable_groups,
)
from kansr.symbolic.expressions import evaluate
from kansr.symbolic.library import make_library

SYMBOLS = sympy.symbols("x0:5", real=True)


def oracle(fn, lo, hi, error=1e-9) -> Oracle:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return Oracle(fn, lo, hi, list(SYMBOLS[: lo.size]), error)


def rng():
    return np.random.default_rng(1)


def test_separable_groups_split_a_sum_and_keep_coupled_variables_together():
    o = oracle(lambda x: x[:, 0] * x[:, 1] + torch.sin(x[:, 2]), [1, 1, 1], [2, 3, 4])
    assert separable_groups(o, Tolerance(), rng()) == [[0, 1], [2]]
    assert len(product_groups(o, Tolerance(), rng())[0]) == 1


def test_product_groups_find_a_product_that_changes_sign_and_one_with_an_offset():
    o = oracle(lambda x: x[:, 0] * torch.sin(x[:, 1]), [1, 1], [2, 5])  # sin < 0 past pi
    groups, offset = product_groups(o, Tolerance(), rng())
    assert groups == [[0], [1]] and offset == 0.0
    shifted = oracle(lambda x: 3.0 + x[:, 0] * torch.sin(x[:, 1]), [1, 1], [2, 5])
    groups, offset = product_groups(shifted, Tolerance(), rng())
    assert groups == [[0], [1]] and offset == pytest.approx(3.0, rel=1e-6)


def test_a_noisy_oracle_gets_a_wider_tolerance():
    coupled = oracle(lambda x: x[:, 0] + x[:, 1] + 0.01 * x[:, 0] * x[:, 1], [1, 1], [2, 2])
    assert separable_groups(coupled, Tolerance(), rng()) == [[0, 1]]  # exact: coupled
    coupled.error = 0.05  # an oracle this inaccurate cannot tell
    assert separable_groups(coupled, Tolerance(), rng()) == [[0], [1]]


@pytest.mark.parametrize(
    ("fn", "kind"),
    [
        (lambda x: torch.exp(-x[:, 0] * x[:, 1]), "product"),
        (lambda x: torch.sin(x[:, 0] / x[:, 1]), "quotient"),
        (lambda x: torch.sqrt(x[:, 0] + x[:, 1]), "sum"),
        (lambda x: torch.exp(-((x[:, 0] - x[:, 1]) ** 2)), "difference"),
    ],
)
def test_best_combination_finds_how_two_variables_are_joined(fn, kind):
    o = oracle(fn, [1, 1], [2, 3])
    assert best_combination(o, Tolerance(), rng()) == (0, 1, kind)


@pytest.mark.parametrize(
    ("lo", "hi", "pair"),
    [([-3, 0.5], [3, 2], (0, 1)), ([0.5, -3], [2, 3], (1, 0))],
)
def test_a_product_with_a_variable_of_either_sign_is_joined_over_the_positive_one(lo, hi, pair):
    # log(1 + exp(k*u)) with u in [-3, 3]: the positive k is the partner the oracle of
    # the product varies along; the joined oracle is the one-variable function of u*k
    o = oracle(lambda x: torch.log1p(torch.exp(x[:, 0] * x[:, 1])), lo, hi)
    assert best_combination(o, Tolerance(), rng()) == (*pair, "product")
    joined = o.combined(*pair, "product")
    assert joined.lo[0] == pytest.approx(-6) and joined.hi[0] == pytest.approx(6)
    u = torch.linspace(-6, 6, 9, dtype=torch.float64)[:, None]
    assert torch.allclose(joined.fn(u), torch.log1p(torch.exp(u[:, 0])), atol=1e-12)


def test_combined_variables_join_what_the_function_depends_on_together():
    from kansr.symbolic.decompose.recursion import combined_variables

    o = oracle(
        lambda x: x[:, 0] * x[:, 1] * torch.cos(x[:, 2] - x[:, 3]), [1, 1, 0, 0], [2, 3, 2, 2]
    )
    joined = combined_variables(o, Recursion(library=make_library()))
    assert joined is not None and len(joined) == 2
    assert {sympy.expand(e) for e in joined} == {x0 * x1, x2 - x3}
    assert (
        combined_variables(
            oracle(lambda x: x[:, 0] + x[:, 1] ** 2, [1, 1], [2, 2]),
            Recursion(library=make_library()),
        )
        is None
    )


def test_the_structure_search_runs_again_in_the_joined_variables():
    # x0*x1*cos(x2 - x3): a separable product only in u = x0*x1 and w = x2 - x3
    from kansr.symbolic.decompose.candidates import _joined_structure
    from kansr.symbolic.expressions import TorchFormula
    from kansr.utils.deadline import Deadline

    truth = x0 * x1 * sympy.cos(x2 - x3)
    lo, hi = [1, 1, 0, 0], [2, 3, 2, 2]
    X = np.random.default_rng(0).uniform(lo, hi, size=(300, 4))
    y = evaluate(truth, X)
    fn = TorchFormula(truth)
    found = _joined_structure(
        oracle(lambda x: fn(x), lo, hi), X, y, make_library(), Deadline(), None
    )
    assert any(sympy.simplify(f.expr - truth) == 0 for f in found), [f.expr for f in found]


def test_no_combination_where_there_is_none():
    o = oracle(lambda x: torch.sin(x[:, 0]) * x[:, 1] + x[:, 1] ** 2, [1, 1], [2, 3])
    assert best_combination(o, Tolerance(), rng()) is None


def test_relevant_variables_drop_what_the_function_ignores():
    o = oracle(lambda x: x[:, 0] ** 2 + 0 * x[:, 1] + x[:, 2], [1, 1, 1], [2, 2, 2])
    assert relevant_variables(o, Tolerance(), rng()) == [0, 2]


def _close(expr, truth, lo, hi):
    points = np.random.default_rng(3).uniform(lo, hi, size=(200, len(lo)))
    got, want = evaluate(expr, points), evaluate(truth, points)
    return np.sqrt(np.mean((got - want) ** 2)) <= 1e-3 * np.std(want)


x0, x1, x2, x3, x4 = SYMBOLS
CASES = [
    (x0 * x1, [1, 1], [5, 5]),
    (x0 / x1, [1, 1], [5, 5]),
    (x0 * x1 * x2, [1, 1, 1], [5, 5, 5]),
    (x0 * (x1 + x2 * x3 * sympy.sin(x4)), [1] * 5, [5] * 5),
    (x0 * (x1**2 + x2**2 + x3**2) / 2, [1] * 4, [5] * 4),
    (sympy.exp(-x0 * x1 / x2), [1, 1, 1], [2, 2, 3]),
    (1 / ((x0 - x1) ** 2 + x2**2), [3, 1, 1], [4, 2, 2]),
    (x0 * sympy.atan(x1 * x2), [1, 1, 1], [3, 2, 2]),
    # a variable alone and joined with another (Strogatz's magnets, a decay of x0*x1)
    (-sympy.sin(x0) + sympy.sin(x0 - x1) / 2, [4.1, 0.2], [6.0, 6.6]),
    (-sympy.sin(x1) - sympy.sin(x0 - x1) / 2, [4.1, 0.2], [6.0, 6.6]),
    (x0 * sympy.exp(-x0 * x1), [1, 1], [3, 2]),
    # a sum over a common denominator (Strogatz's glider)
    (x0 - sympy.cos(x1) / x0, [0.2, -1.3], [5.6, 28.8]),
]


@pytest.mark.parametrize(("truth", "lo", "hi"), CASES, ids=[str(c[0]) for c in CASES])
def test_decompose_an_exact_oracle_down_to_the_law(truth, lo, hi):
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(truth)
    o = oracle(lambda x: fn(x), lo, hi)
    found = decompose(o, Recursion(library=make_library()))
    assert found, "no decomposition"
    assert any(_close(e, truth, lo, hi) for e in found), found


def test_decompose_gives_up_on_what_does_not_split():
    o = oracle(lambda x: torch.sin(x[:, 0] + x[:, 1] ** 2 * x[:, 2]), [1, 1, 1], [2, 2, 2])
    assert decompose(o, Recursion(library=make_library(), transforms=0)) == []


@pytest.mark.parametrize(
    "formula",
    ["x0*x1", "x0/x1", "x0*x1*x2"],
)
def test_the_network_path_alone_finds_products_and_quotients(formula):
    rs = np.random.default_rng(0)
    X = rs.uniform(1, 5, size=(500, 3))
    truth = sympy.sympify(formula, locals={f"x{i}": SYMBOLS[i] for i in range(3)})
    y = evaluate(truth, X)
    est = KANRegressor(search_structure=False, random_state=0).fit(X, y)
    got = est.sympy_expr()
    plain = {s: sympy.Symbol(s.name) for s in got.free_symbols}
    names = {f"x{i}": sympy.Symbol(f"x{i}") for i in range(3)}
    assert sympy.simplify(got.xreplace(plain) - sympy.sympify(formula, locals=names)) == 0, got


def test_a_one_variable_piece_outside_the_library_is_found_through_a_transform():
    # m / sqrt(1 - (v/c)**2): m times a function of v/c that is 1/sqrt of a parabola
    m, v, c = SYMBOLS[:3]
    truth = m / sympy.sqrt(1 - v**2 / c**2)
    lo, hi = [1, 1, 3], [5, 2, 10]
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(truth)
    found = decompose(oracle(lambda x: fn(x), lo, hi), Recursion(library=make_library()))
    assert any(_close(e, truth, lo, hi) for e in found), found


def test_a_power_outside_the_library_is_a_piece_of_its_own():
    from kansr.symbolic.expressions import TorchFormula

    truth = x0 ** sympy.Rational(3, 2) / x1**2
    fn = TorchFormula(truth)
    found = decompose(oracle(lambda x: fn(x), [1, 1], [5, 5]), Recursion(library=make_library()))
    assert any(e.has(x0 ** sympy.Rational(3, 2)) and e.has(x1**-2) for e in found), found


NESTED = [
    (sympy.exp(sympy.sin(x0 * x1)), [0.5, 0.5], [2, 2]),
    (sympy.cos(x0**2) + x1 * x2, [0.5, 1, 1], [2, 3, 3]),
    (sympy.log(1 + sympy.exp(x0)) * x1, [-2, 1], [2, 3]),
    (sympy.log(sympy.cosh(x0)) + x1 * x2, [-3, 0, 0], [3, 2, 2]),  # cosh: compositions only
]


@pytest.mark.parametrize(("truth", "lo", "hi"), NESTED, ids=[str(c[0]) for c in NESTED])
def test_a_function_of_a_function_is_matched_as_a_composition(truth, lo, hi):
    # one-variable pieces that are no c*f(a*u + b) + d: an outer library function of an
    # inner one, even when an approximant lies within the (network-like) oracle's error
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(truth)
    o = oracle(lambda x: fn(x), lo, hi, error=3e-3)
    found = decompose(o, Recursion(library=make_library()))
    assert any(_close(e, truth, lo, hi) for e in found), found


def test_the_exponential_of_a_logarithm_of_a_sum_splits():
    # log(x0**2 + x1**2) changes sign on the box: only exp(f) is a separable sum
    from kansr.symbolic.expressions import TorchFormula

    truth = sympy.log(x0**2 + x1**2)
    lo, hi = [0.2, 0.2], [1.5, 1.5]
    fn = TorchFormula(truth)
    found = decompose(oracle(lambda x: fn(x), lo, hi), Recursion(library=make_library()))
    assert any(_close(e, truth, lo, hi) for e in found), found


def test_composition_functions_extend_only_the_default_library():
    # sinh, cosh and arcsin enter compositions of the default library; a library the user
    # chose stays as it is, and the names can be asked for on edges too
    from kansr.symbolic.decompose.recursion import _composition_functions
    from kansr.symbolic.library import COMPOSITION_FUNCTIONS

    extended = [f.name for f in _composition_functions(make_library())]
    assert set(COMPOSITION_FUNCTIONS) <= set(extended)
    assert "cosh" not in [f.name for f in make_library()]
    chosen = make_library(["x", "exp", "log"])
    assert [f.name for f in _composition_functions(chosen)] == ["x", "exp", "log"]
    assert [f.name for f in make_library(["x", "sinh"])] == ["x", "sinh"]


def test_a_part_read_coarsely_off_the_network_is_matched_again_on_the_data():
    # log(x0)*exp(-x1) read as a line in x0 times the right exp(-x1): y / exp(-x1) at the
    # data's x0 is log(x0) to the rest's error, and the refined candidate has it
    from kansr.symbolic.decompose.candidates import refined_on_data

    rng = np.random.default_rng(0)
    X = rng.uniform([1, 1], [5, 3], (500, 2))
    y = np.log(X[:, 0]) * np.exp(-X[:, 1])
    F = sympy.Float
    raw = (F(0.38) * x0 - F(0.2)) * F(1.1) * sympy.exp(-F(1.0001) * x1)
    refined = refined_on_data(raw, X, y, Recursion(library=make_library()))
    assert refined, refined
    logs = [a for a in sympy.preorder_traversal(refined[0]) if isinstance(a, sympy.log)]
    assert logs and all(a.free_symbols == {x0} for a in logs), refined
    assert refined[0].free_symbols == {x0, x1}
    # a rest that is wrong (1/x1 for exp(-x1)) leaves nothing to refine
    wrong = (F(0.38) * x0 - F(0.2)) * (F(0.5) / x1)
    assert refined_on_data(wrong, X, y, Recursion(library=make_library())) == []


@pytest.mark.parametrize("kind", ["sum", "difference", "product", "quotient"])
def test_a_recombined_oracle_stays_inside_the_parents_box(kind):
    seen = []

    def parent(x):
        seen.append(x.clone())
        return x[:, 0] + x[:, 1]

    o = oracle(parent, [1.0, 0.5], [3.0, 6.0])
    joined = o.recombined(0, 1, kind)
    points = joined.sample(500, rng())
    joined(points)
    inside = seen[-1].numpy()
    assert (inside >= o.lo - 1e-12).all() and (inside <= o.hi + 1e-12).all()
    u = {"sum": np.add, "difference": np.subtract, "product": np.multiply}.get(kind, np.divide)
    np.testing.assert_allclose(u(inside[:, 0], inside[:, 1]), points[:, 1], rtol=1e-12)
    assert joined.exprs[1] == COMBINATIONS[kind][0](SYMBOLS[0], SYMBOLS[1])
    negative = oracle(parent, [-1.0, 0.5], [3.0, 6.0])
    assert (negative.recombined(0, 1, kind) is None) is (kind in ("product", "quotient"))


def test_recombined_variables_name_the_joined_pair_for_the_searches_on_the_data():
    from kansr.symbolic.decompose.recursion import recombined_variables

    x0, x1 = SYMBOLS[:2]
    magnet = oracle(
        lambda x: -torch.sin(x[:, 1]) - torch.sin(x[:, 0] - x[:, 1]) / 2, [4.1, 0.2], [6.0, 6.6]
    )
    joined = recombined_variables(magnet, Recursion(library=make_library()))
    assert joined is not None and x1 in joined
    assert any(
        sympy.simplify(e - (x0 - x1)) == 0 or sympy.simplify(e + x0 - x1) == 0 for e in joined
    )
    coupled = oracle(lambda x: torch.sin(x[:, 0] * x[:, 1] + x[:, 1] ** 2), [1, 1], [2, 2])
    assert recombined_variables(coupled, Recursion(library=make_library())) is None


def test_the_cleanest_of_several_recombinations_is_taken():
    # h*w**3/(exp(h*w) - 1), with an oracle's error of 1 %: a product in (w, w*h) exactly,
    # and within that error also in (w, w + h), which comes first in the order of the pairs
    from kansr.symbolic.decompose.recursion import recombined_variables
    from kansr.symbolic.decompose.separability import product_couplings, split_margin

    x0, x1 = SYMBOLS[:2]
    law = oracle(
        lambda x: x[:, 1] * x[:, 0] ** 3 / (torch.exp(x[:, 1] * x[:, 0]) - 1),
        [0.5, 0.2],
        [3.0, 2.0],
        error=1e-2,
    )
    loose = law.recombined(0, 1, "sum")
    measures, tol = product_couplings(loose, Tolerance(), rng())
    assert 0 < split_margin(measures, tol, [[0], [1]]) <= 1  # the near-structure passes
    joined = recombined_variables(law, Recursion(library=make_library()))
    assert joined is not None and x0 * x1 in joined, joined


def test_joined_argument_is_the_variable_a_part_is_a_function_of():
    from kansr.symbolic.decompose.parts import joined_argument

    a, b, c, d = SYMBOLS[:4]
    F = sympy.Float
    part = F(205) - F(207) * sympy.tanh(F(2.7) - F(0.557) * a * b / (c * d))
    assert joined_argument(part) == a * b / (c * d)
    assert joined_argument(sympy.exp(a - b) + 1) == a - b
    assert joined_argument(F(2.0) * a) == a
    assert joined_argument(F(1.3) / (F(0.2) + a * b)) == a * b
    # several variables not joined, or a variable also outside the argument: none
    assert joined_argument(a * sympy.exp(b)) is None
    assert joined_argument(a + sympy.sin(a * b)) is None
    assert joined_argument(F(3.0)) is None


def test_a_part_of_joined_variables_is_matched_again_on_the_data():
    # x0*(exp(x1*x2/x3) - 1) read with a tanh of the right joined variable: y / x0 at the
    # data's x1*x2/x3 is exp(u) - 1, and the refined candidate has it
    from kansr.symbolic.decompose.candidates import refined_on_data

    x0, x1, x2, x3 = SYMBOLS[:4]
    gen = np.random.default_rng(0)
    X = gen.uniform(1, 2, (500, 4))
    y = X[:, 0] * (np.exp(X[:, 1] * X[:, 2] / X[:, 3]) - 1)
    F = sympy.Float
    raw = F(0.42) * x0 * (F(381.5) * sympy.tanh(F(0.54) * x1 * x2 / x3 - F(2.98)) + F(379.8))
    refined = refined_on_data(raw, X, y, Recursion(library=make_library()))
    assert refined, refined
    exps = [a for a in sympy.preorder_traversal(refined[0]) if isinstance(a, sympy.exp)]
    assert exps and exps[0].free_symbols == {x1, x2, x3}, refined
    assert not refined[0].has(sympy.tanh)
    pred = evaluate(refined[0], X)
    assert np.mean((pred - y) ** 2) < 1e-8 * np.var(y)


def test_a_reciprocal_of_a_fast_growing_function_is_matched_over_decades():
    # 1/(2*cosh(u)) on 0.1 <= u <= 18: cosh(u) correlates with exp(u) to 1e-12 there, and
    # was dropped as a copy of it before the outer 1/x was tried on it
    from kansr.symbolic.decompose.recursion import leaf_forms

    u = np.linspace(0.1, 18, 256)
    values = 1 / (2 * np.cosh(u))
    w = sympy.Symbol("u")
    forms = leaf_forms(u, values, w, Recursion(library=make_library()))
    assert forms[0].has(sympy.cosh), forms
    pred = sympy.lambdify(w, forms[0], "numpy")(u)
    assert np.mean((pred - values) ** 2) < 1e-12 * np.var(values)


@pytest.mark.parametrize(
    ("law", "function"),
    [
        (lambda u: np.sinh(u) / u, sympy.sinh),  # a power times a function of compositions
        (lambda u: u / (np.exp(u) - 1), sympy.exp),  # ... times the reciprocal of a match
    ],
)
def test_a_leaf_that_is_a_power_times_a_function_is_matched(law, function):
    from kansr.symbolic.decompose.recursion import leaf_forms

    u = np.linspace(0.2, 3, 256)
    values = law(u)
    w = sympy.Symbol("u")
    forms = leaf_forms(u, values, w, Recursion(library=make_library()), 1e-10)
    exact = [
        f
        for f in forms
        if f.has(function)
        and np.mean((sympy.lambdify(w, f, "numpy")(u) - values) ** 2) < 1e-16 * np.var(values)
    ]
    assert exact, forms


def test_a_joined_monomial_is_matched_in_the_orientation_that_fits():
    # the network joins T/(B*m) where the law is 1/cosh(B*m/T): two library functions of
    # the reciprocal, three of the joined variable itself
    from kansr.symbolic.decompose.candidates import refined_on_data
    from kansr.symbolic.decompose.parts import oriented_forms

    x0, x1, x2, x3 = SYMBOLS[:4]
    gen = np.random.default_rng(0)
    X = gen.uniform(1, 5, (500, 4))
    u = X[:, 1] * X[:, 2] / X[:, 3]
    y = X[:, 0] / np.cosh(u)
    joined = x3 / (x1 * x2)
    settings = Recursion(library=make_library())
    forms = oriented_forms(1 / u, y / X[:, 0], joined, settings, X)
    assert forms[0].has(sympy.cosh) and forms[0].has(x1 * x2 / x3), forms
    F = sympy.Float
    raw = x0 * (F(0.5) * sympy.atan(F(1.9) * joined - F(0.9)) + F(0.24))
    refined = refined_on_data(raw, X, y, settings)
    pred = evaluate(refined[0], X)
    assert np.mean((pred - y) ** 2) < 1e-10 * np.var(y), refined


def test_an_affine_copy_holds_at_every_point_not_only_in_correlation():
    from kansr.symbolic.decompose.recursion import _affine_copy

    u = np.linspace(0.1, 18, 200)
    assert np.corrcoef(np.cosh(u), np.exp(u))[0, 1] > 1 - 1e-9
    assert not _affine_copy(np.cosh(u), np.exp(u))
    assert _affine_copy(3 * np.exp(u) - 2, np.exp(u))


def test_a_formula_is_an_oracle_with_exact_gradients():
    from kansr.symbolic.decompose.oracle import formula_oracle

    x0, x1, x2 = SYMBOLS[:3]
    expr = sympy.Float(1.5) * x0 * sympy.exp(x2) + x2**2
    # column 1 is held at its mean: the oracle is a function of columns 0 and 2
    o = formula_oracle(expr, np.array([0.0, 7.0, 0.0]), [1, 1, 0], [2, 9, 1], SYMBOLS, [0, 2])
    assert o.exprs == [x0, x2] and np.allclose(o.lo, [1, 0]) and np.allclose(o.hi, [2, 1])
    points = o.sample(50, rng())
    values = 1.5 * points[:, 0] * np.exp(points[:, 1]) + points[:, 1] ** 2
    assert np.allclose(o(points), values)
    grad = np.column_stack(
        [1.5 * np.exp(points[:, 1]), 1.5 * points[:, 0] * np.exp(points[:, 1]) + 2 * points[:, 1]]
    )
    assert np.allclose(o.gradient(points), grad)


def test_the_searches_approximant_is_decomposed_when_the_network_is_coarse():
    # an untrained network is no oracle; a slightly wrong formula of the data is, and its
    # decomposition (refit on the data) gives the law
    from kansr.nn.network import KAN
    from kansr.symbolic.decompose.candidates import decomposition_formulas

    x0, x1, x2 = SYMBOLS[:3]
    gen = np.random.default_rng(0)
    X = gen.uniform(1, 2, (400, 3))
    y = X[:, 0] * (np.exp(X[:, 1] * X[:, 2]) - 1)
    F = sympy.Float
    approximant = F(1.003) * x0 * (F(0.998) * sympy.exp(F(1.001) * x1 * x2) - F(1.01))
    net = KAN([3, 2, 1], seed=0).double()
    args = (X, y, X.mean(0), X.std(0), float(y.mean()), float(y.std()), make_library())

    def best(formulas):
        return min((f.loss for f in formulas), default=np.inf) / np.var(y)

    assert best(decomposition_formulas(net, *args, approximant=approximant)) < 1e-20
    assert best(decomposition_formulas(net, *args)) > 1e-6


@pytest.mark.parametrize(
    ("truth", "pair", "degree"),
    [
        (x0 / (sympy.exp(x0 / x1) - 1), (0, 1), 1),  # Planck's law in u = h*omega, v = kb*T
        (x1**3 * sympy.sin(x0 / x1) + x2, (0, 1), None),  # not with x2 added
        (x2 * x0**2 * sympy.atan(x1 / x0), (0, 1), 2),
    ],
)
def test_homogeneous_pair_finds_a_scaling_symmetry_and_its_degree(truth, pair, degree):
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(truth)
    found = homogeneous_pair(oracle(lambda x: fn(x), [1, 1, 1], [5, 5, 5]), Tolerance(), rng())
    if degree is None:
        assert found is None, found
    else:
        assert found is not None and set(found[:2]) == set(pair) and found[2] == degree


def test_homogeneous_pair_apart_takes_pairs_from_different_groups_only():
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(x0 * x1 / (sympy.exp(x0 * x1 / (x2 * x3)) - 1))
    o = oracle(lambda x: fn(x), [1] * 4, [5] * 4)
    i, j, degree = homogeneous_pair(o, Tolerance(), rng(), apart=[[0, 1], [2, 3]])
    assert {i, j} & {0, 1} and {i, j} & {2, 3} and degree == 1
    assert homogeneous_pair(o, Tolerance(), rng(), apart=[[0, 1, 2, 3]]) is None


def test_a_law_nearly_additive_on_its_box_is_found_through_its_scaling_symmetry():
    # Planck's h*omega/(exp(h*omega/(kb*T)) - 1) is nearly kb*T - h*omega/2 where the
    # exponent is small: a close approximant of it is additively separable within its
    # error; the law is homogeneous of degree 1 in (h, kb), which gives a second candidate,
    # kb*T*g(h*omega/(kb*T)), whose part g is then matched on the data
    from kansr.symbolic.decompose.candidates import refined_on_data
    from kansr.symbolic.expressions import TorchFormula

    gen = np.random.default_rng(0)
    X = gen.uniform(1, 5, (600, 4))
    u, v = X[:, 0] * X[:, 1], X[:, 2] * X[:, 3]
    y = u / (2 * np.pi * (np.exp(u / (2 * np.pi * v)) - 1))
    F = sympy.Float
    approximant = x2 * x3 - F(0.25) * x0 * x1 / sympy.pi + F(0.0021) * x0**2 * x1**2 / (x2 * x3)
    error = float(np.sqrt(np.mean((evaluate(approximant, X) - y) ** 2)))
    fn = TorchFormula(approximant)
    o = oracle(lambda x: fn(x), X.min(0), X.max(0), error)
    assert len(separable_groups(o, Tolerance(), rng())) > 1  # the near-structure passes
    settings = Recursion(library=make_library())
    found = decompose(o, settings)

    def homogeneous(e):  # e(l*x0, x1, l*x2, x3) = l*e(x)
        scaled = X * np.array([1.5, 1, 1.5, 1])
        return np.allclose(evaluate(e, scaled), 1.5 * evaluate(e, X), rtol=1e-9)

    symmetric = [e for e in found if homogeneous(e)]
    assert symmetric, found
    refined = [r for e in symmetric for r in refined_on_data(e, X, y, settings)]
    assert any(np.allclose(evaluate(r, X), y, rtol=1e-3) for r in refined), refined


def test_affine_profiles_find_the_variable_a_law_is_affine_in_a_function_of():
    from kansr.symbolic.decompose.separability import affine_profiles

    cosines = oracle(
        lambda x: x[:, 0] + x[:, 1] + 2 * torch.sqrt(x[:, 0] * x[:, 1]) * torch.cos(x[:, 2]),
        [1, 1, 1],
        [5, 5, 5],
    )
    found = affine_profiles(cosines, Tolerance(), rng())
    assert [p.variable for p in found] == [2] and found[0].margin < 1e-3
    # the profile is the function of the variable, up to an affine map
    u = np.linspace(1, 5, 50)
    shape = cosines.profile(2, found[0].rest, found[0].weights)(u[:, None])
    assert abs(np.corrcoef(shape, np.cos(u))[0, 1]) > 1 - 1e-9
    # its intercept and slope along that variable, at other points
    intercept, slope = cosines.affine_parts(2, np.cos)
    at = np.array([[2.0, 3.0], [4.0, 1.5]])
    assert intercept(at) == pytest.approx(at.sum(1), rel=1e-9)
    assert slope(at) == pytest.approx(2 * np.sqrt(at.prod(1)), rel=1e-9)
    # sin(x0 + x1**2*x2) is no affine function of one function of any variable
    coupled = oracle(lambda x: torch.sin(x[:, 0] + x[:, 1] ** 2 * x[:, 2]), [1] * 3, [2] * 3)
    assert affine_profiles(coupled, Tolerance(), rng()) == []


AFFINE_CASES = [
    # linear in x0, with an intercept and slope of x1
    (x0 * sympy.exp(-x1) + sympy.sin(x1), [1, 0], [3, 2]),
    # affine in cos(x2) (two interfering intensities), and so after squaring (the law of
    # cosines)
    (x0 + x1 + 2 * sympy.sqrt(x0 * x1) * sympy.cos(x2), [1, 1, 1], [5, 5, 5]),
    (sympy.sqrt(x0**2 + x1**2 - 2 * x0 * x1 * sympy.cos(x2)), [1, 1, 1], [5, 5, 5]),
]


@pytest.mark.parametrize(("truth", "lo", "hi"), AFFINE_CASES, ids=[str(c[0]) for c in AFFINE_CASES])
def test_decompose_a_law_affine_in_a_function_of_one_variable(truth, lo, hi):
    from kansr.symbolic.expressions import TorchFormula

    fn = TorchFormula(truth)
    found = decompose(oracle(lambda x: fn(x), lo, hi), Recursion(library=make_library()))
    assert any(_close(e, truth, lo, hi) for e in found), found


def test_a_product_that_also_passes_as_a_sum_comes_first():
    # x0 / sqrt(1 - x1**2/9): the factor varies by 15 %, within an inaccurate oracle's
    # tolerance of a sum; the product's split is exact and is decomposed first
    fn = lambda x: x[:, 0] / torch.sqrt(1 - x[:, 1] ** 2 / 9)  # noqa: E731
    o = oracle(fn, [5, 0], [10, 1.5], error=0.02)
    assert separable_groups(o, Tolerance(), rng()) == [[0], [1]]  # passes as a sum
    found = decompose(o, Recursion(library=make_library()))
    x0, x1 = SYMBOLS[:2]
    of_x0, of_x1 = found[0].as_independent(x1, as_Add=False)
    assert of_x0.free_symbols == {x0} and of_x1.free_symbols == {x1}, found[0]
    X = np.random.default_rng(2).uniform([5, 0], [10, 1.5], (300, 2))
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / 9)
    assert np.mean((evaluate(found[0], X) - y) ** 2) < 1e-4 * np.var(y), found[0]


def test_the_alternatives_of_a_trees_parts_are_taken_in_turn():
    from kansr.symbolic.decompose.recursion import _alternatives

    a1, a2, a3, b1, b2 = sympy.symbols("a1 a2 a3 b1 b2")
    # each part's second alternative comes before any part's third: the near-copies of
    # one part do not crowd out another part's different structure
    join = lambda xs: sympy.Add(*xs)  # noqa: E731
    assert _alternatives([[a1, a2, a3], [b1, b2]], join) == [a1 + b1, a2 + b1, a1 + b2]


def test_a_straight_line_within_the_oracles_error_has_no_alternatives():
    from kansr.symbolic.decompose.recursion import leaf_forms

    u = np.linspace(1, 5, 256)
    values = 1.94 * u - 0.03 + 1e-3 * np.sin(3 * u)  # a line with a network's wiggle
    spread = float(np.std(values))
    found = leaf_forms(u, values, SYMBOLS[0], Recursion(library=make_library()), 1e-4)
    assert len(found) == 1, found
    coefficients = sympy.Poly(found[0], SYMBOLS[0]).all_coeffs()
    assert len(coefficients) == 2 and abs(float(coefficients[0]) - 1.94) < 0.01 * spread


def test_a_split_in_recombined_variables_comes_before_a_transforms_loose_one():
    # x0*tanh(x0*x1): a product in (x0, x0*x1); within an inaccurate oracle's tolerance
    # 1/f passes for a product with an offset, an approximant that came first
    fn = lambda x: x[:, 0] * torch.tanh(x[:, 0] * x[:, 1])  # noqa: E731
    lo, hi = [1, 0.04], [5, 1.0]
    o = oracle(fn, lo, hi, error=0.01)
    found = decompose(o, Recursion(library=make_library()))
    x0, x1 = SYMBOLS[:2]
    assert found and found[0].has(x0 * x1), found
