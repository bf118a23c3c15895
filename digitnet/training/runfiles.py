"""The files a training run leaves beside its checkpoint, named in one place.

For ``checkpoints/model.npz``::

    checkpoints/model.npz                 best parameters by validation accuracy
    checkpoints/model.history.json        one record per epoch
    checkpoints/model.run.json            config, versions, dataset MD5s, final figures
    checkpoints/model.resume.npz          latest state, for `digitnet train --resume`
    checkpoints/model.learning-curve.png  J(θ) and accuracy per epoch
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESUME_SUFFIX = ".resume.npz"


@dataclass(frozen=True)
class RunFiles:
    """Where one run's files go, all derived from the best checkpoint's path."""

    checkpoint: Path

    @classmethod
    def of(cls, path: Path) -> RunFiles:
        """The run a checkpoint *or* its resumable state belongs to.

        checkpoints/model.resume.npz -> checkpoints/model.npz; a checkpoint is itself.
        """
        if path.name.endswith(RESUME_SUFFIX):
            return cls(path.with_name(path.name[: -len(RESUME_SUFFIX)] + ".npz"))
        return cls(path)

    def _beside(self, suffix: str) -> Path:
        return self.checkpoint.with_name(self.checkpoint.stem + suffix)

    @property
    def history(self) -> Path:
        return self._beside(".history.json")

    @property
    def run_record(self) -> Path:
        return self._beside(".run.json")

    @property
    def resume_state(self) -> Path:
        return self._beside(RESUME_SUFFIX)

    @property
    def learning_curve(self) -> Path:
        return self._beside(".learning-curve.png")
