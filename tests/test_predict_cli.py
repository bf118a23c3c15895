"""`digitnet predict` on users' images: numbers, uncertainty, folders, CSV, what the
network saw, and the bundled model."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont
from render_digits import fonts

from digitnet.cli import main
from digitnet.images.reading import bundled_checkpoint


def draw(text: str, size: tuple[int, int] = (360, 140), font_size: int = 90) -> Image.Image:
    """Dark digits on white paper, in DejaVu Sans (ships with matplotlib)."""
    image = Image.new("L", size, 255)
    font = ImageFont.truetype(str(fonts()[0]), font_size)
    ImageDraw.Draw(image).text((20, 15), text, fill=0, font=font)
    return image


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def model() -> str:
    return str(bundled_checkpoint())


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in [("seven", "7"), ("year", "2016"), ("three", "3")]:
        paths[name] = tmp_path / f"{name}.png"
        draw(text).save(paths[name])
    paths["blank"] = tmp_path / "blank.png"
    Image.new("RGB", (80, 60), (240, 240, 240)).save(paths["blank"])
    return paths


def test_one_digit_text_and_top_k(runner, model, images):
    result = runner.invoke(main, ["predict", str(images["seven"]), "--checkpoint", model])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{images['seven']}: 7 (")
    top3 = runner.invoke(
        main, ["predict", str(images["seven"]), "--checkpoint", model, "--top-k", "3"]
    )
    assert top3.stdout.count("%") == 3


def test_number_is_read_digit_by_digit(runner, model, images):
    result = runner.invoke(main, ["predict", str(images["year"]), "--checkpoint", model, "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["number"] == "2016"
    assert [d["digit"] for d in row["digits"]] == [2, 0, 1, 6]
    assert row["confidence"] == pytest.approx(min(d["confidence"] for d in row["digits"]))
    assert "digit" not in row  # several digits: no single "digit" key
    text = runner.invoke(main, ["predict", str(images["year"]), "--checkpoint", model])
    assert text.stdout.startswith(f"{images['year']}: 2016  [2 ")


def test_single_reads_one_digit(runner, model, images):
    result = runner.invoke(
        main, ["predict", str(images["year"]), "--checkpoint", model, "--single", "--json"]
    )
    row = json.loads(result.stdout)
    assert len(row["number"]) == 1
    assert len(row["digits"]) == 1
    assert 0 <= row["digit"] <= 9


@pytest.mark.parametrize(("threshold", "uncertain"), [("1.0", True), ("0", False)])
def test_uncertain_mark_in_text_and_json(runner, model, images, threshold, uncertain):
    args = ["predict", str(images["seven"]), "--checkpoint", model, "--threshold", threshold]
    text = runner.invoke(main, args)
    assert text.stdout.rstrip().endswith("uncertain") == uncertain
    row = json.loads(runner.invoke(main, [*args, "--json"]).stdout)
    assert row["uncertain"] is uncertain
    assert row["digits"][0]["uncertain"] is uncertain


def test_blank_image_is_an_error_not_a_guess(runner, model, images):
    result = runner.invoke(
        main, ["predict", str(images["blank"]), str(images["seven"]), "--checkpoint", model]
    )
    assert result.exit_code == 1
    assert "no digit found" in result.stderr
    assert result.stdout.startswith(f"{images['seven']}: 7")


def test_folder_is_searched_recursively_and_csv_written(runner, model, tmp_path):
    root = tmp_path / "scans"
    (root / "b" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    draw("4").save(root / "a.png")
    draw("5").convert("RGB").save(root / "b" / "deeper" / "c.jpg", quality=90)
    draw("8").save(root / ".hidden" / "x.png")  # hidden: skipped
    (root / "notes.txt").write_text("not an image")  # not an image suffix: skipped
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["predict", str(root), "--checkpoint", model, "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        str(root / "a.png"),
        str(root / "b" / "deeper" / "c.jpg"),
    ]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["number"] for r in rows] == ["4", "5"]
    assert all(r["uncertain"] in ("true", "false") and not r["error"] for r in rows)
    assert float(rows[0]["confidence"]) == pytest.approx(float(rows[0]["digit_confidences"]))


def test_empty_folder_and_bad_file_rows_in_csv(runner, model, tmp_path, images):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out.csv"
    result = runner.invoke(
        main,
        ["predict", str(empty), str(images["three"]), "--checkpoint", model, "--csv", str(out)],
    )
    assert result.exit_code == 1
    assert "no images" in result.stderr
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["file"] == str(empty)
    assert rows[0]["error"]
    assert rows[1]["number"] == "3"


def test_save_preprocessed_writes_what_the_network_saw(runner, model, images, tmp_path):
    from digitnet.images.preprocess import image_to_inputs

    seen = tmp_path / "seen"
    args = ["predict", str(images["seven"]), str(images["year"]), "--checkpoint", model]
    result = runner.invoke(main, [*args, "--save-preprocessed", str(seen)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in seen.iterdir()) == [
        "seven.png",
        "year_1.png",
        "year_2.png",
        "year_3.png",
        "year_4.png",
    ]
    saved = np.asarray(Image.open(seen / "year_2.png"))
    assert saved.shape == (28, 28)
    expected = image_to_inputs(images["year"])[1].reshape(28, 28)
    np.testing.assert_array_equal(saved, np.round(expected * 255).astype(np.uint8))


def test_bundled_model_is_used_and_said_on_stderr(runner, images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkpoints/model.npz here
    result = runner.invoke(main, ["predict", str(images["seven"])])
    assert result.exit_code == 0, result.output
    assert "bundled" in result.stderr
    assert result.stdout.startswith(f"{images['seven']}: 7")
    info = runner.invoke(main, ["info", str(bundled_checkpoint())])
    assert info.exit_code == 0
    assert "test_accuracy" in info.stdout
    assert "build_bundled_model.py" in info.stdout


def test_own_checkpoint_is_preferred_to_the_bundled_one(runner, images, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "model.npz").write_bytes(bundled_checkpoint().read_bytes())
    result = runner.invoke(main, ["predict", str(images["seven"])])
    assert result.exit_code == 0
    assert "bundled" not in result.stderr


def test_predict_loads_no_heavy_library(images, model, tmp_path):
    # A noisy photo too: its digits are cut from their specks on another path.
    rng = np.random.default_rng(0)
    noisy = np.full((80, 60), 220.0) + rng.normal(0, 8, (80, 60))
    noisy[15:65, 26:33] = 40.0
    noisy_path = tmp_path / "noisy.png"
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(noisy_path)
    code = (
        "import sys\n"
        "from digitnet.cli import main\n"
        "try:\n"
        f"    main(['predict', {str(images['year'])!r}, {str(noisy_path)!r},"
        f" '--checkpoint', {model!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['matplotlib', 'scipy', 'requests', 'tqdm', 'yaml', 'subprocess',\n"
        "         'tempfile', 'numpy.ma', 'digitnet.commands.train', 'digitnet.commands.tune']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == ""


def test_bad_csv_path_fails_before_reading(runner, model, images, tmp_path):
    out = tmp_path / "missing-folder" / "out.csv"
    result = runner.invoke(
        main, ["predict", str(images["seven"]), "--checkpoint", model, "--csv", str(out)]
    )
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing was read
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot write")
