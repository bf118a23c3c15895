"""Numerical check of the hand-written gradients: does backprop compute ∂J/∂θ?

For each parameter block (θ^(1) weights W1, its bias b1, θ^(2) weights W2, its
bias b2) the analytic gradient from ``network.backprop`` — equations (B6)–(B8)
of docs/backprop.md — is compared with centred finite differences of the cost
J(θ) of ``network.cost`` (B5):

    ∂J/∂θ_j ≈ (J(θ + ε e_j) − J(θ − ε e_j)) / 2ε

whose error is O(ε²) (Ng's gradient checking; CS231n "Gradient checks"). Every
evaluation runs in float64, so with ε = 1e-5 the truncation error (~ε²) and the
rounding error (~1e-16/ε) both stay near 1e-10, far below the 1e-7 threshold: a
real mistake in the derivation shows up as an error of order one.

The figure per block is the norm-based relative error
‖g_analytic − g_numeric‖ / (‖g_analytic‖ + ‖g_numeric‖), which is scale-free and
does not blow up on the many exactly-zero entries of W1 (pixels that are 0 in
the whole batch). A trained 784-300-10 network has 238 510 parameters and each
one costs two forward passes, so large blocks are checked on a random sample of
entries; a small network (the default) is checked entry by entry.

``network.backprop`` and ``network.cost`` are looked up at call time, so a test
can replace either and see the check fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from digitnet.nn import network
from digitnet.nn.network import Params
from digitnet.vocabulary import N_CLASSES, N_INPUTS

Array = NDArray[np.float64]

EPSILON = 1e-5  # centred-difference step; see the module docstring for why in float64
THRESHOLD = 1e-7  # largest relative error accepted per block
SMALL_HIDDEN = 10  # H of the small network checked entry by entry
BATCH_SIZE = 20  # m, examples in the mini-batch
MAX_ENTRIES = 2000  # per block; bigger blocks are sampled

#: the parameter blocks in θ, in the derivation's words
GROUPS: dict[str, str] = {
    "W1": "θ^(1) weights",
    "b1": "θ^(1) bias",
    "W2": "θ^(2) weights",
    "b2": "θ^(2) bias",
}


@dataclass
class GroupCheck:
    """How one parameter block's analytic gradient compares with the numerical one."""

    name: str  # "W1", "b1", "W2", "b2"
    description: str  # "θ^(1) weights", …
    shape: tuple[int, ...]
    checked: int  # entries compared (all of them, or a random sample)
    relative_error: float
    max_abs_difference: float

    @property
    def total(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class GradcheckResult:
    groups: list[GroupCheck]
    activation: str
    output: str
    l2: float
    m: int  # examples in the batch
    n: int  # the n in the L2 term (λ/2n) Σ θ²
    hidden_size: int
    threshold: float = THRESHOLD
    notes: list[str] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return max(g.relative_error for g in self.groups)

    @property
    def passed(self) -> bool:
        # "<=" is False for NaN, so a NaN error fails too.
        return all(g.relative_error <= self.threshold for g in self.groups)


def relative_error(analytic: Array, numeric: Array) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖); 0 when both are exactly zero."""
    denominator = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric)) / denominator


def numerical_gradient(
    f: Callable[[], float], theta: Array, indices: NDArray[np.intp], epsilon: float = EPSILON
) -> Array:
    """Centred differences of ``f`` w.r.t. the flat ``indices`` of ``theta``.

    ``theta`` is perturbed in place (and restored exactly) so ``f`` needs no
    arguments: it reads the parameters it closes over.
    """
    flat = theta.reshape(-1)  # a view: writing to it changes theta
    grad = np.empty(len(indices), dtype=np.float64)
    for k, j in enumerate(indices):
        saved = flat[j]
        flat[j] = saved + epsilon
        plus = f()
        flat[j] = saved - epsilon
        minus = f()
        flat[j] = saved
        grad[k] = (plus - minus) / (2 * epsilon)
    return grad


def check_gradients(
    params: Params,
    A1: Array,
    y: NDArray[np.integer],
    activation: str,
    output: str,
    l2: float,
    n_train: int | None = None,
    *,
    max_entries: int | None = MAX_ENTRIES,
    rng: np.random.Generator | None = None,
    epsilon: float = EPSILON,
) -> list[GroupCheck]:
    """Compare ``network.backprop`` with centred differences of ``network.cost``, per block.

    Everything is cast to float64 first. Blocks with more than ``max_entries``
    entries are compared on that many entries drawn without replacement
    (``max_entries=None``: every entry).
    """
    theta = params.astype(np.float64)
    A1 = np.asarray(A1, dtype=np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)

    # backprop gets its own copy of A1: forward keeps A1 in the cache and nothing may alias θ.
    cache = network.forward(theta, A1.copy(), activation, output)
    analytic = network.backprop(theta, cache, y, activation, l2, n_train)

    def cost() -> float:
        return network.cost(theta, A1, y, activation, output, l2, n_train)

    checks = []
    for name, description in GROUPS.items():
        block = getattr(theta, name)
        size = block.size
        if max_entries is None or size <= max_entries:
            indices = np.arange(size)
        else:
            indices = np.sort(rng.choice(size, size=max_entries, replace=False))
        numeric = numerical_gradient(cost, block, indices, epsilon)
        exact = np.asarray(getattr(analytic, name), dtype=np.float64).reshape(-1)[indices]
        checks.append(
            GroupCheck(
                name=name,
                description=description,
                shape=tuple(block.shape),
                checked=len(indices),
                relative_error=relative_error(exact, numeric),
                max_abs_difference=float(np.max(np.abs(exact - numeric))),
            )
        )
    return checks


def small_params(hidden_size: int, activation: str, rng: np.random.Generator) -> Params:
    """A small float64 network at a generic point: the usual initial weights plus
    random (non-zero) biases, so the bias gradients are not checked only at b = 0."""
    params = network.init_params(hidden_size, activation, rng, dtype=np.float64)
    params.b1 = rng.normal(0.0, 0.1, size=hidden_size)
    params.b2 = rng.normal(0.0, 0.1, size=N_CLASSES)
    return params


def synthetic_batch(m: int, rng: np.random.Generator) -> tuple[Array, NDArray[np.int64]]:
    """Stand-in for MNIST when no data is available: mostly-zero "pixels" in [0, 1]
    (like a digit's sparse ink) and random labels."""
    A1 = rng.uniform(0.0, 1.0, size=(m, N_INPUTS))
    A1[rng.uniform(size=A1.shape) < 0.8] = 0.0
    y = rng.integers(0, N_CLASSES, size=m)
    return A1, y


def run(
    params: Params,
    A1: Array,
    y: NDArray[np.integer],
    activation: str,
    output: str,
    l2: float,
    n_train: int | None = None,
    *,
    max_entries: int | None = MAX_ENTRIES,
    seed: int = 0,
    threshold: float = THRESHOLD,
) -> GradcheckResult:
    """Check one network on one batch and collect the result for reporting."""
    groups = check_gradients(
        params,
        A1,
        y,
        activation,
        output,
        l2,
        n_train,
        max_entries=max_entries,
        rng=np.random.default_rng(seed),
    )
    return GradcheckResult(
        groups=groups,
        activation=activation,
        output=output,
        l2=l2,
        m=len(A1),
        n=len(A1) if n_train is None else n_train,
        hidden_size=params.hidden_size,
        threshold=threshold,
    )


def mnist_batch(
    dataset: str, data_dir: Path, m: int, rng: np.random.Generator
) -> tuple[Array, NDArray[np.int64]] | None:
    """m random training examples as float64 a^(1) rows, or None when the files are missing."""
    from digitnet.data import idx, registry
    from digitnet.data.inputs import to_inputs

    if registry.missing_files(dataset, data_dir):
        return None
    images, labels = idx.load_split(dataset, data_dir, "train")
    rows = np.sort(rng.choice(len(images), size=min(m, len(images)), replace=False))
    return to_inputs(images[rows]).astype(np.float64), labels[rows].astype(np.int64)
