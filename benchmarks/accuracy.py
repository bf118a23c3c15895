"""Accuracy benchmark: train each config from scratch and compare with the literature.

    python benchmarks/accuracy.py --data-dir ../shared/mnist                  # all configs, seed 0
    python benchmarks/accuracy.py --configs fast default --seeds 0 1 2      # mean ± spread
    python benchmarks/accuracy.py --json results.json

For every config and seed it runs the same code as ``digitnet train`` (runner.run:
best epoch by *validation* accuracy, early stopping on validation only), then
scores that checkpoint once on the 10,000 test images. It prints a table of config,
hidden units, epochs, training time and test error (mean and spread over seeds),
next to the published figure for the presets, and flags a preset whose mean test
error falls outside its published band. Exit status 1 if any preset is flagged.

Heavy: best.yaml alone trains for three to four minutes on an idle 2-core machine. Run it under
``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from digitnet import config as config_module
from digitnet.data import idx
from digitnet.data.inputs import to_inputs
from digitnet.training import runner
from digitnet.training.train import score

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


@dataclass(frozen=True)
class Reference:
    """A published figure and the band of test error (%) that counts as reproducing it."""

    figure: str
    source: str
    band: tuple[float, float]


#: Bands are wide on purpose: digitnet's split (55k/5k), initialisation and number of
#: epochs differ from each paper's, and one seed moves test error by ~0.1 points.
REFERENCES = {
    "nielsen-ch1": Reference("~95% (4.5–5% error)", "Nielsen, NNDL ch. 1 and ch. 3", (3.0, 6.0)),
    "nielsen-ch3": Reference("~98% (2% error)", "Nielsen, NNDL ch. 3", (1.4, 2.6)),
    "ng-ex4": Reference("~95% train accuracy (ex4 data)", "Ng, ML course ex. 4", (1.5, 6.0)),
    "simard-800": Reference("0.7% error (elastic)", "Simard et al. 2003, table 1", (0.5, 1.2)),
    "best": Reference("0.7% error (elastic), 1.1% (affine)", "Simard et al. 2003", (0.4, 1.0)),
    "fast": Reference("≥ 97% accuracy in < 30 s", "issue 3", (0.0, 3.0)),
}

#: Single-hidden-layer MNIST results to print beside the table (test error, %).
LITERATURE = [
    ("LeCun et al. 1998", "784-300-10, MSE", 4.7),
    ("LeCun et al. 1998", "784-1000-10, MSE", 4.5),
    ("Simard et al. 2003", "784-800-10, cross-entropy", 1.6),
    ("Simard et al. 2003", "… + affine distortions", 1.1),
    ("Simard et al. 2003", "… + elastic distortions", 0.7),
    ("Nielsen, NNDL ch. 3", "784-100-10, cross-entropy, L2", 2.0),
]


@dataclass
class Run:
    config: str
    seed: int
    hidden: int
    epochs_run: int
    best_epoch: int
    train_seconds: float
    validation_error: float
    test_error: float


def run_one(name: str, seed: int, data_dir: Path, workdir: Path) -> Run:
    cfg = config_module.load(CONFIGS / f"{name}.yaml", {"seed": seed, "data_dir": str(data_dir)})
    output = workdir / f"{name}-seed{seed}.npz"
    result = runner.run(cfg, output, progress=False)
    assert result.best is not None
    from digitnet import checkpoint

    best = checkpoint.load(output)
    images, labels = idx.load_split(cfg.dataset, data_dir, "test")
    _, accuracy, _ = score(best.params, to_inputs(images), labels, cfg, n_train=1)
    return Run(
        config=name,
        seed=seed,
        hidden=cfg.hidden_size,
        epochs_run=len(result.history),
        best_epoch=result.best.epoch,
        train_seconds=result.train_seconds,
        validation_error=100 * (1 - result.best.validation_accuracy),
        test_error=100 * (1 - accuracy),
    )


def summarise(runs: list[Run]) -> tuple[list[str], bool]:
    lines = [
        f"{'config':<12} {'H':>5} {'epochs':>6} {'time s':>8} {'test error %':>16}"
        f"  {'published':<38} in band",
    ]
    flagged = False
    for name in dict.fromkeys(r.config for r in runs):
        group = [r for r in runs if r.config == name]
        errors = [r.test_error for r in group]
        mean = statistics.fmean(errors)
        spread = f" ± {statistics.stdev(errors):.2f}" if len(errors) > 1 else ""
        ref = REFERENCES.get(name)
        verdict = "-"
        if ref is not None:
            inside = ref.band[0] <= mean <= ref.band[1]
            verdict = "yes" if inside else f"NO (band {ref.band[0]}–{ref.band[1]}%)"
            flagged |= not inside
        seconds = statistics.fmean(r.train_seconds for r in group)
        lines.append(
            f"{name:<12} {group[0].hidden:>5} {group[0].epochs_run:>6} {seconds:>8.1f}"
            f" {mean:>9.2f}{spread:<7}  {ref.figure if ref else '':<38} {verdict}"
            f"  (n={len(group)})"
        )
    lines.append("")
    lines.append("literature, one hidden layer (test error %):")
    lines += [f"  {who:<22} {what:<32} {err:.1f}" for who, what, err in LITERATURE]
    return lines, flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["fast", "default", "nielsen-ch1", "nielsen-ch3", "ng-ex4", "simard-800", "best"],
        help="names of files in configs/ (without .yaml)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "mnist")
    parser.add_argument("--json", type=Path, help="also write every run to this JSON file")
    args = parser.parse_args()

    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            for seed in args.seeds:
                run = run_one(name, seed, args.data_dir, Path(tmp))
                runs.append(run)
                print(
                    f"{name} seed {seed}: test error {run.test_error:.2f}%"
                    f" (validation {run.validation_error:.2f}%, best epoch {run.best_epoch}"
                    f" of {run.epochs_run}) in {run.train_seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    lines, flagged = summarise(runs)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in runs], indent=1) + "\n")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
