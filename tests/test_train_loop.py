"""The training loop's bookkeeping (training/train.py), on tiny synthetic data: what each
epoch record says, batched scoring, where a run starts from, when it stops, dropout's mask
and the distortion worker's lifetime (issue 15: mutation testing found these unchecked)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from toydata import synthetic_data

from digitnet import config
from digitnet.data.inputs import TrainingData
from digitnet.errors import TrainingError
from digitnet.nn.network import data_cost, forward, init_params, l2_penalty
from digitnet.nn.schedules import Schedule
from digitnet.training.train import EVAL_BATCH, TrainState, dropout_mask, score, train


def make_config(**settings):
    return config.apply(config.Config(), {"hidden_size": 8, "seed": 4, **settings}, "test")


def no_validation(data: TrainingData) -> TrainingData:
    return TrainingData(
        X_train=data.X_train,
        y_train=data.y_train,
        X_val=data.X_val[:0],
        y_val=data.y_val[:0],
    )


@pytest.mark.parametrize(("output", "activation"), [("softmax", "sigmoid"), ("sigmoid", "relu")])
def test_batched_scoring_equals_one_pass_over_all_rows(output, activation):
    """score() walks the rows EVAL_BATCH at a time; the result must be the one-pass J(θ)
    of the configured network: the row-weighted mean of the data term plus (λ/2n) Σ θ²
    with n the *training* size."""
    rng = np.random.default_rng(0)
    rows = 2 * EVAL_BATCH + 357  # three batches, the last one short
    X = rng.random((rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, rows)
    cfg = make_config(l2=30.0, output=output, activation=activation)
    params = init_params(8, cfg.activation, np.random.default_rng(1))
    n_train = 120  # differs from the scored row count, as validation does

    cost, accuracy, predicted = score(params, X, y, cfg, n_train)

    cache = forward(params, X, cfg.activation, cfg.output)
    expected_labels = cache.Z3.argmax(axis=1)
    expected_cost = data_cost(cache.Z3, y, cfg.output, cache.log_normaliser)
    expected_cost += l2_penalty(params, cfg.l2, n_train)
    np.testing.assert_array_equal(predicted, expected_labels)
    assert predicted.dtype == np.int64  # labels, usable as indices (confusion matrix)
    assert accuracy == pytest.approx(np.mean(expected_labels == y))
    assert cost == pytest.approx(expected_cost, rel=1e-5)
    assert l2_penalty(params, cfg.l2, n_train) > 0.01 * cost  # the penalty term is seen


def test_scoring_no_rows_gives_nan_not_an_error():
    cfg = make_config()
    params = init_params(8, cfg.activation, np.random.default_rng(1))
    cost, accuracy, predicted = score(
        params, np.empty((0, 784), np.float32), np.empty(0, np.uint8), cfg, 10
    )
    assert np.isnan(cost)
    assert np.isnan(accuracy)
    assert predicted.shape == (0,)
    assert predicted.dtype == np.int64


def test_epoch_records_agree_with_the_batches_they_summarise():
    """train_cost/accuracy are the row-weighted means over the epoch's batches (as
    on_batch saw them) plus the L2 term; validation figures are score() on the
    validation set; the throughput is images over seconds."""
    cfg = make_config(epochs=2, batch_size=50, l2=20.0, learning_rate=0.3)
    data = synthetic_data(n=230, v=40)
    calls: list[tuple[int, int, int, float, float]] = []

    def on_batch(epoch, done, total, cost, accuracy):
        calls.append((epoch, done, total, cost, accuracy))

    started = time.perf_counter()
    for record, params in train(cfg, data, on_batch=on_batch):
        elapsed = time.perf_counter() - started
        mine = [c for c in calls if c[0] == record.epoch]
        # 230 rows in batches of 50: 50, 100, 150, 200, then the short batch of 30
        assert [c[1] for c in mine] == [50, 100, 150, 200, 230]
        assert {c[2] for c in mine} == {230}
        sizes = np.diff([0] + [c[1] for c in mine])
        mean_cost = sum(c[3] * m for c, m in zip(mine, sizes, strict=True)) / 230
        mean_accuracy = sum(c[4] * m for c, m in zip(mine, sizes, strict=True)) / 230
        penalty = l2_penalty(params, cfg.l2, 230)
        assert penalty > 0.01 * mean_cost
        assert record.train_cost == pytest.approx(mean_cost + penalty, rel=1e-6)
        assert record.train_accuracy == pytest.approx(mean_accuracy)
        val_cost, val_accuracy, _ = score(params, data.X_val, data.y_val, cfg, 230)
        assert record.validation_cost == pytest.approx(val_cost)
        assert record.validation_accuracy == pytest.approx(val_accuracy)
        assert 0 < record.seconds <= elapsed
        assert record.images_per_second == pytest.approx(230 / record.seconds)
        assert record.to_dict()["train_cost"] == record.train_cost
        started = time.perf_counter()
    assert [c[0] for c in calls] == [1] * 5 + [2] * 5


def test_records_count_epochs_from_where_the_state_stands():
    cfg = make_config(epochs=4)
    state = TrainState.start(cfg)
    state.epoch = 2  # as a resumed run after two epochs
    history = [record for record, _ in train(cfg, synthetic_data(), state=state)]
    assert [r.epoch for r in history] == [3, 4]
    assert state.epoch == 4


def test_given_parameters_are_where_training_starts():
    """train(params=θ) fine-tunes θ: the same as a fresh state whose parameters are θ."""
    cfg = make_config(epochs=1, optimizer="nesterov", momentum=0.9)
    data = synthetic_data()
    start = init_params(8, cfg.activation, np.random.default_rng(99))

    given = start.copy()
    for _ in train(cfg, data, params=given):
        pass

    state = TrainState.start(cfg)
    state.params = start.copy()
    from digitnet.nn.optim import make_optimizer

    state.optimizer = make_optimizer(cfg.optimizer, state.params, cfg.momentum)
    for _ in train(cfg, data, state=state):
        pass
    for name, array in state.params.arrays().items():
        np.testing.assert_array_equal(getattr(given, name), array, err_msg=name)

    fresh = TrainState.start(cfg)
    for _ in train(cfg, data, state=fresh):
        pass
    assert not np.array_equal(fresh.params.W1, given.W1)


def test_without_a_validation_set_early_stopping_never_ends_the_run():
    cfg = make_config(epochs=4, early_stopping=1, learning_rate=1e-12, momentum=0.0)
    history = [r for r, _ in train(cfg, no_validation(synthetic_data()))]
    assert [r.epoch for r in history] == [1, 2, 3, 4]
    assert all(np.isnan(r.validation_accuracy) for r in history)


def test_patience_of_one_stops_after_the_first_epoch_without_improvement():
    cfg = make_config(epochs=6, early_stopping=1, learning_rate=1e-12, momentum=0.0)
    state = TrainState.start(cfg)
    history = [r for r, _ in train(cfg, synthetic_data(), state=state)]
    assert [r.epoch for r in history] == [1, 2]
    assert state.best_epoch == 1
    assert state.best_validation_accuracy == history[0].validation_accuracy


@pytest.mark.parametrize("patience", [1, 3])
def test_should_stop_counts_epochs_since_the_best(patience):
    state = TrainState.start(make_config())
    state.best_epoch = 4
    state.epoch = 4 + patience - 1
    assert not state.should_stop(patience)
    state.epoch = 4 + patience
    assert state.should_stop(patience)
    assert not state.should_stop(0)  # 0: early stopping off


def test_dropout_mask_keeps_units_with_probability_one_minus_p_scaled_up():
    p = 0.25
    mask = dropout_mask(np.random.default_rng(0), (400, 500), p)
    assert mask.dtype == np.float32
    assert mask.shape == (400, 500)
    np.testing.assert_array_equal(np.unique(mask), np.float32([0, 1 / (1 - p)]))
    kept = np.count_nonzero(mask) / mask.size
    assert kept == pytest.approx(1 - p, abs=0.005)
    assert mask.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps E[a] unchanged


def test_a_non_finite_cost_stops_the_run_naming_the_epoch_and_rate():
    """Parameters that are already broken fail on the first batch, and the message names
    the rate the schedule gives at the start of epoch 1 (step schedule: η₀ there)."""
    cfg = make_config(epochs=3, learning_rate=0.4, lr_schedule="step", lr_step_epochs=1)
    broken = init_params(8, cfg.activation, np.random.default_rng(0))
    broken.W2[...] = np.nan
    with pytest.raises(TrainingError, match=r"in epoch 1 — lower the learning rate \(now 0\.4\)"):
        for _ in train(cfg, synthetic_data(), params=broken):
            pass


def test_divergence_in_a_later_step_names_the_rate_then():
    cfg = make_config(epochs=50, learning_rate=1e3, activation="relu", l2=2.0)
    # The runner silences numpy's overflow warnings the same way (runner.py).
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        pytest.raises(TrainingError, match=r"became (nan|inf) in epoch \d+ .*\(now 1e\+03\)"),
    ):
        for _ in train(cfg, synthetic_data()):
            pass


def test_an_empty_training_set_is_refused():
    data = synthetic_data()
    empty = TrainingData(
        X_train=data.X_train[:0], y_train=data.y_train[:0], X_val=data.X_val, y_val=data.y_val
    )
    with pytest.raises(TrainingError) as info:
        next(train(make_config(), empty))
    assert str(info.value) == (
        "no training images left after the validation split — lower validation_size"
    )


def test_a_batch_larger_than_the_training_set_is_one_batch_per_epoch():
    cfg = make_config(epochs=1, batch_size=1000)
    done = []
    for _ in train(cfg, synthetic_data(n=240), on_batch=lambda *c: done.append(c[1])):
        pass
    assert done == [240]


def test_the_learning_rate_moves_within_an_epoch():
    """η is asked for at (epoch − 1) + (step + 1)/steps: with a warm-up over two epochs of
    four steps each, the record after epoch 1 holds η₀/2 (the ramp's middle)."""
    cfg = make_config(epochs=3, batch_size=60, learning_rate=0.2, lr_warmup_epochs=2.0)
    history = [r for r, _ in train(cfg, synthetic_data(n=240))]
    schedule = Schedule.from_config(cfg)
    assert history[0].learning_rate == pytest.approx(0.1)
    assert [r.learning_rate for r in history] == [
        pytest.approx(schedule.lr_at(e)) for e in (1, 2, 3)
    ]


def test_the_distortion_worker_ends_with_the_run():
    cfg = make_config(epochs=3, augment_shift=1.0)

    def workers():
        return [t for t in threading.enumerate() if t.name.startswith("digitnet-distort")]

    before = len(workers())
    run = train(cfg, synthetic_data())
    next(run)
    run.close()  # the caller stops early (Ctrl-C, early stopping in the runner)
    assert len(workers()) == before
    for _ in train(cfg, synthetic_data()):
        pass
    assert len(workers()) == before


def test_a_fresh_state_draws_from_the_seed():
    cfg = make_config(seed=12)
    a, b = TrainState.start(cfg), TrainState.start(cfg)
    np.testing.assert_array_equal(a.params.W1, b.params.W1)
    assert a.epoch == 0
    assert a.best_epoch == 0
    assert a.best_validation_accuracy < 0  # any real accuracy beats it
    other = TrainState.start(make_config(seed=13))
    assert not np.array_equal(a.params.W1, other.params.W1)


def test_a_state_built_without_a_distortion_generator_draws_it_from_the_seed():
    """TrainState's distortion_rng=None means "batches.distortion_rng(seed)": a state
    built by hand that way trains exactly as TrainState.start does."""
    cfg = make_config(epochs=2, augment_shift=1.0, augment_rotate=10.0)
    data = synthetic_data()
    started = TrainState.start(cfg)
    for _ in train(cfg, data, state=started):
        pass
    fresh = TrainState.start(cfg)
    by_hand = TrainState(epoch=0, params=fresh.params, optimizer=fresh.optimizer, rng=fresh.rng)
    for _ in train(cfg, data, state=by_hand):
        pass
    np.testing.assert_array_equal(by_hand.params.W1, started.params.W1)
    assert by_hand.distortion_rng is not None


def test_dropout_gives_each_batch_a_mask_per_example_and_hidden_unit(monkeypatch):
    """The loop hands the forward pass an (m, H) mask of 0 and 1/(1 − p), about p of it
    zero, for every batch; without dropout it hands none. (A mask left out, or drawn as
    one number for the whole batch, still changes θ, so the final θ cannot tell.)"""
    from digitnet.training.step import Step

    seen = []
    measure = Step.measure

    def spy(self, A1, y, mask=None):
        seen.append((len(y), None if mask is None else mask.copy()))
        return measure(self, A1, y, mask)

    monkeypatch.setattr(Step, "measure", spy)
    p, hidden = 0.4, 50
    for _ in train(
        make_config(epochs=1, batch_size=100, hidden_size=hidden, dropout=p), synthetic_data(n=240)
    ):
        pass
    assert [m for m, _ in seen] == [100, 100, 40]
    for m, mask in seen:
        assert mask is not None
        assert mask.shape == (m, hidden)
        np.testing.assert_array_equal(np.unique(mask), np.float32([0, 1 / (1 - p)]))
    dropped = np.mean(np.concatenate([mask.ravel() == 0 for _, mask in seen]))
    assert dropped == pytest.approx(p, abs=0.03)

    seen.clear()
    for _ in train(make_config(epochs=1, batch_size=100), synthetic_data(n=240)):
        pass
    assert [mask for _, mask in seen] == [None, None, None]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_fresh_state_scales_its_weights_for_the_activation(activation):
    """He's √(2/n_in) for relu, Glorot's for tanh (network.init_params): start() must
    ask for the configured activation's scale, not the sigmoid default."""
    cfg = make_config(activation=activation, seed=3)
    expected = init_params(8, activation, np.random.default_rng(3))
    np.testing.assert_array_equal(TrainState.start(cfg).params.W1, expected.W1)
