"""Handwriting-like digit images from stroke skeletons with pen dynamics, from a seed.

No font file is read: each digit is a few strokes through control points, in one of
several ways people write it (a 1 plain, hooked or with a base; a 4 open or closed at
the top; a crossed 7; a 5 in one stroke or two; 0, 6, 8 and 9 with loops that close or
stay open; an 8 as one figure-eight or two loops; a 2 with or without a loop). Each
stroke is a Catmull-Rom curve through its points, moved by the writer's hand:

* **slant** and **rotation** of the whole digit, a random **aspect**;
* **wobble**: a smooth random displacement along the stroke (two low-frequency sines);
* **control-point jitter**: each point moved a little, so no two samples share a shape;
* **pen width** varying along the stroke (pressure), thinner at the ends (taper).

Strokes are stamped as discs on a canvas at several times the final size and shrunk
(anti-aliased), in ink of a pen colour on paper, with optional blur, noise and JPEG.

Two splits: ``dev`` (seeds below ``HELD_OUT_BASE``), which may inform design decisions,
and ``held-out``, whose images no recipe is tuned on; they differ only in their seeds.
Used by tests/test_handwriting.py and benchmarks/real_digits.py.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HELD_OUT_BASE = 1_000_000  # held-out seeds are offset by this: the two splits never meet
SPLITS = ("dev", "held-out")

Points = list[tuple[float, float]]  # control points in a unit box: x right, y down in [0, 1]


def _oval(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int) -> Points:
    angles = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(a), cy - ry * math.sin(a)) for a in angles]


def _styles(digit: int, r: np.random.Generator) -> tuple[str, list[Points]]:
    """One way of writing ``digit``: its style name and strokes (lists of control points)."""
    closes = r.random() < 0.6  # loops that close, or stay open
    gap = 0.0 if closes else r.uniform(25, 60)
    if digit == 0:
        return ("closed" if closes else "open"), [_oval(0.35, 0.5, 0.3, 0.5, 100, 460 - gap, 10)]
    if digit == 1:
        style = ["plain", "hooked", "based"][int(r.integers(3))]
        stem = [(0.4, 0.0), (0.37, 0.5), (0.35, 1.0)]
        if style == "plain":
            return style, [stem]
        hooked = [(0.1, 0.25), *stem]
        return style, [hooked] if style == "hooked" else [hooked, [(0.1, 1.0), (0.65, 1.0)]]
    if digit == 2:
        top = [(0.05, 0.25), (0.3, 0.02), (0.6, 0.12), (0.58, 0.4), (0.3, 0.72), (0.02, 0.98)]
        if r.random() < 0.35:
            return "looped", [[*top, (0.2, 0.85), (0.18, 0.99), (0.7, 0.98)]]
        return "plain", [[*top, (0.7, 0.98)]]
    if digit == 3:
        middle = (0.22, 0.47) if r.random() < 0.5 else (0.35, 0.45)
        return "plain", [
            [(0.05, 0.12), (0.35, 0.0), (0.62, 0.18), middle, (0.64, 0.68), (0.45, 0.97),
             (0.02, 0.88)]
        ]  # fmt: skip
    if digit == 4:
        if r.random() < 0.5:  # open at the top: an L and a long stem
            return "open", [[(0.12, 0.0), (0.05, 0.62), (0.75, 0.6)], [(0.58, 0.05), (0.55, 1.0)]]
        return "closed", [[(0.5, 0.0), (0.0, 0.65), (0.75, 0.63)], [(0.52, 0.0), (0.52, 1.0)]]
    if digit == 5:
        body = [(0.15, 0.02), (0.1, 0.45), (0.45, 0.37), (0.66, 0.62), (0.5, 0.95), (0.02, 0.88)]
        if r.random() < 0.5:  # two strokes: body, then the flag on top
            return "two-stroke", [body, [(0.15, 0.02), (0.68, 0.0)]]
        return "one-stroke", [[(0.68, 0.0), *body]]
    if digit == 6:
        end = (0.08, 0.66) if closes else (0.3, 0.55)
        return ("closed" if closes else "open"), [
            [(0.58, 0.0), (0.22, 0.3), (0.05, 0.72), (0.28, 1.0), (0.58, 0.85), (0.52, 0.56),
             end]
        ]  # fmt: skip
    if digit == 7:
        stem_bend = r.uniform(-0.08, 0.08)
        strokes = [[(0.0, 0.04), (0.7, 0.0), (0.42 + stem_bend, 0.5), (0.28, 1.0)]]
        if r.random() < 0.35:
            strokes.append([(0.2, 0.52), (0.7, 0.48)])
            return "crossed", strokes
        return "plain", strokes
    if digit == 8:
        if r.random() < 0.5:
            return "figure", [
                [(0.6, 0.12), (0.35, 0.0), (0.1, 0.18), (0.35, 0.45), (0.62, 0.72),
                 (0.4, 1.0), (0.08, 0.78), (0.35, 0.48), (0.58, 0.25), (0.6, 0.1)]
            ]  # fmt: skip
        return "two-loops", [_oval(0.35, 0.23, 0.22, 0.23, 270, 630, 8),
                             _oval(0.35, 0.72, 0.3, 0.28, 90, 450 - gap, 8)]  # fmt: skip
    # 9
    loop = _oval(0.33, 0.27, 0.3, 0.27, 0, 360 - gap, 8)
    tail = [(0.63, 0.25), (0.6, 0.65), (0.5, 1.0)]
    if r.random() < 0.4:
        tail = [(0.63, 0.25), (0.6, 0.75), (0.4, 1.0), (0.12, 0.9)]
    return ("closed" if closes else "open"), [loop, tail]


def _catmull_rom(points: np.ndarray, per_segment: int) -> np.ndarray:
    """A smooth curve through ``points`` (k, 2): centripetal-free, uniform Catmull-Rom."""
    if len(points) == 1:
        return points
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    out.append(points[-1:])
    return np.vstack(out)


INKS = {"black": (15, 15, 20), "blue": (25, 45, 150), "pencil": (105, 105, 110)}
PAPERS = {"white": (250, 250, 248), "cream": (243, 236, 210), "gray": (215, 215, 212)}
# A pixel shows ink when the drawn strokes (after the blur, before noise and JPEG) make
# it at least this many 8-bit gray levels darker than the bare paper: the faintest ink
# a person sees as part of a stroke on clean paper. `visible_ink_box` is the box of
# those pixels, the "ink box" that tests/tight_crops.py cuts handwriting to.
VISIBLE_LEVELS = 16


@dataclass
class Sample:
    path: Path
    label: str
    conditions: dict[str, Any] = field(default_factory=dict)


def draw_digit(
    digit: int, rng: np.random.Generator, height: int
) -> tuple[Image.Image, dict[str, Any]]:
    """One handwritten ``digit`` as a coverage mask (L, ink 255) ``height`` px tall."""
    style, strokes = _styles(digit, rng)
    slant = rng.uniform(-0.1, 0.45)
    turn = math.radians(rng.uniform(-10, 10))
    aspect = rng.uniform(0.75, 1.3)
    jitter = rng.uniform(0.01, 0.04)
    wobble = rng.uniform(0.0, 0.025)
    pen = rng.uniform(0.05, 0.16)  # pen width as a fraction of the digit's height
    scale = 4 * height  # stamped at 4× and shrunk: anti-aliased edges
    margin = int(scale * 0.4)
    size = (int(scale * 1.3) + 2 * margin, scale + 2 * margin)
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        p = np.asarray(stroke, dtype=np.float64)
        p = p + rng.normal(0, jitter, p.shape)
        curve = _catmull_rom(p, 12)
        s = np.linspace(0, 1, len(curve))
        phase = rng.uniform(0, 2 * math.pi, 2)
        curve = curve + wobble * np.stack(
            [np.sin(2 * math.pi * 2.3 * s + phase[0]), np.sin(2 * math.pi * 1.7 * s + phase[1])], 1
        )
        x = (curve[:, 0] * aspect + slant * (0.5 - curve[:, 1])) - 0.35
        y = curve[:, 1] - 0.5
        xr, yr = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
        pressure = 0.75 + 0.25 * np.sin(2 * math.pi * s * rng.uniform(0.5, 1.5) + phase[0])
        taper = np.minimum(1.0, 0.4 + 3 * np.minimum(s, 1 - s))
        radius = 0.5 * pen * scale * pressure * taper
        # Stamp discs often enough that consecutive ones overlap: about 3 per radius.
        px = margin + scale * 0.65 + xr * scale
        py = margin + scale * 0.5 + yr * scale
        steps = np.hypot(np.diff(px), np.diff(py))
        for i in range(len(px)):
            n = 1 if i == 0 else max(1, int(steps[i - 1] / max(radius[i] / 3, 1)))
            for k in range(n):
                f = (k + 1) / n
                cx = px[i - 1] + f * (px[i] - px[i - 1]) if i else px[i]
                cy = py[i - 1] + f * (py[i] - py[i - 1]) if i else py[i]
                rad = radius[i]
                draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=255)
    box = canvas.getbbox() or (0, 0, 1, 1)
    mask = canvas.crop(box)
    w = max(1, round(mask.width / 4))
    h = max(1, round(mask.height / 4))
    conditions = {"style": f"{digit}-{style}", "pen": round(pen, 3), "slant": round(slant, 2)}
    return mask.resize((w, h), Image.Resampling.BOX), conditions


def make_sample(label: str, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """An RGB image of the digits in ``label`` written side by side on paper."""
    height = int(rng.choice([int(rng.integers(14, 28)), int(rng.integers(28, 90))]))
    masks, conditions = [], {}
    for ch in label:
        mask, conditions = draw_digit(int(ch), rng, height)
        masks.append(mask)
    gap = max(2, int(height * rng.uniform(0.15, 0.45)))
    width = sum(m.width for m in masks) + gap * (len(masks) - 1)
    tallest = max(m.height for m in masks)
    pad = int(height * rng.uniform(0.4, 1.2)) + 2
    ink_mask = Image.new("L", (width + 2 * pad, tallest + 2 * pad), 0)
    x = pad
    for m in masks:
        top = (
            pad + (tallest - m.height) // 2 + int(rng.integers(-height // 10 - 1, height // 10 + 1))
        )
        ink_mask.paste(m, (x, max(0, top)), m)
        x += m.width + gap
    ink_name = str(rng.choice(list(INKS)))
    paper_name = str(rng.choice(list(PAPERS)))
    paper = Image.new("RGB", ink_mask.size, PAPERS[paper_name])
    image = Image.composite(Image.new("RGB", ink_mask.size, INKS[ink_name]), paper, ink_mask)
    blur = float(rng.choice([0.0, 0.0, 0.6, 1.0]))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    ink_box = visible_ink_box(image, PAPERS[paper_name])
    noise = float(rng.choice([0.0, 4.0, 10.0]))
    if noise:
        array = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (*image.size[::-1], 1))
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    conditions.update(
        height=height, ink=ink_name, paper=paper_name, blur=blur, noise=noise,
        digit=label if len(label) == 1 else "many", ink_box=ink_box,
    )  # fmt: skip
    if rng.random() < 0.3:  # a JPEG, as phones save
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(60, 90)))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        conditions["jpeg"] = True
    return image, conditions


def visible_ink_box(drawn: Image.Image, paper: tuple[int, int, int]) -> tuple[int, ...]:
    """(left, top, right, bottom), half-open, of the pixels that show ink in ``drawn``.

    ``drawn`` is the page as the strokes left it (before noise and JPEG, which are not
    ink); a pixel shows ink when it is `VISIBLE_LEVELS` gray levels darker than the
    bare ``paper`` (ITU-R 601 luminance, as Pillow's ``convert("L")``).
    """
    gray = np.asarray(drawn.convert("L"), dtype=np.float32)
    bare = np.asarray(Image.new("RGB", (1, 1), paper).convert("L"), dtype=np.float32)[0, 0]
    return box_of(bare - gray >= VISIBLE_LEVELS)


def box_of(shows: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), half-open, of the True pixels of ``shows``."""
    rows, cols = np.flatnonzero(shows.any(axis=1)), np.flatnonzero(shows.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def seed_of(split: str, seed: int) -> int:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return seed + (HELD_OUT_BASE if split == "held-out" else 0)


def make_set(
    folder: Path, n: int, seed: int = 0, digits: tuple[int, int] = (1, 1), split: str = "dev"
) -> list[Sample]:
    """``n`` PNG images in ``folder``, each of ``digits`` (min, max) handwritten digits."""
    rng = np.random.default_rng(seed_of(split, seed))
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(n):
        length = int(rng.integers(digits[0], digits[1] + 1))
        label = "".join(str(d) for d in rng.integers(0, 10, size=length))
        if length == 1:
            label = str(i % 10)  # single digits: every class equally often
        image, conditions = make_sample(label, rng)
        path = folder / f"{split}-{i:05d}-{label}.png"
        image.save(path)
        samples.append(Sample(path=path, label=label, conditions=conditions))
    return samples
