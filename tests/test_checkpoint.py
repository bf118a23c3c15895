"""Checkpoints: bit-exact round trip, atomic writes, and refusal of anything else."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitnet import checkpoint
from digitnet.config import Config
from digitnet.errors import CheckpointError
from digitnet.nn import network


def make_checkpoint(hidden: int = 8) -> checkpoint.Checkpoint:
    params = network.init_params(hidden, "tanh", np.random.default_rng(0))
    params.b1[:] = 0.25
    cfg = Config(hidden_size=hidden, activation="tanh", output="sigmoid", l2=0.5)
    return checkpoint.Checkpoint(params=params, config=cfg, metrics={"validation_accuracy": 0.9})


def test_round_trip_is_bit_exact(tmp_path):
    original = make_checkpoint()
    path = tmp_path / "sub" / "model.npz"
    checkpoint.save(path, original)
    loaded = checkpoint.load(path)
    for name, array in original.params.arrays().items():
        np.testing.assert_array_equal(getattr(loaded.params, name), array)
        assert getattr(loaded.params, name).dtype == np.float32
    assert loaded.config == original.config
    assert loaded.metrics == {"validation_accuracy": 0.9}
    assert loaded.created


def test_save_leaves_no_temp_files(tmp_path):
    checkpoint.save(tmp_path / "model.npz", make_checkpoint())
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    checkpoint.save(path, make_checkpoint())
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, make_checkpoint(hidden=4))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def rewrite(path, **changes):
    """Rewrite a saved checkpoint's arrays with some replaced (None removes)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    checkpoint.save(path, make_checkpoint())
    return path


def metadata_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["metadata"]))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"W1": np.zeros((8, 700), np.float32)}, "shape"),
        ({"b2": None}, "lacks parameter b2"),
        ({"W2": np.full((10, 8), np.nan, np.float32)}, "NaN"),
        ({"W1": np.zeros((8, 784), np.int32)}, "dtype"),
        ({"metadata": None}, "no metadata"),
        ({"metadata": np.array("{not json")}, "not JSON"),
        ({"metadata": np.array(json.dumps({"format": "other"}))}, "not a digitnet checkpoint"),
    ],
)
def test_damaged_checkpoints_are_refused(saved, change, match):
    rewrite(saved, **change)
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load(saved)


def test_newer_format_says_upgrade(saved):
    meta = metadata_of(saved)
    meta["format_version"] = checkpoint.FORMAT_VERSION + 1
    rewrite(saved, metadata=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="newer digitnet"):
        checkpoint.load(saved)


def test_unknown_config_key_in_metadata_is_refused(saved):
    meta = metadata_of(saved)
    meta["config"]["wings"] = 2
    rewrite(saved, metadata=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError, match="wings"):
        checkpoint.load(saved)


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04broken"])
def test_garbage_files_are_refused(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a digitnet checkpoint"):
        checkpoint.load(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "none.npz")
    with pytest.raises(CheckpointError, match="directory"):
        checkpoint.load(tmp_path)


def test_object_arrays_are_never_unpickled(tmp_path):
    """An .npz whose array needs pickle is refused by allow_pickle=False, not loaded."""
    path = tmp_path / "model.npz"
    np.savez(path, W1=np.array([{"evil": 1}], dtype=object), metadata=np.array("{}"))
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


def test_remove_own_temps_spares_other_writers(tmp_path):
    import os

    from digitnet.atomic import remove_own_temps

    mine = tmp_path / f".model.npz.{os.getpid()}.abc123.tmp"
    theirs = tmp_path / f".model.npz.{os.getpid() + 1}.abc123.tmp"
    kept = tmp_path / "model.npz"
    for path in (mine, theirs, kept):
        path.write_bytes(b"x")
    assert remove_own_temps(tmp_path) == [mine]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([theirs.name, kept.name])
