"""The mini-batch training loop: SGD with (Nesterov) momentum, a learning-rate schedule,
augmentation, dropout, validation and early stopping.

No I/O here: ``train`` yields one ``EpochRecord`` per epoch (with the current
parameters) and calls an optional ``on_batch`` hook for progress bars; the caller
(``runner.py``) decides what to save and print.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from digitnet.config import Config
from digitnet.data.augment import Distortion
from digitnet.data.inputs import TrainingData
from digitnet.errors import TrainingError
from digitnet.nn.network import (
    Params,
    data_cost,
    forward,
    init_params,
    l2_penalty,
)
from digitnet.nn.optim import Momentum, make_optimizer
from digitnet.nn.schedules import Schedule
from digitnet.training.allocator import keep_freed_memory
from digitnet.training.batches import Batches, distortion_rng
from digitnet.training.step import Step

EVAL_BATCH = 2000  # rows per forward pass when scoring; bounds memory, big enough for BLAS


@dataclass
class EpochRecord:
    epoch: int
    train_cost: float  # J(θ) averaged over the epoch's mini-batches, as trained
    train_accuracy: float  # accuracy on the mini-batches as they were trained
    validation_cost: float
    validation_accuracy: float
    learning_rate: float
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def score(
    params: Params, X: NDArray[np.float32], y: NDArray[np.integer], config: Config, n_train: int
) -> tuple[float, float, NDArray[np.int64]]:
    """(J(θ), accuracy, predicted labels) over all rows, in batches."""
    if len(X) == 0:
        return float("nan"), float("nan"), np.empty(0, dtype=np.int64)
    predicted = np.empty(len(X), dtype=np.int64)
    total_cost = 0.0
    for start in range(0, len(X), EVAL_BATCH):
        stop = min(start + EVAL_BATCH, len(X))
        cache = forward(params, X[start:stop], config.activation, config.output)
        batch_cost = data_cost(cache.Z3, y[start:stop], config.output, cache.log_normaliser)
        total_cost += batch_cost * (stop - start)
        predicted[start:stop] = cache.Z3.argmax(axis=1)
    cost = total_cost / len(X) + l2_penalty(params, config.l2, n_train)
    return cost, float(np.mean(predicted == y)), predicted


#: called after every mini-batch with (epoch, images done this epoch, images per epoch,
#: batch cost, batch accuracy): enough for a progress bar
BatchHook = Callable[[int, int, int, float, float], None]


@dataclass
class TrainState:
    """Everything a run needs to continue exactly where it stopped (``--resume``).

    ``train`` updates it in place; between epochs it is consistent and the runner
    saves it (runner.save_resume_state). Two seeded generators are the run's only
    sources of randomness: ``rng`` for initialisation, shuffling and dropout, and
    ``distortion_rng`` for the distortions, which only batches.py draws from.
    """

    epoch: int  # epochs completed
    params: Params
    optimizer: Momentum
    rng: np.random.Generator
    best_validation_accuracy: float = -1.0  # for early stopping
    best_epoch: int = 0
    distortion_rng: np.random.Generator | None = None  # None: batches.distortion_rng(seed)

    @classmethod
    def start(cls, config: Config) -> TrainState:
        """A fresh run: θ drawn from ``default_rng(config.seed)``, zero velocity."""
        rng = np.random.default_rng(config.seed)
        params = init_params(config.hidden_size, config.activation, rng)
        optimizer = make_optimizer(config.optimizer, params, config.momentum)
        return cls(
            epoch=0,
            params=params,
            optimizer=optimizer,
            rng=rng,
            distortion_rng=distortion_rng(config.seed),
        )

    def should_stop(self, patience: int) -> bool:
        """Early stopping: no better validation accuracy for ``patience`` epochs (0: never)."""
        return patience > 0 and self.epoch - self.best_epoch >= patience


def dropout_mask(rng: np.random.Generator, shape: tuple[int, int], p: float) -> NDArray[np.float32]:
    """r/(1 − p) with r ~ Bernoulli(1 − p): inverted dropout's mask (network.forward)."""
    keep = rng.random(shape, dtype=np.float32) >= np.float32(p)
    return np.multiply(keep, np.float32(1 / (1 - p)), dtype=np.float32)


