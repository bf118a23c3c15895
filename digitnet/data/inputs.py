"""Pixels -> the network's input a^(1), and the training/validation split.

a^(1) = pixel / 255 ∈ [0, 1] (DESIGN.md). The validation split is the *last*
``validation_size`` training images: the test set never chooses anything.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import N_INPUTS

#: a^(1) = pixel / 255 ∈ [0, 1] (DESIGN.md)
PIXEL_SCALE = np.float32(1 / 255)


class TrainingData:
    """Float32 inputs a^(1) (rows are examples) and integer labels, split in two.

    Given ``pixels_train``, the training images as uint8 pixels (n, 784), the training
    loop gathers each mini-batch from those, a quarter of the bytes, and scales it as
    ``to_inputs`` does, so a^(1) is the same to the last bit; the float32 ``X_train``
    is then made only if something asks for it (benchmarks' other libraries do,
    training does not): on MNIST that saves 165 MiB of the run's peak memory (issue 12).
    """

    def __init__(
        self,
        y_train: NDArray[np.uint8],  # (n,)
        X_val: NDArray[np.float32],  # (v, 784)
        y_val: NDArray[np.uint8],  # (v,)
        X_train: NDArray[np.float32] | None = None,  # (n, 784); None: from pixels_train
        pixels_train: NDArray[np.uint8] | None = None,  # (n, 784)
    ) -> None:
        if X_train is None and pixels_train is None:
            raise ValueError("TrainingData needs X_train or pixels_train")
        self.y_train, self.X_val, self.y_val = y_train, X_val, y_val
        self.pixels_train = pixels_train
        self._X_train = X_train

    @property
    def X_train(self) -> NDArray[np.float32]:  # noqa: N802 (a^(1) in Ng's notation)
        if self._X_train is None:
            assert self.pixels_train is not None
            self._X_train = to_inputs(self.pixels_train)
        return self._X_train

    @property
    def n_train(self) -> int:
        """n: how many training examples, without making X_train."""
        return len(self.y_train)


def to_inputs(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """(n, 28, 28) uint8 pixels -> (n, 784) float32 a^(1) in [0, 1]."""
    flat = images.reshape(len(images), N_INPUTS)
    return np.multiply(flat, PIXEL_SCALE, dtype=np.float32)


def split_validation(
    images: NDArray[np.uint8], labels: NDArray[np.uint8], validation_size: int
) -> TrainingData:
    """Hold out the *last* ``validation_size`` training images for validation.

    A fixed tail (not a random draw) keeps the split identical across seeds and
    runs, so validation figures are comparable; the test set is never touched.
    """
    n_train = len(images) - validation_size
    pixels = images.reshape(len(images), N_INPUTS)
    return TrainingData(
        y_train=labels[:n_train],
        X_val=to_inputs(images[n_train:]),
        y_val=labels[n_train:],
        pixels_train=pixels[:n_train],
    )
