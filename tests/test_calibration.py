"""Temperature scaling (nn/calibration.py, training/calibrate.py): fitted, stored, applied."""

from __future__ import annotations

import numpy as np
import pytest
from toydata import synthetic_data

from digitnet import checkpoint, config
from digitnet.errors import CheckpointError
from digitnet.insight.report import calibration as reliability
from digitnet.nn import calibration, network
from digitnet.training.calibrate import (
    CalibrationSet,
    calibrate_checkpoint,
    fit_on,
    store_temperature,
)


def guessing_logits(n: int, seed: int, right: float, margin: float, spread: float):
    """Logits (n, 10) and labels: the guessed class (the label with probability ``right``,
    else a random class) leads the others, which are normal with sd ``spread``, by
    ``margin``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    guess = np.where(rng.random(n) < right, labels, rng.integers(0, 10, n))
    Z3 = rng.normal(0, spread, (n, 10))
    Z3[np.arange(n), guess] += margin
    return Z3.astype(np.float32), labels


def overconfident(n: int = 4000, seed: int = 0):
    """Logits whose softmax is far more confident than the labels deserve: the true
    class wins only ~70% of the time, yet by a margin of about 8."""
    return guessing_logits(n, seed, right=0.7, margin=8.0, spread=1.0)


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
    assert loaded.metrics["temperature_fitted_on"].startswith(
        f"MNIST validation split ({len(data.y_val):,} digits, NLL"
    )


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


def underconfident(n: int = 3000, seed: int = 2):
    """Logits that are right 97% of the time by a margin of only about 2: softmax is less
    sure than the labels allow (as the reader is on real-looking digits)."""
    return guessing_logits(n, seed, right=0.97, margin=2.0, spread=0.3)


def test_underconfident_logits_are_sharpened():
    Z3, labels = underconfident()
    t = calibration.fit_temperature(Z3, labels, "softmax")
    assert t < 0.8
    assert calibration.nll(Z3, labels, "softmax", t) < calibration.nll(Z3, labels, "softmax", 1.0)
    p1 = calibration.probabilities(Z3, "softmax", 1.0)
    pt = calibration.probabilities(Z3, "softmax", t)
    right = p1.argmax(axis=1) == labels
    assert reliability(pt.max(axis=1), right).ece < reliability(p1.max(axis=1), right).ece / 2


def test_weighted_nll_is_the_weighted_mean():
    Z3, labels = overconfident(n=10)
    each = [calibration.nll(Z3[i : i + 1], labels[i : i + 1], "softmax", 2.0) for i in range(10)]
    weights = np.arange(1.0, 11.0)
    got = calibration.nll(Z3, labels, "softmax", 2.0, weights)
    assert got == pytest.approx(np.dot(weights, each) / weights.sum())
    assert calibration.nll(Z3, labels, "softmax", 2.0, np.ones(10)) == pytest.approx(np.mean(each))


def test_fit_on_weighs_each_set_the_same():
    """A big over-confident set and a small under-confident one: T minimises the mean of
    the two sets' NLLs, not the NLL of their pooled digits (which the big set would rule)."""
    big = CalibrationSet("big", *overconfident(n=4000))
    small = CalibrationSet("small", *underconfident(n=400))
    fit = fit_on([big, small], "softmax")

    def mean_nll(t):
        return (nll_of(big, t) + nll_of(small, t)) / 2

    assert all(
        mean_nll(fit.temperature) <= mean_nll(t)
        for t in (fit.temperature * 0.95, fit.temperature * 1.05)
    )
    pooled = calibration.fit_temperature(
        np.concatenate([big.Z3, small.Z3]), np.concatenate([big.labels, small.labels]), "softmax"
    )
    alone = calibration.fit_temperature(small.Z3, small.labels, "softmax")
    assert abs(np.log(fit.temperature / alone)) < abs(np.log(pooled / alone))
    assert [(s.name, s.count) for s in fit.sets] == [("big", 4000), ("small", 400)]
    assert fit.sets[1].nll_before == pytest.approx(nll_of(small, 1.0))
    assert fit.sets[1].nll_after == pytest.approx(nll_of(small, fit.temperature))


def nll_of(s, t):
    return calibration.nll(s.Z3, s.labels, "softmax", t)


def test_fit_on_one_set_is_the_plain_fit():
    Z3, labels = overconfident()
    fit = fit_on([CalibrationSet("one", Z3, labels)], "softmax")
    assert fit.temperature == pytest.approx(calibration.fit_temperature(Z3, labels, "softmax"))
    assert "weighs" not in fit.describe()


def test_fit_on_nothing_is_refused():
    empty = CalibrationSet("empty", np.empty((0, 10), np.float32), np.empty(0, np.int64))
    with pytest.raises(ValueError, match="at least one set"):
        fit_on([empty], "softmax")


def test_stored_temperature_and_its_sets_round_trip_and_float16_stays_float16(tmp_path):
    params = network.init_params(8, "relu", np.random.default_rng(0)).astype(np.float16)
    path = tmp_path / "half.npz"
    cfg = config.Config(hidden_size=8, activation="relu")
    old = {"temperature": 1.09, "validation_nll": 0.4, "validation_nll_calibrated": 0.3, "x": 1}
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=cfg, metrics=old))
    fit = fit_on(
        [CalibrationSet("rendered, seeds 7", *underconfident(n=300)),
         CalibrationSet("MNIST validation split", *overconfident(n=900))],
        "softmax",
    )  # fmt: skip
    store_temperature(path, fit, "a test")
    loaded = checkpoint.load(path)
    assert loaded.temperature == pytest.approx(fit.temperature)
    provenance = loaded.metrics["temperature_fitted_on"]
    assert "rendered, seeds 7 (300 digits" in provenance
    assert "MNIST validation split (900 digits" in provenance
    assert provenance.endswith("(a test)")
    assert "validation_nll" not in loaded.metrics  # they described the old T
    assert loaded.metrics["x"] == 1
    with np.load(path, allow_pickle=False) as raw:
        for name, array in params.arrays().items():
            assert raw[name].dtype == np.float16
            np.testing.assert_array_equal(raw[name], array)


def test_info_shows_the_temperature_and_what_it_was_fitted_on(tmp_path):
    from click.testing import CliRunner

    from digitnet.cli import main

    path = saved(tmp_path)
    fit = fit_on(
        [CalibrationSet("handwriting dev split, seeds 5", *underconfident(n=200))], "softmax"
    )
    store_temperature(path, fit, "a test")
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 0
    assert f"temperature      {fit.temperature:.4f}" in result.stdout
    assert "handwriting dev split, seeds 5 (200 digits, NLL" in result.stdout
