"""What `digitnet predict` prints and what `images/reading.py` hands it, value by value:
the ranked top-k line, the `?` and `uncertain` marks, the JSON and CSV fields, the
threshold's edge, temperature, which files a folder gives, and the messages of the
paths that fail (issue 15: mutation testing found these unchecked).

Readings come from a checkpoint whose output ignores the image (θ = 0 but b2), so every
probability is chosen here; images are plain strokes, read in milliseconds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fixed_models import PROBABILITIES, fixed_checkpoint, stroke_png

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.commands.predict import _format_text, _preprocessed_name
from digitnet.errors import ImageError
from digitnet.images import reading
from digitnet.images.reading import DigitReading, Reading


def run(*args: str):
    return CliRunner().invoke(main, ["predict", *args])


def digit(d: int, confidence: float, uncertain: bool, probabilities=None) -> DigitReading:
    p = [0.0] * 10 if probabilities is None else list(probabilities)
    return DigitReading(digit=d, confidence=confidence, probabilities=p, uncertain=uncertain)


def one(d: DigitReading) -> Reading:
    return Reading(file="x.png", digits=[d], inputs=np.zeros((1, 784), np.float32))


# ---------------------------------------------------------------------------
# the text line


def test_top_k_lists_the_most_likely_digits_in_order():
    d = digit(3, 0.6, False, PROBABILITIES)
    assert _format_text(one(d), 1) == "x.png: 3 (60.0%)"
    assert _format_text(one(d), 3) == "x.png: 3 (60.0%), 8 (20.0%), 5 (10.0%)"


def test_an_uncertain_digit_has_one_question_mark_on_the_top_guess_only():
    d = digit(3, 0.6, True, PROBABILITIES)
    assert _format_text(one(d), 3) == "x.png: 3 (60.0%?), 8 (20.0%), 5 (10.0%)  uncertain"


def test_a_number_marks_each_uncertain_digit():
    digits = [digit(4, 0.95, False), digit(0, 0.55, True), digit(2, 0.625, True)]
    number = Reading(file="n.png", digits=digits, inputs=np.zeros((3, 784), np.float32))
    assert _format_text(number, 3) == "n.png: 402  [4 95.0%, 0 55.0%?, 2 62.5%?]  uncertain"


# ---------------------------------------------------------------------------
# Reading and DigitReading


def test_json_of_one_digit_has_the_design_keys_rounded():
    p = [0.1234567891, 0.8765432109] + [0.0] * 8
    d = digit(1, 0.8765432109, False, p)
    assert one(d).to_dict() == {
        "file": "x.png",
        "number": "1",
        "confidence": 0.876543,
        "uncertain": False,
        "digit": 1,
        "probabilities": [0.123457, 0.876543] + [0.0] * 8,
        "digits": [
            {
                "digit": 1,
                "confidence": 0.876543,
                "uncertain": False,
                "probabilities": [0.123457, 0.876543] + [0.0] * 8,
            }
        ],
    }


def test_json_of_a_number_is_as_sure_as_its_least_sure_digit():
    digits = [digit(7, 0.9, False), digit(1, 0.4, True), digit(7, 0.8, False)]
    number = Reading(file="n.png", digits=digits, inputs=np.zeros((3, 784), np.float32))
    out = number.to_dict()
    assert out["number"] == "717"
    assert out["confidence"] == 0.4
    assert out["uncertain"] is True
    assert "digit" not in out
    assert "probabilities" not in out
    assert [d["digit"] for d in out["digits"]] == [7, 1, 7]


def test_the_images_are_the_inputs_as_8_bit_pictures():
    inputs = np.zeros((2, 784), np.float32)
    inputs[0, 0], inputs[0, 29], inputs[1, 783] = 1.0, 0.5, 0.2
    r = Reading(file="", digits=[digit(0, 1, False)] * 2, inputs=inputs)
    pictures = r.images()
    assert [p.shape for p in pictures] == [(28, 28), (28, 28)]
    assert pictures[0].dtype == np.uint8
    assert pictures[0][0, 0] == 255
    assert pictures[0][1, 1] == 128  # 127.5 rounds to even
    assert pictures[1][27, 27] == 51
    assert int(pictures[0].sum()) == 255 + 128


def test_read_inputs_takes_the_most_likely_digit_and_its_probability(tmp_path):
    ckpt = checkpoint.load(fixed_checkpoint(tmp_path / "m.npz"))
    r = reading.read_inputs(np.zeros((2, 784), np.float32), ckpt, "f.png")
    assert r.file == "f.png"
    assert [d.digit for d in r.digits] == [3, 3]
    assert r.digits[0].confidence == pytest.approx(0.6, rel=1e-5)
    np.testing.assert_allclose(r.digits[1].probabilities, PROBABILITIES, rtol=1e-5)
    assert all(d.uncertain for d in r.digits)  # 0.6 < 0.7, the default
    assert r.inputs.shape == (2, 784)


def test_below_the_threshold_means_strictly_below(tmp_path):
    ckpt = checkpoint.load(fixed_checkpoint(tmp_path / "m.npz"))
    inputs = np.zeros((1, 784), np.float32)
    first = reading.read_inputs(inputs, ckpt)
    assert first.file == ""  # rows given as an array come from no file
    confidence = first.digits[0].confidence
    assert not reading.read_inputs(inputs, ckpt, uncertain_below=confidence).uncertain
    assert reading.read_inputs(inputs, ckpt, uncertain_below=confidence + 1e-6).uncertain


def test_the_checkpoints_temperature_softens_the_confidences(tmp_path):
    """p = softmax(z/T): with T = 2, log p/2 renormalised."""
    ckpt = checkpoint.load(fixed_checkpoint(tmp_path / "m.npz", temperature=2.0))
    got = reading.read_inputs(np.zeros((1, 784), np.float32), ckpt).digits[0]
    softened = np.sqrt(PROBABILITIES) / np.sqrt(PROBABILITIES).sum()
    np.testing.assert_allclose(got.probabilities, softened, rtol=1e-5)
    assert got.digit == 3


def test_read_image_passes_single_and_the_threshold_on(tmp_path):
    ckpt = checkpoint.load(fixed_checkpoint(tmp_path / "m.npz"))
    image = stroke_png(tmp_path / "two.png", bars=2)
    assert reading.read_image(image, ckpt).number == "33"
    assert reading.read_image(image, ckpt, single=True).number == "3"
    assert not reading.read_image(image, ckpt, uncertain_below=0.5).uncertain
    assert reading.read_image(image, ckpt).file == str(image)


def test_read_images_yields_each_failure_in_place(tmp_path):
    ckpt = checkpoint.load(fixed_checkpoint(tmp_path / "m.npz"))
    good = stroke_png(tmp_path / "good.png", bars=2)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    results = list(reading.read_images([bad, good], ckpt))
    assert isinstance(results[0], ImageError)
    assert str(bad) in str(results[0])
    assert isinstance(results[1], Reading)
    assert results[1].number == "33"  # segmented by default
    (single,) = reading.read_images([good], ckpt, single=True)
    assert isinstance(single, Reading)
    assert single.number == "3"


# ---------------------------------------------------------------------------
# which files a folder gives


@pytest.mark.parametrize("suffix", sorted(reading.IMAGE_SUFFIXES))
def test_every_image_suffix_is_found_in_a_folder_whatever_its_case(tmp_path, suffix):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / f"a{suffix}").write_bytes(b"")
    (folder / f"b{suffix.upper()}").write_bytes(b"")
    (folder / "c.txt").write_bytes(b"")
    assert [p.name for p in reading.find_images([folder])] == [f"a{suffix}", f"b{suffix.upper()}"]


def test_a_folder_gives_files_only_and_skips_hidden_ones_below_it(tmp_path):
    root = tmp_path / ".cache" / "scans"  # hidden *above* the named folder: still read
    (root / "old.png").mkdir(parents=True)  # a folder named like an image
    (root / "old.png" / "inner.png").write_bytes(b"")
    (root / ".thumbs").mkdir()
    (root / ".thumbs" / "t.png").write_bytes(b"")
    (root / ".hidden.png").write_bytes(b"")
    (root / "z.png").write_bytes(b"")
    found = list(reading.find_images([root]))
    assert found == [root / "old.png" / "inner.png", root / "z.png"]


def test_files_named_directly_are_kept_as_given_in_order(tmp_path):
    named = [tmp_path / "b.txt", str(tmp_path / "missing.png"), tmp_path / "a.png"]
    assert list(reading.find_images(named)) == [Path(p) for p in named]


def test_a_folder_without_images_is_an_error_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("")
    with pytest.raises(ImageError) as info:
        list(reading.find_images([tmp_path / "empty"]))
    assert str(info.value) == (
        f"{tmp_path / 'empty'} is a directory with no images below it — put PNG or JPEG"
        " files there, or name image files"
    )


def test_the_bundled_checkpoint_ships_with_the_package():
    path = reading.bundled_checkpoint()
    assert path.name == "digitnet-reader.npz"
    assert path.parent.name == "assets"
    assert path.is_file()


# ---------------------------------------------------------------------------
# through `digitnet predict`


def test_json_csv_and_text_agree_for_a_number(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    image = stroke_png(tmp_path / "n.png", bars=3)
    out = tmp_path / "out.csv"
    text = run(str(image), "--checkpoint", str(model), "--csv", str(out))
    assert text.exit_code == 0, text.output
    assert text.stdout == f"{image}: 333  [3 60.0%?, 3 60.0%?, 3 60.0%?]  uncertain\n"
    assert b"\r" not in out.read_bytes()  # plain text lines, as everything digitnet writes
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {
            "file": str(image),
            "number": "333",
            "confidence": "0.600000",
            "uncertain": "true",
            "digit_confidences": "0.600000 0.600000 0.600000",
            "error": "",
        }
    ]
    lines = run(str(image), "--checkpoint", str(model), "--json", "--threshold", "0.5")
    row = json.loads(lines.stdout)
    assert row["number"] == "333"
    assert row["uncertain"] is False
    assert row["confidence"] == pytest.approx(0.6)


def test_a_failing_image_is_an_error_row_in_json_and_csv(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    good = stroke_png(tmp_path / "good.png")
    out = tmp_path / "out.csv"
    result = run(str(bad), str(good), "--checkpoint", str(model), "--json", "--csv", str(out))
    assert result.exit_code == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert set(first) == {"file", "error"}
    assert first["file"] == str(bad)
    assert "is not an image" in first["error"]
    assert second["number"] == "3"
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {
        "file": str(bad),
        "number": "",
        "confidence": "",
        "uncertain": "",
        "digit_confidences": "",
        "error": first["error"],
    }
    assert rows[1]["uncertain"] == "true"


def test_all_images_read_exits_zero_and_a_csv_in_no_folder_is_refused_first(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    image = stroke_png(tmp_path / "one.png")
    assert run(str(image), "--checkpoint", str(model)).exit_code == 0
    out = tmp_path / "no-such-folder" / "out.csv"
    result = run(str(image), "--checkpoint", str(model), "--csv", str(out))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: cannot write {out}: its folder does not exist or it is a folder"
        " — choose another CSV path"
    )


def test_save_preprocessed_makes_nested_folders_and_reuses_an_existing_one(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    image = stroke_png(tmp_path / "one.png")
    seen = tmp_path / "a" / "b"
    for _ in range(2):
        result = run(str(image), "--checkpoint", str(model), "--save-preprocessed", str(seen))
        assert result.exit_code == 0, result.output
    assert [p.name for p in seen.iterdir()] == ["one.png"]


def test_save_preprocessed_into_a_file_is_a_one_line_error(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    image = stroke_png(tmp_path / "one.png")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run(str(image), "--checkpoint", str(model), "--save-preprocessed", str(blocker / "x"))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot create {blocker / 'x'} (")
    assert last.endswith(") — choose another folder")


def test_an_unwritable_preprocessed_image_is_a_one_line_error(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    image = stroke_png(tmp_path / "one.png")
    seen = tmp_path / "seen"
    (seen / "one.png").mkdir(parents=True)  # a folder where the picture should go
    result = run(str(image), "--checkpoint", str(model), "--save-preprocessed", str(seen))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot write into {seen} (")
    assert last.endswith(") — choose another folder")


def test_images_with_the_same_name_get_distinct_preprocessed_files(tmp_path):
    model = fixed_checkpoint(tmp_path / "m.npz")
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
        stroke_png(tmp_path / sub / "scan.png")
    seen = tmp_path / "seen"
    paths = [str(tmp_path / sub / "scan.png") for sub in ("a", "b", "c")]
    result = run(*paths, "--checkpoint", str(model), "--save-preprocessed", str(seen))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in seen.iterdir()) == ["scan-2.png", "scan-3.png", "scan.png"]


def test_a_path_without_a_stem_is_saved_as_image():
    used: set[str] = set()
    assert _preprocessed_name(Path(""), used) == "image"
    assert _preprocessed_name(Path("/"), used) == "image-2"
    assert used == {"image", "image-2"}


def test_the_bundled_model_is_said_on_stderr_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = stroke_png(tmp_path / "one.png")
    result = run(str(image))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Using the model bundled with digitnet (")
    assert result.stdout.startswith(f"{image}: ")
    own = run(str(image), "--checkpoint", str(fixed_checkpoint(tmp_path / "m.npz")))
    assert own.stderr == ""
