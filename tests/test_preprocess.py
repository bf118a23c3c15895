"""Tests for digitnet.images.preprocess: a user's image -> MNIST's 28×28 form.

The reference is MNIST itself: a digit that already is an MNIST digit must come back
unchanged, and the same drawn digit must give the same 28×28 input whatever the file's
mode, polarity, position, size or EXIF orientation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageOps

from digitnet.data.idx import read_idx
from digitnet.errors import ImageError
from digitnet.images.decode import MAX_SIDE, load_image, reduce_large
from digitnet.images.geometry import BOX_SIZE
from digitnet.images.photometry import estimate_background, ink_mask, to_gray_ink
from digitnet.images.preprocess import image_to_input, to_mnist, to_mnist_digits
from digitnet.vocabulary import IMAGE_SIDE

# ----------------------------------------------------------------------- helpers

SUPERSAMPLE = 4  # draw at 4× and shrink, so strokes get anti-aliased gray edges


def draw_seven(size: tuple[int, int] = (120, 160), box: tuple[int, int, int, int] | None = None):
    """A '7' in dark ink on white paper, mode L. `box` = (left, top, right, bottom).

    A 7 is asymmetric both ways, so a rotated or mirrored result cannot pass for it.
    """
    width, height = size
    left, top, right, bottom = box or (25, 20, width - 25, height - 20)
    big = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 255)
    draw = ImageDraw.Draw(big)
    s = SUPERSAMPLE
    stroke = max(1, round(0.12 * (right - left))) * s
    draw.line([(left * s, top * s), (right * s, top * s)], fill=0, width=stroke)
    draw.line(
        [(right * s, top * s), (left * s + (right - left) * s // 3, bottom * s)],
        fill=0,
        width=stroke,
    )
    return big.resize(size, Image.Resampling.BOX)


def assert_unit_range(values: NDArray[np.float32]) -> None:
    assert values.min() >= 0.0
    assert values.max() <= 1.0


def ink_box(image28: NDArray[np.float32]) -> tuple[int, int]:
    """(height, width) of the bounding box of the nonzero pixels."""
    rows = np.flatnonzero(image28.any(axis=1))
    cols = np.flatnonzero(image28.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def centre_of_mass(image28: NDArray[np.float32]) -> tuple[float, float]:
    rows, cols = np.indices(image28.shape)
    mass = image28.sum()
    return float((rows * image28).sum() / mass), float((cols * image28).sum() / mass)


def as_mode(base: Image.Image, mode: str) -> Image.Image:
    """The same drawing (dark ink on white, mode L) stored in another image mode."""
    ink = 255 - np.asarray(base)  # coverage: 255 where the pen went
    if mode == "L":
        return base
    if mode == "RGB":  # navy ink: colour and lower contrast than black
        navy = np.array([20, 20, 110], dtype=np.float64)
        cover = ink[..., None] / 255.0
        rgb = 255.0 * (1.0 - cover) + navy * cover
        return Image.fromarray(np.round(rgb).astype(np.uint8))
    if mode == "RGBA":  # black strokes, transparent (black!) background
        rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
        rgba[..., 3] = ink
        return Image.fromarray(rgba)
    if mode == "LA":
        return Image.merge("LA", [Image.new("L", base.size, 0), Image.fromarray(ink)])
    if mode == "P":
        return base.convert("P")
    if mode == "P-transparent":  # palette image whose white index is transparent
        palette = base.convert("P")
        palette.info["transparency"] = palette.getpixel((0, 0))
        return palette
    if mode == "I;16":
        return Image.fromarray(np.asarray(base).astype(np.uint16) * 257)
    if mode == "1":
        return base.convert("1", dither=Image.Dither.NONE)
    if mode == "CMYK":
        return base.convert("RGB").convert("CMYK")
    raise AssertionError(mode)


def save(image: Image.Image, path: Path, **params) -> Path:
    image.save(path, **params)
    return path


@pytest.fixture(scope="module")
def seven() -> Image.Image:
    return draw_seven()


@pytest.fixture(scope="module")
def seven28(seven) -> NDArray[np.float32]:
    return to_mnist(seven)


# ------------------------------------------------------------- modes and polarity


@pytest.mark.parametrize(
    ("mode", "suffix", "tolerance"),
    [
        ("L", ".png", 1e-6),
        ("RGB", ".png", 0.01),
        ("RGBA", ".png", 0.01),
        ("LA", ".png", 0.01),
        ("P", ".png", 1e-6),
        ("P-transparent", ".png", 0.01),
        ("I;16", ".png", 1e-6),
        ("1", ".png", 0.05),  # bilevel: the anti-aliased edges are gone
        ("CMYK", ".tiff", 0.01),
    ],
)
def test_every_mode_gives_the_same_digit(tmp_path, seven, seven28, mode, suffix, tolerance):
    path = save(as_mode(seven, mode), tmp_path / f"seven{suffix}")
    loaded = load_image(path)
    assert loaded.mode.startswith(mode.split("-")[0]) or mode == "P-transparent"
    result = to_mnist(loaded)
    assert result.shape == (IMAGE_SIDE, IMAGE_SIDE)
    assert result.dtype == np.float32
    assert np.abs(result - seven28).mean() <= tolerance


def test_16_bit_is_scaled_like_8_bit(seven):
    eight = to_gray_ink(seven)
    sixteen = to_gray_ink(as_mode(seven, "I;16"))
    np.testing.assert_allclose(sixteen, eight, atol=1e-6)


def test_light_on_dark_equals_dark_on_light(seven, seven28):
    np.testing.assert_allclose(to_mnist(ImageOps.invert(seven)), seven28, atol=1e-6)


def test_ink_is_high_and_background_zero(seven):
    ink = to_gray_ink(seven)
    assert ink.dtype == np.float32
    assert ink.shape == (seven.height, seven.width)
    assert ink[0, 0] == 0.0  # white paper is background
    assert ink.max() == 1.0  # the black stroke is full ink


def test_faint_ink_is_stretched_to_full(seven, seven28):
    faint = Image.fromarray((255 - 0.4 * (255 - np.asarray(seven, np.float64))).astype(np.uint8))
    assert to_gray_ink(faint).max() == 1.0
    assert np.abs(to_mnist(faint) - seven28).mean() < 0.01


def test_paper_noise_becomes_background(seven, seven28):
    rng = np.random.default_rng(0)
    gray = np.asarray(seven, np.float64) * 0.85 + rng.normal(0.0, 4.0, (seven.height, seven.width))
    noisy = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))
    result = to_mnist(noisy)
    assert np.abs(result - seven28).mean() < 0.02
    assert (result[:2] == 0).all()  # no noise left in the field's margin


# --------------------------------------------------------- crop, scale and centre


def test_small_digit_in_a_corner_is_centred_and_scaled(seven28):
    corner = draw_seven(size=(600, 400), box=(10, 12, 45, 72))  # the 70×120 seven, halved
    result = to_mnist(corner)
    assert max(ink_box(result)) == BOX_SIZE
    row, col = centre_of_mass(result)
    assert abs(row - 14.0) <= 0.5
    assert abs(col - 14.0) <= 0.5
    assert np.abs(result - seven28).mean() < 0.03  # same drawing, different canvas


def test_tiny_digit_is_enlarged_to_twenty_pixels():
    tiny = draw_seven(size=(40, 40), box=(15, 15, 21, 24))
    result = to_mnist(tiny)
    assert max(ink_box(result)) == BOX_SIZE
    assert_unit_range(result)  # Lanczos overshoot clipped


def test_aspect_ratio_is_kept_for_a_thin_one():
    one = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(one).rectangle([140, 50, 159, 249], fill=0)  # 20 wide, 200 tall
    height, width = ink_box(to_mnist(one))
    assert height == BOX_SIZE
    assert width <= 3  # 20 × 20/200 = 2 px, not stretched into a square


def test_exif_rotated_jpeg_comes_out_upright(tmp_path, seven, seven28):
    # Orientation 6: stored turned 90° counter-clockwise, shown after a clockwise turn.
    # Orientation 8: the reverse.
    for orientation, stored_turn in [
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ]:
        stored = seven.transpose(stored_turn)
        exif = Image.Exif()
        exif[0x0112] = orientation  # EXIF Orientation
        path = save(stored, tmp_path / f"photo{orientation}.jpg", exif=exif, quality=95)
        upright = to_mnist(load_image(path))
        sideways = to_mnist(stored)
        assert np.abs(upright - seven28).mean() < 0.02
        assert np.abs(upright - seven28).mean() < np.abs(sideways - seven28).mean() / 3


def test_animated_image_gives_first_frame(tmp_path, seven):
    frames = [seven, ImageOps.invert(seven)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    np.testing.assert_array_equal(np.asarray(load_image(path).convert("L")), np.asarray(seven))


def test_image_to_input_is_the_flat_network_input(tmp_path, seven, seven28):
    x = image_to_input(save(seven, tmp_path / "seven.png"))
    assert x.shape == (IMAGE_SIDE * IMAGE_SIDE,)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, seven28.ravel())


@settings(deadline=None, max_examples=60)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    st.sampled_from(["L", "RGB", "RGBA", "I;16", "1"]),
)
def test_any_image_gives_a_valid_input_or_image_error(pixels, mode):
    image = Image.fromarray(pixels)
    if mode == "RGBA":
        image = Image.merge("RGBA", [image, image, image, image])
    elif mode == "I;16":
        image = Image.fromarray(pixels.astype(np.uint16) * 257)
    elif mode != "L":
        image = image.convert(mode)
    ink = to_gray_ink(image)
    assert ink.dtype == np.float32
    assert ink.shape == pixels.shape
    assert_unit_range(ink)
    if not ink_mask(ink).any():  # no pixel clearly ink, even after a 3×3 mean
        with pytest.raises(ImageError, match="no digit found"):
            to_mnist(image)
        return
    result = to_mnist(image)
    assert result.shape == (IMAGE_SIDE, IMAGE_SIDE)
    assert result.dtype == np.float32
    assert_unit_range(result)
    assert result.any()


# -------------------------------------------------------------------------- errors


def assert_one_line(error: pytest.ExceptionInfo[ImageError], *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert " — " in message  # "<what> — <what to do>"
    for word in words:
        assert word in message


def test_missing_file(tmp_path):
    with pytest.raises(ImageError) as error:
        image_to_input(tmp_path / "nope.png")
    assert_one_line(error, "nope.png", "does not exist")


def test_directory(tmp_path):
    with pytest.raises(ImageError) as error:
        load_image(tmp_path)
    assert_one_line(error, "directory")


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError) as error:
        load_image(path)
    assert_one_line(error, "notes.png", "not an image")


def test_truncated_png(tmp_path, seven):
    whole = save(seven, tmp_path / "whole.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError) as error:
        load_image(path)
    assert_one_line(error, "cut.png", "truncated or corrupt")


def test_blank_image(tmp_path):
    path = save(Image.new("RGB", (50, 40), (240, 240, 240)), tmp_path / "blank.png")
    with pytest.raises(ImageError) as error:
        image_to_input(path)
    assert_one_line(error, "blank.png", "no digit found")


@pytest.mark.parametrize("limit", [1500, 700])  # 1600 px: warns above 1500, fails above 2 × 700
def test_decompression_bomb(tmp_path, seven, monkeypatch, limit):
    path = save(seven.resize((40, 40)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageError) as error:
        load_image(path)
    assert_one_line(error, "bomb.png", "too large")


# ------------------------------------------------------------------ MNIST round trip


# `mnist_dir` (tests/conftest.py) is the folder named by DIGITNET_TEST_MNIST, or a skip.


def mnist_test_images(mnist_dir: Path, count: int) -> NDArray[np.uint8]:
    """The first `count` MNIST test digits, (count, 28, 28) uint8."""
    return read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:count]


def nearest_neighbour(
    train: NDArray[np.float32], labels: NDArray[np.uint8], queries: NDArray[np.float32]
) -> NDArray[np.uint8]:
    """1-NN labels: a pixel-sensitive stand-in for a trained network."""
    distances = (queries**2).sum(1)[:, None] - 2 * queries @ train.T + (train**2).sum(1)[None]
    return labels[distances.argmin(axis=1)]


def test_mnist_digits_round_trip_unchanged(tmp_path, mnist_dir):
    digits = mnist_test_images(mnist_dir, 1000)
    raw = digits.astype(np.float32) / np.float32(255)
    back = np.empty_like(raw)
    for i, digit in enumerate(digits):
        path = save(Image.fromarray(digit), tmp_path / f"{i}.png")  # 8-bit grayscale PNG
        back[i] = image_to_input(path).reshape(IMAGE_SIDE, IMAGE_SIDE)
    per_digit = np.abs(back - raw).mean(axis=(1, 2))
    assert (per_digit == 0).mean() >= 0.99  # measured: all 10,000 test digits exact
    assert per_digit.mean() < 1e-3


def test_mnist_predictions_agree_after_round_trip(tmp_path, mnist_dir):
    train = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")[:10000]
    train_labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")[:10000]
    train_x = train.reshape(len(train), -1).astype(np.float32) / np.float32(255)
    test = mnist_test_images(mnist_dir, 100)
    raw = test.reshape(len(test), -1).astype(np.float32) / np.float32(255)
    exported = np.stack(
        [
            image_to_input(save(Image.fromarray(d), tmp_path / f"{i}.png"))
            for i, d in enumerate(test)
        ]
    )
    agree = nearest_neighbour(train_x, train_labels, raw) == nearest_neighbour(
        train_x, train_labels, exported
    )
    assert agree.sum() >= 99


def test_mnist_digit_as_a_large_photo_comes_back_close(mnist_dir):
    # Each digit enlarged 5× (pixel blocks), dark on white, somewhere on a big page:
    # the crop, area-average shrink and centring must undo that.
    digits = mnist_test_images(mnist_dir, 100)
    rng = np.random.default_rng(0)
    errors = []
    for digit in digits:
        big = Image.fromarray(255 - digit).resize((140, 140), Image.Resampling.NEAREST)
        page = Image.new("L", (400, 300), 255)
        page.paste(big, (int(rng.integers(0, 260)), int(rng.integers(0, 160))))
        errors.append(np.abs(to_mnist(page) - digit / np.float32(255)).mean())
    assert np.mean(errors) < 0.01


# ------------------------------------------------ photos: light, size, several digits


def test_uneven_light_is_removed_by_the_background_surface(seven, seven28):
    # The seven on a page lit from one side: 45 % darker at the right edge.
    gray = np.asarray(seven, np.float64)
    falloff = 1.0 - 0.45 * np.linspace(0.0, 1.0, seven.width)[None, :]
    lit = Image.fromarray(np.round(gray * falloff).astype(np.uint8))
    background = estimate_background(np.asarray(lit, np.float32) / np.float32(255))
    assert background.shape == (seven.height, seven.width)
    assert background[:, -1].mean() < background[:, 0].mean() - 0.3
    result = to_mnist(lit)
    assert np.abs(result - seven28).mean() < 0.03
    assert (result[:2] == 0).all()


def test_flat_paper_keeps_a_flat_background(seven):
    background = estimate_background(np.asarray(seven, np.float32) / np.float32(255))
    assert background.ndim == 0  # a single level: the border's median
    assert float(background) == 1.0


def test_large_image_is_reduced_early_and_reads_the_same(tmp_path, seven28):
    page = draw_seven(size=(4000, 3000), box=(1500, 1000, 2100, 1900))
    reduced = reduce_large(page)
    assert max(reduced.size) <= MAX_SIDE
    assert reduce_large(reduced) is reduced  # small images are left alone
    path = save(page, tmp_path / "page.jpg", quality=90)
    assert max(load_image(path, max_side=MAX_SIDE).size) < 4000  # JPEG drafted smaller
    x = image_to_input(path).reshape(IMAGE_SIDE, IMAGE_SIDE)
    assert np.abs(x - seven28).mean() < 0.03


def test_specks_on_noisy_paper_are_dropped(seven, seven28):
    rng = np.random.default_rng(1)
    page = Image.new("L", (400, 300), 235)
    page.paste(seven, (140, 70))
    pixels = np.asarray(page, np.float64) + rng.normal(0, 6, (300, 400))
    pixels[20:24, 20:24] = 40  # dirt in a corner
    pixels[280:283, 380:384] = 40
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    result = to_mnist(noisy)
    assert np.abs(result - seven28).mean() < 0.03


def test_several_digits_come_out_left_to_right(seven28):
    one = Image.new("L", (300, 140), 255)
    pen = ImageDraw.Draw(one)
    pen.rectangle([40, 20, 49, 119], fill=0)  # a 1
    seven = draw_seven(size=(120, 160)).resize((90, 120))
    one.paste(seven, (150, 10))
    digits = to_mnist_digits(one)
    assert len(digits) == 2
    assert ink_box(digits[0])[1] <= 4  # the narrow 1 first
    assert np.abs(digits[1] - seven28).mean() < 0.05
    (whole,) = to_mnist_digits(one, single=True)
    assert ink_box(whole)[1] == BOX_SIZE  # both together, as one wide "digit"
