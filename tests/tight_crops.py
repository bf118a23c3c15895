"""Tightly cropped copies of digit images: cut to the ink's box, or a pixel inside it.

Used by tests/test_tight_crops.py and benchmarks/photos_and_crops.py (issue 11: ink that
touches the image's edges is still the digit). The ink box is the one the image's
generator knows (`box`: tests/handwriting.py and tests/render_digits.py record the
box of the ink a person sees), or else the box of the ink mask `predict` uses, found
on the image with its margin (`ink_box`). That mask keeps the clear ink only: on
handwriting in a light pen it misses whole faint strokes that are plainly visible,
and a crop to its box cuts them away (measured on development digits; README, "Tight
crops: the ink box a person sees"). With `inset` the box loses that many pixels on
every side, so strokes are cut by the frame. Crops are saved as PNG (lossless),
keeping the image's mode (transparency included).
"""

from __future__ import annotations

from pathlib import Path

from handwriting import box_of
from PIL import Image

from digitnet.images.decode import load_image
from digitnet.images.photometry import ink_mask, to_gray_ink


def ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the ink, half-open, as Pillow's crop takes it."""
    mask = ink_mask(to_gray_ink(image))
    if not mask.any():
        raise ValueError("no ink to crop to")
    return box_of(mask)


Box = tuple[int, int, int, int]


def crop_to_ink(image: Image.Image, inset: int = 0, box: Box | None = None) -> Image.Image:
    """`image` cut to its ink box (`box`, else `ink_box`), shrunk by `inset` px a side
    (never below 2 px)."""
    left, top, right, bottom = box if box is not None else ink_box(image)
    if right - left > 2 * inset + 1:
        left, right = left + inset, right - inset
    if bottom - top > 2 * inset + 1:
        top, bottom = top + inset, bottom - inset
    return image.crop((left, top, right, bottom))


def tight_copies(
    paths: list[Path], out: Path, inset: int = 0, boxes: list[Box] | None = None
) -> list[Path]:
    """A tight crop of each image (to its box in `boxes`, if given), saved as PNG in
    `out` under the same stem."""
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for k, path in enumerate(paths):
        target = out / f"{path.stem}.png"
        box = boxes[k] if boxes is not None else None
        crop_to_ink(load_image(path), inset, box).save(target)
        copies.append(target)
    return copies
