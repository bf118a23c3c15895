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
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved} metadata: unknown key 'wings' — see configs/default.yaml for the keys"
    )


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04broken"])
def test_garbage_files_are_refused(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a digitnet checkpoint"):
        checkpoint.load(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path / "none.npz")
    assert str(info.value) == (
        f"checkpoint {tmp_path / 'none.npz'} does not exist — train one with `digitnet train`"
    )
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path / "none.npz", missing_hint="pass another one")
    assert str(info.value).endswith("does not exist — pass another one")
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


# ---------------------------------------------------------------------------
# What a saved file holds, for digitnet and for any other reader of its JSON


def test_metadata_describes_the_model_for_any_reader(saved):
    from datetime import datetime, timedelta, timezone

    from digitnet import __version__

    meta = metadata_of(saved)
    cfg = make_checkpoint().config
    assert meta["format"] == "digitnet-checkpoint"
    assert meta["format_version"] == checkpoint.FORMAT_VERSION == 1
    assert meta["digitnet_version"] == __version__
    assert meta["config"] == cfg.to_dict()
    assert meta["dataset"] == cfg.dataset == "mnist"
    # a^(1) = pixel / 255: what a reader must do to an image before the first layer
    assert meta["input_normalisation"] == {"scale": 1 / 255, "offset": 0.0}
    assert meta["architecture"] == {
        "inputs": 784,
        "hidden": 8,
        "outputs": 10,
        "activation": "tanh",
        "output": "sigmoid",
    }
    assert meta["metrics"] == {"validation_accuracy": 0.9}
    assert meta["extra"] == {}
    assert meta["extra_arrays"] == []
    created = datetime.fromisoformat(meta["created"])  # UTC, to the second
    assert created.utcoffset() == timedelta(0)
    assert created.microsecond == 0
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)


def test_extra_state_and_arrays_round_trip(tmp_path):
    from digitnet import __version__

    original = make_checkpoint()
    original.extra = {"epoch": 3, "history": [0.5, 0.25]}
    original.arrays = {
        "velocity_W1": np.arange(8 * 784, dtype=np.float32).reshape(8, 784) / 7,
        "rng_state": np.array([1, 2, 3], dtype=np.uint64),
        "best_epoch": np.array(2, dtype=np.int64),
    }
    path = tmp_path / "model.resume.npz"
    checkpoint.save(path, original)
    assert metadata_of(path)["extra_arrays"] == ["best_epoch", "rng_state", "velocity_W1"]
    loaded = checkpoint.load(path)
    assert loaded.extra == {"epoch": 3, "history": [0.5, 0.25]}
    assert sorted(loaded.arrays) == ["best_epoch", "rng_state", "velocity_W1"]
    for name, array in original.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
        assert loaded.arrays[name].dtype == array.dtype
    assert loaded.version == __version__
    assert loaded.created == metadata_of(path)["created"]


def test_a_listed_extra_array_that_is_missing_is_refused(tmp_path):
    original = make_checkpoint()
    original.arrays = {"velocity_W1": np.zeros((8, 784), np.float32)}
    path = tmp_path / "model.npz"
    checkpoint.save(path, original)
    rewrite(path, extra_velocity_W1=None)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path} lacks array extra_velocity_W1 — the file is damaged; retrain it"
    )


@pytest.mark.parametrize(
    "bad",
    [np.array(["x", "y"]), np.zeros(2, np.complex64), np.array([0.5, np.nan]), np.array([np.inf])],
)
def test_a_non_numeric_or_non_finite_extra_array_is_refused(tmp_path, bad):
    original = make_checkpoint()
    original.arrays = {"state": np.zeros(2, np.float32)}
    path = tmp_path / "model.npz"
    checkpoint.save(path, original)
    rewrite(path, extra_state=bad)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == (
        f"{path}: extra_state holds {bad.dtype} data or NaN/infinite values"
        " — the file is damaged; retrain it"
    )


