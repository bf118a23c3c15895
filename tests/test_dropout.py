"""Dropout on the hidden layer: active while training, off at evaluation, correct gradients."""

from __future__ import annotations

import numpy as np
from toydata import synthetic_data

from digitnet import config
from digitnet.nn.network import backprop, data_cost, forward, init_params, predict_proba
from digitnet.training.train import TrainState, dropout_mask, score, train


def test_mask_drops_about_p_and_rescales_the_rest():
    mask = dropout_mask(np.random.default_rng(0), (200, 500), 0.3)
    assert mask.dtype == np.float32
    kept = mask > 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(mask[kept], 1 / 0.7, rtol=1e-6)
    assert abs(mask.mean() - 1.0) < 0.02  # inverted dropout keeps E[ã] = a


def test_backprop_with_a_mask_matches_central_differences():
    rng = np.random.default_rng(1)
    params = init_params(6, "sigmoid", rng, dtype=np.float64)
    A1 = rng.random((5, 784))
    y = rng.integers(0, 10, 5)
    mask = dropout_mask(rng, (5, 6), 0.5).astype(np.float64)
    grads = backprop(params, forward(params, A1.copy(), "sigmoid", dropout_mask=mask), y, "sigmoid")

    def cost() -> float:
        return data_cost(forward(params, A1.copy(), "sigmoid", dropout_mask=mask).Z3, y, "softmax")

    eps = 1e-6
    for name, index in [
        ("W1", (2, 400)),
        ("b1", (3,)),
        ("W2", (4, 1)),
        ("b2", (7,)),
        ("W1", (0, 0)),
    ]:
        theta = getattr(params, name)
        old = theta[index]
        theta[index] = old + eps
        up = cost()
        theta[index] = old - eps
        down = cost()
        theta[index] = old
        numeric = (up - down) / (2 * eps)
        assert abs(getattr(grads, name)[index] - numeric) < 1e-7, name


def test_dropout_changes_training_but_not_evaluation():
    data = synthetic_data()
    base = {"hidden_size": 20, "epochs": 2, "batch_size": 40, "seed": 4}
    with_dropout = config.apply(config.Config(), {**base, "dropout": 0.5}, "test")
    without = config.apply(config.Config(), base, "test")

    state = TrainState.start(with_dropout)
    for _ in train(with_dropout, data, state=state):
        pass
    plain = TrainState.start(without)
    for _ in train(without, data, state=plain):
        pass
    assert not np.array_equal(state.params.W1, plain.params.W1)  # masks were applied

    # Evaluation of the dropout-trained θ: deterministic and mask-free, whatever the config.
    a = score(state.params, data.X_val, data.y_val, with_dropout, n_train=240)
    b = score(state.params, data.X_val, data.y_val, without, n_train=240)
    assert a[0] == b[0]
    assert a[1] == b[1]
    np.testing.assert_array_equal(a[2], b[2])
    p1 = predict_proba(state.params, data.X_val, "sigmoid")
    p2 = predict_proba(state.params, data.X_val, "sigmoid")
    np.testing.assert_array_equal(p1, p2)
    full = forward(state.params, data.X_val.copy(), "sigmoid", dropout_mask=None)
    assert full.mask is None
    np.testing.assert_array_equal(full.A3, p1)
