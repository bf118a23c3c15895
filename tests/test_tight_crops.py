"""Ink that touches the image's edges is still the digit (issue 11, item 7).

Tight crops (cut to the ink box, and a pixel inside it) of MNIST test digits and of
the rendered real-digit set read about as well as the same images with a margin;
coarse scans (a digit 8-12 px tall, enlarged to 64 px) are read or marked uncertain,
never refused; "blank" is said only of a blank image.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import handwriting
import numpy as np
import pytest
from PIL import Image
from render_digits import make_set
from tight_crops import crop_to_ink, tight_copies

from digitnet import checkpoint
from digitnet.data.idx import read_idx
from digitnet.errors import ImageError
from digitnet.images.decode import load_image
from digitnet.images.photometry import estimate_background, gray_and_alpha, ink_and_noise
from digitnet.images.preprocess import to_mnist
from digitnet.images.reading import bundled_checkpoint, read_image
from digitnet.images.tightcrop import (
    _thin_strokes_in_a_corner,
    ink_reaches_frame,
    paper_in_ring,
    split_paper_and_ink,
)

# MNIST test digits used here: not the first 300, which the tight-crop rules were
# developed on (see README, "Reading your own digits").
MNIST_SLICE = slice(2000, 2400)


@pytest.fixture(scope="module")
def bundled() -> checkpoint.Checkpoint:
    return checkpoint.load(bundled_checkpoint())


def read_numbers(paths: list[Path], ckpt: checkpoint.Checkpoint) -> list[str]:
    """What `predict` reads in each image; a refusal is "" (and must not say blank)."""
    numbers = []
    for path in paths:
        try:
            numbers.append(read_image(path, ckpt).number)
        except ImageError as error:
            refusal = str(error)
            numbers.append("")
        else:
            continue
        assert "blank" not in refusal, f"{path.name} is not blank: {refusal}"
    return numbers


def accuracy(numbers: list[str], labels: list[str]) -> float:
    return float(np.mean([n == y for n, y in zip(numbers, labels, strict=True)]))


def margin_box_inset(samples: list, ckpt: checkpoint.Checkpoint, folder: Path) -> tuple[float, ...]:
    """Accuracy on rendered samples as they are, cut to their ink box, and a pixel inside it."""
    paths = [s.path for s in samples]
    labels = [s.label for s in samples]
    return (
        accuracy(read_numbers(paths, ckpt), labels),
        accuracy(read_numbers(tight_copies(paths, folder / "tight"), ckpt), labels),
        accuracy(read_numbers(tight_copies(paths, folder / "inset", 1), ckpt), labels),
    )


def ring_digit(size: int, thickness: int, light_ink: bool) -> np.ndarray:
    """A 0 drawn as an ellipse ring that fills the frame (cut at the edges)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot((yy - size / 2 + 0.5) / (size / 2), (xx - size / 2 + 0.5) / (size * 0.38))
    ink = np.abs(r - 0.9) < thickness / size
    paper, stroke = (0, 255) if light_ink else (245, 20)
    return np.where(ink, stroke, paper).astype(np.uint8)


@pytest.mark.parametrize("light_ink", [True, False])
def test_a_ring_cut_by_the_frame_is_ink_whichever_its_polarity(light_ink):
    gray = ring_digit(40, 4, light_ink).astype(np.float32) / 255
    split = split_paper_and_ink(gray)
    assert split is not None
    assert split.dark_ink is not light_ink
    paper_pixels = gray[split.paper]
    assert np.all(paper_pixels == (0.0 if light_ink else 245 / 255))


def test_a_margin_ring_is_paper_and_a_tight_ring_is_not():
    digit = ring_digit(40, 4, light_ink=False).astype(np.float32) / 255
    framed = np.pad(digit, 10, constant_values=245 / 255)
    assert not ink_reaches_frame(framed - np.float32(245 / 255))
    assert ink_reaches_frame(digit[3:-3, 3:-3] - np.float32(245 / 255))


def test_a_tight_crop_gives_the_digit_not_a_blank(tmp_path):
    path = tmp_path / "zero.png"
    Image.fromarray(ring_digit(30, 3, light_ink=False)[2:-2, 2:-2]).save(path)
    digit = to_mnist(load_image(path))
    # The ring's stroke is ink (light in MNIST form), its inside and corners are not.
    assert digit.max() == pytest.approx(1.0)
    assert digit[14, 14] == 0.0
    assert digit[14, :14].max() > 0.5
    assert digit[14, 14:].max() > 0.5
    assert 0.05 < float(np.mean(digit > 0.5)) < 0.3  # a stroke, not the paper's blob


