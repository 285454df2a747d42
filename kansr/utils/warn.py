"""Warnings that point at the user's line: past the frames of kansr and of scikit-learn
(whose ``_fit_context`` wraps ``fit``), wherever in the fit they are raised."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import sklearn

__all__ = ["warn_user"]

_PACKAGES = (Path(__file__).parents[1], Path(sklearn.__file__).parent)  # kansr, sklearn
_INTERNAL = tuple(str(p.resolve()) + os.sep for p in _PACKAGES)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the stack level of the first caller outside kansr and
    scikit-learn (a user's script, notebook cell or test)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
