"""The diagram's labels carry the right shapes, read back from the SVG text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.nn import network

SVG = "{http://www.w3.org/2000/svg}"


def svg_labels(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """All text elements in order, and the text lines of each group with an id."""
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    groups = {
        g.get("id", ""): ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
        for g in root.iter(f"{SVG}g")
        if g.get("id")
    }
    return texts, groups


def check_shapes(path: Path, hidden: int) -> None:
    texts, groups = svg_labels(path)
    assert groups["layer1-units"] == ["784 units + bias"]
    assert groups["layer2-units"] == [f"{hidden} units + bias"]
    assert groups["layer3-units"] == ["10 units"]
    assert groups["theta1-shape"] == ["θ⁽¹⁾", f"{hidden} × 785"]
    assert groups["theta2-shape"] == ["θ⁽²⁾", f"10 × {hidden + 1}"]
    assert groups["grad-theta1-shape"] == [f"{hidden} × 785   (B8)"]
    assert groups["grad-theta2-shape"] == [f"10 × {hidden + 1}   (B8)"]
    assert f"W1 {hidden} × 784 | b1 {hidden}" in texts
    assert f"W2 10 × {hidden} | b2 10" in texts
    assert f"digitnet: the 784-{hidden}-10 network" in texts
    # the notation of the derivation, forward and back
    for label in (
        "a⁽¹⁾ = x",
        "z⁽²⁾ = θ⁽¹⁾ a⁽¹⁾   (B1)",
        "z⁽³⁾ = θ⁽²⁾ a⁽²⁾   (B3)",
        "δ⁽³⁾ = a⁽³⁾ − y",
        "δ⁽²⁾ = (θ⁽²⁾)ᵀ δ⁽³⁾ ⊙ g′(z⁽²⁾)",
        "∂J/∂θ⁽¹⁾ = (1/m) δ⁽²⁾ (a⁽¹⁾)ᵀ + (λ/n) θ⁽¹⁾",
        "∂J/∂θ⁽²⁾ = (1/m) δ⁽³⁾ (a⁽²⁾)ᵀ + (λ/n) θ⁽²⁾",
        "x₇₈₄",
        f"a{str(hidden).translate(str.maketrans('0123456789', '₀₁₂₃₄₅₆₇₈₉'))}",
    ):
        assert label in texts, label


def test_default_config_diagram(tmp_path):
    out = tmp_path / "net.svg"
    result = CliRunner().invoke(main, ["diagram", "-o", str(out)])
    assert result.exit_code == 0, result.output
    check_shapes(out, Config().hidden_size)


def test_checkpoint_with_another_hidden_size(tmp_path):
    ckpt = tmp_path / "m.npz"
    params = network.init_params(37, "relu", np.random.default_rng(0))
    config = Config(hidden_size=37, activation="relu", output="sigmoid")
    checkpoint.save(ckpt, checkpoint.Checkpoint(params=params, config=config))
    out = tmp_path / "net.svg"
    result = CliRunner().invoke(main, ["diagram", "--checkpoint", str(ckpt), "-o", str(out)])
    assert result.exit_code == 0, result.output
    check_shapes(out, 37)
    texts, _ = svg_labels(out)
    assert "Layer 2 · hidden (relu)" in texts
    assert "Layer 3 · output (sigmoid)" in texts
    assert "logistic cost" in texts


def test_config_file_hidden_size(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("hidden_size: 1024\n")
    out = tmp_path / "net.svg"
    assert (
        CliRunner().invoke(main, ["diagram", "--config", str(config), "-o", str(out)]).exit_code
        == 0
    )
    check_shapes(out, 1024)


def test_png_is_a_sensible_image(tmp_path):
    out = tmp_path / "net.png"
    result = CliRunner().invoke(main, ["diagram", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert 1200 <= width <= 4000
        assert 700 <= height <= 3000
        # not blank: the drawing uses both light background and dark ink
        gray = np.asarray(image.convert("L"))
        assert gray.min() < 60
        assert gray.max() > 240


@pytest.mark.parametrize("name", ["net.pdf", "net"])
def test_other_suffix_is_refused(tmp_path, name):
    result = CliRunner().invoke(main, ["diagram", "-o", str(tmp_path / name)])
    assert result.exit_code == 1
    assert "name the output file .svg or .png" in result.output
    assert not (tmp_path / name).exists()


def test_committed_docs_diagram_matches_the_default_config():
    docs_svg = Path(__file__).resolve().parents[1] / "docs" / "diagram.svg"
    check_shapes(docs_svg, Config().hidden_size)


def test_readme_embeds_the_diagram():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "](docs/diagram.svg)" in readme


def test_same_config_gives_the_same_svg_bytes(tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (a, b):
        assert CliRunner().invoke(main, ["diagram", "-o", str(out)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


def test_small_hidden_layer_draws_every_unit(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("hidden_size: 3\n")
    out = tmp_path / "net.svg"
    assert (
        CliRunner().invoke(main, ["diagram", "--config", str(config), "-o", str(out)]).exit_code
        == 0
    )
    texts, _ = svg_labels(out)
    assert [t for t in texts if t.startswith("a") and len(t) == 2] == ["a₁", "a₂", "a₃"]
    assert texts.count("⋮") == 2  # input and output columns only
