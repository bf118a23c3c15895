"""Checkpoints that try to run code or exhaust memory are refused, by name.

The hostile pickle payloads below are written out opcode by opcode (protocol 0),
so this file imports no pickle module. Each test has a positive control: the
same file handed to ``np.load(..., allow_pickle=True)`` in a separate interpreter
does create the marker file, which proves the payload is live and that
digitnet's refusal is what keeps it from running.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitnet import checkpoint
from digitnet.config import Config
from digitnet.errors import CheckpointError
from digitnet.nn import network


def payload(marker: Path) -> bytes:
    """A protocol-0 pickle stream that calls ``open(marker, "w")`` when unpickled."""
    return f"cbuiltins\nopen\n(V{marker}\nVw\ntR.".encode()


def object_npy(data: bytes) -> bytes:
    """An .npy of dtype object (one element) whose body is ``data``: numpy unpickles it."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - len(header) % 64) + "\n"  # pad so the data is 64-byte aligned
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data


def saved_checkpoint(path: Path, hidden: int = 4) -> Path:
    params = network.init_params(hidden, "sigmoid", np.random.default_rng(0))
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=Config(hidden_size=hidden)))
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def numpy_would_run_it(path: Path, member: str | None) -> None:
    """Positive control, in another interpreter: numpy with pickles allowed loads it."""
    get = f"[{member!r}]" if member else ""
    code = (
        "import numpy as np\n"
        "try:\n"
        f"    np.load({str(path)!r}, allow_pickle=True){get}\n"
        "except Exception:\n"
        "    pass  # open() returned a file, not an array: numpy complains after the fact\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pickle_disguised_as_a_checkpoint_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(payload(marker))
    with pytest.raises(CheckpointError, match=r"is not a digitnet checkpoint \(not an \.npz"):
        checkpoint.load(path)
    assert not marker.exists()
    numpy_would_run_it(path, None)
    assert marker.exists()  # the control: the payload is live


def test_pickled_array_inside_a_real_checkpoint_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    files["W1.npy"] = object_npy(payload(marker))
    write_zip(path, files)
    with pytest.raises(CheckpointError, match="array W1 holds Python objects") as info:
        checkpoint.load(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()
    numpy_would_run_it(path, "W1")
    assert marker.exists()


def test_pickled_extra_array_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    files["extra_velocity_W1.npy"] = object_npy(payload(marker))
    write_zip(path, files)
    with pytest.raises(CheckpointError, match="holds Python objects"):
        checkpoint.load(path)
    assert not marker.exists()


def test_bare_npy_named_like_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    with path.open("wb") as f:
        np.save(f, np.zeros(3, np.float32))
    with pytest.raises(CheckpointError, match=r"not an \.npz archive"):
        checkpoint.load(path)


def test_lying_array_header_never_allocates(tmp_path: Path) -> None:
    """An .npy header claiming 10^12 floats: numpy would allocate 4 TB before
    reading; the member's real size is checked first."""
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    files["W1.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    write_zip(path, files)
    with pytest.raises(CheckpointError, match="W1 claims 4000000000000 bytes but holds"):
        checkpoint.load(path)


def test_zip_bomb_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("extra_padding.npy", bytes(8 << 20))  # 8 MiB of zeros, ~8 kB zipped
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 4 << 20)
    with pytest.raises(CheckpointError, match="would unpack to over"):
        checkpoint.load(path)


def test_unexpected_array_name_is_refused(tmp_path: Path) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    files["W3.npy"] = files["b2.npy"]
    write_zip(path, files)
    with pytest.raises(CheckpointError, match=r"unexpected member 'W3\.npy'"):
        checkpoint.load(path)


def rewrite_metadata(path: Path, **changes: object) -> None:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["metadata"]))
    meta.update(changes)
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_newer_format_names_both_versions(tmp_path: Path) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    rewrite_metadata(path, format_version=checkpoint.FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path} was written by a newer digitnet (format {checkpoint.FORMAT_VERSION + 1},"
        f" this one reads {checkpoint.FORMAT_VERSION}) — upgrade digitnet"
    )


@pytest.mark.parametrize("version", ["1", None, 1.0, [1]])
def test_format_version_must_be_an_integer(tmp_path: Path, version: object) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    rewrite_metadata(path, format_version=version)
    with pytest.raises(CheckpointError, match="no format version"):
        checkpoint.load(path)


