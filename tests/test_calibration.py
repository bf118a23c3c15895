"""Temperature scaling (nn/calibration.py, training/calibrate.py): fitted, stored, applied."""

from __future__ import annotations

import numpy as np
import pytest
from toydata import synthetic_data

from digitnet import checkpoint, config
from digitnet.errors import CheckpointError
from digitnet.insight.report import calibration as reliability
from digitnet.nn import calibration, network
from digitnet.training.calibrate import calibrate_checkpoint


def overconfident(n: int = 4000, seed: int = 0):
    """Logits whose softmax is far more confident than the labels deserve: the true
    class wins only ~70% of the time, yet by a margin of about 8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    guess = np.where(rng.random(n) < 0.7, labels, rng.integers(0, 10, n))
    Z3 = rng.normal(0, 1, (n, 10))
    Z3[np.arange(n), guess] += 8.0
    return Z3.astype(np.float32), labels


def test_fitted_temperature_lowers_the_nll_and_the_ece_and_keeps_the_predictions():
    Z3, labels = overconfident()
    t = calibration.fit_temperature(Z3, labels, "softmax")
    assert t > 1.5  # over-confident logits are cooled
    before = calibration.nll(Z3, labels, "softmax", 1.0)
    after = calibration.nll(Z3, labels, "softmax", t)
    assert after < before - 0.1
    for nearby in (t * 0.9, t * 1.1):  # a minimum, not just any improvement
        assert calibration.nll(Z3, labels, "softmax", nearby) >= after
    p1 = calibration.probabilities(Z3, "softmax", 1.0)
    pt = calibration.probabilities(Z3, "softmax", t)
    np.testing.assert_array_equal(p1.argmax(axis=1), pt.argmax(axis=1))
    right = p1.argmax(axis=1) == labels
    assert reliability(pt.max(axis=1), right).ece < reliability(p1.max(axis=1), right).ece / 3


def test_sigmoid_outputs_are_calibrated_too():
    Z3, labels = overconfident(seed=1)
    t = calibration.fit_temperature(Z3, labels, "sigmoid")
    assert calibration.nll(Z3, labels, "sigmoid", t) < calibration.nll(Z3, labels, "sigmoid", 1.0)
    p = calibration.probabilities(Z3, "sigmoid", t)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)


def test_probabilities_are_stable_for_huge_logits():
    Z3 = np.array([[1e4, -1e4] + [0.0] * 8], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for output in ("softmax", "sigmoid"):
            p = calibration.probabilities(Z3, output, 0.5)
            assert np.isfinite(p).all()


def test_temperature_one_matches_the_network_probabilities():
    params = network.init_params(16, "relu", np.random.default_rng(0))
    X = synthetic_data().X_val
    ours = calibration.predict_proba(params, X, "relu", "softmax", 1.0)
    theirs = network.predict_proba(params, X, "relu", "softmax")
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def saved(tmp_path, metrics=None):
    params = network.init_params(8, "relu", np.random.default_rng(0))
    path = tmp_path / "model.npz"
    cfg = config.Config(hidden_size=8, activation="relu")
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=cfg, metrics=metrics or {}))
    return path


def test_a_checkpoint_without_temperature_reads_with_one(tmp_path):
    assert checkpoint.load(saved(tmp_path)).temperature == 1.0


@pytest.mark.parametrize("bad", [0.0, -2.0, "hot", True, None])
def test_a_bad_stored_temperature_is_refused_on_load(tmp_path, bad):
    with pytest.raises(CheckpointError, match="temperature"):
        checkpoint.load(saved(tmp_path, {"temperature": bad}))


def test_calibrate_checkpoint_stores_t_and_the_validation_nll(tmp_path):
    data = synthetic_data()
    path = saved(tmp_path)
    t = calibrate_checkpoint(path, data.X_val, data.y_val)
    loaded = checkpoint.load(path)
    assert loaded.temperature == pytest.approx(t)
    assert loaded.metrics["validation_nll_calibrated"] <= loaded.metrics["validation_nll"]


def test_training_run_stores_a_fitted_temperature(tmp_path, monkeypatch):
    """runner.run fits T on the validation split after training and stores it."""
    from digitnet.training import runner

    data = synthetic_data()
    images = np.round(np.concatenate([data.X_train, data.X_val]) * 255).astype(np.uint8)
    labels = np.concatenate([data.y_train, data.y_val])
    monkeypatch.setattr(runner, "load_training_data", lambda *a, **k: (images, labels))
    cfg = config.apply(
        config.Config(), {"hidden_size": 16, "epochs": 3, "validation_size": 60}, "test"
    )
    out = tmp_path / "run.npz"
    runner.run(cfg, out, progress=False)
    loaded = checkpoint.load(out)
    assert loaded.temperature != 1.0
    assert loaded.metrics["validation_nll_calibrated"] <= loaded.metrics["validation_nll"]
