"""How well and how fast `digitnet predict` reads users' images (issue 5). Not a test.

    python benchmarks/real_digits.py [--single 500] [--numbers 100] [--seed 1000]
                                     [--checkpoint CKPT] [--markdown]

1. Accuracy on digit images rendered by tests/render_digits.py (fonts shipped with
   matplotlib; varied size, position, rotation, stroke, polarity, paper, lighting,
   noise, JPEG, transparency; canvases up to 1200×900), read exactly as `predict`
   reads them (automatic segmentation), broken down by condition.
2. Speed on a 4000×3000 photo-sized image (JPEG and PNG): wall time of a whole
   `digitnet predict` process, from start to exit, beside the same command on a
   small image (the start-up cost), medians of several runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from render_digits import breakdown, fonts, make_set  # noqa: E402

from digitnet import checkpoint  # noqa: E402
from digitnet.errors import ImageError  # noqa: E402
from digitnet.images.reading import bundled_checkpoint, read_image  # noqa: E402


def accuracy(folder: Path, n: int, seed: int, digits: tuple[int, int], ckpt, markdown: bool):
    samples = make_set(folder, n, seed=seed, digits=digits)
    correct = []
    started = time.perf_counter()
    for sample in samples:
        try:
            number = read_image(sample.path, ckpt).number
        except ImageError:
            number = ""
        correct.append(number == sample.label)
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


def photo(path: Path, size: tuple[int, int], text: str) -> Path:
    """A photo-sized page: cream paper, a lamp's falloff, grain, a dark digit."""
    width, height = size
    rng = np.random.default_rng(0)
    xx = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    yy = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    light = 1.0 - 0.35 * (0.6 * xx + 0.4 * yy)
    paper = np.array([243, 234, 205], np.float32)
    rgb = paper * light[..., None]
    rgb += rng.normal(0, 4, (height, width, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    font = ImageFont.truetype(str(fonts()[0]), height // 3)
    ImageDraw.Draw(image).text((width // 3, height // 3), text, fill=(20, 20, 30), font=font)
    image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)
    return path


def wall_time(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def speed(folder: Path, checkpoint_path: Path, runs: int) -> None:
    small = photo(folder / "small.png", (120, 90), "7")
    print(f"\nspeed: median wall time of `digitnet predict IMAGE` over {runs} runs (start to exit)")
    base = [sys.executable, "-m", "digitnet", "predict", "--checkpoint", str(checkpoint_path)]
    reference = wall_time([*base, str(small)], runs)
    print(f"  {'120x90 PNG (start-up cost)':<28} {reference:.3f} s")
    for suffix in (".jpg", ".png"):
        big = photo(folder / f"big{suffix}", (4000, 3000), "2016")
        seconds = wall_time([*base, str(big)], runs)
        out = subprocess.run([*base, str(big)], capture_output=True, text=True).stdout.strip()
        print(
            f"  {'4000x3000 ' + suffix[1:].upper():<28} {seconds:.3f} s"
            f"  ({seconds / reference:.2f}x the small image; reads: {out.split(': ', 1)[1]})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    path = args.checkpoint or bundled_checkpoint()
    ckpt = checkpoint.load(path)
    print(f"checkpoint: {path}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.single:
            accuracy(folder / "single", args.single, args.seed, (1, 1), ckpt, args.markdown)
        if args.numbers:
            accuracy(folder / "numbers", args.numbers, args.seed + 1, (3, 6), ckpt, args.markdown)
        if args.runs:
            speed(folder, path, args.runs)


if __name__ == "__main__":
    main()
