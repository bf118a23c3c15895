"""Augmentation: images stay in range, stay with their labels, and zero strength is identity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitnet.data.augment import (
    SIDE,
    Distortion,
    bilinear,
    distort,
    field_basis,
    gaussian_matrix,
    sampling_map,
)


def digit_like(m: int, seed: int = 0) -> np.ndarray:
    """m images of three soft blobs of ink at random places in the middle of the frame,
    values in [0, 1], float32: smooth like pen strokes and different from each other."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(7, 21, size=(m, 3, 2))
    r = np.arange(SIDE)[None, None, :, None]
    c = np.arange(SIDE)[None, None, None, :]
    d2 = (r - centres[..., 0, None, None]) ** 2 + (c - centres[..., 1, None, None]) ** 2
    images = np.exp(-d2 / (2 * 2.0**2)).max(axis=1)  # (m, 28, 28)
    return images.reshape(m, SIDE * SIDE).astype(np.float32)


STRONG = Distortion(shift=2, rotate=15, scale=0.15, shear=0.3, elastic_alpha=34, elastic_sigma=4)


def test_zero_strength_returns_the_input_unchanged():
    X = digit_like(20)
    out = distort(X, np.random.default_rng(1), Distortion())
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, X)


def test_zero_alpha_with_any_sigma_is_still_identity():
    X = digit_like(5)
    out = distort(X, np.random.default_rng(1), Distortion(elastic_sigma=1.5))
    np.testing.assert_array_equal(out, X)


def test_integer_shift_moves_the_image_by_whole_pixels():
    X = digit_like(1)
    rows = np.arange(SIDE, dtype=np.float32)[None, :, None] + np.zeros((1, SIDE, SIDE), np.float32)
    cols = np.arange(SIDE, dtype=np.float32)[None, None, :] + np.zeros((1, SIDE, SIDE), np.float32)
    out = bilinear(X, rows - 2, cols + 3).reshape(SIDE, SIDE)  # read 2 up, 3 right
    expected = np.zeros((SIDE, SIDE), np.float32)
    expected[2:, : SIDE - 3] = X.reshape(SIDE, SIDE)[: SIDE - 2, 3:]
    np.testing.assert_array_equal(out, expected)


@settings(deadline=None, max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(0, 4),
    rotate=st.floats(0, 45),
    scale=st.floats(0, 0.5),
    shear=st.floats(0, 0.5),
    alpha=st.floats(0, 60),
    sigma=st.floats(1, 8),
)
def test_outputs_stay_in_range_for_any_strength(seed, shift, rotate, scale, shear, alpha, sigma):
    d = Distortion(shift, rotate, scale, shear, alpha, sigma)
    X = digit_like(8, seed % 7)
    X[:, 300] = 1.0  # full-intensity pixels are the ones that could overshoot
    out = distort(X, np.random.default_rng(seed), d)
    assert out.shape == X.shape
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0.0
    assert out.max() <= 1.0


def test_each_output_depends_only_on_its_own_input_so_labels_still_apply():
    # Change one image of the batch and distort with the same random draws: only that
    # row of the output changes. Rows are neither mixed nor reordered, so y[i] is still
    # the label of the distorted image i.
    X = digit_like(10, seed=3)
    changed = X.copy()
    changed[4] = digit_like(1, seed=9)[0]
    a = distort(X, np.random.default_rng(5), STRONG)
    b = distort(changed, np.random.default_rng(5), STRONG)
    others = np.arange(10) != 4
    np.testing.assert_array_equal(a[others], b[others])
    assert not np.array_equal(a[4], b[4])


def test_mild_distortions_keep_each_image_closest_to_its_original():
    X = digit_like(40, seed=3)
    mild = Distortion(shift=0.5, rotate=5, scale=0.05, shear=0.05, elastic_alpha=8)
    out = distort(X, np.random.default_rng(0), mild)
    Xc = X - X.mean(axis=1, keepdims=True)
    Oc = out - out.mean(axis=1, keepdims=True)
    similarity = (Oc @ Xc.T) / np.outer(np.linalg.norm(Oc, axis=1), np.linalg.norm(Xc, axis=1))
    assert np.diag(similarity).mean() > 0.9
    # random blobs can land almost on another image's blobs: allow a rare near-twin
    assert (similarity.argmax(axis=1) == np.arange(40)).mean() >= 0.95


def test_distortions_are_random_per_image_and_reproducible_per_seed():
    X = np.repeat(digit_like(1), 4, axis=0)
    a = distort(X, np.random.default_rng(7), STRONG)
    b = distort(X, np.random.default_rng(7), STRONG)
    np.testing.assert_array_equal(a, b)  # same seed, same distortions
    assert not np.array_equal(a[0], a[1])  # one draw per image, not per batch
    assert not np.array_equal(a[0], X[0])


def test_elastic_field_has_simards_scale():
    # Smoothing a uniform(−1, 1) field with a normalised Gaussian of σ = 4 leaves a
    # standard deviation of about 0.58 / (2 σ √π) ≈ 0.04 in the middle of the image;
    # α = 34 makes that about 1.4 pixels: visible but not destructive.
    rows, _ = sampling_map(200, np.random.default_rng(0), Distortion(elastic_alpha=34))
    base = np.arange(SIDE, dtype=np.float32)[None, :, None]
    displacement = (rows - base)[:, 10:18, 10:18]
    assert 0.8 < displacement.std() < 2.0


def test_gaussian_matrix_rows_sum_to_one_away_from_the_edges():
    G = gaussian_matrix(2.0)
    assert G[14].sum() == pytest.approx(1.0, abs=1e-4)
    assert G[0].sum() < 0.7  # zero padding outside the image


