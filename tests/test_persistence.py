"""kansr.io.persistence: the data-only save/load format and its validation of tampered files."""

import base64
import contextlib
import copy
import json
import os
import signal
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.exceptions import NotFittedError

import kansr
from kansr import KANRegressor, MetaKANRegressor
from kansr.io import persistence
from kansr.symbolic.operations import OPERATIONS


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = 1.3 * np.sin(2 * X[:, 0]) + 0.7 * X[:, 1] ** 2 + 0.2
    return X, y


@pytest.fixture(scope="module")
def kan_df():
    """KANRegressor fitted on a DataFrame (feature names); network formulas only, so the
    Pareto front holds many floats, functions, powers and rationals."""
    X, y = _data()
    X = pd.DataFrame(X, columns=["speed", "angle"])
    est = KANRegressor(hidden_layer_sizes=(3,), max_iter=10, search_structure=False, random_state=0)
    return est.fit(X, y), X


@pytest.fixture(scope="module")
def meta():
    X, y = _data(seed=1)
    est = MetaKANRegressor(hidden_layer_sizes=(3,), max_iter=10, random_state=0)
    return est.fit(X, y), X


@pytest.fixture(scope="module")
def plain():
    X, y = _data(seed=2)
    est = KANRegressor(hidden_layer_sizes=(3,), max_iter=10, symbolic=False, random_state=0)
    return est.fit(X, y), X


@pytest.fixture(scope="module")
def saved(kan_df, tmp_path_factory):
    """The JSON document of ``kan_df`` (a fresh deep copy per use via ``doc()``)."""
    path = tmp_path_factory.mktemp("saved") / "model.json"
    kan_df[0].save(path)
    return json.loads(path.read_text())


def _assert_same(est, loaded, X):
    assert type(loaded) is type(est)
    assert loaded is not est
    assert np.array_equal(est.predict(X), loaded.predict(X))
    assert np.array_equal(est.predict_network(X), loaded.predict_network(X))
    assert loaded.get_params() == est.get_params()
    for name in ("x_mean_", "x_scale_"):
        assert np.array_equal(getattr(est, name), getattr(loaded, name))
    for name in ("y_mean_", "y_scale_", "n_features_in_", "n_iter_", "loss_curve_"):
        assert getattr(loaded, name) == getattr(est, name), name
    for name in ("stop_reason_", "fit_time_", "selected_index_", "validation_scores_"):
        assert getattr(loaded, name) == getattr(est, name), name
    assert loaded.module_.width == est.module_.width
    for a, b in zip(est.module_.layers, loaded.module_.layers, strict=True):
        for key in ("knots", "mask", "weight", "bias"):
            ta, tb = getattr(a, key), getattr(b, key)
            assert ta.dtype == tb.dtype and ta.shape == tb.shape
            assert bool((ta == tb).all()), key
    if est.equations_ is None:
        assert loaded.equations_ is None
        return
    assert loaded.sympy_expr() == est.sympy_expr()
    assert loaded.latex() == est.latex()
    pd.testing.assert_frame_equal(loaded.equations_, est.equations_)
    for a, b in zip(est.equations_["sympy_format"], loaded.equations_["sympy_format"], strict=True):
        assert a == b and hash(a) == hash(b) and sympy.srepr(a) == sympy.srepr(b)


def test_round_trip_kan_with_feature_names(kan_df, tmp_path):
    est, X = kan_df
    assert est.equations_ is not None and len(est.equations_) >= 2
    assert any(e.atoms(sympy.Float) for e in est.equations_["sympy_format"])
    path = tmp_path / "kan.json"
    est.save(path)
    loaded = kansr.load(path)
    _assert_same(est, loaded, X)
    assert list(loaded.feature_names_in_) == ["speed", "angle"]
    assert {s.name for s in loaded.sympy_expr().free_symbols} <= {"speed", "angle"}
    # the file holds data only: one JSON object, nothing pickled
    doc = json.loads(path.read_text())
    assert doc["format"] == "kansr-model" and doc["version"] == 1
    assert doc["class"] == "KANRegressor"


