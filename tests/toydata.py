"""Tiny synthetic training sets for fast tests of the training loop."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

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


def write_tiny_mnist(folder: Path, n_train: int = 60, n_test: int = 10) -> Path:
    """MNIST's four files in ``folder``, small: the label is which horizontal band is bright.

    Their MD5s are not the published ones, so reading them logs a warning per file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label : 4 + 2 * label, :] = 255
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = struct.pack(">I", 0x0800 | array.ndim)
            header += struct.pack(f">{array.ndim}I", *array.shape)
            with gzip.open(folder / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + array.astype(np.uint8).tobytes())
    return folder
