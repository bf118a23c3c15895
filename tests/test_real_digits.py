"""The bundled model reads digits rendered like users' photos, scans and drawings.

The images are rendered at test time from a seed (tests/render_digits.py: fonts that
ship inside matplotlib, varied size, position, rotation, stroke, polarity, paper,
lighting, noise, JPEG and transparency, canvases up to 1200×900) and read through
the same path as `digitnet predict` (`reading.read_image`, automatic segmentation).
The full-size sets (500 single digits, 100 numbers) are marked slow; smaller sets
drawn from other seeds run by default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from render_digits import Sample, breakdown, make_set, visible_ink_box

from digitnet import checkpoint, config
from digitnet.data.idx import read_idx
from digitnet.data.inputs import to_inputs
from digitnet.errors import ImageError
from digitnet.images.reading import bundled_checkpoint, read_image
from digitnet.nn.network import predict_proba

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundled() -> checkpoint.Checkpoint:
    return checkpoint.load(bundled_checkpoint())


def read_all(samples: list[Sample], ckpt: checkpoint.Checkpoint) -> list[bool]:
    correct = []
    for sample in samples:
        try:
            number = read_image(sample.path, ckpt).number
        except ImageError:
            number = ""
        correct.append(number == sample.label)
    return correct


def accuracy_with_report(samples: list[Sample], correct: list[bool]) -> float:
    """The accuracy; the breakdown by condition is printed for `pytest -s` / failures."""
    for condition, buckets in breakdown(samples, correct).items():
        cells = ", ".join(f"{k} {r}/{t}" for k, (r, t) in sorted(buckets.items()))
        print(f"{condition}: {cells}")
    return float(np.mean(correct))


def test_renderer_covers_the_conditions(tmp_path):
    samples = make_set(tmp_path, 60, seed=3)
    assert [s.label for s in samples[:10]] == [str(d) for d in range(10)]
    conditions = breakdown(samples, [True] * len(samples))
    assert len(conditions["font"]) >= 8
    assert set(conditions["polarity"]) == {"dark-on-light", "light-on-dark"}
    assert "transparent" in conditions["paper"]
    assert any(k.startswith("jpeg") for k in conditions["format"])
    sizes = []
    for sample in samples:
        with Image.open(sample.path) as image:
            sizes.append(image.size)
    assert max(w for w, _ in sizes) <= 1200
    assert max(h for _, h in sizes) <= 900
    assert make_set(tmp_path / "again", 3, seed=3)[2].conditions == samples[2].conditions


def test_the_rendered_ink_box_holds_the_ink_that_shows_under_its_light():
    """A pixel shows ink when the drawn image differs from the bare paper under the same
    light by 16 gray levels (handwriting.VISIBLE_LEVELS); a transparent image's ink shows
    where its opacity reaches 16 levels."""
    ink, paper = np.array([20.0, 20.0, 20.0]), np.array([250.0, 250.0, 250.0])  # 230 apart
    cover = np.zeros((30, 40), np.float32)
    cover[10:20, 12:15] = 1.0  # a stroke
    cover[5, 5] = 16.5 / 230  # 16.5 levels: a faint, tapering end that shows
    cover[25, 35] = 15.5 / 230  # 15.5 levels: does not show
    assert visible_ink_box(cover, ink, paper, None, False) == (5, 5, 15, 20)
    dim = np.ones((30, 40), np.float32)
    dim[5, 5] = 0.5  # in the lamp's shadow the same cover shows half the contrast
    assert visible_ink_box(cover, ink, paper, dim, False) == (12, 10, 15, 20)
    opacity = np.zeros((30, 40), np.float32)
    opacity[10:20, 12:15] = 1.0
    opacity[5, 5] = 16.5 / 255  # transparent image: opaque enough to show
    opacity[25, 35] = 15.5 / 255  # not
    assert visible_ink_box(opacity, ink, paper, None, True) == (5, 5, 15, 20)


def test_rendered_single_digits_small_set(tmp_path, bundled):
    samples = make_set(tmp_path, 150, seed=1002)
    assert accuracy_with_report(samples, read_all(samples, bundled)) >= 0.90


def test_rendered_numbers_small_set(tmp_path, bundled):
    samples = make_set(tmp_path, 30, seed=1003, digits=(3, 6))
    assert accuracy_with_report(samples, read_all(samples, bundled)) >= 0.80


@pytest.mark.slow
def test_rendered_single_digits_500(tmp_path, bundled):
    samples = make_set(tmp_path, 500, seed=1000)
    assert accuracy_with_report(samples, read_all(samples, bundled)) >= 0.90


@pytest.mark.slow
def test_rendered_numbers_100(tmp_path, bundled):
    samples = make_set(tmp_path, 100, seed=1001, digits=(3, 6))
    assert accuracy_with_report(samples, read_all(samples, bundled)) >= 0.80


def test_mnist_pngs_read_as_evaluate_reads_them(tmp_path, mnist_dir, bundled):
    """MNIST test digits saved as PNG: predict (automatic segmentation) agrees with
    the network on the raw arrays, as `evaluate` computes it."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:500]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:500]
    config = bundled.config
    raw = predict_proba(bundled.params, to_inputs(images), config.activation, config.output)
    expected = raw.argmax(axis=1)
    read = []
    for i, image in enumerate(images):
        path = tmp_path / f"{i}.png"
        Image.fromarray(image).save(path)
        read.append(read_image(path, bundled).number)
    agree = np.mean([r == str(e) for r, e in zip(read, expected, strict=True)])
    assert agree >= 0.995  # measured on all 10,000: see README
    assert (
        np.mean([r == str(y) for r, y in zip(read, labels, strict=True)])
        >= np.mean(expected == labels) - 0.005
    )


def test_bundled_model_is_the_reader_recipe_small_and_calibrated(bundled):
    path = bundled_checkpoint()
    assert path.stat().st_size < 1_500_000  # float16 on disk (784-800-10: 1.25 MB): in the wheel
    with np.load(path, allow_pickle=False) as stored:
        assert stored["W1"].dtype == np.float16
    assert bundled.params.W1.dtype == np.float32  # widened on load
    recipe = config.load(REPO / "configs" / "reader.yaml", environ={})
    assert bundled.config == config.apply(recipe, {"data_dir": "data"}, "test")
    assert 0.988 <= bundled.metrics["test_accuracy"] <= 1.0
    assert bundled.metrics["float16_agreement"] >= 0.999
    assert bundled.temperature != 1.0  # fitted by scripts/calibrate_reader.py
    assert "build_bundled_model.py" in bundled.metrics["trained_on"]
    assert Path(path).parent.name == "assets"