def train(
    config: Config,
    data: TrainingData,
    params: Params | None = None,
    on_batch: BatchHook | None = None,
    state: TrainState | None = None,
) -> Iterator[tuple[EpochRecord, Params]]:
    """Train up to ``config.epochs`` epochs, yielding each epoch's record and parameters.

    ``np.random.default_rng(config.seed)`` drives initialisation, shuffling and
    dropout, and a stream spawned from the same seed the distortions, so a rerun with
    the same seed gives identical parameters. Pass ``state`` (``TrainState.start`` or
    a resumed one) to keep a handle on the training state; it is updated in place.
    Stops early when
    ``config.early_stopping`` epochs pass without a better validation accuracy.
    """
    if state is None:
        state = TrainState.start(config)
        if params is not None:
            state.params = params
            state.optimizer = make_optimizer(config.optimizer, params, config.momentum)
    params = state.params
    if state.distortion_rng is None:
        state.distortion_rng = distortion_rng(config.seed)
    params.pack()  # θ in one array, values unchanged: one BLAS call per update line (optim.py)
    n = data.n_train
    if n == 0:
        raise TrainingError(
            "no training images left after the validation split — lower validation_size"
        )
    schedule = Schedule.from_config(config)
    distortion = Distortion.from_config(config)
    if distortion.enabled:
        keep_freed_memory()  # the distortions' temporaries: no page faults (allocator.py)
    batch_size = min(config.batch_size, n)
    # The forward pass, J(θ), backprop and update, every array preallocated (step.py).
    step_of = Step(config, params, state.optimizer, n_train=n, batch_size=batch_size)
    batches = Batches(data, batch_size, distortion, state.distortion_rng)
    yield from _epochs(config, data, state, schedule, step_of, batches, on_batch)


def _epochs(
    config: Config,
    data: TrainingData,
    state: TrainState,
    schedule: Schedule,
    step_of: Step,
    batches: Batches,
    on_batch: BatchHook | None,
) -> Iterator[tuple[EpochRecord, Params]]:
    params, rng, n = state.params, state.rng, data.n_train
    batch_size = step_of.batch_size
    steps_per_epoch = -(-n // batch_size)
    for epoch in range(state.epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(n)
        cost_sum, correct, done = 0.0, 0, 0
        learning_rate = schedule.lr_at(epoch - 1)
        # Gathered from the pixels and, when the config says so, distorted: batches.py.
        for step, (A1, y) in enumerate(batches.epoch(order, batch_size)):
            m = len(y)
            mask = None
            if config.dropout:
                mask = dropout_mask(rng, (m, params.hidden_size), config.dropout)

            batch_cost, batch_correct = step_of.measure(A1, y, mask)
            if not math.isfinite(batch_cost):
                raise TrainingError(
                    f"the cost became {batch_cost} in epoch {epoch} — lower the learning rate"
                    f" (now {learning_rate:.3g})"
                )
            learning_rate = schedule.lr_at(epoch - 1 + (step + 1) / steps_per_epoch)
            step_of.update(y, learning_rate)

            cost_sum += batch_cost * m
            correct += batch_correct
            done += m
            if on_batch is not None:
                on_batch(epoch, done, n, batch_cost, batch_correct / m)

        seconds = time.perf_counter() - started
        val_cost, val_accuracy, _ = score(params, data.X_val, data.y_val, config, n)
        state.epoch = epoch
        if val_accuracy > state.best_validation_accuracy:
            state.best_validation_accuracy, state.best_epoch = val_accuracy, epoch
        record = EpochRecord(
            epoch=epoch,
            train_cost=cost_sum / n + l2_penalty(params, config.l2, n),
            train_accuracy=correct / n,
            validation_cost=val_cost,
            validation_accuracy=val_accuracy,
            learning_rate=learning_rate,
            seconds=seconds,
            images_per_second=n / seconds,
        )
        yield record, params
        if data.X_val.size and state.should_stop(config.early_stopping):
            break
