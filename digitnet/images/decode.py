"""Decoding a user's image file: fully read, upright, first frame, large ones reduced.

Every fault a file can have (missing, not an image, truncated, a decompression
bomb, an animation) becomes one ImageError naming the file.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from digitnet.errors import ImageError

logger = logging.getLogger("digitnet")

# Large images are reduced to at most this many pixels on the longer side before
# anything else (`reduce_large`); 1200 keeps a digit drawn small on a page readable.
MAX_SIDE = 1200


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
    # The path as the user gave it: two folders may each hold a scan.png (issue 15).
    name = str(path)
    if not path.exists():
        raise ImageError(f"{path} does not exist — check the file name")
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image — pass an image file")
    return _decode(path, name, max_side)


def load_image_bytes(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """`load_image` for an image held in memory (an upload), under the same rules.

    `name` stands for the image in error messages.
    """
    return _decode(io.BytesIO(data), name, max_side)


def _decode(source: Path | io.BytesIO, name: str, max_side: int | None) -> Image.Image:
    """Open, check and fully decode an image file or buffer (see `load_image`)."""
    try:
        with warnings.catch_warnings():
            # A decompression bomb only warns below 2 × MAX_IMAGE_PIXELS; refuse it
            # before decoding rather than risk memory on a hostile file.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Pillow warns about damaged metadata (EXIF, ICC) while still decoding the
            # pixels correctly; that is no reason to refuse or clutter the output.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            with Image.open(source) as image:
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
            f"{name} is too large to decode safely{_claimed_megapixels(error)} — "
            f"scale it down below {_pixel_limit_megapixels():.1f} megapixels"
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


def _pixel_limit_megapixels() -> float:
    """Pillow's limit (``Image.MAX_IMAGE_PIXELS``, 89,478,485 pixels by default) in megapixels.

    Past it Pillow warns, and digitnet refuses (see `load_image`), so this is the real limit.
    """
    return (Image.MAX_IMAGE_PIXELS or 0) / 1e6


def _claimed_megapixels(error: BaseException) -> str:
    """ " (N megapixels)" from Pillow's decompression-bomb message, or "" if it has no size."""
    match = re.search(r"\((\d+) pixels\)", str(error))
    return f" ({int(match.group(1)) / 1e6:,.0f} megapixels)" if match else ""


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message, so errors stay one line long."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else error.__class__.__name__


# ------------------------------------------------------------------- gray and ink


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


def load_for_prediction(path: Path) -> Image.Image:
    """`load_image` then `reduce_large`: what the reader starts from."""
    return reduce_large(load_image(path, max_side=MAX_SIDE))


def load_bytes_for_prediction(data: bytes, name: str) -> Image.Image:
    """`load_for_prediction` for an image held in memory (the live page's uploads)."""
    return reduce_large(load_image_bytes(data, name, max_side=MAX_SIDE))
