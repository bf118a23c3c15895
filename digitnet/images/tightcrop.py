"""Paper and ink when the ink reaches the image's edges (a tight crop, a thumbnail).

`preprocess` takes the paper's level and noise from the image's outermost ring of
pixels, which is right for a digit with a margin around it: there the ring is all
paper. A digit cropped to its ink box (a close crop of a scan, a screenshot, a small
thumbnail) has ink on every side of that ring, often half of it; the ring's median
is then anywhere between paper and ink and its spread is as large as the ink's
contrast, so subtracting that "noise" wipes out the digit.

Touching the frame does not make ink background, so a ring that holds two kinds of
pixel is not taken as paper. Here the image is split in two classes by Otsu's
threshold and the classes are told apart by what strokes look like, not by where
they are:

- a digit's ink is (mostly) one connected piece, while the paper around a tightly
  cropped digit is cut by the strokes into several pieces (corners, holes);
- strokes are thin: the ink's area per boundary pixel is smaller than the paper's.

When the four corner pixels are of one class, that class is the paper: a digit
rarely reaches into every corner of its own box (measured on development crops:
handwriting, rendered seed 1002 and MNIST training digits, cut to the ink box and a
pixel inside, 34 split light-for-dark instead of 61). Three corners of one class are the
paper too when that class is also clearly the thicker: a small digit in a thin pen often
runs into one corner, and its strokes fall into pieces while the paper stays one
(development crops: handwriting, rendered seed 1002, MNIST training digits; 85 split
light-for-dark instead of 143). Otherwise
the connected share decides, the thinner class tipping shares that nearly agree
(a digit cut one pixel inside its ink often falls into two pieces while the paper
stays one); when it is a tie (both classes in one piece) the thinner class is the
ink. A crop under `_SMALL_SIDE` px a side is split on its pixels, not a 3×3 mean.
A number cut tightly turns the first cue around (its digits are several pieces of
ink, the paper between them one piece): in an image much wider than tall, the class
that runs in unbroken columns from the top edge to the bottom between the digits is
the paper. `preprocess` then measures the paper's level (flat or a lamp's surface)
and noise on the paper class itself, away from the strokes' edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digitnet.images.quantiles import median
from digitnet.images.segment import label

__all__ = [
    "NUMBER_ASPECT",
    "PaperSplit",
    "ink_reaches_frame",
    "paper_in_ring",
    "split_paper_and_ink",
]

# The ring counts as holding ink when more than this share of its pixels lies farther
# from the paper level than half the image's largest departure from it (a margin's
# ring of paper grain and JPEG noise has well under 1 % there).
RING_INK_SHARE = 0.1
_RING_SIGMAS = 5.0
_RING_SPREAD = 1.0 / 6.0  # σ ≥ reach/6: the 3σ noise floor would take half the ink
_RING_SMOOTH = 1.5  # noise alone gives 1 (both are its σ)
_MAD_TO_SIGMA = 1.4826
# Connected shares closer than this are a tie, decided by stroke thickness; short of
# a tie, the log ratio of the classes' thicknesses (weighted by `_THICKNESS_WEIGHT`)
# still tips shares that nearly agree.
_TIE = 0.05
_THICKNESS_WEIGHT = 0.2
# Under this many pixels a side, the classes are cut on the pixels themselves: there
# a 3×3 mean blurs a 2-px stroke into the paper beside it.
_SMALL_SIDE = 16
# The paper is measured this many pixels inside its class, while at least
# `_MIN_PAPER` pixels are left there.
_PAPER_DEPTH = 2
_MIN_PAPER = 8
# Crops at least this many pixels a side are told apart by their corners first (a
# 1 cut to 2 px wide has ink in every corner).
_CORNER_SIDE = 3
# Three corners of one class are paper when that class is also this much thicker (log
# ratio of `_thickness`: about 1.6 times) than the other, see `_thin_strokes_in_a_corner`.
_CORNER_THICKER = 0.5
# ... in crops at least this many pixels a side: a 1 cut to 2-4 px wide is nearly all ink,
# and its thin "paper" slivers would pass for the strokes (MNIST digits cut a pixel inside).
_THIN_CORNER_SIDE = 6
# An image this much wider than tall is a number (MNIST's widest digit: 1.75; few pass 1.5).
NUMBER_ASPECT = 1.5
# Pieces under this share of the image are specks (noise, grain), not strokes or paper.
_SPECK = 0.002
_OTSU_BINS = 64
# `paper_in_ring`: the strokes' soft edges reach into the ring when more than this
# share of it lies beyond `_EDGE_SIGMAS` σ (at least `_EDGE_FLOOR`, two 8-bit gray
# levels) on the ink's side, and `_EDGE_RATIO` times as many as on the paper's side;
# the paper's level is refined over `_EDGE_ROUNDS` rounds.
_EDGE_SHARE = 0.05
_EDGE_RATIO = 3.0
_EDGE_SIGMAS = 3.0
_EDGE_FLOOR = 2.0 / 255.0
_EDGE_ROUNDS = 4

FloatImage = NDArray[np.float32]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class PaperSplit:
    """Which pixels are clearly paper (away from strokes), and the ink's side of it."""

    paper: Mask
    dark_ink: bool


