"""One mini-batch step of gradient descent, shared by the training loop and lr-find.

``measure`` is the forward pass (B1)-(B4) and the mini-batch's data cost (B5);
``update`` is backprop (B6)-(B8) and the optimiser's step. They are apart because
both callers look at the cost before deciding to update (the loop stops on a
non-finite cost, the range test on a diverging one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from digitnet.config import Config
from digitnet.nn.network import (
    Accumulate,
    Array,
    Cache,
    Labels,
    Params,
    Workspace,
    backprop,
    data_cost,
    forward,
)
from digitnet.nn.optim import Optimizer


@dataclass
class Step:
    """The step of ``config``'s network on mini-batches of at most ``batch_size`` rows.

    ``n_train`` is n in the (λ/2n) Σ θ² term of J(θ): the whole training set's size.
    Every array of the step lives in one preallocated ``Workspace``.
    """

    config: Config
    params: Params
    optimizer: Optimizer
    n_train: int
    batch_size: int
    workspace: Workspace = field(init=False)
    _cache: Cache | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.workspace = Workspace.allocate(
            self.batch_size, self.params.hidden_size, self.params.W1.dtype
        )

    def measure(self, A1: Array, y: Labels, dropout_mask: Array | None = None) -> tuple[float, int]:
        """Forward pass on the mini-batch: (its data cost, how many it got right)."""
        config = self.config
        cache = forward(
            self.params,
            A1,
            config.activation,
            config.output,
            dropout_mask=dropout_mask,
            workspace=self.workspace,
        )
        self._cache = cache
        cost = data_cost(cache.Z3, y, config.output, cache.log_normaliser)
        correct = int(np.count_nonzero(cache.Z3.argmax(axis=1) == y))
        return cost, correct

    def update(self, y: Labels, learning_rate: float) -> None:
        """Backprop on the batch just measured, then one optimiser step with η."""
        cache = self._cache
        assert cache is not None, "measure() comes first"

        def gradient(into: Accumulate | None) -> Params:
            return backprop(
                self.params,
                cache,
                y,
                self.config.activation,
                self.config.l2,
                n_train=self.n_train,
                workspace=self.workspace,
                into=into,
            )

        # The optimiser may have backprop write straight into its velocity (optim.py).
        self.optimizer.step_with(self.params, gradient, learning_rate)
        self._cache = None
