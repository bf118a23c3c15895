"""Touching digits cut apart (digitnet.images.touching): how many digits a fused group holds.

The cases come from the miss analysis of development numbers
(`benchmarks/number_misses.py`, rendered seeds 1003/1008-1012): bold or thickened
digits fused into one component were cut into too few digits when the number lay on a
slightly slanted line (its box is taller than its digits) or when the font is wide.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitnet.images.preprocess import to_mnist_digits
from digitnet.images.segment import Region
from digitnet.images.touching import line_height, split_number, split_touching

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def fused_row(widths: list[int], height: int, drift: int = 0, bridge: int = 1) -> np.ndarray:
    """Solid blocks (digits) side by side, each joined to the next by a `bridge`-row
    strip across a 2-px gap, each block `drift` / (n - 1) px lower than the one before."""
    n = len(widths)
    width = sum(widths) + 2 * (n - 1)
    mask = np.zeros((height + drift, width), dtype=bool)
    left = 0
    for k, w in enumerate(widths):
        top = round(k * drift / max(1, n - 1))
        mask[top : top + height, left : left + w] = True
        if k:
            mask[top + height // 2 : top + height // 2 + bridge, left - 2 : left] = True
        left += w + 2
    return mask


def parts_of(mask: np.ndarray, typical: float | None = None) -> list[tuple[int, int]]:
    region = Region((1,), 0, mask.shape[0], 0, mask.shape[1])
    return [(p.left, p.right) for p in split_touching(region, mask, typical)]


def test_line_height_takes_the_drift_of_a_slanted_line_off_the_box():
    level = fused_row([14] * 5, 20)
    assert line_height(level) == 20
    slanted = fused_row([14] * 5, 20, drift=6)  # box 26 tall, digits 20
    assert slanted.shape[0] == 26
    assert line_height(slanted) == 20
    assert line_height(np.zeros((10, 4), dtype=bool)) == 10  # no ink: the box


def test_line_height_is_never_below_six_tenths_of_the_box():
    diagonal = np.eye(30, dtype=bool)  # every column holds one pixel
    assert line_height(diagonal) == pytest.approx(18.0)


def test_touching_digits_on_a_slanted_line_are_all_found():
    # Five 14-px digits 20 tall, thickly fused (no thin bridge), the line drifting 6 px:
    # the box is 26 tall, so width / (aspect × box height) says 4 digits; the line says 5.
    mask = fused_row([14] * 5, 20, drift=6, bridge=8)
    parts = parts_of(mask)
    assert len(parts) == 5
    assert [a for a, _ in parts[1:]] == [14, 30, 46, 62]  # in the 2-px gaps


def test_wide_digits_are_counted_by_the_valleys_between_them():
    # Five wide digits (16 px at height 20, a bold font): width / (0.75 × 20) says 6;
    # only 5 digits put every cut in a gap.
    mask = fused_row([16] * 5, 20, bridge=4)
    assert len(parts_of(mask)) == 5
    # and narrow ones (12 px, say a condensed font): the estimate says 4, the gaps 5
    narrow = fused_row([12] * 5, 20, bridge=4)
    assert len(parts_of(narrow)) == 5


def test_a_narrow_one_beside_a_fused_group_does_not_set_the_digit_width():
    # A 1 (6 px) as the number's only clearly single digit made the group beside it
    # (three 14-px digits) "six digits wide"; a digit is never narrower than its
    # height says.
    group = fused_row([14] * 3, 20, bridge=8)
    assert len(parts_of(group, typical=6.0)) == 3


def test_a_fused_pair_is_cut_when_a_fused_group_beside_it_shows_the_digit_width():
    # "2481" fused into one group and "75" into another, with no single digit to say
    # how wide a digit is: the pair alone (aspect 1.5, thickly joined) could be one
    # wide digit, but the four digits cut from the group show it is two.
    four = fused_row([14] * 4, 20, bridge=8)
    pair = fused_row([14, 14], 20, bridge=10)
    labels = np.zeros((20, four.shape[1] + 10 + pair.shape[1]), dtype=np.int32)
    labels[:, : four.shape[1]][four] = 1
    labels[:, four.shape[1] + 10 :][pair] = 2
    start = four.shape[1] + 10
    regions = [
        Region((1,), 0, 20, 0, four.shape[1]),
        Region((2,), 0, 20, start, start + pair.shape[1]),
    ]
    pair_alone = parts_of(pair)
    assert len(pair_alone) == 1
    parts = split_number(regions, labels)
    assert len(parts) == 6
    assert parts[4].labels == parts[5].labels == (2,)


@pytest.mark.parametrize("angle", [3, -4])
@pytest.mark.parametrize("text", ["25798", "30172"])
def test_bold_touching_numbers_on_a_tilted_line_give_every_digit(text, angle):
    # Bold digits thickened by a 2-px outline touch their neighbours; tilted by a few
    # degrees, as a photo is. Each digit must come out as one 28×28 input.
    font = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 22)
    page = Image.new("L", (200, 80), 255)
    ImageDraw.Draw(page).text((20, 25), text, fill=0, font=font, stroke_width=2, stroke_fill=0)
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    assert len(to_mnist_digits(page)) == len(text)
