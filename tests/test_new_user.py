"""What a new user trips over (issue 15): each item as the user met it, through the CLI
where the user met it there.

Downloads only ever talk to LocalMirror servers on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fixed_models import fixed_checkpoint, stroke_png
from http_server import LocalMirror
from PIL import Image

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.data import checksum
from digitnet.data import download as downloader
from digitnet.data.download import download, ensure_dataset
from digitnet.data.idx import load_split
from digitnet.data.registry import DATASETS
from digitnet.errors import ChecksumError, DatasetError
from digitnet.images.reading import DigitReading, Reading
from digitnet.insight import metrics
from digitnet.nn import network
from digitnet.vocabulary import IMAGE_SIDE, N_CLASSES

MNIST = DATASETS["mnist"]
TRAIN_IMAGES, TRAIN_LABELS = MNIST.splits["train"]
TEST_IMAGES, TEST_LABELS = MNIST.splits["test"]


def write_idx(path: Path, array: np.ndarray) -> Path:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture(autouse=True)
def _isolated(isolated_downloads: None) -> None:
    """Every test here runs with conftest's isolated_downloads."""


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 12-train / 3-test synthetic MNIST whose MD5s are registered as the published ones."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 3)):
        images_name, labels_name = MNIST.splits[split]
        write_idx(folder / images_name, rng.integers(0, 256, (n, IMAGE_SIDE, IMAGE_SIDE)))
        write_idx(folder / labels_name, rng.integers(0, N_CLASSES, n))
    checksums = {name: md5_of(folder / name) for name in MNIST.files}
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(MNIST, checksums=checksums))
    return folder


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------------------
# 3. download fetches every file it can; each failure with both MD5s; mirrors by URL


