"""Choosing among the front by held-out error on small data (kansr.symbolic.cross_validation)."""

import numpy as np
import pandas as pd
import pytest
import sympy

import kansr.estimators._symbolic_stage as stage
from kansr import KANRegressor
from kansr.symbolic.cross_validation import (
    CV_MAX_ROWS,
    cross_validated_choice,
    fewer_constants_choice,
    fold_splits,
    held_out_errors,
    more_constants_choice,
)

x0 = sympy.Symbol("x0", real=True)


@pytest.mark.parametrize("n,folds", [(40, 5), (12, 12), (15, 5)])
def test_every_row_is_held_out_once_and_the_splits_repeat(n, folds):
    splits = fold_splits(n)
    assert len(splits) == folds
    held = np.concatenate([test for _, test in splits])
    assert sorted(held) == list(range(n))
    for train, test in splits:
        assert not set(train) & set(test) and len(train) + len(test) == n
    again = fold_splits(n)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))


def _line(n=24, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(0, 4, n))[:, None]
    return X, 2.0 * X[:, 0] + 1.0 + noise * rng.normal(size=n)


def _fitted_polynomial(X, y, degree):
    coef = np.polyfit(X[:, 0], y, degree)
    return sum(sympy.Float(float(c), 15) * x0**k for k, c in enumerate(coef[::-1]))


def test_held_out_errors_refit_the_constants_on_the_training_rows():
    X, y = _line(noise=0.0)
    splits = fold_splits(len(y))
    # constants far from the law: refit on each fold's training rows, exact held out
    start = sympy.Float(0.5) * x0 + sympy.Float(7.0)
    assert np.max(held_out_errors(start, X, y, splits)) < 1e-16
    # a formula without constants is not refit: its error is its error
    assert np.allclose(held_out_errors(3 * x0, X, y, splits), (3 * X[:, 0] - y) ** 2)
    # one that is not finite on a held-out row is unusable
    assert np.all(np.isinf(held_out_errors(sympy.log(x0 - 1), X, y, splits)))


def _table(exprs, X, y):
    loss = [float(np.mean((np.asarray(sympy.lambdify(x0, e)(X[:, 0])) - y) ** 2)) for e in exprs]
    size = [sum(1 for _ in sympy.preorder_traversal(e)) for e in exprs]
    counts = [len(e.atoms(sympy.Float)) for e in exprs]
    return pd.DataFrame(
        {"complexity": size, "loss": loss, "n_constants": counts, "sympy_format": exprs}
    )


def test_an_overfitting_choice_gives_way_to_the_formula_that_predicts_held_out_rows():
    X, y = _line()
    line = _fitted_polynomial(X, y, 1)
    wiggly = _fitted_polynomial(X, y, 9)  # lower training loss, follows the noise
    table = _table([line, wiggly], X, y)
    assert table["loss"][1] < table["loss"][0]
    criterion = np.array([10.0, 8.0])  # say the criterion prefers the wiggly one
    assert cross_validated_choice(table, criterion, 1, X, y) == 0
    # a formula far behind by the criterion is not considered
    assert cross_validated_choice(table, np.array([40.0, 8.0]), 1, X, y) == 1


def test_formulas_that_predict_equally_well_keep_the_criterions_choice():
    X, y = _line()
    a, b = sympy.Float(2.0), sympy.Float(0.5)
    written_twice = [a * x0 + b, sympy.Mul(a, sympy.Add(x0, b), evaluate=False)]
    table = _table(written_twice, X, y)  # the same law: equal held-out errors after refits
    assert cross_validated_choice(table, np.array([5.0, 4.0]), 1, X, y) == 1
    assert cross_validated_choice(table, np.array([4.0, 5.0]), 0, X, y) == 0


