"""Optimisers: mini-batch SGD with classical or Nesterov momentum, updating θ in place.

Each optimiser keeps one velocity array per parameter block (named like the
blocks of ``Params``: W1, b1, W2, b2). ``state_arrays`` / ``load_state_arrays``
expose that state so a checkpoint can store it and ``--resume`` can continue a
run exactly. The learning rate is passed to every ``step`` because it comes from
a schedule (schedules.py), not from the optimiser.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from digitnet import blas
from digitnet.errors import CheckpointError
from digitnet.network import Array, Params

OPTIMIZERS = ("momentum", "nesterov")


class Optimizer(Protocol):
    name: str

    def step(self, params: Params, grads: Params, learning_rate: float) -> None: ...

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
        self.velocity = {name: np.zeros_like(a) for name, a in params.arrays().items()}

    def step(self, params: Params, grads: Params, learning_rate: float) -> None:
        # In place through BLAS (digitnet/blas.py): one pass per line, no temporaries.
        for name, theta in params.arrays().items():
            v = self.velocity[name]
            blas.scal(v, self.momentum)  # v ← μ v
            blas.axpy(v, getattr(grads, name), -learning_rate)  # v ← v − η ∂J/∂θ
            blas.axpy(theta, v, 1.0)  # θ ← θ + v

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

    def step(self, params: Params, grads: Params, learning_rate: float) -> None:
        for name, theta in params.arrays().items():
            v = self.velocity[name]
            grad = getattr(grads, name)
            blas.scal(v, self.momentum)  # v ← μ v
            blas.axpy(v, grad, -learning_rate)  # v ← v − η ∂J/∂θ
            blas.axpy(theta, v, self.momentum)  # θ ← θ + μ v
            blas.axpy(theta, grad, -learning_rate)  # θ ← θ − η ∂J/∂θ


def make_optimizer(name: str, params: Params, momentum: float) -> Momentum:
    if name == "nesterov":
        return Nesterov(params, momentum)
    if name == "momentum":
        return Momentum(params, momentum)
    raise ValueError(f"unknown optimizer {name!r}")  # config.py rejects it first
