"""Tightly cropped copies of digit images: cut to the ink's box, or a pixel inside it.

Used by tests/test_tight_crops.py and benchmarks/photos_and_crops.py (issue 11: ink that
touches the image's edges is still the digit). The ink box is found on the image
with its margin, by the same ink mask `predict` uses, so the crop keeps every
stroke and cuts all the paper around it; with `inset` the box loses that many
pixels on every side, so strokes are cut by the frame. Crops are saved as PNG
(lossless), keeping the image's mode (transparency included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from digitnet.images.decode import load_image
from digitnet.images.photometry import ink_mask, to_gray_ink


def ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the ink, half-open, as Pillow's crop takes it."""
    mask = ink_mask(to_gray_ink(image))
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("no ink to crop to")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def crop_to_ink(image: Image.Image, inset: int = 0) -> Image.Image:
    """`image` cut to its ink box, shrunk by `inset` px a side (never below 2 px)."""
    left, top, right, bottom = ink_box(image)
    if right - left > 2 * inset + 1:
        left, right = left + inset, right - inset
    if bottom - top > 2 * inset + 1:
        top, bottom = top + inset, bottom - inset
    return image.crop((left, top, right, bottom))


def tight_copies(paths: list[Path], out: Path, inset: int = 0) -> list[Path]:
    """A tight crop of each image, saved as PNG in `out` under the same stem."""
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        target = out / f"{path.stem}.png"
        crop_to_ink(load_image(path), inset).save(target)
        copies.append(target)
    return copies
