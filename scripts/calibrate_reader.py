"""Refit the bundled model's temperature T on real-looking development digits.

    python scripts/calibrate_reader.py --data-dir /path/to/mnist [--checkpoint CKPT]
        [--rendered-seeds 1006 1007] [--handwriting-seeds 2006 2007] [--count 500]
        [--no-mnist] [--dry-run]

T fitted on MNIST's validation split alone (what `digitnet train` does) does not carry
over to users' digits: there the reader is, if anything, under-confident. This fits T
on digits read exactly as `digitnet predict` reads a file (images/preprocess
.image_to_inputs, automatic segmentation) from development sets only:

* single digits rendered by tests/render_digits.py, from ``--rendered-seeds``;
* single digits of the handwriting generator's ``dev`` split (tests/handwriting.py),
  from ``--handwriting-seeds``;
* MNIST's validation split (the last ``validation_size`` training images), unless
  ``--no-mnist``.

Each set weighs the same in the NLL (training/calibrate.fit_on), so 5,000 MNIST digits
do not drown a few hundred real-looking ones. An image read as anything but one digit
(refused, or cut in two) is left out: its label does not belong to one row of z^(3).
The sets that benchmarks/real_digits.py and the tests measure are refused here (rendered
seeds 1000, 1001, 1004 and 1005; handwriting seeds 1000 and 1001, and the whole
held-out split; MNIST test is never loaded), so their figures stay measurements.

Prints each set's NLL and expected calibration error (15 bins of the confidence
`predict` shows) at T = 1, at the stored T and at the new T, then stores the new T and
what it was fitted on in the checkpoint (atomically; `digitnet info` shows both).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test-set generators live beside the tests

import handwriting  # noqa: E402
import render_digits  # noqa: E402

from digitnet import checkpoint  # noqa: E402
from digitnet.data import idx  # noqa: E402
from digitnet.data.inputs import split_validation  # noqa: E402
from digitnet.errors import ImageError  # noqa: E402
from digitnet.images.preprocess import image_to_inputs  # noqa: E402
from digitnet.images.reading import bundled_checkpoint  # noqa: E402
from digitnet.insight.report import calibration  # noqa: E402
from digitnet.nn.calibration import logits, nll, probabilities  # noqa: E402
from digitnet.training.calibrate import (  # noqa: E402
    VALIDATION_SET,
    CalibrationSet,
    fit_on,
    store_temperature,
)

RENDERED_SEEDS = (1006, 1007)
HANDWRITING_SEEDS = (2006, 2007)
COUNT = 500  # single digits per seed, as many as each measured set holds
#: seeds whose sets are measured (benchmarks/real_digits.py, tests/test_tight_crops.py)
MEASURED_RENDERED = frozenset({1000, 1001, 1004, 1005})
MEASURED_HANDWRITING = frozenset({1000, 1001})


def read_as_predict(
    make: Callable[[Path], list[Any]], name: str, ckpt: checkpoint.Checkpoint
) -> CalibrationSet:
    """Make a set of single digits in a temporary folder and read each as `predict` does."""
    rows, labels, left_out = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for sample in make(Path(tmp)):
            try:
                x = image_to_inputs(sample.path)
            except ImageError:
                left_out += 1
                continue
            if len(x) != 1:
                left_out += 1
                continue
            rows.append(x)
            labels.append(int(sample.label))
    X = np.concatenate(rows)
    print(f"{name}: {len(labels)} read as one digit, {left_out} left out", flush=True)
    Z3 = logits(ckpt.params, X, ckpt.config.activation, ckpt.config.output)
    return CalibrationSet(name, Z3, np.array(labels))


def development_sets(
    ckpt: checkpoint.Checkpoint,
    data_dir: Path | None,
    rendered_seeds: tuple[int, ...],
    handwriting_seeds: tuple[int, ...],
    count: int,
) -> list[CalibrationSet]:
    measured = sorted(set(rendered_seeds) & MEASURED_RENDERED) + sorted(
        set(handwriting_seeds) & MEASURED_HANDWRITING
    )
    if measured:
        raise SystemExit(f"seeds {measured} make sets that are measured, never fitted on")
    sets = []
    if rendered_seeds:
        sets.append(
            read_as_predict(
                lambda folder: [
                    s
                    for seed in rendered_seeds
                    for s in render_digits.make_set(folder / str(seed), count, seed=seed)
                ],
                f"rendered single digits, seeds {', '.join(map(str, rendered_seeds))}",
                ckpt,
            )
        )
    if handwriting_seeds:
        sets.append(
            read_as_predict(
                lambda folder: [
                    s
                    for seed in handwriting_seeds
                    for s in handwriting.make_set(folder / str(seed), count, seed, split="dev")
                ],
                f"handwriting dev split, seeds {', '.join(map(str, handwriting_seeds))}",
                ckpt,
            )
        )
    if data_dir is not None:
        images, labels = idx.load_split("mnist", data_dir, "train")
        held = split_validation(images, labels, ckpt.config.validation_size)
        Z3 = logits(ckpt.params, held.X_val, ckpt.config.activation, ckpt.config.output)
        sets.append(CalibrationSet(VALIDATION_SET, Z3, held.y_val))
    return sets


def report(sets: list[CalibrationSet], output: str, temperatures: dict[str, float]) -> None:
    """Each set's NLL and ECE at each temperature."""
    heads = "  ".join(f"{'NLL / ECE at ' + k:>24}" for k in temperatures)
    print(f"{'set':<44} {heads}")
    for s in sets:
        cells = []
        for t in temperatures.values():
            p = probabilities(s.Z3, output, t)
            ece = calibration(p.max(axis=1), p.argmax(axis=1) == s.labels).ece
            cells.append(f"{nll(s.Z3, s.labels, output, t):>15.4f} / {ece:>5.1%}")
        print(f"{s.name:<44} " + "  ".join(f"{c:>24}" for c in cells))


