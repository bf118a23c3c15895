"""tune/interrupts.py: a Ctrl-C waits out Optuna's bookkeeping and lands at a safe point."""

from __future__ import annotations

import os
import signal

import pytest

from digitnet.tune.interrupts import SafePoints, held_at_safe_points


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_between_trials_waits_for_the_next_safe_point():
    with held_at_safe_points() as points:
        ctrl_c()  # not training: held, nothing raised here
        with pytest.raises(KeyboardInterrupt):
            points.check()
        points.check()  # raised once, then gone


def train_and_get_interrupted(points: SafePoints) -> None:
    with points.training_phase():
        ctrl_c()
        pytest.fail("the interrupt should have been raised inside training")


def test_a_ctrl_c_while_training_raises_at_once():
    with held_at_safe_points() as points, pytest.raises(KeyboardInterrupt):
        train_and_get_interrupted(points)


def test_a_ctrl_c_during_bookkeeping_is_raised_when_it_ends():
    done: list[str] = []

    def database_calls(points: SafePoints) -> None:
        with points.training_phase(), points.bookkeeping():
            ctrl_c()
            done.append("the end of the database calls")

    with held_at_safe_points() as points, pytest.raises(KeyboardInterrupt):
        database_calls(points)
    assert done == ["the end of the database calls"]


def test_a_held_ctrl_c_stops_the_next_trial_before_it_trains():
    points = SafePoints()
    points.handle(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        points.training_phase().__enter__()


def test_the_previous_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with held_at_safe_points():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
