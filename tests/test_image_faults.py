"""Whatever is on the user's disk: each bad image is one clear per-file error,
and in a batch every other image is still predicted.

Complements tests/test_preprocess.py (issue 5) with hand-crafted hostile files
(a PNG header claiming 30000×30000 pixels, a bit-flipped IDAT) and with the
`predict` command run on a mixed batch.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.errors import ImageError
from digitnet.images.decode import load_image
from digitnet.images.preprocess import image_to_input
from digitnet.nn import network


def digit_image() -> Image.Image:
    """A dark 7 on white paper, 60×60."""
    pixels = np.full((60, 60), 255, np.uint8)
    pixels[10:16, 12:48] = 0  # the bar
    for row in range(16, 52):  # the stem, slanting left
        col = 44 - (row - 16) // 2
        pixels[row, col - 3 : col + 3] = 0
    return Image.fromarray(pixels)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width × height`` gray pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" + bytes(16))  # one short row: the rest is "missing"
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.png"
    digit_image().save(path)
    return path


def bad_files(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what the error must say)."""
    whole = good.read_bytes()
    files: dict[str, tuple[Path, str]] = {}

    def add(name: str, data: bytes | None, says: str) -> None:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        files[name] = (path, says)

    add("truncated.png", whole[: len(whole) // 2], "truncated or corrupt")
    idat = whole.index(b"IDAT") + 8
    flipped = bytearray(whole)
    for i in range(idat, min(idat + 40, len(whole) - 12)):
        flipped[i] ^= 0x5A
    add("flipped.png", bytes(flipped), "truncated or corrupt")
    add("bomb.png", png_claiming(30000, 30000), "too large to decode safely")
    add("warn-bomb.png", png_claiming(10000, 10000), "too large to decode safely")
    add("notes.png", b"shopping list: eggs, milk\n", "is not an image Pillow can read")
    add("empty.png", b"", "is not an image Pillow can read")
    (folder / "folder.png").mkdir()
    add("folder.png", None, "is a directory")
    add("missing.png", None, "does not exist")
    blank = folder / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    files["blank.png"] = (blank, "no digit found")
    return files


def test_each_bad_file_is_a_one_line_image_error(tmp_path: Path, good: Path) -> None:
    for name, (path, says) in bad_files(tmp_path, good).items():
        with pytest.raises(ImageError) as info:
            image_to_input(path)
        message = str(info.value)
        assert says in message, name
        assert name in message
        assert "\n" not in message
        assert " — " in message  # and what to do about it


def test_decompression_bomb_is_refused_without_allocating(tmp_path: Path) -> None:
    """30000×30000 = 900 megapixels claimed by a 100-byte file: refused from the header."""
    import tracemalloc

    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(30000, 30000))
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="too large to decode safely"):
            load_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path, good: Path) -> None:
    good.chmod(0)
    try:
        with pytest.raises(ImageError, match="permission denied"):
            image_to_input(good)
    finally:
        good.chmod(0o644)


def test_animated_image_uses_the_first_frame_and_says_so(
    tmp_path: Path, good: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = digit_image()
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[first.rotate(90)], duration=100)
    with caplog.at_level(logging.WARNING, logger="digitnet"):
        x = image_to_input(path)
    np.testing.assert_array_equal(x, image_to_input(good))  # the first frame, not the second
    [record] = caplog.records
    assert record.getMessage() == f"{path} has 2 frames: reading the first one only"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    params = network.init_params(16, "sigmoid", np.random.default_rng(0))
    path = tmp_path / "model.npz"
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=Config(hidden_size=16)))
    return path


def test_predict_batch_reports_each_bad_file_and_predicts_the_rest(
    tmp_path: Path, good: Path, model: Path
) -> None:
    bad = bad_files(tmp_path, good)
    second = tmp_path / "second.png"
    digit_image().rotate(5, fillcolor=255).save(second)
    order = [good, *(p for p, _ in bad.values()), second]
    runner = CliRunner()
    result = runner.invoke(main, ["predict", *map(str, order), "--checkpoint", str(model)])
    assert result.exit_code == 1
    out_lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in out_lines] == [str(good), str(second)]
    err_lines = result.stderr.splitlines()
    assert len(err_lines) == len(bad)
    for line, (name, (_, says)) in zip(err_lines, bad.items(), strict=True):
        assert line.startswith("Error: ")
        assert name in line
        assert says in line
    assert "Traceback" not in result.output


def test_predict_json_gives_one_object_per_file(tmp_path: Path, good: Path, model: Path) -> None:
    bad = bad_files(tmp_path, good)
    order = [good, *(p for p, _ in bad.values())]
    result = CliRunner().invoke(
        main, ["predict", *map(str, order), "--checkpoint", str(model), "--json"]
    )
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["file"] for row in rows] == [str(p) for p in order]
    assert 0 <= rows[0]["digit"] <= 9
    assert all("error" in row and "digit" not in row for row in rows[1:])
