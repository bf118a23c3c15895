"""Printed rules and squares on a sheet: found and painted over before the ink is read.

Ruled and squared notebook paper carries thin, long, straight, regularly spaced lines
(blue, red or gray). The digit reader would take them for ink, and a rule through a
digit survives into the 28×28 input. On a sheet seen flat (`paper.read_sheet` has
already corrected the perspective) rules are horizontal or vertical runs far longer
than any stroke: a morphological opening with a long line-shaped element keeps them
and drops the handwriting. Only a set of such lines (`MIN_RULES` parallel ones) is
taken for printed paper, so a single long stroke (a 1 across a sticky note, a 7's
bar) is never removed. Where a stroke crosses a rule, the pixels of the rule that
have ink just above and below them are kept as ink.

OpenCV is imported inside the function: only photos of paper need it, and importing
it costs more than `digitnet predict`'s whole start-up budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet.images.quantiles import median, percentile

__all__ = ["MIN_RULES", "dark_marks", "remove_rules"]

# At least this many parallel lines make printed paper.
MIN_RULES = 3
# A rule runs across at least this share of the sheet, and its width is at most this
# share of its length.
_RULE_SPAN = 0.5
_RULE_THICKNESS = 0.04
# The opening's element is this share of the sheet's side: longer than any stroke
# of a digit written on it, shorter than a rule.
_ELEMENT = 0.2
# Rules are looked for this many degrees off true, too (see `_rules_along`).
_RULE_ANGLES = (-4.0, -2.0, 0.0, 2.0, 4.0)
# A pixel on a rule this many times darker than the rules' median is a stroke's.
_INK_OVER_RULE = 1.5
# Darkness (paper level minus pixel, 8-bit) that counts as a mark: at least this, and
# at least this share of the image's strong darkness (its 99.5th percentile).
_MIN_DARKNESS = 10.0
_DARKNESS_SHARE = 0.2

GrayImage = NDArray[np.uint8]


def dark_marks(flat: GrayImage) -> NDArray[np.uint8]:
    """Binary (0/255) mask of everything darker than the paper: rules and ink."""
    darkness = 255.0 - flat.astype(np.float32)
    strong = percentile(darkness, 99.5)
    threshold = max(_MIN_DARKNESS, _DARKNESS_SHARE * strong)
    return np.where(darkness > threshold, 255, 0).astype(np.uint8)


def _line_element(length: int, degrees: float, horizontal: bool) -> NDArray[np.uint8]:
    """A one-pixel line `length` long, `degrees` off horizontal (or vertical)."""
    slope = np.tan(np.radians(degrees))
    rise = round(abs(slope) * (length - 1))
    along = np.arange(length)
    across = np.round(along * abs(slope)).astype(int)
    if slope < 0:
        across = rise - across
    element = np.zeros((rise + 1, length), np.uint8)
    element[across, along] = 1
    return element if horizontal else np.ascontiguousarray(element.T)


def _rules_along(cv2: Any, marks: NDArray[np.uint8], horizontal: bool) -> NDArray[np.bool_]:
    """Pixels of the long thin lines running one way, if there is a set of them."""
    height, width = marks.shape
    along = width if horizontal else height
    length = max(15, round(_ELEMENT * along))
    # A line left a degree off true by the warp steps by a pixel every ~60 px; a
    # 3-px smear across it first keeps it one run for the opening. A sheet whose
    # outline was found a little askew (a shadow over a corner) leaves its rules a few
    # degrees off: line elements at those angles keep them too.
    smear = cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3) if horizontal else (3, 1))
    smeared = cv2.dilate(marks, smear)
    opened = np.zeros_like(marks)
    for degrees in _RULE_ANGLES:
        element = _line_element(length, degrees, horizontal)
        opened |= cv2.morphologyEx(smeared, cv2.MORPH_OPEN, element)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    widths = []
    for k in range(1, count):
        span = stats[k, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT]
        if span < _RULE_SPAN * along:
            continue
        # Its width across, at the middle of its length: a stroke lying on a rule
        # widens it in one place only, so the median is the rule's own width.
        x, y = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
        w, h = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        piece = labels[y : y + h, x : x + w] == k
        counts = piece.sum(axis=0 if horizontal else 1)
        width = median(counts[counts > 0])
        keep[k] = width <= _RULE_THICKNESS * span  # far longer than thick: printed
        if keep[k]:
            widths.append(width)
    if int(keep.sum()) < MIN_RULES:
        return np.zeros(marks.shape, dtype=bool)
    lines = keep[labels] & (marks > 0)
    # A stroke running along a rule (a 1 on a vertical rule) makes it thicker there:
    # what survives an opening across the rule, wider than the rule, is that stroke.
    wide = 2 * int(np.ceil(median(widths))) + 3
    across_element = cv2.getStructuringElement(
        cv2.MORPH_RECT, (1, wide) if horizontal else (wide, 1)
    )
    stroke = cv2.morphologyEx(lines.astype(np.uint8), cv2.MORPH_OPEN, across_element) > 0
    rules: NDArray[np.bool_] = lines & ~stroke
    return rules


def remove_rules(flat: GrayImage) -> tuple[GrayImage, int]:
    """Paint printed rules and squares over with the paper's white; how many were found.

    `flat` is a sheet with its paper normalised to white (255) and ink dark, as
    `paper.read_sheet` makes it. Returns the cleaned sheet and the number of line
    pixels removed (0: the sheet is plain, and is returned unchanged).
    """
    import cv2  # lazily: see the module docstring

    marks = dark_marks(flat)
    lines = _rules_along(cv2, marks, horizontal=True) | _rules_along(cv2, marks, horizontal=False)
    if not lines.any():
        return flat, 0
    # Ink crossing a rule: the rule's pixels with other marks just above and below
    # (or beside, for vertical rules) belong to the stroke.
    # Where a rule runs through a bold stroke, its "pixels" are the stroke's, and
    # darker than printed rules are (pen ink against a pale printed line): kept.
    darkness = 255.0 - flat.astype(np.float32)
    rule_darkness = median(darkness[lines])
    ink = (marks > 0) & (~lines | (darkness > _INK_OVER_RULE * rule_darkness))
    reach = cv2.getStructuringElement(cv2.MORPH_CROSS, (7, 7))
    near_ink = cv2.dilate(ink.astype(np.uint8), reach) > 0
    erase = lines & ~near_ink
    # Also the rule's faint fringe (anti-aliasing, JPEG, the warp's blur) two pixels
    # around it: left there, a faint line can widen the digit's box.
    fringe = cv2.dilate(erase.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    erase = erase | (fringe & ~(ink | near_ink))
    cleaned = flat.copy()
    cleaned[erase] = 255
    return cleaned, int(erase.sum())
