"""Tests for kansr.symbolic.library."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

from kansr.symbolic.library import (
    DEFAULT_FUNCTIONS,
    SymbolicFunction,
    SymbolicLibrary,
    make_library,
)


def evaluate_numpy(lib: SymbolicLibrary, u) -> np.ndarray:
    """Safe numpy forms of every function of ``lib`` on the same arguments: ``(n_functions,
    ...)``, ``out[k] = lib[k].safe_numpy(u)`` (a helper of these tests only)."""
    u = np.asarray(u)
    if not np.issubdtype(u.dtype, np.floating):
        u = u.astype(np.float64)
    return np.stack([f.safe_numpy(u) for f in lib], axis=0)


def evaluate_torch(lib: SymbolicLibrary, u: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`evaluate_numpy`."""
    return torch.stack([f.safe_torch(u) for f in lib], dim=0)


REQUIRED = [
    "x",
    "x^2",
    "x^3",
    "x^4",
    "1/x",
    "1/x^2",
    "sqrt",
    "1/sqrt",
    "exp",
    "log",
    "sin",
    "cos",
    "tanh",
    "arctan",
    "abs",
    "gaussian",
    "0",
]

# singular points, negatives and huge values (+-inf too)
HARD_GRID = np.array(
    [
        -np.inf,
        -1e30,
        -1e6,
        -1e3,
        -10.0,
        -1.0,
        -1e-3,
        -1e-7,
        -1e-9,
        -0.0,
        0.0,
        1e-9,
        1e-7,
        1e-6,
        1e-3,
        0.5,
        1.0,
        10.0,
        88.0,
        100.0,
        710.0,
        1e3,
        1e6,
        1e30,
        np.inf,
    ]
)


def _domain_points(f: SymbolicFunction) -> np.ndarray:
    u = np.concatenate([np.linspace(-5.0, 5.0, 101), [0.0, -1e-3, 1e-3, 3.7, -2.2]])
    return u[f.in_domain(u)]


def test_default_library_contents_and_order():
    assert list(DEFAULT_FUNCTIONS) == REQUIRED
    lib = make_library()
    assert lib.names == tuple(REQUIRED)
    assert len(lib) == len(REQUIRED)
    assert [f.name for f in lib] == REQUIRED
    assert lib["sin"] is DEFAULT_FUNCTIONS["sin"]
    assert lib[0].name == "x"
    assert "exp" in lib and "tan" not in lib
    assert lib.index("exp") == REQUIRED.index("exp")
    comp = lib.complexities
    assert comp.shape == (len(REQUIRED),) and comp.dtype == np.int64
    assert lib["x"].complexity == 1 and lib["x^2"].complexity == 2
    assert lib["sin"].complexity == 3 and lib["0"].complexity == 0
    assert all(f.complexity >= 1 for f in lib if f.name != "0")