def test_download_fetches_every_file_it_can_and_names_each_failure(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    root = tmp_path / "served"
    (root / "gone").mkdir(parents=True)  # a mirror that has nothing (404)
    shutil.copytree(tiny_mnist, root / "bad")
    for name in (TRAIN_IMAGES, TEST_LABELS):  # this mirror serves two files wrong
        (root / "bad" / name).write_bytes(b"\x1f\x8b not the file")
    data_dir = tmp_path / "data"
    with LocalMirror(root) as server:
        gone, bad = server.url + "gone/", server.url + "bad/"
        with pytest.raises(DatasetError) as info:
            download("mnist", data_dir, [gone, bad], progress=False)
    message = str(info.value)
    # the two good files were fetched all the same
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([TRAIN_LABELS, TEST_IMAGES])
    assert message.startswith("could not download 2 of 4 files: ")
    for name in (TRAIN_IMAGES, TEST_LABELS):
        served = md5_of(root / "bad" / name)
        expected = DATASETS["mnist"].checksums[name]  # the tiny files' MD5s
        assert f"{name} from 2 mirrors ({gone}: 404, {bad}: checksum mismatch" in message
        assert f"(MD5 {served}, expected {expected})" in message
    assert "\n" not in message
    assert message.endswith(f"— download them by hand into {data_dir}/ or pass --mirror URL")
    assert not isinstance(info.value, ChecksumError)  # a 404 is among the reasons


def test_download_with_only_wrong_checksums_is_a_checksum_error(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    shutil.copytree(tiny_mnist, served)
    (served / TEST_IMAGES).write_bytes(b"\x1f\x8b wrong bytes")
    with LocalMirror(served) as server, pytest.raises(ChecksumError) as info:
        download("mnist", tmp_path / "data", [server.url], progress=False)
    assert str(info.value).startswith(f"could not download {TEST_IMAGES} from 1 mirror (")
    assert f"expected {DATASETS['mnist'].checksums[TEST_IMAGES]})" in str(info.value)


def test_an_unreachable_mirror_is_not_asked_again_for_every_file(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = downloader._transfer

    def counting(session, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(url)
        return real(session, url, *args, **kwargs)

    monkeypatch.setattr(downloader, "_transfer", counting)
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    with LocalMirror(tiny_mnist) as server:
        download("mnist", tmp_path / "data", [dead, server.url], progress=False)
    assert [u for u in asked if u.startswith(dead)] == [dead + TRAIN_IMAGES]
    assert len(asked) == 5  # the dead mirror once, then the live one for each of 4 files


# ---------------------------------------------------------------------------
# 4. a mistyped --data-dir is not created; IDX hints name the --data-dir in use


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_missing_data_dir_is_an_error_not_a_new_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "dta"
    args = [command, "--data-dir", str(typo)]
    if command == "evaluate":
        ckpt = tmp_path / "m.npz"
        params = network.init_params(4, "sigmoid", np.random.default_rng(0))
        checkpoint.save(ckpt, checkpoint.Checkpoint(params=params, config=Config(hidden_size=4)))
        args += ["--checkpoint", str(ckpt)]
    else:
        args += ["--epochs", "1", "--mirror", "http://127.0.0.1:9/"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"Error: data folder {typo} does not exist — check --data-dir" in result.output
    assert f"`digitnet download --data-dir {typo}`" in result.output
    assert not typo.exists()


def test_the_default_data_folder_is_still_created(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with LocalMirror(tiny_mnist) as server:
        ensure_dataset("mnist", Path("data"), [server.url], progress=False)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(MNIST.files)


def test_idx_errors_name_the_data_dir_in_use(tiny_mnist: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my data"
    shutil.copytree(tiny_mnist, mine)
    (mine / TEST_IMAGES).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 5))
    with pytest.raises(DatasetError) as info:
        load_split("mnist", mine, "test")
    assert str(info.value).endswith(f"delete it and run `digitnet download --data-dir {mine}`")
    (mine / TEST_IMAGES).unlink()
    with pytest.raises(DatasetError) as info:
        load_split("mnist", mine, "test")
    assert f"run `digitnet download --data-dir {mine}`" in str(info.value)
    fashion = tmp_path / "f"
    (fashion / "fashion-mnist").mkdir(parents=True)
    with pytest.raises(DatasetError) as info:
        load_split("fashion-mnist", fashion, "test")
    assert f"`digitnet download --dataset fashion-mnist --data-dir {fashion}`" in str(info.value)


# ---------------------------------------------------------------------------
# 8. Ctrl-C during download says the partial file will be resumed


def test_ctrl_c_during_download_says_it_will_resume(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = (tiny_mnist / TRAIN_IMAGES).read_bytes()

    def interrupted(response: object) -> Iterator[bytes]:
        yield whole[:100]
        raise KeyboardInterrupt

    monkeypatch.setattr(downloader, "_body", interrupted)
    data_dir = tmp_path / "d"
    with LocalMirror(tiny_mnist) as server:
        result = run("download", "--data-dir", str(data_dir), "--mirror", server.url, "-q")
    assert result.exit_code == 130
    lines = result.output.strip().splitlines()
    assert lines[-1] == (
        f"Error: interrupted — the part of {TRAIN_IMAGES} already fetched is kept, and"
        f" `digitnet download --data-dir {data_dir}` resumes it where it stopped"
    )
    assert "nothing was left half-written" not in result.output
    assert (data_dir / f".{TRAIN_IMAGES}.part").read_bytes() == whole[:100]


# ---------------------------------------------------------------------------
# 11. no progress-bar frames when stderr is not a terminal


def test_download_draws_no_bar_frames_into_a_file_or_pipe(tiny_mnist: Path, tmp_path: Path) -> None:
    with LocalMirror(tiny_mnist) as server:
        result = run("download", "--data-dir", str(tmp_path / "d"), "--mirror", server.url)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output  # CliRunner's stderr is no terminal: no redrawn frames
    assert "it/s" not in result.output
    assert "B/s" not in result.output
    assert result.output.strip().endswith("downloaded 4 file(s) into " + str(tmp_path / "d"))


# ---------------------------------------------------------------------------
# 13. a hand-placed file's checksum warning can be acknowledged once


def test_accepting_a_hand_placed_file_stops_its_warning(
    tiny_mnist: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "d"
    shutil.copytree(tiny_mnist, data_dir)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    write_idx(data_dir / TEST_LABELS, labels)  # placed by hand: not the published file
    load_split("mnist", data_dir, "test")
    [warning] = caplog.records
    assert "--accept-modified" in warning.getMessage()

    result = run("download", "--data-dir", str(data_dir), "--accept-modified", "-q")
    assert result.exit_code == 0, result.output
    assert f"accepted {data_dir / TEST_LABELS} as it is" in result.output
    logging.getLogger("digitnet").propagate = True  # the CLI's logging setup, undone for caplog
    caplog.clear()
    checksum._warned_modified.clear()  # a new process
    assert load_split("mnist", data_dir, "test")[1].tolist() == [3, 1, 4]
    assert not caplog.records

    write_idx(data_dir / TEST_LABELS, np.array([2, 7, 1], dtype=np.uint8))  # changed again
    checksum._warned_modified.clear()
    load_split("mnist", data_dir, "test")
    assert len(caplog.records) == 1


# ---------------------------------------------------------------------------
# 5, 7, 13: predict and explain


def flat_checkpoint(path: Path, digit: int, confidence: float) -> Path:
    """A checkpoint whose every reading is ``digit`` with ``confidence``, the other nine
    sharing the rest."""
    probabilities = np.full(N_CLASSES, (1 - confidence) / (N_CLASSES - 1))
    probabilities[digit] = confidence
    return fixed_checkpoint(path, probabilities)


def test_predict_names_a_failing_file_by_its_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for sub in ("a", "b"):
        (tmp_path / "scans" / sub).mkdir(parents=True)
        (tmp_path / "scans" / sub / "scan.png").write_text("not an image")
    ckpt = flat_checkpoint(tmp_path / "m.npz", 7, 0.9)
    result = run("predict", "scans", "--checkpoint", str(ckpt))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2
    assert errors[0].startswith(f"Error: {Path('scans/a/scan.png')} is not an image")
    assert errors[1].startswith(f"Error: {Path('scans/b/scan.png')} is not an image")


@pytest.mark.parametrize(("confidence", "uncertain"), [(0.69, True), (0.71, False)])
def test_default_threshold_and_question_mark_on_a_one_digit_image(
    tmp_path: Path, confidence: float, uncertain: bool
) -> None:
    """0.7 is the documented default; an uncertain single digit gets its "?" too."""
    ckpt = flat_checkpoint(tmp_path / "m.npz", 7, confidence)
    image = stroke_png(tmp_path / "one.png")
    result = run("predict", str(image), "--checkpoint", str(ckpt))
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    if uncertain:
        assert line == f"{image}: 7 ({confidence:.1%}?)  uncertain"
    else:
        assert line == f"{image}: 7 ({confidence:.1%})"
    data = json.loads(run("predict", str(image), "--checkpoint", str(ckpt), "--json").output)
    assert data["uncertain"] is uncertain


def test_a_number_is_uncertain_when_any_digit_is_and_shows_which() -> None:
    from digitnet.commands.predict import _format_text

    sure = DigitReading(digit=2, confidence=0.99, probabilities=[0.0] * 10, uncertain=False)
    unsure = DigitReading(digit=1, confidence=0.5, probabilities=[0.0] * 10, uncertain=True)
    reading = Reading(file="n.png", digits=[sure, unsure], inputs=np.zeros((2, 784), np.float32))
    assert reading.uncertain
    assert reading.confidence == 0.5
    assert _format_text(reading, 1) == "n.png: 21  [2 99.0%, 1 50.0%?]  uncertain"
    both_sure = Reading(file="n.png", digits=[sure, sure], inputs=np.zeros((2, 784), np.float32))
    assert not both_sure.uncertain
    assert _format_text(both_sure, 1) == "n.png: 22  [2 99.0%, 2 99.0%]"


def test_explain_uses_the_bundled_model_like_predict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no checkpoints/model.npz here
    image = stroke_png(tmp_path / "one.png")
    predicted = run("predict", str(image))
    explained = run("explain", str(image))
    assert predicted.exit_code == 0, predicted.output
    assert explained.exit_code == 0, explained.output
    assert "Using the model bundled with digitnet" in explained.output
    digit = predicted.output.strip().splitlines()[-1].split(": ")[1][0]
    assert f"prediction {digit} (" in explained.output


def test_explain_traces_each_digit_of_a_number(tmp_path: Path) -> None:
    ckpt = flat_checkpoint(tmp_path / "m.npz", 4, 0.9)
    image = stroke_png(tmp_path / "two.png", bars=2)
    result = run("explain", str(image), "--checkpoint", str(ckpt))
    assert result.exit_code == 0, result.output
    assert f"{image} holds 2 digits, read as 44: each is traced, left to right" in result.output
    assert "digit 1 of 2:" in result.output
    assert "digit 2 of 2:" in result.output
    assert result.output.count("prediction 4 (90.0%)") == 2
    lines = run("explain", str(image), "--checkpoint", str(ckpt), "--json").output.splitlines()
    traces = [json.loads(line) for line in lines]
    assert [(t["digit_index"], t["digits_in_image"]) for t in traces] == [(1, 2), (2, 2)]
    single = run("explain", str(image), "--checkpoint", str(ckpt), "--single", "--json")
    assert json.loads(single.output)["digits_in_image"] == 1
    labelled = run("explain", str(image), "--checkpoint", str(ckpt), "--label", "2")
    assert labelled.exit_code == 2
    assert "--label names one digit, but" in labelled.output


# ---------------------------------------------------------------------------
# 6. hints point to options that exist


def test_info_hint_names_its_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("info")
    assert result.exit_code == 1
    assert "--checkpoint" not in result.output
    assert "name another as an argument: `digitnet info CKPT`" in result.output
    assert "CKPT defaults to checkpoints/model.npz" in run("info", "--help").output


def test_a_typed_checkpoint_path_that_is_missing_is_called_a_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("evaluate", "--checkpoint", "missing.npz")
    assert result.exit_code == 1
    assert result.output.startswith("Error: checkpoint missing.npz does not exist — check the path")
    assert "pass --checkpoint" not in result.output
    default = run("evaluate")
    assert "name another as --checkpoint CKPT" in default.output


# ---------------------------------------------------------------------------
# 10. image-too-large errors


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(16)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("side", "megapixels"), [(30000, 900), (10000, 100)])
def test_too_large_image_says_the_real_limit_in_plain_words(
    tmp_path: Path, side: int, megapixels: int
) -> None:
    from digitnet.errors import ImageError
    from digitnet.images.decode import load_image

    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(side, side))
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message == (
        f"{path} is too large to decode safely ({megapixels} megapixels)"
        " — scale it down below 89.5 megapixels"
    )
    assert "Decompression" not in message


# ---------------------------------------------------------------------------
# 13. report.json's error; augment-preview's column titles


def test_error_is_counted_not_one_minus_accuracy() -> None:
    labels = np.zeros(10000, dtype=np.int64)
    predicted = labels.copy()
    predicted[:465] = 1
    data = metrics.report(labels, predicted).to_dict()
    assert data["error"] == 0.0465
    assert json.dumps(data["error"]) == "0.0465"


def test_augment_preview_names_its_columns(tiny_mnist: Path, tmp_path: Path) -> None:
    config = tmp_path / "aug.yaml"
    config.write_text("augment_rotate: 10\n", encoding="utf-8")
    out = tmp_path / "preview.png"
    result = run(
        "augment-preview",
        "--config",
        str(config),
        "--data-dir",
        str(tiny_mnist),
        "--samples",
        "2",
        "--variants",
        "3",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    picture = np.asarray(Image.open(out))
    cell = (IMAGE_SIDE + 2) * 3
    grid_height = (2 * (IMAGE_SIDE + 2) + 2) * 3
    band = picture.shape[0] - grid_height
    assert band > 0  # a band of titles above the grid
    titles = picture[:band]
    assert (titles[:, : cell - 6] < 128).any()  # "original" above the first column
    assert (titles[:, cell + 10 :] < 128).any()  # "distortions" above the others


# ---------------------------------------------------------------------------
# logging state does not leak from a CLI test into a later caplog test


def test_logging_state_is_restored_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_order="""
        import logging
        import pytest
        from click.testing import CliRunner
        from digitnet.cli import main

        @pytest.fixture(scope="module")
        def ran_the_cli(tmp_path_factory):  # set up before any test's own fixtures
            CliRunner().invoke(main, ["info", str(tmp_path_factory.mktemp("m") / "none.npz")])

        def test_a_cli_command_runs_first(ran_the_cli, tmp_path):
            CliRunner().invoke(main, ["info", str(tmp_path / "none.npz")])

        def test_the_library_logs_without_printing(caplog, capsys):
            logging.getLogger("digitnet").warning("seen")
            assert [r.getMessage() for r in caplog.records] == ["seen"]
            assert capsys.readouterr().err == ""  # printing is the CLI's job, in its run only
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
