"""Training never leaves a bad checkpoint behind: divergence stops at once with
advice, non-finite parameters are never saved, the saved checkpoint is the best
epoch by validation accuracy, and interrupted runs (Ctrl-C, SIGKILL while
saving) leave only complete files and continue with `--resume`.

The interruption tests run `digitnet train` in real child processes on a small
synthetic dataset written in MNIST's file layout.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from ctrl_c import ctrl_c_reaches_child

from digitnet import checkpoint, config
from digitnet.data.inputs import split_validation
from digitnet.errors import CheckpointError, TrainingError
from digitnet.nn import network
from digitnet.training import resume, runner
from digitnet.training import step as step_module
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import score

N_TRAIN, N_TEST, N_VALIDATION = 700, 50, 100


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A learnable MNIST-layout dataset: the label is which of ten bands is bright."""
    folder = tmp_path_factory.mktemp("band-data")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 8 + 2 * (label // 2), 4 + 10 * (label % 2) : 14 + 10 * (label % 2)] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def settings(data_dir: Path, **changes: object) -> config.Config:
    values = {
        "data_dir": str(data_dir),
        "validation_size": N_VALIDATION,
        "hidden_size": 16,
        "batch_size": 50,
        "epochs": 4,
        "learning_rate": 0.5,
        "momentum": 0.5,
        "l2": 0.0,
        **changes,
    }
    return config.apply(config.Config(), values, "test")


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------
# In-process: divergence, non-finite parameters, best epoch


def test_saved_checkpoint_is_the_best_epoch_by_validation(data_dir: Path, tmp_path: Path) -> None:
    cfg = settings(data_dir, epochs=5, learning_rate=2.0, momentum=0.9)  # lively: not monotone
    output = tmp_path / "model.npz"
    result = runner.run(cfg, output, progress=False)
    accuracies = [r.validation_accuracy for r in result.history]
    best_epoch = 1 + int(np.argmax(accuracies))  # the first of equals, as the runner keeps
    saved = checkpoint.load(output)
    assert saved.metrics["best_epoch"] == best_epoch
    # the saved parameters really score what was recorded for that epoch
    from digitnet.data import idx

    images, labels = idx.load_split("mnist", data_dir, "train")
    data = split_validation(images, labels, N_VALIDATION)
    _, accuracy, _ = score(saved.params, data.X_val, data.y_val, saved.config, data.n_train)
    assert accuracy == pytest.approx(accuracies[best_epoch - 1], abs=1e-12)


def test_worse_later_epochs_never_replace_the_best(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From epoch 3 on, the epochs are made worse (output layer zeroed, validation
    accuracy recorded lower): the checkpoint saved at epoch 2 stays, byte for byte."""
    real_train = runner.train
    output = tmp_path / "model.npz"
    saved_after: dict[int, bytes] = {}

    def worse_after_two(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for record, params in real_train(*args, **kwargs):
            if record.epoch >= 3:
                params.W2[:] = 0.0
                params.b2[:] = 0.0
                record = dataclasses.replace(record, validation_accuracy=0.1)
            yield record, params

    monkeypatch.setattr(runner, "train", worse_after_two)
    result = runner.run(
        settings(data_dir, epochs=5),
        output,
        progress=False,
        on_epoch=lambda record, improved: saved_after.setdefault(record.epoch, output.read_bytes()),
    )
    assert result.best is not None
    assert result.best.epoch == 2
    assert saved_after[2] == saved_after[5]
    # After the last epoch the runner only adds the fitted temperature (training/calibrate.py):
    # the parameters are still epoch 2's.
    at_two = tmp_path / "at-two.npz"
    at_two.write_bytes(saved_after[2])
    final = checkpoint.load(output)
    for name, array in checkpoint.load(at_two).params.arrays().items():
        np.testing.assert_array_equal(final.params.arrays()[name], array)
    assert "temperature" in final.metrics
    assert checkpoint.load(output).metrics["best_epoch"] == 2
    assert float(np.abs(checkpoint.load(output).params.W2).sum()) > 0


def test_diverging_run_stops_at_once_with_advice_and_keeps_the_good_checkpoint(
    data_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "model.npz"
    runner.run(settings(data_dir, epochs=2), output, progress=False)
    good = output.read_bytes()
    epochs_seen: list[int] = []
    with pytest.raises(TrainingError) as info:
        runner.run(
            settings(data_dir, epochs=50, learning_rate=1e3, activation="relu", l2=2.0),
            output,
            progress=False,
            on_epoch=lambda record, improved: epochs_seen.append(record.epoch),
        )
    message = str(info.value)
    assert "lower the learning rate (now 1e+03)" in message
    assert "\n" not in message
    assert epochs_seen == []  # it stopped in the first epoch, not after 50
    assert output.read_bytes() == good  # nothing worse replaced it
    assert not [p for p in listing(tmp_path) if p.endswith(".tmp")]


def test_divergence_in_a_later_epoch_keeps_the_last_good_epoch(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Epoch 1 trains; then the cost turns NaN (simulated): the epoch-1 checkpoint
    and resumable state stay, loadable, and the error gives the advice."""
    real_cost = step_module.data_cost
    diverged = {"now": False}

    def cost(*args: object, **kwargs: object) -> float:
        return float("nan") if diverged["now"] else real_cost(*args, **kwargs)

    monkeypatch.setattr(step_module, "data_cost", cost)
    output = tmp_path / "model.npz"

    def after_epoch(record: object, improved: bool) -> None:
        diverged["now"] = True

    with pytest.raises(TrainingError, match="the cost became nan in epoch 2 — lower the"):
        runner.run(settings(data_dir, epochs=5), output, progress=False, on_epoch=after_epoch)
    assert checkpoint.load(output).metrics["best_epoch"] == 1
    assert resume.load(RunFiles(output).resume_state).state.epoch == 1


def test_non_finite_parameters_are_never_saved(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    params = network.init_params(8, "sigmoid", np.random.default_rng(0))
    cfg = config.Config(hidden_size=8)
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=cfg))
    before = path.read_bytes()
    params.W2[3, 1] = np.inf
    with pytest.raises(CheckpointError, match=r"W2 holds NaN or infinite values .* lower the"):
        checkpoint.save(path, checkpoint.Checkpoint(params=params, config=cfg))
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["model.npz"]


def test_diverging_cli_run_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    """No RuntimeWarning lines from numpy ahead of the error: one `Error:` line."""
    from click.testing import CliRunner

    from digitnet.cli import main

    args = ["train", "--data-dir", str(data_dir), "--output", str(tmp_path / "m.npz"), "-q"]
    cfg = tmp_path / "diverge.yaml"
    cfg.write_text(
        f"validation_size: {N_VALIDATION}\nhidden_size: 16\nactivation: relu\n"
        "learning_rate: 10000\nepochs: 3\nbatch_size: 50\n"
    )
    result = CliRunner().invoke(main, [*args, "--config", str(cfg)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert "lower the learning rate" in errors[0]
    # The test data is a subset of MNIST, so its checksum warning may come first (once per
    # process, so only when this test is the first to read it) beside the header line;
    # nothing else may (numpy's RuntimeWarnings, say).
    others = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith(("Error: ", "training 784-"))
        and "differs from the published file" not in line
    ]
    assert others == []
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------------------
# Real processes: Ctrl-C, and SIGKILL while saving


TRAIN = [sys.executable, "-m", "digitnet", "train", "--quiet"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITNET_")}
    env["PYTHONWARNINGS"] = "ignore"  # the md5 warning is logging; keep stderr to our lines
    return env


def long_config(folder: Path) -> Path:
    path = folder / "long.yaml"
    path.write_text(
        f"validation_size: {N_VALIDATION}\nhidden_size: 16\nbatch_size: 50\n"
        "learning_rate: 0.5\nmomentum: 0.5\nl2: 0.0\nepochs: 5000\n"
    )
    return path


def wait_for_epoch(state_file: Path, epoch: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 180  # generous: a loaded CI machine starts Python slowly
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child made no progress"
        if state_file.exists():
            try:
                done = resume.load(state_file).state.epoch
            except CheckpointError:  # pragma: no cover - would mean a torn file
                raise
            if done >= epoch:
                return done
        time.sleep(0.02)


def test_ctrl_c_exits_cleanly_and_the_run_resumes(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = out / "model.npz"
    state_file = RunFiles(model).resume_state
    cmd = [sys.executable, "-m", "digitnet", "train", "--quiet", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        [*cmd, "--config", str(long_config(tmp_path)), "--output", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=tmp_path,
        preexec_fn=ctrl_c_reaches_child,  # even when this run ignores SIGINT (ctrl_c.py)
    )
    wait_for_epoch(state_file, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error: interrupted after epoch "), stderr
    assert last.endswith(f"which is saved — continue with `digitnet train --resume {state_file}`")
    saved_epoch = int(last.split("epoch ")[1].split(",")[0])
    assert resume.load(state_file).state.epoch == saved_epoch
    checkpoint.load(model)  # the best checkpoint is complete too
    assert not [p for p in listing(out) if p.endswith(".tmp")]

    more = saved_epoch + 2
    done = subprocess.run(
        [*cmd, "--resume", str(state_file), "--epochs", str(more), "--output", str(model)],
        capture_output=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    history = json.loads(RunFiles(model).history.read_text())
    assert [r["epoch"] for r in history] == list(range(1, more + 1))


KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import io, sys, time
    from pathlib import Path
    import numpy as np
    from digitnet.cli import main

    flag, real_savez, calls = Path(sys.argv[1]), np.savez, [0]

    def savez_then_hang(handle, **arrays):
        # the 5th save of the run: write half of the archive, then wait to be killed
        calls[0] += 1
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        data = buffer.getvalue()
        handle.write(data[: len(data) // 2])
        handle.flush()
        if calls[0] == 5:
            flag.touch()
            time.sleep(600)
        handle.write(data[len(data) // 2 :])

    np.savez = savez_then_hang
    main(sys.argv[2:])
    """
)


def test_sigkill_while_saving_leaves_complete_files_and_the_next_run_goes_on(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    model = out / "model.npz"
    state_file = RunFiles(model).resume_state
    flag = tmp_path / "saving-now"
    args = ["train", "--quiet", "--data-dir", str(data_dir), "--output", str(model)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_WHILE_SAVING,
            str(flag),
            *args,
            "--config",
            str(long_config(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # The file being written is a hidden temp; every file under a real name is whole.
    temps = [p for p in listing(out) if p.endswith(".tmp")]
    assert len(temps) == 1
    assert temps[0].startswith(".")
    assert f".{proc.pid}." in temps[0]
    saved = checkpoint.load(model)
    state = resume.load(state_file)
    assert state.state.epoch >= 1
    assert saved.metrics["best_epoch"] <= state.state.epoch

    # The next run continues from the saved state by itself and cleans up the
    # dead process's temp file.
    more = str(state.state.epoch + 2)
    rerun = subprocess.run(
        [*TRAIN, "--resume", str(state_file), "--epochs", more, "--output", str(model)],
        capture_output=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert not [p for p in listing(out) if p.endswith(".tmp")]
    assert resume.load(state_file).state.epoch == state.state.epoch + 2
    checkpoint.load(model)


def test_ctrl_c_before_the_first_epoch_ignores_an_older_state_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from digitnet.cli import main

    model = tmp_path / "model.npz"
    runner.run(settings(data_dir, epochs=1), model, progress=False)  # an earlier run's state
    old = RunFiles(model).resume_state
    os.utime(old, (time.time() - 60, time.time() - 60))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    args = ["train", "-q", "--data-dir", str(data_dir), "--output", str(model)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == (
        "Error: interrupted before the first epoch finished, so there is nothing to resume"
        " — run the command again"
    )
    # --epochs 2: the saved run finished its 1 epoch, and a resume with nothing to do is refused
    again = ["train", "-q", "--resume", str(old), "--epochs", "2", "--output", str(model)]
    result = CliRunner().invoke(main, again)
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == (
        "Error: interrupted before an epoch finished, so nothing new was saved — continue with"
        f" `digitnet train --resume {old}`"
    )
