"""digitnet from Python: load a model, read digits, evaluate, train.

This is the surface ``digitnet/__init__.py`` exports; the command line, the
benchmarks and the scripts are its users. Everything else in the package is
internal and may change.

    import digitnet

    model = digitnet.load_model()                 # ./checkpoints/model.npz, else the bundled one
    reading = model.read("my-digit.png")          # a path, a Pillow image or a 28×28 array
    print(reading.number, reading.confidence)

    result = digitnet.train("configs/fast.yaml", output="checkpoints/fast.npz")
    print(digitnet.evaluate(result.model).accuracy)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from digitnet import checkpoint
from digitnet import config as config_module
from digitnet.checkpoint import Checkpoint
from digitnet.config import Config
from digitnet.errors import ImageError
from digitnet.images import reading as reading_module
from digitnet.images.reading import UNCERTAIN_BELOW, Reading
from digitnet.insight.metrics import Report
from digitnet.nn.calibration import predict_proba
from digitnet.nn.network import Architecture
from digitnet.vocabulary import DEFAULT_CHECKPOINT, IMAGE_SIDE, N_INPUTS

if TYPE_CHECKING:  # the training loop is imported only when training
    from digitnet.training.train import EpochRecord

#: what `Model.read` accepts: a path, a Pillow image, or digits already in MNIST's form
ImageSource = Any  # str | Path | PIL.Image.Image | NDArray (kept loose: Pillow loads lazily)


@dataclass(frozen=True)
class Model:
    """A trained 784-H-10 network and how it was made.

    ``path`` is the checkpoint it came from (None if built in memory); ``bundled``
    says it is the model shipped with digitnet.
    """

    checkpoint: Checkpoint
    path: Path | None = None
    bundled: bool = False

    @property
    def config(self) -> Config:
        return self.checkpoint.config

    @property
    def architecture(self) -> Architecture:
        return self.checkpoint.config.architecture

    @property
    def params(self) -> Any:
        """θ: ``W1`` (H, 784), ``b1`` (H,), ``W2`` (10, H), ``b2`` (10,) (network.Params)."""
        return self.checkpoint.params

    @property
    def metrics(self) -> dict[str, Any]:
        return self.checkpoint.metrics

    def predict_proba(self, inputs: NDArray[np.floating]) -> NDArray[np.float32]:
        """a^(3) for rows a^(1): (N, 784) in [0, 1], MNIST form -> (N, 10), at the model's
        calibrated temperature (training/calibration.py; T = 1 for an uncalibrated one)."""
        rows = np.asarray(inputs, dtype=np.float32).reshape(-1, N_INPUTS)
        config = self.checkpoint.config
        probabilities: NDArray[np.float32] = predict_proba(
            self.checkpoint.params,
            rows,
            config.activation,
            config.output,
            self.checkpoint.temperature,
        ).astype(np.float32, copy=False)
        return probabilities

    def predict(self, inputs: NDArray[np.floating]) -> NDArray[np.int64]:
        """The most likely digit for each row a^(1)."""
        labels: NDArray[np.int64] = self.predict_proba(inputs).argmax(axis=1)
        return labels

    def read(
        self,
        source: ImageSource,
        *,
        single: bool = False,
        uncertain_below: float = UNCERTAIN_BELOW,
    ) -> Reading:
        """Read the digits in ``source``, left to right, as ``digitnet predict`` does.

        ``source`` is a path to an image file, a Pillow image, or a 28×28 array already
        in MNIST's form (light ink on black; floats in [0, 1] or uint8 0-255), which is
        read as one digit without preprocessing. ``single`` reads an image as one digit.
        """
        if isinstance(source, str | Path):
            return reading_module.read_image(
                Path(source), self.checkpoint, single=single, uncertain_below=uncertain_below
            )
        if isinstance(source, np.ndarray):
            return reading_module.read_inputs(
                _mnist_array_to_input(source), self.checkpoint, "", uncertain_below
            )
        from PIL import Image

        from digitnet.images.preprocess import picture_to_inputs

        if isinstance(source, Image.Image):
            inputs = picture_to_inputs(source, name="the image", single=single)
            return reading_module.read_inputs(inputs, self.checkpoint, "", uncertain_below)
        raise TypeError(
            f"cannot read a {type(source).__name__} — pass a path, a Pillow image or a 28x28 array"
        )

    def save(self, path: str | Path) -> Path:
        """Write the model as a checkpoint (.npz + JSON metadata, atomically)."""
        target = Path(path)
        checkpoint.save(target, self.checkpoint)
        return target

    def __str__(self) -> str:
        where = "bundled" if self.bundled else str(self.path or "in memory")
        return f"Model({self.architecture}, {where})"


def _mnist_array_to_input(array: NDArray[Any]) -> NDArray[np.float32]:
    if array.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ImageError(
            f"a {array.shape} array is not one 28x28 digit — pass a 28x28 array in MNIST's form"
            " (or a path or Pillow image to have it preprocessed)"
        )
    scale = np.float32(1 / 255) if array.dtype == np.uint8 else np.float32(1)
    row = np.asarray(array, dtype=np.float32).reshape(1, N_INPUTS) * scale
    if not np.all(np.isfinite(row)) or row.min() < 0 or row.max() > 1:
        raise ImageError(
            "a 28x28 array must hold values in [0, 1] (or uint8 0-255) — scale it first"
        )
    return row


def bundled_model() -> Model:
    """The small model shipped with digitnet (reads digits before any training)."""
    path = reading_module.bundled_checkpoint()
    return Model(checkpoint.load(path), path, bundled=True)


def load_model(path: str | Path | None = None) -> Model:
    """The checkpoint at ``path``; with None, ./checkpoints/model.npz if it exists,
    else the bundled model (the same choice `digitnet predict` makes)."""
    if path is None:
        if not DEFAULT_CHECKPOINT.exists():
            return bundled_model()
        path = DEFAULT_CHECKPOINT
    target = Path(path)
    # A path that was named and is missing is most likely a typo.
    hint = "check the path, or train one with `digitnet train`"
    return Model(checkpoint.load(target, missing_hint=hint), target)


@dataclass
class Evaluation(Report):
    """How a model does on one split: accuracy, per-class figures, confusion matrix."""

    dataset: str
    split: str
    n: int
    labels: NDArray[np.uint8] = field(repr=False)  # the split's true digits
    predicted: NDArray[np.int64] = field(repr=False)  # the model's digit for each image

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "split": self.split, "n": self.n, **super().to_dict()}


def evaluate(
    model: Model,
    data_dir: str | Path | None = None,
    split: str = "test",
    *,
    progress: bool = False,
) -> Evaluation:
    """Score ``model`` on a split of its dataset (downloaded first if missing)."""
    from digitnet.data import download, idx
    from digitnet.data.inputs import to_inputs
    from digitnet.data.registry import default_data_dir
    from digitnet.insight.metrics import report
    from digitnet.training.train import score

    dataset = model.config.dataset
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    download.ensure_dataset(dataset, folder, progress=progress)
    images, labels = idx.load_split(dataset, folder, split)
    # argmax z^(3), as the training loop scores validation (same digits as argmax a^(3)).
    _, _, predicted = score(model.params, to_inputs(images), labels, model.config, n_train=1)
    rep = report(labels, predicted)
    return Evaluation(
        dataset=dataset,
        split=split,
        n=len(labels),
        accuracy=rep.accuracy,
        precision=rep.precision,
        recall=rep.recall,
        support=rep.support,
        confusion=rep.confusion,
        labels=labels,
        predicted=predicted,
    )


@dataclass
class TrainingResult:
    """The best model of a run (by validation accuracy) and the run's per-epoch history."""

    model: Model
    history: list[EpochRecord]
    best: EpochRecord
    train_seconds: float
    stopped_early: bool


