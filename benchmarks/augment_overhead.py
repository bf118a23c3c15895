"""How much of an epoch augmentation takes: best.yaml's network, with and without distortions.

    python benchmarks/augment_overhead.py [--data-dir ../shared/mnist] [--rounds 2] [--config best]
                                          [--off all|reader]

Runs one training epoch with the config's augmentation and one with augmentation
switched off, alternately, ``--rounds`` times in one process (timings on a shared
machine are noisy, so the two are measured side by side), and prints the seconds
of each and their ratio. The augmentation share of an epoch is 1 − without / with.
``--off reader`` switches off only stroke width, low resolution and printed digits, so
the share printed is theirs alone (beside the affine and elastic distortions kept on).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from digitnet import config as config_module
from digitnet.data import idx
from digitnet.data.inputs import TrainingData, split_validation
from digitnet.training.train import train

REPO = Path(__file__).resolve().parents[1]
NO_AUGMENTATION = {
    "augment_shift": 0.0,
    "augment_rotate": 0.0,
    "augment_scale": 0.0,
    "augment_shear": 0.0,
    "elastic_alpha": 0.0,
    "augment_stroke": 0.0,
    "augment_low_res": 0.0,
    "augment_printed": 0.0,
}
#: the reader options alone (pen.py, glyphs.py): ``--off reader`` measures what they add
READER_OFF = {"augment_stroke": 0.0, "augment_low_res": 0.0, "augment_printed": 0.0}


def one_epoch(cfg: config_module.Config, data: TrainingData) -> float:
    started = time.perf_counter()
    for _record in train(cfg, data):
        break
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "mnist")
    parser.add_argument("--config", default="best")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--off",
        choices=("all", "reader"),
        default="all",
        help="switch off every distortion, or only the reader options (stroke, low-res, printed)",
    )
    args = parser.parse_args()
    with_aug = config_module.load(REPO / "configs" / f"{args.config}.yaml", {"epochs": 1})
    off = NO_AUGMENTATION if args.off == "all" else READER_OFF
    without = config_module.apply(with_aug, off, "benchmark")
    images, labels = idx.load_split("mnist", args.data_dir, "train")
    data = split_validation(images, labels, with_aug.validation_size)
    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.rounds):
        times["with"].append(one_epoch(with_aug, data))
        times["without"].append(one_epoch(without, data))
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    print(f"epoch with augmentation:    {w:.2f} s  (runs: {times['with']})")
    what = "augmentation" if args.off == "all" else "the reader options"
    print(f"epoch without {what}: {wo:.2f} s  (runs: {times['without']})")
    print(f"share of the epoch taken by {what}: {1 - wo / w:.0%} (ratio {w / wo:.2f})")


if __name__ == "__main__":
    main()
