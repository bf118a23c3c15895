"""Photos of digits written on paper: sheets on desks, rules, sticky notes (issue 11).

The photos are rendered at test time (tests/render_photos.py). The floor is asserted
on the development seed, the one the photo path was tuned on; the held-out seed is
only measured, by benchmarks/photos_and_crops.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from render_photos import DEVELOPMENT_SEED, make_photos, photo_breakdown, render_photo

from digitnet import checkpoint
from digitnet.errors import ImageError
from digitnet.images.decode import load_for_prediction
from digitnet.images.lines import remove_rules
from digitnet.images.paper import find_sheet, needs_sheet_reading, read_sheet, sheet_in_view
from digitnet.images.photometry import ink_and_noise, ink_mask
from digitnet.images.reading import bundled_checkpoint, read_image
from digitnet.images.segment import label


@pytest.fixture(scope="module")
def bundled() -> checkpoint.Checkpoint:
    return checkpoint.load(bundled_checkpoint())


def photo(tmp_path: Path, text: str, seed: int, sheet: str, desk: str) -> Path:
    rng = np.random.default_rng(seed)
    return render_photo(rng, text, tmp_path, seed, sheet_kind=sheet, desk=desk).path


def no_rule_left(inputs: np.ndarray) -> bool:
    """No row or column of a 28×28 input is inked across most of the field."""
    for row in inputs.reshape(-1, 28, 28):
        inked = row > 0.3
        if inked.sum(axis=1).max() >= 24 or inked.sum(axis=0).max() >= 24:
            return False
    return True


@pytest.mark.parametrize("desk", ["black", "dark wood", "white"])
def test_a_7_on_a_sheet_on_a_desk_reads_7(tmp_path, bundled, desk):
    reading = read_image(photo(tmp_path, "7", 3, "plain", desk), bundled)
    assert reading.number == "7"


@pytest.mark.parametrize(("rules", "seed"), [("ruled", 11), ("squared", 12), ("ruled", 13)])
def test_a_digit_on_printed_lines_reads_right_without_the_lines(tmp_path, bundled, rules, seed):
    digit = str(seed % 10)
    reading = read_image(photo(tmp_path, digit, seed, rules, "gray"), bundled)
    assert reading.number == digit
    assert no_rule_left(reading.inputs)


def test_a_sticky_note_reads_right(tmp_path, bundled):
    assert read_image(photo(tmp_path, "4", 21, "sticky", "dark wood"), bundled).number == "4"


def test_the_sheet_is_found_where_it_lies(tmp_path):
    rng = np.random.default_rng(5)
    sample = render_photo(rng, "3", tmp_path, 0, sheet_kind="plain", desk="black")
    rgb = np.asarray(Image.open(sample.path).convert("RGB"))
    corners = find_sheet(rgb)
    assert corners is not None
    truth = np.array(sample.conditions["corners"], dtype=float)
    # Each found corner lies within a few pixels of one of the drawn ones.
    distances = np.linalg.norm(corners[:, None, :] - truth[None, :, :], axis=2)
    assert distances.min(axis=1).max() < 12


def test_rules_are_removed_and_a_long_stroke_is_kept():
    sheet = np.full((200, 300), 255, np.uint8)
    sheet[20::25, :] = 150  # six ruled lines
    sheet[30:170, 140:146] = 20  # a 1 written across them
    cleaned, removed = remove_rules(sheet)
    assert removed > 0
    assert (cleaned[20::25, :100] == 255).all()  # the rules are gone ...
    assert (cleaned[30:170, 141:145] < 100).all()  # ... the stroke is whole


def test_one_long_stroke_alone_is_not_a_rule():
    sheet = np.full((200, 300), 255, np.uint8)
    sheet[100:104, 20:280] = 30  # one long bar, no ruled set
    cleaned, removed = remove_rules(sheet)
    assert removed == 0
    assert np.array_equal(cleaned, sheet)


def test_a_plain_digit_does_not_look_like_a_photo(tmp_path):
    page = np.full((120, 90), 245, np.uint8)
    page[20:100, 40:48] = 20
    path = tmp_path / "one.png"
    Image.fromarray(page).save(path)
    ink, _ = ink_and_noise(load_for_prediction(path))
    labels, components = label(ink_mask(ink))
    assert not needs_sheet_reading(labels, components, ink.shape)


def sheet_on_lit_desk(step: float, falloff: float) -> Image.Image:
    """A plain sheet `step` levels lighter than a white desk, under a lamp's falloff.

    With a falloff larger than the step, the desk's lit side is brighter than the
    sheet's dim side: no one threshold separates them.
    """
    height, width = 300, 400
    desk = np.full((height, width), 200.0)
    desk[60:240, 90:330] += step  # the sheet
    desk[110:190, 190:215] = 30.0  # a 1 written on it
    light = 1.0 - falloff * np.linspace(0.0, 1.0, width)[None, :]
    return Image.fromarray(np.clip(desk * light, 0, 255).astype(np.uint8)).convert("RGB")


def test_a_sheet_on_a_light_desk_under_a_lamp_is_in_view():
    assert sheet_in_view(sheet_on_lit_desk(step=30.0, falloff=0.4))


def test_a_sheet_no_lighter_than_the_desk_is_not_in_view():
    assert not sheet_in_view(sheet_on_lit_desk(step=0.0, falloff=0.4))


def test_a_bold_zero_on_white_paper_is_no_sheet():
    # A dark ring encloses a region too, but it is round and darker at its outline.
    yy, xx = np.mgrid[0:300, 0:300].astype(np.float32)
    r = np.hypot((yy - 150) / 110, (xx - 150) / 80)
    page = np.where(np.abs(r - 0.85) < 0.15, 20, 245).astype(np.uint8)
    assert not sheet_in_view(Image.fromarray(page))


def test_paper_running_out_of_the_frame_is_no_sheet_in_view():
    page = np.full((300, 400), 200, np.uint8)
    page[60:, 90:] = 240  # the sheet runs past the bottom and right edges
    page[110:190, 190:215] = 30
    assert not sheet_in_view(Image.fromarray(page))


def test_rules_a_few_degrees_off_true_are_removed_and_a_bold_stroke_they_cross_is_kept():
    sheet = np.full((300, 400), 255, np.uint8)
    slope = np.tan(np.radians(3.0))  # the sheet's outline found a little askew
    for start in range(20, 300, 28):
        for x in range(400):
            y = round(start + slope * x)
            if 0 <= y < 300:
                sheet[y, x] = 150  # a pale printed rule
    sheet[80:220, 180:215] = 25  # a bold stroke across several rules
    cleaned, removed = remove_rules(sheet)
    assert removed > 0
    assert (cleaned[:, :100] == 255).mean() > 0.99  # the rules are gone ...
    assert (cleaned[82:218, 182:213] < 100).all()  # ... and no rule cut the stroke


def test_reading_a_plain_image_does_not_import_opencv(tmp_path):
    """`predict`'s cold start stays small: OpenCV is loaded only for photos of paper."""
    page = np.full((120, 90), 245, np.uint8)
    page[20:100, 40:48] = 20
    path = tmp_path / "one.png"
    Image.fromarray(page).save(path)
    code = (
        "import sys; from digitnet.images.preprocess import image_to_inputs; "
        f"image_to_inputs({str(path)!r}); print('cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_development_photos_floor(tmp_path, bundled):
    samples = make_photos(tmp_path, 60, seed=DEVELOPMENT_SEED)
    correct = []
    for sample in samples:
        try:
            number = read_image(sample.path, bundled).number
        except ImageError:
            number = ""
        correct.append(number == sample.label)
    for condition, buckets in photo_breakdown(samples, correct).items():
        print(condition, {k: f"{r}/{t}" for k, (r, t) in buckets.items()})
    # Measured 59/60 (98.3%) with the bundled model (README); the floor is a little lower.
    assert np.mean(correct) >= 0.95


def test_a_bold_number_in_coloured_ink_is_no_sheet():
    """Blue ink is more coloured than its paper too, but far darker: not a sticky note."""
    page = np.zeros((300, 400, 3), np.uint8)
    page[:] = (205, 220, 235)  # light blue paper running out of the frame
    page[100:190, 40:160] = (20, 40, 140)  # touching bold digits: a near-rectangle of ink
    assert not sheet_in_view(Image.fromarray(page))
    assert find_sheet(page) is None


def test_a_bold_stroke_wider_than_the_light_estimate_is_not_left_hollow():
    """A fat crossing on a sticky note: its middle stays ink once the light is evened out."""
    photo = np.zeros((480, 640, 3), np.uint8)
    photo[:] = (60, 45, 35)  # a dark desk
    photo[100:380, 180:460] = (250, 235, 120)  # a yellow note, wholly in view
    photo[150:330, 290:350] = (20, 40, 140)  # a bold stroke 60 px wide ...
    photo[210:270, 230:410] = (20, 40, 140)  # ... crossed by another: a 120 px blob of ink
    sheet = read_sheet(Image.fromarray(photo))
    assert sheet is not None
    gray = np.asarray(sheet.convert("L"), dtype=np.float32)
    height, width = gray.shape
    middle = gray[height // 2 - 5 : height // 2 + 5, width // 2 - 5 : width // 2 + 5]
    assert middle.max() < 128  # still dark ink, not a pale hole


def test_the_narrow_hole_of_a_bold_zero_cut_to_its_ink_is_no_sheet(tmp_path, bundled):
    # A bold slanted 0 filling its crop: its hole is a light sliver enclosed by dark, as
    # a sheet is by a desk, but far narrower than any sheet (read as it was: a 0).
    height, width = 129, 89
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = (xx - width / 2) / (width / 2), (yy - height / 2) / (height / 2)
    outer = u**2 + v**2 <= 1.15  # the strokes run into the crop's edges
    slant = (xx - width / 2 + 0.12 * (yy - height / 2)) / 6.0
    hole = slant**2 + ((yy - height / 2) / 47.0) ** 2 <= 1.0
    pixels = np.where(outer & ~hole, 15, 245).astype(np.uint8)
    rgb = np.repeat(pixels[:, :, None], 3, axis=2)
    assert find_sheet(rgb) is None
    path = tmp_path / "zero.png"
    Image.fromarray(rgb).save(path)
    assert read_image(path, bundled).number == "0"
