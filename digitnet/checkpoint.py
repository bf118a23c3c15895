"""Checkpoints: the parameter arrays in an ``.npz`` plus one JSON metadata entry.

Never pickle: the metadata is a JSON string stored as a unicode array, and loading
uses ``allow_pickle=False``, so a file cannot run code. Files are written
atomically (``atomic.py``). On load, before numpy reads any array, each member's
``.npy`` header is checked: no object dtype (those need unpickling), and no
shape claiming more bytes than the member holds (numpy would allocate the
claimed size first). Then every array's name, shape, dtype and finiteness is
checked against the metadata before anything uses it.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from digitnet import __version__
from digitnet.atomic import atomic_write
from digitnet.config import Config, from_dict
from digitnet.errors import CheckpointError, ConfigError
from digitnet.nn.calibration import temperature_of
from digitnet.nn.network import PARAM_NAMES, Params
from digitnet.vocabulary import N_CLASSES, N_INPUTS

FORMAT_VERSION = 1
#: No digitnet checkpoint comes near this (H = 300 is 0.9 MB); a file that would
#: unpack to more is refused before anything is inflated.
MAX_CHECKPOINT_BYTES = 1 << 30
_ZIP_MAGIC = b"PK\x03\x04"
_EXTRA_PREFIX = "extra_"
METADATA_KEY = "metadata"
#: a^(1) = pixel / 255, so a^(1) ∈ [0, 1] (DESIGN.md)
INPUT_NORMALISATION = {"scale": 1 / 255, "offset": 0.0}


@dataclass
class Checkpoint:
    params: Params
    config: Config
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. training state for --resume
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # optimiser state etc.
    created: str = ""
    version: str = __version__
    param_dtype: str = "float32"  # as stored in the file; load widens float16 to float32

    @property
    def temperature(self) -> float:
        """T of temperature scaling (calibration.py); 1.0 for a checkpoint without one."""
        return temperature_of(self.metrics)


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically.

    Parameters holding NaN or ∞ are refused (CheckpointError) and ``path`` is left
    as it was: such a file could never be loaded, and it would replace a good one.
    """
    for name, array in checkpoint.params.arrays().items():
        if not np.all(np.isfinite(array)):
            raise CheckpointError(
                f"refusing to save {path}: {name} holds NaN or infinite values (training"
                f" diverged) — lower the learning rate (now {checkpoint.config.learning_rate})"
            )
    metadata = {
        "format": "digitnet-checkpoint",
        "format_version": FORMAT_VERSION,
        "digitnet_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": checkpoint.config.to_dict(),
        "dataset": checkpoint.config.dataset,
        "input_normalisation": INPUT_NORMALISATION,
        "architecture": {
            "inputs": N_INPUTS,
            "hidden": checkpoint.params.hidden_size,
            "outputs": N_CLASSES,
            "activation": checkpoint.config.activation,
            "output": checkpoint.config.output,
        },
        "metrics": checkpoint.metrics,
        "extra": checkpoint.extra,
        "extra_arrays": sorted(checkpoint.arrays),
    }
    arrays = {name: np.ascontiguousarray(a) for name, a in checkpoint.params.arrays().items()}
    arrays.update({f"extra_{name}": a for name, a in checkpoint.arrays.items()})
    arrays[METADATA_KEY] = np.array(json.dumps(metadata))
    with atomic_write(path) as handle:
        np.savez(handle, allow_pickle=False, **arrays)


def _expected_shapes(hidden: int) -> dict[str, tuple[int, ...]]:
    return {
        "W1": (hidden, N_INPUTS),
        "b1": (hidden,),
        "W2": (N_CLASSES, hidden),
        "b2": (N_CLASSES,),
    }


