"""training/batches.py: batches in the epoch's order, distorted as a plain loop would."""

from __future__ import annotations

import numpy as np
from toydata import synthetic_data

from digitnet.data.augment import Distortion, distort
from digitnet.training.batches import Batches, distortion_rng

DISTORTION = Distortion(rotate=10.0, shift=1.0, elastic_alpha=20.0)


def test_batches_are_the_orders_rows_distorted_in_turn():
    data = synthetic_data()
    order = np.random.default_rng(0).permutation(len(data.X_train))
    batches = Batches(data, 32, DISTORTION, distortion_rng(5))
    got = [(A1.copy(), y.copy()) for A1, y in batches.epoch(order, 32)]

    rng = distortion_rng(5)
    assert len(got) == -(-len(order) // 32)
    for k, (A1, y) in enumerate(got):
        rows = order[32 * k : 32 * (k + 1)]
        np.testing.assert_array_equal(y, data.y_train[rows])
        np.testing.assert_array_equal(A1, distort(data.X_train[rows], rng, DISTORTION))


def test_the_distortions_stream_is_not_the_runs_stream():
    a = distortion_rng(0).random(4)
    assert not np.array_equal(a, np.random.default_rng(0).random(4))
    np.testing.assert_array_equal(a, distortion_rng(0).random(4))


def test_stopping_mid_epoch_draws_nothing_more():
    # Only the batches handed out have drawn: a run stopped after one batch leaves the
    # generator where one batch's distortions left it (what resume.py saves).
    data = synthetic_data()
    batches = Batches(data, 16, DISTORTION, distortion_rng(1))
    epoch = batches.epoch(np.arange(len(data.X_train)), 16)
    next(epoch)
    epoch.close()
    rng = distortion_rng(1)
    distort(data.X_train[:16], rng, DISTORTION)
    assert batches.rng.bit_generator.state == rng.bit_generator.state


def test_without_distortions_the_batches_are_the_pixels_and_nothing_is_drawn():
    data = synthetic_data()
    batches = Batches(data, 16, Distortion(), distortion_rng(1))
    A1, y = next(batches.epoch(np.arange(len(data.X_train)), 16))
    np.testing.assert_array_equal(A1, data.X_train[:16])
    np.testing.assert_array_equal(y, data.y_train[:16])
    assert batches.rng.bit_generator.state == distortion_rng(1).bit_generator.state
