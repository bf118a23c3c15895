"""The downloader against faulty networks and disks, and against itself.

Every case runs against LocalMirror servers on 127.0.0.1 (tests/http_server.py)
that drop connections, serve HTML, fail with 500 or ignore Range. The last tests
run `download` in real child processes: two at once into one folder, and one
killed with SIGKILL mid-file, then resumed.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from http_server import LocalMirror

from digitnet.data import download as downloader
from digitnet.data.download import LOCK_NAME, download, partial_path
from digitnet.data.idx import load_split
from digitnet.data.registry import DATASETS, dataset_dir, missing_files
from digitnet.errors import ChecksumError, DatasetError
from digitnet.vocabulary import IMAGE_SIDE

MNIST = DATASETS["mnist"]
TRAIN_IMAGES, TRAIN_LABELS = MNIST.splits["train"]
TEST_IMAGES, TEST_LABELS = MNIST.splits["test"]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_dataset(folder: Path, n_train: int, n_test: int = 3) -> dict[str, str]:
    """Random-pixel MNIST-layout files (random pixels barely compress); their MD5s."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = MNIST.splits[split]
        write_idx(folder / images, rng.integers(0, 256, (n, IMAGE_SIDE, IMAGE_SIDE)))
        write_idx(folder / labels, rng.integers(0, 10, n))
    return {name: md5_of(folder / name) for name in MNIST.files}


@pytest.fixture(autouse=True)
def _isolated(isolated_downloads: None) -> None:
    """Every test here runs with conftest's isolated_downloads."""


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 40-image train set (~31 kB) registered as "mnist", served by the mirrors below."""
    folder = tmp_path / "source"
    checksums = make_dataset(folder, n_train=40)
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, checksums=checksums))
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def assert_complete(data_dir: Path, source: Path) -> None:
    """Exactly the four files, byte for byte the mirror's; no partial, no lock left."""
    assert listing(data_dir) == sorted(MNIST.files)
    for name in MNIST.files:
        assert (data_dir / name).read_bytes() == (source / name).read_bytes()


# ---------------------------------------------------------------------------
# Faulty servers


