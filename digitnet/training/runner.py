"""A training run from start to finish: data, the loop, checkpoints and history.

``train.py`` knows only arrays; this module adds the files around it. It keeps
the best parameters by *validation* accuracy (the test set never chooses
anything), saves them atomically at the output path whenever they improve,
and after every epoch rewrites the metrics history and the resumable training
state (resume.py) beside the checkpoint. At the end it writes the run record
(runrecord.py). For ``checkpoints/model.npz`` the files are::

    checkpoints/model.npz                 best parameters by validation accuracy
    checkpoints/model.history.json        one record per epoch
    checkpoints/model.resume.npz          latest state, for `digitnet train --resume`
    checkpoints/model.run.json            config, versions, dataset MD5s, final figures
    checkpoints/model.learning-curve.png  the learning curve (runfiles.py names them all)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from digitnet import checkpoint
from digitnet.atomic import write_text
from digitnet.config import Config
from digitnet.data import download, idx
from digitnet.data.inputs import TrainingData, split_validation
from digitnet.training import resume, runrecord
from digitnet.training.calibrate import calibrate_checkpoint
from digitnet.training.curve import learning_curve as draw_learning_curve
from digitnet.training.runfiles import RunFiles
from digitnet.training.train import BatchHook, EpochRecord, TrainState, train

EpochHook = Callable[[EpochRecord, bool], None]  # (record, is it the best so far)
T = TypeVar("T")


@dataclass
class RunResult:
    best: EpochRecord | None
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    stopped_early: bool = False
    epochs_saved: int = 0  # the first epochs of ``history`` whose files are all on disk


def load_training_data(
    config: Config, data_dir: Path, mirrors: Sequence[str] | None, progress: bool
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The training split, downloaded first if any file is missing."""
    download.ensure_dataset(config.dataset, data_dir, mirrors, progress=progress)
    return idx.load_split(config.dataset, data_dir, "train")


def _diverging_quietly(epochs: Iterator[T]) -> Iterator[T]:
    """Run each epoch with numpy's overflow/invalid warnings off.

    A diverging run overflows before its cost turns NaN; numpy would print
    RuntimeWarnings (several lines each) ahead of the one-line TrainingError
    that train.py raises with advice, and checkpoint.save refuses non-finite
    parameters anyway. The errstate covers only the generator's own steps
    (``next`` inside the ``with``), never the caller's code between epochs.
    """
    while True:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            item = next(epochs, None)
        if item is None:
            return
        yield item


def run(
    config: Config,
    output: Path,
    *,
    resumed: resume.Resumed | None = None,
    resumed_from: Path | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    on_batch: BatchHook | None = None,
    on_epoch: EpochHook | None = None,
    on_start: Callable[[TrainingData], None] | None = None,
    learning_curve: bool = True,
) -> RunResult:
    """Train, keeping the best checkpoint at ``output`` and, beside it, the history,
    the resumable state (model.resume.npz, after every epoch) and the run record.

    ``resumed`` (from ``resume.load``) continues a saved run where it stopped.
    ``on_start`` is called once the data is in hand, just before the first epoch.
    With ``learning_curve`` the run ends by drawing its curve (RunFiles.learning_curve).
    """
    files = RunFiles(output)
    images, labels = load_training_data(config, Path(config.data_dir), mirrors, progress)
    data = split_validation(images, labels, config.validation_size)
    if on_start is not None:
        on_start(data)
    if resumed is None:
        state = TrainState.start(config)
        result = RunResult(best=None)
    else:
        state = resumed.state
        result = RunResult(
            best=resumed.best, history=list(resumed.history), train_seconds=resumed.train_seconds
        )
    seconds_before = result.train_seconds
    result.epochs_saved = saved_before = len(result.history)
    try:
        _run_epochs(config, data, output, state, result, on_batch, on_epoch, seconds_before)
    except KeyboardInterrupt:
        # Ctrl-C: the epochs finished so far are on disk (checkpoint, history, resume
        # state); the run record and the learning curve say so too, then the interrupt
        # goes on to the caller. Only epochs whose files were all written count: an
        # interrupt can land between an epoch's record and its files.
        if result.epochs_saved == saved_before:
            raise  # nothing new on disk: the files of an earlier run stay as they were
        saved = result.history[: result.epochs_saved]
        # the best saved epoch: the first of equals, as the loop keeps it
        best = max(saved, key=lambda r: r.validation_accuracy, default=None)
        runrecord.write(
            output,
            config,
            saved,
            best,
            result.train_seconds,
            stopped_early=False,
            resumed_from=resumed_from,
            status="interrupted",
        )
        if learning_curve:
            draw_learning_curve([r.to_dict() for r in saved], files.learning_curve)
        raise
    result.stopped_early = state.epoch < config.epochs
    if result.best is not None and data.X_val.size:
        # Temperature scaling on the validation split only (nn/calibration.py): confidences
        # of the kept parameters, the predictions unchanged.
        calibrate_checkpoint(output, data.X_val, data.y_val)
    runrecord.write(
        output,
        config,
        result.history,
        result.best,
        result.train_seconds,
        stopped_early=result.stopped_early,
        resumed_from=resumed_from,
    )
    if learning_curve and result.history:
        # The whole history, a resumed run's earlier epochs included.
        draw_learning_curve([r.to_dict() for r in result.history], files.learning_curve)
    return result


def _run_epochs(
    config: Config,
    data: TrainingData,
    output: Path,
    state: TrainState,
    result: RunResult,
    on_batch: BatchHook | None,
    on_epoch: EpochHook | None,
    seconds_before: float,
) -> None:
    """The epochs of a run, each followed by its files (see ``run``)."""
    files = RunFiles(output)
    started = time.perf_counter()
    for record, params in _diverging_quietly(train(config, data, on_batch=on_batch, state=state)):
        result.history.append(record)
        result.train_seconds = seconds_before + time.perf_counter() - started
        # With no validation split, the latest epoch is the best one we can know of.
        improved = (
            result.best is None
            or not data.X_val.size
            or record.validation_accuracy > result.best.validation_accuracy
        )
        if improved:
            result.best = record
            checkpoint.save(
                output,
                checkpoint.Checkpoint(
                    params=params,
                    config=config,
                    metrics={
                        "best_epoch": record.epoch,
                        "validation_accuracy": record.validation_accuracy,
                        "validation_cost": record.validation_cost,
                        "train_accuracy": record.train_accuracy,
                        "train_seconds": result.train_seconds,
                        "n_train": data.n_train,
                        "n_validation": len(data.X_val),
                    },
                ),
            )
        resume.save(
            files.resume_state,
            config,
            state,
            result.history,
            result.best,
            result.train_seconds,
        )
        write_text(
            files.history,
            json.dumps([r.to_dict() for r in result.history], indent=1) + "\n",
        )
        result.epochs_saved = len(result.history)
        if on_epoch is not None:
            on_epoch(record, improved)
