"""Render digit images the way users' photos, scans and drawings look, from a seed.

Used by tests/test_real_digits.py and benchmarks/real_digits.py. Only fonts that ship
inside an installed package are used (matplotlib's DejaVu, STIX and Computer Modern
TrueType files), so the set is the same on a fresh machine and nothing is committed.

Each image draws its conditions independently, so accuracy can be broken down by any
one of them: font, digit height, canvas size, rotation, stroke, polarity, paper and
ink colour, lighting gradient, noise, JPEG quality and transparency. Every condition
is recorded in `Sample.conditions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from handwriting import VISIBLE_LEVELS, box_of
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# Text fonts whose digits are ordinary Arabic numerals (the STIX "NonUni"/size
# variants and cmex/cmsy hold symbols, not digits).
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
)
MAX_CANVAS = (1200, 900)
MIN_CANVAS = 40
PAPERS = {  # name -> RGB of the paper
    "white": (250, 250, 250),
    "cream": (243, 234, 205),
    "gray": (200, 200, 198),
    "blue": (205, 222, 240),
    "yellow": (250, 240, 150),
}
INKS = {
    "black": (10, 10, 10),
    "blue": (20, 40, 140),
    "pencil": (110, 110, 115),
    "red": (170, 25, 30),
}


@dataclass
class Sample:
    path: Path
    label: str  # the digits drawn, e.g. "7" or "2016"
    conditions: dict[str, Any] = field(default_factory=dict)


def fonts() -> list[Path]:
    found = [FONT_DIR / name for name in FONT_FILES if (FONT_DIR / name).exists()]
    if not found:  # pragma: no cover - matplotlib always ships DejaVuSans
        raise FileNotFoundError(f"no fonts in {FONT_DIR}")
    return found


@dataclass(frozen=True)
class TextLayout:
    """Where `text`'s digits go on a canvas of `size`, in `font`, before cropping."""

    font: ImageFont.FreeTypeFont
    size: tuple[int, int]  # (width, height) of the canvas
    origins: list[tuple[int, int]]  # each digit's (x, y) for ImageDraw.text


def layout_text(text: str, font_path: Path, height: int, spacing: float) -> TextLayout:
    """The font size that makes digits `height` px tall, and each digit's place."""
    # Digit height is about 0.73 em in these fonts; measure it instead of assuming.
    probe = ImageFont.truetype(str(font_path), 100)
    box = probe.getbbox("0123456789")
    em = max(4, round(100 * height / max(1, box[3] - box[1])))
    font = ImageFont.truetype(str(font_path), em)
    gap = round(spacing * em)
    widths = [font.getlength(c) for c in text]
    width = int(sum(widths) + gap * (len(text) - 1) + 2 * em)
    origins, x = [], em // 2
    for advance in widths:
        origins.append((x, em))
        x += int(advance) + gap
    return TextLayout(font, (width, 3 * em), origins)


def _ink_mask(text: str, font_path: Path, height: int, stroke: int, spacing: float) -> Image.Image:
    """White-on-black coverage mask of `text`, tightly cropped, digits `height` px tall."""
    layout = layout_text(text, font_path, height, spacing)
    canvas = Image.new("L", layout.size, 0)
    draw = ImageDraw.Draw(canvas)
    for char, origin in zip(text, layout.origins, strict=True):
        draw.text(origin, char, fill=255, font=layout.font, stroke_width=stroke, stroke_fill=255)
    bbox = canvas.getbbox()
    assert bbox is not None
    return canvas.crop(bbox)


