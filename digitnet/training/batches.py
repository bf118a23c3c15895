"""An epoch's mini-batches, gathered from the pixels and, when the run distorts its
images, distorted one batch ahead in a worker thread.

Distorting a batch (data/augment.py) is numpy work on arrays of m × 784 values, and
numpy releases the GIL for it, as BLAS does during the step's products: so while the
main thread runs step k, one worker thread distorts batch k + 1, and distortions cost
little more than the wait for a result that is already there (issue 12).

Reproducibility: the distortions draw from their own generator (``distortion_rng``),
seeded from the run's seed, never from the run's main generator, which shuffling and
dropout keep using in the main thread. The worker is the only user of that generator
and it distorts the batches in their order, so every batch gets the same draws
whatever the timing of the two threads. Nothing is prepared beyond an epoch's last
batch, so between epochs both generators are at rest and ``resume.py`` saves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

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
    """Gathers mini-batches into preallocated buffers and distorts them one batch ahead."""

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
        self.worker = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="digitnet-distort")
            if distortion.enabled
            else None
        )

    def close(self) -> None:
        if self.worker is not None:
            self.worker.shutdown(wait=True)

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
        starts = range(0, len(order), batch_size)
        if self.worker is None:
            for start in starts:
                yield self.gather(order[start : start + batch_size])
            return
        worker = self.worker
        ahead: Future[NDArray[np.float32]] | None = None
        try:
            inputs, y = self.gather(order[:batch_size])
            ahead = worker.submit(distort, inputs, self.rng, self.distortion, y)
            for start in starts:
                assert ahead is not None  # submitted for every batch before it is reached
                distorted, labels = ahead.result(), y  # a fresh array: the buffer is free again
                ahead = None
                following = order[start + batch_size : start + 2 * batch_size]
                if len(following):
                    inputs, y = self.gather(following)
                    ahead = worker.submit(distort, inputs, self.rng, self.distortion, y)
                yield distorted, labels  # the step runs while the worker distorts the next
        finally:
            if ahead is not None:  # stopped early: let the worker finish with the buffer
                ahead.result()
