"""Why the bundled model misreads numbers: each miss on development sets, by cause.

    python benchmarks/number_misses.py [--rendered 1003 1008 1009] [--hand 1003 1008 1009]
        [--numbers 100] [--show]

Development data only (the measured sets, rendered seeds 1000/1001 and the handwriting
held-out split, are never read here). Each number is read exactly as `digitnet predict`
reads a file (`images.preprocess.to_mnist_digits_boxed` after `decode.load_for_prediction`,
then the bundled model). The generators are run with their own random draws, but each
digit's own coverage is recorded on the way, so every region the reader found can be
matched with the digits really there:

* ``merged``: a region holding most of two or more digits (count too low);
* ``split``: one digit's ink spread over two or more regions (count too high);
* ``lost``: a digit no region holds (count too low);
* ``noise``: a region holding no digit's ink (count too high);
* ``misread``: the count is right, but a digit is read as another. Each such digit is
  also cut out alone (its true box and a margin of half its height, the other digits'
  ink painted over with the paper) and read as one digit: ``misread, alone right``
  means the crop or fit inside the number is what went wrong; ``misread, alone wrong``
  means the network misreads that digit however it is cut.

Each miss is counted under one cause, checked in this order: ``noise`` when there are
more regions than digits and one of them holds (almost) none of any digit's ink, then
``merged``, ``split`` or ``lost``, ``noise`` (more regions than digits otherwise),
``other count``, and ``misread`` last.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import handwriting  # noqa: E402
import render_digits  # noqa: E402

from digitnet import checkpoint  # noqa: E402
from digitnet.errors import ImageError  # noqa: E402
from digitnet.images import preprocess  # noqa: E402
from digitnet.images.decode import load_for_prediction  # noqa: E402
from digitnet.images.reading import bundled_checkpoint, read_inputs  # noqa: E402
from digitnet.vocabulary import N_INPUTS  # noqa: E402

# The measured sets; this script refuses them.
MEASURED_RENDERED = {1000, 1001}


@dataclass
class Truth:
    """A number image and each of its digits' coverage (image coordinates, [0, 1])."""

    path: Path
    label: str
    covers: list[np.ndarray]  # one (h, w) float32 per digit, left to right
    conditions: dict[str, Any]


class _Recorder:
    """A numpy Generator that remembers what its ``integers`` and ``uniform`` calls returned."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.integers_out: list[Any] = []
        self.uniform_out: list[Any] = []

    def integers(self, *args: Any, **kwargs: Any) -> Any:
        out = self._rng.integers(*args, **kwargs)
        self.integers_out.append(out)
        return out

    def uniform(self, *args: Any, **kwargs: Any) -> Any:
        out = self._rng.uniform(*args, **kwargs)
        self.uniform_out.append(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rng, name)


def _digit_masks(text: str, font_path: Path, height: int, stroke: int, spacing: float) -> list:
    """`render_digits._ink_mask` drawn once per digit, each cropped to the whole text's box."""
    layout = render_digits.layout_text(text, font_path, height, spacing)
    canvases = [Image.new("L", layout.size, 0) for _ in text]
    whole = Image.new("L", layout.size, 0)  # as `_ink_mask` draws it: its box is the crop
    for k, (char, origin) in enumerate(zip(text, layout.origins, strict=True)):
        for canvas in (canvases[k], whole):
            ImageDraw.Draw(canvas).text(
                origin, char, fill=255, font=layout.font, stroke_width=stroke, stroke_fill=255
            )
    bbox = whole.getbbox()
    return [c.crop(bbox) for c in canvases]


def rendered_numbers(folder: Path, n: int, seed: int) -> list[Truth]:
    """`render_digits.make_set(..., digits=(3, 6))`, with each digit's coverage."""
    if seed in MEASURED_RENDERED:
        raise SystemExit(f"seed {seed} is a measured set: use development seeds")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truths = []
    for _ in range(n):
        count = int(rng.integers(3, 7))
        text = "".join(str(d) for d in rng.integers(0, 10, count).tolist())
        calls: list[tuple] = []
        real = render_digits._ink_mask

        def spy(*args: Any, _real: Any = real, _calls: list = calls) -> Any:
            _calls.append(args)
            return _real(*args)

        recorder = _Recorder(rng)
        with mock.patch.object(render_digits, "_ink_mask", spy):
            sample = render_digits.render(recorder, text, folder)  # type: ignore[arg-type]
        _, font_path, height, stroke, spacing = calls[0]
        left, top = int(recorder.integers_out[1]), int(recorder.integers_out[2])
        rotation = float(recorder.uniform_out[2])  # canvas width, height, then the angle
        cw, ch = (int(v) for v in sample.conditions["canvas"].split("x"))
        covers = []
        for mask in _digit_masks(text, font_path, height, stroke, spacing):
            turned = mask.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
            cover = np.zeros((ch, cw), np.float32)
            cover[top : top + turned.height, left : left + turned.width] = (
                np.asarray(turned) / 255.0
            )
            covers.append(cover)
        truths.append(Truth(sample.path, text, covers, sample.conditions))
    return truths