def ink_reaches_frame(residual: FloatImage) -> bool:
    """Whether the outer ring of `residual` (image minus paper estimate) holds ink.

    A margin's ring departs from 0 by noise only. A tight crop's ring holds strokes:

    - a good share (`RING_INK_SHARE`) of its pixels lies farther from 0 than half the
      image's reach and than `_RING_SIGMAS` robust σ of the ring, which noise alone
      never does; or
    - the ring's spread is a large part of the reach (`_RING_SPREAD`, a third: the
      3σ noise floor would remove half the ink) while the ring is smooth along its
      length (`_RING_SMOOTH`): runs of ink and paper, not noise, whose neighbouring
      pixels differ as much as any two.
    """
    reach = float(np.abs(residual).max())
    if reach <= 0.0 or min(residual.shape) < 2:
        return False
    ring = _ring(residual)
    size = np.abs(ring)
    mad = median(size)  # the ring's MAD about 0
    far = max(reach / 2, _RING_SIGMAS * _MAD_TO_SIGMA * mad)
    if float(np.mean(size > far)) > RING_INK_SHARE:
        return True
    # As `photometry` measures them: the noise floor from the ring's MAD about 0, the
    # reach after a 3×3 mean.
    spread = _MAD_TO_SIGMA * mad
    step = _MAD_TO_SIGMA * median(np.abs(np.diff(ring))) / np.sqrt(2.0)
    smooth_reach = float(np.abs(_box_mean(residual)).max())
    return spread >= _RING_SPREAD * smooth_reach and spread > _RING_SMOOTH * step


def _ring(values: FloatImage) -> FloatImage:
    """The outer ring in order (top, right, bottom, left), so neighbours in it are neighbours."""
    ring: FloatImage = np.concatenate(
        [values[0], values[1:, -1], values[-1, -2::-1], values[-2:0:-1, 0]]
    )
    return ring


def paper_in_ring(residual: FloatImage, dark_ink: bool) -> tuple[float, float] | None:
    """The paper's level and MAD in a ring that the strokes' soft edges reach into.

    A digit cropped to its ink box keeps its strokes' anti-aliased or blurred edges in
    the outer ring: too faint for `ink_reaches_frame`, yet they lie all on the ink's
    side of the paper, and taken for noise they give a noise floor that wipes out
    much of the digit (measured on handwriting dev crops: floors of 0.1-0.3 where the
    same digit with a margin has 0-0.1). Noise departs from the paper to both sides
    alike, so the paper's σ is measured on the side away from the ink, and pixels more
    than `_EDGE_SIGMAS` σ (at least `_EDGE_FLOOR`) towards the ink are left out of its
    level, a few rounds. When clearly more of the ring lies that far on the ink's side
    than on the other (`_EDGE_SHARE`, and `_EDGE_RATIO` times as many), those pixels
    are edges and the rest is the paper.
    Returns (level, MAD) of that paper, relative to `residual`'s 0, or None for a ring
    of paper only (left as it is).
    """
    if min(residual.shape) < 3:
        return None
    toward_ink = -_ring(residual) if dark_ink else _ring(residual)
    level = median(toward_ink)
    for _ in range(_EDGE_ROUNDS):
        departure = toward_ink - level
        away = -departure[departure <= 0]
        far = max(_EDGE_SIGMAS * _MAD_TO_SIGMA * median(away), _EDGE_FLOOR)
        paper = departure <= far
        level = median(toward_ink[paper])
    departure = toward_ink - level
    inky, other = float(np.mean(departure > far)), float(np.mean(departure < -far))
    if inky < _EDGE_SHARE or inky < _EDGE_RATIO * other:
        return None
    mad = median(np.abs(departure[paper]))
    return (-level if dark_ink else level), mad


def otsu(values: FloatImage, value_range: tuple[float, float] | None = None) -> float:
    """Otsu's threshold (1979): the cut that maximises the between-class variance, over
    ``value_range`` (default: the values' own range)."""
    if value_range is None:
        value_range = (float(values.min()), float(values.max()))
    counts, edges = np.histogram(values, bins=_OTSU_BINS, range=value_range)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _interior(mask: Mask) -> Mask:
    """Pixels of `mask` whose four neighbours are in it too (the frame continues it)."""
    m = np.pad(mask, 1, mode="edge")
    inner: Mask = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return inner


def _thickness(mask: Mask) -> float:
    """Area per boundary pixel: about half the width of a stroke, larger for blobs.

    The image's frame is not a boundary (`_interior` repeats the edge), since a
    stroke cut by the crop goes on beyond it.
    """
    boundary = int((mask & ~_interior(mask)).sum())
    return float(mask.sum()) / max(1, boundary)


