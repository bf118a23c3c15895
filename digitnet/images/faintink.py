"""The faint strokes joined to clear ink: the mask that segmentation groups into digits.

``photometry.ink_mask`` keeps the clear ink; a digit written with a lighter or thinner
pen beside a dark one is not clear ink, because the contrast is stretched to the
darkest stroke of the whole image. ``with_faint_strokes`` gives it back (issue 11).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from digitnet.images.photometry import MASK_MIN, FloatImage, box_blur
from digitnet.images.segment import label

# Faint ink may add up to this fraction of the tallest clear piece's height to the box
# of the clear ink it joins (one faint digit beside it).
_FAINT_REACH = 1.0


def with_faint_strokes(ink: FloatImage, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """`mask` grown by the faint ink joined to it (hysteresis, as in Canny's edges).

    The contrast is stretched to the darkest stroke of the whole image, so a digit
    written with a thinner or lighter pen beside a dark one stays faint: only the
    thickest bits of its strokes pass Otsu's threshold, and the rest of it falls
    apart into pieces that are dropped as dust. Here a piece of the weak mask (the
    3×3 mean above `MASK_MIN`, the lowest threshold `ink_mask` ever uses, so what
    it would keep of that digit alone in an image) is kept when it holds any clear
    ink. Weak specks of noise with no clear ink in them stay out, and so does a weak
    piece that would stretch the clear ink it holds beyond a digit's size: more than
    `_FAINT_REACH` × the tallest clear piece's height taller, or wider on either side
    (a sheet's shadowed edge or the remnants of squared paper joined to a digit).
    """
    weak = box_blur(ink, 1) > MASK_MIN
    labels, pieces = label(weak | mask)
    _, clear = label(mask)
    reach = _FAINT_REACH * max(c.height for c in clear) if clear else 0.0
    rows, cols = np.nonzero(mask)
    owner = labels[rows, cols] - 1
    n = len(pieces)
    top, bottom = np.full(n, mask.shape[0]), np.zeros(n, dtype=np.int64)
    left, right = np.full(n, mask.shape[1]), np.zeros(n, dtype=np.int64)
    np.minimum.at(top, owner, rows)
    np.maximum.at(bottom, owner, rows + 1)
    np.minimum.at(left, owner, cols)
    np.maximum.at(right, owner, cols + 1)
    kept = [
        p.label
        for p in pieces
        if bottom[p.label - 1] > 0  # holds clear ink
        and (top[p.label - 1] - p.top) + (p.bottom - bottom[p.label - 1]) <= reach
        and (left[p.label - 1] - p.left) + (p.right - right[p.label - 1]) <= reach
    ]
    grown: NDArray[np.bool_] = np.isin(labels, kept) | mask
    return grown