def reference_field(m: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """The elastic field as Simard et al. define it: G_σ * u with u uniform in [−1, 1),
    zero padding outside the image (the method augment.py used before issue 12)."""
    G = gaussian_matrix(sigma).astype(np.float64)
    u = rng.uniform(-1, 1, size=(2, m, SIDE, SIDE))
    return G @ u @ G.T  # (2, m, 28, 28): G u Gᵀ per slice


def field_statistics(field: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and std of the displacement per pixel, and its correlation at a few lags
    along rows and columns in the middle of the image."""
    samples = field.reshape(-1, SIDE, SIDE).astype(np.float64)
    middle = slice(6, 14)
    lags = (1, 2, 4, 8)

    def correlation(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    return {
        "mean": samples.mean(axis=0),
        "std": samples.std(axis=0),
        "along rows": np.array(
            [
                correlation(samples[:, middle, middle], samples[:, middle, 6 + k : 14 + k])
                for k in lags
            ]
        ),
        "along columns": np.array(
            [
                correlation(samples[:, middle, middle], samples[:, 6 + k : 14 + k, middle])
                for k in lags
            ]
        ),
    }


def elastic_field(m: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """The elastic part of ``sampling_map`` (α = 1, no affine part): its coordinates
    minus each pixel's own, (2, m, 28, 28) for rows and columns."""
    rows, cols = sampling_map(m, rng, Distortion(elastic_alpha=1.0, elastic_sigma=sigma))
    grid = np.arange(SIDE, dtype=np.float32)
    return np.stack([rows - grid[None, :, None], cols - grid[None, None, :]])


@pytest.mark.parametrize("sigma", [4.0, 1.5])
def test_elastic_field_matches_the_smoothed_uniform_field_in_distribution(sigma):
    m = 3000
    new = field_statistics(elastic_field(m, np.random.default_rng(3), sigma))
    old = field_statistics(reference_field(m, np.random.default_rng(4), sigma))
    scale = old["std"].mean()
    # Means: 0 within sampling error (std / √6000 ≈ 1.3% of the std per pixel).
    assert np.abs(new["mean"]).max() < 0.06 * scale
    # Std per pixel, edges (zero padding) included: within sampling error (~1%) of the old.
    np.testing.assert_allclose(new["std"], old["std"], rtol=0.05)
    assert abs(new["std"].mean() / scale - 1) < 0.01
    # Spatial correlation: the same smoothness along both axes.
    np.testing.assert_allclose(new["along rows"], old["along rows"], atol=0.02)
    np.testing.assert_allclose(new["along columns"], old["along columns"], atol=0.02)


def test_elastic_field_statistics_tell_another_smoothness_apart():
    # Guards the test above: a field of σ = 3 is told from one of σ = 4.
    new = field_statistics(elastic_field(3000, np.random.default_rng(3), 3.0))
    old = field_statistics(reference_field(3000, np.random.default_rng(4), 4.0))
    assert np.abs(new["along rows"] - old["along rows"]).max() > 0.02


def test_field_basis_keeps_few_directions_for_a_smooth_field():
    assert field_basis(4.0).shape == (SIDE, 6)  # 6 of 28: why the field is cheap
    assert field_basis(1.5).shape[1] > field_basis(4.0).shape[1]


def test_bilinear_matches_scipys_interpolation_with_zeros_outside():
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(11)
    images = rng.random((4, SIDE * SIDE), dtype=np.float32)
    # Points inside, between the edge and the zero border, and far outside.
    rows = rng.uniform(-4, SIDE + 3, (4, SIDE, SIDE)).astype(np.float32)
    cols = rng.uniform(-4, SIDE + 3, (4, SIDE, SIDE)).astype(np.float32)
    out = bilinear(images, rows, cols).reshape(4, SIDE, SIDE)
    # The batch is read as one tall image (4 slots of 30 rows): a float32 row coordinate
    # there is exact to half a unit in its last place, and a value, whose slope is at most
    # 1 per pixel, to as much. Interpolation weights rounded to 1/32 pixel would be off by
    # up to 0.016, so this also checks that the interpolation itself is exact.
    tolerance = float(np.spacing(np.float32(4 * (SIDE + 2)))) / 2 + 2e-6
    for image, r, c, got in zip(images, rows, cols, out, strict=True):
        expected = map_coordinates(
            image.reshape(SIDE, SIDE).astype(np.float64), [r, c], order=1, mode="grid-constant"
        )
        np.testing.assert_allclose(got, expected, atol=tolerance)


def test_bilinear_reads_a_batch_too_tall_for_one_remap_call():
    # 1,200 images are 36,000 rows stacked, past OpenCV's 32,767: read in parts, each
    # image as it is read alone (a batch_size of 1,200 with distortions once crashed here).
    rng = np.random.default_rng(12)
    m = 1200
    images = rng.random((m, SIDE * SIDE), dtype=np.float32)
    rows = rng.uniform(-2, SIDE + 1, (m, SIDE, SIDE)).astype(np.float32)
    cols = rng.uniform(-2, SIDE + 1, (m, SIDE, SIDE)).astype(np.float32)
    out = bilinear(images, rows, cols)
    assert out.shape == (m, SIDE, SIDE)
    for i in (0, 255, 256, 700, m - 1):
        alone = bilinear(images[i : i + 1], rows[i : i + 1], cols[i : i + 1])
        np.testing.assert_allclose(out[i], alone[0], atol=1e-3)
