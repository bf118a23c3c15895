"""An epoch's mini-batches, gathered from the pixels and, when the run distorts its
images, distorted just before their step.

Distorting a batch (data/augment.py) costs about a quarter of a 784-800-10 step (about
1 ms for 100 images). It runs in the training thread, between two steps, not in a worker
thread beside the step: on the 2-core AMD EPYC the step's products keep both cores busy
(and OpenBLAS's threads spin between products), so a worker only took turns with them;
measured side by side (issue 12), an epoch of configs/best.yaml took longer with the
worker than with the distortions in line.

Reproducibility: the distortions draw from their own generator (``distortion_rng``),
seeded from the run's seed, never from the run's main generator, which shuffling and
dropout keep using. Batches are distorted in their order, so every batch gets the same
draws; between epochs both generators are at rest and ``resume.py`` saves them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from digitnet.data.augment import Distortion, distort
from digitnet.data.inputs import PIXEL_SCALE, TrainingData
from digitnet.vocabulary import N_INPUTS

#: spawn key of the distortions' stream: SeedSequence(seed) itself is the run's main stream
DISTORTION_STREAM = 1

Batch = tuple[NDArray[np.float32], NDArray[np.integer]]  # (a^(1) of m rows, their labels)


def distortion_rng(seed: int) -> np.random.Generator:
    """The distortions' own generator, independent of ``default_rng(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DISTORTION_STREAM,)))


class Batches:
    """Gathers mini-batches into preallocated buffers and distorts them when the run does."""

    def __init__(
        self,
        data: TrainingData,
        batch_size: int,
        distortion: Distortion,
        rng: np.random.Generator,
    ) -> None:
        self.data, self.distortion, self.rng = data, distortion, rng
        # One buffer per gathered batch: no large fresh allocation per step.
        self.X = np.empty((batch_size, N_INPUTS), dtype=np.float32)
        self.pixels = np.empty((batch_size, N_INPUTS), dtype=np.uint8)

    def gather(self, rows: NDArray[np.intp]) -> Batch:
        """a^(1) of the rows into the buffer (a^(1) = pixel / 255, as to_inputs does), labels."""
        m = len(rows)
        inputs = self.X[:m]
        # mode="clip": with out= and the default mode="raise", np.take gathers into a
        # temporary first; rows come from a permutation of range(n), so clipping changes nothing.
        if self.data.pixels_train is not None:
            np.take(self.data.pixels_train, rows, axis=0, out=self.pixels[:m], mode="clip")
            np.copyto(inputs, self.pixels[:m])  # uint8 -> float32, exact; then scale in place
            inputs *= PIXEL_SCALE  # float32: faster than one mixed-type multiply, same bits
        else:
            np.take(self.data.X_train, rows, axis=0, out=inputs, mode="clip")
        return inputs, self.data.y_train[rows]

    def epoch(self, order: NDArray[np.intp], batch_size: int) -> Iterator[Batch]:
        """The epoch's batches in ``order``; each yielded A1 is valid until the next one."""
        for start in range(0, len(order), batch_size):
            inputs, labels = self.gather(order[start : start + batch_size])
            if self.distortion.enabled:
                inputs = distort(inputs, self.rng, self.distortion, labels)
            yield inputs, labels