@pytest.mark.parametrize(
    ("name", "array", "match"),
    [
        ("b1", np.array([1.0, np.inf, 0, 0], np.float32), "b1 holds NaN or infinite"),
        ("W2", np.zeros((10, 4), np.complex64), "W2 has dtype complex64"),
        ("W2", np.zeros((10, 4), np.int32), "W2 has dtype int32"),
        ("b2", np.zeros((11,), np.float32), r"b2 has shape \(11,\), expected \(10,\)"),
        ("W1", np.zeros((4, 784, 1), np.float32), "W1 has shape"),
    ],
)
def test_parameter_checks(tmp_path: Path, name: str, array: np.ndarray, match: str) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[name] = array
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load(path)


def test_float16_parameters_load_as_float32(tmp_path: Path) -> None:
    """A compact store (the bundled model): float16 arrays are widened on load."""
    path = saved_checkpoint(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["W2"] = arrays["W2"].astype(np.float16)
    np.savez(path, **arrays)
    loaded = checkpoint.load(path)
    assert loaded.params.W2.dtype == np.float32
    np.testing.assert_array_equal(loaded.params.W2, arrays["W2"].astype(np.float32))


def test_non_finite_extra_array_is_refused(tmp_path: Path) -> None:
    params = network.init_params(4, "sigmoid", np.random.default_rng(0))
    state = {"velocity_W1": np.full((4, 784), np.nan, np.float32)}
    ckpt = checkpoint.Checkpoint(params=params, config=Config(hidden_size=4), arrays=state)
    path = tmp_path / "model.npz"
    checkpoint.save(path, ckpt)
    with pytest.raises(CheckpointError, match="extra_velocity_W1 holds float32 data or NaN"):
        checkpoint.load(path)


def test_members_are_added_up_against_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is on the whole archive: many members each below it, together above it,
    are refused; an archive of exactly the limit loads."""
    path = saved_checkpoint(tmp_path / "model.npz")
    with zipfile.ZipFile(path) as archive:
        sizes = [info.file_size for info in archive.infolist()]
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", sum(sizes))
    assert checkpoint.load(path).params.hidden_size == 4
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", sum(sizes) - 1)
    assert max(sizes) < sum(sizes) - 1
    with pytest.raises(CheckpointError, match="would unpack to over"):
        checkpoint.load(path)


def test_a_member_claiming_gigabytes_is_refused_before_inflating(tmp_path: Path) -> None:
    """A zip's directory can claim any unpacked size; the real limit (1 GiB) is applied to
    the claims before a byte is inflated."""
    path = saved_checkpoint(tmp_path / "model.npz")
    data = bytearray(path.read_bytes())
    directory = data.index(b"PK\x01\x02")  # the first central directory entry
    # its "uncompressed size" field: 4 bytes at offset 24; 0xFFFFFFF0 is ~4 GiB
    data[directory + 24 : directory + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path} is not a digitnet checkpoint: it would unpack to over 1 GiB — retrain it"
    )


def test_members_in_npy_format_2_load(tmp_path: Path) -> None:
    """.npy format 2.0 (a 4-byte header length, written by numpy for large headers or on
    request) is as valid as 1.0: its header is read with the matching reader."""
    from numpy.lib import format as npy

    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    original = checkpoint.load(path)
    for name in ("W1", "b2"):
        buffer = io.BytesIO()
        npy.write_array(buffer, getattr(original.params, name), version=(2, 0))
        files[f"{name}.npy"] = buffer.getvalue()
    write_zip(path, files)
    loaded = checkpoint.load(path)
    np.testing.assert_array_equal(loaded.params.W1, original.params.W1)
    np.testing.assert_array_equal(loaded.params.b2, original.params.b2)


def test_pickled_array_refusal_says_what_to_do(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    files["b1.npy"] = object_npy(payload(marker))
    write_zip(path, files)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path} is not a digitnet checkpoint: array b1 holds Python objects, which only"
        " unpickling could read — refused; retrain the checkpoint"
    )
    assert not marker.exists()


def test_lying_header_refusal_says_the_file_is_damaged(tmp_path: Path) -> None:
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    files["b2.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    write_zip(path, files)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path}: array b2 claims 4000 bytes but holds {len(files['b2.npy'])}"
        " — the file is damaged; retrain it"
    )


def test_numpy_refuses_pickles_even_if_the_member_check_missed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two defences, each enough on its own: with the member check switched off, numpy's
    allow_pickle=False still refuses the object array and the payload never runs."""
    marker = tmp_path / "pwned"
    path = saved_checkpoint(tmp_path / "model.npz")
    files = members(path)
    files["W1.npy"] = object_npy(payload(marker))
    write_zip(path, files)
    monkeypatch.setattr(checkpoint, "_vet_members", lambda *args: None)
    with pytest.raises(CheckpointError, match="is not a digitnet checkpoint or is damaged"):
        checkpoint.load(path)
    assert not marker.exists()
