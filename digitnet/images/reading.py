"""Reading the digits in users' images: files and folders in, numbers and confidences out.

`digitnet predict` is a thin printer over this module. Each image is preprocessed
(`preprocess.image_to_inputs`: every digit in MNIST's 28×28 form, left to right), each
digit is predicted by the network, and the result keeps what a user needs to trust or
question it: the number, each digit's confidence, an "uncertain" mark when a digit's
confidence is below a threshold, and the 28×28 images the network actually saw.

The package ships a small trained checkpoint (`bundled_checkpoint`), so reading works
before any training; `scripts/build_bundled_model.py` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet.checkpoint import Checkpoint
from digitnet.errors import ImageError
from digitnet.images.preprocess import image_to_inputs
from digitnet.nn.calibration import predict_proba
from digitnet.vocabulary import IMAGE_SIDE

__all__ = [
    "BUNDLED_NAME",
    "IMAGE_SUFFIXES",
    "UNCERTAIN_BELOW",
    "DigitReading",
    "Reading",
    "bundled_checkpoint",
    "find_images",
    "read_image",
    "read_inputs",
]

#: file name of the bundled checkpoint inside the package's assets folder
BUNDLED_NAME = "digitnet-reader.npz"
#: a digit read with less confidence than this is marked uncertain
UNCERTAIN_BELOW = 0.7
#: what `find_images` picks up inside a folder (files named directly are always tried)
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
)


def bundled_checkpoint() -> Path:
    """Path of the checkpoint shipped inside the package (digitnet/assets/)."""
    # The package's own folder: pip installs it as plain files. importlib.resources gives the
    # same path but costs `predict`'s cold start about 10 ms of imports (tempfile, random).
    return Path(__file__).resolve().parents[1] / "assets" / BUNDLED_NAME


def find_images(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path as given; a folder is replaced by the images below it, sorted.

    Hidden files and folders (a leading dot) inside a folder are skipped; a folder
    with no images gives an `ImageError` so that a typo in a path is not silent.
    """
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            yield path
            continue
        found = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not found:
            raise ImageError(
                f"{path} is a directory with no images below it — put PNG or JPEG files"
                " there, or name image files"
            )
        yield from found


@dataclass
class DigitReading:
    digit: int
    confidence: float
    probabilities: list[float]
    uncertain: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "uncertain": self.uncertain,
            "probabilities": [round(p, 6) for p in self.probabilities],
        }


@dataclass
class Reading:
    """What one image says: its digits left to right, and the 28×28 inputs behind them."""

    file: str
    digits: list[DigitReading]
    inputs: NDArray[np.float32] = field(repr=False)  # (k, 784) a^(1), one row per digit

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def confidence(self) -> float:
        """The weakest digit's confidence: a number is only as sure as its least sure digit."""
        return min(d.confidence for d in self.digits)

    @property
    def uncertain(self) -> bool:
        return any(d.uncertain for d in self.digits)

    def images(self) -> list[NDArray[np.uint8]]:
        """The network's inputs as 8-bit 28×28 images (light ink on black, as MNIST)."""
        pixels = np.round(self.inputs * 255).astype(np.uint8)
        return [row.reshape(IMAGE_SIDE, IMAGE_SIDE) for row in pixels]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; a one-digit reading also has DESIGN.md's digit/probabilities keys."""
        out: dict[str, Any] = {
            "file": self.file,
            "number": self.number,
            "confidence": round(self.confidence, 6),
            "uncertain": self.uncertain,
        }
        if len(self.digits) == 1:
            only = self.digits[0].to_dict()
            out.update(digit=only["digit"], probabilities=only["probabilities"])
        out["digits"] = [d.to_dict() for d in self.digits]
        return out


def read_image(
    path: Path,
    ckpt: Checkpoint,
    single: bool = False,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> Reading:
    """Read every digit in the image at `path` (or one digit, with `single`).

    Raises
    ------
    ImageError
        The file cannot be read as an image, or holds no digit.
    """
    return read_inputs(image_to_inputs(path, single=single), ckpt, str(path), uncertain_below)


def read_inputs(
    inputs: NDArray[np.float32],
    ckpt: Checkpoint,
    file: str = "",
    uncertain_below: float = UNCERTAIN_BELOW,
) -> Reading:
    """Read digits already in MNIST's form: (k, 784) rows a^(1), left to right."""
    probabilities = predict_proba(
        ckpt.params, inputs, ckpt.config.activation, ckpt.config.output, ckpt.temperature
    )
    digits = []
    for p in probabilities:
        digit = int(np.argmax(p))
        confidence = float(p[digit])
        digits.append(
            DigitReading(
                digit=digit,
                confidence=confidence,
                probabilities=[float(x) for x in p],
                uncertain=confidence < uncertain_below,
            )
        )
    return Reading(file=file, digits=digits, inputs=inputs)


def read_images(
    paths: Sequence[Path], ckpt: Checkpoint, single: bool = False
) -> Iterator[Reading | ImageError]:
    """`read_image` over many paths; a failure is yielded in place of its reading."""
    for path in paths:
        try:
            yield read_image(path, ckpt, single)
        except ImageError as error:
            yield error
