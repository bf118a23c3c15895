"""The Python surface: the README's example runs, and each entry point does what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import digitnet

README = Path(__file__).parent.parent / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- python-example:[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its Python example"
    return match.group(1)


def test_readme_example_runs(tmp_path: Path) -> None:
    """Run as a user would: the block saved as a script, in a fresh interpreter."""
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert printed[0].startswith("Model(784-")
    assert printed[1].split()[0] == "7"  # the example draws a 7


def test_load_model_prefers_the_default_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert digitnet.load_model().bundled
    saved = digitnet.bundled_model().save(tmp_path / "checkpoints" / "model.npz")
    chosen = digitnet.load_model()
    assert not chosen.bundled
    assert chosen.path == Path("checkpoints/model.npz")
    assert saved.exists()


def test_read_accepts_path_pillow_and_array(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    model = digitnet.bundled_model()
    page = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(page).line([(60, 20), (60, 140)], fill=0, width=10)  # a 1
    path = tmp_path / "one.png"
    page.save(path)
    from_path = model.read(path)
    from_image = model.read(page)
    assert from_path.number == from_image.number == "1"
    np.testing.assert_array_equal(from_path.inputs, from_image.inputs)
    as_uint8 = np.round(from_path.inputs[0].reshape(28, 28) * 255).astype(np.uint8)
    assert model.read(as_uint8).number == "1"


def test_read_refuses_what_it_cannot_read() -> None:
    model = digitnet.bundled_model()
    with pytest.raises(digitnet.DigitnetError, match="28x28"):
        model.read(np.zeros((27, 28), dtype=np.float32))
    with pytest.raises(digitnet.DigitnetError, match=r"\[0, 1\]"):
        model.read(np.full((28, 28), 3.0, dtype=np.float32))
    with pytest.raises(TypeError, match="path, a Pillow image or a 28x28 array"):
        model.read(42)


def test_predict_proba_rows_sum_to_one() -> None:
    model = digitnet.bundled_model()
    rows = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    p = model.predict_proba(rows)
    assert p.shape == (5, 10)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(rows), p.argmax(axis=1))


@pytest.fixture
def mnist() -> Path:
    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set (a folder with the four MNIST files)")
    return Path(folder)


def test_train_then_evaluate_through_the_api(mnist: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    config = digitnet.Config(hidden_size=16, epochs=2, batch_size=200, learning_rate=0.5)
    result = digitnet.train(
        config, data_dir=mnist, output=tmp_path / "m.npz", on_epoch=lambda r: seen.append(r.epoch)
    )
    assert seen == [1, 2]
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.model.architecture == digitnet.Architecture(16, "sigmoid", "softmax")
    assert (tmp_path / "m.learning-curve.png").exists()  # the run draws its own curve
    evaluation = digitnet.evaluate(result.model, mnist, "test")
    assert evaluation.n == 10_000
    assert 0.85 < evaluation.accuracy < 1.0
    assert sum(map(sum, evaluation.confusion)) == 10_000
    assert evaluation.to_dict()["split"] == "test"