def test_the_choice_is_checked_by_held_out_error_only_on_small_data(monkeypatch):
    calls = []

    def recorder(kind):
        def record(table, criterion, chosen, X, y, sample_weight=None, loss_floor=0.0):
            calls.append((kind, len(y)))
            return chosen

        return record

    monkeypatch.setattr(stage, "cross_validated_choice", recorder("cv"))
    monkeypatch.setattr(stage, "fewer_constants_choice", recorder("fewer"))
    monkeypatch.setattr(stage, "more_constants_choice", recorder("more"))
    rng = np.random.default_rng(0)
    small = {"hidden_layer_sizes": (2,), "max_iter": 10, "random_state": 0}
    for n in (40, CV_MAX_ROWS + 50):
        X = rng.uniform(1, 2, (n, 1))
        y = 3 * X[:, 0] + 0.1 * rng.normal(size=n)
        KANRegressor(**small, model_selection="cv").fit(X, y)
    for rule in ("bic", "accuracy", "best"):  # the default checks the constants only
        KANRegressor(**small, model_selection=rule).fit(X[:40], y[:40])
    assert calls == [("fewer", 40), ("more", 40), ("cv", 40), ("fewer", 40), ("more", 40)]


def test_one_constant_more_is_checked_only_when_fewer_constants_did_not_win(monkeypatch):
    calls = []

    def more(table, criterion, chosen, *args, **kwargs):
        calls.append(chosen)
        return chosen

    def other_row(table, criterion, chosen, *args, **kwargs):
        return chosen - 1 if chosen > 0 else chosen + 1

    monkeypatch.setattr(stage, "more_constants_choice", more)
    X, y = _line(n=30)
    small = {"hidden_layer_sizes": (2,), "max_iter": 10, "random_state": 0}
    est = KANRegressor(**small).fit(X, y)  # fewer constants keeps the choice: more is asked
    assert calls == [est.selected_index_]
    monkeypatch.setattr(stage, "fewer_constants_choice", other_row)
    switched = KANRegressor(**small).fit(X, y)  # fewer constants won: more is not asked
    assert len(calls) == 1
    assert switched.selected_index_ != est.selected_index_


@pytest.mark.parametrize(
    ("check", "rule"),
    [
        ("cross_validated_choice", "cv"),
        ("fewer_constants_choice", "bic"),
        ("more_constants_choice", "bic"),
    ],
)
def test_an_interrupt_while_cross_validating_keeps_the_criterions_choice(monkeypatch, check, rule):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, check, interrupted)
    X, y = _line(n=30)
    with pytest.warns(UserWarning, match="KeyboardInterrupt during the symbolic stage"):
        est = KANRegressor(
            hidden_layer_sizes=(2,), max_iter=10, model_selection=rule, random_state=0
        ).fit(X, y)
    assert est.stop_reason_ == "interrupted"
    assert 0 <= est.selected_index_ < len(est.equations_)
    assert np.all(np.isfinite(est.predict(X)))


def test_model_selection_cv_on_the_command_line(tmp_path):
    from kansr.cli import main

    X, y = _line(n=30)
    path = tmp_path / "line.csv"
    pd.DataFrame({"x": X[:, 0], "y": y}).to_csv(path, index=False)
    assert (
        main(["fit", str(path), "--target", "y", "--model-selection", "cv", "--max-iter", "10"])
        == 0
    )


def test_constants_that_do_not_predict_held_out_rows_give_way_to_fewer():
    X, y = _line()
    table = _table([_fitted_polynomial(X, y, d) for d in (1, 9)], X, y)
    assert table["loss"][1] < table["loss"][0]  # more constants, lower training loss
    criterion = np.array([10.0, 8.0])  # say the criterion takes the wiggly one
    assert fewer_constants_choice(table, criterion, 1, X, y) == 0
    # a formula of fewer constants with an infinite criterion is not considered
    assert fewer_constants_choice(table, np.array([np.inf, 8.0]), 1, X, y) == 1


def test_constants_that_predict_held_out_rows_stay():
    rng = np.random.default_rng(3)
    X = np.sort(rng.uniform(0, 4, 30))[:, None]
    y = X[:, 0] ** 2 - 2 * X[:, 0] + 0.1 * rng.normal(size=30)
    table = _table([_fitted_polynomial(X, y, d) for d in (0, 1, 2)], X, y)
    assert fewer_constants_choice(table, np.array([30.0, 20.0, 10.0]), 2, X, y) == 2


