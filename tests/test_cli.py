"""The command line end to end, with Click's CliRunner, on a subset of the real MNIST."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from digitnet import __version__, checkpoint
from digitnet.cli import main
from digitnet.data.idx import read_idx

SUBSET = 12_000  # training images in the subset: enough for >90%, quick to train


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I" + "I" * array.ndim, magic, *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def subset_dir(tmp_path_factory) -> Path:
    """The first SUBSET training images and the whole test set, as IDX files."""
    import os

    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set")
    source = Path(folder)
    out = tmp_path_factory.mktemp("mnist-subset")
    write_idx(
        out / "train-images-idx3-ubyte.gz", read_idx(source / "train-images-idx3-ubyte.gz")[:SUBSET]
    )
    write_idx(
        out / "train-labels-idx1-ubyte.gz", read_idx(source / "train-labels-idx1-ubyte.gz")[:SUBSET]
    )
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (out / name).write_bytes((source / name).read_bytes())
    return out


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def trained(subset_dir, tmp_path_factory) -> Path:
    """A checkpoint trained through the CLI on the subset (shared by the tests below)."""
    out = tmp_path_factory.mktemp("run") / "model.npz"
    result = CliRunner().invoke(
        main,
        [
            "train", "--data-dir", str(subset_dir), "--output", str(out), "--epochs", "4",
            "--hidden-size", "64", "--batch-size", "50", "--seed", "7", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    return out


def test_train_saves_checkpoint_and_history(trained):
    history = json.loads(trained.with_name("model.history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    ckpt = checkpoint.load(trained)
    assert ckpt.params.hidden_size == 64
    best = max(history, key=lambda r: r["validation_accuracy"])
    assert ckpt.metrics["best_epoch"] == best["epoch"]


def test_evaluate_reaches_90_percent(runner, trained, subset_dir):
    result = runner.invoke(
        main, ["evaluate", "--checkpoint", str(trained), "--data-dir", str(subset_dir), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 10_000
    assert report["accuracy"] >= 0.90
    assert np.array(report["confusion_matrix"]).sum() == 10_000
    text = runner.invoke(
        main, ["evaluate", "--checkpoint", str(trained), "--data-dir", str(subset_dir)]
    )
    assert "confusion matrix" in text.stdout
    assert f"{report['accuracy']:.2%}" in text.stdout


def test_same_seed_gives_identical_parameters(subset_dir, tmp_path, trained):
    again = tmp_path / "again.npz"
    args = [
        "train", "--data-dir", str(subset_dir), "--output", str(again), "--epochs", "4",
        "--hidden-size", "64", "--batch-size", "50", "--seed", "7", "--quiet",
    ]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    a, b = checkpoint.load(trained).params, checkpoint.load(again).params
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(array, getattr(b, name))


def test_predict_on_test_pngs_agrees_with_checkpoint(runner, trained, subset_dir, tmp_path):
    """100 test digits saved as PNG are read as the checkpoint reads the raw arrays."""
    from digitnet.data.inputs import to_inputs
    from digitnet.nn.network import predict_proba

    images = read_idx(subset_dir / "t10k-images-idx3-ubyte.gz")[:100]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"digit{i:03d}.png")
        Image.fromarray(image).save(paths[-1])
    ckpt = checkpoint.load(trained)
    expected = predict_proba(ckpt.params, to_inputs(images), ckpt.config.activation).argmax(1)
    result = runner.invoke(
        main, ["predict", *map(str, paths), "--checkpoint", str(trained), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == list(map(str, paths))
    agree = sum(line["digit"] == e for line, e in zip(lines, expected, strict=True))
    assert agree >= 99
    first = lines[0]
    assert len(first["probabilities"]) == 10
    assert first["confidence"] == pytest.approx(max(first["probabilities"]))


def test_predict_reports_bad_file_and_still_predicts_the_rest(
    runner, trained, subset_dir, tmp_path
):
    good = tmp_path / "good.png"
    Image.fromarray(read_idx(subset_dir / "t10k-images-idx3-ubyte.gz")[0]).save(good)
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    result = runner.invoke(
        main, ["predict", str(good), str(fake), "--checkpoint", str(trained), "--json"]
    )
    assert result.exit_code != 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "digit" in lines[0]
    assert lines[1]["file"] == str(fake)
    assert "error" in lines[1]
    text = runner.invoke(main, ["predict", str(good), "--checkpoint", str(trained), "--top-k", "3"])
    assert text.exit_code == 0
    assert text.stdout.count("%") == 3


def assert_one_line_error(result):
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")


def test_user_errors_are_one_line(runner, tmp_path, trained):
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("hiden_size: 10\n")
    cases = [
        ["predict", str(tmp_path / "missing.png"), "--checkpoint", str(trained)],
        ["predict", str(fake), "--checkpoint", str(trained)],
        ["predict", str(fake), "--checkpoint", str(corrupt)],
        ["evaluate", "--checkpoint", str(corrupt)],
        ["info", str(corrupt)],
        ["train", "--config", str(bad_config)],
    ]
    for args in cases:
        assert_one_line_error(runner.invoke(main, args))


def test_version_and_help(runner):
    assert __version__ in runner.invoke(main, ["--version"]).stdout
    for command in ("train", "evaluate", "predict", "download", "info"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.stdout


def test_info_shows_training_settings(runner, trained):
    result = runner.invoke(main, ["info", str(trained), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["architecture"] == "784-64-10"
    assert data["config"]["seed"] == 7


def test_closed_stdout_pipe_is_quiet(tmp_path):
    """`digitnet predict … | head` closes the pipe early: no 'unexpected error', no traceback."""
    import subprocess
    import sys

    image = tmp_path / "seven.png"
    canvas = np.zeros((28, 28), np.uint8)
    canvas[6:9, 8:20] = 255
    canvas[9:22, 16:19] = 255
    Image.fromarray(canvas).save(image)
    process = subprocess.Popen(
        [sys.executable, "-m", "digitnet", "predict", str(image), str(image), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,  # no checkpoints/ here: the bundled model answers
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first write
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr
    assert b"unexpected" not in stderr
    assert process.returncode == 1


def test_failed_download_in_train_is_one_line(runner, tmp_path):
    """train on an empty data folder with a mirror that cannot answer: just the error line."""
    (tmp_path / "empty").mkdir()  # a folder that does not exist is an error of its own
    result = runner.invoke(
        main,
        [
            "train", "--data-dir", str(tmp_path / "empty"), "--mirror", "http://127.0.0.1:9/",
            "--quiet", "--output", str(tmp_path / "m.npz"),
        ],
    )  # fmt: skip
    assert_one_line_error(result)
    assert "could not download" in result.stderr
