"""The run record: one JSON file beside the checkpoint that says how a result was made.

``checkpoints/model.npz`` -> ``checkpoints/model.run.json`` holds the full config
(seed included), the versions of Python, digitnet and the numerical packages, the
MD5 of every dataset file the run read, and the final figures (best epoch by
validation accuracy, its validation accuracy and cost, epochs run, whether early
stopping ended the run, training time). With it a result can be reproduced and
two runs compared. The test set is not read here: test figures come from
``digitnet evaluate``.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from digitnet import __version__
from digitnet.atomic import write_text
from digitnet.config import Config
from digitnet.data import checksum, registry
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import EpochRecord

#: packages whose versions can change a result
PACKAGES = ("numpy", "scipy", "PyYAML", "click")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "digitnet": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def dataset_md5s(config: Config) -> dict[str, str]:
    """MD5 of each file of the dataset that is present in the data directory."""
    spec = registry.get_spec(config.dataset)
    folder = registry.dataset_dir(config.dataset, Path(config.data_dir))
    return {
        name: checksum.file_md5(folder / name) for name in spec.files if (folder / name).is_file()
    }


def write(
    checkpoint_path: Path,
    config: Config,
    history: list[EpochRecord],
    best: EpochRecord | None,
    train_seconds: float,
    *,
    stopped_early: bool,
    resumed_from: Path | None = None,
    status: str = "finished",
) -> Path:
    """Write the run record beside ``checkpoint_path``; returns its path."""
    record: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": status,  # "finished", or e.g. "interrupted"
        "checkpoint": str(checkpoint_path),
        "seed": config.seed,
        "config": config.to_dict(),
        "versions": package_versions(),
        "platform": platform.platform(),
        "dataset": {"name": config.dataset, "md5": dataset_md5s(config)},
        "resumed_from": None if resumed_from is None else str(resumed_from),
        "final": {
            "epochs_run": history[-1].epoch if history else 0,
            "stopped_early": stopped_early,
            "train_seconds": round(train_seconds, 2),
            "best_epoch": None if best is None else best.epoch,
            "validation_accuracy": None if best is None else best.validation_accuracy,
            "validation_cost": None if best is None else best.validation_cost,
            "train_accuracy": None if best is None else best.train_accuracy,
        },
    }
    path = RunFiles(checkpoint_path).run_record
    write_text(path, json.dumps(record, indent=1) + "\n")
    return path
