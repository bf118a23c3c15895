"""Rebuild the checkpoint bundled with digitnet (digitnet/assets/digitnet-784-100-10.npz).

    python scripts/build_bundled_model.py --data-dir /path/to/mnist [--work DIR]

Steps (each printed as it runs):

1. Stroke-width variants of MNIST's training images. Users' digits come from pens,
   markers and fonts whose strokes are often thicker or thinner than MNIST's, so in
   each training image (not the validation tail) the strokes are widened or narrowed
   by a random multiple of half a pixel (grayscale dilation or erosion at twice the
   resolution), then the digit is brought back to MNIST's form (20-px box, centre of
   mass) exactly as `digitnet predict` does. A third of the images stay unchanged.
   Independently, 30% of them are shrunk to a 9-16 px digit and enlarged back, as
   `predict` enlarges a digit drawn or photographed small. The result is written as
   an MNIST-format data folder, after 30,000 printed-style digits drawn from stroke
   definitions (scripts/stroke_digits.py: a 1 with flag and foot, a closed 4, bold and
   slanted strokes; no font file is read, so the rendered test fonts stay unseen).
2. `digitnet train --config scripts/bundled_model.yaml --data-dir <that folder>`:
   digitnet itself trains the network, with mild affine augmentation (rotation,
   shear, scale; augment.py) on every mini-batch. The best epoch is chosen on the
   validation split (the last 5,000 training images, left unaltered).
3. The test accuracy on the 10,000 MNIST test images is measured afterwards, for
   information only (nothing is chosen by it), and stored in the checkpoint's
   metrics with a description of the recipe, so `digitnet info` shows both. The
   optimiser state is dropped and the parameters are float32 (about 320 KB).

Nothing here uses the rendered test images of tests/render_digits.py.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import stroke_digits  # scripts/stroke_digits.py, beside this file
from numpy.typing import NDArray
from PIL import Image

from digitnet import checkpoint
from digitnet.data import idx
from digitnet.data.inputs import to_inputs
from digitnet.images.geometry import centre_by_mass, fit_box, ink_box, to_mnist_form
from digitnet.images.reading import BUNDLED_NAME
from digitnet.training.train import score

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "bundled_model.yaml"
OUTPUT = ROOT / "digitnet" / "assets" / BUNDLED_NAME
VALIDATION = 5000  # must match validation_size in the config: these stay unaltered
# Half-pixel steps of stroke change drawn per image (negative: thinner).
STEPS = (-2, -1, 0, 0, 0, 1, 2, 3)
# Fraction of training images shown as a small digit enlarged (longer side, px).
LOW_RES_FRACTION = 0.3
LOW_RES = (9, 16)
# Printed-style digits drawn from stroke definitions (scripts/stroke_digits.py).
N_PRINTED = 30000
SEED = 0


def _shifted_extreme(images: NDArray[np.float32], thicker: bool) -> NDArray[np.float32]:
    """Max (dilation) or min (erosion) over each pixel's 2×2 neighbourhood, padded."""
    pick = np.maximum if thicker else np.minimum
    fill = 0.0 if thicker else 1.0
    padded = np.pad(images, ((0, 0), (1, 0), (1, 0)), constant_values=fill)
    out = images.copy()
    for dy, dx in ((0, 1), (1, 0), (0, 0)):
        out = pick(out, padded[:, dy : dy + images.shape[1], dx : dx + images.shape[2]])
    return out