def hand_numbers(folder: Path, n: int, seed: int) -> list[Truth]:
    """`handwriting.make_set(..., digits=(3, 6), split="dev")`, with each digit's coverage."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(handwriting.seed_of("dev", seed))
    truths = []
    real_paste = Image.Image.paste
    for i in range(n):
        length = int(rng.integers(3, 7))
        label = "".join(str(d) for d in rng.integers(0, 10, size=length))
        pasted: list[tuple[np.ndarray, tuple[int, int]]] = []

        def spy(
            self: Image.Image, im: Any, box: Any = None, mask: Any = None, _into: list = pasted
        ) -> None:
            if isinstance(im, Image.Image) and mask is im:
                _into.append((np.asarray(im, np.float32) / 255.0, box))
            real_paste(self, im, box, mask)

        with mock.patch.object(Image.Image, "paste", spy):
            image, conditions = handwriting.make_sample(label, rng)
        path = folder / f"dev-{i:05d}-{label}.png"
        image.save(path)
        covers = []
        for coverage, (x, y) in pasted:
            cover = np.zeros((image.height, image.width), np.float32)
            h = min(coverage.shape[0], image.height - y)
            cover[y : y + h, x : x + coverage.shape[1]] = coverage[:h]
            covers.append(cover)
        truths.append(Truth(path, label, covers, conditions))
    return truths


def _owners(truth: Truth, region: Any, scale: float) -> np.ndarray:
    """Each digit's ink inside `region` (image coordinates after `scale`) / its total ink."""
    rows = slice(int(region.top / scale), int(np.ceil(region.bottom / scale)))
    cols = slice(int(region.left / scale), int(np.ceil(region.right / scale)))
    return np.array([c[rows, cols].sum() / max(c.sum(), 1e-6) for c in truth.covers])


def _alone(truth: Truth, k: int) -> Image.Image:
    """Digit k cut out of the number: its box plus half its height, others painted over."""
    image = np.asarray(Image.open(truth.path).convert("RGBA"), dtype=np.float32)
    cover = truth.covers[k]
    others = np.max([c for j, c in enumerate(truth.covers) if j != k], axis=0) > 0.01
    # JPEG ringing and blur spread the other digits' ink a little: paint 3 px beyond it.
    for axis in (0, 1):
        others = others | np.roll(others, 1, axis) | np.roll(others, -1, axis)
        others = others | np.roll(others, 2, axis) | np.roll(others, -2, axis)
    rows, cols = np.flatnonzero(cover.max(axis=1) > 0.05), np.flatnonzero(cover.max(axis=0) > 0.05)
    margin = max(3, (rows[-1] - rows[0]) // 2)
    top, bottom = max(0, rows[0] - margin), rows[-1] + 1 + margin
    left, right = max(0, cols[0] - margin), cols[-1] + 1 + margin
    inked = np.max(truth.covers, axis=0) > 0.01
    paper = np.median(image[~inked], axis=0) if (~inked).any() else np.full(4, 255.0)
    painted = image.copy()
    painted[others & (cover < 0.05)] = paper
    crop = painted[top:bottom, left:right]
    return Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8), "RGBA")


def classify(truth: Truth, ckpt: checkpoint.Checkpoint) -> tuple[str, str]:
    """(cause, what was read) for one number; cause "right" when it was read right."""
    loaded = Image.open(truth.path)
    image = load_for_prediction(truth.path)
    scale = image.width / loaded.width
    try:
        digits, regions = preprocess.to_mnist_digits_boxed(image, str(truth.path))
    except ImageError:
        return "lost", "(refused)"
    inputs = np.stack(digits).reshape(len(digits), N_INPUTS)
    read = read_inputs(inputs, ckpt).number
    if read == truth.label:
        return "right", read
    shares = np.array([_owners(truth, r, scale) for r in regions])  # (regions, digits)
    if shares.size and shares.max(axis=1).min() < 0.05 and len(regions) > len(truth.label):
        return "noise", read
    held = shares >= 0.5
    if (held.sum(axis=1) >= 2).any():
        return "merged", read
    if (shares.max(axis=0) < 0.5).any():
        if ((shares > 0.1).sum(axis=0) >= 2).any():
            return "split", read
        return "lost", read
    if len(regions) > len(truth.label):
        return "noise", read
    if len(read) != len(truth.label):
        return "other count", read
    alone_right = True
    for k, (got, want) in enumerate(zip(read, truth.label, strict=True)):
        if got != want:
            alone = preprocess.picture_to_inputs(_alone(truth, k), single=True)
            alone_right &= read_inputs(alone, ckpt).number == want
    return ("misread, alone right" if alone_right else "misread, alone wrong"), read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=int, nargs="*", default=[1003, 1008, 1009])
    parser.add_argument("--hand", type=int, nargs="*", default=[1003, 1008, 1009])
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument("--checkpoint", type=Path, default=bundled_checkpoint())
    parser.add_argument("--show", action="store_true", help="list every miss")
    parser.add_argument("--keep", type=Path, help="write the images here instead of a temp dir")
    args = parser.parse_args()
    ckpt = checkpoint.load(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        for kind, seeds, make in (
            ("rendered", args.rendered, rendered_numbers),
            ("hand-dev", args.hand, hand_numbers),
        ):
            causes: Counter[str] = Counter()
            for seed in seeds:
                for truth in make(folder / f"{kind}-{seed}", args.numbers, seed):
                    cause, read = classify(truth, ckpt)
                    causes[cause] += 1
                    if args.show and cause != "right":
                        print(f"  {kind} {seed} {truth.path.name}: read {read} ({cause})")
            total = sum(causes.values())
            summary = ", ".join(f"{c} {n}" for c, n in causes.most_common())
            print(f"{kind} seeds {seeds}: {causes['right']}/{total} right; {summary}", flush=True)


if __name__ == "__main__":
    main()
