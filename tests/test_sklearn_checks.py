"""scikit-learn's own estimator checks on KANRegressor."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kansr import KANRegressor

# Small and short so that the ~50 checks run in seconds; the defaults are exercised elsewhere.
FAST = {"hidden_layer_sizes": (3,), "max_iter": 8, "grid": 4, "random_state": 0, "symbolic": False}


ADAM = {**FAST, "solver": "adam", "batch_size": 50, "learning_rate_init": 0.05}


@parametrize_with_checks([KANRegressor(**FAST), KANRegressor(**ADAM)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
