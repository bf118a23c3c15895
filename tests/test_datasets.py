"""Tests for digitnet.data: IDX parsing, split checks, and the downloader.

The downloader only ever talks to LocalMirror servers on 127.0.0.1. Error cases
use tiny synthetic IDX files written here; tests that need real MNIST use the
`mnist_dir` fixture and skip without $DIGITNET_TEST_MNIST.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import shutil
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from http_server import LocalMirror

from digitnet.data import download as downloader
from digitnet.data.download import download, ensure_dataset
from digitnet.data.idx import load_split, read_idx
from digitnet.data.registry import DATASETS, default_data_dir, default_mirrors, missing_files
from digitnet.errors import ChecksumError, DatasetError
from digitnet.vocabulary import IMAGE_SIDE
from digitnet.vocabulary import N_CLASSES as NUM_CLASSES

MNIST = DATASETS["mnist"]
TRAIN_IMAGES, TRAIN_LABELS = MNIST.splits["train"]
TEST_IMAGES, TEST_LABELS = MNIST.splits["test"]
# The shared train-images file is a reconstruction (shared/mnist/README.md).
RECONSTRUCTED_TRAIN_IMAGES_MD5 = "a0800b9e8c812b9e45b911451b965316"


# ---------------------------------------------------------------------------
# Helpers and fixtures


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write ``array`` (uint8) as a gzip IDX file; ``magic`` overrides the header's."""
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def write_raw_idx(path: Path, header: bytes, payload: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(header + payload)
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def listing(folder: Path) -> list[str]:
    """Every entry in ``folder``, hidden ones included (temp files start with a dot)."""
    return sorted(p.name for p in folder.iterdir())


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _isolated(isolated_downloads: None) -> None:
    """Every test here runs with conftest's isolated_downloads."""


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a 5-train / 3-test synthetic MNIST, registered as "mnist".

    The registry's MD5s are swapped for those of these files, so they count as
    the published ones.
    """
    folder = tmp_path / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("test", 3)):
        images_name, labels_name = MNIST.splits[split]
        write_idx(folder / images_name, rng.integers(0, 256, (n, IMAGE_SIDE, IMAGE_SIDE)))
        write_idx(folder / labels_name, rng.integers(0, NUM_CLASSES, n))
    checksums = {name: md5_of(folder / name) for name in MNIST.files}
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, checksums=checksums))
    return folder


@pytest.fixture
def mirror(tiny_mnist: Path) -> Iterator[LocalMirror]:
    with LocalMirror(tiny_mnist) as server:
        yield server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where downloads go: does not exist yet, so download() must create it."""
    return tmp_path / "data"


# ---------------------------------------------------------------------------
# Registry and defaults


def test_registry_lists_a_checksum_for_every_split_file() -> None:
    for spec in DATASETS.values():
        split_files = {name for pair in spec.splits.values() for name in pair}
        assert split_files == set(spec.checksums)
        assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in spec.checksums.values())
        assert spec.mirrors


def test_default_data_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_data_dir() == Path("data")
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_env_mirrors_come_first_then_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_mirrors("mnist") == list(MNIST.mirrors)
    monkeypatch.setenv("DIGITNET_MIRROR", " http://a/mnist/, http://b/\n" + MNIST.mirrors[0])
    assert default_mirrors("mnist") == ["http://a/mnist/", "http://b/", *MNIST.mirrors]


def test_unknown_dataset_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetError, match="unknown dataset 'emnist' — choose one of: fashion-mnist, kmnist, mnist"
    ):
        missing_files("emnist", tmp_path)


def test_missing_files(tiny_mnist: Path, tmp_path: Path) -> None:
    assert missing_files("mnist", tiny_mnist) == []
    assert missing_files("mnist", tmp_path / "nowhere") == MNIST.files


# ---------------------------------------------------------------------------
# read_idx and load_split on real MNIST


def test_read_idx_real_test_set(mnist_dir: Path) -> None:
    images = read_idx(mnist_dir / TEST_IMAGES)
    labels = read_idx(mnist_dir / TEST_LABELS)
    assert images.shape == (10_000, IMAGE_SIDE, IMAGE_SIDE)
    assert images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(NUM_CLASSES))


