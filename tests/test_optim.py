"""Optimisers: momentum, Nesterov and their state."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.errors import CheckpointError
from digitnet.nn.network import Params
from digitnet.nn.optim import Momentum, Nesterov, make_optimizer


def quadratic_params(values) -> Params:
    """θ as a Params whose W1 holds ``values``; J(θ) = ½ Σ a_i θ_i² has gradient a ⊙ θ."""
    zeros = np.zeros(1)
    return Params(W1=np.array(values, dtype=np.float64), b1=zeros, W2=zeros.copy(), b2=zeros.copy())


CURVATURE = np.array([1.0, 10.0, 0.1])


def grad(p: Params) -> Params:
    z = np.zeros(1)
    return Params(W1=CURVATURE * p.W1, b1=z, W2=z.copy(), b2=z.copy())


def test_zero_momentum_is_plain_sgd():
    p = quadratic_params([1.0, 1.0, 1.0])
    opt = Momentum(p, momentum=0.0)
    opt.step(p, grad(p), learning_rate=0.05)
    np.testing.assert_allclose(p.W1, 1.0 - 0.05 * CURVATURE)


def test_momentum_matches_the_two_line_recurrence():
    p = quadratic_params([1.0, -2.0, 3.0])
    opt = Momentum(p, momentum=0.9)
    theta, v = p.W1.copy(), np.zeros(3)
    for _ in range(5):
        v = 0.9 * v - 0.05 * CURVATURE * theta
        theta = theta + v
        opt.step(p, grad(p), 0.05)
    np.testing.assert_allclose(p.W1, theta)


def test_nesterov_equals_sutskevers_lookahead_form():
    # Sutskever et al. 2013, eq. 3-4: v ← μ v − η ∇J(θ + μ v);  θ ← θ + v.
    # Our Nesterov stores φ = θ + μ v, so after each step p.W1 must equal θ + μ v.
    mu, eta = 0.9, 0.05
    theta, v = np.array([1.0, -2.0, 3.0]), np.zeros(3)
    p = quadratic_params(theta)
    opt = Nesterov(p, momentum=mu)
    for _ in range(6):
        v = mu * v - eta * CURVATURE * (theta + mu * v)
        theta = theta + v
        opt.step(p, grad(p), eta)
        np.testing.assert_allclose(p.W1, theta + mu * v)


def test_state_round_trips_and_refuses_a_wrong_shape():
    p = quadratic_params([1.0, 2.0, 3.0])
    opt = make_optimizer("nesterov", p, 0.9)
    opt.step(p, grad(p), 0.1)
    other = make_optimizer("nesterov", p, 0.9)
    other.load_state_arrays({k: v.copy() for k, v in opt.state_arrays().items()})
    for k, v in opt.state_arrays().items():
        np.testing.assert_array_equal(other.state_arrays()[k], v)
    with pytest.raises(CheckpointError, match="velocity_W1"):
        other.load_state_arrays({"velocity_W1": np.zeros(5)})