def test_round_trip_metakan(meta, tmp_path):
    est, X = meta
    path = tmp_path / "meta.json"
    persistence.save(est, str(path))
    loaded = persistence.load(str(path))
    _assert_same(est, loaded, X)
    assert loaded.meta_module_ is None  # documented: not saved
    assert not hasattr(loaded, "feature_names_in_")


def test_round_trip_without_formulas(plain, tmp_path):
    est, X = plain
    path = tmp_path / "plain.json"
    est.save(path)
    loaded = kansr.load(path)
    _assert_same(est, loaded, X)
    with pytest.raises(ValueError, match="symbolic=False"):
        loaded.sympy_expr()


def test_expression_round_trip_is_exact():
    x0, x1 = sympy.symbols("x0 x1", real=True)
    exprs = [
        sympy.Float("0.1234567890123456789", 30) * sympy.exp(-(x0**2))
        + sympy.Rational(-2, 3) * sympy.pi * x1
        + sympy.sqrt(sympy.Float(2.5, 15) + x1**2),
        sympy.log(sympy.Abs(x0) + 1) / (sympy.sign(x1) + 3) + sympy.E**x1,
        sympy.sin(x0) + sympy.cos(x1) + sympy.tan(x0) + sympy.cot(x1) + sympy.tanh(x0),
        sympy.sinh(x0) * sympy.cosh(x1) + sympy.atan(x0) + sympy.asin(x1 / 2) + sympy.acos(x0 / 3),
        sympy.Mul(2, x0 + x1, evaluate=False),  # unevaluated trees come back as they were
        sympy.Float(0.0, 20) + x0 * sympy.Float(-1e-300, 15) + sympy.Integer(10) ** 40,
    ]
    for expr in exprs:
        tree = persistence.encode_expr(expr)
        back = persistence.decode_expr(json.loads(json.dumps(tree)))
        assert back == expr and sympy.srepr(back) == sympy.srepr(expr)
        for a, b in zip(
            sorted(expr.atoms(sympy.Float), key=sympy.srepr),
            sorted(back.atoms(sympy.Float), key=sympy.srepr),
            strict=True,
        ):
            assert a._mpf_ == b._mpf_ and a._prec == b._prec