def train(
    config: Config | str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    output: str | Path = DEFAULT_CHECKPOINT,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> TrainingResult:
    """Train a network as `digitnet train` does and return its best model.

    ``config`` is a Config, a YAML path or None (the defaults); ``overrides`` are
    config keys set on top (e.g. ``{"epochs": 5}``). The run's files (checkpoint,
    history, run record, resume state, learning curve) are written beside ``output``.
    ``on_epoch`` is called with each epoch's record.
    """
    from digitnet.training import runner

    if isinstance(config, Config):
        settings = config_module.apply(config, dict(overrides or {}), "overrides")
    else:
        settings = config_module.load(None if config is None else Path(config), overrides)
    if data_dir is not None:
        settings = config_module.apply(settings, {"data_dir": str(data_dir)}, "data_dir")
    target = Path(output)

    def each_epoch(record: EpochRecord, improved: bool) -> None:
        if on_epoch is not None:
            on_epoch(record)

    result = runner.run(settings, target, progress=progress, on_epoch=each_epoch)
    assert result.best is not None  # epochs >= 1, so at least one epoch ran
    return TrainingResult(
        model=Model(checkpoint.load(target), target),
        history=result.history,
        best=result.best,
        train_seconds=result.train_seconds,
        stopped_early=result.stopped_early,
    )