def _gaps(mask: Mask) -> int:
    """Runs of inner columns that are `mask` from the top edge to the bottom."""
    full = np.asarray(mask.all(axis=0))[1:-1].astype(np.int8)
    return int(np.count_nonzero(np.diff(full, prepend=0) == 1))


def _corners(mask: Mask) -> bool | None:
    """Whether all four corner pixels are in `mask` (True), all out (False), or mixed."""
    corners = mask[[0, 0, -1, -1], [0, -1, 0, -1]]
    if corners.all() or not corners.any():
        return bool(corners[0])
    return None


def _thin_strokes_in_a_corner(sharp: Mask, light: Mask) -> bool | None:
    """Whether the light class is the paper, when a thin stroke runs into one corner.

    A small digit in a thin pen, cut to its ink box, often reaches one corner of it (a
    2's foot, a 7's bar): the other three corners are paper, and the paper, uncut by
    such thin strokes, is one piece while the strokes fall into several, so the
    connected shares point the wrong way. Three corners of one class settle it only
    when that class is also clearly the thicker one (`_CORNER_THICKER`, in log ratio
    of `_thickness`), as paper around thin strokes is, in a crop of at least
    `_THIN_CORNER_SIDE` px a side. None when the cues disagree.
    """
    light_corners = int(sharp[[0, 0, -1, -1], [0, -1, 0, -1]].sum())
    if light_corners not in (1, 3) or min(sharp.shape) < _THIN_CORNER_SIDE:
        return None
    light_thinner = float(np.log(_thickness(~light) / _thickness(light)))
    if light_corners == 3 and light_thinner <= -_CORNER_THICKER:
        return True
    if light_corners == 1 and light_thinner >= _CORNER_THICKER:
        return False
    return None


def _connected_share(mask: Mask, speck: int) -> float:
    """The largest 8-connected piece's share of the class's pixels (specks left out)."""
    _, components = label(mask)
    areas = [c.area for c in components if c.area >= speck]
    return max(areas) / sum(areas) if areas else 0.0


def split_paper_and_ink(gray: FloatImage) -> PaperSplit | None:
    """Tell paper from ink in an image whose ink touches its frame (module docstring).

    The classes are cut on a 3×3 mean, and pieces smaller than `_SPECK` of the image
    are left out of the connected shares, so paper grain and JPEG noise on either
    side of the threshold do not pass for pieces of ink or paper. Returns None for an
    image with fewer than two levels (nothing to split).
    """
    smooth = _box_mean(gray) if min(gray.shape) >= _SMALL_SIDE else gray
    if float(smooth.max() - smooth.min()) <= 0.0:
        return None
    light = smooth > otsu(smooth)
    if light.all() or not light.any():
        return None
    speck = max(2, round(_SPECK * gray.size))
    light_share, dark_share = _connected_share(light, speck), _connected_share(~light, speck)
    height, width = gray.shape
    sharp = gray > otsu(gray)  # the gaps between tightly set digits blur shut in `smooth`
    light_gaps, dark_gaps = _gaps(sharp), _gaps(~sharp)
    if width >= NUMBER_ASPECT * height and light_gaps != dark_gaps:
        # A number cut tightly: its digits are several pieces of ink and the paper
        # one piece around them, so the connected shares point the wrong way. The
        # gaps between its digits (columns of paper from the top edge to the bottom)
        # tell which class is paper instead.
        light_is_ink = light_gaps < dark_gaps
    elif min(height, width) >= _CORNER_SIDE and (corners := _corners(sharp)) is not None:
        # A digit rarely reaches into all four corners of its own box, so four corners
        # of one class are paper (hand-written crops cut inside their ink fall into
        # pieces, and the connected shares below then point the wrong way).
        light_is_ink = not corners
    elif (light_is_paper := _thin_strokes_in_a_corner(sharp, light)) is not None:
        light_is_ink = not light_is_paper
    else:
        # The ink is the piece that holds together, and the thinner class.
        thinner = float(np.log(_thickness(~light) / _thickness(light)))
        score = light_share - dark_share + _THICKNESS_WEIGHT * thinner
        light_is_ink = score > 0 if abs(score) > _TIE else thinner > 0
    paper = ~light if light_is_ink else light
    # Measure the paper away from the strokes: their anti-aliased edges are neither,
    # and a fringe pixel taken for paper would pass for noise (its noise floor then
    # wipes out the faint ink). Two pixels away where there is enough of it, else one.
    for _ in range(_PAPER_DEPTH):
        inside = _interior(paper)
        if int(inside.sum()) < _MIN_PAPER:
            break
        paper = inside
    return PaperSplit(paper=paper, dark_ink=not light_is_ink)


def _box_mean(values: FloatImage) -> FloatImage:
    """3×3 mean, edges repeated."""
    padded = np.pad(values, 1, mode="edge").astype(np.float32)
    height, width = values.shape
    total = sum(padded[r : r + height, c : c + width] for r in range(3) for c in range(3))
    mean: FloatImage = np.asarray(total, dtype=np.float32) / np.float32(9.0)
    return mean
