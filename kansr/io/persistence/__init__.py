"""Save and load fitted estimators in a data-only JSON format, safe for untrusted files.

``pickle`` and ``joblib`` work on kansr's estimators too, but loading a pickle executes code
chosen by whoever wrote the file: use them for your own, trusted files only. :func:`save` and
:func:`load` write and read a single JSON document that holds only data: the estimator's
parameters, its fitted attributes, the network's tensors (raw little-endian bytes, base64) and
the formulas of ``equations_`` as expression trees. :func:`load` never calls ``pickle``,
``torch.load``, ``eval``, ``exec``, ``sympify`` or ``parse_expr``; it rebuilds

* the estimator from a fixed set of classes (:class:`~kansr.estimators.kan.KANRegressor`,
  :class:`~kansr.estimators.metakan.MetaKANRegressor`) through their own ``set_params``
  and parameter validation,
* the network through the :class:`~kansr.nn.network.KAN` constructor and ``load_state_dict`` of
  tensors whose dtype and shapes are checked against the network's widths,
* every formula from a whitelist of sympy constructors (``Add``, ``Mul``, ``Pow``, numbers,
  ``pi``, ``E``, the internal feature symbols ``x<i>`` and the functions of
  :data:`kansr.symbolic.operations.OPERATIONS`), with every float kept bit for bit.

Safe also means bounded: :func:`load` reads at most :data:`MAX_FILE_BYTES` (64 MiB), and
bounds the formulas' size and the numbers sympy may compute from them later (printing a
formula re-evaluates it), so that neither loading nor the estimator's methods afterwards
can hang or exhaust memory; see :func:`load` for the limits.

Anything unexpected (unknown keys, wrong types or shapes, non-finite numbers where finite
ones are needed, unknown expression nodes, a different format or version, a limit exceeded)
raises :class:`InvalidModelFile`, a :class:`ValueError`, naming the problem.

Not saved: ``MetaKANRegressor.meta_module_`` (the embeddings and meta-learners that generated
the network; prediction, formulas and pruning only need the materialised ``module_``). It is
``None`` after :func:`load`.

The document (format ``"kansr-model"``, version 1) is an object with the keys ``format``,
``version``, ``kansr_version``, ``class``, ``params``, ``attributes``, ``module`` and
``equations``.

The package's modules, by responsibility: ``_limits`` (the format, its caps, keys and patterns),
``_checks`` (:class:`InvalidModelFile` and the validation helpers), ``_registry`` (the estimator
classes, :func:`register_estimator`), ``_reading`` (the capped read and JSON parse of a file),
``_expressions`` (:func:`encode_expr`, :func:`decode_expr`), ``_encode`` (:func:`save`),
``_decode`` (:func:`load`: header, parameters, attributes, ``equations_``) and
``_decode_network`` (the network's tensors). :data:`MAX_FILE_BYTES` is read from this package at
every call, so setting ``kansr.io.persistence.MAX_FILE_BYTES`` changes the cap.
"""

from kansr.io.persistence._checks import InvalidModelFile
from kansr.io.persistence._decode import load
from kansr.io.persistence._encode import save
from kansr.io.persistence._expressions import decode_expr as decode_expr
from kansr.io.persistence._expressions import encode_expr as encode_expr
from kansr.io.persistence._limits import FORMAT, MAX_FILE_BYTES, VERSION
from kansr.io.persistence._registry import _CLASSES as _CLASSES
from kansr.io.persistence._registry import register_estimator as register_estimator

__all__ = ["FORMAT", "MAX_FILE_BYTES", "VERSION", "InvalidModelFile", "load", "save"]
