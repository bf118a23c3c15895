"""`digitnet explain` traces one example through (B1)–(B8) with consistent numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.nn import network

HIDDEN = 9


@pytest.fixture
def setup(tmp_path):
    image = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(image).line([(60, 15), (60, 105)], fill=0, width=12)  # a "1"
    image_path = tmp_path / "one.png"
    image.save(image_path)
    rng = np.random.default_rng(0)
    params = network.init_params(HIDDEN, "tanh", rng)
    params.b1 += rng.normal(0, 0.1, HIDDEN).astype(np.float32)
    config = Config(hidden_size=HIDDEN, activation="tanh", output="softmax", l2=3.0)
    ckpt = tmp_path / "m.npz"
    checkpoint.save(
        ckpt, checkpoint.Checkpoint(params=params, config=config, metrics={"n_train": 500})
    )
    return image_path, ckpt


def run(args):
    result = CliRunner().invoke(main, ["explain", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_text_trace_names_every_step(setup):
    image, ckpt = setup
    out = run([str(image), "--checkpoint", str(ckpt), "--label", "1"])
    for symbol, eq in [
        ("a^(1)", ""),
        ("z^(2)", "(B1)"),
        ("a^(2)", "(B2)"),
        ("z^(3)", "(B3)"),
        ("a^(3)", "(B4)"),
        ("J(θ)", "(B5)"),
        ("δ^(3)", "(B6)"),
        ("δ^(2)", "(B7)"),
        ("∂J/∂W1", "(B8)"),
        ("∂J/∂W2", "(B8)"),
    ]:
        line = next(line for line in out.splitlines() if line.startswith(symbol))
        assert eq in line
    assert "label y = 1" in out
    assert f"(1, {HIDDEN})" not in out  # one example is shown as vectors, not (1, H) rows
    assert f"({HIDDEN}, 784)" in out


def test_json_numbers_agree_with_the_derivation(setup):
    image, ckpt = setup
    data = json.loads(run([str(image), "--checkpoint", str(ckpt), "--label", "3", "--json"]))
    steps = {s["symbol"]: s for s in data["steps"]}
    assert steps["a^(1)"]["shape"] == [784]
    assert steps["z^(2)"]["shape"] == [HIDDEN]
    assert steps["a^(3)"]["shape"] == [10]
    assert steps["∂J/∂W1"]["shape"] == [HIDDEN, 784]
    assert steps["∂J/∂W2"]["shape"] == [10, HIDDEN]
    a3 = np.array(steps["a^(3)"]["values"])
    delta3 = np.array(steps["δ^(3)"]["values"])
    y = np.eye(10)[3]
    np.testing.assert_allclose(delta3, a3 - y, atol=1e-12)  # (B6)
    np.testing.assert_allclose(steps["∂J/∂b2"]["values"], delta3, atol=1e-12)  # (B8), m = 1
    np.testing.assert_allclose(steps["∂J/∂b1"]["values"], steps["δ^(2)"]["values"], atol=1e-12)
    # (B2): a^(2) = tanh(z^(2)) on the values shown
    np.testing.assert_allclose(
        steps["a^(2)"]["values"], np.tanh(steps["z^(2)"]["values"]), atol=1e-12
    )
    # (B5): J = −log a^(3)_y + (λ/2n) Σ θ², n from the checkpoint
    assert data["label"] == 3
    assert data["label_given"]
    assert data["n"] == 500
    assert data["data_cost"] == pytest.approx(-np.log(a3[3]))
    assert data["cost"] == pytest.approx(data["data_cost"] + data["l2_cost"])
    assert data["predicted"] == int(np.argmax(a3))


def test_without_label_uses_the_prediction(setup):
    image, ckpt = setup
    data = json.loads(run([str(image), "--checkpoint", str(ckpt), "--json"]))
    assert not data["label_given"]
    assert data["label"] == data["predicted"]


def test_unreadable_image_is_one_error_line(setup, tmp_path):
    _, ckpt = setup
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = CliRunner().invoke(main, ["explain", str(bad), "--checkpoint", str(ckpt)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