def test_default_mapping_is_read_only():
    with pytest.raises(TypeError):
        DEFAULT_FUNCTIONS["x"] = DEFAULT_FUNCTIONS["sin"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        DEFAULT_FUNCTIONS["x"].complexity = 5  # type: ignore[misc]


@pytest.mark.parametrize("name", REQUIRED)
def test_numpy_torch_sympy_agree_in_domain(name):
    f = DEFAULT_FUNCTIONS[name]
    u = _domain_points(f)
    assert u.size > 10
    sym = sympy.Symbol("u")
    expr = f.sympy_fn(sym)
    assert isinstance(expr, sympy.Basic)
    lam = sympy.lambdify(sym, expr, modules="numpy")
    ref = np.broadcast_to(np.asarray(lam(u), dtype=np.float64), u.shape)
    out_np = np.asarray(f.numpy_fn(u), dtype=np.float64)
    out_t = f.torch_fn(torch.tensor(u, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out_np, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_t, ref, rtol=1e-12, atol=1e-12)
    # inside the domain and away from guarded regions the safe forms are exact
    ok = (np.abs(u) > 1e-3) & (u < 50)
    np.testing.assert_allclose(f.safe_numpy(u[ok]), ref[ok], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        f.safe_torch(torch.tensor(u[ok])).numpy(), ref[ok], rtol=1e-12, atol=1e-12
    )


def test_domains():
    lib = make_library()
    u = np.array([-1.0, 0.0, 1e-9, 2.0, np.nan, np.inf])
    assert lib["log"].in_domain(u).tolist() == [False, False, True, True, False, False]
    assert lib["1/sqrt"].in_domain(u).tolist() == [False, False, True, True, False, False]
    assert lib["sqrt"].in_domain(u).tolist() == [False, True, True, True, False, False]
    assert lib["1/x"].in_domain(u).tolist() == [True, False, True, True, False, False]
    assert lib["1/x^2"].in_domain(u).tolist() == [True, False, True, True, False, False]
    assert lib["sin"].in_domain(u).tolist() == [True, True, True, True, False, False]
    assert lib["sin"].in_domain(3.0).shape == ()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_safe_forms_finite_everywhere(dtype):
    lib = make_library()
    u = HARD_GRID.astype(dtype)
    out = evaluate_numpy(lib, u)
    assert out.shape == (len(lib), u.size)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    out_t = evaluate_torch(lib, torch.tensor(u, dtype=tdtype))
    assert out_t.shape == (len(lib), u.size) and out_t.dtype == tdtype
    assert torch.isfinite(out_t).all()
    np.testing.assert_allclose(out_t.numpy(), out, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_safe_guards():
    lib = make_library()
    eps = lib["1/x"].eps
    np.testing.assert_allclose(
        lib["1/x"].safe_numpy(np.array([0.0, -1e-12, 1e-12])), [1 / eps, -1 / eps, 1 / eps]
    )
    assert lib["sqrt"].safe_numpy(np.array([-4.0]))[0] == 0.0
    np.testing.assert_allclose(lib["log"].safe_numpy(np.array([-3.0, 0.0])), np.log(eps))
    np.testing.assert_allclose(lib["1/sqrt"].safe_numpy(np.array([0.0])), 1 / np.sqrt(eps))
    # integer input is promoted to float
    assert lib["x^2"].safe_numpy(np.array([1, 2])).dtype == np.float64
    assert lib["x^2"].safe_torch(torch.tensor([1, 2])).is_floating_point()


def test_evaluate_numpy_batch_shape():
    lib = make_library(["x", "sin", "0"])
    u = np.random.default_rng(0).normal(size=(4, 5, 6))
    out = evaluate_numpy(lib, u)
    assert out.shape == (3, 4, 5, 6)
    np.testing.assert_array_equal(out[0], u)
    np.testing.assert_array_equal(out[1], np.sin(u))
    np.testing.assert_array_equal(out[2], np.zeros_like(u))
    out_t = evaluate_torch(lib, torch.tensor(u))
    assert out_t.shape == (3, 4, 5, 6)


def test_safe_torch_is_differentiable():
    lib = make_library(["sin", "1/x", "log"])
    a = torch.tensor(2.0, requires_grad=True)
    x = torch.linspace(0.1, 1.0, 7, dtype=torch.float32)
    evaluate_torch(lib, a * x).sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad)


def test_subset_by_name_keeps_given_order():
    lib = make_library(["sin", "x", "exp"])
    assert lib.names == ("sin", "x", "exp")
    assert make_library().subset(["exp", "x"]).names == ("exp", "x")
    assert make_library(lib) is lib


def test_custom_function():
    cube_root = SymbolicFunction(
        name="cbrt",
        torch_fn=lambda u: torch.sign(u) * torch.abs(u) ** (1 / 3),
        numpy_fn=np.cbrt,
        sympy_fn=lambda u: sympy.sign(u) * sympy.Abs(u) ** sympy.Rational(1, 3),
        complexity=3,
    )
    lib = make_library(["x", cube_root, "sin"])
    assert lib.names == ("x", "cbrt", "sin")
    assert lib["cbrt"] is cube_root
    np.testing.assert_allclose(evaluate_numpy(lib, np.array([8.0, -27.0]))[1], [2.0, -3.0])
    # a user function may reuse a default name when the default is not also included
    my_sin = SymbolicFunction("sin", torch.sin, np.sin, sympy.sin, 5)
    assert make_library(["x", my_sin])["sin"].complexity == 5


def test_unknown_names_error_lists_them():
    with pytest.raises(ValueError, match=r"unknown.*'tan'.*'sinh'"):
        make_library(["x", "tan", "sinh"])
    with pytest.raises(ValueError, match="unknown"):
        make_library().subset(["nope"])
    with pytest.raises(KeyError, match="nope"):
        make_library()["nope"]


def test_duplicate_names_error():
    with pytest.raises(ValueError, match=r"duplicate.*'sin'"):
        make_library(["sin", "x", "sin"])
    my_sin = SymbolicFunction("sin", torch.sin, np.sin, sympy.sin, 5)
    with pytest.raises(ValueError, match=r"duplicate.*'sin'"):
        make_library(["sin", my_sin])


def test_bad_arguments():
    with pytest.raises(TypeError):
        make_library("sin")  # a bare string, not a list
    with pytest.raises(TypeError):
        make_library([1.5])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        make_library([])
    with pytest.raises(TypeError):
        SymbolicLibrary(["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        SymbolicFunction("", torch.sin, np.sin, sympy.sin, 1)
    with pytest.raises(ValueError):
        SymbolicFunction("f", torch.sin, np.sin, sympy.sin, -1)
    with pytest.raises(ValueError):
        SymbolicFunction("f", torch.sin, np.sin, sympy.sin, 1, domain=(1.0, 1.0))
