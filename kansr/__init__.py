"""kansr: symbolic regression with Kolmogorov-Arnold Networks and a scikit-learn API.

The package is laid out as the workflow (docs/architecture.md): ``kansr.nn`` (the networks and
their training), ``kansr.symbolic`` (formulas: the function library, edge matching, the
searches on the data, the Pareto front), ``kansr.estimators`` (the scikit-learn estimators that
run the stages), ``kansr.io`` (files, exports, plots) and ``kansr.benchmarks``.
"""

from kansr._version import __version__
from kansr.estimators.kan import KANRegressor
from kansr.estimators.metakan import MetaKANRegressor
from kansr.io.persistence import InvalidModelFile, load, save
from kansr.nn.metakan import MetaKAN
from kansr.nn.network import KAN

__all__ = [
    "KAN",
    "InvalidModelFile",
    "KANRegressor",
    "MetaKAN",
    "MetaKANRegressor",
    "__version__",
    "load",
    "save",
]
