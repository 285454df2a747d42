"""Levenberg-Marquardt (kansr.symbolic.least_squares) and the joint refit of a network of
symbolic edges with the exact Jacobian (kansr.symbolic.extract._refit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares

from kansr.symbolic import extract
from kansr.symbolic.least_squares import levenberg_marquardt
from kansr.symbolic.library import DEFAULT_FUNCTIONS
from kansr.symbolic.network import SymbolicEdge, SymbolicNetwork
from kansr.utils.deadline import Deadline


def _decay_problem():
    x = np.linspace(0.0, 4.0, 60)
    y = 2.0 * np.exp(-0.7 * x) + 0.3 + 0.01 * np.sin(7 * x)  # not exactly representable

    def residuals(theta):
        a, k, c = theta
        return a * np.exp(-k * x) + c - y

    def jacobian(theta):
        a, k, c = theta
        e = np.exp(-k * x)
        return residuals(theta), np.column_stack([e, -a * x * e, np.ones_like(x)])

    return residuals, jacobian


def test_levenberg_marquardt_reaches_scipys_optimum_from_a_poor_start():
    residuals, jacobian = _decay_problem()
    start = np.array([0.5, 3.0, -1.0])
    theta, value = levenberg_marquardt(residuals, jacobian, start, max_iter=200, rtol=1e-14)
    reference = least_squares(residuals, start, jac=lambda t: jacobian(t)[1], xtol=1e-15)
    np.testing.assert_allclose(theta, reference.x, rtol=1e-6)
    assert value == pytest.approx(2 * reference.cost, rel=1e-8)
    assert value == pytest.approx(float(residuals(theta) @ residuals(theta)))


def test_levenberg_marquardt_keeps_a_start_that_is_not_finite():
    residuals, jacobian = _decay_problem()
    start = np.array([np.nan, 1.0, 0.0])
    theta, value = levenberg_marquardt(residuals, jacobian, start)
    assert value == math.inf
    np.testing.assert_array_equal(theta, start)


def test_levenberg_marquardt_stops_when_expired_and_never_worsens():
    residuals, jacobian = _decay_problem()
    start = np.array([0.5, 3.0, -1.0])
    first = float(residuals(start) @ residuals(start))
    theta, value = levenberg_marquardt(residuals, jacobian, start, expired=lambda: True)
    np.testing.assert_array_equal(theta, start)
    assert value == first
    _, one = levenberg_marquardt(residuals, jacobian, start, max_iter=1)
    assert one < first


def _network(params_first, params_second, biases=None) -> SymbolicNetwork:
    """2 inputs -> 2 hidden -> 1 output: sin, exp, x^2 and 1/x edges, then x and tanh."""
    fn = DEFAULT_FUNCTIONS
    first = [
        SymbolicEdge(0, 0, fn["sin"], params_first[0]),
        SymbolicEdge(1, 0, fn["exp"], params_first[1]),
        SymbolicEdge(0, 1, fn["x^2"], params_first[2]),
        SymbolicEdge(1, 1, fn["sqrt"], params_first[3]),
    ]
    second = [
        SymbolicEdge(0, 0, fn["x"], params_second[0]),
        SymbolicEdge(1, 0, fn["tanh"], params_second[1]),
    ]
    biases = biases or [np.array([0.1, -0.2]), np.array([0.3])]
    return SymbolicNetwork([first, second], biases, [2, 2, 1])


TRUE_FIRST = [[1.2, 0.1, 0.8, 0.0], [0.5, -0.2, 1.1, 0.3], [0.9, 0.2, -0.4, 0.1], [1, 2, 0.7, 0]]
TRUE_SECOND = [[1.0, 0.0, 1.5, 0.2], [0.8, -0.1, 2.0, 0.0]]


def test_row_jacobian_is_the_jacobian_of_the_output_by_the_vector():
    net = _network(TRUE_FIRST, TRUE_SECOND)
    x = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (40, 2)))
    theta = net.vector()
    assert theta.shape == (4 * 6 + 3,)

    def output(vector):
        net.load_vector(vector)
        with torch.no_grad():
            return net(x)[:, 0].numpy()

    h = 1e-6
    columns = []
    for k in range(theta.size):  # central differences, one constant at a time
        step = np.zeros_like(theta)
        step[k] = h
        columns.append((output(theta + step) - output(theta - step)) / (2 * h))
    net.load_vector(theta)
    values, jac = net.row_jacobian(x)
    np.testing.assert_allclose(values.numpy(), output(theta), rtol=1e-15)
    np.testing.assert_allclose(jac.numpy(), np.column_stack(columns), rtol=1e-6, atol=1e-8)
    assert (np.abs(jac.numpy()).max(0) > 0).all()  # every constant moves the output


def test_vector_and_load_vector_round_trip():
    net = _network(TRUE_FIRST, TRUE_SECOND)
    theta = net.vector() + 0.25
    net.load_vector(theta)
    np.testing.assert_array_equal(net.vector(), theta)
    assert net.export()[0][0][1].params == pytest.approx(list(np.array(TRUE_FIRST[1]) + 0.25))


def test_refit_recovers_a_perturbed_network_in_few_steps():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.uniform(-1, 1, (300, 2)))
    with torch.no_grad():
        t = _network(TRUE_FIRST, TRUE_SECOND)(x)
    perturbed = (np.array(TRUE_FIRST) * (1 + 0.05 * rng.standard_normal((4, 4)))).tolist()
    net = _network(perturbed, TRUE_SECOND)
    with torch.no_grad():
        before = float(torch.mean((net(x) - t) ** 2))
    loss = extract._refit(net, x, t, 30, Deadline())
    with torch.no_grad():
        assert loss == pytest.approx(float(torch.mean((net(x) - t) ** 2)))
    # 30 LBFGS steps stall orders of magnitude higher on this network
    assert loss < 1e-20 < 1e-6 * before
    lbfgs = _network(perturbed, TRUE_SECOND)
    assert extract._lbfgs_refit(lbfgs, x, t, 30, Deadline()) > 1e3 * loss


def test_refit_weights_the_rows():
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.uniform(-1, 1, (200, 2)))
    with torch.no_grad():
        t = _network(TRUE_FIRST, TRUE_SECOND)(x)
    t[:100] += 0.5  # half the rows disagree; weighted out, they do not count
    weight = torch.ones(200, 1, dtype=torch.float64)
    weight[:100] = 0.0
    net = _network(TRUE_FIRST, [[1.0, 0.0, 1.4, 0.2], [0.8, -0.1, 2.1, 0.0]])
    loss = extract._refit(net, x, t, 50, Deadline(), weight)
    assert loss < 1e-20
    with torch.no_grad():
        off = (net(x) - t)[:100, 0].numpy()
    np.testing.assert_allclose(off, -0.5, atol=1e-8)  # the rows weighted out are not fitted


def test_refit_falls_back_to_lbfgs_where_the_jacobian_is_not_finite(monkeypatch):
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.uniform(-1, 1, (100, 2)))
    with torch.no_grad():
        t = _network(TRUE_FIRST, TRUE_SECOND)(x)
    net = _network(TRUE_FIRST, [[1.0, 0.0, 1.4, 0.2], [0.8, -0.1, 2.1, 0.0]])
    calls, original = [], SymbolicNetwork.row_jacobian

    def not_finite(self, z):
        values, jac = original(self, z)
        calls.append(1)
        return values, jac * np.inf

    monkeypatch.setattr(SymbolicNetwork, "row_jacobian", not_finite)
    with torch.no_grad():
        before = float(torch.mean((net(x) - t) ** 2))
    loss = extract._refit(net, x, t, 50, Deadline())
    assert calls  # Levenberg-Marquardt tried, then LBFGS improved the start
    assert loss < before


def _log_network(b: float, c: float = 1.0) -> SymbolicNetwork:
    """One input, one edge ``c*log(x + b)``."""
    edge = SymbolicEdge(0, 0, DEFAULT_FUNCTIONS["log"], [1.0, b, c, 0.0])
    return SymbolicNetwork([[edge]], [np.array([0.0])], [1, 1])


def test_refit_keeps_every_argument_in_its_domain():
    # the target is the safe form of log(x - 0.3): constant (log(1e-6)) below x = 0.3. The
    # guarded network reaches it by moving rows out of log's domain, where the exact formula
    # is not finite; the refit from a start inside the domain must stay inside it
    x = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)[:, None]
    with torch.no_grad():
        t = _log_network(-0.3)(x)
    guarded = _log_network(0.05, 0.1)
    extract._refit_constants(guarded, x, t, 50, Deadline())
    guarded.guarded = False
    with torch.no_grad():
        assert not torch.isfinite(guarded(x)).all()  # what the refit did before
    net = _log_network(0.05, 0.1)
    with torch.no_grad():
        before = float(torch.mean((net(x) - t) ** 2))
    loss = extract._refit(net, x, t, 50, Deadline())
    assert loss < before
    assert net.guarded  # the mode is restored
    a, b, c, d = net.export()[0][0][0].params
    assert (a * x[:, 0].numpy() + b > 0).all()
    assert math.isfinite(loss)
    net.guarded = False
    with torch.no_grad():
        assert torch.isfinite(net(x)).all()


def test_refit_of_a_start_outside_the_domain_uses_the_safe_forms():
    x = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)[:, None]
    t = torch.log(x + 0.2)
    net = _log_network(-0.1)  # rows below x = 0.1 outside the domain at the start
    with torch.no_grad():
        before = float(torch.mean((net(x) - t) ** 2))
    loss = extract._refit(net, x, t, 50, Deadline())
    assert loss < 1e-3 * before  # the safe forms still let the refit move


def test_refit_keeps_the_domain_a_margin_beyond_the_data():
    # log(x + 1.0001) on x in [-1, 1]: the best fit puts log's zero just below the smallest
    # row, and a new row from the same range (x = -1.0) falls outside the formula's domain
    x = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)[:, None]
    t = torch.log(x + 1.0001)
    hugging = _log_network(1.3)
    extract._refit_constants(hugging, x, t, 100, Deadline())  # no margin
    assert hugging.export()[0][0][0].params[1] < 1.0 + 1e-3
    net = _log_network(1.3)
    extract._refit(net, x, t, 100, Deadline())
    a, b, c, d = net.export()[0][0][0].params
    beyond = -1.0 - extract._MARGIN
    assert a * beyond + b > 0  # finite a margin beyond the data
    with torch.no_grad():
        before = float(torch.mean((_log_network(1.3)(x) - t) ** 2))
        assert float(torch.mean((net(x) - t) ** 2)) < before  # and still refit
