"""The run record (training/runrecord.py): every field that says how a result was made,
with the values it must hold (issue 15: mutation testing found most of them unchecked).
Called directly, on tiny files: no training needed."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import pytest
from toydata import write_tiny_mnist

import digitnet
from digitnet import config
from digitnet.training import runrecord
from digitnet.training.train import EpochRecord


def record(epoch: int, validation_accuracy: float) -> EpochRecord:
    return EpochRecord(
        epoch=epoch,
        train_cost=0.5 / epoch,
        train_accuracy=0.25 * epoch,
        validation_cost=0.6 / epoch,
        validation_accuracy=validation_accuracy,
        learning_rate=0.1,
        seconds=1.0,
        images_per_second=100.0,
    )


def test_versions_name_python_digitnet_and_the_numerical_packages():
    versions = runrecord.package_versions()
    assert versions["python"] == platform.python_version()
    assert versions["digitnet"] == digitnet.__version__
    for name in ("numpy", "scipy", "PyYAML", "click"):
        assert versions[name] == metadata.version(name), name


def test_a_package_that_is_not_installed_is_said_so(monkeypatch):
    monkeypatch.setattr(runrecord, "PACKAGES", ("numpy", "no-such-package-digitnet"))
    versions = runrecord.package_versions()
    assert versions["no-such-package-digitnet"] == "not installed"
    assert versions["numpy"] == metadata.version("numpy")


def test_dataset_md5s_are_of_the_files_present(tmp_path):
    folder = write_tiny_mnist(tmp_path / "data")
    missing = "t10k-labels-idx1-ubyte.gz"
    (folder / missing).unlink()
    cfg = config.apply(config.Config(), {"data_dir": str(folder)}, "test")
    md5s = runrecord.dataset_md5s(cfg)
    present = sorted(p.name for p in folder.iterdir())
    assert sorted(md5s) == present
    assert len(present) == 3
    for name in present:
        assert md5s[name] == hashlib.md5((folder / name).read_bytes()).hexdigest()


def test_dataset_md5s_look_in_the_datasets_own_folder(tmp_path):
    write_tiny_mnist(tmp_path / "fashion-mnist")  # MNIST's file names, under the sub-folder
    cfg = config.apply(
        config.Config(), {"data_dir": str(tmp_path), "dataset": "fashion-mnist"}, "test"
    )
    md5s = runrecord.dataset_md5s(cfg)
    assert len(md5s) == 4
    name = "train-images-idx3-ubyte.gz"
    expected = hashlib.md5((tmp_path / "fashion-mnist" / name).read_bytes()).hexdigest()
    assert md5s[name] == expected


def test_the_record_says_how_the_result_was_made(tmp_path, monkeypatch):
    folder = write_tiny_mnist(tmp_path / "data")
    cfg = config.apply(config.Config(), {"data_dir": str(folder), "seed": 17}, "test")
    history = [record(1, 0.5), record(2, 0.75), record(3, 0.625)]
    checkpoint_path = tmp_path / "run" / "m.npz"
    checkpoint_path.parent.mkdir()
    resumed_from = tmp_path / "run" / "m.resume.npz"
    before = datetime.now(timezone.utc).replace(microsecond=0)

    path = runrecord.write(
        checkpoint_path,
        cfg,
        history,
        history[1],
        12.3456,
        stopped_early=True,
        resumed_from=resumed_from,
        status="interrupted",
    )

    assert path == tmp_path / "run" / "m.run.json"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    saved = json.loads(text)
    created = datetime.fromisoformat(saved["created"])
    assert created.utcoffset() == timedelta(0)
    assert before <= created <= datetime.now(timezone.utc)
    assert saved["status"] == "interrupted"
    assert saved["checkpoint"] == str(checkpoint_path)
    assert saved["seed"] == 17
    assert saved["config"] == cfg.to_dict()
    assert saved["versions"] == runrecord.package_versions()
    assert saved["platform"] == platform.platform()
    assert saved["dataset"] == {"name": "mnist", "md5": runrecord.dataset_md5s(cfg)}
    assert len(saved["dataset"]["md5"]) == 4
    assert saved["resumed_from"] == str(resumed_from)
    assert saved["final"] == {
        "epochs_run": 3,
        "stopped_early": True,
        "train_seconds": 12.35,
        "best_epoch": 2,
        "validation_accuracy": 0.75,
        "validation_cost": 0.3,
        "train_accuracy": 0.5,
    }


def test_a_fresh_finished_run_without_epochs(tmp_path):
    cfg = config.apply(config.Config(), {"data_dir": str(tmp_path / "none")}, "test")
    path = runrecord.write(tmp_path / "m.npz", cfg, [], None, 0.004, stopped_early=False)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["status"] == "finished"
    assert saved["resumed_from"] is None
    assert saved["dataset"]["md5"] == {}
    assert saved["final"] == {
        "epochs_run": 0,
        "stopped_early": False,
        "train_seconds": 0.0,
        "best_epoch": None,
        "validation_accuracy": None,
        "validation_cost": None,
        "train_accuracy": None,
    }


@pytest.mark.parametrize("epochs_run", [1, 4])
def test_epochs_run_is_the_last_recorded_epoch(tmp_path: Path, epochs_run: int):
    """A resumed run's history starts at epoch 1 too; the last entry is how far it got."""
    cfg = config.apply(config.Config(), {"data_dir": str(tmp_path)}, "test")
    history = [record(e, 0.5) for e in range(1, epochs_run + 1)]
    path = runrecord.write(tmp_path / "m.npz", cfg, history, history[0], 1.0, stopped_early=False)
    assert json.loads(path.read_text(encoding="utf-8"))["final"]["epochs_run"] == epochs_run
