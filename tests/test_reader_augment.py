"""Reader augmentations: stroke width, low resolution and printed-style digits (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
from test_augment import digit_like
from toydata import synthetic_data

from digitnet import config
from digitnet.data import glyphs, pen
from digitnet.data.augment import SIDE, Distortion, bilinear, distort, preview_grid, sampling_map
from digitnet.errors import ConfigError
from digitnet.training.train import TrainState, train


def test_cross_dilation_widens_and_erosion_narrows_every_image():
    X = digit_like(6).reshape(6, SIDE, SIDE)
    thicker = pen._cross_extreme(X, thicker=True)
    thinner = pen._cross_extreme(X, thicker=False)
    assert np.all(thicker >= X)
    assert np.all(thinner <= X)
    assert thicker.sum() > X.sum() > thinner.sum()


def cross_extreme_by_hand(images: np.ndarray, thicker: bool) -> np.ndarray:
    """Max or min over each pixel and its 4 neighbours inside the frame; outside is 0."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))  # zeros all round
    centre = padded[:, 1:-1, 1:-1]
    neighbours = [
        padded[:, :-2, 1:-1],
        padded[:, 2:, 1:-1],
        padded[:, 1:-1, :-2],
        padded[:, 1:-1, 2:],
    ]
    pick = np.maximum if thicker else np.minimum
    out = centre.copy()
    for neighbour in neighbours:
        out = pick(out, neighbour)
    return out


@pytest.mark.parametrize("thicker", [True, False])
def test_cross_step_is_the_max_or_min_over_the_cross_with_zeros_outside(thicker):
    # Ink up to every edge of every image: a neighbour taken from the image above or
    # below in the stacked batch, or a border other than 0, would show.
    X = np.random.default_rng(4).random((5, SIDE, SIDE), dtype=np.float32)
    got = pen._cross_extreme(X, thicker)
    np.testing.assert_array_equal(got, cross_extreme_by_hand(X, thicker))


def test_stroke_change_keeps_shape_dtype_bounds_and_is_seeded():
    X = digit_like(50)
    a = pen.change_stroke(X, pen.stroke_changes(50, np.random.default_rng(3), 2.0))
    b = pen.change_stroke(X, pen.stroke_changes(50, np.random.default_rng(3), 2.0))
    assert a.shape == X.shape
    assert a.dtype == np.float32
    assert a.min() >= 0
    assert a.max() <= 1
    np.testing.assert_array_equal(a, b)
    ink_change = a.sum(axis=1) - X.sum(axis=1)
    assert (ink_change > 0).any()
    assert (ink_change < 0).any()


def test_stroke_change_never_erases_a_thin_digit():
    """Eroding a one-pixel line removes it; such an erosion is undone (pen.KEEP_INK)."""
    X = np.zeros((1, SIDE, SIDE), np.float32)
    X[0, 4:24, 14] = 1.0  # a one-pixel 1: any erosion would remove it
    for seed in range(10):
        delta = pen.stroke_changes(1, np.random.default_rng(seed), 2.0)
        out = pen.change_stroke(X.reshape(1, -1), delta)
        assert out.sum() >= pen.KEEP_INK * X.sum()


def longer_side_of_box(images: np.ndarray) -> np.ndarray:
    """Each image's ink box (ink > 0.05, as geometry.INK_THRESHOLD): its longer side, px."""
    ink = images.reshape(-1, SIDE, SIDE) > 0.05
    rows, cols = ink.any(axis=2), ink.any(axis=1)

    def extent(lines: np.ndarray) -> np.ndarray:
        return SIDE - lines.argmax(axis=1) - lines[:, ::-1].argmax(axis=1)

    return np.maximum(extent(rows), extent(cols))


def test_a_thickened_digit_is_refitted_to_predicts_box():
    """`predict` fits the ink box, pen included, to 20 px; training's thicker pen is
    refitted the same way, so a thickened digit's box stays near 20 px, not 20 + Δ."""
    X = np.zeros((1, SIDE, SIDE), np.float32)
    X[0, 4:24, 10:13] = 1.0  # a 20-px stroke
    delta = np.array([4.0], np.float32)
    thick = pen.change_stroke(X.reshape(1, -1), delta)
    assert longer_side_of_box(thick)[0] == 24
    rows, cols = sampling_map(1, np.random.default_rng(0), Distortion(), pen.refit_zoom(delta))
    refitted = bilinear(thick, rows, cols)
    assert abs(int(longer_side_of_box(refitted)[0]) - 20) <= 1


