"""Optimisers: mini-batch SGD with classical or Nesterov momentum, updating θ in place.

Each optimiser keeps one velocity array per parameter block (named like the
blocks of ``Params``: W1, b1, W2, b2). ``state_arrays`` / ``load_state_arrays``
expose that state so a checkpoint can store it and ``--resume`` can continue a
run exactly. The learning rate is passed to every ``step`` because it comes from
a schedule (schedules.py), not from the optimiser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeAlias

import numpy as np

from digitnet.errors import CheckpointError
from digitnet.nn import numpyblas
from digitnet.nn.network import Accumulate, Array, Params

#: backprop for the current mini-batch: writes ∂J/∂θ (None) or α ∂J/∂θ + β out (Accumulate)
#: and returns what it wrote (training/step.py)
GradientWriter: TypeAlias = Callable[[Accumulate | None], Params]

OPTIMIZERS = ("momentum", "nesterov")


class Optimizer(Protocol):
    name: str

    def step(self, params: Params, grads: Params, learning_rate: float) -> None: ...

    def step_with(self, params: Params, gradient: GradientWriter, learning_rate: float) -> None: ...

    def state_arrays(self) -> dict[str, Array]: ...

    def load_state_arrays(self, arrays: dict[str, Array]) -> None: ...


class Momentum:
    """Classical momentum (Polyak 1964; Sutskever et al. 2013, eq. 1–2):

        v ← μ v − η ∂J/∂θ
        θ ← θ + v

    With μ = 0 this is plain mini-batch SGD, θ ← θ − η ∂J/∂θ.
    """

    name = "momentum"

    def __init__(self, params: Params, momentum: float) -> None:
        self.momentum = momentum
        zeros = Params(**{name: np.zeros_like(a) for name, a in params.arrays().items()})
        self.velocity_blocks = zeros.pack()  # views of one array, like a packed θ
        self.velocity = self.velocity_blocks.arrays()
        self._velocity_flat = zeros.flat()
        # Params.flat checks the layout (a few µs); remember its answer for the same blocks.
        self._flats: dict[str, tuple[tuple[Array, ...], Array | None]] = {}
        self._size = int(self._velocity_flat.size) if self._velocity_flat is not None else 0
        self._fuse: bool | None = None  # decided at the first step (step_with)

    def step_with(self, params: Params, gradient: GradientWriter, learning_rate: float) -> None:
        """The step, with backprop writing v ← μ v − η ∂J/∂θ itself: the first line of the
        update is then the products' own α = −η and β = μ (numpyblas), and only θ ← θ + v
        is left, one pass instead of three over θ (and no gradient array at all)."""
        if self._fuse is None:
            # Without numpy's BLAS the fused products would be numpy's @ plus passes, and a
            # small θ stays in cache anyway: there the plain step is as fast or faster.
            self._fuse = numpyblas.available() and self._size >= numpyblas.THREADED_MIN
        if not self._fuse:
            self.step(params, gradient(None), learning_rate)
            return
        gradient(Accumulate(self.velocity_blocks, alpha=-learning_rate, beta=self.momentum))
        theta, v = self._flat("θ", params), self._velocity_flat
        if theta is not None and v is not None:
            numpyblas.axpy(theta, v, 1.0)  # θ ← θ + v, one call over all of θ
            return
        for name, block in params.arrays().items():
            numpyblas.axpy(block, self.velocity[name], 1.0)  # θ ← θ + v, block by block

    def step(self, params: Params, grads: Params, learning_rate: float) -> None:
        # In place through BLAS (nn/numpyblas.py): one pass per line, no temporaries. When θ,
        # its gradient and v are each one array (Params.pack; train.py packs θ, and the
        # Workspace its gradients), each line is one call over all of θ, else one per block.
        theta, grad, v = self._flat("θ", params), self._flat("grad", grads), self._velocity_flat
        if theta is not None and grad is not None and v is not None:
            self._update(theta, grad, v, learning_rate)
            return
        for name, block in params.arrays().items():
            self._update(block, getattr(grads, name), self.velocity[name], learning_rate)

    def _update(self, theta: Array, grad: Array, v: Array, learning_rate: float) -> None:
        numpyblas.scal(v, self.momentum)  # v ← μ v
        numpyblas.axpy(v, grad, -learning_rate)  # v ← v − η ∂J/∂θ
        numpyblas.axpy(theta, v, 1.0)  # θ ← θ + v

    def _flat(self, role: str, blocks: Params) -> Array | None:
        """``blocks.flat()``, checked again only when a block is another array than last time."""
        arrays = tuple(blocks.arrays().values())
        seen = self._flats.get(role)
        if seen is None or any(a is not b for a, b in zip(seen[0], arrays, strict=True)):
            seen = self._flats[role] = (arrays, blocks.flat())
        return seen[1]

    def state_arrays(self) -> dict[str, Array]:
        return {f"velocity_{name}": v for name, v in self.velocity.items()}

    def load_state_arrays(self, arrays: dict[str, Array]) -> None:
        for name, v in self.velocity.items():
            saved = arrays.get(f"velocity_{name}")
            if saved is None or saved.shape != v.shape:
                raise CheckpointError(
                    f"the saved optimiser state lacks velocity_{name} of shape {v.shape}"
                    " — the file is damaged; start a new run"
                )
            v[...] = saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}(momentum={self.momentum})"


class Nesterov(Momentum):
    """Nesterov's accelerated gradient (Sutskever et al. 2013, eq. 3–4), in the form of
    Bengio, Boulanger-Lewandowski & Pascanu 2013 (eq. 7) that stores θ at the
    look-ahead point, so the gradient is taken at the stored θ like plain momentum:

        v ← μ v − η ∂J/∂θ
        θ ← θ + μ v − η ∂J/∂θ
    """

    name = "nesterov"

    def step_with(self, params: Params, gradient: GradientWriter, learning_rate: float) -> None:
        # ∂J/∂θ is needed twice (for v and for θ), so it is written out in full.
        self.step(params, gradient(None), learning_rate)

    def _update(self, theta: Array, grad: Array, v: Array, learning_rate: float) -> None:
        numpyblas.scal(v, self.momentum)  # v ← μ v
        numpyblas.axpy(v, grad, -learning_rate)  # v ← v − η ∂J/∂θ
        numpyblas.axpy(theta, v, self.momentum)  # θ ← θ + μ v
        numpyblas.axpy(theta, grad, -learning_rate)  # θ ← θ − η ∂J/∂θ


def make_optimizer(name: str, params: Params, momentum: float) -> Momentum:
    if name == "nesterov":
        return Nesterov(params, momentum)
    if name == "momentum":
        return Momentum(params, momentum)
    raise ValueError(f"unknown optimizer {name!r}")  # config.py rejects it first
