"""Every figure is a non-empty PNG of sensible size; the report lists the right mistakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy.special import expit

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.data import idx
from digitnet.data.inputs import split_validation
from digitnet.insight import report
from digitnet.nn import network
from digitnet.training import curve, runner
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import train


def assert_sensible_png(path: Path, min_side: int = 300, max_side: int = 4000) -> None:
    assert path.stat().st_size > 5000
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        gray = np.asarray(image.convert("L"))
    assert min_side <= width <= max_side
    assert min_side <= height <= max_side
    assert gray.std() > 10  # something is drawn, not a blank page


def fake_history(epochs: int) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "train_cost": 1.0 / e,
            "train_accuracy": 0.9 + 0.01 * e,
            "validation_cost": 1.1 / e,
            "validation_accuracy": 0.89 + 0.01 * e,
        }
        for e in range(1, epochs + 1)
    ]


@pytest.mark.parametrize("epochs", [1, 5, 60])
def test_learning_curve(tmp_path, epochs):
    out = tmp_path / "curve.png"
    curve.learning_curve(fake_history(epochs), out)
    assert_sensible_png(out)


def test_learning_curve_path_is_beside_the_checkpoint():
    assert RunFiles(Path("ck/model.npz")).learning_curve == Path("ck/model.learning-curve.png")


def test_train_writes_the_learning_curve(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=300).astype(np.uint8)
    monkeypatch.setattr(runner, "load_training_data", lambda *args, **kwargs: (images, labels))
    ckpt = tmp_path / "m.npz"
    config = tmp_path / "c.yaml"
    config.write_text("validation_size: 100\n")
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--config",
            str(config),
            "-o",
            str(ckpt),
            "--epochs",
            "2",
            "--hidden-size",
            "4",
            "--batch-size",
            "50",
            "-q",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert_sensible_png(tmp_path / "m.learning-curve.png")


def test_weights_command(tmp_path):
    ckpt = tmp_path / "m.npz"
    params = network.init_params(50, "relu", np.random.default_rng(0))
    checkpoint.save(ckpt, checkpoint.Checkpoint(params=params, config=Config(hidden_size=50)))
    out = tmp_path / "w.png"
    result = CliRunner().invoke(main, ["weights", str(ckpt), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "50 tiles" in result.output
    assert_sensible_png(out)
    bad = CliRunner().invoke(main, ["weights", str(ckpt), "-o", str(tmp_path / "w.jpg")])
    assert bad.exit_code == 1
    assert "name the output file .png" in bad.output


def test_calibration_by_hand():
    # 4 examples: two at confidence 0.95 (one right), two at 0.55 (both right); 10 bins.
    calib = report.calibration(
        np.array([0.95, 0.95, 0.55, 0.55]), np.array([True, False, True, True]), n_bins=10
    )
    assert calib.counts[9] == 2
    assert calib.counts[5] == 2
    assert sum(calib.counts) == 4
    # ECE = 2/4 |0.5 − 0.95| + 2/4 |1 − 0.55| = 0.225 + 0.225
    assert calib.ece == pytest.approx(0.45)


def test_calibration_edges():
    calib = report.calibration(np.array([0.0, 1.0, 0.2]), np.array([False, True, False]), 5)
    assert calib.counts == [2, 0, 0, 0, 1]  # 0.2 is in (0, 0.2]; 0 joins the first bin


def test_mistakes_are_sorted_by_confidence():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 0, 0, 1])
    predicted = probabilities.argmax(axis=1)
    found = report.mistakes(labels, predicted, probabilities)
    assert [m.index for m in found] == [2, 1, 3]
    assert found[0].confidence == pytest.approx(0.8)


# -- evaluate --report on real MNIST --------------------------------------------------


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """A 784-24-10 network trained for 2 epochs on 5,000 real images (about a second).

    It trains on the second half of the *test* split: this test counts mistakes, it
    makes no accuracy claim, and reading the 10k-image file is much faster than the
    60k-image training file.
    """
    import os

    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder or not Path(folder).is_dir():
        pytest.skip("DIGITNET_TEST_MNIST is not set (folder of the MNIST *-ubyte.gz files)")
    images, labels = idx.load_split("mnist", Path(folder), "test")
    config = Config(hidden_size=24, epochs=2, validation_size=500, l2=0.5, seed=3)
    data = split_validation(images[5000:], labels[5000:], config.validation_size)
    *_, (_, params) = train(config, data)
    path = tmp_path_factory.mktemp("ckpt") / "small.npz"
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=config))
    return path, Path(folder)


def test_evaluate_report_lists_every_mistake(small_checkpoint, tmp_path):
    path, folder = small_checkpoint
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--checkpoint",
            str(path),
            "--data-dir",
            str(folder),
            "--report",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output

    # The number of mistakes, computed independently of digitnet's forward pass.
    ckpt = checkpoint.load(path)
    images, labels = idx.load_split("mnist", folder, "test")
    x = images.reshape(len(images), -1).astype(np.float64) / 255
    hidden = expit(x @ ckpt.params.W1.T.astype(np.float64) + ckpt.params.b1)
    z3 = hidden @ ckpt.params.W2.T.astype(np.float64) + ckpt.params.b2
    expected = int(np.count_nonzero(z3.argmax(axis=1) != labels))
    assert 100 < expected < 2000  # a sane, partly trained network

    data = json.loads((out / "report.json").read_text())
    assert data["n"] == 10000
    assert data["n_mistakes"] == expected
    assert len(data["mistakes"]) == expected
    assert sum(c for c in data["calibration"]["counts"]) == 10000
    assert 0.0 <= data["calibration"]["ece"] < 0.2
    for m in data["mistakes"][:50]:
        assert labels[m["index"]] == m["true"] != m["predicted"]
    confidences = [m["confidence"] for m in data["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)

    for name in report.FIGURES:
        assert_sensible_png(out / name)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(report.FIGURES)
    assert f"{expected:,} mistakes" in page
    embedded = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert embedded is not None
    assert json.loads(embedded.group(1))["n_mistakes"] == expected
    # stdout stays one JSON object; the report's path went to stderr
    stdout_json = [line for line in result.output.splitlines() if line.startswith("{")]
    assert json.loads(stdout_json[0])["accuracy"] == pytest.approx(1 - expected / 10000)


def test_cli_start_up_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, digitnet.cli; print(sorted({'matplotlib', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
