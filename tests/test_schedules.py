"""Learning-rate schedules give the rates their formulas promise."""

from __future__ import annotations

import math

import pytest

from digitnet import config
from digitnet.errors import ConfigError
from digitnet.nn.schedules import Schedule


def test_constant_is_constant():
    s = Schedule(kind="constant", learning_rate=0.3)
    assert [s.lr_at(t) for t in (0, 0.5, 7, 100)] == [0.3] * 4


def test_step_decays_by_gamma_every_s_epochs():
    s = Schedule(kind="step", learning_rate=1.0, decay=0.5, step_epochs=10)
    assert s.lr_at(0) == 1.0
    assert s.lr_at(9.99) == 1.0
    assert s.lr_at(10) == 0.5
    assert s.lr_at(25) == 0.25


def test_exponential_decays_by_gamma_per_epoch_smoothly():
    s = Schedule(kind="exponential", learning_rate=0.2, decay=0.9)
    assert s.lr_at(0) == pytest.approx(0.2)
    assert s.lr_at(1) == pytest.approx(0.18)
    assert s.lr_at(2.5) == pytest.approx(0.2 * 0.9**2.5)


def test_cosine_goes_from_eta0_through_the_middle_to_eta_min():
    s = Schedule(kind="cosine", learning_rate=0.1, epochs=20, min_learning_rate=0.01)
    assert s.lr_at(0) == pytest.approx(0.1)
    assert s.lr_at(10) == pytest.approx(0.055)  # halfway: the mean of η₀ and η_min
    assert s.lr_at(5) == pytest.approx(0.01 + 0.045 * (1 + math.cos(math.pi / 4)))
    assert s.lr_at(20) == pytest.approx(0.01)
    assert s.lr_at(25) == pytest.approx(0.01)  # past the end it stays at the floor


def test_warmup_ramps_linearly_then_hands_over():
    s = Schedule(kind="constant", learning_rate=0.4, warmup_epochs=2)
    assert s.lr_at(0) == 0.0
    assert s.lr_at(0.5) == pytest.approx(0.1)
    assert s.lr_at(1) == pytest.approx(0.2)
    assert s.lr_at(2) == pytest.approx(0.4)
    assert s.lr_at(3) == pytest.approx(0.4)


def test_cosine_with_warmup_decays_over_the_remaining_epochs():
    s = Schedule(kind="cosine", learning_rate=1.0, epochs=12, warmup_epochs=2)
    assert s.lr_at(1) == pytest.approx(0.5)  # ramping up
    assert s.lr_at(2) == pytest.approx(1.0)  # peak
    assert s.lr_at(7) == pytest.approx(0.5)  # halfway through the 10 decay epochs
    assert s.lr_at(12) == pytest.approx(0.0, abs=1e-12)


def test_from_config_reads_the_schedule_keys():
    c = config.apply(
        config.Config(),
        {"lr_schedule": "step", "learning_rate": 0.2, "lr_decay": 0.5, "lr_step_epochs": 3},
        "test",
    )
    s = Schedule.from_config(c)
    assert s.lr_at(2.9) == pytest.approx(0.2)
    assert s.lr_at(3) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("key", "value"),
    [("lr_schedule", "linear"), ("lr_decay", 0.0), ("lr_decay", 1.5), ("lr_warmup_epochs", -1)],
)
def test_bad_schedule_settings_are_config_errors(key, value):
    with pytest.raises(ConfigError, match=key):
        config.apply(config.Config(), {key: value}, "test")
