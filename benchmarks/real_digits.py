"""How well each model reads users' digits, and whether its confidences can be trusted.

    python benchmarks/real_digits.py [--default CKPT] [--best CKPT] [--model NAME=CKPT ...]
        [--data-dir MNIST] [--single 500] [--numbers 100] [--runs 5] [--markdown]

Models: the bundled one (always), and the checkpoints passed (``--default`` and
``--best``: trained by ``digitnet train --config configs/default.yaml`` /
``configs/best.yaml``; any other as ``--model NAME=PATH``).

Sets, each read exactly as `digitnet predict` reads a file (preprocess.image_to_inputs,
automatic segmentation), single digits and numbers of 3-6 digits:

* ``rendered``: the project's real-looking digits (tests/render_digits.py: fonts that
  ship with matplotlib, photo, scan and drawing conditions), seeds 1000/1001;
* ``hand-dev``: handwriting-like digits (tests/handwriting.py), development split;
* ``hand-held-out``: the same generator's held-out split, which no recipe is tuned on;
* ``mnist-test``: the 10,000 MNIST test images as arrays (with ``--data-dir``).

For each model and set: the share read right (a number counts when every digit is
right; an image refused as holding no digit counts as wrong), and the expected
calibration error (report.calibration: 15 bins of the confidence `predict` shows, the
weakest digit's for a number) at T = 1 ("ECE raw") and at the model's stored
temperature ("ECE"). Below the table, each set's ECE floor for the bundled model: the
ECE a perfectly calibrated reader with the same confidences would show on a set of this
size (each answer right with the probability it claims; mean of 200 seeded draws), i.e.
the sampling noise of the figure. Preprocessing is done once per set and shared by the
models.
With ``--breakdown``, the bundled model's results on the rendered sets by condition.
Then, for the bundled model, the wall time of a whole `digitnet predict` process on a
small image (the start-up cost) and on 4000×3000 JPEG and PNG photos, medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import handwriting  # noqa: E402
import render_digits  # noqa: E402
from render_digits import breakdown, fonts  # noqa: E402

from digitnet import checkpoint  # noqa: E402
from digitnet.data import idx  # noqa: E402
from digitnet.data.inputs import to_inputs  # noqa: E402
from digitnet.errors import ImageError  # noqa: E402
from digitnet.images.preprocess import image_to_inputs  # noqa: E402
from digitnet.images.reading import bundled_checkpoint  # noqa: E402
from digitnet.insight.report import calibration  # noqa: E402
from digitnet.nn.calibration import logits, probabilities  # noqa: E402


@dataclass
class ReadSet:
    """A set preprocessed once: every image's digit rows (None: refused) and its label."""

    name: str
    inputs: list[Any]  # (k, 784) float32 per image, or None
    labels: list[str]
    samples: list[Any]
    correct: list[bool] | None = None  # the last scored model's, per image


def prepare(name: str, samples: list[Any]) -> ReadSet:
    inputs: list[Any] = []
    for sample in samples:
        try:
            inputs.append(image_to_inputs(sample.path))
        except ImageError:
            inputs.append(None)
    return ReadSet(name, inputs, [s.label for s in samples], samples)


def score(ckpt: checkpoint.Checkpoint, read_set: ReadSet) -> dict[str, float]:
    """Share right, ECE at T = 1 and at the stored T, refusals."""
    rows = [x for x in read_set.inputs if x is not None]
    stacked = np.concatenate(rows) if rows else np.empty((0, 784), np.float32)
    z = logits(ckpt.params, stacked, ckpt.config.activation, ckpt.config.output)
    out: dict[str, float] = {}
    for key, t in (("ece_raw", 1.0), ("ece", ckpt.temperature)):
        p = probabilities(z, ckpt.config.output, t)
        digits, conf = p.argmax(axis=1), p.max(axis=1)
        correct, confidence, at = [], [], 0
        for x, label in zip(read_set.inputs, read_set.labels, strict=True):
            if x is None:
                correct.append(False)
                continue
            k = len(x)
            number = "".join(str(d) for d in digits[at : at + k])
            correct.append(number == label)
            confidence.append((float(conf[at : at + k].min()), number == label))
            at += k
        out["accuracy"] = float(np.mean(correct))
        read_set.correct = correct
        answered = np.array([c for c, _ in confidence])
        right = np.array([r for _, r in confidence], dtype=bool)
        out[key] = calibration(answered, right).ece
    out["ece_floor"] = ece_floor(answered)
    out["refused"] = sum(x is None for x in read_set.inputs)
    return out