def stroke_variants(
    images: NDArray[np.uint8], rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Each image with its strokes widened/narrowed by a random number of half-pixels."""
    steps = rng.choice(STEPS, size=len(images))
    out = images.copy()
    for step in sorted(set(steps.tolist()) - {0}):
        rows = np.flatnonzero(steps == step)
        big = np.kron(images[rows].astype(np.float32) / 255, np.ones((1, 2, 2), np.float32))
        for _ in range(abs(step)):  # at 2×, one 2×2 step moves each edge by half a pixel
            big = _shifted_extreme(big, thicker=step > 0)
        small = big.reshape(len(rows), 28, 2, 28, 2).mean(axis=(2, 4))
        for i, row in enumerate(rows):
            digit = small[i]
            if (digit > 0.05).sum() < 10:  # eroded away (a thin 1): keep the original
                continue
            out[row] = _to_uint8(_renormalise(digit))
    return out, steps


def _renormalise(digit: NDArray[np.float32]) -> NDArray[np.float32]:
    """Crop, fit to 20 px and centre by mass, as `digitnet predict` does."""
    centred: NDArray[np.float32] = to_mnist_form(digit, "training image")
    return centred


def _to_uint8(digit: NDArray[np.float32]) -> NDArray[np.uint8]:
    return np.round(np.clip(digit, 0, 1) * 255).astype(np.uint8)


def low_resolution(
    images: NDArray[np.uint8], rng: np.random.Generator
) -> tuple[NDArray[np.uint8], int]:
    """Some images as a small digit looks after `predict` enlarges it to 20 px.

    A digit photographed or drawn small (10-16 px tall) has lost detail that no
    enlargement brings back; `predict` scales it up with Lanczos (`fit_box`). So the
    digit is shrunk by area averaging to a random size in `LOW_RES` and brought back
    to MNIST's form the same way.
    """
    out = images.copy()
    chosen = np.flatnonzero(rng.random(len(images)) < LOW_RES_FRACTION)
    sizes = rng.integers(LOW_RES[0], LOW_RES[1] + 1, size=len(chosen))
    for row, size in zip(chosen, sizes, strict=True):
        digit = images[row].astype(np.float32) / 255
        box_rows, box_cols = ink_box(digit, "training image")
        box = digit[box_rows, box_cols]
        scale = int(size) / max(box.shape)
        shape = (max(1, round(box.shape[1] * scale)), max(1, round(box.shape[0] * scale)))
        small = np.asarray(
            Image.fromarray(box).resize(shape, Image.Resampling.BOX), dtype=np.float32
        )
        out[row] = _to_uint8(centre_by_mass(fit_box(np.clip(small, 0, 1))))
    return out, len(chosen)


def write_idx(path: Path, array: NDArray[np.uint8]) -> None:
    """An IDX file (LeCun's MNIST format), gzip-compressed."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="MNIST *-ubyte.gz folder")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--printed", type=int, default=N_PRINTED, help="printed-style digits")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="digitnet-bundled-"))
    work.mkdir(parents=True, exist_ok=True)

    images, labels = idx.load_split("mnist", args.data_dir, "train")
    rng = np.random.default_rng(SEED)
    train_part, steps = stroke_variants(images[:-VALIDATION], rng)
    train_part, n_small = low_resolution(train_part, rng)
    print(f"low resolution: {n_small} training images shrunk to {LOW_RES} px and enlarged")
    printed, printed_labels = stroke_digits.make(args.printed, rng)
    print(f"printed-style digits: {args.printed} drawn from stroke definitions", flush=True)
    # Printed digits go first, so the validation split stays MNIST's last 5,000.
    altered = np.concatenate([printed, train_part, images[-VALIDATION:]])
    counts = {int(k): int(v) for k, v in zip(*np.unique(steps, return_counts=True), strict=True)}
    print(
        f"stroke variants: {np.count_nonzero(steps)} of {len(steps)} training images altered"
        f" (half-pixel steps: count {counts})",
        flush=True,
    )
    data = work / "data"
    data.mkdir(exist_ok=True)
    write_idx(data / "train-images-idx3-ubyte.gz", altered)
    write_idx(data / "train-labels-idx1-ubyte.gz", np.concatenate([printed_labels, labels]))
    copied = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for name in copied:
        shutil.copyfile(args.data_dir / name, data / name)

    trained = work / "trained.npz"
    command = [
        sys.executable, "-m", "digitnet", "train", "--config", str(CONFIG),
        "--data-dir", str(data), "--output", str(trained), "--quiet",
    ]  # fmt: skip
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)

    ckpt = checkpoint.load(trained)
    test_images, test_labels = idx.load_split("mnist", args.data_dir, "test")
    _, accuracy, _ = score(ckpt.params, to_inputs(test_images), test_labels, ckpt.config, 1)
    metrics = dict(ckpt.metrics)
    metrics["test_accuracy"] = accuracy  # measured after training; chose nothing
    metrics["trained_on"] = (
        "MNIST train (55,000; 5/8 with strokes widened or narrowed by 0.5-1.5 px, 30% "
        f"shrunk to 9-16 px and enlarged back) + {args.printed:,} printed-style digits drawn "
        "from stroke definitions (scripts/stroke_digits.py, no font files) "
        "+ affine augmentation; best epoch by validation (last 5,000, unaltered); "
        "built by scripts/build_bundled_model.py"
    )
    params = ckpt.params.astype(np.float32)
    config = ckpt.config
    config = type(config)(**{**config.to_dict(), "data_dir": "data"})  # not the scratch path
    args.output.parent.mkdir(parents=True, exist_ok=True)
    bundled = checkpoint.Checkpoint(params=params, config=config, metrics=metrics)
    checkpoint.save(args.output, bundled)
    size = args.output.stat().st_size
    print(f"test accuracy {accuracy:.4f}; wrote {args.output} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
