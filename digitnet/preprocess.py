"""A user's image -> an MNIST-like 28×28 input a^(1).

The network only ever saw MNIST, so a user's digit has to be brought into MNIST's
form before it is worth predicting. MNIST was made from NIST's bilevel scans in three
steps (LeCun, Cortes & Burges, "The MNIST database of handwritten digits"):

1. each digit was size-normalised to fit a 20×20 box, keeping its aspect ratio; the
   anti-aliasing of that resize is where MNIST's gray levels come from;
2. it was placed in a 28×28 field so that its centre of mass (intensity-weighted)
   lies at the centre of the field, by an integer translation;
3. the ink is light (up to 255) on a black (0) background.

This module repeats those steps on any image Pillow can read:

    load_image      path -> decoded, upright first frame          (any mode, any size)
    to_gray_ink     image -> 2-D ink map, ink 1, background 0      (alpha, 16-bit, polarity)
    to_mnist        image -> (28, 28): crop to ink, fit 20 px, centre of mass at the centre
    image_to_input  path -> (784,) float32, the network's a^(1)

The guiding property is that an image which already *is* an MNIST digit comes out
unchanged, so predicting the MNIST test set exported as PNG agrees with evaluating the
raw arrays. Measured on the 10,000 MNIST test digits: every digit's centre of mass lies
in [13.5, 14.5] (0-based pixel coordinates, pixel centres at integers), so rounding the
translation that puts it at 14.0 leaves MNIST digits where they are; the longer side of
the bounding box of the nonzero pixels is 20 for 9,997 digits and 19 for 3, so a box
of 19 or 20 pixels is left at its scale; every digit's brightest pixel is 254 or 255.

Not handled (a job for digit segmentation): several digits in one image, uneven
lighting across a photo, and specks far from the digit, which widen the bounding box.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from digitnet.errors import ImageError
from digitnet.segment import Region, find_digits, label, split_touching, typical_width

__all__ = [
    "BOX_SIZE",
    "IMAGE_SIZE",
    "INK_THRESHOLD",
    "MAX_SIDE",
    "estimate_background",
    "image_to_input",
    "image_to_inputs",
    "ink_mask",
    "load_for_prediction",
    "load_image",
    "reduce_large",
    "to_gray_ink",
    "to_mnist",
    "to_mnist_digits",
]

logger = logging.getLogger("digitnet")

IMAGE_SIZE = 28  # MNIST's field is 28×28 ...
BOX_SIZE = 20  # ... and each digit is scaled to fit a 20×20 box inside it.
CENTRE = 14.0  # where MNIST puts the centre of mass, in 0-based pixel coordinates
INK_THRESHOLD = 0.05  # ink (1 = full) above this counts when finding the digit's box
_FRINGE = 2  # px of faint, anti-aliased edge the box may grow by (see `_ink_box`)

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
# Rounding tolerance so a centre of mass at exactly x.5 (MNIST has some) is not moved.
_HALF_PIXEL_TOLERANCE = 1e-6

# Large images are reduced to at most this many pixels on the longer side before
# anything else (`reduce_large`); 1200 keeps a digit drawn small on a page readable.
MAX_SIDE = 1200
# Background surface (`estimate_background`): the coarse grid, the fit's rejection
# of ink cells, and the variation below which paper counts as flat.
_GRID = 48
_MIN_SURFACE_SIDE = 32  # an MNIST-sized image is all digit: no paper to fit a surface to
_SURFACE_SIGMAS = 2.5
_SURFACE_ROUNDS = 6
_SURFACE_TOLERANCE = 2.0 / 255.0  # never reject cells closer than 2 gray levels
_GRADIENT_MIN = 0.03  # about 8 gray levels across the image
_DIM_PAPER = 0.05  # floor for the light level when dividing it out
# Ink mask (`ink_mask`): Otsu's threshold over the ink, kept in this range.
_OTSU_BINS = 64
_MASK_MIN = 0.1
_MASK_MAX = 0.3
# Margin around a digit's masked box, a fraction of its height (at least 3 px), where
# faint ink connected to the digit is kept (`_digit_crop`).
_MARGIN = 0.5
_NEAR_MARGIN = 0.25
_MIN_MARGIN = 3

FloatImage = NDArray[np.float32]


# --------------------------------------------------------------------------- loading


def load_image(path: Path, max_side: int | None = None) -> Image.Image:
    """Open and fully decode the image at `path`, upright, first frame only.

    With `max_side`, a JPEG larger than that is decoded at a reduced scale (libjpeg's
    DCT scaling, ``draft``), which is most of what keeps a 12-megapixel photo fast;
    `reduce_large` finishes the job for other formats.

    Any mode is accepted (L, RGB, RGBA, LA, P, I;16, 1, CMYK, ...); `to_gray_ink` deals
    with them. The EXIF orientation is applied, because phones store photos sideways
    and record the rotation in EXIF; a sideways 7 is not a 7. Animated images give their
    first frame. The pixels are decoded here (``load``), so a truncated or corrupt file
    fails now, with a message naming it, rather than deep inside the pipeline.

    Raises
    ------
    ImageError
        The file is missing, a directory, not an image, corrupt or truncated, or so large
        that Pillow suspects a decompression bomb.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise ImageError(f"{path} does not exist — check the file name")
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image — pass an image file")
    try:
        with warnings.catch_warnings():
            # A decompression bomb only warns below 2 × MAX_IMAGE_PIXELS; refuse it
            # before decoding rather than risk memory on a hostile file.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Pillow warns about damaged metadata (EXIF, ICC) while still decoding the
            # pixels correctly; that is no reason to refuse or clutter the output.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            with Image.open(path) as image:
                image.seek(0)  # the first frame of an animated GIF / PNG / WebP
                frames = getattr(image, "n_frames", 1)
                if frames > 1:  # say so: the user may have meant another frame
                    logger.warning("%s has %d frames: reading the first one only", name, frames)
                if max_side is not None and image.format == "JPEG":
                    scale = max(image.size) // max_side
                    if scale >= 2:
                        size = (image.width // scale, image.height // scale)
                        image.draft(image.mode, size)
                image.load()
                upright = ImageOps.exif_transpose(image)  # a loaded copy, file-free
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(
            f"{name} is too large to decode safely ({error.__class__.__name__}) — "
            "scale it down below 100 megapixels"
        ) from error
    except UnidentifiedImageError as error:
        raise ImageError(
            f"{name} is not an image Pillow can read — save it as PNG or JPEG"
        ) from error
    except PermissionError as error:
        raise ImageError(
            f"{name} cannot be read (permission denied) — check its permissions"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(
            f"{name} is truncated or corrupt ({_first_line(error)}) — re-save or re-export it"
        ) from error
    if upright is None:  # only when in_place=True; kept for the type checker
        raise ImageError(f"{name} could not be rotated upright — re-save it without EXIF")
    return upright


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message, so errors stay one line long."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else error.__class__.__name__


# ------------------------------------------------------------------- gray and ink


def _gray_and_alpha(image: Image.Image) -> tuple[FloatImage, FloatImage | None]:
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


def _box_blur(values: FloatImage, radius: int) -> FloatImage:
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


def estimate_background(gray: FloatImage) -> FloatImage:
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
    Returns an array that broadcasts against `gray` (a 0-d array when flat).
    """
    flat: FloatImage = np.asarray(np.median(_border(gray)), dtype=np.float32)
    height, width = gray.shape
    if min(height, width) < _MIN_SURFACE_SIDE:
        return flat
    grid_w, grid_h = min(width, _GRID), min(height, _GRID)
    grid = np.asarray(
        Image.fromarray(gray).resize((grid_w, grid_h), Image.Resampling.BOX), dtype=np.float64
    )
    # Each grid cell's centre in full-size pixel coordinates, then normalised.
    gu = _normalised(width, (np.arange(grid_w) + 0.5) * width / grid_w - 0.5)
    gv = _normalised(height, (np.arange(grid_h) + 0.5) * height / grid_h - 0.5)
    cells = np.broadcast_arrays(*_surface_terms(gu[None, :], gv[:, None]))
    terms = np.stack([t.ravel() for t in cells], axis=1)
    target = grid.ravel()
    # Start from the grid's border ring, which is mostly paper (as in the flat case);
    # a start from all cells lets a large digit pull the first surface towards the ink.
    ring = np.zeros((grid_h, grid_w), dtype=bool)
    ring[[0, -1], :] = True
    ring[:, [0, -1]] = True
    inliers = ring.ravel()
    coef = np.zeros(terms.shape[1])
    for _ in range(_SURFACE_ROUNDS):
        coef = np.linalg.lstsq(terms[inliers], target[inliers], rcond=None)[0]
        residual = target - terms @ coef
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(residual[inliers])))
        keep = np.abs(residual) <= max(_SURFACE_SIGMAS * sigma, _SURFACE_TOLERANCE)
        if keep.sum() < 2 * terms.shape[1] or np.array_equal(keep, inliers):
            break
        inliers = keep
    fitted = terms @ coef
    if float(fitted.max() - fitted.min()) < _GRADIENT_MIN:
        return flat
    u = _normalised(width, np.arange(width, dtype=np.float64))[None, :]
    v = _normalised(height, np.arange(height, dtype=np.float64))[:, None]
    surface = sum(c * t for c, t in zip(coef, _surface_terms(u, v), strict=True))
    background: FloatImage = np.asarray(surface, dtype=np.float32)
    return background


def to_gray_ink(image: Image.Image) -> FloatImage:
    """Map an image to ink: 2-D float32 in [0, 1], ink high (1), background 0 (MNIST's).

    See `_ink_and_noise` for the steps.
    """
    return _ink_and_noise(image)[0]


def _ink_and_noise(image: Image.Image) -> tuple[FloatImage, float]:
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
       and JPEG noise become 0, as MNIST's background is;
    5. contrast: faint ink (pencil, gray pen) is stretched so its strongest pixel is 1,
       unless it is already at MNIST's full 254-255.

    An image with no ink (one flat colour) gives all zeros.
    """
    gray, alpha = _gray_and_alpha(image)
    if alpha is not None and float(alpha.min()) < 1.0:
        gray = _flatten_alpha(gray, alpha)

    background = estimate_background(gray)
    residual = gray - background
    smooth = _box_blur(residual, 1)
    reach_up = float(smooth.max())
    reach_down = -float(smooth.min())
    level = float(np.median(background))
    dark_ink = reach_down > reach_up or (reach_down == reach_up and level > 0.5)
    rise = -residual if dark_ink else residual  # ink above background
    if dark_ink and background.ndim:
        # Reflected light = illumination × reflectance: dividing by the paper's
        # brightness undoes the lamp's falloff for dark strokes.
        rise = rise * (np.float32(level) / np.maximum(background, np.float32(_DIM_PAPER)))

    mad = float(np.median(np.abs(_border(residual))))
    noise_floor = np.float32(_NOISE_SIGMAS * _MAD_TO_SIGMA * mad)
    rise = rise - noise_floor

    peak = float(rise.max())
    if peak <= 0.0:
        return np.zeros(gray.shape, dtype=np.float32), float(noise_floor)
    gain = np.float32(1.0 if peak >= _FULL_INK else 1.0 / peak)
    ink: FloatImage = np.clip(rise * gain, 0.0, 1.0).astype(np.float32)
    return ink, float(noise_floor)


def _otsu(values: FloatImage) -> float:
    """Otsu's threshold (1979): the cut that maximises the between-class variance."""
    counts, edges = np.histogram(values, bins=_OTSU_BINS, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def ink_mask(ink: FloatImage) -> NDArray[np.bool_]:
    """Where the ink clearly is: a 3×3 mean of the ink map above an Otsu threshold.

    The mean removes the isolated pixels that noise leaves above the noise floor; the
    threshold is Otsu's between faint and strong ink (background pixels, 0 after
    `to_gray_ink`, are left out or they would drag it to the noise), kept within
    [`_MASK_MIN`, `_MASK_MAX`] so a thin stroke, whose mean peaks lower, stays whole.
    """
    smooth = _box_blur(ink, 1)
    inked = smooth[smooth > _MASK_MIN / 4]
    threshold = _otsu(inked) if inked.size else _MASK_MAX
    mask: NDArray[np.bool_] = smooth > min(max(threshold, _MASK_MIN), _MASK_MAX)
    return mask


# --------------------------------------------------------------------- MNIST form


def _no_digit(name: str) -> ImageError:
    return ImageError(
        f"no digit found in {name}: it is blank or one flat colour — "
        "draw the digit in dark ink on light paper (or light on dark)"
    )


def _ink_box(ink: FloatImage, name: str) -> tuple[slice, slice]:
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
        raise _no_digit(name)
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


def _fit_box(digit: FloatImage) -> FloatImage:
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


def _round_half_to_zero(value: float) -> int:
    """Nearest integer, ties (within rounding error) toward zero.

    MNIST digits' centres of mass lie in [13.5, 14.5], some exactly on the ends, so a
    shift of exactly ±0.5 must stay 0 for an MNIST digit to be left in place.
    """
    magnitude = int(np.ceil(abs(value) - 0.5 - _HALF_PIXEL_TOLERANCE))
    return max(magnitude, 0) * (1 if value >= 0 else -1)


def _centre_by_mass(digit: FloatImage) -> FloatImage:
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
    top = _round_half_to_zero(CENTRE - centre_row)
    left = _round_half_to_zero(CENTRE - centre_col)

    # Paste into a field padded by a box on every side, then cut the 28×28 window out.
    pad = BOX_SIZE
    field = np.zeros((IMAGE_SIZE + 2 * pad, IMAGE_SIZE + 2 * pad), dtype=np.float32)
    field[pad + top : pad + top + height, pad + left : pad + left + width] = digit
    centred: FloatImage = field[pad : pad + IMAGE_SIZE, pad : pad + IMAGE_SIZE]
    return centred.copy()


def reduce_large(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """Shrink an image whose longer side exceeds `max_side` by an integer factor.

    A 12-megapixel photo holds far more pixels than a 20-px digit needs; every step
    after this one costs time in proportion to the pixel count. Box averaging
    (``Image.reduce``) is fast and keeps thin strokes as gray rather than losing them.
    """
    longer = max(image.size)
    if longer <= max_side:
        return image
    factor = -(-longer // max_side)  # ceiling division
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        has_alpha = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return image.reduce(factor)


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
    touching = np.unique(faint[mine])
    loose = (faint > 0) & ~np.isin(faint, touching[touching > 0])
    near = max(_MIN_MARGIN, round(_NEAR_MARGIN * region.height))
    top, left = rows.start, cols.start
    loose[
        max(region.top - near - top, 0) : region.bottom + near - top,
        max(region.left - near - left, 0) : region.right + near - left,
    ] = False
    crop[loose] = 0.0
    # Inside the box, noise on the paper (and in the holes of a 0, 6, 8 or 9) is not
    # ink either: only what lies within 2 px of the mask is kept.
    crop[_box_blur(mine.astype(np.float32), 2) <= 0] = 0.0
    return crop


def to_mnist_digits(
    image: Image.Image, name: str = "the image", single: bool = False
) -> list[FloatImage]:
    """Each digit in `image`, left to right, in MNIST's form (see `to_mnist`).

    The ink (`to_gray_ink`) is masked (`ink_mask`), split into connected components
    and grouped into digits (`segment.find_digits`: broken pieces merged, dust dropped);
    each digit is cropped apart from its neighbours and brought to MNIST's form. With
    `single`, all the ink is one digit.

    Raises
    ------
    ImageError
        The image holds no ink ("no digit found").
    """
    ink, noise_floor = _ink_and_noise(image)
    labels, components = label(ink_mask(ink))
    regions = find_digits(components, single=single)
    if not regions:
        raise _no_digit(name)
    if not single:
        typical = typical_width(regions)
        regions = [
            part
            for region in regions
            for part in split_touching(
                region,
                np.isin(
                    labels[region.top : region.bottom, region.left : region.right], region.labels
                ),
                typical,
            )
        ]
    digits = []
    for index in range(len(regions)):
        crop = _digit_crop(ink, labels, regions, index, noisy=noise_floor > 0)
        rows, cols = _ink_box(crop, name)
        digits.append(_centre_by_mass(_fit_box(crop[rows, cols])))
    return digits


def to_mnist(image: Image.Image, name: str = "the image") -> FloatImage:
    """Bring `image` into MNIST's form: (28, 28) float32 in [0, 1], light ink on black.

    Polarity, background and contrast (`to_gray_ink`), specks dropped
    (`to_mnist_digits`), crop to the ink's bounding box (`_ink_box`), fit the longer
    side to 20 px (`_fit_box`), and place the centre of mass at the field's centre
    (`_centre_by_mass`) — MNIST's own recipe, so an MNIST digit comes back unchanged.
    All the ink is taken as one digit. `name` (the file name) appears in error messages.

    Raises
    ------
    ImageError
        The image holds no ink ("no digit found").
    """
    return to_mnist_digits(image, name, single=True)[0]


def load_for_prediction(path: Path) -> Image.Image:
    """`load_image` then `reduce_large`: what `image_to_input(s)` start from."""
    return reduce_large(load_image(path, max_side=MAX_SIDE))


def image_to_input(path: Path) -> NDArray[np.float32]:
    """Read the image at `path` and return the network's input a^(1): (784,) float32."""
    path = Path(path)
    return to_mnist(load_for_prediction(path), name=path.name).reshape(IMAGE_SIZE * IMAGE_SIZE)


def image_to_inputs(path: Path, single: bool = False) -> NDArray[np.float32]:
    """Every digit in the image at `path`, left to right: (k, 784) float32 rows a^(1)."""
    path = Path(path)
    digits = to_mnist_digits(load_for_prediction(path), name=path.name, single=single)
    return np.stack(digits).reshape(len(digits), IMAGE_SIZE * IMAGE_SIZE)