def ece_floor(confidence: np.ndarray, draws: int = 200) -> float:
    """Mean ECE of a perfectly calibrated reader: each answer right with probability equal
    to its confidence. ECE over finite bins is never 0 by chance alone; this is how far
    above 0 sampling noise puts it for these confidences and this many answers."""
    rng = np.random.default_rng(0)
    return float(
        np.mean([calibration(confidence, rng.random(len(confidence)) < confidence).ece
                 for _ in range(draws)])
    )  # fmt: skip


def mnist_score(ckpt: checkpoint.Checkpoint, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    z = logits(ckpt.params, X, ckpt.config.activation, ckpt.config.output)
    out: dict[str, float] = {"refused": 0}
    for key, t in (("ece_raw", 1.0), ("ece", ckpt.temperature)):
        p = probabilities(z, ckpt.config.output, t)
        out["accuracy"] = float(np.mean(p.argmax(axis=1) == y))
        out[key] = calibration(p.max(axis=1), p.argmax(axis=1) == y).ece
    out["ece_floor"] = ece_floor(p.max(axis=1))
    return out


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
    parser.add_argument("--default", type=Path, help="checkpoint trained by configs/default.yaml")
    parser.add_argument("--best", type=Path, help="checkpoint trained by configs/best.yaml")
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH, repeatable")
    parser.add_argument("--data-dir", type=Path, help="MNIST folder: adds the MNIST test set")
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="bundled model by condition")
    args = parser.parse_args()

    paths = {"bundled": bundled_checkpoint()}
    if args.default:
        paths["default"] = args.default
    if args.best:
        paths["best"] = args.best
    for item in args.model:
        name, _, path = item.partition("=")
        paths[name] = Path(path)
    models = {name: checkpoint.load(path) for name, path in paths.items()}
    for name, ckpt in models.items():
        shape = f"784-{ckpt.params.hidden_size}-10 {ckpt.config.activation}"
        print(f"{name}: {paths[name]} ({shape}, T = {ckpt.temperature:.3f})")

    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in models}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = []
        for kind, n, digits, seed in (("single", args.single, (1, 1), 1000),
                                      ("numbers", args.numbers, (3, 6), 1001)):  # fmt: skip
            if not n:
                continue
            made = render_digits.make_set(folder / f"r-{kind}", n, seed=seed, digits=digits)
            sets.append(prepare(f"rendered {kind}", made))
            for split in handwriting.SPLITS:
                made = handwriting.make_set(
                    folder / f"h-{split}-{kind}", n, seed=seed, digits=digits, split=split
                )
                sets.append(prepare(f"hand-{split} {kind}", made))
            print(f"prepared the {kind} sets ({n} images each)", flush=True)
        for read_set in sets:
            for name, ckpt in models.items():
                results[name][read_set.name] = score(ckpt, read_set)
            if args.breakdown and read_set.name.startswith("rendered"):
                score(models["bundled"], read_set)
                print(f"\nbundled, {read_set.name}, by condition (right/total):")
                for condition, buckets in breakdown(read_set.samples, read_set.correct).items():
                    cells = ", ".join(
                        f"{k} {r}/{t} ({r / t:.0%})" for k, (r, t) in sorted(buckets.items())
                    )
                    print(f"| {condition} | {cells} |")
        if args.data_dir:
            images, labels = idx.load_split("mnist", args.data_dir, "test")
            X = to_inputs(images)
            for name, ckpt in models.items():
                results[name]["mnist-test"] = mnist_score(ckpt, X, labels)
        if args.runs:
            speed(folder, paths["bundled"], args.runs)

    set_names = list(next(iter(results.values())))
    if args.markdown:
        print("\n| set | " + " | ".join(models) + " |")
        print("|---|" + "---|" * len(models))
    for set_name in set_names:
        cells = []
        for name in models:
            r = results[name][set_name]
            refused = f", {int(r['refused'])} refused" if r["refused"] else ""
            cells.append(f"{r['accuracy']:.1%} (ECE {r['ece_raw']:.1%} → {r['ece']:.1%}{refused})")
        if args.markdown:
            print(f"| {set_name} | " + " | ".join(cells) + " |")
        else:
            print(f"\n{set_name}")
            for name, cell in zip(models, cells, strict=True):
                print(f"  {name:<14} {cell}")
    floors = ", ".join(f"{s} {results['bundled'][s]['ece_floor']:.1%}" for s in set_names)
    print(f"\nECE floor (bundled, at its T; a perfectly calibrated reader's ECE): {floors}")


if __name__ == "__main__":
    main()
