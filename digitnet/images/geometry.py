"""MNIST's geometry: crop to the ink, fit the longer side to 20 px, centre of mass at (14, 14).

MNIST was made from NIST's bilevel scans in three steps (LeCun, Cortes & Burges,
"The MNIST database of handwritten digits"):

1. each digit was size-normalised to fit a 20×20 box, keeping its aspect ratio; the
   anti-aliasing of that resize is where MNIST's gray levels come from;
2. it was placed in a 28×28 field so that its centre of mass (intensity-weighted)
   lies at the centre of the field, by an integer translation;
3. the ink is light (up to 255) on a black (0) background (photometry.py's job).

An image that already *is* an MNIST digit comes out unchanged. Measured on the 10,000
MNIST test digits: every digit's centre of mass lies in [13.5, 14.5] (0-based pixel
coordinates, pixel centres at integers), so rounding the translation that puts it at
14.0 leaves MNIST digits where they are; the longer side of the bounding box of the
nonzero pixels is 20 for 9,997 digits and 19 for 3, so a box of 19 or 20 pixels is
left at its scale.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digitnet.errors import ImageError
from digitnet.vocabulary import IMAGE_SIDE

FloatImage = NDArray[np.float32]

BOX_SIZE = 20  # each digit is scaled to fit a 20×20 box inside MNIST's 28×28 field
CENTRE = IMAGE_SIDE / 2  # 14.0: where MNIST puts the centre of mass (0-based pixels)
INK_THRESHOLD = 0.05  # ink (1 = full) above this counts when finding the digit's box
_FRINGE = 2  # px of faint, anti-aliased edge the box may grow by (see `ink_box`)
# Rounding tolerance so a centre of mass at exactly x.5 (MNIST has some) is not moved.
_HALF_PIXEL_TOLERANCE = 1e-6


def no_digit(name: str, blank: bool = False) -> ImageError:
    """The "no digit" error; it says "blank" only of an image without contrast."""
    if blank:
        return ImageError(
            f"no digit found in {name}: it is blank or one flat colour — "
            "draw the digit in dark ink on light paper (or light on dark)"
        )
    return ImageError(
        f"no digit found in {name}: its marks are too faint, small or noisy to be a digit — "
        "write the digit larger or darker, or crop the image closer to it"
    )


def ink_box(ink: FloatImage, name: str) -> tuple[slice, slice]:
    """Rows and columns of the digit's bounding box.

    MNIST's 20-px box is the extent of the digit itself, so the frame around it is cut
    away before scaling. The box holds the pixels above `INK_THRESHOLD` (clearly ink,
    so a little leftover noise cannot widen it), then grows by up to `_FRINGE` px
    where the next row or column still holds faint ink: the anti-aliased edge of a
    stroke belongs to the digit, and MNIST's own digits have such edges.
    """
    mask = ink > INK_THRESHOLD
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise no_digit(name)
    top, bottom = int(rows[0]), int(rows[-1]) + 1  # half-open, like slices
    left, right = int(cols[0]), int(cols[-1]) + 1
    height, width = ink.shape
    for _ in range(_FRINGE):
        if top > 0 and ink[top - 1, left:right].any():
            top -= 1
        if bottom < height and ink[bottom, left:right].any():
            bottom += 1
        if left > 0 and ink[top:bottom, left - 1].any():
            left -= 1
        if right < width and ink[top:bottom, right].any():
            right += 1
    return slice(top, bottom), slice(left, right)


def fit_box(digit: FloatImage) -> FloatImage:
    """Scale so the longer side is `BOX_SIZE` (20) px, keeping the aspect ratio.

    MNIST's digits were scaled this way, so the network knows stroke widths and
    proportions at that size; stretching a thin 1 to a square would make it a smudge.
    Shrinking uses area averaging (BOX): each output pixel is the fraction of its area
    covered by ink, which is how anti-aliasing a bilevel scan makes MNIST's gray edges.
    Enlarging a tiny digit uses Lanczos, whose overshoot is clipped to [0, 1].
    A digit already 19-20 px long is MNIST-sized and is left alone: resampling it by
    5 % or less would only blur it (MNIST's own digits measure 19 or 20).
    """
    height, width = digit.shape
    longer = max(height, width)
    if BOX_SIZE - 1 <= longer <= BOX_SIZE:
        return digit
    scale = BOX_SIZE / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow: (w, h)
    resample = Image.Resampling.BOX if scale < 1.0 else Image.Resampling.LANCZOS
    resized = Image.fromarray(digit).resize(size, resample=resample)  # mode "F"
    fitted: FloatImage = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    return fitted


def round_half_to_zero(value: float) -> int:
    """Nearest integer, ties (within rounding error) toward zero.

    MNIST digits' centres of mass lie in [13.5, 14.5], some exactly on the ends, so a
    shift of exactly ±0.5 must stay 0 for an MNIST digit to be left in place.
    """
    magnitude = int(np.ceil(abs(value) - 0.5 - _HALF_PIXEL_TOLERANCE))
    return max(magnitude, 0) * (1 if value >= 0 else -1)


def centre_by_mass(digit: FloatImage) -> FloatImage:
    """Paste `digit` into a 28×28 field with its centre of mass at (14, 14).

    MNIST centred digits by centre of mass rather than bounding box, so a 7's long
    stem and a 1's serif sit where the network expects them; the translation is an
    integer number of pixels, as in MNIST, so no resampling blurs the digit. Ink that
    would land outside the field is cut off.
    """
    height, width = digit.shape
    mass = float(digit.sum())
    rows = np.arange(height, dtype=np.float64)
    cols = np.arange(width, dtype=np.float64)
    centre_row = float(digit.sum(axis=1) @ rows) / mass
    centre_col = float(digit.sum(axis=0) @ cols) / mass
    top = round_half_to_zero(CENTRE - centre_row)
    left = round_half_to_zero(CENTRE - centre_col)

    # Paste into a field padded by a box on every side, then cut the 28×28 window out.
    pad = BOX_SIZE
    field = np.zeros((IMAGE_SIDE + 2 * pad, IMAGE_SIDE + 2 * pad), dtype=np.float32)
    field[pad + top : pad + top + height, pad + left : pad + left + width] = digit
    centred: FloatImage = field[pad : pad + IMAGE_SIDE, pad : pad + IMAGE_SIDE]
    return centred.copy()


def to_mnist_form(crop: FloatImage, name: str = "the image") -> FloatImage:
    """One digit's ink crop -> (28, 28): its ink box, fitted to 20 px, centred by mass."""
    rows, cols = ink_box(crop, name)
    return centre_by_mass(fit_box(crop[rows, cols]))
