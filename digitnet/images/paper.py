"""Photos of paper: find the sheet, flatten it, and hand on what is written on it.

A digit photographed on a sheet of paper lying on a desk is not a digit on a plain
background: the desk and the sheet's edge are larger and darker (or lighter) than
the writing, so the plain reader takes the whole sheet, or the desk around it, for
ink. Here, with OpenCV (contours, polygon fitting, perspective warps, morphology):

    needs_sheet_reading  cheap cue (numpy only) from the plain reader's ink pieces:
                         a solid blob the size of a sheet (or solid strips or
                         squares that add up to one: a ruled sheet), a piece that
                         spans the frame, or long thin lines
    find_sheet           the sheet's four corners: the largest convex quadrilateral
                         outline (bright region, coloured region or edge map) wholly
                         inside the photo
    read_sheet           the sheet cut out and warped flat, its light evened out
                         (divided by a closing, which removes the strokes and keeps
                         the paper, shadows included), printed rules removed
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
from digitnet.images.segment import Component

__all__ = ["find_sheet", "needs_sheet_reading", "read_sheet"]

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
# The sheet's outline (`find_sheet`).
_WORK_SIDE = 480  # outlines are looked for on a copy this long
_MIN_SHEET = 0.05  # of the photo's area
_MAX_SHEET = 0.97
_POLY_EPSILON = 0.02  # of the outline's perimeter, for approxPolyDP
_SOLIDITY = 0.85  # outline area / quadrilateral area
_STANDS_OUT = 8.0  # 8-bit levels by which paper is lighter (or more coloured) than the desk
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
            # Paper: lighter than the desk around it, or more coloured (a sticky note);
            # a large dark stroke outlined by the edge map is neither.
            inside = np.zeros((h, w), np.uint8)
            cv2.fillConvexPoly(inside, quad.reshape(4, 2), 1)
            if not (_stands_out(gray, inside) or _stands_out(saturation, inside)):
                continue
            if best is None or area > best[0]:
                best = (area, quad.reshape(4, 2).astype(np.float64) / scale)
    return None if best is None else _order(best[1])


def _stands_out(values: NDArray[np.float32], inside: NDArray[np.uint8]) -> bool:
    """Whether `values` are higher inside the quadrilateral than outside it (medians)."""
    within, without = values[inside > 0], values[inside == 0]
    if within.size == 0 or without.size == 0:
        return False
    return float(np.median(within)) > float(np.median(without)) + _STANDS_OUT


def read_sheet(image: Image.Image) -> Image.Image | None:
    """The sheet in a photo, flat, evened out and without rules; None if none is found.

    When no sheet outline is found, the whole image is taken as the sheet (a page
    photographed from above) and only its rules are removed; None when there are
    none either, so the caller keeps the image as it was.
    """
    cv2 = _cv2()
    rgb = np.asarray(image.convert("RGB"))
    quad = find_sheet(rgb)
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
