"""Input validation: constancy relative to the spread (large offsets), accurate standardisation,
and messages that name the real problem of the input."""

import re
import warnings

import numpy as np
import pytest
from sklearn.metrics import r2_score

from kansr import KANRegressor, MetaKANRegressor
from kansr.utils.validation import check_magnitudes, standard_scale

TINY = {"hidden_layer_sizes": (2,), "max_iter": 3, "search_structure": False, "random_state": 0}
RNG = np.random.default_rng(0)
U = RNG.uniform(-1, 1, (100, 1))


# ---------------------------------------------------------------- standard_scale
@pytest.mark.parametrize("offset", [1e12, -1e13, 1e14, 1e15])
def test_a_column_with_a_large_offset_is_not_constant(offset):
    assert len(np.unique(U + offset)) >= 15  # (1e15: steps of 0.125)
    mean, std, constant = standard_scale(U + offset)
    assert not constant[0]
    np.testing.assert_allclose(std, U.std(), rtol=0.05)
    np.testing.assert_allclose(mean - offset, U.mean(), atol=0.1)


def test_standardising_an_offset_column_keeps_it():
    column = U + 1e12
    mean, std, _ = standard_scale(column)
    assert abs(mean[0] - (1e12 + U.mean())) <= 4 * np.spacing(1e12)
    assert std[0] == pytest.approx(U.std(), rel=1e-3)
    z = (column - mean) / std
    assert np.corrcoef(z[:, 0], U[:, 0])[0, 1] > 0.99999
    assert abs(z.mean()) < 1e-3 and z.std() == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize(
    "column",
    [
        np.full(5, 2.5),
        np.zeros(5),
        np.full(5, -1e30),
        np.array([0.1 * 3, 0.3, 0.1 + 0.2, 0.3, 0.6 / 2]),  # equal up to rounding
        np.full(5, 1e16) + np.array([0.0, 2.0, 0.0, -2.0, 0.0]),  # one ulp (2) either way
    ],
    ids=["2.5", "zeros", "-1e30", "rounding", "ulps-of-1e16"],
)
def test_columns_varying_only_by_rounding_are_constant(column):
    mean, std, constant = standard_scale(column[:, None])
    assert constant[0] and std[0] == 1.0
    assert mean[0] == pytest.approx(np.median(column), rel=1e-15)


def test_statistics_are_exact_in_scale_for_huge_and_tiny_columns():
    values = np.column_stack([U[:, 0] * 1e300, U[:, 0] * 1e-300, U[:, 0] * 1e300 + 1.5e300])
    mean, std, constant = standard_scale(values)
    assert not constant.any() and np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    np.testing.assert_allclose(std, U.std() * np.array([1e300, 1e-300, 1e300]), rtol=1e-12)
    np.testing.assert_allclose(mean, U.mean() * np.array([1e300, 1e-300, 1e300]) + [0, 0, 1.5e300])


# ---------------------------------------------------------------- large offsets fit
X_FIT = RNG.uniform(-1, 1, (40, 1))
X_TEST = RNG.uniform(-1, 1, (50, 1))


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        (KANRegressor, {"max_iter": 5, "hidden_layer_sizes": (2,)}),
        (KANRegressor, {"max_iter": 5, "hidden_layer_sizes": (1,), "search_structure": False}),
        (MetaKANRegressor, {"max_iter": 5, "hidden_layer_sizes": (2,)}),
    ],
    ids=["kan", "kan-network-only", "metakan"],
)
def test_a_large_offset_column_fits_its_law(estimator, params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.RankWarning)  # a user sees no numpy noise
        est = estimator(random_state=0, **params).fit(X_FIT + 1e12, 2 * X_FIT[:, 0] + 1)
    assert est.sympy_expr().free_symbols  # not the constant formula
    assert r2_score(2 * X_TEST[:, 0] + 1, est.predict(X_TEST + 1e12)) > 0.99


# ---------------------------------------------------------------- messages
X20 = RNG.uniform(-1, 1, (20, 2))
Y20 = list(X20[:, 0])
MISLEADING = "too large to standardise|divide that column by inf|multiply that column by inf"


@pytest.mark.parametrize(
    ("y", "message"),
    [
        ([None, *Y20[1:]], r"y has 1 missing or NaN value\(s\) \(e\.g\. row 0: None\)"),
        (np.array([1.0, None, *Y20[2:]], dtype=object), r"missing or NaN .*row 1: None"),
        (np.array(["nan", *Y20[1:]], dtype=object), r"missing or NaN .*row 0: 'nan'"),
        (["nan", "nan", *Y20[2:]], r"y has 2 missing or NaN"),
        (np.array([np.inf, *Y20[1:]], dtype=object), r"y has 1 infinite value\(s\) .*row 0: inf"),
        (np.array([*Y20[:5], -np.inf, *Y20[6:]], dtype=object), r"infinite value.*row 5: -inf"),
    ],
    ids=["none-list", "none-object", "nan-string", "two-nan-strings", "inf", "minus-inf"],
)
def test_missing_or_infinite_targets_are_named(y, message):
    with pytest.raises(ValueError, match=message) as info:
        KANRegressor(**TINY).fit(X20, y)
    assert "finite target for every sample" in str(info.value)
    assert not _matches(MISLEADING, info.value)


@pytest.mark.parametrize("step", [1e-320, 1e-310, 5e-324])
def test_a_subnormal_spread_is_called_too_small_to_represent(step):
    X = X20.copy()
    X[:, 1] = np.where(np.arange(20) % 2, step, 0.0)
    with pytest.raises(ValueError, match="x1 varies only by .* too small to represent") as info:
        KANRegressor(**TINY).fit(X, Y20)
    assert "subnormal" in str(info.value) and "rescale X" in str(info.value)
    assert not _matches(MISLEADING, info.value)
    assert re.search(r"multiply that column by 1e\+3\d\d", str(info.value))  # (not by inf)


def test_a_tiny_normal_spread_keeps_the_underflow_message():
    with pytest.raises(ValueError, match=r"x0 varies only by .* multiply that column by 1e\+30"):
        KANRegressor(**TINY).fit(X20 * 1e-300, Y20)


def test_check_magnitudes_names_non_finite_values():
    X = X20.copy()
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="x1 has infinite values .*row 3: inf"):
        check_magnitudes(X, np.asarray(Y20), ["x0", "x1"])
    y = np.asarray(Y20)
    y[7] = np.nan
    with pytest.raises(ValueError, match=r"y has NaN \(missing\) values .*row 7"):
        check_magnitudes(X20, y, ["x0", "x1"])


def _matches(pattern: str, exc: BaseException) -> bool:
    return re.search(pattern, str(exc)) is not None