def load(path: Path, missing_hint: str = "train one with `digitnet train`") -> Checkpoint:
    """Read and validate a checkpoint; any problem is a one-line ``CheckpointError``.

    ``missing_hint`` is what to do when ``path`` does not exist: the command knows
    whether the user named the path (then it is a typo) or it is a default, and how
    another one is named (an option or an argument).
    """
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist — {missing_hint}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory — pass the checkpoint's .npz file")
    foreign = f"{path} is not a digitnet checkpoint"
    files = _read_arrays(path, foreign)
    metadata = _read_metadata(files, foreign)
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{foreign} (no format version) — retrain it")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer digitnet (format {version},"
            f" this one reads {FORMAT_VERSION}) — upgrade digitnet"
        )
    try:
        config = from_dict(metadata.get("config", {}), f"{path} metadata")
    except ConfigError as exc:
        raise CheckpointError(f"{exc}") from None
    hidden = config.hidden_size
    params = {}
    for name, shape in _expected_shapes(hidden).items():
        params[name] = _checked_array(files, name, shape, path)
    extra_arrays = {}
    for name in metadata.get("extra_arrays", []):
        key = f"extra_{name}"
        if key not in files:
            raise CheckpointError(f"{path} lacks array {key} — the file is damaged; retrain it")
        array = files[key]
        if array.dtype.kind not in "biuf" or (
            array.dtype.kind == "f" and not np.isfinite(array).all()
        ):
            raise CheckpointError(
                f"{path}: {key} holds {array.dtype} data or NaN/infinite values"
                " — the file is damaged; retrain it"
            )
        extra_arrays[name] = array
    metrics = dict(metadata.get("metrics", {}))
    temperature_of(metrics, str(path))  # a bad stored T is refused now, not at first use
    return Checkpoint(
        params=Params(**params),
        config=config,
        metrics=metrics,
        extra=dict(metadata.get("extra", {})),
        arrays=extra_arrays,
        created=str(metadata.get("created", "")),
        version=str(metadata.get("digitnet_version", "")),
        param_dtype=str(files["W1"].dtype),
    )


def _read_arrays(path: Path, foreign: str) -> dict[str, np.ndarray]:
    """Every array in the .npz at ``path``, each member vetted before numpy reads it."""
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is damaged.
        with path.open("rb") as handle:
            if handle.read(4) != _ZIP_MAGIC:
                # A pickle, a bare .npy, anything else: np.load would accept some of
                # these (a pickle only to refuse it, a .npy as a plain array).
                raise CheckpointError(
                    f"{foreign} (not an .npz archive) — train one with `digitnet train`"
                )
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                _vet_members(path, archive, foreign)
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        # ValueError is also what np.load raises for a pickle it refuses to run.
        raise CheckpointError(
            f"{foreign} or is damaged ({_short(exc)}) — retrain or re-download it"
        ) from None


def _vet_members(path: Path, archive: zipfile.ZipFile, foreign: str) -> None:
    """Refuse members that need unpickling, lie about their size, or add up to too much."""
    from numpy.lib import format as npy

    known = {*PARAM_NAMES, METADATA_KEY}
    total = 0
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        total += info.file_size
        if total > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(
                f"{foreign}: it would unpack to over {MAX_CHECKPOINT_BYTES >> 30} GiB — retrain it"
            )
        if not info.filename.endswith(".npy") or not (
            name in known or name.startswith(_EXTRA_PREFIX)
        ):
            raise CheckpointError(f"{foreign} (unexpected member {info.filename!r}) — retrain it")
        with archive.open(info) as member:
            version = npy.read_magic(member)
            read_header = (
                npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            )
            shape, _, dtype = read_header(member)
        if dtype.hasobject:
            raise CheckpointError(
                f"{foreign}: array {name} holds Python objects, which only unpickling could"
                " read — refused; retrain the checkpoint"
            )
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise CheckpointError(
                f"{path}: array {name} claims {claimed} bytes but holds {info.file_size}"
                " — the file is damaged; retrain it"
            )


def _read_metadata(files: dict[str, np.ndarray], foreign: str) -> dict[str, Any]:
    raw = files.get(METADATA_KEY)
    if raw is None or raw.dtype.kind != "U" or raw.shape != ():
        raise CheckpointError(f"{foreign} (no metadata) — train one with `digitnet train`")
    try:
        metadata = json.loads(str(raw))
    except json.JSONDecodeError:
        raise CheckpointError(f"{foreign} (metadata is not JSON) — retrain it") from None
    if not isinstance(metadata, dict) or metadata.get("format") != "digitnet-checkpoint":
        raise CheckpointError(f"{foreign} — train one with `digitnet train`")
    return metadata


def _checked_array(
    files: dict[str, np.ndarray], name: str, shape: tuple[int, ...], path: Path
) -> np.ndarray:
    if name not in files:
        raise CheckpointError(f"{path} lacks parameter {name} — the file is damaged; retrain it")
    array = files[name]
    if array.shape != shape:
        raise CheckpointError(
            f"{path}: {name} has shape {array.shape}, expected {shape}"
            " — the file is damaged; retrain it"
        )
    if array.dtype not in (np.float16, np.float32, np.float64):  # float16: a compact store
        raise CheckpointError(
            f"{path}: {name} has dtype {array.dtype}, expected float32 — retrain it"
        )
    if not np.all(np.isfinite(array)):
        raise CheckpointError(f"{path}: {name} holds NaN or infinite values — retrain it")
    return array.astype(np.float32, copy=False)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
