"""Printed-style digits drawn from hand-written stroke definitions (no font files).

MNIST holds handwriting only; digits printed in a typeface (a 1 with a flag and a
foot, a closed 4, a bold 9) are shaped differently, and an MNIST-only network reads
them poorly. These glyphs, defined here as polylines and elliptic arcs, add such
shapes to the bundled model's training data. Each sample draws its own proportions,
slant, rotation, stroke width, joint jitter and size, and is brought to MNIST's form
by `preprocess.to_mnist`, exactly as `digitnet predict` does.

No font file is read: the test set (tests/render_digits.py) renders matplotlib's
fonts, and training on those would measure memory, not reading.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from digitnet.images.preprocess import to_mnist

Stroke = list[tuple[float, float]]  # points in a unit box: x in [0, w], y in [0, 1] (down)


def arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 24
) -> Stroke:
    """Points on an ellipse from angle `start` to `stop` (degrees, counter-clockwise, y up)."""
    angles = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(a), cy - ry * math.sin(a)) for a in angles]


def _zero(w: float, r: np.random.Generator) -> list[Stroke]:
    ring = arc(0.5 * w, 0.5, 0.5 * w, 0.5, 90, 450, 40)
    style = r.random()
    if style < 0.12:  # a dotted zero, as monospaced fonts draw it
        return [ring, [(0.5 * w, 0.45), (0.5 * w, 0.55)]]
    if style < 0.2:  # a slashed zero
        return [ring, [(0.75 * w, 0.2), (0.25 * w, 0.8)]]
    return [ring]


def _one(w: float, r: np.random.Generator) -> list[Stroke]:
    x = 0.55 * w
    strokes = [[(x, 0.0), (x, 1.0)]]
    style = r.integers(3)
    if style >= 1:  # a flag
        strokes.append([(x, 0.0), (x - r.uniform(0.25, 0.45) * w, r.uniform(0.15, 0.3))])
    if style == 2:  # and a foot (a serif 1), up to most of the digit's height wide
        half = r.uniform(0.2, 0.4)
        strokes.append([(x - half, 1.0), (x + half, 1.0)])
    return strokes


def _two(w: float, r: np.random.Generator) -> list[Stroke]:
    top = arc(0.5 * w, 0.27, 0.45 * w, 0.27, r.uniform(150, 175), r.uniform(-50, -20))
    neck = [(0.45 * w, 0.7)] if r.random() < 0.5 else []  # curved or straight
    return [[*top, *neck, (0.02 * w, 1.0), (w, 1.0)]]


def _three(w: float, r: np.random.Generator) -> list[Stroke]:
    lower = arc(0.5 * w, 0.73, 0.48 * w, 0.27, 90, r.uniform(-160, -140))
    if r.random() < 0.3:  # flat top
        return [[(0.05 * w, 0.0), (0.9 * w, 0.0), (0.4 * w, 0.45)], lower]
    upper = arc(0.5 * w, 0.25, 0.42 * w, 0.25, r.uniform(140, 165), -90)
    return [upper + lower]


def _four(w: float, r: np.random.Generator) -> list[Stroke]:
    bar = r.uniform(0.62, 0.75)
    stem = r.uniform(0.62, 0.78) * w
    if r.random() < 0.6:  # closed
        return [[(stem, 0.0), (0.0, bar), (w, bar)], [(stem, 0.0), (stem, 1.0)]]
    return [[(0.12 * w, 0.0), (0.04 * w, bar), (w, bar)], [(stem, 0.2), (stem, 1.0)]]


def _five(w: float, r: np.random.Generator) -> list[Stroke]:
    bowl = arc(0.47 * w, 0.68, 0.5 * w, 0.32, r.uniform(120, 150), r.uniform(-150, -130))
    return [[(0.92 * w, 0.0), (0.15 * w, 0.0), (0.1 * w, 0.45)], bowl]


def _six(w: float, r: np.random.Generator) -> list[Stroke]:
    loop = arc(0.52 * w, 0.7, 0.48 * w, 0.3, 180, 540, 40)
    stem = arc(0.62 * w, 0.68, 0.6 * w, 0.68, 180, r.uniform(55, 80))[::-1]
    return [stem, loop]


def _seven(w: float, r: np.random.Generator) -> list[Stroke]:
    foot = r.uniform(0.2, 0.45) * w
    strokes = [[(0.0, 0.0), (w, 0.0), (foot, 1.0)]]
    if r.random() < 0.2:  # a crossed 7
        strokes.append([(foot + 0.05 * w, 0.5), (0.95 * w, 0.5)])
    return strokes


def _eight(w: float, r: np.random.Generator) -> list[Stroke]:
    waist = r.uniform(0.42, 0.5)
    return [
        arc(0.5 * w, waist / 2, 0.4 * w, waist / 2, 270, 630, 36),
        arc(0.5 * w, (1 + waist) / 2, 0.5 * w, (1 - waist) / 2, 90, 450, 36),
    ]


def _nine(w: float, r: np.random.Generator) -> list[Stroke]:
    loop = arc(0.48 * w, 0.3, 0.48 * w, 0.3, 0, 360, 40)
    style = r.random()
    if style < 0.35:
        tail = [(0.96 * w, 0.3), (r.uniform(0.6, 0.95) * w, 1.0)]
    elif style < 0.7:
        tail = arc(0.38 * w, 0.32, 0.58 * w, 0.68, 0, r.uniform(-120, -100))
    else:  # a serif 9: the tail curls back to the left at the bottom
        tail = [(0.96 * w, 0.3), *arc(0.5 * w, 0.55, 0.46 * w, 0.45, 0, r.uniform(-160, -130))]
    return [loop, tail]


GLYPHS: tuple[Callable[[float, np.random.Generator], list[Stroke]], ...] = (
    _zero, _one, _two, _three, _four, _five, _six, _seven, _eight, _nine,
)  # fmt: skip


def draw_digit(digit: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """One printed-style `digit` in MNIST's form, (28, 28) uint8."""
    width = rng.uniform(0.45, 0.75) if digit != 1 else rng.uniform(0.3, 0.6)
    strokes = GLYPHS[digit](width, rng)
    slant = rng.uniform(-0.05, 0.3)  # italics lean right
    turn = math.radians(rng.uniform(-8, 8))
    jitter = rng.uniform(0.0, 0.03)
    height = int(rng.choice([int(rng.integers(14, 28)), 100]))  # small and large
    scale = 4 * height  # draw at 4× and shrink: anti-aliased edges
    stroke = max(1, round(scale * rng.uniform(0.06, 0.2)))
    pad = scale
    canvas = Image.new("L", (int(scale * 2.5), int(scale * 2.5)), 0)
    pen = ImageDraw.Draw(canvas)
    for points in strokes:
        moved = []
        for x, y in points:
            x, y = x + slant * (0.5 - y), y
            x, y = x + rng.normal(0, jitter), y + rng.normal(0, jitter)
            xr = (x - 0.35) * math.cos(turn) - (y - 0.5) * math.sin(turn)
            yr = (x - 0.35) * math.sin(turn) + (y - 0.5) * math.cos(turn)
            moved.append((pad + xr * scale, pad + yr * scale))
        pen.line(moved, fill=255, width=stroke, joint="curve")
        for cx, cy in (moved[0], moved[-1]):  # round caps
            half = stroke / 2
            pen.ellipse([cx - half, cy - half, cx + half, cy + half], fill=255)
    small = canvas.resize((canvas.width // 4, canvas.height // 4), Image.Resampling.BOX)
    return np.round(to_mnist(small) * 255).astype(np.uint8)


def make(n: int, rng: np.random.Generator) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """`n` digits (labels cycling 0-9) and their labels."""
    labels = np.arange(n, dtype=np.uint8) % 10
    images = np.stack([draw_digit(int(d), rng) for d in labels])
    return images, labels
