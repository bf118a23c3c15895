"""Printed-style digits drawn from stroke skeletons, rendered straight into MNIST's form.

MNIST holds handwriting only; digits printed in a typeface (a 1 with a flag and a
foot, a closed 4, a bold 9) are shaped differently, and an MNIST-only network reads
them poorly. These glyphs, defined here as polylines and elliptic arcs in a unit box,
let training show such shapes (``augment_printed``): each sample draws its own
proportions, slant, rotation, joint jitter and weight of face — a light pen of
hairline strokes (Computer Modern, a serif face at text size), a regular or a bold
one — with upright strokes drawn thicker than horizontal ones by a random contrast,
as typefaces draw them. No font file is read, so fonts stay unseen by training
(tests/render_digits.py measures on them).

Rendering is vectorised over every segment of every glyph of a mini-batch: the ink
at pixel p from a segment AB of width w is a 1-pixel ramp of the distance

    d(p, AB) = | p − A − t (B − A) |,   t = clip(((p − A)·(B − A)) / |B − A|², 0, 1)
    ink = clip(w/2 + 1/2 − d, 0, 1)

and a glyph's image is the maximum over its segments. The skeleton is scaled so that
the digit's box (stroke included) has 20 px on its longer side and placed with its
centre of mass (of segment lengths, the ink's mass up to overlaps) at the field's
centre: MNIST's recipe, without rendering twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import IMAGE_SIDE as SIDE

BOX = 20.0  # MNIST fits each digit's longer side to 20 px
#: a polyline in a unit box: x in [0, w], y in [0, 1] (down); (k, 2) points
Stroke = NDArray[np.float64] | Sequence[tuple[float, float]]


def arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 10
) -> NDArray[np.float64]:
    """Points on an ellipse from angle `start` to `stop` (degrees, counter-clockwise, y up)."""
    angles = np.radians(start + (stop - start) * _fractions(n))
    return np.stack([cx + rx * np.cos(angles), cy - ry * np.sin(angles)], axis=1)


@lru_cache(maxsize=16)
def _fractions(n: int) -> NDArray[np.float64]:
    return np.linspace(0.0, 1.0, n)


def _zero(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    ring = arc(0.5 * w, 0.5, 0.5 * w, 0.5, 90, 450, 16)
    style = r.random()
    if style < 0.12:  # a dotted zero, as monospaced fonts draw it
        return [ring, [(0.5 * w, 0.45), (0.5 * w, 0.55)]]
    if style < 0.2:  # a slashed zero
        return [ring, [(0.75 * w, 0.2), (0.25 * w, 0.8)]]
    return [ring]


def _one(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    x = 0.55 * w
    strokes = [[(x, 0.0), (x, 1.0)]]
    style = r.integers(3)
    if style >= 1:  # a flag, as long as a third of the digit's height in sans faces
        strokes.append([(x, 0.0), (x - r.uniform(0.15, 0.35), r.uniform(0.15, 0.3))])
    if style == 2:  # and a foot (a serif 1), up to most of the digit's height wide
        half = r.uniform(0.2, 0.4)
        strokes.append([(x - half, 1.0), (x + half, 1.0)])
    return strokes


def _two(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    top = arc(0.5 * w, 0.27, 0.45 * w, 0.27, r.uniform(150, 175), r.uniform(-50, -20))
    neck = [(0.45 * w, 0.7)] if r.random() < 0.5 else []  # curved or straight
    return [[*top, *neck, (0.02 * w, 1.0), (w, 1.0)]]


def _three(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    lower = arc(0.5 * w, 0.73, 0.48 * w, 0.27, 90, r.uniform(-160, -140))
    if r.random() < 0.3:  # flat top
        return [[(0.05 * w, 0.0), (0.9 * w, 0.0), (0.4 * w, 0.45)], lower]
    upper = arc(0.5 * w, 0.25, 0.42 * w, 0.25, r.uniform(140, 165), -90)
    return [np.concatenate([upper, lower])]


def _four(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    bar = r.uniform(0.62, 0.75)
    stem = r.uniform(0.62, 0.78) * w
    if r.random() < 0.6:  # closed, as most typefaces draw it
        strokes = [[(stem, 0.0), (0.0, bar), (w, bar)], [(stem, 0.0), (stem, 1.0)]]
    else:
        strokes = [[(0.12 * w, 0.0), (0.04 * w, bar), (w, bar)], [(stem, 0.2), (stem, 1.0)]]
    if r.random() < 0.4:  # a serif foot under the stem (serif faces, Computer Modern)
        half = r.uniform(0.12, 0.25) * w
        strokes.append([(stem - half, 1.0), (stem + half, 1.0)])
    return strokes


def _five(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    bowl = arc(0.47 * w, 0.68, 0.5 * w, 0.32, r.uniform(120, 150), r.uniform(-150, -130))
    return [[(0.92 * w, 0.0), (0.15 * w, 0.0), (0.1 * w, 0.45)], bowl]


def _six(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    loop = arc(0.52 * w, 0.7, 0.48 * w, 0.3, 180, 540, 16)
    stem = arc(0.62 * w, 0.68, 0.6 * w, 0.68, 180, r.uniform(55, 80), 8)[::-1]
    return [stem, loop]


def _seven(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    foot = r.uniform(0.2, 0.45) * w
    strokes = [[(0.0, 0.0), (w, 0.0), (foot, 1.0)]]
    if r.random() < 0.2:  # a crossed 7
        strokes.append([(foot + 0.05 * w, 0.5), (0.95 * w, 0.5)])
    return strokes


def _eight(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    waist = r.uniform(0.42, 0.5)
    return [
        arc(0.5 * w, waist / 2, 0.4 * w, waist / 2, 270, 630, 14),
        arc(0.5 * w, (1 + waist) / 2, 0.5 * w, (1 - waist) / 2, 90, 450, 14),
    ]


def _nine(w: float, r: np.random.Generator) -> Sequence[Stroke]:
    loop = arc(0.48 * w, 0.3, 0.48 * w, 0.3, 0, 360, 16)
    style = r.random()
    if style < 0.35:
        tail: Stroke = [(0.96 * w, 0.3), (r.uniform(0.6, 0.95) * w, 1.0)]
    elif style < 0.7:
        tail = arc(0.38 * w, 0.32, 0.58 * w, 0.68, 0, r.uniform(-120, -100), 8)
    else:  # a serif 9: the tail curls back to the left at the bottom
        tail = [(0.96 * w, 0.3), *arc(0.5 * w, 0.55, 0.46 * w, 0.45, 0, r.uniform(-160, -130), 8)]
    return [loop, tail]


GLYPHS: tuple[Callable[[float, np.random.Generator], Sequence[Stroke]], ...] = (
    _zero, _one, _two, _three, _four, _five, _six, _seven, _eight, _nine,
)  # fmt: skip


def _skeletons(
    digits: NDArray[np.integer], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Every sample's segments (S, 4) as (x0, y0, x1, y1) in pixels of the 28 × 28 field,
    the sample each segment belongs to (S,), each sample's pen width in pixels (n,) and
    each segment's ink weight (S,): thick and thin strokes of the same pen.

    Only the glyph shapes are drawn one by one; slant, rotation, jitter, scale and
    placement are applied to all the points of the batch at once.
    """
    n = len(digits)
    width = np.where(digits == 1, rng.uniform(0.3, 0.6, n), rng.uniform(0.45, 0.75, n))
    shapes = [GLYPHS[int(digits[i])](float(width[i]), rng) for i in range(n)]
    strokes = [np.asarray(stroke, dtype=np.float64) for shape in shapes for stroke in shape]
    glyph_of_stroke = np.repeat(np.arange(n), [len(shape) for shape in shapes])
    counts = [len(stroke) for stroke in strokes]  # points per stroke
    P = np.concatenate(strokes)  # (N, 2) all points
    stroke_id = np.repeat(np.arange(len(strokes)), counts)
    glyph = glyph_of_stroke[stroke_id]  # (N,)
    slant = rng.uniform(-0.05, 0.3, n)[glyph]  # italics lean right
    turn = np.radians(rng.uniform(-8, 8, n))[glyph]
    jitter = rng.uniform(0.0, 0.03, n)[glyph, None]
    pen = _pen_widths(rng, n)
    x = P[:, 0] + slant * (0.5 - P[:, 1])
    xy = np.stack([x, P[:, 1]], axis=1) + rng.normal(0, 1, P.shape) * jitter
    cos, sin = np.cos(turn), np.sin(turn)
    xy = np.stack([xy[:, 0] * cos - xy[:, 1] * sin, xy[:, 0] * sin + xy[:, 1] * cos], axis=1)
    # Scale each skeleton so that its box plus the pen's width is 20 px on the longer side.
    starts = np.concatenate([[0], np.cumsum(np.bincount(glyph, minlength=n))[:-1]])
    low, high = np.minimum.reduceat(xy, starts), np.maximum.reduceat(xy, starts)
    extent = np.maximum((high - low).max(axis=1), 1e-6)
    xy = xy * ((BOX - pen) / extent)[glyph, None]
    same = stroke_id[1:] == stroke_id[:-1]  # consecutive points of one stroke make a segment
    seg = np.concatenate([xy[:-1][same], xy[1:][same]], axis=1)
    owner = glyph[:-1][same]
    # Centre of mass by segment length (a dot of zero length still weighs a little).
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) + 1e-3
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    mass = np.bincount(owner, weights=length, minlength=n)
    centre = np.stack(
        [np.bincount(owner, weights=length * mid[:, j], minlength=n) / mass for j in (0, 1)],
        axis=1,
    )
    seg -= np.tile(centre - (SIDE - 1) / 2, 2)[owner]
    return seg, owner, pen, _contrast_weights(seg, owner, rng.uniform(0.0, 0.5, n))


