"""Render photos of digits written on paper, from a seed (issue 11, item 6).

Used by tests/test_photos.py and benchmarks/photos_and_crops.py. Each photo is a sheet
seen by a phone camera: a sheet of paper (plain, ruled or squared, in several line
colours) or a sticky note, with a digit or a number written on it (the glyphs of
tests/render_digits.py, in pen colours), lying at an angle and in perspective on a
dark or light desk, with the sheet's edge in view, a soft shadow across it, uneven
light, sensor noise and JPEG compression. Every condition is recorded in
`Sample.conditions`.

Seeds: DEVELOPMENT_SEED is the set the photo path (digitnet/images/paper.py and
lines.py) was tuned on; HELD_OUT_SEED is only measured, never looked at to tune.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from render_digits import INKS, Sample, _gradient, _ink_mask, fonts

DEVELOPMENT_SEED = 7100
HELD_OUT_SEED = 9100
CANVAS = (800, 600)
SHEETS = ("plain", "ruled", "squared", "sticky")
DESKS = {  # name -> RGB, and how strong its grain is
    "dark wood": ((92, 62, 40), 10.0),
    "black": ((35, 35, 38), 6.0),
    "gray": ((120, 122, 125), 8.0),
    "light wood": ((196, 170, 130), 8.0),
    "white": ((215, 215, 212), 5.0),
}
RULES = {"blue": (120, 150, 210), "gray": (160, 160, 165), "red": (215, 120, 120)}
STICKY = {"yellow": (250, 235, 120), "pink": (250, 175, 200), "green": (190, 240, 170)}
PAPER = (246, 246, 242)
PENS = ("black", "blue")


def _rules(draw: ImageDraw.ImageDraw, size: tuple[int, int], kind: str, colour, gap: int):
    width, height = size
    line = max(1, round(gap / 14))
    for y in range(gap, height, gap):
        draw.line([(0, y), (width, y)], fill=colour, width=line)
    if kind == "squared":
        for x in range(gap, width, gap):
            draw.line([(x, 0), (x, height)], fill=colour, width=line)


def _sheet(rng: np.random.Generator, text: str, kind: str) -> tuple[Image.Image, dict]:
    """The flat sheet with the text written on it, and its conditions."""
    conditions: dict = {"sheet": kind}
    if kind == "sticky":
        side = int(rng.integers(220, 300))
        size = (side, side)
        name = str(rng.choice(list(STICKY)))
        colour = STICKY[name]
        conditions["paper"] = f"{name} sticky note"
    else:
        size = (int(rng.integers(380, 460)), int(rng.integers(300, 360)))
        colour = PAPER
        conditions["paper"] = "white"
    sheet = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(sheet)
    gap = int(rng.integers(24, 34))
    if kind in ("ruled", "squared"):
        rule = str(rng.choice(list(RULES)))
        _rules(draw, size, kind, RULES[rule], gap)
        conditions["rules"] = rule
    # The writing: 2-3 ruled lines tall on lined paper, most of a sticky note.
    if kind == "sticky":
        height = int(rng.uniform(0.45, 0.65) * size[1])
    else:
        height = int(rng.uniform(2.0, 3.2) * gap)
    if len(text) > 1:
        height = min(height, int(0.8 * size[0] / (len(text) * 0.75)))
    font = fonts()[rng.integers(len(fonts()))]
    stroke = int(rng.choice([1, 2, 3])) * max(1, height // 50)
    mask = _ink_mask(text, font, height, stroke, float(rng.uniform(0.05, 0.2)))
    mask = mask.rotate(float(rng.uniform(-8, 8)), Image.Resampling.BICUBIC, expand=True)
    # People write inside the sheet, not over its edge: a margin of 6 % of its side.
    # Writing that would not fit is written smaller (drawn past the edge, a digit
    # would be missing from the photo while still in the label).
    edge_x, edge_y = round(0.06 * size[0]), round(0.06 * size[1])
    fit = min(1.0, (size[0] - 2 * edge_x) / mask.width, (size[1] - 2 * edge_y) / mask.height)
    if fit < 1.0:
        mask = mask.resize(
            (max(1, int(mask.width * fit)), max(1, int(mask.height * fit))), Image.Resampling.BOX
        )
        height = round(height * fit)
    left = int(rng.integers(edge_x, max(edge_x + 1, size[0] - mask.width - edge_x)))
    top = int(rng.integers(edge_y, max(edge_y + 1, size[1] - mask.height - edge_y)))
    pen = str(rng.choice(PENS))
    sheet.paste(Image.new("RGB", mask.size, INKS[pen]), (left, top), mask)
    conditions.update(font=font.stem, height=height, pen=pen)
    return sheet, conditions


def _perspective(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Pillow's 8 PERSPECTIVE coefficients mapping output points `dst` to input `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def _placement(rng: np.random.Generator, size: tuple[int, int], kind: str):
    """Where the sheet's corners land in the photo: turned, tilted, all in view."""
    width, height = CANVAS
    scale = rng.uniform(0.9, 1.25) if kind == "sticky" else rng.uniform(1.05, 1.45)
    angle = math.radians(float(rng.uniform(-25, 25)))
    w, h = size[0] * scale, size[1] * scale
    corners = np.array([(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    corners = corners @ rotation.T
    # Perspective: the far edge (top) shrinks towards the middle.
    tilt = float(rng.uniform(0.0, 0.18))
    corners[:2, 0] *= 1 - tilt
    corners += rng.normal(0, 6, corners.shape)
    span = corners.max(axis=0) - corners.min(axis=0)
    fit = min(1.0, 0.94 * width / span[0], 0.94 * height / span[1])
    corners *= fit
    low, high = -corners.min(axis=0) + 10, np.array(CANVAS) - corners.max(axis=0) - 10
    centre = rng.uniform(np.minimum(low, high), np.maximum(low, high))
    return [tuple(p) for p in (corners + centre)], round(math.degrees(angle)), round(tilt, 2)


def render_photo(
    rng: np.random.Generator,
    text: str,
    out: Path,
    index: int,
    sheet_kind: str | None = None,
    desk: str | None = None,
) -> Sample:
    """One photo of `text` written on a sheet; `sheet_kind` and `desk` fix those two."""
    kind = str(rng.choice(SHEETS))
    kind = sheet_kind or kind
    sheet, conditions = _sheet(rng, text, kind)
    desk_name = str(rng.choice(list(DESKS)))
    desk_name = desk or desk_name
    desk_rgb, grain = DESKS[desk_name]
    width, height = CANVAS
    surface = np.array(desk_rgb, np.float32)
    surface = surface + rng.normal(0, grain, (height, width, 1)).astype(np.float32)
    photo = Image.fromarray(np.clip(surface, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(1.5)
    )
    quad, angle, tilt = _placement(rng, sheet.size, kind)
    src = [(0, 0), (sheet.width, 0), (sheet.width, sheet.height), (0, sheet.height)]
    coefficients = _perspective(src, quad)
    warped = sheet.transform(CANVAS, Image.Transform.PERSPECTIVE, coefficients, Image.BICUBIC)
    cover = Image.new("L", sheet.size, 255).transform(
        CANVAS, Image.Transform.PERSPECTIVE, coefficients, Image.BICUBIC
    )
    photo.paste(warped, (0, 0), cover)
    rgb = np.asarray(photo, np.float32)
    # Uneven light, and a soft shadow (a hand or the phone) over part of the scene.
    light = _gradient(rng, (height, width), float(rng.uniform(0.1, 0.45)))
    shadow = float(rng.choice([0.0, rng.uniform(0.15, 0.4)]))
    if shadow:
        mask = Image.new("L", CANVAS, 0)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.3, 0.6) * width
        points = [
            (cx + r * math.cos(t) * rng.uniform(0.6, 1.0), cy + r * math.sin(t) * 0.7)
            for t in np.linspace(0, 2 * math.pi, 9)[:-1]
        ]
        ImageDraw.Draw(mask).polygon(points, fill=255)
        soft = np.asarray(mask.filter(ImageFilter.GaussianBlur(40)), np.float32) / 255
        light = light * (1 - shadow * soft)
    rgb = rgb * light[..., None]
    rgb += rng.normal(0, float(rng.uniform(2, 6)), rgb.shape).astype(np.float32)
    image = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8))
    path = out / f"{index:05d}_{text}.jpg"
    quality = int(rng.integers(60, 95))
    image.save(path, quality=quality)
    conditions.update(
        desk=desk_name,
        desk_tone="dark" if sum(desk_rgb) < 3 * 150 else "light",
        angle=angle,
        tilt=tilt,
        shadow=round(shadow, 2),
        jpeg=quality,
        corners=[(round(x), round(y)) for x, y in quad],
    )
    return Sample(path, text, conditions)


def make_photos(
    out: Path, n: int, seed: int = DEVELOPMENT_SEED, digits: tuple[int, int] = (1, 1)
) -> list[Sample]:
    """`n` photos in `out`; single digits cycle through 0-9, numbers are random."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        count = int(rng.integers(digits[0], digits[1] + 1))
        drawn = [i % 10] if count == 1 else rng.integers(0, 10, count).tolist()
        samples.append(render_photo(rng, "".join(str(d) for d in drawn), out, i))
    return samples


def photo_breakdown(
    samples: list[Sample], correct: list[bool]
) -> dict[str, dict[str, tuple[int, int]]]:
    """condition -> value -> (correct, total) for sheet, paper, rules, desk and shadow."""
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for sample, ok in zip(samples, correct, strict=True):
        c = sample.conditions
        buckets = {
            "sheet": c["sheet"],
            "rules": c.get("rules", "none"),
            "desk": c["desk_tone"],
            "shadow": "shadow" if c["shadow"] else "none",
            "pen": c["pen"],
        }
        for key, value in buckets.items():
            right, total = table.setdefault(key, {}).get(value, (0, 0))
            table[key][value] = (right + int(ok), total + 1)
    return table