def test_only_formulas_of_fewer_constants_can_replace_the_choice():
    X, y = _line()
    a, b = sympy.Float(2.0), sympy.Float(0.5)
    # the second predicts better, but has as many constants as the choice
    table = _table([a * x0**2 + b, a * x0 + b], X, y)
    assert fewer_constants_choice(table, np.array([5.0, 4.0]), 0, X, y) == 0
    # and the fewest constants of all: nothing to compare
    table = _table([sympy.Float(3.0), a * x0 + b], X, y)
    assert fewer_constants_choice(table, np.array([5.0, 4.0]), 0, X, y) == 0


def _curve(n=40, seed=1, noise=1.0):
    """Rows of ``x + 0.8 x**2`` with noise: neither ``c*x`` nor ``c*x**2`` alone."""
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(0, 4, n))[:, None]
    return X, X[:, 0] + 0.8 * X[:, 0] ** 2 + noise * rng.normal(size=n)


def _least_squares(X, y, powers):
    """``sum c_k x0**k`` over ``powers``, fitted to ``X (n, 1)``, ``y (n,)``."""
    design = np.column_stack([X[:, 0] ** k for k in powers])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return sum(sympy.Float(float(c), 15) * x0**k for k, c in zip(powers, coef, strict=True))


def test_one_constant_more_that_predicts_held_out_rows_replaces_the_choice():
    X, y = _curve()
    table = _table([_least_squares(X, y, [2]), _least_squares(X, y, [1, 2])], X, y)
    assert list(table["n_constants"]) == [1, 2]
    criterion = np.array([8.0, 10.0])  # say the criterion finds the second constant too dear
    assert more_constants_choice(table, criterion, 0, X, y) == 1
    # a candidate the criterion cannot score is not considered
    assert more_constants_choice(table, np.array([8.0, np.inf]), 0, X, y) == 0


def test_one_constant_more_that_predicts_no_better_does_not_replace_the_choice():
    X, y = _line(n=40, noise=0.5)
    y = y - 1.0  # the law 2*x through the origin: an intercept only follows the noise
    table = _table([_least_squares(X, y, [1]), _least_squares(X, y, [0, 1])], X, y)
    assert list(table["n_constants"]) == [1, 2]
    assert table["loss"][1] < table["loss"][0]  # lower training loss all the same
    assert more_constants_choice(table, np.array([8.0, 10.0]), 0, X, y) == 0


def test_only_exactly_one_constant_more_can_replace_the_choice():
    X, y = _curve()
    # two constants more than the choice: not considered, however well it predicts
    table = _table([_least_squares(X, y, [2]), _least_squares(X, y, [0, 1, 2])], X, y)
    assert list(table["n_constants"]) == [1, 3]
    assert more_constants_choice(table, np.array([8.0, 10.0]), 0, X, y) == 0
    # too few rows to hold any out: the choice stays
    table = _table(
        [_least_squares(X[:4], y[:4], [2]), _least_squares(X[:4], y[:4], [1, 2])], X[:4], y[:4]
    )
    assert more_constants_choice(table, np.array([8.0, 10.0]), 0, X[:4], y[:4]) == 0


def test_one_constant_more_must_not_bring_an_exact_number_the_data_chose():
    rng = np.random.default_rng(2)
    X = np.sort(rng.uniform(0, 3, 40))[:, None]
    y = X[:, 0] + 0.3 * X[:, 0] ** 3 + 0.2 * rng.normal(size=40)
    # one fitted constant more than c*x, and the exponent 3 the data chose (kept in refits)
    table = _table([_least_squares(X, y, [1]), _least_squares(X, y, [1, 3])], X, y)
    assert list(table["n_constants"]) == [1, 2]
    assert more_constants_choice(table, np.array([8.0, 10.0]), 0, X, y) == 0
    # and it does predict held-out rows far better: only the count keeps the choice
    splits = fold_splits(len(y))
    errors = [np.mean(held_out_errors(e, X, y, splits)) for e in table["sympy_format"]]
    assert errors[1] < 0.5 * errors[0]
