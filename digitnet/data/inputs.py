"""Pixels -> the network's input a^(1), and the training/validation split.

a^(1) = pixel / 255 ∈ [0, 1] (DESIGN.md). The validation split is the *last*
``validation_size`` training images: the test set never chooses anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import N_INPUTS

#: a^(1) = pixel / 255 ∈ [0, 1] (DESIGN.md)
PIXEL_SCALE = np.float32(1 / 255)


@dataclass
class TrainingData:
    """Float32 inputs a^(1) (rows are examples) and integer labels, split in two."""

    X_train: NDArray[np.float32]  # (n, 784)
    y_train: NDArray[np.uint8]  # (n,)
    X_val: NDArray[np.float32]  # (v, 784)
    y_val: NDArray[np.uint8]  # (v,)
    # The training images again as uint8 pixels (n, 784), when known (split_validation):
    # the loop then gathers each mini-batch from these, a quarter of the bytes of X_train,
    # and scales it exactly as to_inputs does, so a^(1) is the same to the last bit.
    pixels_train: NDArray[np.uint8] | None = None


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
    X = to_inputs(images)
    pixels = images.reshape(len(images), N_INPUTS)
    return TrainingData(
        X_train=X[:n_train],
        y_train=labels[:n_train],
        X_val=X[n_train:],
        y_val=labels[n_train:],
        pixels_train=pixels[:n_train],
    )
