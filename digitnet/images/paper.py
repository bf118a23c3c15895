"""Photos of paper: find the sheet, flatten it, and hand on what is written on it.

A digit photographed on a sheet of paper lying on a desk is not a digit on a plain
background: the desk and the sheet's edge are larger and darker (or lighter) than
the writing, so the plain reader takes the whole sheet, or the desk around it, for
ink. Here, with OpenCV (contours, polygon fitting, perspective warps, morphology):

    needs_sheet_reading  cheap cue (numpy only) from the plain reader's ink pieces:
                         a solid blob the size of a sheet (or solid strips or
                         squares that add up to one: a ruled sheet), a piece that
                         spans the frame, or long thin lines
    sheet_in_view        cheap cue (numpy only) from the photo itself, for a sheet
                         the plain reader does not see (on a light desk, under a
                         lamp): a nearly rectangular region enclosed by brightness
                         or colour steps, wholly inside the frame, lighter or more
                         coloured than the desk across its outline
    find_sheet           the sheet's four corners: the largest convex quadrilateral
                         outline (bright region, coloured region or edge map) wholly
                         inside the photo, lighter or more coloured across its edge
    read_sheet           the sheet cut out and warped flat, its light evened out
                         (divided by a closing, which removes the strokes and keeps
                         the paper, shadows included; a wider one where a bold
                         digit's ink outlasts it), printed rules removed
                         (`lines.remove_rules`), as a grayscale image for the reader

OpenCV is imported inside the functions that need it, so a plain image never pays
its import (more than half of `predict`'s start-up budget).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digitnet.errors import ImageError
from digitnet.images.lines import dark_marks, remove_rules
from digitnet.images.photometry import box_blur
from digitnet.images.quantiles import median
from digitnet.images.segment import Component, label

__all__ = ["find_sheet", "needs_sheet_reading", "read_sheet", "sheet_in_view"]

# Cues (`needs_sheet_reading`), as shares of the image.
_SHEET_BLOB_AREA = 0.1  # a piece whose box is this much of the image ...
_SHEET_BLOB_FILL = 0.5  # ... and which fills this much of its box is a sheet, not a stroke
_PIECE_AREA = 0.002  # pieces of a sheet cut by its rules: each this much of the image,
_PIECE_FILL = 0.35  # this solid, at least `_MIN_PIECES` of them, together a sheet's area
_MIN_PIECES = 8  # more than the digits of a number
_SHEET_ASPECT = 0.4  # a sheet's box is not as narrow as a 1's
_FRAME_SPAN = 0.9  # a piece spanning this much of both sides (a desk around a sheet) ...
_FRAME_AREA = 0.15  # ... with this much of the image's area
_LINE_SPAN = 0.5  # a piece this long (a share of the image) ...
_LINE_THICKNESS = 0.05  # ... and this thin for its length is a printed line or an edge
_MIN_LINES = 2
# A sheet in view (`sheet_in_view`), looked for on a copy this long.
_CUE_SIDE = 160
_EDGE_STEP = 8.0  # 8-bit levels between neighbours: an outline, not grain or a soft shadow
_RECT_FILL = 0.8  # of the smallest rectangle around it: a sheet in perspective, not a digit
_RECT_ANGLE_STEP = 3.0
_CUE_REACH = 4  # px: inside and outside the outline are compared over this neighbourhood
# The sheet's outline (`find_sheet`).
_WORK_SIDE = 480  # outlines are looked for on a copy this long
_MIN_SHEET = 0.05  # of the photo's area
_MAX_SHEET = 0.97
_POLY_EPSILON = 0.02  # of the outline's perimeter, for approxPolyDP
_SOLIDITY = 0.85  # outline area / quadrilateral area
_NARROWEST = 0.25  # a sheet's shorter side, even seen at a slant, to its longer one
_STANDS_OUT = 8.0  # 8-bit levels by which paper is lighter (or more coloured) than the desk
_SHADOW_FLOOR = 0.5  # paper in shadow keeps more than this share of its light (`read_sheet`)
_BAND_GAP, _BAND = 3, 8  # px of the working copy: the bands `_across` compares
_NOTE_DARKER = 48.0  # 8-bit levels a coloured note may be darker than the desk (`_is_paper`)
_INSET = 0.015  # of the sheet's side, cut off after warping (its edge and shadow)
_MIN_SIDE = 64  # a photo smaller than this holds no sheet worth finding

FloatArray = NDArray[np.float64]


def needs_sheet_reading(
    labels: NDArray[np.int32], components: list[Component], shape: tuple[int, int]
) -> bool:
    """Whether the plain reader's ink pieces look like paper, desk or printed lines.

    `labels` and `components` are `segment.label`'s output for the image's ink mask.
    A bold digit drawn large can pass for a sheet here; `read_sheet` then finds no
    sheet outline and no rules, and the image is read as it was (at the cost of
    loading OpenCV).
    """
    height, width = shape
    if min(height, width) < _MIN_SIDE:
        return False
    lines = 0
    pieces, pieces_area = 0, 0
    for c in components:
        box = c.height * c.width
        if (
            box >= _SHEET_BLOB_AREA * height * width
            and c.area >= _SHEET_BLOB_FILL * box
            and min(c.height, c.width) >= _SHEET_ASPECT * max(c.height, c.width)
        ):
            return True  # the sheet itself, light on a dark desk
        if box >= _PIECE_AREA * height * width and c.area >= _PIECE_FILL * box:
            pieces, pieces_area = pieces + 1, pieces_area + c.area
        if (
            c.width >= _FRAME_SPAN * width
            and c.height >= _FRAME_SPAN * height
            and c.area >= _FRAME_AREA * height * width
        ):
            return True  # the desk around the sheet, dark on light
        along, across = max(c.width, c.height), min(c.width, c.height)
        spans = c.width >= _LINE_SPAN * width or c.height >= _LINE_SPAN * height
        lines += spans and across <= _LINE_THICKNESS * along
    if pieces >= _MIN_PIECES and pieces_area >= _SHEET_BLOB_AREA * height * width:
        return True  # the sheet, cut into strips or squares by its printed lines
    return lines >= _MIN_LINES


def sheet_in_view(image: Image.Image) -> bool:
    """Whether a photo shows a sheet of paper with its edges in view (numpy only).

    On a light desk the plain reader sees only the writing (the sheet is lighter
    than the desk by less than the ink is darker), so `needs_sheet_reading` has no
    pieces to judge; the sheet then goes unflattened and its faint rules are read as
    dust around the digit. Brightness cannot find it (a lamp's falloff makes the desk
    on one side brighter than the sheet on the other), but its outline can: on a
    copy reduced to `_CUE_SIDE` px, the pixels where brightness or colour steps by
    `_EDGE_STEP` levels are edges, and what they enclose (not reached from the frame
    without crossing one) is a sheet when it is one piece of at least `_MIN_SHEET`
    of the photo, wholly inside it, nearly a rectangle (`_RECT_FILL` of the smallest
    rectangle around it, at any angle: a digit's outline is not), and lighter or
    more coloured just inside its outline than just outside (`_STANDS_OUT` levels;
    a dark 0 on white paper is darker there). `find_sheet` confirms it with OpenCV.
    """
    width, height = image.size
    if min(width, height) < _MIN_SIDE:
        return False
    scale = min(1.0, _CUE_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = np.asarray(
        image.convert("RGB").resize(size, Image.Resampling.BOX), dtype=np.float32
    )  # (h, w, 3)
    brightness = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # Chroma (max - min), not HSV's saturation, which is noise on a dark desk.
    colourfulness = rgb.max(axis=2) - rgb.min(axis=2)
    edges = _steps(brightness) | _steps(colourfulness)
    open_labels, open_parts = label(~edges)
    rows, cols = brightness.shape
    outside = np.zeros(brightness.shape, dtype=bool)
    for part in open_parts:
        if part.top == 0 or part.left == 0 or part.bottom == rows or part.right == cols:
            outside |= open_labels == part.label
    enclosed_labels, enclosed = label(~outside)
    if not enclosed:
        return False
    piece = max(enclosed, key=lambda c: c.area)
    if piece.top == 0 or piece.left == 0 or piece.bottom == rows or piece.right == cols:
        return False  # paper running out of the frame: a page, read as it is
    if not _MIN_SHEET * rows * cols <= piece.area <= _MAX_SHEET * rows * cols:
        return False
    sheet = enclosed_labels == piece.label
    if piece.area < _RECT_FILL * _smallest_rectangle(sheet):
        return False
    # Just inside the outline against just outside it, past the edge's own blur, and
    # place by place along it: a lamp's falloff or a shadow changes both sides alike.
    near, far = box_blur(sheet.astype(np.float32), 1), box_blur(sheet.astype(np.float32), 3)
    inner = ((near >= 1.0 - 1e-6) & (far < 1.0 - 1e-6)).astype(np.float32)
    outer = ((far > 0.0) & (near <= 0.0)).astype(np.float32)
    inner_share, outer_share = box_blur(inner, _CUE_REACH), box_blur(outer, _CUE_REACH)
    along = (inner_share > 0) & (outer_share > 0)
    if not along.any():
        return False
    lighter, more_coloured = (
        float(
            median(
                box_blur(values * inner, _CUE_REACH)[along] / inner_share[along]
                - box_blur(values * outer, _CUE_REACH)[along] / outer_share[along]
            )
        )
        for values in (brightness, colourfulness)
    )
    return _is_paper(lighter, more_coloured)


def _is_paper(lighter: float, more_coloured: float) -> bool:
    """Whether a region is paper, from how much lighter and more coloured it is than
    what lies around it (8-bit levels, across its outline).

    Lighter by `_STANDS_OUT`; or more coloured by as much (a sticky note can be a
    little darker than a white desk) while not much darker (`_NOTE_DARKER`): a bold
    number in blue ink is more coloured than its paper too, but far darker.
    """
    if lighter > _STANDS_OUT:
        return True
    return more_coloured > _STANDS_OUT and lighter > -_NOTE_DARKER


def _steps(values: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Pixels where `values` change by `_EDGE_STEP` or more to a 4-neighbour."""
    across = np.abs(np.diff(values, axis=1)) >= _EDGE_STEP
    down = np.abs(np.diff(values, axis=0)) >= _EDGE_STEP
    steps = np.zeros(values.shape, dtype=bool)
    steps[:, 1:] |= across
    steps[:, :-1] |= across
    steps[1:, :] |= down
    steps[:-1, :] |= down
    return steps


def _smallest_rectangle(mask: NDArray[np.bool_]) -> float:
    """Area of the smallest rectangle, at any angle (3° steps), holding `mask`."""
    y, x = np.nonzero(mask)
    points = np.stack([x, y], axis=1).astype(np.float64)  # (n, 2)
    angles = np.radians(np.arange(0.0, 90.0, _RECT_ANGLE_STEP))
    axes = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (k, 2)
    along = points @ axes.T  # (n, k)
    across = points @ np.stack([-axes[:, 1], axes[:, 0]], axis=1).T
    # +1: each pixel is a unit square, not a point.
    extents = (np.ptp(along, axis=0) + 1) * (np.ptp(across, axis=0) + 1)
    return float(extents.min())


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as error:  # pragma: no cover - a core dependency
        raise ImageError(
            "reading photos of paper needs OpenCV, which is not installed — "
            "pip install opencv-python-headless"
        ) from error
    return cv2


def _order(quad: FloatArray) -> FloatArray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    total = quad.sum(axis=1)
    diff = quad[:, 1] - quad[:, 0]
    corners = [np.argmin(total), np.argmin(diff), np.argmax(total), np.argmax(diff)]
    return np.array([quad[k] for k in corners])


def _candidate_masks(cv2: Any, rgb: NDArray[np.uint8]) -> list[NDArray[np.uint8]]:
    """Binary images in which a sheet may show as one region: bright, coloured, edged."""
    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    saturation = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1], (5, 5), 0)
    _, bright = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _, coloured = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.dilate(cv2.Canny(gray, 20, 60), np.ones((3, 3), np.uint8))
    # Inside the edge map's closed outlines: fill what the outer contours enclose.
    filled = np.zeros_like(edges)
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    close = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    return [cv2.morphologyEx(m, cv2.MORPH_CLOSE, close) for m in (bright, coloured, filled)]


