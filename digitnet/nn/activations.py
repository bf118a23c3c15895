"""Activation functions g, their derivatives g′, and the output layer's softmax.

Each hidden activation is a pair of in-place functions, as in scikit-learn's
``ACTIVATIONS``/``DERIVATIVES`` registries:

* ``g(Z, out)`` writes a = g(z) into ``out`` (which may be ``Z`` itself);
* ``g_prime_times(A, delta, scratch=None)`` multiplies ``delta`` in place by g′(z),
  computed from the *output* a = g(z). That is possible for all three choices
  (σ′ = σ(1 − σ), tanh′ = 1 − tanh², relu′ = [a > 0]) and lets backprop keep
  only a^(2), not z^(2). g′ is built in ``scratch`` (shaped like A) when given,
  so the training loop allocates nothing.

Everything is numerically stable in float32: no overflow warnings for any input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeAlias

import numpy as np
from numpy.typing import NDArray

Array: TypeAlias = NDArray[np.floating]


#: −z is clipped here before e^(−z): e^80 ≈ 5.5e34 is finite in float32 (e^89 is not), and
#: σ(−80) ≈ 1.8e−35 differs from σ(z) for any z < −80 by less than that.
SIGMOID_CLIP = 80.0


def sigmoid(Z: Array, out: Array | None = None) -> Array:
    """σ(z) = 1 / (1 + e^(−z)), with −z clipped at ``SIGMOID_CLIP`` so e^(−z) never overflows.

    Four cheap passes (negate, exp, add, divide) and a maximum: numpy's float32 exp is
    vectorised, its tanh is several times slower per value, so this is quicker than the
    equally stable (1 + tanh(z/2)) / 2 (issue 12: the hidden layer's g on 128 × 800 values
    every step). The clip is a pass of its own, and numpy's minimum against a scalar is
    several times slower than its maximum reduction, so it runs only when some −z needs it
    (a trained network's z^(2) stay far inside ±80); clipped or not, the values are the same.
    For large z, e^(−z) underflows to 0 and σ = 1, exactly as it should round.
    """
    out = np.negative(Z, out=out)
    if out.size and out.max() > SIGMOID_CLIP:
        np.minimum(out, SIGMOID_CLIP, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)


def sigmoid_prime_times(A: Array, delta: Array, scratch: Array | None = None) -> Array:
    """delta ⊙= σ′(z) = a (1 − a)."""
    one_minus_a = np.subtract(1.0, A, out=scratch)
    delta *= A
    delta *= one_minus_a
    return delta


def tanh(Z: Array, out: Array | None = None) -> Array:
    """tanh(z); numpy's tanh saturates cleanly at ±1."""
    return np.tanh(Z, out=out)


def tanh_prime_times(A: Array, delta: Array, scratch: Array | None = None) -> Array:
    """delta ⊙= tanh′(z) = 1 − a²."""
    derivative = np.multiply(A, A, out=scratch)
    np.subtract(1.0, derivative, out=derivative)
    delta *= derivative
    return delta


def relu(Z: Array, out: Array | None = None) -> Array:
    """max(0, z)."""
    return np.maximum(Z, 0.0, out=out)


def relu_prime_times(A: Array, delta: Array, scratch: Array | None = None) -> Array:
    """delta ⊙= relu′(z) = [z > 0], read off a = max(0, z) (a > 0 exactly when z > 0)."""
    if scratch is None:
        delta *= A > 0
    else:
        delta *= np.greater(A, 0.0, out=scratch)  # 1.0 where a > 0, else 0.0
    return delta


Activation: TypeAlias = Callable[..., Array]


class Derivative(Protocol):
    """g′ applied in place: ``delta ⊙= g′(z)`` from a = g(z), optionally built in ``scratch``."""

    def __call__(self, A: Array, delta: Array, scratch: Array | None = None) -> Array: ...


#: name -> (g, g′ applied in place to an error term)
ACTIVATIONS: dict[str, tuple[Activation, Derivative]] = {
    "sigmoid": (sigmoid, sigmoid_prime_times),
    "tanh": (tanh, tanh_prime_times),
    "relu": (relu, relu_prime_times),
}


def softmax(Z: Array, out: Array | None = None, log_normaliser: Array | None = None) -> Array:
    """Row-wise softmax: a_k = e^(z_k) / Σ_j e^(z_j).

    Subtract each row's maximum first: softmax is shift-invariant, and after the
    shift every exponent is ≤ 0, so e^x cannot overflow. ``log_normaliser`` (m,), when
    given, receives log Σ_j e^(z_j) = max + log Σ_j e^(z_j − max) from the sums already
    made, so the cross-entropy needs no second pass (network.data_cost).
    """
    # The row maximum read at each row's argmax, and the row sums as a product with a
    # column of ones: for rows of 10 values numpy's max and sum along axis 1 cost several
    # times more (benchmarks/speed.py, issue 4).
    row_max = Z[np.arange(Z.shape[0]), Z.argmax(axis=1)]  # (m,)
    out = np.subtract(Z, row_max[:, np.newaxis], out=out)
    np.exp(out, out=out)
    sums = np.matmul(out, np.ones(Z.shape[1], dtype=out.dtype))  # (m,) Σ_j e^(z_j − max)
    out /= sums[:, np.newaxis]
    if log_normaliser is not None:
        np.log(sums, out=log_normaliser)
        log_normaliser += row_max
    return out


def log_softmax(Z: Array) -> Array:
    """log softmax(z) = z − max − log Σ e^(z − max): cross-entropy from this, never log(softmax)."""
    shifted: Array = Z - Z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softplus(Z: Array) -> Array:
    """log(1 + e^z) without overflow (numpy's logaddexp is the stable form)."""
    return np.logaddexp(0.0, Z)
