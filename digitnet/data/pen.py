"""Pen and capture variations of training images: stroke width and low resolution.

Two ways in which users' digits differ from MNIST's beyond shape, applied per image
of a mini-batch (``augment.distort``), vectorised over the batch:

* **stroke width** (``augment_stroke``): markers draw thicker, fine pens and thin
  fonts thinner. Grey-level dilation (erosion) with the 3 × 3 cross — each pixel
  takes the maximum (minimum) of itself and its four neighbours — moves every edge of
  a stroke out (in) by one pixel, so the width changes by 2 px. A change of Δ pixels,
  drawn per image uniform in [−s, s], takes ⌈|Δ|/2⌉ such steps and blends the last
  one linearly: x + f (D(x) − x), f the fraction left. An erosion that would remove
  most of the ink (a thin 1) is undone for that image. A thickened digit is then
  shrunk back into MNIST's 20-px box by the distortion's sampling map (``refit_zoom``),
  as `predict` fits a thick-penned digit, pen included, into that box.
* **low resolution** (``augment_low_res``): a digit photographed or drawn small has
  lost detail that no enlargement brings back; `predict` enlarges it to 20 px. A
  chosen fraction of the images is shrunk by area averaging so that the digit's box
  is 7-14 px, then enlarged back by linear interpolation (both steps linear and
  separable, so each size is one 28 × 28 matrix P = U D applied as P X Pᵀ to all the
  images drawn with that size at once), and its darkest ink set back to full
  strength, as `predict` stretches the contrast of what it reads.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import IMAGE_SIDE as SIDE

BOX = 20  # MNIST fits each digit's longer side to 20 px
#: digit box sizes (px, of MNIST's 20) that a low-resolution image is shrunk to
LOW_RES_SIZES = (7, 14)
#: an erosion that leaves less than this fraction of the ink is undone
KEEP_INK = 0.4

Images = NDArray[np.float32]


#: the 3 × 3 cross: a pixel and its four neighbours
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)


def _cross_extreme(images: Images, thicker: bool) -> Images:
    """Max (dilation) or min (erosion) over each pixel and its 4 neighbours; (m, 28, 28).

    Outside the frame is background (0), so the border erodes too. The batch is one
    tall image for OpenCV's morphology (one call, vectorised in C): each image is
    followed by a row of zeros, so no image is ever another's neighbour, and beyond
    the tall image lies a constant 0 (OpenCV's default border for erosion would be +∞).
    """
    import cv2  # opencv-python-headless: a dependency; loaded only when training distorts

    m = images.shape[0]
    slot = SIDE + 1
    stacked = np.zeros((m, slot, SIDE), dtype=np.float32)
    stacked[:, :SIDE] = images
    morphology = cv2.dilate if thicker else cv2.erode
    picked = morphology(
        stacked.reshape(m * slot, SIDE), CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    out: Images = np.asarray(picked, dtype=np.float32).reshape(m, slot, SIDE)[:, :SIDE]
    return out


def stroke_changes(m: int, rng: np.random.Generator, largest: float) -> NDArray[np.float32]:
    """Each of m images' change of stroke width, Δ ~ U[−largest, largest] px."""
    return np.asarray(rng.uniform(-largest, largest, size=m), dtype=np.float32)


def refit_zoom(delta: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each image must shrink (> 1) or grow (< 1) after its pen changed by Δ px.

    `predict` fits the ink box, pen included, to MNIST's 20 px (geometry.fit_box), so a
    digit drawn with a thick pen is shrunk until pen and all fit, and its holes stay as
    small as they are. Thickening a 20-px training digit by Δ takes ⌈Δ/2⌉ cross steps,
    each of which (even the last, partial one) puts ink on one more pixel at both ends,
    so its box grows to 20 + 2⌈Δ/2⌉; shrinking it by that over 20 puts it back in
    predict's box (a sampling map's scale: source coordinates spread wider, the image
    gets smaller). A thinner pen is left at its size: erosion eats the strokes' soft
    edges first, and on 200 MNIST test digits Δ = −2 shrank the box (ink > 0.05) by
    0.4 px on average, not 2.
    """
    grown = 2 * np.ceil(np.maximum(delta, 0) / 2)
    zoom: NDArray[np.float32] = (np.float32(BOX) + grown) / np.float32(BOX)
    return zoom


def change_stroke(images: Images, delta: NDArray[np.float32]) -> Images:
    """Each image (m, 784) with its stroke width changed by its Δ px (``stroke_changes``)."""
    m = images.shape[0]
    steps = np.abs(delta) / np.float32(2)  # one cross step changes the width by 2 px
    out = images.reshape(m, SIDE, SIDE).copy()
    for thicker in (True, False):
        chosen = np.flatnonzero(delta > 0) if thicker else np.flatnonzero(delta < 0)
        if chosen.size == 0:
            continue
        level = out[chosen]
        left = steps[chosen]
        while np.any(left > 0):
            f = np.minimum(left, 1)[:, None, None]
            step = _cross_extreme(level, thicker)
            level = level + f * (step - level)  # f = 1: the full step
            left = np.maximum(left - 1, 0)
        if not thicker:
            before = images[chosen].sum(axis=1)
            kept = level.reshape(len(chosen), -1).sum(axis=1) >= KEEP_INK * before
            level = np.where(kept[:, None, None], level, out[chosen])
        out[chosen] = level
    return np.clip(out, 0, 1, out=out).reshape(m, SIDE * SIDE)


@lru_cache(maxsize=32)
def resample_matrix(frame: int) -> NDArray[np.float32]:
    """P = U D (28 × 28): area-average 28 pixels down to ``frame``, then linear back up."""
    # D (frame × 28): output pixel i covers input interval [i s, (i + 1) s), s = 28/frame.
    s = SIDE / frame
    lo = np.arange(frame)[:, None] * s
    j = np.arange(SIDE)[None, :]
    overlap = np.clip(np.minimum(lo + s, j + 1) - np.maximum(lo, j), 0, None)
    D = overlap / s
    # U (28 × frame), centres aligned: pixel j sits at (j + 0.5)/s − 0.5 on the small grid.
    where = np.clip((np.arange(SIDE) + 0.5) / s - 0.5, 0, frame - 1)
    below = np.floor(where).astype(int)
    above = np.minimum(below + 1, frame - 1)
    frac = where - below
    U = np.zeros((SIDE, frame))
    U[np.arange(SIDE), below] += 1 - frac
    U[np.arange(SIDE), above] += frac
    P: NDArray[np.float32] = (U @ D).astype(np.float32)
    return P


def low_resolution(images: Images, rng: np.random.Generator, fraction: float) -> Images:
    """A copy of ``images`` (m, 784) with about ``fraction`` of them shown small, enlarged."""
    m = images.shape[0]
    chosen = np.flatnonzero(rng.random(m) < fraction)
    sizes = rng.integers(LOW_RES_SIZES[0], LOW_RES_SIZES[1] + 1, size=len(chosen))
    out = images.copy()
    if chosen.size == 0:
        return out
    squares = out.reshape(m, SIDE, SIDE)
    frames = np.round(sizes * SIDE / 20).astype(int)  # the whole field at the digit's scale
    for frame in np.unique(frames):
        rows = chosen[frames == frame]
        P = resample_matrix(int(frame))
        squares[rows] = P @ squares[rows] @ P.T
    peak = squares[chosen].max(axis=(1, 2), keepdims=True)
    squares[chosen] /= np.maximum(peak, np.float32(1e-6))  # blur dims the ink: restore it
    return np.clip(out, 0, 1, out=out)