def recalibrate(
    path: Path,
    data_dir: Path | None,
    rendered_seeds: tuple[int, ...] = RENDERED_SEEDS,
    handwriting_seeds: tuple[int, ...] = HANDWRITING_SEEDS,
    count: int = COUNT,
    dry_run: bool = False,
) -> float:
    """Fit T on the development sets for the checkpoint at ``path``; store it unless
    ``dry_run``. Returns the new T."""
    ckpt = checkpoint.load(path)
    sets = development_sets(ckpt, data_dir, rendered_seeds, handwriting_seeds, count)
    output = ckpt.config.output
    fit = fit_on(sets, output)
    temperatures = {"T=1": 1.0, f"T={ckpt.temperature:.3f}": ckpt.temperature}
    temperatures[f"T={fit.temperature:.3f}"] = fit.temperature
    report(sets, output, temperatures)
    if dry_run:
        print(f"T = {fit.temperature:.4f} (dry run: {path} unchanged)")
    else:
        store_temperature(path, fit, f"scripts/calibrate_reader.py, {count} images per seed")
        print(f"T = {fit.temperature:.4f} stored in {path}")
    return fit.temperature


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="MNIST *-ubyte.gz folder")
    parser.add_argument("--checkpoint", type=Path, default=bundled_checkpoint())
    parser.add_argument("--rendered-seeds", type=int, nargs="*", default=RENDERED_SEEDS)
    parser.add_argument("--handwriting-seeds", type=int, nargs="*", default=HANDWRITING_SEEDS)
    parser.add_argument("--count", type=int, default=COUNT, help="single digits per seed")
    parser.add_argument("--no-mnist", action="store_true", help="leave the validation split out")
    parser.add_argument("--dry-run", action="store_true", help="print, store nothing")
    args = parser.parse_args()
    if args.data_dir is None and not args.no_mnist:
        parser.error("--data-dir is needed for MNIST's validation split (or pass --no-mnist)")
    recalibrate(
        args.checkpoint,
        None if args.no_mnist else args.data_dir,
        tuple(args.rendered_seeds),
        tuple(args.handwriting_seeds),
        args.count,
        args.dry_run,
    )


if __name__ == "__main__":
    main()