def _pen_widths(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Each sample's pen width in pixels, by weight of typeface: light (hairline strokes,
    as Computer Modern or a serif face at text size), regular, or bold."""
    weight = rng.choice(len(PEN_RANGES), size=n, p=PEN_SHARES)
    low, high = np.array(PEN_RANGES).T
    widths: NDArray[np.float64] = rng.uniform(low[weight], high[weight])
    return widths


def _contrast_weights(
    seg: NDArray[np.float64], owner: NDArray[np.intp], contrast: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each segment's ink weight: typefaces draw upright strokes thicker than horizontal
    ones (Computer Modern, Didone serifs). A weight c scales the line's density, so its
    solid width (where the blurred line exceeds half its unit peak, see `render`) grows
    as √(ln 2c / ln 2) and below c = ½ it fades to a grey hairline. A segment at angle
    φ from the horizontal weighs 1 + k (2 |sin φ| − 1), k the sample's contrast."""
    d = seg[:, 2:] - seg[:, :2]
    upright = np.abs(d[:, 1]) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    k = contrast[owner]
    weight: NDArray[np.float64] = 1.0 + k * (2.0 * upright - 1.0)
    return weight


#: pen widths (px, in the 20-px box) of light, regular and bold faces, and how often each.
#: Bold reaches 5.5 px, a black face or a small digit in a thick marker fitted to 20 px:
#: on development sets (10-epoch runs of configs/reader.yaml, three seeds) this read
#: rendered digits 95.8 → 96.5% and handwriting 86.6 → 87.1% against a 4.2-px limit.
PEN_RANGES = ((0.9, 1.8), (1.6, 3.0), (2.8, 5.5))
PEN_SHARES = (0.3, 0.45, 0.25)


