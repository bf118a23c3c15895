"""Photometry: from any image to an ink map (ink 1, background 0) and a mask of the ink.

Gray and alpha at their proper bit depth, the paper's background (flat or a smooth
surface under uneven light) subtracted, polarity found (MNIST is light ink on black),
the noise floor removed and contrast stretched; then Otsu's threshold for the mask
that segmentation groups into digits.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digitnet.images.quantiles import median, percentile
from digitnet.images.tightcrop import (
    NUMBER_ASPECT,
    ink_reaches_frame,
    otsu,
    paper_in_ring,
    split_paper_and_ink,
)

FloatImage = NDArray[np.float32]

# Every MNIST digit's brightest pixel is 254 or 255: ink that already reaches this is at
# full contrast and is not stretched (stretching 254 -> 255 would only perturb MNIST).
_FULL_INK = 254.0 / 255.0
# Sample ranges of Pillow's integer modes; 16-bit files open as "I;16*" (or "I").
_MAX_8BIT = 255.0
_MAX_16BIT = 65535.0
# The background noise floor is this many robust standard deviations (1.4826 × MAD) of
# the border pixels: about 3σ, so paper grain and JPEG noise do not count as ink.
_NOISE_SIGMAS = 3.0
_MAD_TO_SIGMA = 1.4826
# Background surface (`estimate_background`): the coarse grid, the fit's rejection
# of ink cells, and the variation below which paper counts as flat.
_GRID = 48
_MIN_SURFACE_SIDE = 32  # an MNIST-sized image is all digit: no paper to fit a surface to
_SURFACE_SIGMAS = 2.5
_SURFACE_ROUNDS = 6
_SURFACE_TOLERANCE = 2.0 / 255.0  # never reject cells closer than 2 gray levels
_GRADIENT_MIN = 0.03  # about 8 gray levels across the image
_SURFACE_OVERSHOOT = 0.05  # beyond the image's darkest or lightest pixel (13 levels)
_DIM_PAPER = 0.05  # floor for the light level when dividing it out
# Ink mask (`ink_mask`): Otsu's threshold over the ink, kept in this range.
MASK_MIN = 0.1
_MASK_MAX = 0.3
# An image whose levels span fewer than this many 8-bit gray levels is blank.
_BLANK_LEVELS = 2.0
# Paper known from a tight crop's split (`_paper_level`): its level is this quartile,
# and a pixel's departure from its 3×3 mean has σ·√(8/9) for white noise σ.
_PAPER_QUARTILE = 75
_FINE_TO_PIXEL = 1.0606601717798212  # √(9/8)
# A crop under `_SMALL_CROP` px a side (not a number) whose ring rises `_RING_INK` of
# the ink's peak is cut to its strokes: its noise is measured on the paper more than
# `_CLEAR_OF_INK` px from them (`_noise_beside_ink`), on at least `_MIN_CLEAR_PAPER` pixels.
_SMALL_CROP = 64
_RING_INK = 0.3
_CLEAR_OF_INK = 3
_MIN_CLEAR_PAPER = 20


def gray_and_alpha(image: Image.Image) -> tuple[FloatImage, FloatImage | None]:
    """Luminance in [0, 1] and, if the image has transparency, alpha in [0, 1].

    Each sample is divided by its mode's own maximum, so 16-bit (I;16) and 8-bit images
    of the same picture give the same gray. Colour becomes ITU-R 601 luminance (Pillow's
    ``convert("L")``), which keeps 8-bit gray exactly.
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) / np.float32(_MAX_16BIT), None
    if mode == "I":  # 32-bit integers; Pillow uses this mode for 16-bit samples
        gray = np.asarray(image, dtype=np.float32) / np.float32(_MAX_16BIT)
        return np.clip(gray, 0.0, 1.0), None
    if mode == "F":  # Pillow's float images share the 8-bit scale (0-255)
        gray = np.asarray(image, dtype=np.float32) / np.float32(_MAX_8BIT)
        return np.clip(gray, 0.0, 1.0), None
    has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
    if has_alpha:
        if mode not in ("LA", "RGBA"):
            image = image.convert("RGBA")  # P with transparency, PA, La, RGBa, ...
        luminance, alpha = image.convert("L"), image.getchannel("A")
        return _scaled8(luminance), _scaled8(alpha)
    if mode != "L":
        image = image.convert("L")  # 1, P, RGB, CMYK, YCbCr, ...
    return _scaled8(image), None


