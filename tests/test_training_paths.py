"""`digitnet train` and `lr-find` on the less-travelled paths (issue 15, items 2, 11, 12, 13):
a resume with nothing to do, logs without progress-bar frames, a range test too short to
suggest anything, "1 epoch". Through the CLI, on a tiny synthetic MNIST (toydata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from toydata import write_tiny_mnist

from digitnet.cli import main


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = write_tiny_mnist(tmp_path / "tiny")
    (tmp_path / "tiny.yaml").write_text(
        "validation_size: 20\nhidden_size: 6\nbatch_size: 10\nlearning_rate: 0.5\n",
        encoding="utf-8",
    )
    return folder


def train(tiny: Path, *args: str) -> Result:
    config = tiny.parent / "tiny.yaml"
    return CliRunner().invoke(
        main, ["train", "--data-dir", str(tiny), "--config", str(config), *args]
    )


def test_resume_with_nothing_left_to_do_says_so_and_leaves_the_run_alone(
    tiny: Path, tmp_path: Path
) -> None:
    model = tmp_path / "run" / "m.npz"
    assert train(tiny, "--epochs", "3", "-q", "-o", str(model)).exit_code == 0
    state = model.with_name("m.resume.npz")
    files = [model.with_name(n) for n in ("m.run.json", "m.history.json", "m.npz")]
    before = [f.read_bytes() for f in files]
    for epochs in (["--epochs", "2"], ["--epochs", "3"], []):
        result = CliRunner().invoke(main, ["train", "--resume", str(state), "-q", *epochs])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(f"Error: {state} has already trained 3 epochs")
        assert last.endswith("to train longer pass --epochs N above 3, e.g. --epochs 6")
        assert "trained in" not in result.output
    assert [f.read_bytes() for f in files] == before
    assert json.loads(files[0].read_text(encoding="utf-8"))["config"]["epochs"] == 3


def test_a_log_gets_epoch_lines_not_progress_bar_frames(tiny: Path, tmp_path: Path) -> None:
    result = train(tiny, "--epochs", "2", "-o", str(tmp_path / "m.npz"))  # no --quiet
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output  # CliRunner's stderr is a pipe, not a terminal
    assert "img/s]" not in result.output
    epoch_lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]


def test_one_epoch_is_singular(tiny: Path, tmp_path: Path) -> None:
    result = train(tiny, "--epochs", "1", "-q", "-o", str(tmp_path / "m.npz"))
    assert result.exit_code == 0, result.output
    assert " for 1 epoch on mnist " in result.stderr
    assert "1 epochs" not in result.output


def lr_find(tiny: Path, tmp_path: Path, steps: int, *more: str) -> Result:
    config = tiny.parent / "tiny.yaml"
    args = ("lr-find", "--data-dir", str(tiny), "--config", str(config), "--steps", str(steps))
    return CliRunner().invoke(main, [*args, "-o", str(tmp_path / f"lr{steps}.png"), *more])


def test_lr_find_too_short_to_suggest_says_so(tiny: Path, tmp_path: Path) -> None:
    result = lr_find(tiny, tmp_path, 10)
    assert result.exit_code == 0, result.output
    assert "suggested learning_rate" not in result.stdout
    assert "Warning: the cost never clearly fell" in result.stderr
    assert "too short to suggest a learning rate — run it with more --steps" in result.stderr
    data = json.loads(lr_find(tiny, tmp_path, 10, "--json").stdout)
    assert data["suggested_learning_rate"] is None
    assert "too short" in data["warning"]


def test_lr_find_with_enough_steps_suggests(tiny: Path, tmp_path: Path) -> None:
    result = lr_find(tiny, tmp_path, 300)
    assert result.exit_code == 0, result.output
    assert "suggested learning_rate: " in result.stdout
    assert "too short" not in result.output


def test_an_interrupted_run_leaves_its_run_record_and_learning_curve(
    tiny: Path, tmp_path: Path
) -> None:
    from digitnet import config as config_module
    from digitnet.training import runner
    from digitnet.training.runfiles import RunFiles

    config = config_module.load(tiny.parent / "tiny.yaml", {"epochs": 10, "data_dir": str(tiny)})
    files = RunFiles(tmp_path / "run" / "m.npz")

    def ctrl_c_after_epoch_2(record: object, improved: bool) -> None:
        if record.epoch == 2:  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(config, files.checkpoint, progress=False, on_epoch=ctrl_c_after_epoch_2)
    record = json.loads(files.run_record.read_text(encoding="utf-8"))
    assert record["status"] == "interrupted"
    assert record["final"]["epochs_run"] == 2
    assert record["final"]["best_epoch"] in (1, 2)
    assert record["config"]["epochs"] == 10
    assert files.learning_curve.stat().st_size > 0
    history = json.loads(files.history.read_text(encoding="utf-8"))
    assert [r["epoch"] for r in history] == [1, 2]


def test_an_interrupt_before_any_epoch_leaves_an_earlier_runs_record_alone(
    tiny: Path, tmp_path: Path
) -> None:
    from digitnet import config as config_module
    from digitnet.training import runner
    from digitnet.training.runfiles import RunFiles

    files = RunFiles(tmp_path / "m.npz")
    assert train(tiny, "--epochs", "1", "-q", "-o", str(files.checkpoint)).exit_code == 0
    before = files.run_record.read_bytes()
    config = config_module.load(tiny.parent / "tiny.yaml", {"epochs": 3, "data_dir": str(tiny)})

    def ctrl_c_in_the_first_batch(*args: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(config, files.checkpoint, progress=False, on_batch=ctrl_c_in_the_first_batch)
    assert files.run_record.read_bytes() == before
