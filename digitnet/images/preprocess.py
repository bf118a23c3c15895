"""A user's image -> MNIST-like 28×28 inputs a^(1), one per digit, left to right.

The stages, each in its own module:

    decode.load_for_prediction   path -> decoded, upright first frame, large ones reduced
    photometry.ink_and_noise     image -> 2-D ink map (ink 1, background 0) and noise floor
    photometry.ink_mask          ink -> mask of clear ink
    faintink.with_faint_strokes  the faint ink joined to it (a digit in a lighter pen)
    segment.label/find_digits    mask -> digits (broken pieces merged, dust dropped,
                                 touching digits cut)
    (here) digit crop            each digit's ink apart from its neighbours and specks
    geometry.to_mnist_form       crop -> (28, 28): ink box, fit 20 px, centre of mass

An image that already is an MNIST digit comes out unchanged, so predicting the MNIST
test set exported as PNG agrees with evaluating the raw arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digitnet.images.decode import load_for_prediction, reduce_large
from digitnet.images.faintink import with_faint_strokes
from digitnet.images.geometry import INK_THRESHOLD, no_digit, to_mnist_form
from digitnet.images.paper import needs_sheet_reading, read_sheet, sheet_in_view
from digitnet.images.photometry import box_blur, ink_and_noise, ink_mask, is_blank
from digitnet.images.segment import Region, find_digits, label
from digitnet.images.touching import split_number
from digitnet.vocabulary import N_INPUTS

FloatImage = NDArray[np.float32]

# Margin around a digit's masked box, a fraction of its height (at least 3 px), where
# faint ink connected to the digit is kept (`_digit_crop`).
_MARGIN = 0.5
_NEAR_MARGIN = 0.25
_MIN_MARGIN = 3


def _digit_crop(
    ink: FloatImage, labels: NDArray[np.int32], regions: list[Region], index: int, noisy: bool
) -> FloatImage:
    """The ink of one digit: its box plus a margin, everything else zeroed.

    The mask misses the faint parts of strokes that MNIST keeps (anti-aliased edges,
    a lightly drawn tail), so the box grows by a margin (half the digit's height,
    stopping halfway to a neighbouring digit). Near the box (a quarter of the height)
    everything is kept, as MNIST's broken strokes can be faint; farther out only
    faint ink connected to the digit is. Other digits' pixels, and faint specks of
    noise or dirt that do not touch the digit, are zeroed so they cannot widen its box.
    On clean paper (no noise floor) there is no noise to remove: faint ink in the margin
    stays, so an MNIST digit's stray pixels keep it exactly as it was.
    """
    region = regions[index]
    margin = max(_MIN_MARGIN, round(_MARGIN * region.height))
    left, right = region.left - margin, region.right + margin
    if index > 0:
        left = max(left, (regions[index - 1].right + region.left) // 2)
    if index + 1 < len(regions):
        right = min(right, (region.right + regions[index + 1].left + 1) // 2)
    rows = slice(max(region.top - margin, 0), region.bottom + margin)
    cols = slice(max(left, 0), right)
    crop = ink[rows, cols].copy()
    owner = labels[rows, cols]
    mine = np.isin(owner, region.labels)
    crop[(owner > 0) & ~mine] = 0.0
    if not noisy:
        return crop
    faint, _ = label(crop > INK_THRESHOLD)
    # The faint pieces that touch the digit's own mask, by label (np.unique would import
    # numpy.ma here: 20 ms of `predict`'s cold start).
    touches = np.bincount(faint[mine].ravel(), minlength=int(faint.max()) + 1) > 0
    loose = (faint > 0) & ~touches[faint]
    near = max(_MIN_MARGIN, round(_NEAR_MARGIN * region.height))
    top, left = rows.start, cols.start
    loose[
        max(region.top - near - top, 0) : region.bottom + near - top,
        max(region.left - near - left, 0) : region.right + near - left,
    ] = False
    crop[loose] = 0.0
    # Inside the box, noise on the paper (and in the holes of a 0, 6, 8 or 9) is not
    # ink either: only what lies within 2 px of the mask is kept.
    crop[box_blur(mine.astype(np.float32), 2) <= 0] = 0.0
    return crop


def to_mnist_digits(
    image: Image.Image, name: str = "the image", single: bool = False
) -> list[FloatImage]:
    """Each digit in `image`, left to right, in MNIST's form (see `to_mnist`).

    `to_mnist_digits_boxed` gives the same digits with where each was found.
    """
    return to_mnist_digits_boxed(image, name, single)[0]


def to_mnist_digits_boxed(
    image: Image.Image, name: str = "the image", single: bool = False
) -> tuple[list[FloatImage], list[Region]]:
    """Each digit in `image`, left to right, in MNIST's form, and its box in `image`.

    The ink (`to_gray_ink`) is masked (`ink_mask`), split into connected components
    and grouped into digits (`segment.find_digits`: broken pieces merged, dust dropped);
    each digit is cropped apart from its neighbours and brought to MNIST's form. With
    `single`, all the ink is one digit.

    Raises
    ------
    ImageError
        The image holds no ink ("no digit found").
    """
    ink, noise_floor = ink_and_noise(image)
    mask = ink_mask(ink)
    labels, components = label(mask)
    looks_like_paper = needs_sheet_reading(labels, components, ink.shape)
    if looks_like_paper or sheet_in_view(image):
        # A photo of paper: read what is written on the sheet instead (`paper`, which
        # imports OpenCV only now).
        sheet = read_sheet(image, whole_page=looks_like_paper)
        if sheet is not None:
            image = sheet
            ink, noise_floor = ink_and_noise(image)
            mask = ink_mask(ink)
    # Digits are grouped on the clear ink and the faint strokes joined to it: a digit in
    # a lighter pen beside a dark one would otherwise fall apart into dust.
    labels, components = label(with_faint_strokes(ink, mask))
    regions = find_digits(components, single=single)
    if not regions:
        raise no_digit(name, blank=is_blank(image))
    if not single:
        regions = split_number(regions, labels)
    digits = []
    for index in range(len(regions)):
        crop = _digit_crop(ink, labels, regions, index, noisy=noise_floor > 0)
        digits.append(to_mnist_form(crop, name))
    return digits, regions


def to_mnist(image: Image.Image, name: str = "the image") -> FloatImage:
    """Bring `image` into MNIST's form: (28, 28) float32 in [0, 1], light ink on black.

    Polarity, background and contrast (`to_gray_ink`), specks dropped
    (`to_mnist_digits`), crop to the ink's bounding box (`ink_box`), fit the longer
    side to 20 px (`fit_box`), and place the centre of mass at the field's centre
    (`centre_by_mass`) — MNIST's own recipe, so an MNIST digit comes back unchanged.
    All the ink is taken as one digit. `name` (the file name) appears in error messages.

    Raises
    ------
    ImageError
        The image holds no ink ("no digit found").
    """
    return to_mnist_digits(image, name, single=True)[0]


def image_to_input(path: Path) -> NDArray[np.float32]:
    """Read the image at `path` and return the network's input a^(1): (784,) float32."""
    path = Path(path)
    return to_mnist(load_for_prediction(path), name=str(path)).reshape(N_INPUTS)


def image_to_inputs(path: Path, single: bool = False) -> NDArray[np.float32]:
    """Every digit in the image at `path`, left to right: (k, 784) float32 rows a^(1)."""
    path = Path(path)
    return picture_to_inputs(load_for_prediction(path), name=str(path), single=single)


def picture_to_inputs(
    image: Image.Image, name: str = "the image", single: bool = False
) -> NDArray[np.float32]:
    """Every digit in a decoded Pillow image, left to right: (k, 784) float32 rows a^(1)."""
    digits = to_mnist_digits(reduce_large(image), name=name, single=single)
    return np.stack(digits).reshape(len(digits), N_INPUTS)
