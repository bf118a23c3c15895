"""lr-find and augment-preview."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from toydata import synthetic_data

from digitnet import config
from digitnet.cli import main
from digitnet.commands.augment_preview import TITLE_BAND
from digitnet.data.augment import SIDE, Distortion, preview_grid
from digitnet.errors import TrainingError
from digitnet.training import lrfind


def test_range_test_sweeps_geometrically_and_suggests_a_rate_inside_the_sweep(tmp_path):
    cfg = config.apply(config.Config(), {"hidden_size": 16, "batch_size": 20}, "test")
    result = lrfind.range_test(cfg, synthetic_data(), min_lr=1e-3, max_lr=100.0, steps=60)
    rates = np.array(result.learning_rates)
    assert rates[0] == pytest.approx(1e-3)
    ratios = rates[1:] / rates[:-1]
    np.testing.assert_allclose(ratios, ratios[0])  # geometric
    # η = 100 with momentum 0.9 diverges: the test must stop before the end.
    assert len(rates) < 60
    lowest = rates[int(np.argmin(result.smoothed))]
    assert result.suggestion == pytest.approx(lowest / 10)
    lrfind.plot(result, tmp_path / "lr.png")
    with Image.open(tmp_path / "lr.png") as image:
        assert image.format == "PNG"


def test_range_test_rejects_an_empty_range():
    with pytest.raises(TrainingError, match="min-lr"):
        lrfind.range_test(config.Config(), synthetic_data(), min_lr=1.0, max_lr=0.1)


def test_preview_grid_puts_the_original_first_then_the_variants():
    X = synthetic_data().X_train[:3]
    grid = preview_grid(X, np.random.default_rng(0), Distortion(rotate=10), variants=4, gap=2)
    assert grid.dtype == np.uint8
    assert grid.shape == (3 * (SIDE + 2) + 2, 5 * (SIDE + 2) + 2)
    first = grid[2 : 2 + SIDE, 2 : 2 + SIDE]
    np.testing.assert_array_equal(first, np.round(255 * (1 - X[0].reshape(SIDE, SIDE))))


def test_augment_preview_needs_augmentation_in_the_config(tmp_path):
    conf = tmp_path / "plain.yaml"
    conf.write_text("hidden_size: 10\n")
    out = CliRunner().invoke(main, ["augment-preview", "--config", str(conf)])
    assert out.exit_code == 2
    assert "no augmentation" in out.output


def test_augment_preview_and_lr_find_write_pngs(tmp_path, mnist_dir):
    conf = tmp_path / "aug.yaml"
    conf.write_text("hidden_size: 10\nelastic_alpha: 34\naugment_rotate: 10\n")
    runner = CliRunner()
    png = tmp_path / "grid.png"
    out = runner.invoke(
        main,
        ["augment-preview", "--config", str(conf), "--data-dir", str(mnist_dir), "-o", str(png)],
    )
    assert out.exit_code == 0, out.output
    with Image.open(png) as image:
        # the grid, zoomed 3×, under a band that names the columns
        assert image.size == (3 * (8 * 30 + 2), 3 * (8 * 30 + 2) + TITLE_BAND)
    plot = tmp_path / "lr.png"
    # 200 steps (the default): 40 are too short for the cost to fall, and lr-find says so
    args = ["lr-find", "--config", str(conf), "--data-dir", str(mnist_dir), "--steps", "200"]
    out = runner.invoke(main, [*args, "-o", str(plot)])
    assert out.exit_code == 0, out.output
    assert "suggested learning_rate" in out.output
    assert plot.exists()
