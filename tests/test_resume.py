"""--resume: an interrupted and resumed run ends with the same parameters as an
uninterrupted one (same seed), including optimiser, schedule, augmentation and dropout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from toydata import synthetic_data

from digitnet import config
from digitnet.cli import main
from digitnet.errors import CheckpointError
from digitnet.training import resume
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import TrainState, train

# Everything that carries state across epochs is switched on.
SETTINGS = {
    "hidden_size": 12,
    "activation": "relu",
    "epochs": 5,
    "batch_size": 32,
    "learning_rate": 0.05,
    "optimizer": "nesterov",
    "lr_schedule": "cosine",
    "lr_warmup_epochs": 1.5,
    "dropout": 0.3,
    "augment_rotate": 10.0,
    "augment_shift": 1.0,
    "elastic_alpha": 20.0,
    "seed": 11,
}


def final_params(cfg, data, state):
    for _record in train(cfg, data, state=state):
        pass
    return state.params


def test_interrupted_then_resumed_run_equals_uninterrupted_run(tmp_path):
    cfg = config.apply(config.Config(), SETTINGS, "test")
    data = synthetic_data()
    straight = final_params(cfg, data, TrainState.start(cfg))

    state = TrainState.start(cfg)
    history = []
    for record, _params in train(cfg, data, state=state):
        history.append(record)
        if record.epoch == 2:
            path = tmp_path / "model.resume.npz"
            resume.save(path, cfg, state, history, history[-1], 1.0)
            break  # "interrupted" after epoch 2
    del state
    resumed = resume.load(tmp_path / "model.resume.npz")
    assert resumed.state.epoch == 2
    assert [r.epoch for r in resumed.history] == [1, 2]
    assert resumed.config == cfg
    continued = final_params(resumed.config, data, resumed.state)

    for name, a in straight.arrays().items():
        np.testing.assert_array_equal(getattr(continued, name), a, err_msg=name)


def test_resume_differs_if_the_random_state_is_not_restored(tmp_path):
    # Guards the test above: without the saved random state the runs part ways.
    cfg = config.apply(config.Config(), SETTINGS, "test")
    data = synthetic_data()
    straight = final_params(cfg, data, TrainState.start(cfg))
    state = TrainState.start(cfg)
    for record, _ in train(cfg, data, state=state):
        if record.epoch == 2:
            break
    state.rng = np.random.default_rng(cfg.seed)
    continued = final_params(cfg, data, state)
    assert not np.array_equal(continued.W1, straight.W1)


def test_a_checkpoint_without_training_state_is_refused(tmp_path):
    from digitnet import checkpoint

    cfg = config.apply(config.Config(), SETTINGS, "test")
    state = TrainState.start(cfg)
    path = tmp_path / "plain.npz"
    checkpoint.save(path, checkpoint.Checkpoint(params=state.params, config=cfg))
    with pytest.raises(CheckpointError, match="no training state"):
        resume.load(path)


@pytest.mark.slow  # two short MNIST trainings: ~15 s on an idle machine
def test_cli_resume_continues_exactly(tmp_path, mnist_dir):
    """End to end on MNIST: 2 epochs, then `--resume … --epochs 3`, equals 3 epochs straight.

    A step schedule does not depend on the number of epochs, so extending the run
    with --epochs is the same as never having stopped.
    """
    conf = tmp_path / "tiny.yaml"
    conf.write_text(
        "hidden_size: 8\nvalidation_size: 50000\nbatch_size: 200\noptimizer: nesterov\n"
        "lr_schedule: step\nlr_step_epochs: 2\ndropout: 0.2\naugment_shift: 1\nseed: 3\n"
    )
    runner = CliRunner()
    common = ["--data-dir", str(mnist_dir), "-q"]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    out = runner.invoke(
        main, ["train", "--config", str(conf), "--epochs", "3", "-o", str(a), *common]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        main, ["train", "--config", str(conf), "--epochs", "2", "-o", str(b), *common]
    )
    assert out.exit_code == 0, out.output
    # No -o: a resumed run goes on writing beside the state it resumed (b.npz), not to
    # the default checkpoints/model.npz.
    state_file = tmp_path / "b.resume.npz"
    out = runner.invoke(main, ["train", "--resume", str(state_file), "--epochs", "3", *common])
    assert out.exit_code == 0, out.output
    straight, continued = resume.load(a), resume.load(b)
    assert continued.state.epoch == straight.state.epoch == 3
    for name, arr in straight.state.params.arrays().items():
        np.testing.assert_array_equal(getattr(continued.state.params, name), arr, err_msg=name)
    assert [r.epoch for r in continued.history] == [1, 2, 3]

    record = json.loads((tmp_path / "b.run.json").read_text())
    assert record["final"]["epochs_run"] == 3
    assert record["seed"] == 3
    assert record["resumed_from"] == str(state_file)
    assert "train-labels-idx1-ubyte.gz" in record["dataset"]["md5"]


def test_cli_resume_refuses_other_settings(tmp_path):
    out = CliRunner().invoke(
        main, ["train", "--resume", str(tmp_path / "x.npz"), "--hidden-size", "5"]
    )
    assert out.exit_code == 2
    assert "only --epochs and --data-dir" in out.output


def test_checkpoint_for_inverts_resume_path():
    best = Path("runs/model.npz")
    assert RunFiles.of(RunFiles(best).resume_state).checkpoint == best
    assert RunFiles.of(best).checkpoint == best


def test_resume_differs_if_the_distortions_generator_is_not_restored():
    # Guards the first test for the distortions' own stream (training/batches.py).
    cfg = config.apply(config.Config(), SETTINGS, "test")
    data = synthetic_data()
    straight = final_params(cfg, data, TrainState.start(cfg))
    state = TrainState.start(cfg)
    for record, _ in train(cfg, data, state=state):
        if record.epoch == 2:
            break
    state.distortion_rng = TrainState.start(cfg).distortion_rng
    continued = final_params(cfg, data, state)
    assert not np.array_equal(continued.W1, straight.W1)
