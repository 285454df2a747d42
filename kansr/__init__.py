"""kansr: symbolic regression with Kolmogorov-Arnold Networks and a scikit-learn API."""

from .estimator import KANRegressor
from .hypernet import MetaKAN
from .metakan import MetaKANRegressor
from .network import KAN
from .persistence import load

__all__ = ["KAN", "KANRegressor", "MetaKAN", "MetaKANRegressor", "__version__", "load"]
__version__ = "0.1.0"