def render(digits: NDArray[np.integer], rng: np.random.Generator) -> NDArray[np.float32]:
    """Printed-style images (len(digits), 784) in [0, 1], MNIST's form, one per label."""
    n = len(digits)
    if n == 0:
        return np.empty((0, SIDE * SIDE), dtype=np.float32)
    seg, owner, pen, weight = _skeletons(np.asarray(digits), rng)
    # 1. The skeleton as ink density: points every ≤ STEP px along each segment, each
    #    carrying its share of the segment's length, splatted bilinearly on the grid.
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    k = np.ceil(length / STEP).astype(np.intp) + 1  # points per segment, ends included
    which = np.repeat(np.arange(len(seg)), k)
    first = np.repeat(np.cumsum(k) - k, k)
    t = (np.arange(len(which)) - first) / np.maximum(k[which] - 1, 1)
    points = seg[which, :2] + t[:, None] * d[which]
    mass = (weight * length / k)[which]
    density = _splat(points, mass, owner[which], n)  # (n, 28, 28)
    # 2. The pen: a Gaussian of σ = width / 2.355 (its full width at half maximum is the
    #    pen's width) across a line of unit density peaks at 1 / (√(2π) σ); ink is solid
    #    above half that peak. u = blurred / (half the peak) is 1 at the stroke's edge and
    #    falls there by about 1.18/σ per pixel, so ink = 1 + (u − 1) · max(1, σ/1.18)
    #    keeps the edge about a pixel soft for every pen, as a typeface's anti-aliased
    #    edge is, rather than a wide pen's blur of 2σ.
    sigma = pen / 2.355
    G = _gaussians(sigma)  # (n, 28, 28)
    blurred = G @ density @ G.transpose(0, 2, 1)
    gain = (2 * np.sqrt(2 * np.pi) * sigma)[:, None, None]
    sharp = np.maximum(1.0, sigma / EDGE_SLOPE)[:, None, None]
    ink = 1.0 + (blurred * gain - 1.0) * sharp
    images: NDArray[np.float32] = np.clip(ink, 0, 1).astype(np.float32)
    return images.reshape(n, SIDE * SIDE)


