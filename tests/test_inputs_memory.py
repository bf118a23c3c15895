"""data/inputs.py: training reads the uint8 pixels, so the float32 copy of the training
set (165 MiB on MNIST) is never made by a training run (issue 12: peak memory)."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet import config
from digitnet.data import inputs
from digitnet.data.inputs import split_validation, to_inputs
from digitnet.training.train import train


def images_and_labels(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, np.uint8)


def test_training_never_makes_the_float32_training_set(monkeypatch):
    images, labels = images_and_labels()
    data = split_validation(images, labels, validation_size=50)

    def refuse(pixels: np.ndarray) -> np.ndarray:
        raise AssertionError(f"to_inputs called on {len(pixels)} rows during training")

    monkeypatch.setattr(inputs, "to_inputs", refuse)
    cfg = config.apply(
        config.Config(),
        {"hidden_size": 8, "epochs": 2, "batch_size": 32, "augment_rotate": 5.0},
        "t",
    )
    records = [record for record, _ in train(cfg, data)]
    assert len(records) == 2
    assert data.n_train == 250


def test_x_train_is_still_there_when_asked_for():
    images, labels = images_and_labels()
    data = split_validation(images, labels, validation_size=50)
    np.testing.assert_array_equal(data.X_train, to_inputs(images[:250]))
    np.testing.assert_array_equal(data.X_val, to_inputs(images[250:]))


def test_training_data_needs_inputs_or_pixels():
    with pytest.raises(ValueError, match="X_train or pixels_train"):
        inputs.TrainingData(
            y_train=np.zeros(1, np.uint8), X_val=np.zeros((0, 784)), y_val=np.zeros(0)
        )
