"""Reading numbers: a digit in a lighter or thinner pen beside dark ones is kept whole.

The cases here come from looking at how `predict` cut the numbers it missed in the
development sets (rendered numbers of seeds 1003/1008/1009, the handwriting `dev` split).
"""

from __future__ import annotations

import numpy as np
from handwriting import make_set
from numpy.typing import NDArray
from PIL import Image

from digitnet import checkpoint
from digitnet.images.faintink import with_faint_strokes
from digitnet.images.photometry import ink_mask
from digitnet.images.preprocess import to_mnist_digits
from digitnet.images.reading import bundled_checkpoint, read_image


def faint_zero_beside_a_dark_one() -> NDArray[np.float32]:
    """An ink map: a dark 1 (a bar at full ink), and a 0 in a light, thin pen beside it.

    The 0 is a 2-px ring at 0.4 (its 3×3 mean, 0.27, is under Otsu's threshold) with a
    3×3 knot where the pen pressed harder (its mean, 0.4, passes); far to the right,
    a 2×2 speck at 0.4 holds no clear ink at all.
    """
    ink = np.zeros((40, 90), np.float32)
    ink[8:32, 10:14] = 1.0
    ink[8:32, 30:32] = ink[8:32, 44:46] = 0.4
    ink[8:10, 30:46] = ink[30:32, 30:46] = 0.4
    ink[18:21, 44:47] = 0.4
    ink[20:22, 80:82] = 0.4
    return ink


def test_faint_strokes_joined_to_clear_ink_are_kept_and_loose_specks_are_not():
    ink = faint_zero_beside_a_dark_one()
    clear = ink_mask(ink)
    assert clear[8:32, 10:14].all()
    assert clear[19, 45]
    assert not clear[9, 38]
    grown = with_faint_strokes(ink, clear)
    assert (grown & clear).sum() == clear.sum()  # what was clear stays
    assert grown[9, 38]
    assert grown[31, 38]
    assert grown[20, 31]
    assert not grown[18:24, 78:84].any()  # the speck holds no clear ink: still out


def test_a_faint_digit_beside_a_dark_one_is_read_as_a_digit():
    ink = faint_zero_beside_a_dark_one()
    image = Image.fromarray(np.round(255 * (1 - ink)).astype(np.uint8))  # dark on white
    digits = to_mnist_digits(image)
    assert len(digits) == 2
    zero = digits[1]
    rows, cols = np.nonzero(zero > 0.05)
    # The whole ring came through (a square 0 fills its 20-px box), not just its knot.
    assert rows.max() - rows.min() >= 18
    assert cols.max() - cols.min() >= 12


def test_faint_ink_reaching_far_beyond_the_clear_ink_stays_out():
    # A dark digit-sized bar with a faint line from it across the image (a sheet's
    # shadowed edge, what is left of a rule): keeping the line would make the digit's
    # box three times its height wide.
    ink = np.zeros((40, 120), np.float32)
    ink[10:30, 10:14] = 1.0
    ink[20:22, 14:80] = 0.4
    clear = ink_mask(ink)
    assert not clear[21, 40]
    assert not with_faint_strokes(ink, clear)[21, 40]
    # The same faint line ending within a digit's height of the bar is the bar's own.
    ink[20:22, 34:80] = 0.0
    assert with_faint_strokes(ink, ink_mask(ink))[21, 30]


def test_handwritten_numbers_with_digits_in_lighter_pens_are_read(tmp_path):
    # 40 handwritten numbers of the development split (each digit its own pen width):
    # 20 were read right before faint strokes joined the mask, 26 after.
    ckpt = checkpoint.load(bundled_checkpoint())
    samples = make_set(tmp_path, 40, seed=1003, digits=(3, 6), split="dev")
    right = sum(read_image(s.path, ckpt).number == s.label for s in samples)
    assert right >= 24
