"""scripts/calibrate_reader.py: T for the bundled model from development digits read as
`predict` reads them, never from the measured sets."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from render_digits import make_set

from digitnet import checkpoint
from digitnet.images.reading import bundled_checkpoint, read_image
from digitnet.nn.calibration import probabilities

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import calibrate_reader


@pytest.fixture(scope="module")
def bundled() -> checkpoint.Checkpoint:
    return checkpoint.load(bundled_checkpoint())


@pytest.mark.parametrize(
    ("rendered", "handwriting"), [((1006, 1000), ()), ((), (1001,)), ((1004,), (2006,))]
)
def test_measured_seeds_are_refused(bundled, rendered, handwriting):
    with pytest.raises(SystemExit, match="measured, never fitted on"):
        calibrate_reader.development_sets(bundled, None, rendered, handwriting, 1)


def test_digits_are_read_exactly_as_predict_reads_them(tmp_path, bundled):
    samples = make_set(tmp_path, 8, seed=1006)
    read = calibrate_reader.read_as_predict(lambda _: samples, "rendered", bundled)
    readings = [read_image(s.path, bundled) for s in samples]
    kept = [r for r in readings if len(r.digits) == 1]
    assert len(read.labels) == len(kept) >= 6
    p = probabilities(read.Z3, bundled.config.output, bundled.temperature)
    np.testing.assert_array_equal(p.argmax(axis=1), [r.digits[0].digit for r in kept])
    np.testing.assert_allclose(p.max(axis=1), [r.digits[0].confidence for r in kept], rtol=1e-5)
    assert [str(x) for x in read.labels] == [
        s.label for s, r in zip(samples, readings, strict=True) if len(r.digits) == 1
    ]


def test_recalibrate_stores_t_and_its_sets_in_a_copy(tmp_path):
    copy = tmp_path / "reader.npz"
    copy.write_bytes(bundled_checkpoint().read_bytes())
    t = calibrate_reader.recalibrate(copy, None, (1006,), (2006,), count=10)
    loaded = checkpoint.load(copy)
    assert loaded.temperature == pytest.approx(t)
    fitted_on = loaded.metrics["temperature_fitted_on"]
    assert fitted_on.startswith("rendered single digits, seeds 1006 (")
    assert "handwriting dev split, seeds 2006 (" in fitted_on
    assert "MNIST" not in fitted_on  # no --data-dir: the validation split was not used
    assert "10 images per seed" in fitted_on


def test_the_bundled_temperature_was_fitted_on_development_sets_only(bundled):
    """What the bundled checkpoint says T was fitted on names no measured set."""
    fitted_on = bundled.metrics["temperature_fitted_on"]
    rendered = re.search(r"rendered single digits, seeds ([\d, ]+) \(", fitted_on)
    hand = re.search(r"handwriting dev split, seeds ([\d, ]+) \(", fitted_on)
    assert rendered
    assert hand
    assert not {int(s) for s in rendered[1].split(", ")} & calibrate_reader.MEASURED_RENDERED
    assert not {int(s) for s in hand[1].split(", ")} & calibrate_reader.MEASURED_HANDWRITING
    assert "held-out" not in fitted_on
    assert "test" not in fitted_on
