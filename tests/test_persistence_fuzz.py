"""Fuzzing kansr.load: mutated model files are refused with a ValueError, or give an estimator
whose public methods work or raise ValueError/TypeError, every call within a time limit.

The mutations are seeded and deterministic: JSON values replaced, numbers changed, strings
and lists cut or grown, keys removed or added, tensor bytes set to NaN, inf, huge or equal
values, and formulas replaced by random trees (huge integers and exponents, nested powers,
rationals, floats of any precision, odd symbol assumptions).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import faulthandler
import json
import random
import signal
import struct
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import kansr
from kansr import KANRegressor

N_MUTANTS = 1000
SECONDS = 5.0  # for one load or one method call
HARD_LIMIT = 600.0  # whole test: dumps the tracebacks and exits should C code never return

_X0 = ["Symbol", "x0", {"real": True}]
_X1 = ["Symbol", "x1", {"real": True}]
_ZERO_X = ["Mul", [["Integer", "0"], _X0]]  # collapses to 0 when sympy evaluates again


class _Timeout(BaseException):  # not an Exception: nothing under test can swallow it
    pass


@contextlib.contextmanager
def _time_limit(seconds: float, what: str):
    def expire(signum, frame):
        raise _Timeout(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, (60, 2)), columns=["a", "b"])
    y = np.sin(2 * X["a"].to_numpy()) + X["b"].to_numpy() ** 2
    est = KANRegressor(hidden_layer_sizes=(2,), max_iter=5, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("fuzz") / "model.json"
    est.save(path)
    return json.loads(path.read_text()), X, y


# ------------------------------------------------------------------------------ mutations
_NUMBERS = [0, 1, -1, 2, 7, 255, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, 0.5, -1e-300, 1e308]
_STRINGS = ["", "x0", "x9", "cpu", "cuda", "cuda:1", "meta", "hpu", "float16", "float32"]
_STRINGS += ["silu", "identity", "Integer", "Pow", "exp", "__import__", "a" * 20_000, "Ω"]
_VALUES = [None, True, False, [], {}, [0], [[]], {"tuple": [2]}, {"list": []}, {"float": "nan"}]


def _random_number_node(rng: random.Random) -> list:
    choice = rng.randrange(6)
    if choice == 0:
        return ["Integer", str(rng.choice([0, 1, -1, 2, 3, 10**8, 10**60, 10**999 + 7]))]
    if choice == 1:
        p = rng.choice([1, -3, 7, 10**49 + 1, 10**51 + 3, 10**999 - 1])
        return ["Rational", str(p), str(rng.choice([2, 3, 10**50 + 7, 10**998 + 9]))]
    if choice == 2:
        precision = rng.choice([1, 53, 200, 4096])
        mantissa = rng.getrandbits(precision) | 1
        exponent = rng.choice([-1_000_000, -1074, -53, 0, 970, 1_000_000])
        return ["Float", rng.randrange(2), format(mantissa, "x"), exponent, precision]
    return rng.choice([["pi"], ["E"], _X0, _X1])


def _random_formula(rng: random.Random, depth: int = 0) -> list:
    if depth >= 5 or rng.random() < 0.25:
        return _random_number_node(rng)
    kind = rng.randrange(7)
    if kind == 0:  # a number sympy will compute once the tree is rebuilt
        return ["Add", [_random_number_node(rng), _ZERO_X]]
    if kind == 1:
        if rng.random() < 0.2:  # a wide node of leaves
            args = [_random_number_node(rng) for _ in range(rng.choice([50, 2000]))]
        else:
            args = [_random_formula(rng, depth + 1) for _ in range(rng.choice([2, 3]))]
        return [rng.choice(["Add", "Mul"]), args]
    if kind == 2:
        return ["Pow", _random_formula(rng, depth + 1), _random_formula(rng, depth + 1)]
    if kind == 3:
        name = rng.choice(["exp", "log", "sin", "cos", "tan", "cot", "tanh", "sinh", "cosh"])
        name = rng.choice([name, "atan", "asin", "acos", "Abs", "sign"])
        return ["Function", name, [_random_formula(rng, depth + 1)]]
    if kind == 4:  # exp(c*log(b)) is b**c for sympy
        log = ["Function", "log", [_random_formula(rng, depth + 2)]]
        return ["Function", "exp", [["Mul", [_random_number_node(rng), log]]]]
    if kind == 5:
        assumptions = rng.choice(
            [{}, {"positive": True}, {"integer": True}, {"zero": True}, {"commutative": False}]
        )
        assumptions = rng.choice([assumptions, {"infinite": True}, {"prime": True}])
        return ["Symbol", rng.choice(["x0", "x1"]), assumptions]
    base = _random_formula(rng, depth + 1)
    return ["Pow", ["Pow", base, ["Integer", "1000"]], ["Integer", rng.choice(["2", "1000"])]]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _mutate_bytes(rng: random.Random, data: str) -> str:
    try:
        raw = bytearray(base64.b64decode(data))
    except ValueError:  # mutated already
        return data + rng.choice(["A", "==", "!"])
    choice = rng.randrange(5)
    if choice == 0 and raw:
        del raw[rng.randrange(len(raw)) :]
    elif choice == 1:
        raw += bytes(rng.choice([1, 4, 8]))
    elif choice == 2 and len(raw) >= 8:  # float64 slots (float32 data gets odd pairs)
        specials = [np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308, 5e-324, 1.0]
        values = [rng.choice(specials)] if rng.random() < 0.5 else None
        for _ in range(rng.choice([1, 3, len(raw) // 8])):
            slot = rng.randrange(len(raw) // 8) * 8
            value = values[0] if values else rng.choice(specials)
            raw[slot : slot + 8] = struct.pack("<d", value)
    elif choice == 3 and len(raw) >= 8:  # every float64 equal
        value = raw[:8]
        raw = bytearray(value * (len(raw) // 8))
    elif raw:
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return base64.b64encode(bytes(raw)).decode("ascii")


def _mutate_value(rng: random.Random, value, key):
    if key == "data" and isinstance(value, str) and rng.random() < 0.8:
        return _mutate_bytes(rng, value)
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(_NUMBERS + _STRINGS + _VALUES)
    if roll < 0.3:
        return _random_formula(rng)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([value + 1, value - 1, -value, 0, value * 2**40, 10**40, 2**63])
    if isinstance(value, float):
        return rng.choice([value * 1e300, -value, 0.0, value + 1, 1e-320])
    if isinstance(value, str):
        if value and rng.random() < 0.5:
            return value[: rng.randrange(len(value))]
        return value + rng.choice(["0", "x", ":", "\u00e9", value])
    if isinstance(value, list):
        value = list(value)
        choice = rng.randrange(5)
        if choice == 0 and value:
            del value[rng.randrange(len(value)) :]
        elif choice == 1 and value:
            value.append(copy.deepcopy(rng.choice(value)))
        elif choice == 2:
            value.append(rng.choice(_NUMBERS + _STRINGS + _VALUES))
        elif choice == 3:
            value.reverse()
        else:
            value = value * rng.choice([0, 2, 30])
        return value
    if isinstance(value, dict):
        value = dict(value)
        choice = rng.randrange(3)
        if choice == 0 and value:
            del value[rng.choice(sorted(value))]
        elif choice == 1:
            value[rng.choice(["extra", "tuple", "float", "dtype"])] = rng.choice(_NUMBERS)
        elif value:
            old = rng.choice(sorted(value))
            value[old + "_"] = value.pop(old)
        return value
    return rng.choice(_NUMBERS + _STRINGS + _VALUES)


def _mutant(rng: random.Random, doc: dict) -> tuple[dict, list[str]]:
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        paths = list(_paths(doc))
        formulas = [p for p in paths if "sympy_format" in map(str, p) or "values" in p]
        path = rng.choice(formulas) if formulas and rng.random() < 0.3 else rng.choice(paths)
        if not path:
            continue
        # a fresh copy: pool values and shared nodes must never be changed in place later
        value = copy.deepcopy(_mutate_value(rng, _get(doc, path), path[-1]))
        doc = _set(doc, path, value)
        done.append("/".join(map(str, path)))
    return doc, done


def _formula_mutant(rng: random.Random, doc: dict) -> tuple[dict, list[str]]:
    doc = copy.deepcopy(doc)
    (column,) = [c for c in doc["equations"]["columns"] if c["name"] == "sympy_format"]
    row = rng.randrange(len(column["values"]))
    column["values"][row] = copy.deepcopy(_random_formula(rng))
    return doc, [f"sympy_format[{row}] = random formula"]


# ------------------------------------------------------------------------------ the test
def _calls(est, X, y):
    def torch_export():
        module = est.to_torch()
        module(torch.as_tensor(X.to_numpy()))
        return module.sympy_expr

    return {
        "predict": lambda: est.predict(X),
        "predict_network": lambda: est.predict_network(X),
        "score": lambda: est.score(X, y),
        "sympy_expr": est.sympy_expr,
        "latex": est.latex,
        "formula_text": est.formula_text,
        "latex_table": est.latex_table,
        "to_numpy": lambda: est.to_numpy()(X),
        "to_torch": torch_export,
    }


def _check(doc: dict, path, X, y) -> tuple[bool, list[str]]:
    """Whether ``doc`` loaded, and the problems found (calls that raised something else)."""
    path.write_text(json.dumps(doc))
    problems = []
    with _time_limit(SECONDS, "load"):
        try:
            est = kansr.load(path)
        except ValueError:
            return False, problems
        except Exception as exc:  # noqa: BLE001 - any other exception is the failure sought
            return False, [f"load raised {type(exc).__name__}: {str(exc)[:200]}"]
    for name, call in _calls(est, X, y).items():
        with _time_limit(SECONDS, name):
            try:
                call()
            except (ValueError, TypeError):
                pass
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{name} raised {type(exc).__name__}: {str(exc)[:200]}")
    return True, problems


def test_mutated_files_are_refused_or_work(model, tmp_path):
    doc, X, y = model
    path = tmp_path / "mutant.json"
    faulthandler.dump_traceback_later(HARD_LIMIT, exit=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded, problems = _check(doc, path, X, y)
            assert loaded and problems == [], problems  # the original loads and works
            rng = random.Random(20261208)
            n_loaded = 0
            failures = []
            for i in range(N_MUTANTS):
                make = _formula_mutant if i % 4 == 0 else _mutant
                mutant, what = make(rng, doc)
                loaded, problems = _check(mutant, path, X, y)
                n_loaded += loaded
                failures += [f"mutant {i} ({'; '.join(what)}): {p}" for p in problems]
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert failures == [], "\n".join(failures[:20])
    # the mix exercises both sides: many mutants are refused, many load and are called
    assert N_MUTANTS // 10 <= n_loaded <= N_MUTANTS * 9 // 10, n_loaded
