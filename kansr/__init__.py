"""kansr: symbolic regression with Kolmogorov-Arnold Networks and a scikit-learn API."""

from .estimator import KANRegressor
from .hypernet import MetaKAN
from .metakan import MetaKANRegressor
from .network import KAN

__all__ = ["KAN", "KANRegressor", "MetaKAN", "MetaKANRegressor", "__version__"]
__version__ = "0.1.0"
