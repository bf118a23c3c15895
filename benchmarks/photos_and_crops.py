"""Rendered digits by condition, tight crops and photos of paper: how well and how fast
`digitnet predict` reads them with one model (the bundled one, or --checkpoint). Not a test.

    python benchmarks/photos_and_crops.py [--single 500] [--numbers 100] [--seed 1000]
                                     [--photos 200] [--photo-numbers 50]
                                     [--mnist DIR] [--checkpoint CKPT] [--markdown]

1. Accuracy on digit images rendered by tests/render_digits.py (fonts shipped with
   matplotlib; varied size, position, rotation, stroke, polarity, paper, lighting,
   noise, JPEG, transparency; canvases up to 1200×900), read exactly as `predict`
   reads them (automatic segmentation), broken down by condition.
2. Speed on a 4000×3000 photo-sized image (JPEG and PNG): wall time of a whole
   `digitnet predict` process, from start to exit, beside the same command on a
   small image (the start-up cost), medians of several runs.
3. Tight crops (issue 11): each rendered set again, and the handwriting generator's
   held-out single digits (tests/handwriting.py, the set benchmarks/real_digits.py
   reads), every image cut to its ink box and to a pixel inside it
   (tests/tight_crops.py), and MNIST test digits (with --mnist or $DIGITNET_TEST_MNIST)
   with their margin, cut to the ink box and inset. The generated sets twice: to the
   box of the ink a person sees (the generator's), and to the box of `predict`'s ink mask.
4. Photos of written paper (issue 11, tests/render_photos.py): sheets on desks, ruled
   and squared paper, sticky notes; the development seed (tuned on) and the held-out
   seed (only measured), single digits and numbers, broken down by condition.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import handwriting  # noqa: E402
from render_digits import breakdown, make_set  # noqa: E402
from render_photos import (  # noqa: E402
    DEVELOPMENT_SEED,
    HELD_OUT_SEED,
    make_photos,
    photo_breakdown,
)
from tight_crops import tight_copies  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from real_digits import speed  # noqa: E402  (one predict-speed measurement for both)

from digitnet import checkpoint  # noqa: E402
from digitnet.data.idx import read_idx  # noqa: E402
from digitnet.errors import ImageError  # noqa: E402
from digitnet.images.reading import bundled_checkpoint, read_image  # noqa: E402


def read_right(paths: list[Path], labels: list[str], ckpt) -> list[bool]:
    """Whether `predict` reads each image as its label (a refusal counts as wrong)."""
    correct = []
    for path, label in zip(paths, labels, strict=True):
        try:
            number = read_image(path, ckpt).number
        except ImageError:
            number = ""
        correct.append(number == label)
    return correct


def accuracy(folder: Path, n: int, seed: int, digits: tuple[int, int], ckpt, markdown: bool):
    samples = make_set(folder, n, seed=seed, digits=digits)
    started = time.perf_counter()
    correct = read_right([s.path for s in samples], [s.label for s in samples], ckpt)
    seconds = time.perf_counter() - started
    kind = "single digits" if digits == (1, 1) else f"numbers of {digits[0]}-{digits[1]} digits"
    print(
        f"\n{kind}: {sum(correct)}/{len(correct)} read right ({np.mean(correct):.1%}),"
        f" seed {seed}, {seconds / len(correct) * 1000:.0f} ms per image in-process"
    )
    table = breakdown(samples, correct)
    if markdown:
        print("\n| condition | value: right/total (%) |\n|---|---|")
    for condition, buckets in table.items():
        if condition == "digit" and digits != (1, 1):
            continue
        cells = ", ".join(f"{k} {r}/{t} ({r / t:.0%})" for k, (r, t) in sorted(buckets.items()))
        print(f"| {condition} | {cells} |" if markdown else f"  {condition:<18} {cells}")
    return samples, correct


def tight_rows(
    name: str, paths: list[Path], labels: list[str], folder: Path, ckpt, boxes=None
) -> None:
    """The same images with their margin, cut to the ink box, and a pixel inside it
    (the box given in `boxes`, else the box of `predict`'s ink mask)."""
    margin = np.mean(read_right(paths, labels, ckpt))
    tight = np.mean(read_right(tight_copies(paths, folder / "tight", 0, boxes), labels, ckpt))
    inset = np.mean(read_right(tight_copies(paths, folder / "inset", 1, boxes), labels, ckpt))
    print(
        f"  {name:<34} margin {margin:.1%}, ink box {tight:.1%} ({(tight - margin) * 100:+.1f}"
        f" points), a pixel inside {inset:.1%} ({(inset - margin) * 100:+.1f} points)"
    )


def mnist_tight(folder: Path, mnist: Path, start: int, count: int, ckpt) -> None:
    """MNIST test digits as PNG: with their 28×28 margin, cut to the ink box, inset."""
    images = read_idx(mnist / "t10k-images-idx3-ubyte.gz")[start : start + count]
    labels = [str(y) for y in read_idx(mnist / "t10k-labels-idx1-ubyte.gz")[start : start + count]]
    sets: dict[str, list[Path]] = {"margin": [], "tight": [], "inset": []}
    for kind in sets:
        (folder / kind).mkdir(parents=True)
    for i, image in enumerate(images):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        box = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        for kind, pixels in (("margin", image), ("tight", box), ("inset", box[1:-1, 1:-1])):
            Image.fromarray(pixels).save(folder / kind / f"{i}.png")
            sets[kind].append(folder / kind / f"{i}.png")
    margin, tight, inset = (np.mean(read_right(sets[k], labels, ckpt)) for k in sets)
    print(
        f"  {'MNIST test ' + str(start) + '-' + str(start + count - 1):<34} margin {margin:.1%},"
        f" ink box {tight:.1%} ({(tight - margin) * 100:+.1f} points), a pixel inside"
        f" {inset:.1%} ({(inset - margin) * 100:+.1f} points)"
    )


def photos(
    folder: Path, n: int, seed: int, digits: tuple[int, int], ckpt, markdown: bool, part: str
):
    """Photos of paper: how many the model reads, by sheet, rules, desk, shadow, pen."""
    samples = make_photos(folder, n, seed=seed, digits=digits)
    started = time.perf_counter()
    correct = read_right([s.path for s in samples], [s.label for s in samples], ckpt)
    seconds = time.perf_counter() - started
    kind = "single digits" if digits == (1, 1) else f"numbers of {digits[0]}-{digits[1]} digits"
    print(
        f"\nphotos of paper, {part} (seed {seed}), {kind}: {sum(correct)}/{len(correct)} read"
        f" right ({np.mean(correct):.1%}), {seconds / len(correct) * 1000:.0f} ms per photo"
    )
    if markdown:
        print("\n| condition | value: right/total |\n|---|---|")
    for condition, buckets in photo_breakdown(samples, correct).items():
        cells = ", ".join(f"{k} {r}/{t}" for k, (r, t) in sorted(buckets.items()))
        print(f"| {condition} | {cells} |" if markdown else f"  {condition:<18} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument(
        "--handwriting", type=int, default=500, help="held-out handwritten digits to crop"
    )
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--photos", type=int, default=200, help="single-digit photos per part")
    parser.add_argument("--photo-numbers", type=int, default=50, help="number photos per part")
    parser.add_argument("--mnist", type=Path, default=os.environ.get("DIGITNET_TEST_MNIST"))
    parser.add_argument("--mnist-digits", type=int, default=1000)
    args = parser.parse_args()
    path = args.checkpoint or bundled_checkpoint()
    ckpt = checkpoint.load(path)
    print(f"checkpoint: {path}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rendered = []
        if args.single:
            made = accuracy(folder / "single", args.single, args.seed, (1, 1), ckpt, args.markdown)
            rendered.append(("rendered single digits", folder / "single", made[0]))
        if args.numbers:
            made = accuracy(
                folder / "numbers", args.numbers, args.seed + 1, (3, 6), ckpt, args.markdown
            )
            rendered.append(("rendered numbers", folder / "numbers", made[0]))
        if args.handwriting:
            where = folder / "handwriting"
            made_by_hand = handwriting.make_set(
                where, args.handwriting, seed=args.seed, split="held-out"
            )
            rendered.append(("handwriting held-out single digits", where, made_by_hand))
        if rendered or args.mnist:
            print("\ntight crops (issue 11): the same images cut to their ink box, and inset")
        for name, where, samples in rendered:
            paths, labels = [s.path for s in samples], [s.label for s in samples]
            crops = where.with_name(where.name + "-crops")
            if "ink_box" in samples[0].conditions:
                # The box of the ink a person sees (the generator's), and beside it
                # the box of `predict`'s ink mask, which can cut faint strokes.
                boxes = [s.conditions["ink_box"] for s in samples]
                tight_rows(name + ", visible ink", paths, labels, crops / "visible", ckpt, boxes)
                name += ", mask box"
            tight_rows(name, paths, labels, crops, ckpt)
        if args.mnist:
            mnist_tight(folder / "mnist", Path(args.mnist), 1000, args.mnist_digits, ckpt)
        for part, seed in (("development", DEVELOPMENT_SEED), ("held-out", HELD_OUT_SEED)):
            if args.photos:
                where = folder / f"photos-{seed}"
                photos(where, args.photos, seed, (1, 1), ckpt, args.markdown, part)
            if args.photo_numbers:
                where = folder / f"photo-numbers-{seed}"
                photos(where, args.photo_numbers, seed + 1, (3, 5), ckpt, args.markdown, part)
        if args.runs:
            speed(folder, path, args.runs)


if __name__ == "__main__":
    main()
