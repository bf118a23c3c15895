"""Touching digits cut apart: a group of digits fused into one component, and how many.

Thick strokes and tight spacing (a bold font, a thickened pen, a small number in a
photo) join neighbouring digits into one connected component that `segment.find_digits`
takes as one wide digit. Here such a group is cut back into digits, at the columns of
least ink near even cuts:

    typical_width    the width of a number's digits that are clearly single
    line_height      the digits' height in a group on a slanted line
    split_touching   one group -> its digits (or itself)
    split_number     every group of a number, the digits cut first showing how wide
                     the number's digits are for the rest
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from digitnet.images.quantiles import median
from digitnet.images.segment import Region

__all__ = ["line_height", "split_number", "split_touching", "typical_width"]

# Touching digits (thick strokes, tight spacing) form one wide component. A group
# wider than `TOUCHING_ASPECT` × its height is cut into about width / (`DIGIT_ASPECT`
# × height) digits, at the columns of least ink near the even cuts, where that ink
# is at most `CUT_INK` of the fullest column's (a thin bridge, not a stroke): about
# 1 % of MNIST's single digits are wider than 1.2, so a cut must also find a bridge.
TOUCHING_ASPECT = 1.2
# A digit's width over its height: in the nine fused development numbers looked at
# one by one (rendered seeds 1003 and 1008-1010, bold or thickened fonts), 0.72-0.85.
DIGIT_ASPECT = 0.75
CUT_INK = 0.2
CUT_WINDOW = 0.25  # search ± this fraction of a digit's width around each even cut
# Wider than this, a group is surely several digits (MNIST's widest single digit is
# 1.75 × its height), fused so thickly that no thin bridge is left: it is cut at the
# column of least ink near each even cut, however much ink that is.
SURE_ASPECT = 1.8
MIN_LINE_HEIGHT = 0.6  # `line_height` never below this fraction of the box's height
# Choosing the count (`split_touching`): the ink a count's cuts cross (mean, as a
# fraction of the fullest column) against its distance from the width's estimate (as
# a fraction of it). On the 153 fused groups of rendered seeds 1002-1012, the count
# was right for 144 with 0.5 (139-145 for 0.3-0.8; 110 before, with the box's height).
COUNT_PENALTY = 0.5
WIDER_THAN_OTHERS = 1.6


def typical_width(regions: list[Region]) -> float | None:
    """The median width of the digits of a number that are clearly single (not wide)."""
    narrow = [r.width for r in regions if r.width <= r.height]
    return median(narrow) if len(regions) > 1 and narrow else None


def line_height(mask: NDArray[np.bool_]) -> float:
    """The height of the digits in a group's ink `mask`: its columns' median ink extent.

    Digits written along a slanted line (a photo taken at a small angle, a number
    drawn uphill) make a box taller than any one digit by the line's drift across it,
    while most columns of a digit still run from its top to its bottom. The extent of
    a column is from its first ink row to its last; the median is never taken below
    `MIN_LINE_HEIGHT` of the box's height (a group of 7s and 1s, whose diagonals
    cross a column only partly).
    """
    height = mask.shape[0]
    inked = mask.any(axis=0)
    if not inked.any():
        return float(height)
    rows = np.arange(height)[:, None]
    first = np.where(mask, rows, height).min(axis=0)[inked]
    last = np.where(mask, rows, -1).max(axis=0)[inked]
    extent = median(last - first + 1)
    return float(min(height, max(extent, MIN_LINE_HEIGHT * height)))


def split_touching(
    region: Region, mask: NDArray[np.bool_], typical: float | None = None
) -> list[Region]:
    """Cut a group of touching digits apart (see `TOUCHING_ASPECT`); else [region].

    `mask` is the group's own ink inside its box (rows top..bottom, columns
    left..right). `typical` is the width of the number's other digits
    (`typical_width`), if any: a group `WIDER_THAN_OTHERS` times as wide is surely
    several digits, about width / typical of them (unless those are narrow 1s:
    never fewer than a digit `DIGIT_ASPECT` × height wide would give). The parts keep
    the group's labels; `preprocess` separates them by their column ranges.

    A group surely of several digits is often on a slanted line, whose box is taller
    than its digits: its digit width comes from `line_height`. And digits differ in
    width, so of the counts within one of the estimate the one whose cuts fall deepest
    into the valleys of the column profile wins (`COUNT_PENALTY`).
    """
    if region.width <= TOUCHING_ASPECT * region.height:
        return [region]
    sure = region.width > SURE_ASPECT * region.height  # no single digit is this wide
    wider_than_others = typical is not None and region.width >= WIDER_THAN_OTHERS * typical
    sure = sure or wider_than_others
    columns = mask.sum(axis=0).astype(np.float64)
    # How many digits: the group's width over a digit's (`DIGIT_ASPECT` × height, or the
    # other digits' width if they are wider: not narrow 1s).
    height = line_height(mask) if sure else float(region.height)
    digit_width = DIGIT_ASPECT * height
    if wider_than_others and typical is not None:
        digit_width = max(typical, digit_width)
    estimate = region.width / digit_width
    if not sure:
        cuts = _cuts_near_even(columns, max(2, round(estimate)), sure)
    else:
        # Digits differ in width (a wide bold 0, a narrow 1), so the estimate is off by
        # up to about a digit: of the counts within one of it, the one whose cuts fall
        # deepest into the column profile's valleys wins, its relative distance from
        # the estimate counting against it (`COUNT_PENALTY`).
        def cost(count: int) -> float:
            cuts = _cuts_near_even(columns, count, sure)
            if not cuts:
                return float("inf")
            ink = float(np.mean(columns[cuts])) / float(columns.max())
            return ink + COUNT_PENALTY * abs(count - estimate) / estimate

        counts = sorted({max(2, round(estimate) + d) for d in (-1, 0, 1)})
        cuts = _cuts_near_even(columns, min(counts, key=cost), sure)
    if not cuts:
        return [region]
    edges = [0, *cuts, region.width]
    return [
        Region(region.labels, region.top, region.bottom, region.left + a, region.left + b)
        for a, b in pairwise(edges)
        if b > a
    ]


def _cuts_near_even(columns: NDArray[np.float64], count: int, sure: bool) -> list[int]:
    """The column of least ink within `CUT_WINDOW` of each of `count` - 1 even cuts.

    Unless `sure`, a cut is made only through a thin bridge (`CUT_INK`).
    """
    width = len(columns)
    step = width / count
    window = max(1, round(CUT_WINDOW * step))
    cuts = []
    for k in range(1, count):
        centre = round(k * step)
        low, high = max(1, centre - window), min(width - 1, centre + window + 1)
        if low >= high:
            continue
        best = low + int(np.argmin(columns[low:high]))
        if sure or columns[best] <= CUT_INK * columns.max():
            cuts.append(best)
    return cuts


def split_number(regions: list[Region], labels: NDArray[np.int32]) -> list[Region]:
    """Every group of touching digits among a number's `regions` cut apart, left to right.

    `labels` is the label image the regions' labels refer to. The groups are cut
    against `typical_width` of the clearly single digits; when there were none (every
    digit of the number touches another) or too few to tell, the digits cut from the
    groups that were surely several then give that width, and the groups left whole
    are tried again against it: a pair of touching digits beside a cut group of four.
    """

    def split_all(regions: list[Region], typical: float | None) -> list[Region]:
        return [
            part
            for region in regions
            for part in split_touching(region, _own_ink(region, labels), typical)
        ]

    parts = split_all(regions, typical_width(regions))
    if len(parts) > len(regions):
        parts = split_all(parts, typical_width(parts))
    return parts


def _own_ink(region: Region, labels: NDArray[np.int32]) -> NDArray[np.bool_]:
    """The region's own ink inside its box: pixels of its labels."""
    inside = labels[region.top : region.bottom, region.left : region.right]
    own: NDArray[np.bool_] = np.isin(inside, region.labels)
    return own