def test_connection_dropped_halfway_is_resumed_with_range(source: Path, data_dir: Path) -> None:
    size = (source / TRAIN_IMAGES).stat().st_size
    with LocalMirror(source, chunk=4096) as mirror:
        mirror.drop_after["/" + TRAIN_IMAGES] = [size // 2]
        download("mnist", data_dir, [mirror.url], progress=False)
    assert mirror.requests[:2] == ["/" + TRAIN_IMAGES] * 2
    assert mirror.ranges[:2] == [None, f"bytes={size // 2}-"]
    assert_complete(data_dir, source)


def test_connection_dropped_repeatedly_still_completes(source: Path, data_dir: Path) -> None:
    size = (source / TRAIN_IMAGES).stat().st_size
    with LocalMirror(source, chunk=1024) as mirror:
        # every attempt brings 5000 more bytes, until the resume budget is used
        mirror.drop_after["/" + TRAIN_IMAGES] = [5000] * downloader.RESUME_ATTEMPTS
        download("mnist", data_dir, [mirror.url], progress=False)
    ranges = mirror.ranges[: downloader.RESUME_ATTEMPTS + 1]
    assert ranges == [None] + [
        f"bytes={5000 * k}-" for k in range(1, downloader.RESUME_ATTEMPTS + 1)
    ]
    assert size > 5000 * downloader.RESUME_ATTEMPTS  # the last request really brought the rest
    assert_complete(data_dir, source)


def test_server_that_ignores_range_restarts_from_zero(source: Path, data_dir: Path) -> None:
    size = (source / TRAIN_IMAGES).stat().st_size
    with LocalMirror(source, chunk=4096) as mirror:
        mirror.configure(honour_range=False)
        mirror.drop_after["/" + TRAIN_IMAGES] = [size // 3]
        download("mnist", data_dir, [mirror.url], progress=False)
    # the second request asked for the rest, got all of it with 200, and was
    # written from byte 0 rather than appended
    assert mirror.ranges[:2] == [None, f"bytes={size // 3}-"]
    assert_complete(data_dir, source)


def test_cut_short_every_time_moves_on_and_keeps_the_partial(source: Path, data_dir: Path) -> None:
    """A mirror that never finishes: the error says so, the partial stays, and a
    later run against a healthy mirror resumes it instead of starting over."""
    with LocalMirror(source, chunk=1024) as flaky:
        flaky.drop_after["/" + TRAIN_IMAGES] = [2000] * (downloader.RESUME_ATTEMPTS + 1)
        with pytest.raises(DatasetError, match="transfer cut short at 10000 of") as info:
            download("mnist", data_dir, [flaky.url], progress=False)
    assert "\n" not in str(info.value)
    part = partial_path(data_dir / TRAIN_IMAGES)
    # the other three files were fetched all the same
    assert listing(data_dir) == sorted([part.name, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS])
    assert part.stat().st_size == 2000 * (downloader.RESUME_ATTEMPTS + 1)

    with LocalMirror(source) as healthy:
        download("mnist", data_dir, [healthy.url], progress=False)
    assert healthy.ranges[0] == "bytes=10000-"
    assert_complete(data_dir, source)


@pytest.mark.parametrize("labelled", [True, False], ids=["content-type", "sniffed"])
def test_html_page_is_recognised_and_the_next_mirror_used(
    source: Path, data_dir: Path, labelled: bool
) -> None:
    with LocalMirror(source) as portal, LocalMirror(source) as good:
        portal.html.add("*")
        portal.configure(html_content_type=labelled)
        download("mnist", data_dir, [portal.url, good.url], progress=False)
        with pytest.raises(DatasetError, match="served an HTML page, not the file") as info:
            download("mnist", data_dir.parent / "other", [portal.url], progress=False)
    assert good.requests == ["/" + name for name in MNIST.files]
    assert_complete(data_dir, source)
    assert TRAIN_IMAGES in str(info.value)
    assert listing(data_dir.parent / "other") == []  # the page was never written


def test_500_then_success_is_retried(source: Path, data_dir: Path) -> None:
    with LocalMirror(source) as mirror:
        mirror.fail_times["/" + TRAIN_LABELS] = 2
        download("mnist", data_dir, [mirror.url], progress=False)
    assert mirror.requests.count("/" + TRAIN_LABELS) == 3
    assert_complete(data_dir, source)


def test_persistent_500_gives_up_after_the_retries(source: Path, data_dir: Path) -> None:
    with LocalMirror(source) as mirror:
        mirror.fail["*"] = 503
        pattern = rf"{TRAIN_IMAGES} from 1 mirror \(http://127\.0\.0\.1:\d+/: 503\)"
        with pytest.raises(DatasetError, match=pattern):
            download("mnist", data_dir, [mirror.url], progress=False)
    # each of the four files is asked for, and retried: a 503 is an answer, not a dead host
    assert len(mirror.requests) == 4 * (1 + downloader.RETRIES)
    assert listing(data_dir) == []


def test_404_is_not_retried(source: Path, data_dir: Path) -> None:
    with LocalMirror(source) as mirror:
        mirror.fail["*"] = 404
        with pytest.raises(DatasetError, match="404"):
            download("mnist", data_dir, [mirror.url], progress=False)
    assert sorted(mirror.requests) == sorted("/" + name for name in DATASETS["mnist"].files)


def test_stale_partial_of_another_file_is_refetched_whole(source: Path, data_dir: Path) -> None:
    """A partial whose bytes are not this file's: the resumed result fails the MD5,
    so the file is fetched again from byte 0 before the mirror is blamed."""
    data_dir.mkdir()
    partial_path(data_dir / TRAIN_IMAGES).write_bytes(b"\x1f\x8b" + bytes(3000))
    with LocalMirror(source) as mirror:
        download("mnist", data_dir, [mirror.url], progress=False)
    assert mirror.ranges[:2] == ["bytes=3002-", None]
    assert_complete(data_dir, source)


def test_partial_longer_than_the_file_starts_over(source: Path, data_dir: Path) -> None:
    data_dir.mkdir()
    size = (source / TEST_LABELS).stat().st_size
    partial_path(data_dir / TEST_LABELS).write_bytes(bytes(size + 10))
    with LocalMirror(source) as mirror:
        download("mnist", data_dir, [mirror.url], progress=False)
    i = mirror.requests.index("/" + TEST_LABELS)
    assert mirror.ranges[i : i + 2] == [f"bytes={size + 10}-", None]  # 416, then whole
    assert_complete(data_dir, source)


# ---------------------------------------------------------------------------
# Local faults


def test_full_disk_is_a_clear_local_error(
    source: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(downloader.os, "fsync", no_space)
    with LocalMirror(source) as first, LocalMirror(source) as second:
        with pytest.raises(DatasetError) as info:
            download("mnist", data_dir, [first.url, second.url], progress=False)
        assert second.requests == []  # another mirror would not help
    message = str(info.value)
    assert message.startswith(f"could not write {data_dir / TRAIN_IMAGES}: No space left")
    assert message.endswith(
        "— free some space on that disk, or pass --data-dir with a folder on another one"
    )
    assert listing(data_dir) == []  # the partial is removed to give the space back


def test_read_only_data_dir_is_a_clear_error(
    source: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir.mkdir()
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if str(path).startswith(str(data_dir)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, mode)

    monkeypatch.setattr(downloader.os, "open", read_only)
    with LocalMirror(source) as mirror, pytest.raises(DatasetError) as info:
        download("mnist", data_dir, [mirror.url], progress=False)
    assert str(info.value) == (
        f"cannot write to {data_dir}: Read-only file system"
        " — pass --data-dir with a writable folder"
    )
    assert mirror.requests == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_data_dir_for_real(source: Path, data_dir: Path) -> None:
    data_dir.mkdir()
    data_dir.chmod(0o555)
    try:
        with LocalMirror(source) as mirror, pytest.raises(DatasetError, match="--data-dir"):
            download("mnist", data_dir, [mirror.url], progress=False)
    finally:
        data_dir.chmod(0o755)


# ---------------------------------------------------------------------------
# Registry: Fashion-MNIST and KMNIST


def test_each_dataset_has_its_own_folder(tmp_path: Path) -> None:
    assert dataset_dir("mnist", tmp_path) == tmp_path
    assert dataset_dir("fashion-mnist", tmp_path) == tmp_path / "fashion-mnist"
    assert dataset_dir("kmnist", tmp_path) == tmp_path / "kmnist"
    for spec in DATASETS.values():
        assert spec.files == MNIST.files  # same names: hence the sub-folders
        assert all(m.startswith(("http://", "https://")) for m in spec.mirrors)
    md5s = [set(spec.checksums.values()) for spec in DATASETS.values()]
    assert len(set.union(*md5s)) == 12  # no dataset's published file is another's


def test_fashion_download_goes_to_its_sub_folder(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "fashion-source"
    checksums = make_dataset(source, n_train=4)
    spec = DATASETS["fashion-mnist"]
    monkeypatch.setitem(DATASETS, "fashion-mnist", dataclasses.replace(spec, checksums=checksums))
    with LocalMirror(source) as mirror:
        written = download("fashion-mnist", data_dir, [mirror.url], progress=False)
    assert written == [data_dir / "fashion-mnist" / name for name in spec.files]
    assert listing(data_dir) == ["fashion-mnist"]
    assert missing_files("fashion-mnist", data_dir) == []
    assert missing_files("mnist", data_dir) == MNIST.files
    images, _ = load_split("fashion-mnist", data_dir, "train")
    assert images.shape == (4, IMAGE_SIDE, IMAGE_SIDE)
    with pytest.raises(DatasetError, match="digitnet download --dataset kmnist") as info:
        load_split("kmnist", data_dir, "test")
    assert str(data_dir / "kmnist" / TEST_IMAGES) in str(info.value)


@pytest.fixture
def debian_fashion() -> Path:
    if not (DEBIAN_FASHION / TRAIN_IMAGES).is_file():
        pytest.skip("Debian's dataset-fashion-mnist package is not installed")
    return DEBIAN_FASHION


def test_debian_fashion_mnist_loads_from_usr_share_datasets(
    debian_fashion: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The package's folder is a data dir's fashion-mnist/ sub-folder, so it just works."""
    images, labels = load_split("fashion-mnist", debian_fashion.parent, "test")
    assert images.shape == (10_000, IMAGE_SIDE, IMAGE_SIDE)
    assert np.bincount(labels).tolist() == [1000] * 10  # balanced, as published
    train_images, train_labels = load_split("fashion-mnist", debian_fashion.parent, "train")
    assert train_images.shape == (60_000, IMAGE_SIDE, IMAGE_SIDE)
    assert np.bincount(train_labels).tolist() == [6000] * 10
    # Debian recompressed the .gz files (no file name in the gzip header), so
    # their MD5s differ from the published ones: one warning per file.
    assert len([r for r in caplog.records if "differs from the published" in r.getMessage()]) == 4


def test_debian_fashion_files_fail_the_published_checksum(
    debian_fashion: Path, data_dir: Path
) -> None:
    with LocalMirror(debian_fashion) as mirror, pytest.raises(ChecksumError):
        download("fashion-mnist", data_dir, [mirror.url], progress=False)
    assert listing(data_dir / "fashion-mnist") == []


# ---------------------------------------------------------------------------
# Real processes: two at once, and one killed with SIGKILL

CHILD = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path
    from digitnet.data import download as downloader, registry
    spec = registry.DATASETS["mnist"]
    checksums = json.loads(sys.argv[3])
    registry.DATASETS["mnist"] = dataclasses.replace(spec, checksums=checksums)
    downloader.download("mnist", Path(sys.argv[1]), [sys.argv[2]], progress=False)
    """
)


def child(data_dir: Path, url: str, checksums: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "PYTHONWARNINGS": "error"}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(var, None)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), url, json.dumps(checksums)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def big_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A 600-image train set (~470 kB), served slowly so processes overlap."""
    folder = tmp_path / "big-source"
    checksums = make_dataset(folder, n_train=600)
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, checksums=checksums))
    return folder, checksums


def test_two_download_processes_at_once_do_not_corrupt_each_other(
    big_source: tuple[Path, dict[str, str]], data_dir: Path
) -> None:
    source, checksums = big_source
    # 16 kB every 20 ms: the train images take ~0.6 s, long enough to overlap
    with LocalMirror(source, delay=0.02, chunk=16384) as mirror:
        first = child(data_dir, mirror.url, checksums)
        second = child(data_dir, mirror.url, checksums)
        outputs = [p.communicate(timeout=60) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    # whoever got the lock second found the files complete and fetched nothing again
    assert sorted(mirror.requests) == sorted("/" + name for name in MNIST.files)
    assert_complete(data_dir, source)


def test_download_killed_with_sigkill_leaves_no_damaged_file_and_resumes(
    big_source: tuple[Path, dict[str, str]], data_dir: Path
) -> None:
    source, checksums = big_source
    part = partial_path(data_dir / TRAIN_IMAGES)
    with LocalMirror(source, delay=0.02, chunk=16384) as mirror:
        proc = child(data_dir, mirror.url, checksums)
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 100_000):
            assert time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # Only the hidden partial (and the dead process's lock file): nothing
        # under a dataset file's name.
        assert missing_files("mnist", data_dir) == MNIST.files
        assert set(listing(data_dir)) <= {part.name, LOCK_NAME}
        kept = part.stat().st_size
        assert kept >= 100_000

        mirror.configure(delay=0.0)
        download("mnist", data_dir, [mirror.url], progress=False)
    resumed_at = int(mirror.ranges[-4].removeprefix("bytes=").removesuffix("-"))
    assert resumed_at == kept
    assert_complete(data_dir, source)


def test_cli_download_and_train_take_dataset(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`download --dataset kmnist` fills data/kmnist/; `train --dataset kmnist` reads it there."""
    from click.testing import CliRunner

    from digitnet.cli import main

    source = tmp_path / "kmnist-source"
    checksums = make_dataset(source, n_train=30, n_test=5)
    spec = DATASETS["kmnist"]
    monkeypatch.setitem(DATASETS, "kmnist", dataclasses.replace(spec, checksums=checksums))
    with LocalMirror(source) as mirror:
        args = ["download", "-q", "--dataset", "kmnist", "--data-dir", str(data_dir)]
        result = CliRunner().invoke(main, [*args, "--mirror", mirror.url])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"downloaded 4 file(s) into {data_dir / 'kmnist'}"
    config = tmp_path / "tiny.yaml"
    config.write_text("validation_size: 10\nhidden_size: 4\nepochs: 1\nbatch_size: 10\n")
    model = tmp_path / "model.npz"
    args = ["train", "-q", "--dataset", "kmnist", "--data-dir", str(data_dir)]
    result = CliRunner().invoke(main, [*args, "--config", str(config), "--output", str(model)])
    assert result.exit_code == 0, result.output
    from digitnet import checkpoint

    saved = checkpoint.load(model)
    assert saved.config.dataset == "kmnist"
    assert saved.metrics["n_train"] == 20
