"""The --resume file itself (training/resume.py): what it holds on disk, that every field
comes back, where it is found, and that a damaged or older file is refused in one line
(issue 15: mutation testing found these unchecked). Tiny synthetic data, in seconds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from toydata import synthetic_data

from digitnet import checkpoint, config
from digitnet.errors import CheckpointError
from digitnet.training import resume
from digitnet.training.train import TrainState, train

SETTINGS = {"hidden_size": 6, "epochs": 2, "batch_size": 40, "optimizer": "nesterov", "seed": 5}


@pytest.fixture
def saved(tmp_path: Path):
    """A run of two epochs saved as the runner saves it, with its config, state and history."""
    cfg = config.apply(config.Config(), {**SETTINGS, "augment_shift": 1.0}, "test")
    state = TrainState.start(cfg)
    history = [record for record, _ in train(cfg, synthetic_data(), state=state)]
    state.best_epoch, state.best_validation_accuracy = 1, 0.4375
    path = tmp_path / "m.resume.npz"
    resume.save(path, cfg, state, history, history[0], 12.5)
    return path, cfg, state, history


def rewrite(path: Path, **changes) -> None:
    """Save the file again with some of its training-state fields changed (None: removed)."""
    ckpt = checkpoint.load(path)
    fields = dict(ckpt.extra[resume.RESUME_KEY])
    for key, value in changes.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    checkpoint.save(path, dataclasses.replace(ckpt, extra={resume.RESUME_KEY: fields}))


def test_the_file_holds_the_documented_fields(saved):
    """The layout is a file format: files written by an earlier run of the same format
    version must keep loading, so the key names and the version are pinned here."""
    path, _cfg, state, history = saved
    ckpt = checkpoint.load(path)
    fields = ckpt.extra["resume"]
    assert fields["format"] == 2  # 2 since the distortions got their own generator
    assert fields["epoch"] == 2
    assert fields["optimizer"] == "nesterov"
    assert fields["rng"] == state.rng.bit_generator.state
    assert state.distortion_rng is not None
    assert fields["distortion_rng"] == state.distortion_rng.bit_generator.state
    assert fields["best_epoch"] == 1
    assert fields["best_validation_accuracy"] == 0.4375
    assert fields["history"] == [r.to_dict() for r in history]
    assert fields["best"] == history[0].to_dict()
    assert fields["train_seconds"] == 12.5
    # what `digitnet info` shows of it: the latest epoch, and that it can be resumed
    assert ckpt.metrics == {"epoch": 2, "resumable": True}
    assert set(ckpt.arrays) == set(state.optimizer.state_arrays())


def test_every_field_comes_back(saved):
    path, cfg, state, history = saved
    back = resume.load(path)
    assert back.config == cfg
    assert back.state.epoch == 2
    assert back.state.best_epoch == 1
    assert back.state.best_validation_accuracy == 0.4375
    assert back.history == history
    assert back.best == history[0]
    assert back.train_seconds == 12.5
    assert back.state.optimizer.name == "nesterov"
    for name, array in state.optimizer.state_arrays().items():
        np.testing.assert_array_equal(back.state.optimizer.state_arrays()[name], array)
    for name, array in state.params.arrays().items():
        np.testing.assert_array_equal(getattr(back.state.params, name), array, err_msg=name)
    # the generators continue where the run's stopped
    assert back.state.rng.random() == state.rng.random()
    assert state.distortion_rng is not None
    assert back.state.distortion_rng is not None
    assert back.state.distortion_rng.random() == state.distortion_rng.random()


def test_a_run_without_a_best_epoch_comes_back_without_one(tmp_path):
    cfg = config.apply(config.Config(), SETTINGS, "test")
    state = TrainState.start(cfg)
    path = tmp_path / "m.resume.npz"
    resume.save(path, cfg, state, [], None, 0.0)
    back = resume.load(path)
    assert back.best is None
    assert back.history == []
    assert back.state.epoch == 0


def test_the_best_checkpoint_leads_to_its_resume_file(saved):
    path, cfg, state, _ = saved
    best = path.with_name("m.npz")
    checkpoint.save(best, checkpoint.Checkpoint(params=state.params, config=cfg))
    assert resume.load(best).state.epoch == 2


def test_a_resume_file_is_read_as_given_even_with_a_sibling(saved, tmp_path):
    """m.resume.npz is read itself, not its neighbour's state (m.resume.resume.npz)."""
    path, cfg, _, history = saved
    other = TrainState.start(cfg)
    resume.save(path.with_name("m.resume.resume.npz"), cfg, other, [], None, 0.0)
    assert resume.load(path).history == history


def test_a_checkpoint_without_state_or_sibling_is_refused_by_name(tmp_path, saved):
    _, cfg, state, _ = saved
    plain = tmp_path / "plain.npz"
    checkpoint.save(plain, checkpoint.Checkpoint(params=state.params, config=cfg))
    with pytest.raises(CheckpointError) as info:
        resume.load(plain)
    assert str(info.value) == (
        f"{plain} holds no training state to resume — pass the .resume.npz file"
        " written beside the checkpoint"
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        # before the distortions' own generator: it cannot continue exactly
        ({"format": 1}, "('format')"),
        ({"format": None}, "('format')"),
        ({"rng": None}, "('rng')"),  # a KeyError names the missing field
        ({"epoch": "two"}, "'two'"),  # ValueError
        ({"history": [{"epoch": 1, "unknown": 0.5}]}, "'unknown'"),  # TypeError
        ({"distortion_rng": None}, "('distortion_rng')"),
        ({"train_seconds": None}, "('train_seconds')"),
        ({"best": None}, "('best')"),
    ],
)
def test_a_damaged_or_older_state_is_refused_in_one_line(saved, changes, reason):
    path = saved[0]
    rewrite(path, **changes)
    with pytest.raises(CheckpointError) as info:
        resume.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: the saved training state is incomplete (")
    assert reason in message.removeprefix(str(path))
    assert message.endswith(") — start a new run")
    assert "\n" not in message


def test_the_message_names_the_file_actually_read(saved):
    """Given m.npz, the state comes from m.resume.npz: the error names that file."""
    path, cfg, state, _ = saved
    rewrite(path, epoch="two")
    best = path.with_name("m.npz")
    checkpoint.save(best, checkpoint.Checkpoint(params=state.params, config=cfg))
    with pytest.raises(CheckpointError, match=r"m\.resume\.npz: the saved training state"):
        resume.load(best)