def test_save_unfitted_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError):
        KANRegressor().save(tmp_path / "x.json")
    with pytest.raises(NotFittedError):
        persistence.save(MetaKANRegressor(), tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        kansr.load(tmp_path / "absent.json")


# ----------------------------------------------------------------------- tampered files
def _write(tmp_path, doc, name="tampered.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _expr_column(doc):
    (col,) = [c for c in doc["equations"]["columns"] if c["name"] == "sympy_format"]
    return col


@pytest.fixture
def no_side_effects(monkeypatch, tmp_path):
    """Fails the test if anything tries to run a shell command or create the sentinel."""
    calls = []
    monkeypatch.setattr(os, "system", lambda *a, **k: calls.append(a) or 0)
    sentinel = tmp_path / "pwned"
    yield sentinel
    assert calls == [], "os.system was called while loading"
    assert not sentinel.exists(), "loading executed code from the file"


def test_invalid_json(tmp_path):
    for text in ("{not json", "", "[1, 2", '{"format": NaN}'):
        with pytest.raises(ValueError, match="invalid JSON"):
            kansr.load(_write(tmp_path, text))
    (tmp_path / "bin.json").write_bytes(b"\x80\x81\xff")
    with pytest.raises(ValueError, match="not UTF-8"):
        kansr.load(tmp_path / "bin.json")


def test_duplicate_key_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate key"):
        kansr.load(_write(tmp_path, '{"format": "kansr-model", "format": "x"}'))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="pickle"), "format"),
        (lambda d: d.update(version=2), "unsupported version"),
        (lambda d: d.update(version="1"), "unsupported version"),
        (lambda d: d.update(extra=1), "unknown key"),
        (lambda d: d.pop("module"), "missing key"),
        (lambda d: d.update({"class": "os.system"}), "unknown estimator class"),
        (lambda d: d.update({"class": "Pipeline"}), "unknown estimator class"),
        (lambda d: d["params"].update(bogus=1), "unknown parameter"),
        (lambda d: d["params"].update(grid=0), "params"),
        (lambda d: d["params"].update(base_function="__import__('os')"), "params"),
        (lambda d: d["params"].update(library={"list": ["sin", "nope"]}), "library"),
        (lambda d: d["params"].update(hidden_layer_sizes={"tuple": [4]}), "width"),
        (lambda d: d["attributes"].update(n_features_in_=3), "expected 3 entries"),
        (
            lambda d: (
                d["attributes"].pop("feature_names_in_")
                and d["attributes"].update(n_features_in_=3)
            ),
            "x_mean_.shape",
        ),
        (lambda d: d["attributes"].update(selected_index_=99), "selected_index_"),
        (lambda d: d["attributes"].update(feature_names_in_=["a"]), "feature_names_in_"),
        (lambda d: d["attributes"].update(stop_reason_="rm -rf /"), "stop_reason_"),
        (lambda d: d["module"].update(dtype="float16"), "dtype"),
        (lambda d: d["module"]["layers"].pop(), "layers"),
        (lambda d: d.update(equations=None), "symbolic=True"),
    ],
)
def test_tampered_fields_raise_value_error(saved, tmp_path, change, message):
    doc = copy.deepcopy(saved)
    change(doc)
    with pytest.raises(ValueError, match=message):
        kansr.load(_write(tmp_path, doc))


@pytest.mark.parametrize(
    "node",
    [
        ["Function", "os.system", [["Symbol", "x0", {"real": True}]]],
        ["Function", "__import__", [["Integer", "1"]]],
        ["__import__", "os"],
        ["Symbol", "__import__('os').system('touch SENTINEL')", {}],
        ["Symbol", "x0", {"real": "__import__('os')"}],
        ["Symbol", "x7", {"real": True}],  # beyond the model's 2 features
        ["Symbol", "x0", {"positive": True, "negative": True}],
        ["Integer", "__import__('os').system('touch SENTINEL') or 1"],
        ["Integer", 1],
        ["Rational", "1", "0"],
        ["Float", 0, "zz", 0, 53],
        ["Float", 0, "0", -456, 53],  # mpmath's encoding of inf
        ["Add", [["Integer", "1"]]],
        ["Pow", ["Integer", "2"]],
        ["Function", "sin", [["pi"], ["E"]]],
        "x0 + 1",
        {"Add": []},
    ],
)
def test_expression_outside_whitelist_is_rejected_without_running_it(
    saved, tmp_path, node, no_side_effects
):
    node = json.loads(json.dumps(node).replace("SENTINEL", str(no_side_effects)))
    doc = copy.deepcopy(saved)
    _expr_column(doc)["values"][-1] = ["Add", [["Symbol", "x0", {"real": True}], node]]
    with pytest.raises(ValueError, match="invalid kansr model file: equations"):
        kansr.load(_write(tmp_path, doc))


def test_deeply_nested_expression_is_rejected(saved, tmp_path):
    node = ["Symbol", "x0", {"real": True}]
    for _ in range(300):
        node = ["Function", "sin", [node]]
    doc = copy.deepcopy(saved)
    _expr_column(doc)["values"][0] = node
    with pytest.raises(ValueError, match="nested"):
        kansr.load(_write(tmp_path, doc))