def test_a_thinner_pen_is_not_refitted():
    np.testing.assert_array_equal(pen.refit_zoom(np.array([-2.0, 0.0], np.float32)), [1.0, 1.0])


def test_a_distortion_with_only_a_pen_change_refits_the_thickened_digits():
    X = np.zeros((40, SIDE, SIDE), np.float32)
    X[:, 4:24, 12:15] = 1.0
    out = distort(X.reshape(40, -1), np.random.default_rng(1), Distortion(stroke=4.0))
    assert longer_side_of_box(out).max() <= 21


def test_low_resolution_matrices_keep_a_flat_image_flat():
    for frame in range(10, 28):
        P = pen.resample_matrix(frame)
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)


def test_low_resolution_blurs_the_chosen_fraction_only():
    # Sharp random ink: any loss of resolution shows as smoother neighbourhoods.
    X = (np.random.default_rng(2).random((200, SIDE * SIDE)) < 0.3).astype(np.float32)
    none = pen.low_resolution(X, np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(none, X)
    out = pen.low_resolution(X, np.random.default_rng(0), 0.5)
    changed = np.any(np.abs(out - X) > 1e-6, axis=1)
    assert 0.35 < changed.mean() < 0.65
    assert out.dtype == np.float32
    assert out.min() >= 0
    assert out.max() <= 1

    # Detail is lost: neighbouring pixels differ less in the blurred images.
    def roughness(images):
        return np.abs(np.diff(images.reshape(-1, SIDE, SIDE), axis=2)).mean()

    assert roughness(out[changed]) < roughness(X[changed])


def test_printed_digits_are_in_mnist_form_and_seeded():
    labels = np.arange(40) % 10
    a = glyphs.render(labels, np.random.default_rng(5))
    b = glyphs.render(labels, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (40, SIDE * SIDE)
    assert a.dtype == np.float32
    assert a.min() >= 0
    assert a.max() <= 1
    images = a.reshape(-1, SIDE, SIDE)
    grid = np.arange(SIDE)
    for image in images:
        mass = image.sum()
        assert mass > 20  # real strokes, not a speck
        rows, cols = np.nonzero(image > 0.1)
        assert 16 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 24  # ~20-px box, as MNIST
        cy = (image.sum(axis=1) * grid).sum() / mass
        cx = (image.sum(axis=0) * grid).sum() / mass
        assert abs(cy - 13.5) < 1.5
        assert abs(cx - 13.5) < 1.5
    assert len({a[i].tobytes() for i in range(40)}) == 40  # every sample its own


def test_printed_digits_of_different_labels_differ_on_average():
    rng = np.random.default_rng(1)
    ones = glyphs.render(np.full(30, 1), rng).mean(axis=0)
    zeros = glyphs.render(np.full(30, 0), rng).mean(axis=0)
    centre = ones.reshape(SIDE, SIDE)[10:18, 12:16].mean()
    assert centre > zeros.reshape(SIDE, SIDE)[10:18, 12:16].mean()  # a 0 is hollow


def test_distort_replaces_only_with_labels_and_keeps_range():
    X = digit_like(100)
    labels = np.arange(100) % 10
    d = Distortion(printed=0.3)
    without = distort(X, np.random.default_rng(0), d)
    np.testing.assert_array_equal(without, X)  # no labels: nothing to draw
    out = distort(X, np.random.default_rng(0), d, labels)
    replaced = np.any(out != X, axis=1).mean()
    assert 0.15 < replaced < 0.45
    assert out.dtype == np.float32
    assert out.min() >= 0
    assert out.max() <= 1


def test_every_reader_option_together_is_seeded_and_bounded():
    X = digit_like(64)
    labels = np.arange(64) % 10
    d = Distortion(rotate=10, stroke=2, low_res=0.3, printed=0.2)
    a = distort(X, np.random.default_rng(9), d, labels)
    b = distort(X, np.random.default_rng(9), d, labels)
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape
    assert a.dtype == np.float32
    assert a.min() >= 0
    assert a.max() <= 1
    assert d.enabled
    assert Distortion(stroke=1).enabled
    assert not Distortion().enabled


def test_preview_grid_shows_printed_digits_when_given_labels():
    X = digit_like(3)
    grid = preview_grid(
        X, np.random.default_rng(0), Distortion(printed=1.0), 2, labels=np.arange(3)
    )
    plain = preview_grid(X, np.random.default_rng(0), Distortion(printed=1.0), 2)
    assert grid.dtype == np.uint8
    assert grid.shape == plain.shape
    assert not np.array_equal(grid, plain)


@pytest.mark.parametrize(
    ("key", "value"),
    [("augment_stroke", 4.5), ("augment_stroke", -1.0), ("augment_low_res", 1.5),
     ("augment_printed", -0.1), ("augment_printed", 2)],
)  # fmt: skip
def test_config_refuses_out_of_range_reader_options(key, value):
    with pytest.raises(ConfigError, match=key):
        config.apply(config.Config(), {key: value}, "test")


def test_config_reader_options_default_off_and_reach_the_distortion():
    assert not Distortion.from_config(config.Config()).enabled
    cfg = config.apply(
        config.Config(),
        {"augment_stroke": 1.5, "augment_low_res": 0.2, "augment_printed": 0.1},
        "test",
    )
    d = Distortion.from_config(cfg)
    assert (d.stroke, d.low_res, d.printed) == (1.5, 0.2, 0.1)


def test_training_with_reader_options_is_reproducible():
    settings = {"hidden_size": 8, "epochs": 2, "augment_stroke": 1.0, "augment_low_res": 0.3,
                "augment_printed": 0.2, "seed": 4}  # fmt: skip
    cfg = config.apply(config.Config(), settings, "test")
    runs = []
    for _ in range(2):
        state = TrainState.start(cfg)
        *_, (_record, params) = train(cfg, synthetic_data(), state=state)
        runs.append(params.W1.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_printed_digits_come_in_light_regular_and_bold_weights():
    rng = np.random.default_rng(2)
    _, _, pen_widths, _ = glyphs._skeletons(np.arange(2000) % 10, rng)
    for (low, high), share in zip(glyphs.PEN_RANGES, glyphs.PEN_SHARES, strict=True):
        inside = np.mean((pen_widths >= low) & (pen_widths <= high))
        assert inside >= share - 0.03  # ranges overlap a little: at least its own share
    assert np.mean(pen_widths < 1.6) > 0.2  # hairlines, as Computer Modern at text size
    assert np.mean(pen_widths > 3.2) > 0.1  # bold faces


def test_upright_strokes_weigh_more_than_horizontal_ones():
    seg = np.array([[0, 0, 0, 10], [0, 0, 10, 0], [0, 0, 5, 5]], dtype=np.float64)
    weight = glyphs._contrast_weights(seg, np.zeros(3, np.intp), np.array([0.4]))
    np.testing.assert_allclose(weight[:2], [1.4, 0.6])  # 1 ± k
    assert 0.6 < weight[2] < 1.4
    no_contrast = glyphs._contrast_weights(seg, np.zeros(3, np.intp), np.array([0.0]))
    np.testing.assert_allclose(no_contrast, 1.0)


def test_hairline_strokes_still_leave_ink():
    images = glyphs.render(np.arange(500) % 10, np.random.default_rng(4))
    assert images.reshape(500, -1).max(axis=1).min() > 0.9  # every digit has solid ink
    assert images.sum(axis=1).min() > 15


def test_wide_pens_keep_a_sharp_edge(monkeypatch):
    monkeypatch.setattr(glyphs, "PEN_RANGES", ((3.8, 4.2),))
    monkeypatch.setattr(glyphs, "PEN_SHARES", (1.0,))
    labels = np.arange(200) % 10

    def grey(images):  # pixels on the soft edge, per image
        return np.mean(((images > 0.05) & (images < 0.95)).sum(axis=1))

    sharp = grey(glyphs.render(labels, np.random.default_rng(6)))
    monkeypatch.setattr(glyphs, "EDGE_SLOPE", np.inf)  # the Gaussian's own edge, 2σ wide
    blurred = grey(glyphs.render(labels, np.random.default_rng(6)))
    assert sharp < 0.7 * blurred


def test_fours_are_closed_or_open_with_or_without_a_serif_foot():
    rng = np.random.default_rng(7)
    shapes = [glyphs.GLYPHS[4](0.6, rng) for _ in range(400)]
    footed = [len(s) == 3 for s in shapes]
    for shape, foot in zip(shapes, footed, strict=True):
        if foot:
            (x0, y0), (x1, y1) = shape[2]
            assert y0 == y1 == 1.0  # a horizontal bar at the stem's base
            assert x1 > x0
    closed = [shape[0][0][1] == shape[1][0][1] == 0.0 for shape in shapes]  # both start on top
    assert 0.3 < np.mean(footed) < 0.5
    assert 0.5 < np.mean(closed) < 0.7
