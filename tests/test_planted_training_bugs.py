"""Training behaviours that small slips once changed without any fast test noticing
(issue 15): which images validate, λ's n, early stopping across --resume, the run record.

The CLI tests train on a tiny synthetic MNIST written here (60 images), in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from digitnet.cli import main
from digitnet.config import Config
from digitnet.data.inputs import TrainingData, split_validation, to_inputs
from digitnet.training import resume
from digitnet.training.train import TrainState, train
from digitnet.vocabulary import N_CLASSES, N_INPUTS


def test_validation_is_the_last_images_of_the_training_set() -> None:
    images = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    data = split_validation(images, labels, 3)
    assert data.y_val.tolist() == [7, 8, 9]
    assert data.y_train.tolist() == [0, 1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(data.X_val, to_inputs(images[7:]))


def test_l2_decay_per_step_uses_the_training_set_size_not_the_batch_size() -> None:
    """With a^(1) = 0 the data term gives ∂J/∂W1 = δ^(2)ᵀ a^(1) = 0, so plain SGD moves
    W1 by the L2 term alone: W1 ← W1 − η (λ/n) W1 each step, (1 − ηλ/n)^k after k steps
    (J(θ) = … + (λ/2n) Σ θ², n the training set's size). λ/m would decay 4× faster here."""
    n, m, eta, lam = 40, 10, 0.5, 4.0
    config = Config(
        hidden_size=6, learning_rate=eta, momentum=0.0, l2=lam, batch_size=m, epochs=1, seed=3
    )
    data = TrainingData(
        X_train=np.zeros((n, N_INPUTS), np.float32),
        y_train=(np.arange(n) % N_CLASSES).astype(np.uint8),
        X_val=np.zeros((5, N_INPUTS), np.float32),
        y_val=np.zeros(5, np.uint8),
    )
    W1_before = TrainState.start(config).params.W1.astype(np.float64)
    state = TrainState.start(config)
    for _ in train(config, data, state=state):
        pass
    steps = n // m
    expected = W1_before * (1 - eta * lam / n) ** steps
    np.testing.assert_allclose(state.params.W1, expected, rtol=1e-5, atol=1e-7)


def test_resume_state_keeps_early_stoppings_best_epoch(tmp_path: Path) -> None:
    from toydata import synthetic_data

    config = Config(hidden_size=8, epochs=3, batch_size=40, early_stopping=5, seed=1)
    state = TrainState.start(config)
    history = [record for record, _ in train(config, synthetic_data(), state=state)]
    state.best_epoch, state.best_validation_accuracy = 2, 0.625  # as if epoch 2 was the best
    path = tmp_path / "m.resume.npz"
    resume.save(path, config, state, history, history[1], 1.0)
    loaded = resume.load(path).state
    assert loaded.best_epoch == 2
    assert loaded.best_validation_accuracy == 0.625
    assert loaded.epoch == 3
    assert not loaded.should_stop(2)  # 3 − 2 < 2
    assert loaded.should_stop(1)


# ---------------------------------------------------------------------------
# through `digitnet train`, on a tiny synthetic MNIST


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """60 training and 10 test images (toydata.write_tiny_mnist) and a small config."""
    from toydata import write_tiny_mnist

    folder = write_tiny_mnist(tmp_path / "tiny")
    (tmp_path / "tiny.yaml").write_text(
        "validation_size: 20\nhidden_size: 6\nbatch_size: 10\nearly_stopping: 2\n"
        "learning_rate: 0.5\n",
        encoding="utf-8",
    )
    return folder


def train_cli(tiny: Path, *args: str) -> object:
    config = tiny.parent / "tiny.yaml"
    result = CliRunner().invoke(
        main, ["train", "--data-dir", str(tiny), "--config", str(config), "-q", *args]
    )
    assert result.exit_code == 0, result.output
    return result


def test_every_run_writes_its_run_record(tiny: Path, tmp_path: Path) -> None:
    output = tmp_path / "run" / "m.npz"
    train_cli(tiny, "--epochs", "2", "-o", str(output))
    record = json.loads((tmp_path / "run" / "m.run.json").read_text(encoding="utf-8"))
    history = json.loads((tmp_path / "run" / "m.history.json").read_text(encoding="utf-8"))
    assert record["config"]["hidden_size"] == 6
    assert record["config"]["epochs"] == 2
    assert len(history) == 2


def test_early_stopping_ends_a_resumed_run_where_an_uninterrupted_one_ends(
    tiny: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole" / "m.npz"
    train_cli(tiny, "--epochs", "12", "-o", str(whole))
    split = tmp_path / "split" / "m.npz"
    train_cli(tiny, "--epochs", "3", "-o", str(split))
    result = CliRunner().invoke(
        main,
        ["train", "--resume", str(split.with_name("m.resume.npz")), "--epochs", "12", "-q"],
    )
    assert result.exit_code == 0, result.output

    def epochs(path: Path) -> list[float]:
        history = json.loads(path.with_name("m.history.json").read_text(encoding="utf-8"))
        return [r["validation_accuracy"] for r in history]

    assert epochs(split) == epochs(whole)
    assert len(epochs(whole)) < 12  # early stopping did end it