def test_wrong_array_shape(saved, tmp_path):
    doc = copy.deepcopy(saved)
    weight = doc["module"]["layers"][0]["weight"]
    n_in, n_basis, n_out = weight["shape"]
    weight["shape"] = [n_in, n_out, n_basis]  # same number of bytes, wrong layout
    with pytest.raises(ValueError, match=r"layers\[0\]\.weight\.shape"):
        kansr.load(_write(tmp_path, doc))
    doc = copy.deepcopy(saved)
    bias = doc["module"]["layers"][1]["bias"]
    bias["data"] = base64.b64encode(base64.b64decode(bias["data"]) + b"\0" * 8).decode()
    with pytest.raises(ValueError, match=r"bytes do not match"):
        kansr.load(_write(tmp_path, doc))
    doc = copy.deepcopy(saved)
    doc["module"]["layers"][0]["mask"]["data"] = "not base64!"
    with pytest.raises(ValueError, match="base64"):
        kansr.load(_write(tmp_path, doc))


@pytest.mark.parametrize(
    "where",
    [
        ("attributes", "x_mean_"),
        ("attributes", "y_scale_"),
        ("module", "layers", 0, "weight"),
        ("module", "layers", 1, "knots"),
    ],
)
def test_nan_where_finite_number_required(saved, tmp_path, where):
    doc = copy.deepcopy(saved)
    obj = doc
    for key in where:
        obj = obj[key]
    values = np.frombuffer(base64.b64decode(obj["data"]), dtype="<f8").copy()
    values[0] = np.nan
    obj["data"] = base64.b64encode(values.tobytes()).decode()
    with pytest.raises(ValueError, match="NaN or infinite"):
        kansr.load(_write(tmp_path, doc))


# ----------------------------------------------------------------------- the public exception
def test_invalid_model_file_is_a_public_value_error(saved, tmp_path):
    assert issubclass(persistence.InvalidModelFile, ValueError)
    assert "InvalidModelFile" in persistence.__all__
    doc = copy.deepcopy(saved)
    doc["version"] = 2
    for path in (_write(tmp_path, doc), _write(tmp_path, "{not json", "bad.json")):
        with pytest.raises(persistence.InvalidModelFile) as info:
            kansr.load(path)
        assert type(info.value) is persistence.InvalidModelFile