def find_sheet(rgb: NDArray[np.uint8]) -> FloatArray | None:
    """The sheet's corners (4×2, x-y, clockwise from top-left) in `rgb`, or None.

    The sheet is the largest region, in any of `_candidate_masks`, whose outline is
    a convex quadrilateral (`approxPolyDP` of its hull), fills it (`_SOLIDITY`), covers
    a plausible share of the photo and lies wholly inside it: a sheet with its edge
    in view, not paper that runs out of the frame (that is a plain page).
    """
    cv2 = _cv2()
    height, width = rgb.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(height, width))
    small = cv2.resize(rgb, (round(width * scale), round(height * scale)), cv2.INTER_AREA)
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    saturation = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    best: tuple[float, FloatArray] | None = None
    for mask in _candidate_masks(cv2, small):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            area = float(cv2.contourArea(contour))
            if not _MIN_SHEET * h * w <= area <= _MAX_SHEET * h * w:
                continue
            x, y, cw, ch = cv2.boundingRect(contour)
            if x <= 1 or y <= 1 or x + cw >= w - 1 or y + ch >= h - 1:
                continue  # runs out of the frame
            hull = cv2.convexHull(contour)
            quad = cv2.approxPolyDP(hull, _POLY_EPSILON * cv2.arcLength(hull, True), True)
            if len(quad) != 4 or not cv2.isContourConvex(quad):
                continue
            if area < _SOLIDITY * float(cv2.contourArea(quad)):
                continue
            # The hole of a bold 0 cut to its ink is a light sliver enclosed by dark, as a
            # sheet is by a desk; no sheet is that narrow (`_NARROWEST`).
            (_, _), (side_a, side_b), _ = cv2.minAreaRect(quad)
            if min(side_a, side_b) < _NARROWEST * max(side_a, side_b):
                continue
            # Paper: lighter than the desk around it, or more coloured (a sticky note);
            # a large dark stroke outlined by the edge map is neither.
            inside = np.zeros((h, w), np.uint8)
            cv2.fillConvexPoly(inside, quad.reshape(4, 2), 1)
            lighter, more_coloured = (_across(cv2, v, inside) for v in (gray, saturation))
            if not _is_paper(lighter, more_coloured):
                continue
            if best is None or area > best[0]:
                best = (area, quad.reshape(4, 2).astype(np.float64) / scale)
    return None if best is None else _order(best[1])


