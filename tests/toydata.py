"""Tiny synthetic training sets for fast tests of the training loop."""

from __future__ import annotations

import numpy as np

from digitnet.data.inputs import TrainingData


def synthetic_data(n=240, v=60, seed=0) -> TrainingData:
    """A learnable toy task: the label is which of ten pixel bands is brightest."""
    rng = np.random.default_rng(seed)
    X = rng.random((n + v, 784), dtype=np.float32) * 0.3
    y = rng.integers(0, 10, n + v).astype(np.uint8)
    for i, label in enumerate(y):
        X[i, 280 + 20 * int(label) : 300 + 20 * int(label)] = 1.0
    return TrainingData(X_train=X[:n], y_train=y[:n], X_val=X[n:], y_val=y[n:])