def test_load_split_genuine_files_load_without_warning(
    mnist_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images, labels = load_split("mnist", mnist_dir, "test")
    assert images.shape == (10_000, IMAGE_SIDE, IMAGE_SIDE)
    assert labels[:3].tolist() == [7, 2, 1]  # the well-known first test digits
    assert not caplog.records


def test_load_split_warns_once_about_a_modified_file_and_uses_it(
    mnist_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert md5_of(mnist_dir / TRAIN_IMAGES) == RECONSTRUCTED_TRAIN_IMAGES_MD5
    with caplog.at_level(logging.WARNING, logger="digitnet"):
        images, labels = load_split("mnist", mnist_dir, "train")
        load_split("mnist", mnist_dir, "train")
    assert images.shape == (60_000, IMAGE_SIDE, IMAGE_SIDE)
    assert labels.shape == (60_000,)
    [record] = caplog.records  # once per file, not once per call
    message = record.getMessage()
    assert TRAIN_IMAGES in message
    assert RECONSTRUCTED_TRAIN_IMAGES_MD5 in message
    assert "\n" not in message


# ---------------------------------------------------------------------------
# Malformed files


def test_read_idx_writable_synthetic_round_trip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    loaded = read_idx(write_idx(tmp_path / "x.gz", array))
    np.testing.assert_array_equal(loaded, array)
    loaded[0, 0, 0] = 1  # callers may modify the arrays in place


@pytest.mark.parametrize(
    ("header", "payload", "why"),
    [
        pytest.param(struct.pack(">I", 0x12340803), b"", "bad magic", id="magic"),
        pytest.param(struct.pack(">I", 0x00000804), b"", "bad magic", id="too-many-dims"),
        pytest.param(struct.pack(">II", 0x00000D01, 4), bytes(16), "element type", id="float"),
        pytest.param(b"\x00\x00", b"", "shorter than an IDX header", id="short"),
        pytest.param(struct.pack(">II", 0x00000803, 2), b"", "header is truncated", id="dims"),
        pytest.param(
            struct.pack(">IIII", 0x00000803, 2, 28, 28), bytes(28 * 28), "holds 784", id="few"
        ),
        pytest.param(struct.pack(">II", 0x00000801, 3), bytes(4), "holds 4", id="many"),
        pytest.param(
            struct.pack(">IIII", 0x00000803, 1000, 28, 28), bytes(10), "holds 10", id="lies-a-bit"
        ),
        pytest.param(
            struct.pack(">IIII", 0x00000803, 2**32 - 1, 2**32 - 1, 2**32 - 1),
            bytes(10),
            "more than the 256 MiB",
            id="lying-header",
        ),
    ],
)
def test_read_idx_rejects_malformed_header(
    tmp_path: Path, header: bytes, payload: bytes, why: str
) -> None:
    path = write_raw_idx(tmp_path / "bad-idx.gz", header, payload)
    with pytest.raises(DatasetError, match=why) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "is not a valid IDX file" in str(info.value)


@pytest.mark.parametrize(
    ("header", "payload", "why"),
    [
        (struct.pack(">I", 0x12340803), b"", "bad magic number 0x12340803"),
        (struct.pack(">I", 0x00000800), b"", "bad magic number 0x00000800"),  # no dimensions
        (struct.pack(">I", 0x00000804), b"", "bad magic number 0x00000804"),  # 4 dimensions
        (
            struct.pack(">II", 0x00000B01, 4),
            bytes(16),
            "element type 0x0b is not unsigned byte (0x08)",
        ),
        (
            struct.pack(">II", 0x0000FF01, 4),
            bytes(4),
            "element type 0xff is not unsigned byte (0x08)",
        ),
        (b"\x00\x00\x08", b"", "file is shorter than an IDX header"),
        (struct.pack(">III", 0x00000803, 2, 28), b"", "header is truncated"),
        (
            struct.pack(">IIII", 0x803, 2, 28, 28),
            bytes(784),
            "header says 2x28x28 = 1568 bytes, file holds 784",
        ),
        (struct.pack(">II", 0x801, 3), bytes(4), "header says 3 = 3 bytes, file holds 4"),
        (struct.pack(">IIII", 0x803, 0, 28, 28), b"", "header claims 0x28x28: no data"),
        (
            struct.pack(">IIII", 0x803, 60_000, 100, 100),
            bytes(10),
            "header claims 60000x100x100 = 600000000 bytes, more than the 256 MiB a dataset"
            " file may hold",
        ),
    ],
)
def test_read_idx_says_exactly_what_is_wrong_and_what_to_do(
    tmp_path: Path, header: bytes, payload: bytes, why: str
) -> None:
    path = write_raw_idx(tmp_path / "bad-idx.gz", header, payload)
    with pytest.raises(DatasetError) as info:
        read_idx(path, "digitnet download --data-dir elsewhere")
    assert str(info.value) == (
        f"{path} is not a valid IDX file: {why}"
        " — delete it and run `digitnet download --data-dir elsewhere`"
    )


def test_read_idx_takes_a_file_of_exactly_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digitnet.data import idx

    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 4 * 28 * 28)
    exact = write_idx(tmp_path / "exact.gz", np.ones((4, 28, 28), dtype=np.uint8))
    assert read_idx(exact).shape == (4, 28, 28)
    over = write_idx(tmp_path / "over.gz", np.ones((5, 28, 28), dtype=np.uint8))
    with pytest.raises(DatasetError, match="header claims 5x28x28 = 3920 bytes, more than the"):
        read_idx(over)


def test_read_idx_missing_file_and_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        read_idx(tmp_path / "none.gz")
    assert str(info.value) == (
        f"{tmp_path / 'none.gz'} not found — run `digitnet download` (or check --data-dir)"
    )
    with pytest.raises(DatasetError) as info:
        read_idx(tmp_path)  # a folder: gzip's open fails with IsADirectoryError
    assert str(info.value) == (
        f"cannot read {tmp_path}: Is a directory — check that it is a readable file"
    )


def test_read_idx_rejects_truncated_gzip(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels.gz", np.zeros(5000, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert str(info.value) == (
        f"{path} is not a valid IDX file: gzip data is truncated"
        " — delete it and run `digitnet download`"
    )


def test_read_idx_rejects_non_gzip(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert str(info.value) == (
        f"{path} is not a valid IDX file: not gzip data, or corrupt"
        " — delete it and run `digitnet download`"
    )


def test_load_split_rejects_label_count_mismatch(tiny_mnist: Path) -> None:
    write_idx(tiny_mnist / TEST_LABELS, np.zeros(4, dtype=np.uint8))  # 3 images
    with pytest.raises(DatasetError, match="4 labels for 3 images") as info:
        load_split("mnist", tiny_mnist, "test")
    assert TEST_LABELS in str(info.value)


def test_load_split_rejects_label_out_of_range(tiny_mnist: Path) -> None:
    write_idx(tiny_mnist / TEST_LABELS, np.array([1, 10, 2], dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"label 10 is out of range 0\.\.9") as info:
        load_split("mnist", tiny_mnist, "test")
    assert TEST_LABELS in str(info.value)


def test_load_split_rejects_wrong_image_size(tiny_mnist: Path) -> None:
    write_idx(tiny_mnist / TEST_IMAGES, np.zeros((3, 27, 27), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"shape \(n, 28, 28\)") as info:
        load_split("mnist", tiny_mnist, "test")
    assert TEST_IMAGES in str(info.value)


def test_load_split_rejects_files_swapped(tiny_mnist: Path) -> None:
    shutil.copy(tiny_mnist / TEST_LABELS, tiny_mnist / TEST_IMAGES)
    with pytest.raises(DatasetError, match=TEST_IMAGES):
        load_split("mnist", tiny_mnist, "test")


def test_load_split_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="digitnet download") as info:
        load_split("mnist", tmp_path, "train")
    assert TRAIN_IMAGES in str(info.value)
    assert "--data-dir" in str(info.value)


def test_load_split_unknown_split(tiny_mnist: Path) -> None:
    with pytest.raises(DatasetError, match="unknown split 'validation'"):
        load_split("mnist", tiny_mnist, "validation")


# ---------------------------------------------------------------------------
# Download


def test_download_fetches_and_verifies_every_file(
    mirror: LocalMirror, tiny_mnist: Path, data_dir: Path
) -> None:
    written = download("mnist", data_dir, [mirror.url], progress=False)
    assert written == [data_dir / name for name in MNIST.files]
    assert listing(data_dir) == sorted(MNIST.files)  # no temp files left
    for name in MNIST.files:
        assert (data_dir / name).read_bytes() == (tiny_mnist / name).read_bytes()
    images, labels = load_split("mnist", data_dir, "train")
    assert images.shape == (5, IMAGE_SIDE, IMAGE_SIDE)
    assert labels.shape == (5,)


def test_download_shows_progress_on_stderr(
    mirror: LocalMirror, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download("mnist", data_dir, [mirror.url])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert TRAIN_IMAGES in captured.err


def test_download_falls_back_to_next_mirror_after_404(tiny_mnist: Path, data_dir: Path) -> None:
    with LocalMirror(tiny_mnist) as first, LocalMirror(tiny_mnist) as second:
        first.fail["/" + TRAIN_LABELS] = 404
        download("mnist", data_dir, [first.url, second.url], progress=False)
    assert first.requests == ["/" + name for name in MNIST.files]
    assert second.requests == ["/" + TRAIN_LABELS]
    assert listing(data_dir) == sorted(MNIST.files)


def test_download_falls_back_after_checksum_mismatch(
    tiny_mnist: Path, data_dir: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_mnist, tampered)
    write_idx(tampered / TEST_IMAGES, np.ones((3, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8))
    with LocalMirror(tampered) as bad, LocalMirror(tiny_mnist) as good:
        download("mnist", data_dir, [bad.url, good.url], progress=False)
    assert good.requests == ["/" + TEST_IMAGES]
    assert md5_of(data_dir / TEST_IMAGES) == md5_of(tiny_mnist / TEST_IMAGES)
    assert listing(data_dir) == sorted(MNIST.files)


def test_download_rejects_the_reconstructed_train_images(mnist_dir: Path, data_dir: Path) -> None:
    """The shared train-images file is not the published one: it must not be accepted."""
    with LocalMirror(mnist_dir) as server, pytest.raises(ChecksumError) as info:
        download("mnist", data_dir, [server.url], progress=False)
    assert server.requests == ["/" + name for name in MNIST.files]  # the others still fetched
    assert str(info.value).startswith(
        f"could not download {TRAIN_IMAGES} from 1 mirror ({server.url}: checksum mismatch"
        f" (MD5 {RECONSTRUCTED_TRAIN_IMAGES_MD5}, expected {MNIST.checksums[TRAIN_IMAGES]}))"
    )
    # nothing partial, nothing unverified; the three genuine files are in place
    assert listing(data_dir) == sorted([TRAIN_LABELS, TEST_IMAGES, TEST_LABELS])


def test_download_genuine_files_with_a_hand_placed_one_kept(
    mnist_dir: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Real MNIST, real published MD5s: t10k files are fetched and verified; the
    hand-placed reconstruction of train-images is kept (with a warning), not replaced."""
    data_dir.mkdir()
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        shutil.copy(mnist_dir / name, data_dir / name)
    with LocalMirror(mnist_dir) as server:
        written = download("mnist", data_dir, [server.url], progress=False)
    assert written == [data_dir / TEST_IMAGES, data_dir / TEST_LABELS]
    assert server.requests == ["/" + TEST_IMAGES, "/" + TEST_LABELS]
    assert md5_of(data_dir / TEST_IMAGES) == MNIST.checksums[TEST_IMAGES]
    assert md5_of(data_dir / TEST_LABELS) == MNIST.checksums[TEST_LABELS]
    assert md5_of(data_dir / TRAIN_IMAGES) == RECONSTRUCTED_TRAIN_IMAGES_MD5
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert TRAIN_IMAGES in record.getMessage()
    assert listing(data_dir) == sorted(MNIST.files)


def test_download_all_mirrors_failing_is_one_line(
    tiny_mnist: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir.parent)
    with LocalMirror(tiny_mnist) as gone, LocalMirror(tiny_mnist) as forbidden:
        gone.fail["*"] = 404
        forbidden.fail["*"] = 403
        mirrors = [gone.url, forbidden.url, refused_url()]
        with pytest.raises(DatasetError) as info:
            download("mnist", Path("data"), mirrors, progress=False)
    message = str(info.value)
    assert not isinstance(info.value, ChecksumError)
    assert "\n" not in message
    assert message.startswith(
        f"could not download 4 of 4 files: {TRAIN_IMAGES} from 3 mirrors ({gone.url}: 404,"
        f" {forbidden.url}: 403, {mirrors[2]}: connection failed); {TRAIN_LABELS} from 3 mirrors"
    )
    assert message.endswith("— download them by hand into data/ or pass --mirror URL")
    assert listing(data_dir) == []


def test_download_is_a_no_op_when_files_are_valid(mirror: LocalMirror, tiny_mnist: Path) -> None:
    assert download("mnist", tiny_mnist, [mirror.url], progress=False) == []
    ensure_dataset("mnist", tiny_mnist, [mirror.url], progress=False)
    assert mirror.requests == []


def test_download_keeps_a_hand_placed_file(
    mirror: LocalMirror, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir.mkdir()
    mine = write_idx(data_dir / TEST_LABELS, np.array([3, 1, 4], dtype=np.uint8))
    before = mine.read_bytes()
    download("mnist", data_dir, [mirror.url], progress=False)
    assert mine.read_bytes() == before
    assert "/" + TEST_LABELS not in mirror.requests
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert TEST_LABELS in record.getMessage()
    # and it is used, with the same warning only once per process
    caplog.clear()
    _, labels = load_split("mnist", data_dir, "test")
    assert labels.tolist() == [3, 1, 4]
    assert not caplog.records


def test_ensure_dataset_fetches_only_missing_files(
    mirror: LocalMirror, tiny_mnist: Path, data_dir: Path
) -> None:
    data_dir.mkdir()
    for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES):
        shutil.copy(tiny_mnist / name, data_dir / name)
    ensure_dataset("mnist", data_dir, [mirror.url], progress=False)
    assert mirror.requests == ["/" + TEST_LABELS]
    assert missing_files("mnist", data_dir) == []


def test_interrupted_download_keeps_only_a_hidden_partial_then_resumes(
    mirror: LocalMirror, tiny_mnist: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C mid-file: no file under a dataset name, one resumable partial; the
    next download asks for the rest with a Range request and completes it."""
    whole = (tiny_mnist / TRAIN_IMAGES).read_bytes()

    def interrupted(response: requests.Response) -> Iterator[bytes]:
        yield whole[:1000]
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(downloader, "_body", interrupted)
        with pytest.raises(KeyboardInterrupt):
            download("mnist", data_dir, [mirror.url], progress=False)
    assert listing(data_dir) == [f".{TRAIN_IMAGES}.part"]
    assert (data_dir / f".{TRAIN_IMAGES}.part").read_bytes() == whole[:1000]

    download("mnist", data_dir, [mirror.url], progress=False)
    assert mirror.ranges[mirror.requests.index("/" + TRAIN_IMAGES, 1)] == "bytes=1000-"
    assert listing(data_dir) == sorted(MNIST.files)
    assert (data_dir / TRAIN_IMAGES).read_bytes() == whole


def test_local_write_error_is_not_blamed_on_mirrors(
    tiny_mnist: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("digitnet.data.download.os.replace", disk_full)
    with LocalMirror(tiny_mnist) as first, LocalMirror(tiny_mnist) as second:
        with pytest.raises(DatasetError, match="No space left on device") as info:
            download("mnist", data_dir, [first.url, second.url], progress=False)
        assert second.requests == []  # another mirror would not help
    assert str(data_dir / TRAIN_IMAGES) in str(info.value)
    assert listing(data_dir) == []


def test_load_split_names_the_splits_there_are(tiny_mnist: Path) -> None:
    with pytest.raises(DatasetError) as info:
        load_split("mnist", tiny_mnist, "validation")
    assert str(info.value) == "unknown split 'validation' — choose one of: train, test"


def test_a_damaged_labels_file_names_the_download_for_its_data_dir(tiny_mnist: Path) -> None:
    (tiny_mnist / TEST_LABELS).write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DatasetError) as info:
        load_split("mnist", tiny_mnist, "test")
    assert str(info.value) == (
        f"{tiny_mnist / TEST_LABELS} is not a valid IDX file: not gzip data, or corrupt"
        f" — delete it and run `digitnet download --data-dir {tiny_mnist}`"
    )


def test_labels_must_be_one_dimensional(tiny_mnist: Path) -> None:
    write_idx(tiny_mnist / TEST_LABELS, np.zeros((3, 1), dtype=np.uint8))
    with pytest.raises(DatasetError) as info:
        load_split("mnist", tiny_mnist, "test")
    assert str(info.value) == (
        f"{tiny_mnist / TEST_LABELS} is not a valid IDX file: expected a 1-D array of labels,"
        f" got shape (3, 1) — delete it and run `digitnet download --data-dir {tiny_mnist}`"
    )


def test_a_gzip_bomb_behind_a_small_header_is_read_no_further(tmp_path: Path) -> None:
    """A header claiming 10 labels followed by 64 MB of zeros (64 kB compressed): only
    what the header claims, plus one byte to notice the surplus, is inflated."""
    import tracemalloc

    path = tmp_path / "labels.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">II", 0x801, 10))
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as info:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{path} is not a valid IDX file: header says 10 = 10 bytes, file holds 11"
        " — delete it and run `digitnet download`"
    )
    assert peak < 4 << 20, peak