STEP = 0.5  # px between splatted points along a stroke
EDGE_SLOPE = np.sqrt(2 * np.log(2))  # σ·|du/dx| at the half-maximum edge of a Gaussian line


def _splat(
    points: NDArray[np.float64], mass: NDArray[np.float64], image: NDArray[np.intp], n: int
) -> NDArray[np.float64]:
    """Sum ``mass`` at ``points`` (x, y) into n images, bilinearly; outside the field drops."""
    x, y = points[:, 0], points[:, 1]
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    col = np.concatenate([x0, x0 + 1, x0, x0 + 1]).astype(np.intp)  # the 4 neighbours
    row = np.concatenate([y0, y0, y0 + 1, y0 + 1]).astype(np.intp)
    weight = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    inside = (col >= 0) & (col < SIDE) & (row >= 0) & (row < SIDE)
    flat = (np.tile(image, 4) * SIDE + row) * SIDE + col
    out: NDArray[np.float64] = np.bincount(
        flat[inside], weights=(weight * np.tile(mass, 4))[inside], minlength=n * SIDE * SIDE
    ).astype(np.float64)
    return out.reshape(n, SIDE, SIDE)


def _gaussians(sigma: NDArray[np.float64]) -> NDArray[np.float64]:
    """G_i with (G_i u)_r = Σ_j g_σi(r − j) u_j for each σ_i: (n, 28, 28), density-normalised."""
    i = np.arange(SIDE, dtype=np.float64)
    d2 = (i[:, None] - i[None, :]) ** 2
    s2 = (2 * sigma**2)[:, None, None]
    G: NDArray[np.float64] = np.exp(-d2 / s2) / np.sqrt(np.pi * s2)
    return G
