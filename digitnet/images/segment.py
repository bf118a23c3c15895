"""Find the digits in an ink mask: connected components, grouped into digits, left to right.

A number in one image ("2016" on a house, a written year) is read one digit at a time,
because the network only knows single MNIST digits. Here a boolean ink mask (from
`preprocess.ink_mask`) becomes a list of `Region`s, one per digit:

    label           8-connected components of the mask (run-length union-find)
    find_digits     components -> digits: drop dust, merge the pieces of a broken digit,
                    order left to right

(touching digits, one component holding several, are cut apart in `touching`.)

`label` is written here rather than taken from ``scipy.ndimage.label`` (which the tests
compare it with) because importing ``scipy.ndimage`` costs about 0.3 s, more than half
of `digitnet predict`'s start-up budget, and every prediction needs the components.
It is the classic two-pass run-length algorithm (Rosenfeld & Pfaltz 1966; see also
He, Chao & Suzuki, "A run-based two-scan labeling algorithm", IEEE TIP 2008): find the
horizontal runs of ink in each row, join each run with the runs of the row above that
touch it (diagonals included), and resolve the joins with union-find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Component", "Region", "find_digits", "label"]

# A digit of a number is at least this fraction of the tallest digit's height; smaller
# groups are pieces of a digit (merged) or dust (dropped). Digits of one number are
# written at about the same height; a "1" or "7" is as tall as an "8".
DIGIT_MIN_HEIGHT = 0.5
# Two groups whose column ranges overlap by this fraction of the narrower one are one
# digit: pieces stacked above each other (the top bar of a broken 5, a gap in a 4).
STACK_OVERLAP = 0.5
# A small piece joins a digit only when it lies within this fraction of the digit's
# height above, below or beside it; farther away it is a speck of dirt or noise.
NEAR = 0.25
# A number is wider than tall: two digits side by side with a gap are at least about
# as wide as they are tall. Tall pieces whose union is narrower than this fraction of
# its height are taken as one broken digit (a 4 drawn in two strokes, say).
NUMBER_MIN_ASPECT = 0.9


# A digit broken at its hairlines (`_merge_hairline_breaks`).
HALF_ASPECT = 0.5
HAIRLINE_GAP = 0.12


class _Box:
    """Height and width of a half-open bounding box [top, bottom) × [left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Component(_Box):
    """One connected piece of ink: its label and bounding box (half-open) and area."""

    label: int
    top: int
    bottom: int
    left: int
    right: int
    area: int


@dataclass(frozen=True)
class Region(_Box):
    """One digit: the labels of its components and their joint bounding box."""

    labels: tuple[int, ...]
    top: int
    bottom: int
    left: int
    right: int

    @staticmethod
    def of(components: list[Component]) -> Region:
        return Region(
            labels=tuple(sorted(c.label for c in components)),
            top=min(c.top for c in components),
            bottom=max(c.bottom for c in components),
            left=min(c.left for c in components),
            right=max(c.right for c in components),
        )


def label(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], list[Component]]:
    """8-connected components of `mask`: a label image (0 = background, 1..n) and stats.

    Gives the same partition as ``scipy.ndimage.label(mask, np.ones((3, 3)))``
    (tests/test_segment.py checks this), with labels numbered in raster order of
    each component's first pixel.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError("label expects a 2-D mask")
    height, width = mask.shape
    labels = np.zeros(mask.shape, dtype=np.int32)
    if not mask.any():
        return labels, []
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past where it ends
    run_rows, run_starts = np.nonzero(edges == 1)
    _, run_ends = np.nonzero(edges == -1)  # same row-major order, so pairs line up
    n_runs = len(run_rows)

    # Runs of the row above that touch run i (8-connectivity: columns [start-1, end]).
    # Row-major keys make one global sorted search find them for every run at once.
    stride = width + 2
    start_keys = run_rows * stride + run_starts
    end_keys = run_rows * stride + run_ends
    above = (run_rows - 1) * stride
    first = np.searchsorted(end_keys, above + run_starts, side="left")
    stop = np.searchsorted(start_keys, above + run_ends, side="right")
    counts = np.maximum(stop - first, 0)
    current = np.repeat(np.arange(n_runs), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    touching = np.repeat(first, counts) + offsets

    parent = list(range(n_runs))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    for a, b in zip(current.tolist(), touching.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the earlier run (raster order) is the root

    roots = np.array([root(i) for i in range(n_runs)], dtype=np.int64)
    unique_roots, inverse = np.unique(roots, return_inverse=True)
    run_label = inverse.astype(np.int32) + 1  # roots are sorted, so raster order
    lengths = run_ends - run_starts
    labels[mask] = np.repeat(run_label, lengths)  # mask's pixels, row-major = runs in order

    n = len(unique_roots)
    top = np.full(n, height, dtype=np.int64)
    bottom = np.zeros(n, dtype=np.int64)
    left = np.full(n, width, dtype=np.int64)
    right = np.zeros(n, dtype=np.int64)
    area = np.zeros(n, dtype=np.int64)
    index = run_label - 1
    np.minimum.at(top, index, run_rows)
    np.maximum.at(bottom, index, run_rows + 1)
    np.minimum.at(left, index, run_starts)
    np.maximum.at(right, index, run_ends)
    np.add.at(area, index, lengths)
    components = [
        Component(k + 1, int(top[k]), int(bottom[k]), int(left[k]), int(right[k]), int(area[k]))
        for k in range(n)
    ]
    return labels, components


def _column_overlap(a: Region, b: Region) -> float:
    """Shared columns of a and b as a fraction of the narrower one's width."""
    shared = min(a.right, b.right) - max(a.left, b.left)
    return max(shared, 0) / max(1, min(a.width, b.width))