def _scaled8(image: Image.Image) -> FloatImage:
    """An 8-bit single-band image as float32 in [0, 1]."""
    return np.asarray(image, dtype=np.float32) / np.float32(_MAX_8BIT)


def _flatten_alpha(gray: FloatImage, alpha: FloatImage) -> FloatImage:
    """Composite `gray` over a backdrop chosen to contrast with its opaque pixels.

    A transparent PNG of dark strokes usually stores black (0, 0, 0) under its
    transparent pixels, so dropping alpha would turn it black on black. Alpha is what
    separates stroke from background there: the opaque pixels are taken to be the
    strokes, and the backdrop is white under dark strokes and black under light ones,
    so the transparent area becomes background. (A fully opaque sheet of paper inside
    a transparent margin would be misread; such files are rare.)
    """
    coverage = float(alpha.sum())
    if coverage == 0.0:  # fully transparent: nothing drawn
        return np.zeros_like(gray)
    opaque_mean = float((alpha * gray).sum()) / coverage
    backdrop = np.float32(1.0 if opaque_mean < 0.5 else 0.0)
    flat: FloatImage = alpha * gray + (np.float32(1.0) - alpha) * backdrop
    return flat


def _border(gray: FloatImage) -> FloatImage:
    """The outermost ring of pixels, where a centred digit's background shows."""
    if min(gray.shape) <= 2:
        return gray.ravel()
    ring: FloatImage = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return ring


def box_blur(values: FloatImage, radius: int) -> FloatImage:
    """Mean over a (2r+1)² window, edges repeated: a cheap denoiser (running sums)."""
    if radius < 1:
        return values
    k = 2 * radius + 1
    out = np.pad(values, radius, mode="edge").astype(np.float64)
    for axis in (0, 1):
        sums = np.cumsum(out, axis=axis)
        sums = np.concatenate([np.zeros_like(sums.take([0], axis=axis)), sums], axis=axis)
        n = sums.shape[axis]
        out = (sums.take(range(k, n), axis=axis) - sums.take(range(n - k), axis=axis)) / k
    blurred: FloatImage = out.astype(np.float32)
    return blurred


def _surface_terms(u: NDArray[np.float64], v: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """The six terms of a quadratic surface in normalised coordinates u, v ∈ [-1, 1]."""
    return [np.ones_like(u * v), u, v, u * u, u * v, v * v]


def _normalised(n: int, positions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pixel positions 0..n-1 -> [-1, 1]."""
    return positions / max(1, n - 1) * 2.0 - 1.0


def estimate_background(gray: FloatImage, paper: NDArray[np.bool_] | None = None) -> FloatImage:
    """The paper's brightness at every pixel: flat, or a smooth quadratic surface.

    A photo of paper under a lamp is brighter on one side than the other; if the
    background were one level, the dark side would count as ink and the bright side
    would hide faint strokes. The image is averaged into a coarse grid (at most
    `_GRID` cells a side) and a quadratic surface a + bu + cv + du² + euv + fv² is
    fitted to it by least squares, dropping the cells more than `_SURFACE_SIGMAS`
    robust σ from the surface and refitting (the cells holding ink), a few rounds,
    starting from the cells of the border ring.
    When the surface varies by less than `_GRADIENT_MIN` the paper is taken as flat
    and its level is the median of the border ring (the digit rarely fills the frame),
    which leaves an MNIST digit's black background at exactly 0.
    With `paper` (a mask of pixels known to be paper, for ink that fills the frame),
    the flat level is their median and the fit starts from the grid cells that are
    all paper instead of the border ring; a crop too small for the quadratic (under
    `_MIN_SURFACE_SIDE` px a side) is fitted a plane a + bu + cv, the lamp's
    first-order falloff, so a number cut to its ink under a lamp is not read with
    its darker end of paper as a haze of ink. A surface that overshoots the image's
    own darkest or lightest level (`_SURFACE_OVERSHOOT`) followed strokes, not a
    lamp, and the paper is taken as flat.
    Returns an array that broadcasts against `gray` (a 0-d array when flat).
    """
    known = _border(gray) if paper is None else gray[paper]
    flat: FloatImage = np.asarray(median(known), dtype=np.float32)
    height, width = gray.shape
    if min(height, width) < _MIN_SURFACE_SIDE and paper is None:
        return flat
    grid_w, grid_h = min(width, _GRID), min(height, _GRID)
    grid = np.asarray(
        Image.fromarray(gray).resize((grid_w, grid_h), Image.Resampling.BOX), dtype=np.float64
    )
    # Each grid cell's centre in full-size pixel coordinates, then normalised.
    gu = _normalised(width, (np.arange(grid_w) + 0.5) * width / grid_w - 0.5)
    gv = _normalised(height, (np.arange(grid_h) + 0.5) * height / grid_h - 0.5)
    # A small crop's few paper pixels fit a plane (the lamp's first-order falloff) only.
    degree = 3 if min(height, width) < _MIN_SURFACE_SIDE else 6
    cells = np.broadcast_arrays(*_surface_terms(gu[None, :], gv[:, None])[:degree])
    terms = np.stack([t.ravel() for t in cells], axis=1)
    target = grid.ravel()
    # Start from the grid's border ring, which is mostly paper (as in the flat case);
    # a start from all cells lets a large digit pull the first surface towards the ink.
    if paper is None:
        ring = np.zeros((grid_h, grid_w), dtype=bool)
        ring[[0, -1], :] = True
        ring[:, [0, -1]] = True
        inliers = ring.ravel()
    else:
        share = Image.fromarray(paper.astype(np.float32)).resize(
            (grid_w, grid_h), Image.Resampling.BOX
        )
        inliers = np.asarray(share).ravel() >= 1.0 - 1e-6
        if inliers.sum() < 2 * terms.shape[1]:
            return flat
    coef = np.zeros(terms.shape[1])
    for _ in range(_SURFACE_ROUNDS):
        coef = np.linalg.lstsq(terms[inliers], target[inliers], rcond=None)[0]
        residual = target - terms @ coef
        sigma = _MAD_TO_SIGMA * median(np.abs(residual[inliers]))
        keep = np.abs(residual) <= max(_SURFACE_SIGMAS * sigma, _SURFACE_TOLERANCE)
        if keep.sum() < 2 * terms.shape[1] or np.array_equal(keep, inliers):
            break
        inliers = keep
    fitted = terms @ coef
    if float(fitted.max() - fitted.min()) < _GRADIENT_MIN:
        return flat
    u = _normalised(width, np.arange(width, dtype=np.float64))[None, :]
    v = _normalised(height, np.arange(height, dtype=np.float64))[:, None]
    surface = sum(c * t for c, t in zip(coef, _surface_terms(u, v)[:degree], strict=True))
    background: FloatImage = np.asarray(surface, dtype=np.float32)
    # Paper under a lamp lies within the image's own levels. A surface that overshoots
    # them has bent to follow strokes in the ring it started from (a bold digit cut to
    # its ink on gray paper), so the paper is taken as flat and the ink in the ring
    # then shows as what it is (`tightcrop`).
    overshoot = max(float(gray.min() - background.min()), float(background.max() - gray.max()))
    if overshoot > _SURFACE_OVERSHOOT:
        return flat
    return background


def _paper_level(
    gray: FloatImage, paper: NDArray[np.bool_], dark_ink: bool
) -> tuple[FloatImage, float]:
    """The paper's level from pixels known to be paper, and the paper's noise (MAD).

    In a blurred crop (a coarse scan enlarged) the paper class still holds the soft
    edges of strokes, which pull its median towards the ink; the paper itself is the
    plateau at the class's far end from the ink, so its level is the upper (dark ink)
    or lower quartile. The noise is measured on the paper's pixel-to-pixel changes
    (each pixel minus its 3×3 mean, scaled to one pixel's σ), which a smooth blur
    or lamp does not raise. A lamp's surface fitted to the paper cells replaces the
    one level only when it fits the paper better.
    """
    values = gray[paper]
    flat: FloatImage = np.asarray(
        percentile(values, _PAPER_QUARTILE if dark_ink else 100 - _PAPER_QUARTILE),
        dtype=np.float32,
    )
    noise_mad = _fine_mad(gray, paper)
    surface = estimate_background(gray, paper=paper)
    if surface.ndim:
        flat_spread = median(np.abs(values - median(values)))
        surface_spread = median(np.abs((gray - surface)[paper]))
        if surface_spread < flat_spread:
            return surface, noise_mad
    return flat, noise_mad


def is_blank(image: Image.Image) -> bool:
    """Whether the image is one flat colour: its levels span under `_BLANK_LEVELS`."""
    gray, alpha = gray_and_alpha(image)
    if alpha is not None and float(alpha.min()) < 1.0:
        gray = _flatten_alpha(gray, alpha)
    return float(gray.max() - gray.min()) * _MAX_8BIT < _BLANK_LEVELS


def to_gray_ink(image: Image.Image) -> FloatImage:
    """Map an image to ink: 2-D float32 in [0, 1], ink high (1), background 0 (MNIST's).

    See `ink_and_noise` for the steps.
    """
    return ink_and_noise(image)[0]


def ink_and_noise(image: Image.Image) -> tuple[FloatImage, float]:
    """The ink map and the noise floor that was subtracted (0 for clean paper).

    Map an image to ink: 2-D float32 in [0, 1], ink high (1), background 0 (MNIST's).

    Steps, each because users' images differ from MNIST there:

    1. gray and alpha at their proper scale (8- or 16-bit), alpha flattened onto a
       contrasting backdrop (`_flatten_alpha`);
    2. the background: flat (the border's median) or, under uneven light, a smooth
       surface (`estimate_background`), subtracted so that paper is 0 everywhere;
    3. polarity: MNIST is light ink on black, most photos and drawings are dark ink on
       white. The ink is on whichever side of the background the image reaches
       farther (white paper at 0.9 with ink at 0.1 reaches 0.8 down and 0.1 up),
       judged after a 3×3 mean so a few noisy pixels cannot decide it; dark ink under
       uneven light is divided by the light level, so strokes in the shadow keep
       their contrast;
    4. the background noise (3 robust σ of the border) is subtracted, so paper grain
       and JPEG noise become 0, as MNIST's background is; a small crop cut to its
       strokes measures it on the paper clear of them instead, when that is lower
       (`_noise_beside_ink`);
    5. contrast: faint ink (pencil, gray pen) is stretched so its strongest pixel is 1,
       unless it is already at MNIST's full 254-255.

    An image with no ink (one flat colour) gives all zeros.
    """
    gray, alpha = gray_and_alpha(image)
    if alpha is not None and float(alpha.min()) < 1.0:
        gray = _flatten_alpha(gray, alpha)

    background = estimate_background(gray)
    residual = gray - background
    smooth = box_blur(residual, 1)
    reach_up = float(smooth.max())
    reach_down = -float(smooth.min())
    level = median(background)
    dark_ink = reach_down > reach_up or (reach_down == reach_up and level > 0.5)
    mad = median(np.abs(_border(residual)))
    noise_floor = _noise_floor(mad)
    # Ink touching the frame (a tight crop) is not paper, though it lies in the ring:
    # paper and ink are then told apart by what strokes look like (`tightcrop`), and
    # the paper is measured on itself.
    if ink_reaches_frame(residual):
        split = split_paper_and_ink(gray)
        if split is not None:
            background, mad = _paper_level(gray, split.paper, split.dark_ink)
            residual = gray - background
            level = median(background)
            dark_ink = split.dark_ink
            noise_floor = _noise_floor(mad)
    elif (edges := paper_in_ring(residual, dark_ink)) is not None:
        # A crop to the ink's box: the strokes' soft edges in the ring are not noise.
        shift, mad = edges
        background = background + np.float32(shift)
        residual = gray - background
        level = median(background)
        noise_floor = _noise_floor(mad)
    rise = -residual if dark_ink else residual  # ink above background
    if dark_ink and background.ndim:
        # Reflected light = illumination × reflectance: dividing by the paper's
        # brightness undoes the lamp's falloff for dark strokes.
        rise = rise * (np.float32(level) / np.maximum(background, np.float32(_DIM_PAPER)))
    if noise_floor > 0 and _small_digit_crop(gray.shape) and _ink_in_ring(rise):
        # A small crop cut to its ink: its ring runs along the strokes, whose soft
        # edges and JPEG ringing inflate the noise measured there (a faint pen then
        # loses half its ink); the paper clear of the strokes measures it better.
        noise_floor = min(noise_floor, _noise_beside_ink(gray, rise))
    rise = rise - noise_floor

    peak = float(rise.max())
    if peak <= 0.0:
        return np.zeros(gray.shape, dtype=np.float32), float(noise_floor)
    gain = np.float32(1.0 if peak >= _FULL_INK else 1.0 / peak)
    ink: FloatImage = np.clip(rise * gain, 0.0, 1.0).astype(np.float32)
    return ink, float(noise_floor)


def _small_digit_crop(shape: tuple[int, ...]) -> bool:
    """Under `_SMALL_CROP` px a side, and not a number (`NUMBER_ASPECT`): a number cut to
    its ink keeps paper between its digits in the ring, where its noise is measured well
    (development numbers: measured beside the strokes instead, 2 more were lost)."""
    height, width = shape[:2]
    return min(height, width) < _SMALL_CROP and width < NUMBER_ASPECT * height


def _ink_in_ring(rise: FloatImage) -> bool:
    """Whether strokes reach the outer ring: it rises `_RING_INK` of the ink's peak."""
    peak = float(rise.max())
    return peak > 0.0 and float(_border(rise).max()) > _RING_INK * peak


def _noise_beside_ink(gray: FloatImage, rise: FloatImage) -> np.float32:
    """The noise floor measured on the paper more than `_CLEAR_OF_INK` px (in rows and
    columns) from the strokes, the pixels rising half the peak: 3 robust σ of each
    pixel's departure from its 3×3 mean, which a smooth stroke edge or lamp does not
    raise. Infinite (no lower floor) when fewer than `_MIN_CLEAR_PAPER` such pixels
    are left."""
    strokes = rise > 0.5 * float(rise.max())
    clear = box_blur(strokes.astype(np.float32), _CLEAR_OF_INK) <= 0
    if int(clear.sum()) < _MIN_CLEAR_PAPER:
        return np.float32(np.inf)
    return _noise_floor(_fine_mad(gray, clear))


def _fine_mad(gray: FloatImage, where: NDArray[np.bool_]) -> float:
    """The MAD of the pixels' departures from their 3×3 mean at `where`, scaled to one
    pixel's (`_FINE_TO_PIXEL`): the noise, which a smooth blur or lamp does not raise."""
    fine = (gray - box_blur(gray, 1))[where]
    return median(np.abs(fine - median(fine))) * _FINE_TO_PIXEL


def _noise_floor(mad: float) -> np.float32:
    """`_NOISE_SIGMAS` robust σ of noise whose MAD is `mad`."""
    return np.float32(_NOISE_SIGMAS * _MAD_TO_SIGMA * mad)


def ink_mask(ink: FloatImage) -> NDArray[np.bool_]:
    """Where the ink clearly is: a 3×3 mean of the ink map above an Otsu threshold.

    The mean removes the isolated pixels that noise leaves above the noise floor; the
    threshold is Otsu's between faint and strong ink (background pixels, 0 after
    `to_gray_ink`, are left out or they would drag it to the noise), kept within
    [`MASK_MIN`, `_MASK_MAX`] so a thin stroke, whose mean peaks lower, stays whole.
    """
    smooth = box_blur(ink, 1)
    inked = smooth[smooth > MASK_MIN / 4]
    threshold = otsu(inked, (0.0, 1.0)) if inked.size else _MASK_MAX
    mask: NDArray[np.bool_] = smooth > min(max(threshold, MASK_MIN), _MASK_MAX)
    return mask