# ----------------------------------------------------------------------- availability
@contextlib.contextmanager
def _time_limit(seconds):
    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _peak_bytes(call):
    """Peak of the memory Python allocates while ``call()`` runs (its exception kept)."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_file_larger_than_the_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(persistence.MAX_FILE_BYTES + 1)  # sparse: nothing written

    def load():
        with pytest.raises(persistence.InvalidModelFile, match="larger than"):
            kansr.load(path)

    assert _peak_bytes(load) < 2**20


def test_read_is_capped_even_when_the_size_on_disk_is_small(tmp_path, monkeypatch):
    path = _write(tmp_path, '{"format": "kansr-model"}' + " " * 100)
    monkeypatch.setattr(persistence, "MAX_FILE_BYTES", 50)
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0,) * 10))  # e.g. a pipe
    with pytest.raises(persistence.InvalidModelFile, match="larger than 50 bytes"):
        kansr.load(path)


def test_too_many_json_values_are_refused_before_parsing(tmp_path):
    path = _write(tmp_path, "[" + "0," * 1_100_000 + "0]")

    def load():
        with pytest.raises(persistence.InvalidModelFile, match="JSON values"):
            kansr.load(path)

    assert _peak_bytes(load) < 8 * 2**20  # the text itself, not a list of a million numbers


def test_number_out_of_float_range_is_invalid_json(tmp_path):
    with pytest.raises(persistence.InvalidModelFile, match="invalid JSON"):
        kansr.load(_write(tmp_path, '{"format": 1e400}'))


@pytest.mark.parametrize("device", ["hpu", "meta", "cuda:x", "cpu:0", "CPU", "mps", "xla"])
def test_only_cpu_and_cuda_devices_are_accepted(saved, tmp_path, device):
    doc = copy.deepcopy(saved)
    doc["params"]["device"] = device
    with pytest.raises(persistence.InvalidModelFile, match="params.device"):
        kansr.load(_write(tmp_path, doc))


def _set_floats(array: dict, values) -> None:
    data = np.frombuffer(base64.b64decode(array["data"]), dtype="<f8").copy()
    data[:] = np.resize(np.asarray(values, dtype=np.float64), data.shape)
    array["data"] = base64.b64encode(data.tobytes()).decode()


def _knots(doc, layer=0):
    return doc["module"]["layers"][layer]["knots"]


@pytest.mark.parametrize(
    "change",
    [
        lambda knots: _set_floats(knots, [0.5]),  # all equal
        lambda knots: _set_floats(knots, np.arange(knots["shape"][1])[::-1]),  # decreasing
        lambda knots: _set_floats(knots, [0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        lambda knots: _set_floats(knots, 1.7e308 * np.linspace(-1, 1, knots["shape"][1])),
        lambda knots: _set_floats(knots, np.arange(knots["shape"][1]) * 1e-320),
    ],
)
def test_knots_must_be_strictly_increasing_with_a_finite_span(saved, tmp_path, change):
    doc = copy.deepcopy(saved)
    change(_knots(doc, 1))
    with pytest.raises(persistence.InvalidModelFile, match=r"layers\[1\]\.knots"):
        kansr.load(_write(tmp_path, doc))


def test_spline_order_beyond_what_prediction_supports_is_refused(saved, tmp_path):
    doc = copy.deepcopy(saved)
    doc["params"]["spline_order"] = 21
    doc["module"]["k"] = 21
    with pytest.raises(persistence.InvalidModelFile, match="module.k: must be at most 20"):
        kansr.load(_write(tmp_path, doc))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["equations"]["columns"].remove(_column(d, "score")), "'score'"),
        (lambda d: _column(d, "complexity")["values"].__setitem__(0, 10**30), "complexity"),
        (lambda d: d["equations"].update(n_rows=20_000), "n_rows"),
    ],
)
def test_equations_columns_are_bounded_and_complete(saved, tmp_path, change, message):
    doc = copy.deepcopy(saved)
    change(doc)
    with pytest.raises(persistence.InvalidModelFile, match=message):
        kansr.load(_write(tmp_path, doc))


def _column(doc, name):
    (col,) = [c for c in doc["equations"]["columns"] if c["name"] == name]
    return col


_X0 = ["Symbol", "x0", {"real": True}]
_ZERO_X0 = ["Mul", [["Integer", "0"], _X0]]  # sympy makes it 0 once the tree is rebuilt
_BIG = 10**998 + 7


def _collapse(node):
    return ["Add", [node, _ZERO_X0]]


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (["Pow", _collapse(["Integer", "3"]), ["Integer", str(10**8)]], "exponent"),
        (
            ["Mul", [["Rational", str(_BIG + 2 * i), str(_BIG + 2 * i + 1)] for i in range(3000)]],
            "digits of a product",
        ),
        (
            ["Pow", _collapse(["Integer", "3"]), ["Rational", str(10**998 + 1), "3"]],
            "digits of an exponent",
        ),
        (
            ["Pow", ["Pow", _collapse(["Integer", "3"]), ["Integer", "1000"]], ["Integer", "1000"]],
            "digits of a power",
        ),
        (
            [
                "Function",
                "exp",
                [
                    [
                        "Mul",
                        [
                            ["Integer", str(10**8)],
                            ["Function", "log", [_collapse(["Integer", "3"])]],
                        ],
                    ]
                ],
            ],
            "exponent",
        ),
        (
            ["Pow", _collapse(["Rational", str(_BIG), str(_BIG + 2)]), ["Rational", "1", "2"]],
            "root",
        ),
        (["Symbol", "x0", {"positive": True}], "not real"),
    ],
)
def test_formulas_sympy_would_blow_up_are_refused_quickly(saved, tmp_path, node, message):
    doc = copy.deepcopy(saved)
    _expr_column(doc)["values"][-1] = ["Add", [_X0, node]]
    path = _write(tmp_path, doc)
    with _time_limit(10), pytest.raises(persistence.InvalidModelFile, match=message):
        kansr.load(path)


def test_formulas_within_the_limits_load_evaluated_and_print(saved, tmp_path, kan_df):
    doc = copy.deepcopy(saved)
    three = _collapse(["Integer", "3"])
    _expr_column(doc)["values"][-1] = ["Add", [_X0, ["Pow", three, ["Integer", "1000"]]]]
    doc["attributes"]["selected_index_"] = len(_expr_column(doc)["values"]) - 1
    with _time_limit(10):
        loaded = kansr.load(_write(tmp_path, doc))
        expr = loaded.equations_["sympy_format"].iloc[-1]
        assert expr == sympy.Symbol("x0", real=True) + 3**1000  # evaluated once, at load
        assert loaded.sympy_expr() == sympy.Symbol("speed", real=True) + 3**1000
        assert str(3**1000) in loaded.latex() and str(3**1000) in loaded.formula_text()
        loaded.latex_table()


# ----------------------------------------------------------------------- save what was fitted
@pytest.mark.parametrize(
    "change",
    [
        {"symbolic": False},
        {"hidden_layer_sizes": (4, 2)},
        {"dtype": "float32"},
        {"spline_order": 2},
        {"base_function": "identity"},
        {"device": "meta"},
        {"hidden_layer_sizes": 7, "spline_order": 5, "dtype": "float32", "symbolic": False},
    ],
)
def test_save_after_set_params_writes_the_fitted_model(kan_df, tmp_path, change):
    fitted, X = kan_df
    want, want_network = fitted.predict(X), fitted.predict_network(X)
    est = copy.deepcopy(fitted).set_params(**change)
    path = tmp_path / "changed.json"
    est.save(path)
    loaded = kansr.load(path)
    assert np.array_equal(loaded.predict(X), want)
    assert np.array_equal(loaded.predict_network(X), want_network)
    assert loaded.hidden_layer_sizes == fitted.hidden_layer_sizes == (3,)
    assert (loaded.spline_order, loaded.dtype, loaded.device) == (3, "float64", "cpu")
    assert loaded.base_function == "silu" and loaded.symbolic
    assert loaded.sympy_expr() == fitted.sympy_expr()


def test_save_after_symbolic_true_on_a_network_only_model(plain, tmp_path):
    fitted, X = plain
    est = copy.deepcopy(fitted).set_params(symbolic=True)
    est.save(tmp_path / "plain.json")
    loaded = kansr.load(tmp_path / "plain.json")
    assert not loaded.symbolic and loaded.equations_ is None
    assert np.array_equal(loaded.predict(X), fitted.predict(X))


def test_save_refuses_what_load_would_reject_and_writes_nothing(kan_df, tmp_path):
    est = copy.deepcopy(kan_df[0]).set_params(max_iter=0)
    path = tmp_path / "invalid.json"
    with pytest.raises(ValueError, match="load would reject the file.*max_iter"):
        est.save(path)
    assert not path.exists()


# ----------------------------------------------------------------------- one function registry
def test_every_registered_function_is_saved_and_loaded_by_its_registry_name():
    x0 = sympy.Symbol("x0", real=True)
    for name, op in OPERATIONS.items():
        expr = op.sympy_cls(x0 + 1)
        tree = persistence.encode_expr(expr)
        assert tree[:2] == ["Function", name]
        assert persistence.decode_expr(json.loads(json.dumps(tree))) == expr
    with pytest.raises(ValueError, match="cannot save the operation erf"):
        persistence.encode_expr(sympy.erf(x0))