def _distance(a: Region, b: Region) -> int:
    """Chessboard gap between two boxes (0 when they touch or overlap)."""
    dx = max(a.left - b.right, b.left - a.right, 0)
    dy = max(a.top - b.bottom, b.top - a.bottom, 0)
    return max(dx, dy)


def _merge_stacked(groups: list[list[Component]]) -> list[list[Component]]:
    """Join groups that share most of their columns, until none do."""
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _column_overlap(Region.of(groups[i]), Region.of(groups[j])) >= STACK_OVERLAP:
                    groups[i] = groups[i] + groups.pop(j)
                    merged = True
                    break
            if merged:
                break
    return groups


def find_digits(components: list[Component], single: bool = False) -> list[Region]:
    """Group components into digits, left to right. Empty input gives an empty list.

    1. Pieces that share most of their columns are one digit (`STACK_OVERLAP`): a
       digit's broken strokes lie above each other, while the digits of a number
       lie side by side.
    2. Groups at least `DIGIT_MIN_HEIGHT` of the tallest are digits. Each smaller group
       joins the digit it lies within `NEAR` × height of (a detached dot or
       serif); otherwise it is dust and is dropped.
    3. If the digits together are narrower than `NUMBER_MIN_ASPECT` × their height,
       they are one broken digit, not a number. With `single`, everything kept is
       one digit.
    """
    if not components:
        return []
    groups = _merge_stacked([[c] for c in components])
    tallest = max(Region.of(g).height for g in groups)
    digits = [g for g in groups if Region.of(g).height >= DIGIT_MIN_HEIGHT * tallest]
    small = [g for g in groups if Region.of(g).height < DIGIT_MIN_HEIGHT * tallest]
    for piece in small:
        region = Region.of(piece)
        best, best_gap = None, None
        for digit in digits:
            target = Region.of(digit)
            gap = _distance(region, target)
            if gap <= NEAR * target.height and (best_gap is None or gap < best_gap):
                best, best_gap = digit, gap
        if best is not None:
            best.extend(piece)
    digits.sort(key=lambda g: (Region.of(g).left + Region.of(g).right) / 2)
    whole = Region.of([c for g in digits for c in g])
    if single or (len(digits) > 1 and whole.width < NUMBER_MIN_ASPECT * whole.height):
        return [whole]
    return [Region.of(g) for g in _merge_hairline_breaks(digits)]


def _merge_hairline_breaks(digits: list[list[Component]]) -> list[list[Component]]:
    """Join neighbours that are the two halves of one digit broken at thin hairlines.

    A serif 0 drawn small loses its hairline top and bottom and falls apart into two
    narrow arcs, which would read as "11". Two neighbours each narrower than
    `HALF_ASPECT` × height, closer than `HAIRLINE_GAP` × height, and together no
    wider than a digit (`NUMBER_MIN_ASPECT`), are one digit: the digits of a number
    stand farther apart than a broken hairline.
    """
    merged = [digits[0]]
    for group in digits[1:]:
        a, b = Region.of(merged[-1]), Region.of(group)
        height = max(a.height, b.height)
        both = Region.of(merged[-1] + group)
        if (
            max(a.width, b.width) < HALF_ASPECT * height
            and b.left - a.right <= HAIRLINE_GAP * height
            and both.width <= NUMBER_MIN_ASPECT * both.height
        ):
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged
