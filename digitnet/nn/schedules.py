"""Learning-rate schedules: pure functions of the position in training.

The position ``t`` is measured in epochs and may be fractional: the training loop
asks for η at ``t = (epoch − 1) + (step + 1) / steps_per_epoch``, i.e. where
training will be once the step is taken, so the rate changes smoothly within an
epoch and the first step of a warm-up is not wasted on η = 0. Nothing here keeps
state, so resuming a run only needs the epoch it stopped at.

Kinds (η₀ = ``learning_rate``, T = ``epochs``, w = ``lr_warmup_epochs``):

* constant     η(t) = η₀
* step         η(t) = η₀ · γ^⌊t / s⌋            (γ = ``lr_decay``, s = ``lr_step_epochs``)
* exponential  η(t) = η₀ · γ^t                   (γ per epoch)
* cosine       η(t) = η_min + ½ (η₀ − η_min)(1 + cos(π (t − w) / (T − w)))
               (Loshchilov & Hutter 2017, SGDR, eq. 5, one cycle without restarts)

Warm-up (any kind): for t < w the rate ramps linearly, η(t) · t / w (Goyal et al.
2017, "Accurate, large minibatch SGD", §2.2, gradual warm-up). The decay of
step and exponential is counted from t = 0; cosine spreads its decay over the
epochs after the warm-up so that it still ends at η_min.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: config.py reads its choices from this layer
    from digitnet.config import Config


KINDS = ("constant", "step", "exponential", "cosine")


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"
    learning_rate: float = 0.1  # η₀
    epochs: int = 30  # T, only cosine uses it
    warmup_epochs: float = 0.0  # w
    decay: float = 0.1  # γ: per step of ``step_epochs`` (step) or per epoch (exponential)
    step_epochs: int = 10  # s
    min_learning_rate: float = 0.0  # η_min, the floor cosine ends at

    @classmethod
    def from_config(cls, config: Config) -> Schedule:
        return cls(
            kind=config.lr_schedule,
            learning_rate=config.learning_rate,
            epochs=config.epochs,
            warmup_epochs=config.lr_warmup_epochs,
            decay=config.lr_decay,
            step_epochs=config.lr_step_epochs,
            min_learning_rate=config.lr_min,
        )

    def lr_at(self, t: float) -> float:
        """η at training position ``t`` (epochs, fractional)."""
        rate = self._decayed(t)
        if t < self.warmup_epochs:
            rate *= max(t, 0.0) / self.warmup_epochs
        return rate

    def _decayed(self, t: float) -> float:
        if self.kind == "constant":
            return self.learning_rate
        if self.kind == "step":
            return self.learning_rate * self.decay ** math.floor(t / self.step_epochs)
        if self.kind == "exponential":
            return float(self.learning_rate * self.decay**t)
        if self.kind == "cosine":
            span = self.epochs - self.warmup_epochs
            progress = 0.0 if span <= 0 else min(max((t - self.warmup_epochs) / span, 0.0), 1.0)
            low = self.min_learning_rate
            return low + 0.5 * (self.learning_rate - low) * (1.0 + math.cos(math.pi * progress))
        raise ValueError(f"unknown schedule {self.kind!r}")  # config.py rejects it first