def test_blank_is_said_only_of_a_blank_image(tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("L", (40, 40), 200).save(flat)
    with pytest.raises(ImageError, match="blank or one flat colour"):
        to_mnist(load_image(flat))
    # Paper grain only: not blank (it spans several gray levels), yet no digit.
    speck = np.random.default_rng(0).integers(197, 204, (40, 40)).astype(np.uint8)
    noise = tmp_path / "speck.png"
    Image.fromarray(speck).save(noise)
    with pytest.raises(ImageError, match="too faint, small or noisy") as caught:
        to_mnist(load_image(noise))
    assert "blank" not in str(caught.value)


def mnist_pngs(mnist_dir: Path, out: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """MNIST test digits as PNGs: with their margin, cut to the ink box, and one inside."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[MNIST_SLICE]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[MNIST_SLICE]
    sets: dict[str, list[Path]] = {"margin": [], "tight": [], "inset": []}
    for folder in sets:
        (out / folder).mkdir()
    for i, image in enumerate(images):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        box = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        for folder, pixels in (("margin", image), ("tight", box), ("inset", box[1:-1, 1:-1])):
            path = out / folder / f"{i}.png"
            Image.fromarray(pixels).save(path)
            sets[folder].append(path)
    return sets, [str(y) for y in labels]


def test_mnist_tight_crops_read_as_with_a_margin(tmp_path, mnist_dir, bundled):
    sets, labels = mnist_pngs(mnist_dir, tmp_path)
    margin = accuracy(read_numbers(sets["margin"], bundled), labels)
    tight = accuracy(read_numbers(sets["tight"], bundled), labels)
    inset = accuracy(read_numbers(sets["inset"], bundled), labels)
    print(f"MNIST {MNIST_SLICE}: margin {margin:.2%}, ink box {tight:.2%}, inset {inset:.2%}")
    # Measured with the bundled 784-512-10 reader: ink box level with the margin (98.0%),
    # a pixel inside 1.25 points below (2.8 before the thickness cue and the unsmoothed
    # split of small crops in `tightcrop`; the issue asks for 1, README says it is not
    # met). A pixel cut off every side of a 20-px MNIST digit is 10 % of its size.
    assert tight >= margin - 0.005
    assert inset >= margin - 0.02


def test_rendered_tight_crops_read_as_with_a_margin(tmp_path, bundled):
    samples = make_set(tmp_path / "margin", 150, seed=1004)
    margin, tight, inset = margin_box_inset(samples, bundled, tmp_path)
    print(f"rendered seed 1004: margin {margin:.2%}, ink box {tight:.2%}, inset {inset:.2%}")
    # Measured with the bundled reader: ink box 1.3 points below the margin (the issue asks
    # for 1); a pixel is 7 % of a 14-px digit: 4.7 points below (README), as before the
    # thickness cue in `tightcrop` (which gains on the benchmark's seed 1000).
    assert tight >= margin - 0.02
    assert inset >= margin - 0.05


def test_coarse_scans_enlarged_are_read_or_uncertain_never_refused(tmp_path, mnist_dir, bundled):
    """A digit scanned at 8 px, enlarged to 64 px (blurred), cropped to its ink."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[MNIST_SLICE][:150]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[MNIST_SLICE][:150]
    right = 0
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        page = Image.fromarray(255 - image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        scale = 8 / max(page.size)
        scan = page.resize(
            (max(1, round(page.width * scale)), max(1, round(page.height * scale))),
            Image.Resampling.BOX,
        )
        scale = 64 / max(scan.size)
        big = scan.resize(
            (max(1, round(scan.width * scale)), max(1, round(scan.height * scale))),
            Image.Resampling.BICUBIC,
        )
        path = tmp_path / f"{i}.png"
        big.save(path)
        reading = read_image(path, bundled)  # raises (fails the test) if refused
        right += reading.number == str(label) or reading.uncertain
    assert right / len(labels) >= 0.93


def test_crop_helper_cuts_to_the_ink():
    page = np.full((60, 50), 240, np.uint8)
    page[10:40, 20:30] = 30
    tight = crop_to_ink(Image.fromarray(page))
    width, height = tight.size
    assert 10 <= width <= 12  # the ink, and at most the mask's 1-px smoothing around it
    assert 30 <= height <= 32
    assert crop_to_ink(Image.fromarray(page), inset=1).size == (width - 2, height - 2)


@pytest.mark.parametrize("light_ink", [True, False])
def test_a_number_cut_tightly_keeps_its_polarity(light_ink):
    """Three digits, the paper around and between them one piece: still the paper."""
    strokes = np.zeros((30, 70), dtype=bool)
    for left, top in ((0, 0), (25, 2), (50, 1)):  # three Cs, set a little unevenly
        yy, xx = np.mgrid[0:28, 0:20]
        r = np.hypot((yy - 13.5) / 14, (xx - 9.5) / 10)
        arc = (np.abs(r - 0.85) < 0.17) & (xx < 14)
        strokes[top : top + 28, left : left + 20] |= arc
    paper, ink = (0.0, 1.0) if light_ink else (0.95, 0.1)
    gray = np.where(strokes, ink, paper).astype(np.float32)
    split = split_paper_and_ink(gray)
    assert split is not None
    assert split.dark_ink is not light_ink
    assert not split.paper[strokes].any()


def test_mnist_cut_inside_its_ink_keeps_its_polarity(mnist_dir):
    """Cut to the ink box and a pixel inside it, a digit's ink stays the ink.

    Measured on MNIST test digits 2000-2399 (686 crops whose ink reaches the frame):
    4 taken light-for-dark with the thickness cue and small crops cut unsmoothed, 8
    before (connected shares alone, on a 3×3 mean).
    """
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[MNIST_SLICE]
    crops = wrong = 0
    for image in images:
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        box = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        for cut in (box, box[1:-1, 1:-1]):
            gray = cut.astype(np.float32) / 255
            if not ink_reaches_frame(gray - estimate_background(gray)):
                continue
            crops += 1
            split = split_paper_and_ink(gray)
            wrong += split is None or split.dark_ink
    assert crops > 600
    assert wrong <= 4


def test_clean_paper_cut_tightly_is_measured_without_noise(mnist_dir):
    """MNIST's background is exactly 0; the strokes' soft edges are not paper noise.

    Measured 12 of MNIST test digits 2000-2399, cut to their ink box, with a noise
    floor above 0 (48 before the paper was measured two pixels inside its class).
    """
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[MNIST_SLICE]
    floors = []
    for image in images:
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        box = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        floors.append(ink_and_noise(Image.fromarray(box))[1])
    assert np.mean(np.array(floors) > 0) <= 0.05


@pytest.mark.slow
def test_rendered_numbers_cut_tightly_read_about_as_with_a_margin(tmp_path, bundled):
    """A number cut to its ink box: the paper between its digits is still paper."""
    samples = make_set(tmp_path / "margin", 40, seed=1005, digits=(3, 6))
    margin, tight, inset = margin_box_inset(samples, bundled, tmp_path)
    print(f"numbers seed 1005: margin {margin:.2%}, ink box {tight:.2%}, inset {inset:.2%}")
    # Measured with the bundled reader: margin 80.0%, ink box 85.0%, a pixel inside 77.5%
    # (before the gap cue in `tightcrop`: 70.0% and 25.0%). Floors a number or two lower.
    assert tight >= margin - 0.025
    assert inset >= margin - 0.05


def test_noise_alone_in_the_ring_is_left_as_it_is():
    residual = np.random.default_rng(1).normal(0, 0.02, (30, 30)).astype(np.float32)
    assert paper_in_ring(residual, dark_ink=True) is None
    assert paper_in_ring(residual, dark_ink=False) is None


@pytest.mark.parametrize("dark_ink", [True, False])
def test_soft_edges_in_the_ring_are_not_paper_noise(dark_ink):
    """A third of the ring is the strokes' soft edge, all on the ink's side."""
    rng = np.random.default_rng(2)
    residual = rng.normal(0, 0.01, (30, 30)).astype(np.float32)
    edge = np.zeros((30, 30), dtype=bool)
    edge[0, 5:25] = edge[-1, 3:20] = edge[10:25, 0] = True
    residual[edge] += np.float32(-0.2 if dark_ink else 0.2)
    ring_mad = np.median(np.abs(np.concatenate([residual[0], residual[-1], residual[:, 0]])))
    found = paper_in_ring(residual, dark_ink)
    assert found is not None
    level, mad = found
    assert abs(level) < 0.005
    assert mad < 0.012  # 0.674 σ of the paper's noise, σ = 0.01
    assert ring_mad > 2 * mad


def broken_stroke(paper: float, ink: float) -> np.ndarray:
    """A stroke cut inside its ink box into two pieces; the paper around them one piece."""
    yy, xx = np.mgrid[0:30, 0:20]
    upper = (yy <= 13) & (np.abs(xx - (12 - 0.6 * yy)) < 1.5)
    lower = (yy >= 16) & (np.abs(xx - (15 - 0.5 * (yy - 16))) < 1.5)
    return np.where(upper | lower, ink, paper).astype(np.float32)


@pytest.mark.parametrize("light_ink", [True, False])
def test_a_stroke_cut_into_pieces_is_still_the_ink(light_ink):
    """Connected shares say the one-piece paper is ink; the four paper corners say not."""
    gray = broken_stroke(*((0.0, 1.0) if light_ink else (0.95, 0.15)))
    split = split_paper_and_ink(gray)
    assert split is not None
    assert split.dark_ink is not light_ink


@pytest.fixture(scope="module")
def handwriting_dev(tmp_path_factory) -> list:
    """Handwriting generator's development split (seed 2006): never the held-out one."""
    return handwriting.make_set(tmp_path_factory.mktemp("handwriting"), 120, seed=2006)


def test_handwriting_cut_to_its_ink_keeps_the_papers_noise(handwriting_dev):
    """The strokes' soft edges in a crop's ring do not raise the noise floor.

    Measured on these 120 development digits cut to their ink box: 8 floors more than
    0.05 above the same image's with a margin (29 before `paper_in_ring`).
    """
    raised = 0
    for sample in handwriting_dev:
        page = load_image(sample.path)
        raised += ink_and_noise(crop_to_ink(page))[1] > ink_and_noise(page)[1] + 0.05
    assert raised <= 10


def test_handwriting_cut_inside_its_ink_stays_dark_ink(handwriting_dev):
    """Every handwriting digit is dark ink on light paper, cut or not.

    Measured on these 120 development digits cut to their ink box and a pixel inside
    (141 crops split by `tightcrop`): 5 taken light-for-dark (12 before the corner cue).
    """
    crops = wrong = 0
    for sample in handwriting_dev:
        page = load_image(sample.path)
        for inset in (0, 1):
            gray, _ = gray_and_alpha(crop_to_ink(page, inset))
            if not ink_reaches_frame(gray - estimate_background(gray)):
                continue
            crops += 1
            split = split_paper_and_ink(gray)
            wrong += split is None or not split.dark_ink
    assert crops > 100
    assert wrong <= 6


def test_handwriting_cut_tightly_loses_fewer_digits(handwriting_dev, tmp_path, bundled):
    """Development digits read right with a margin and wrong cut tightly.

    Measured on these 120 digits with the bundled reader: 8 lost cut to the ink box and
    14 a pixel inside (12 and 19 before `paper_in_ring` and the corner cue). Most of
    what is still lost is ink the crop cut away (a pen's faint, tapering stroke ends
    lie outside the mask's box) and digits the reader was barely sure of.
    """
    paths = [s.path for s in handwriting_dev]
    labels = [s.label for s in handwriting_dev]
    margin = np.array(read_numbers(paths, bundled)) == np.array(labels)
    lost = 0
    for inset in (0, 1):
        cut = read_numbers(tight_copies(paths, tmp_path / f"inset{inset}", inset), bundled)
        lost += int(np.sum(margin & (np.array(cut) != np.array(labels))))
    assert lost <= 24


def test_three_corners_of_the_thicker_class_are_the_paper():
    """A thin dark stroke into one corner: the other three corners, thick, are paper."""
    gray = np.full((16, 12), 0.9, np.float32)
    gray[0, 0:6] = gray[1:16, 5] = 0.1  # a thin 1-px stroke that reaches one corner
    sharp = gray > 0.5
    assert _thin_strokes_in_a_corner(sharp, sharp) is True
    assert _thin_strokes_in_a_corner(~sharp, ~sharp) is False  # the same, light on dark
    gray[-1, -1] = 0.1  # two corners each: no say
    sharp = gray > 0.5
    assert _thin_strokes_in_a_corner(sharp, sharp) is None
    narrow = np.full((16, 5), 0.9, np.float32)  # a 1 cut to 5 px: its slivers say nothing
    narrow[0, 0:2] = narrow[1:16, 1] = 0.1
    sharp = narrow > 0.5
    assert _thin_strokes_in_a_corner(sharp, sharp) is None


def test_a_small_thin_digit_into_one_corner_stays_dark_ink(tmp_path, bundled):
    """A development handwritten 5 (dev seed 1009, the 36th), thin pen, 14 px wide, cut
    to the ink a person sees: its strokes fall into pieces and the paper, one piece,
    took the ink's place (read as 2) until three thick corners decided it."""
    sample = handwriting.make_set(tmp_path / "dev", 36, seed=1009, split="dev")[35]
    crop = crop_to_ink(load_image(sample.path), 0, sample.conditions["ink_box"])
    gray, _ = gray_and_alpha(crop)
    split = split_paper_and_ink(gray)
    assert split is not None
    assert split.dark_ink
    crop.save(tmp_path / "crop.png")
    assert read_image(tmp_path / "crop.png", bundled).number == sample.label


def test_a_small_crop_under_a_lamp_keeps_its_darker_paper_as_paper():
    """Three 7s cut to their ink box under a lamp (the paper falls from 0.66 to 0.49 top
    to bottom): a small crop's paper is fitted a plane, so the darker bottom rows stay
    paper instead of becoming a haze of ink under every digit (rendered development
    numbers read a 7 as 2 this way)."""
    h, w = 19, 47
    gray = np.linspace(0.66, 0.49, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    for left in (3, 19, 35):
        gray[0:3, left : left + 10] = 0.25  # the bar, on the top edge
        for row in range(3, h):  # the stem, down to the bottom edge
            col = left + 8 - (row * 6) // h
            gray[row, col : col + 3] = 0.25
    image = Image.fromarray(np.round(gray * 255).astype(np.uint8))
    ink, _ = ink_and_noise(image)
    paper = gray > 0.4
    assert ink[paper].max() < 0.05
    assert ink[~paper].min() > 0.5


def saved_crop(sample, inset: int, folder: Path) -> tuple[Image.Image, Path]:
    """A generated sample cut to its recorded ink box (`inset` px inside), saved as PNG."""
    crop = crop_to_ink(load_image(sample.path), inset, sample.conditions["ink_box"])
    path = folder / "crop.png"
    crop.save(path)
    return crop, path


@pytest.mark.parametrize(("index", "label"), [(26, "6"), (34, "4")])
def test_a_small_handwritten_crop_measures_its_noise_clear_of_the_strokes(
    tmp_path, bundled, index, label
):
    """Two small digits in a blue pen, blurred and noisy (handwriting dev seed 1000), cut
    to the ink a person sees: the crop's ring runs along the strokes, and measured there
    the noise floor rose from 0.10 to 0.17 (the 6) and 0.05 to 0.09 (the 4), wiping out
    half the faint ink: the 6 read as 2, the 4 fell into three digits. Measured on the
    paper clear of the strokes, each floor stays within 0.02 of the same digit's with
    its margin, and each reads right."""
    sample = handwriting.make_set(tmp_path / "hand", index + 1, seed=1000, split="dev")[index]
    assert sample.label == label
    crop, path = saved_crop(sample, 0, tmp_path)
    _, floor_tight = ink_and_noise(crop)
    _, floor_margin = ink_and_noise(load_image(sample.path))
    assert floor_tight <= floor_margin + 0.02
    assert read_image(path, bundled).number == label


def test_a_number_cut_to_its_ink_measures_its_noise_in_its_ring(tmp_path, bundled):
    """A bold number cut to its ink (rendered development numbers, seed 1003, number 217:
    29079) keeps paper between its digits in the ring, where its noise is measured well;
    measured beside the strokes, the floor fell from 0.07 to 0.03 and the 0 read as 8."""
    sample = make_set(tmp_path / "numbers", 218, seed=1003, digits=(3, 6))[217]
    assert sample.label == "29079"
    _, path = saved_crop(sample, 0, tmp_path)
    assert read_image(path, bundled).number == "29079"


def test_a_bold_digit_cut_inside_its_ink_on_gray_paper_is_not_read_as_a_lamp(tmp_path, bundled):
    """A bold italic 3 on gray paper (rendered development seed 1002, its fourth image),
    cut a pixel inside its ink: half its ring is ink, the lamp's surface started from
    that ring bent to follow the strokes (below the darkest pixel), and the digit came
    out as a shaded wedge read as 7. Such a surface is not paper: the paper is flat."""
    sample = make_set(tmp_path / "rendered", 4, seed=1002)[3]
    crop, path = saved_crop(sample, 1, tmp_path)
    assert read_image(path, bundled).number == sample.label == "3"
    gray, _ = gray_and_alpha(crop)
    background = estimate_background(gray)
    assert float(background.min()) >= float(gray.min()) - 0.05


@pytest.mark.parametrize(
    "make",
    [handwriting.make_set, partial(make_set, digits=(1, 3))],
    ids=["handwriting", "rendered"],
)
def test_each_sample_records_the_box_of_its_visible_ink(tmp_path, make):
    """Both generators record the box tests/tight_crops.py cuts to: inside the image,
    and holding the whole digit."""
    for sample in make(tmp_path, 20, seed=4):
        left, top, right, bottom = sample.conditions["ink_box"]
        with Image.open(sample.path) as image:
            width, height = image.size
        assert 0 <= left < right <= width
        assert 0 <= top < bottom <= height
        assert bottom - top >= 0.8 * sample.conditions["height"]  # the whole digit
