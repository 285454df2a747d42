"""The format's name and version, the caps :func:`~kansr.io.persistence.load` enforces, and the
keys, patterns and dtypes a model file may hold."""

from __future__ import annotations

import re
import sys

import numpy as np
import sympy

from kansr.symbolic.canonical import EvaluationLimits

FORMAT = "kansr-model"
VERSION = 1

_NPDTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}

#: Largest model file :func:`load` reads (64 MiB; a network of some 6 million float64
#: coefficients). The size is checked before anything is parsed.
MAX_FILE_BYTES = 64 * 2**20
_MAX_JSON_VALUES = 1_000_000  # commas and opening brackets: bounds what parsing allocates
_MAX_DEPTH = 200  # nesting of one formula
_MAX_NODES = 50_000  # nodes of all formulas together
# what sympy may compute from the formulas as it evaluates them (printing, renaming symbols):
# see kansr.symbolic.canonical.canonical
_LIMITS = EvaluationLimits(
    exponent=1000,  # |exponent| of a power (also c in exp(c*log(b)) = b**c)
    exponent_digits=50,  # digits of a rational exponent
    digits=4000,  # of an exact number (str() of an int allows 4300)
    magnitude_bits=10_000,  # |log2| of the magnitude of a number, floats included
    precision=512,  # bits of a float
    root_digits=100,  # of a number whose root is extracted (a partial factorisation)
)
_FILE_BUDGET = {"digits": 100_000, "root_digits": 1_000, "function_bits": 200_000}
_MAX_ROWS = 10_000  # rows of equations_
_MAX_COLUMNS = 64  # columns of equations_
_MAX_SPLINE_ORDER = 20  # the spline evaluation's exact factorials fit in int64 up to k = 20
_MAX_INT_DIGITS = 1000
_MAX_PREC = _LIMITS.precision  # bits of a Float's precision
_MAX_EXP = 1_000_000  # |binary exponent| of a Float
_MAX_STR = 10_000  # characters of a plain string value
_INT64 = (-(2**63), 2**63 - 1)
_DEVICE = re.compile(r"cpu|cuda(:(0|[1-9][0-9]{0,3}))?")

# sympy's assumption names (the keys of Symbol.assumptions0)
_ASSUMPTIONS = frozenset(
    {
        "algebraic",
        "antihermitian",
        "commutative",
        "complex",
        "composite",
        "even",
        "extended_negative",
        "extended_nonnegative",
        "extended_nonpositive",
        "extended_nonzero",
        "extended_positive",
        "extended_real",
        "finite",
        "hermitian",
        "imaginary",
        "infinite",
        "integer",
        "irrational",
        "negative",
        "noninteger",
        "nonnegative",
        "nonpositive",
        "nonzero",
        "odd",
        "positive",
        "prime",
        "rational",
        "real",
        "transcendental",
        "zero",
    }
)
_REAL_ASSUMPTIONS = sympy.Symbol("x", real=True).assumptions0
_SYMBOL_NAME = re.compile(r"x(0|[1-9][0-9]{0,8})")
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
_HEX_TEXT = re.compile(r"0|[1-9a-f][0-9a-f]*")
_STOP_REASON = re.compile(r"[a-z_]{1,64}")

_TOP_KEYS = {
    "format",
    "version",
    "kansr_version",
    "class",
    "params",
    "attributes",
    "module",
    "equations",
}
_ATTRIBUTE_KEYS = {
    "n_features_in_",
    "feature_names_in_",
    "x_mean_",
    "x_scale_",
    "y_mean_",
    "y_scale_",
    "n_iter_",
    "loss_curve_",
    "validation_scores_",
    "stop_reason_",
    "fit_time_",
    "selected_index_",
    "feature_importances_",
}
_OPTIONAL_ATTRIBUTES = {"feature_names_in_", "validation_scores_", "feature_importances_"}
_MODULE_KEYS = {"width", "k", "base_fun", "dtype", "layers"}
_OPTIONAL_MODULE_KEYS = {"mult"}
_LAYER_KEYS = {"knots", "mask", "weight", "bias"}
_ARRAY_KEYS = {"dtype", "shape", "data"}
_COLUMN_KINDS = {"int", "float", "str", "expr"}


def _max_file_bytes() -> int:
    """:data:`MAX_FILE_BYTES` as the package ``kansr.io.persistence`` holds it now: the cap is
    public there, so setting ``kansr.io.persistence.MAX_FILE_BYTES`` changes what
    :func:`load` and :func:`save` accept."""
    return getattr(sys.modules.get(__package__ or ""), "MAX_FILE_BYTES", MAX_FILE_BYTES)
