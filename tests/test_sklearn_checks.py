"""scikit-learn's own estimator checks on KANRegressor."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kansr import KANRegressor

# Small and short so that the ~50 checks run in seconds; the defaults are exercised elsewhere.
FAST = {"hidden_layer_sizes": (3,), "max_iter": 8, "grid": 4, "random_state": 0, "symbolic": False}


ADAM = {**FAST, "solver": "adam", "batch_size": 50, "learning_rate_init": 0.05}


# Weights scale the squared errors, but the grids follow the (unweighted) data's quantiles and
# training starts from the same random network whatever the row count: repeating a row is not
# bit for bit the same fit as weighting it by 2 (as for scikit-learn's own MLP).
EXPECTED = {
    "check_sample_weight_equivalence_on_dense_data": "grids follow unweighted quantiles",
}


@parametrize_with_checks(
    [KANRegressor(**FAST), KANRegressor(**ADAM)], expected_failed_checks=lambda est: EXPECTED
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