def test_saving_diverged_parameters_is_refused_and_keeps_the_old_file(saved):
    before = saved.read_bytes()
    diverged = make_checkpoint()
    diverged.params.W2[3, 1] = np.inf
    with pytest.raises(CheckpointError) as info:
        checkpoint.save(saved, diverged)
    assert str(info.value) == (
        f"refusing to save {saved}: W2 holds NaN or infinite values (training diverged)"
        f" — lower the learning rate (now {diverged.config.learning_rate})"
    )
    assert saved.read_bytes() == before


# ---------------------------------------------------------------------------
# Refusals name the problem in one line and say what to do


def test_parameter_refusals_say_the_file_is_damaged(saved):
    rewrite(saved, W1=np.zeros((8, 700), np.float32))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved}: W1 has shape (8, 700), expected (8, 784) — the file is damaged; retrain it"
    )


@pytest.mark.parametrize(
    "metadata",
    [
        np.array(['{"format": "digitnet-checkpoint"}']),  # a 1-element array, not a scalar
        np.array(b'{"format": "digitnet-checkpoint"}'),  # bytes, not text
    ],
)
def test_metadata_must_be_one_text_scalar(saved, metadata):
    rewrite(saved, metadata=metadata)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved} is not a digitnet checkpoint (no metadata) — train one with `digitnet train`"
    )


@pytest.mark.parametrize("document", ['{"format": "other"}', '["digitnet-checkpoint"]', "3"])
def test_metadata_of_another_format_is_refused(saved, document):
    rewrite(saved, metadata=np.array(document))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved} is not a digitnet checkpoint — train one with `digitnet train`"
    )


def test_unreadable_archive_error_quotes_one_short_line(saved, monkeypatch):
    """The cause is quoted from the library's message: its first line, at most 120
    characters, or the exception's type when it has no message."""

    def long_message(*args, **kwargs):
        raise ValueError("x" * 300 + "\nsecond line")

    monkeypatch.setattr(np, "load", long_message)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved} is not a digitnet checkpoint or is damaged ({'x' * 120})"
        " — retrain or re-download it"
    )

    def no_message(*args, **kwargs):
        raise EOFError

    monkeypatch.setattr(np, "load", no_message)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert "or is damaged (EOFError) — retrain" in str(info.value)


def test_metadata_with_only_the_required_entries_loads(saved):
    """format and format_version are required; a missing config is the default one, and
    missing metrics, extra state and extra arrays are empty."""
    default = checkpoint.Checkpoint(
        params=network.init_params(Config().hidden_size, "sigmoid", np.random.default_rng(0)),
        config=Config(),
    )
    checkpoint.save(saved, default)
    rewrite(
        saved,
        metadata=np.array(json.dumps({"format": "digitnet-checkpoint", "format_version": 1})),
    )
    loaded = checkpoint.load(saved)
    assert loaded.config == Config()
    assert loaded.metrics == {}
    assert loaded.extra == {}
    assert loaded.arrays == {}
    assert loaded.temperature == 1.0
    assert loaded.created == ""
    assert loaded.version == ""


def test_a_bad_stored_temperature_is_refused_on_load_naming_the_file(saved):
    meta = metadata_of(saved)
    meta["metrics"]["temperature"] = -1
    rewrite(saved, metadata=np.array(json.dumps(meta)))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(info.value) == (
        f"{saved} has temperature -1, not a positive number"
        " — retrain it, or remove the temperature entry"
    )


def test_an_object_array_is_never_pickled_into_a_checkpoint(tmp_path):
    """Saving refuses what only pickle could store, rather than writing a file that
    load would refuse (and that another reader might unpickle)."""
    broken = make_checkpoint()
    broken.arrays = {"state": np.array([{"step": 1}], dtype=object)}
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match="allow_pickle"):
        checkpoint.save(path, broken)
    assert list(tmp_path.iterdir()) == []
