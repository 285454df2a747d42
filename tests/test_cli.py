"""The command line interface (``kansr ...``) and the demo data set."""

import re

import numpy as np
import pandas as pd
import pytest

import kansr
from kansr.cli import main
from kansr.datasets import make_demo


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kansr {kansr.__version__}"


def test_demo_runs_and_prints_r2(capsys):
    # The hidden --max-iter keeps this to a few seconds; the quality is not the point here.
    assert main(["demo", "--n-samples", "200", "--max-iter", "2"]) == 0
    out = capsys.readouterr().out
    assert "exp(sin(pi*x) + y**2)" in out
    assert "width [2, 5, 1]" in out
    assert "100 training and 100 test samples" in out
    match = re.search(r"^test R\^2:\s+(\S+)", out, flags=re.MULTILINE)
    assert match is not None, out
    assert re.search(r"^formula:\s+f = \S", out, flags=re.MULTILINE), out
    assert np.isfinite(float(match.group(1)))


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        [],
        ["demo", "--n-samples", "two"],
        ["demo", "--n-samples", "1"],
        ["demo", "--unknown-option"],
    ],
)
def test_usage_errors_exit_2_without_traceback(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit is acceptable too
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "error" in err
    assert "Traceback" not in err


def test_make_demo_shapes_and_names():
    X, y = make_demo(50, random_state=3)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (50, 2) and y.shape == (50,)
    assert list(X.columns) == ["x", "y"]
    assert y.name == "f"
    assert X.to_numpy().min() >= -1.0 and X.to_numpy().max() < 1.0
    expected = np.exp(np.sin(np.pi * X["x"]) + X["y"] ** 2)
    np.testing.assert_allclose(y.to_numpy(), expected.to_numpy())


def test_make_demo_is_deterministic_and_leaves_global_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X1, y1 = make_demo(20, random_state=7)
    X2, y2 = make_demo(20, random_state=7)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    X3, _ = make_demo(20, random_state=8)
    assert not np.allclose(X1.to_numpy(), X3.to_numpy())


def test_make_demo_rejects_empty():
    with pytest.raises(ValueError, match="n_samples"):
        make_demo(0)
