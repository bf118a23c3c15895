"""Rebuild the checkpoint bundled with digitnet (digitnet/assets/), from configs/reader.yaml.

    python scripts/build_bundled_model.py --data-dir /path/to/mnist [--trained CKPT]

1. **train**: `digitnet train --config configs/reader.yaml` through the runner, exactly
   as the command does (every augmentation per mini-batch, the best epoch by
   validation accuracy, temperature scaling fitted on the validation split);
   ``--trained`` skips this with a checkpoint that command already wrote.
2. **check**: the test accuracy on MNIST's 10,000 test images (for information: it
   chooses nothing), and whether float16 parameters give the same prediction as
   float32 on at least 99.9% of them; if they do, float16 is stored (half the bytes),
   else float32.
3. **store**: the parameters, the config and a description in the checkpoint's
   metrics (`digitnet info` shows them), optimiser state dropped.
4. **calibrate**: the temperature refitted on real-looking development digits read as
   `predict` reads them, together with the validation split
   (scripts/calibrate_reader.py, which can also be run alone); the T fitted on the
   validation split alone makes the reader's confidences worse on users' digits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from calibrate_reader import recalibrate  # scripts/ is on sys.path when run as a script

from digitnet import checkpoint
from digitnet import config as config_module
from digitnet.data import idx
from digitnet.data.inputs import split_validation, to_inputs
from digitnet.images.reading import BUNDLED_NAME
from digitnet.training import runner
from digitnet.training.calibrate import calibrate_checkpoint
from digitnet.training.train import score

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "reader.yaml"
OUTPUT = ROOT / "digitnet" / "assets" / BUNDLED_NAME
FLOAT16_AGREEMENT = 0.999  # float16 is stored only if it changes ≤ 0.1% of test predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="MNIST *-ubyte.gz folder")
    parser.add_argument("--trained", type=Path, help="a checkpoint of configs/reader.yaml")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    if args.trained is None:
        config = config_module.load(CONFIG, {"data_dir": str(args.data_dir)})
        trained = Path(tempfile.mkdtemp(prefix="digitnet-reader-")) / "reader.npz"
        started = time.perf_counter()
        result = runner.run(config, trained, progress=False)
        print(f"trained in {time.perf_counter() - started:.0f} s; best epoch {result.best}")
    else:
        trained = args.trained
    ckpt = checkpoint.load(trained)
    wanted = config_module.load(CONFIG, {"data_dir": ckpt.config.data_dir})
    if ckpt.config != wanted:
        raise SystemExit(f"{trained} was not trained with {CONFIG} as it is now — retrain it")

    if "temperature" not in ckpt.metrics:  # trained before the runner fitted T: fit it now
        train_images, train_labels = idx.load_split("mnist", args.data_dir, "train")
        held = split_validation(train_images, train_labels, ckpt.config.validation_size)
        t = calibrate_checkpoint(trained, held.X_val, held.y_val)  # stored in `trained` too
        print(f"temperature fitted on the validation split: {t:.4f}")
        ckpt = checkpoint.load(trained)
    images, labels = idx.load_split("mnist", args.data_dir, "test")
    inputs = to_inputs(images)
    cfg = ckpt.config
    _, accuracy, predicted = score(ckpt.params, inputs, labels, cfg, 1)
    half = ckpt.params.astype(np.float16)
    _, half_accuracy, half_predicted = score(half.astype(np.float32), inputs, labels, cfg, 1)
    agreement = float(np.mean(predicted == half_predicted))
    use_half = agreement >= FLOAT16_AGREEMENT
    kind = "float16" if use_half else "float32"
    print(
        f"test accuracy {accuracy:.4f} (float32), {half_accuracy:.4f} (float16); float16 agrees"
        f" on {agreement:.4%} of the test predictions: storing {kind}"
    )
    metrics = dict(ckpt.metrics)
    metrics["test_accuracy"] = half_accuracy if use_half else accuracy  # chose nothing
    metrics["float16_agreement"] = agreement
    metrics["trained_on"] = (
        "digitnet train --config configs/reader.yaml (MNIST train 55,000 with affine, elastic,"
        " stroke-width, low-resolution and printed-style-digit augmentation per mini-batch);"
        " best epoch by validation (last 5,000); built by scripts/build_bundled_model.py"
    )
    params = half if use_half else ckpt.params.astype(np.float32)
    stored = type(cfg)(**{**cfg.to_dict(), "data_dir": "data"})  # not this machine's path
    args.output.parent.mkdir(parents=True, exist_ok=True)
    bundled = checkpoint.Checkpoint(params=params, config=stored, metrics=metrics)
    checkpoint.save(args.output, bundled)
    loaded = checkpoint.load(args.output)
    _, check, _ = score(loaded.params, inputs, labels, loaded.config, 1)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1024:.0f} KiB); reloaded test accuracy {check:.4f}")
    recalibrate(args.output, args.data_dir)


if __name__ == "__main__":
    main()
