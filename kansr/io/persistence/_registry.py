"""The estimator classes :func:`~kansr.io.persistence.save` and
:func:`~kansr.io.persistence.load` support: the estimator modules register them as they are
defined."""

from __future__ import annotations

_CLASSES: dict[str, type] = {}  # filled by the estimator modules as they are defined


def register_estimator(cls: type) -> type:
    """Allow :func:`save` and :func:`load` for the estimator class ``cls`` (by its name).

    The estimator modules register their classes; this module imports none of them, so
    the dependencies point one way (estimators -> io).
    """
    _CLASSES[cls.__name__] = cls
    return cls


def _classes() -> dict[str, type]:
    return dict(_CLASSES)