def _gradient(rng: np.random.Generator, shape: tuple[int, int], strength: float) -> np.ndarray:
    """Multiplicative light falloff: a linear ramp in a random direction, maybe a vignette."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / max(1, h - 1), xx / max(1, w - 1)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    light = 1.0 - strength * ramp
    if rng.random() < 0.5:  # vignette: darker corners, as under a desk lamp
        r2 = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2
        light *= 1.0 - 0.5 * strength * r2
    return light.astype(np.float32)


def render(rng: np.random.Generator, text: str, out: Path) -> Sample:
    """Render `text` (one or more digits) with random conditions and save it under `out`."""
    font = fonts()[rng.integers(len(fonts()))]
    multi = len(text) > 1
    min_width = MIN_CANVAS * (3 if multi else 1)
    cw = int(np.exp(rng.uniform(math.log(min_width), math.log(MAX_CANVAS[0]))))
    ch = int(np.exp(rng.uniform(math.log(MIN_CANVAS), math.log(MAX_CANVAS[1]))))
    rotation = float(rng.uniform(-5, 5) if multi else rng.uniform(-20, 20))
    # The digit's height: from 14 px up to most of the canvas (that fits, after rotation).
    spacing = float(rng.uniform(0.05, 0.2))
    max_height = int(0.85 * ch)
    if multi:  # the whole number must fit the width too (a digit is ~0.6 of its height)
        max_height = min(max_height, int(0.85 * cw / (len(text) * (0.65 + spacing))))
    max_height = max(max_height, 14)
    height = int(np.exp(rng.uniform(math.log(14), math.log(max_height + 1))))
    stroke = int(rng.choice([0, 0, 1, 2])) * max(1, height // 40)
    mask = _ink_mask(text, font, height, stroke, spacing)
    mask = mask.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    cw, ch = max(cw, mask.width + 4), max(ch, mask.height + 4)  # never crop the digit
    left = int(rng.integers(0, cw - mask.width + 1))
    top = int(rng.integers(0, ch - mask.height + 1))
    cover = np.zeros((ch, cw), dtype=np.float32)
    cover[top : top + mask.height, left : left + mask.width] = np.asarray(mask) / 255.0

    light_on_dark = bool(rng.random() < 0.2)
    paper_name = str(rng.choice(list(PAPERS)))
    ink_name = str(rng.choice(list(INKS)))
    paper = np.array(PAPERS[paper_name], np.float32)
    ink = np.array(INKS[ink_name], np.float32)
    if light_on_dark:  # chalk on a blackboard, a screenshot of a dark theme
        paper, ink = 255.0 - paper * 0.85, np.array([235, 235, 235], np.float32)
    gradient = float(rng.choice([0.0, rng.uniform(0.1, 0.6)]))
    noise = float(rng.choice([0.0, rng.uniform(2.0, 14.0)]))
    transparent = bool(not light_on_dark and rng.random() < 0.15)
    fmt = "png" if transparent else str(rng.choice(["png", "jpeg"]))
    quality = int(rng.integers(30, 96)) if fmt == "jpeg" else 0

    light = _gradient(rng, (ch, cw), gradient) if gradient else None
    c = cover[..., None]
    rgb = paper * (1 - c) + ink * c
    if light is not None:
        rgb *= light[..., None]
    if noise:
        rgb += rng.normal(0.0, noise, rgb.shape).astype(np.float32)
    rgb8 = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    if transparent:  # ink opaque, paper fully transparent (and black underneath)
        alpha = np.round(cover * 255).astype(np.uint8)
        rgba = np.zeros((ch, cw, 4), np.uint8)
        rgba[..., :3] = np.round(ink).astype(np.uint8)
        rgba[..., 3] = alpha
        image = Image.fromarray(rgba)
    else:
        image = Image.fromarray(rgb8)
    path = out / f"{len(list(out.iterdir())):05d}_{text}.{'jpg' if fmt == 'jpeg' else 'png'}"
    if fmt == "jpeg":
        image.save(path, quality=quality)
    else:
        image.save(path)
    conditions = {
        "font": font.stem,
        "height": height,
        "canvas": f"{cw}x{ch}",
        "canvas_pixels": cw * ch,
        "rotation": round(rotation, 1),
        "stroke": stroke,
        "polarity": "light-on-dark" if light_on_dark else "dark-on-light",
        "paper": "transparent" if transparent else paper_name,
        "ink": ink_name if not light_on_dark else "white",
        "gradient": round(gradient, 2),
        "noise": round(noise, 1),
        "format": f"jpeg q{quality}" if fmt == "jpeg" else ("png+alpha" if transparent else "png"),
        "ink_box": visible_ink_box(cover, ink, paper, light, transparent),
    }
    return Sample(path, text, conditions)


def _luma(rgb: np.ndarray) -> float:
    """ITU-R 601 luminance, as Pillow's ``convert("L")``."""
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def visible_ink_box(
    cover: np.ndarray,
    ink: np.ndarray,
    paper: np.ndarray,
    light: np.ndarray | None,
    transparent: bool,
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), half-open, of the pixels that show ink, the "ink box"
    tests/tight_crops.py cuts to: the drawn image (before noise and JPEG, which are not
    ink) differs there from the bare paper under the same light by at least
    `handwriting.VISIBLE_LEVELS` gray levels; on a transparent image, the ink's own
    opacity reaches that many levels."""
    if transparent:
        contrast = cover * 255.0
    else:
        contrast = cover * abs(_luma(ink) - _luma(paper))
        if light is not None:
            contrast = contrast * light
    return box_of(contrast >= VISIBLE_LEVELS)


def make_set(out: Path, n: int, seed: int = 0, digits: tuple[int, int] = (1, 1)) -> list[Sample]:
    """`n` images in `out`: each a random number of `digits[0]..digits[1]` digits.

    Single digits cycle through 0-9 so every class is equally represented.
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        count = int(rng.integers(digits[0], digits[1] + 1))
        digits_drawn = [i % 10] if count == 1 else rng.integers(0, 10, count).tolist()
        text = "".join(str(d) for d in digits_drawn)
        samples.append(render(rng, text, out))
    return samples


def breakdown(samples: list[Sample], correct: list[bool]) -> dict[str, dict[str, tuple[int, int]]]:
    """condition -> bucket -> (correct, total), with numeric conditions in coarse buckets."""
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for sample, ok in zip(samples, correct, strict=True):
        for key, value in _buckets(sample).items():
            right, total = table.setdefault(key, {}).get(value, (0, 0))
            table[key][value] = (right + int(ok), total + 1)
    return table


def _buckets(sample: Sample) -> dict[str, str]:
    c = sample.conditions
    height = c["height"]
    pixels = c["canvas_pixels"]
    fmt = c["format"]
    if fmt.startswith("jpeg"):
        fmt = "jpeg q30-59" if int(fmt[6:]) < 60 else "jpeg q60-95"
    return {
        "digit": sample.label if len(sample.label) == 1 else f"{len(sample.label)} digits",
        "font": c["font"],
        "digit height": "14-27 px" if height < 28 else ("28-99 px" if height < 100 else "100+ px"),
        "canvas": "< 0.1 MP" if pixels < 1e5 else ("0.1-0.5 MP" if pixels < 5e5 else "0.5-1.1 MP"),
        "rotation": "|r| < 10°" if abs(c["rotation"]) < 10 else "10-20°",
        "stroke": "font's own" if c["stroke"] == 0 else "thickened",
        "polarity": c["polarity"],
        "paper": c["paper"],
        "ink": c["ink"],
        "lighting gradient": "none" if c["gradient"] == 0 else "10-60 %",
        "noise": "none" if c["noise"] == 0 else "σ 2-14 gray levels",
        "format": fmt,
    }
