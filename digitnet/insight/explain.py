"""Trace one example through the network in the derivation's notation.

For a single input x (one row, m = 1) this computes every quantity of
docs/backprop.md in order — a^(1), z^(2), a^(2), z^(3), a^(3), J(θ) for a label,
δ^(3), δ^(2) and the gradient blocks ∂J/∂θ^(1), ∂J/∂θ^(2) — and keeps each one's
shape and a few of its values, so a learner can follow (B1)–(B8) on a real digit.

The forward pass and the gradients come from ``network`` itself; only z^(2) and
δ^(2), which ``network`` does not keep, are recomputed here from the same
equations (B1) and (B7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from digitnet.nn import network
from digitnet.nn.activations import ACTIVATIONS
from digitnet.nn.network import Params

SHOWN = 5  # values shown per vector or matrix


@dataclass
class Step:
    """One quantity of the derivation for this example."""

    symbol: str  # "z^(2)"
    formula: str  # "θ^(1) a^(1)"
    equation: str  # "(B1)"
    shape: tuple[int, ...]
    values: list[float]  # a few values (see ``which``)
    which: str  # which values: "first 5", "all", "largest |·|", …
    norm: float  # ‖·‖ (Frobenius for matrices)
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Trace:
    steps: list[Step]
    probabilities: list[float]  # h_θ(x), rows renormalised for a sigmoid output
    predicted: int
    label: int
    label_given: bool  # False: the label is the prediction (no --label)
    cost: float  # J(θ) for this example and label
    data_cost: float
    l2_cost: float
    n: int  # n in (λ/2n) Σ θ²


def _first(a: NDArray[np.floating], k: int = SHOWN) -> list[float]:
    return [float(v) for v in np.ravel(a)[:k]]


def _step(
    symbol: str, formula: str, equation: str, a: NDArray[np.floating], which: str = "first"
) -> Step:
    if which == "all":
        values, label = _first(a, a.size), "all"
    elif which == "largest":
        flat = np.ravel(a)
        top = np.argsort(-np.abs(flat), kind="stable")[:SHOWN]
        values, label = [float(flat[i]) for i in top], f"{SHOWN} largest |·|"
    else:
        values, label = _first(a), f"first {min(SHOWN, a.size)}"
    return Step(
        symbol=symbol,
        formula=formula,
        equation=equation,
        shape=tuple(int(d) for d in a.shape),
        values=values,
        which=label,
        norm=float(np.linalg.norm(a)),
    )


def trace(
    params: Params,
    x: NDArray[np.floating],
    activation: str,
    output: str,
    l2: float,
    n_train: int,
    label: int | None = None,
) -> Trace:
    """Every quantity of the derivation for one input ``x`` (784,) in float64."""
    theta = params.astype(np.float64)
    A1 = np.asarray(x, dtype=np.float64).reshape(1, -1)  # m = 1: one row
    cache = network.forward(theta, A1, activation, output)
    predicted = int(np.argmax(cache.Z3[0]))
    y_label = predicted if label is None else int(label)
    y = np.array([y_label])

    # (B1) z^(2) is overwritten in place by g inside forward; recompute it for display.
    Z2 = A1 @ theta.W1.T + theta.b1
    delta3 = network.output_error(cache.A3, y)  # (B6)
    _, g_prime_times = ACTIVATIONS[activation]
    delta2 = g_prime_times(cache.A2, delta3 @ theta.W2)  # (B7)
    grads = network.backprop(theta, cache, y, activation, l2, n_train)
    data = network.data_cost(cache.Z3, y, output)
    penalty = network.l2_penalty(theta, l2, n_train)

    ink = A1[0][A1[0] > 0]
    a1 = _step("a^(1)", "x, pixels / 255", "", A1[0])
    a1.values, a1.which = [float(v) for v in ink[:SHOWN]], f"first {min(SHOWN, ink.size)} non-zero"
    a1.extra = {"non-zero": float(ink.size), "max": float(A1.max())}
    steps = [
        a1,
        _step("z^(2)", "θ^(1) a^(1) (+ bias)", "(B1)", Z2[0]),
        _step("a^(2)", f"g(z^(2)), g = {activation}", "(B2)", cache.A2[0]),
        _step("z^(3)", "θ^(2) a^(2) (+ bias)", "(B3)", cache.Z3[0], "all"),
        _step("a^(3)", f"h_θ(x) = {output}(z^(3))", "(B4)", cache.A3[0], "all"),
        _step("δ^(3)", "a^(3) − y", "(B6)", delta3[0], "all"),
        _step("δ^(2)", "(θ^(2))ᵀ δ^(3) ⊙ g′(z^(2))", "(B7)", delta2[0]),
        _step("∂J/∂W2", "δ^(3) (a^(2))ᵀ + (λ/n) W2", "(B8)", grads.W2, "largest"),
        _step("∂J/∂b2", "δ^(3)", "(B8)", grads.b2, "all"),
        _step("∂J/∂W1", "δ^(2) (a^(1))ᵀ + (λ/n) W1", "(B8)", grads.W1, "largest"),
        _step("∂J/∂b1", "δ^(2)", "(B8)", grads.b1),
    ]
    probabilities = cache.A3[0] / cache.A3[0].sum()  # softmax rows already sum to 1
    return Trace(
        steps=steps,
        probabilities=[float(p) for p in probabilities],
        predicted=predicted,
        label=y_label,
        label_given=label is not None,
        cost=data + penalty,
        data_cost=data,
        l2_cost=penalty,
        n=n_train,
    )


def n_train_of(metrics: dict[str, object], validation_size: int) -> int:
    """The training set size n for the L2 term: recorded in the checkpoint, else MNIST's."""
    n = metrics.get("n_train")
    if isinstance(n, int) and n > 0:
        return n
    return max(1, 60000 - validation_size)
