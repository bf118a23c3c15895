"""Training state on disk, so that ``digitnet train --resume`` continues a run exactly.

The runner calls ``save`` after every epoch; the file sits beside the best
checkpoint (``checkpoints/model.npz`` -> ``checkpoints/model.resume.npz``). It is
an ordinary checkpoint (checkpoint.py: npz + JSON, no pickle, atomic write)
holding the *latest* parameters rather than the best ones, plus:

* ``arrays``: the optimiser's velocity per parameter block;
* ``extra["resume"]``: epochs completed, the two random generators' states
  (``bit_generator.state``, plain JSON: the run's and the distortions'), the
  early-stopping counters, the run's history and best record so far, and the
  training seconds spent.

The learning-rate schedule needs nothing: it is a pure function of the epoch.
Because the file is rewritten only between epochs, it is always consistent: a run
stopped at any moment (Ctrl-C, a crash, a power cut) loses at most the epoch in
progress, and resuming from the file gives bit-for-bit the parameters an
uninterrupted run would have had (tests/test_resume.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitnet import checkpoint
from digitnet.config import Config
from digitnet.errors import CheckpointError
from digitnet.nn.optim import make_optimizer
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import EpochRecord, TrainState

RESUME_KEY = "resume"
RESUME_FORMAT = 2  # 2: the distortions' own generator (issue 12)


@dataclass
class Resumed:
    """What a saved run hands back to the runner."""

    config: Config
    state: TrainState
    history: list[EpochRecord] = field(default_factory=list)
    best: EpochRecord | None = None
    train_seconds: float = 0.0


def save(
    path: Path,
    config: Config,
    state: TrainState,
    history: list[EpochRecord],
    best: EpochRecord | None,
    train_seconds: float,
) -> None:
    """Write the state of a run, consistent between epochs, to ``path`` (atomically)."""
    extra = {
        RESUME_KEY: {
            "format": RESUME_FORMAT,
            "epoch": state.epoch,
            "optimizer": state.optimizer.name,
            "rng": state.rng.bit_generator.state,  # JSON-friendly dict (ints may be big)
            "distortion_rng": (
                None if state.distortion_rng is None else state.distortion_rng.bit_generator.state
            ),
            "best_validation_accuracy": state.best_validation_accuracy,
            "best_epoch": state.best_epoch,
            "history": [r.to_dict() for r in history],
            "best": None if best is None else best.to_dict(),
            "train_seconds": train_seconds,
        }
    }
    checkpoint.save(
        path,
        checkpoint.Checkpoint(
            params=state.params,
            config=config,
            metrics={"epoch": state.epoch, "resumable": True},
            extra=extra,
            arrays=state.optimizer.state_arrays(),
        ),
    )


def load(path: Path) -> Resumed:
    """Read a state written by ``save``. ``path`` may also be the best checkpoint
    (model.npz), in which case its model.resume.npz sibling is read."""
    ckpt = checkpoint.load(path)
    if RESUME_KEY not in ckpt.extra and RunFiles(path).resume_state.exists():
        path = RunFiles(path).resume_state
        ckpt = checkpoint.load(path)
    saved = ckpt.extra.get(RESUME_KEY)
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path} holds no training state to resume — pass the .resume.npz file"
            " written beside the checkpoint"
        )
    try:
        if saved.get("format") != RESUME_FORMAT:
            raise KeyError("format")
        config = ckpt.config
        rng = np.random.default_rng()
        rng.bit_generator.state = saved["rng"]
        distortions = np.random.default_rng()
        distortions.bit_generator.state = saved["distortion_rng"]
        optimizer = make_optimizer(saved["optimizer"], ckpt.params, config.momentum)
        optimizer.load_state_arrays(ckpt.arrays)
        state = TrainState(
            epoch=int(saved["epoch"]),
            params=ckpt.params,
            optimizer=optimizer,
            rng=rng,
            best_validation_accuracy=float(saved["best_validation_accuracy"]),
            best_epoch=int(saved["best_epoch"]),
            distortion_rng=distortions,
        )
        history = [EpochRecord(**r) for r in saved["history"]]
        best = None if saved["best"] is None else EpochRecord(**saved["best"])
        seconds = float(saved["train_seconds"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: the saved training state is incomplete ({exc}) — start a new run"
        ) from None
    return Resumed(config=config, state=state, history=history, best=best, train_seconds=seconds)
