"""The training loop's options: early stopping, the per-step schedule, the new config keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from toydata import synthetic_data

from digitnet import config
from digitnet.errors import ConfigError
from digitnet.nn.schedules import Schedule
from digitnet.training.train import TrainState, train


def records(settings):
    cfg = config.apply(config.Config(), settings, "test")
    state = TrainState.start(cfg)
    return [r for r, _ in train(cfg, synthetic_data(), state=state)], state


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # η so small that validation accuracy never moves after epoch 1.
    frozen = {"hidden_size": 8, "epochs": 10, "learning_rate": 1e-12, "momentum": 0.0}
    stopped, state = records({**frozen, "early_stopping": 2})
    assert [r.epoch for r in stopped] == [1, 2, 3]
    assert state.best_epoch == 1
    full, _ = records({**frozen, "early_stopping": 0})
    assert len(full) == 10


def test_early_stopping_does_not_stop_a_run_that_keeps_improving():
    learning, _ = records({"hidden_size": 16, "epochs": 4, "early_stopping": 1, "seed": 2})
    accuracies = [r.validation_accuracy for r in learning]
    stopped_at = len(learning)
    # Either all epochs ran, or the last one did not beat the best of those before it.
    assert stopped_at == 4 or accuracies[-1] <= max(accuracies[:-1])


def test_epoch_records_carry_the_scheduled_rate_at_the_end_of_the_epoch():
    settings = {"hidden_size": 8, "epochs": 3, "lr_schedule": "cosine", "learning_rate": 0.2}
    history, _ = records(settings)
    schedule = Schedule(kind="cosine", learning_rate=0.2, epochs=3)
    for r in history:
        assert r.learning_rate == pytest.approx(schedule.lr_at(r.epoch))
    assert history[-1].learning_rate == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("optimizer", "adam"),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("early_stopping", -1),
        ("augment_scale", 1.0),
        ("elastic_sigma", 0.0),
        ("elastic_alpha", -3.0),
    ],
)
def test_out_of_range_training_options_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        config.apply(config.Config(), {key: value}, "test")


CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads_and_states_what_it_reaches(path):
    config.load(path)
    text = path.read_text()
    assert "Measured here" in text or "Reaches" in text  # the figure measured on this machine
    if path.stem not in ("default", "fast", "best", "reader"):  # the project's own recipes
        assert "Published" in text or "reaches 0.7%" in text  # presets name their reference