def _across(cv2: Any, values: NDArray[np.float32], inside: NDArray[np.uint8]) -> float:
    """How much higher `values` are just inside the quadrilateral than just outside it.

    Medians over two bands along the outline (`_BAND` px wide, past the edge's own
    blur), not over the whole inside and outside: under a lamp's falloff or a shadow
    the desk on the lit side can be brighter than the sheet on the dim side, but
    across its own edge the paper is always the lighter (or more coloured).
    """
    near = np.ones((2 * _BAND_GAP + 1, 2 * _BAND_GAP + 1), np.uint8)
    far = np.ones((2 * (_BAND_GAP + _BAND) + 1, 2 * (_BAND_GAP + _BAND) + 1), np.uint8)
    inner = (cv2.erode(inside, near) > 0) & (cv2.erode(inside, far) == 0)
    outer = (cv2.dilate(inside, far) > 0) & (cv2.dilate(inside, near) == 0)
    if not inner.any() or not outer.any():
        return 0.0
    return median(values[inner]) - median(values[outer])


def read_sheet(image: Image.Image, whole_page: bool = True) -> Image.Image | None:
    """The sheet in a photo, flat, evened out and without rules; None if none is found.

    When no sheet outline is found, the whole image is taken as the sheet (a page
    photographed from above) and only its rules are removed; None when there are
    none either, so the caller keeps the image as it was. Without `whole_page` (only
    `sheet_in_view` saw a sheet, and the plain reader's ink looked like writing), no
    outline means None: the image is read as it was.
    """
    cv2 = _cv2()
    rgb = np.asarray(image.convert("RGB"))
    quad = find_sheet(rgb)
    if quad is None and not whole_page:
        return None
    if quad is not None:
        top = float(np.hypot(*(quad[1] - quad[0])))
        bottom = float(np.hypot(*(quad[2] - quad[3])))
        left = float(np.hypot(*(quad[3] - quad[0])))
        right = float(np.hypot(*(quad[2] - quad[1])))
        width, height = round(max(top, bottom)), round(max(left, right))
        target = np.array([(0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1)])
        warp = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32))
        sheet = cv2.warpPerspective(rgb, warp, (width, height), flags=cv2.INTER_AREA)
        cut_x, cut_y = round(_INSET * width) + 2, round(_INSET * height) + 2
        sheet = sheet[cut_y : height - cut_y, cut_x : width - cut_x]
    else:
        sheet = rgb
    gray = cv2.cvtColor(sheet, cv2.COLOR_RGB2GRAY)
    # The paper's own light, shadows included: a closing (max then min filter) wider
    # than any stroke (a quarter of the sheet: a bold digit on a sticky note) removes
    # the dark writing and keeps the slowly varying paper. Done on a copy reduced 4×
    # (the light varies slowly), then enlarged back.
    small = cv2.resize(gray, (max(1, gray.shape[1] // 4), max(1, gray.shape[0] // 4)))
    side = max(5, (min(small.shape) // 4) | 1)
    paper = cv2.morphologyEx(
        small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    )
    # Where a bold digit's strokes meet (a 4's crossing on a sticky note), the ink is
    # wider than that closing and would pass for dark paper, leaving the digit hollow.
    # A shadow or a lamp darkens paper by well under half; ink darker than half of
    # what a closing three times as wide finds is ink, and that wider closing is the
    # paper there.
    wide = min(3 * side, min(small.shape) | 1)
    wide_paper = cv2.morphologyEx(
        small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (wide, wide))
    )
    inked = paper.astype(np.float32) < _SHADOW_FLOOR * wide_paper.astype(np.float32)
    paper = np.where(inked, wide_paper, paper)
    paper = cv2.GaussianBlur(paper, (0, 0), side / 4)
    paper = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = np.clip(
        gray.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0) * 255.0, 0, 255
    ).astype(np.uint8)
    cleaned, removed = remove_rules(flat)
    if quad is None and removed == 0:
        return None
    # What is not clearly a mark is paper: faint leftovers of the rules and of the
    # paper's texture would otherwise count as ink around the digit.
    cleaned[dark_marks(cleaned) == 0] = 255
    return Image.fromarray(cleaned)
