"""The handwriting-like test-set generator (tests/handwriting.py)."""

from __future__ import annotations

import numpy as np
import pytest
from handwriting import make_set, visible_ink_box
from PIL import Image


def test_same_seed_same_images(tmp_path):
    a = make_set(tmp_path / "a", 12, seed=4)
    b = make_set(tmp_path / "b", 12, seed=4)
    for x, y in zip(a, b, strict=True):
        assert x.path.read_bytes() == y.path.read_bytes()
        assert x.conditions == y.conditions


def test_dev_and_held_out_splits_differ(tmp_path):
    dev = make_set(tmp_path / "dev", 6, seed=0, split="dev")
    held = make_set(tmp_path / "held", 6, seed=0, split="held-out")
    assert [s.label for s in dev] == [s.label for s in held]  # labels cycle 0-9 in both
    assert all(d.path.read_bytes() != h.path.read_bytes() for d, h in zip(dev, held, strict=True))
    with pytest.raises(ValueError, match="split"):
        make_set(tmp_path / "x", 1, split="test")


def test_styles_of_handwriting_vary(tmp_path):
    samples = make_set(tmp_path, 200, seed=1)
    styles = {s.conditions["style"] for s in samples}
    for wanted in ("1-hooked", "1-plain", "4-open", "4-closed", "7-crossed", "5-two-stroke",
                   "0-open", "0-closed", "8-figure", "8-two-loops"):  # fmt: skip
        assert wanted in styles
    assert [s.label for s in samples[:10]] == [str(d) for d in range(10)]
    pens = [s.conditions["pen"] for s in samples]
    assert max(pens) > 2 * min(pens)  # fine and broad pens
    slants = [s.conditions["slant"] for s in samples]
    assert min(slants) < 0 < max(slants)


def test_images_hold_dark_ink_on_paper_and_numbers_are_wider(tmp_path):
    single = make_set(tmp_path / "s", 10, seed=2)
    numbers = make_set(tmp_path / "n", 10, seed=2, digits=(3, 6))
    for sample in single:
        with Image.open(sample.path) as image:
            gray = np.asarray(image.convert("L"), dtype=np.float32)
        assert gray.min() < np.median(gray) - 40  # ink clearly darker than the paper
    assert all(3 <= len(s.label) <= 6 for s in numbers)
    ratio = []
    for sample in numbers:
        with Image.open(sample.path) as image:
            ratio.append(image.size[0] / image.size[1])
    assert min(ratio) > 1.3


def test_the_visible_ink_box_frames_what_a_person_sees():
    """Ink 16 gray levels below the paper counts; 15 levels (a faint haze) does not."""
    paper = (250, 250, 248)
    page = np.zeros((30, 40, 3), np.uint8) + np.array(paper, np.uint8)
    page[10:20, 12:15] = 20  # a stroke
    page[5, 5] = (234, 234, 232)  # 16 levels darker: a stroke's faint, tapering end
    page[25, 35] = (235, 235, 233)  # 15 levels: not ink to the eye
    assert visible_ink_box(Image.fromarray(page), paper) == (5, 5, 15, 20)
