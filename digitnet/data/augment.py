"""Random distortions of training images, applied on the fly to each mini-batch.

Two kinds, after Simard, Steinkraus & Platt 2003, "Best practices for
convolutional neural networks applied to visual document analysis" (§2):

* **affine**: a random shift, rotation, scale (x and y apart) and shear per image;
* **elastic**: a random displacement field per image, uniform in [−1, 1] per pixel
  and coordinate, smoothed by a Gaussian of width σ and scaled by α (Simard: σ = 4,
  α = 34 for MNIST).

Both are expressed as one *sampling map*: output pixel p reads the input at

    s(p) = M (p − c) + c + t + α (G_σ * u)(p)

with c the image centre, M = R(rotation) · Shear · diag(scale), t the shift and
u the uniform noise. The input is read there by bilinear interpolation, with
zeros outside the image, so every output pixel is a convex combination of input
pixels and zeros: images stay in [0, 1] and labels are untouched.

Everything is vectorised over the batch (no Python loop over images). Three choices
keep augmentation well below the cost of a training step:

* the elastic field G_σ * u is the separable product G u Gᵀ with a 28 × 28 matrix G
  holding the kernel (zero padding, like scipy's mode="constant"). It is a smoothed
  random field, so only its covariance matters: per axis G Gᵀ, whose eigenvalues fall
  off like e^(−(πjσ/28)²). ``field_basis`` keeps the k leading eigenvectors (k = 6 of
  28 for σ = 4, all but 6 · 10⁻⁴ of the variance, the finest ripples) and the field is
  drawn as L z Lᵀ with z a k × k standard normal: the same mean, variance and spatial
  correlation (tests/test_augment.py compares them with G u Gᵀ), from 36 random numbers
  instead of 784. Gaussian instead of a sum of uniforms: each pixel of G u Gᵀ sums hundreds of
  them, so it is normal already;
* the affine part is a bilinear form in the same coordinates (M (p − c) is linear in the
  pixel's row and column offsets), so the whole sampling map of a batch, field and affine
  part together, is two batched products with one 28 × (k + 2) basis (``sampling_map``);
* bilinear interpolation reads the whole batch, stacked into one tall image with zero
  rows between the images, in one call of OpenCV's ``remap`` (issue 12: half the time of
  the numpy gathers it replaces, which were themselves faster than
  ``scipy.ndimage.map_coordinates`` on the stacked batch, issue 4).

Training distorts each mini-batch just before its step (digitnet/training/batches.py).

With every strength zero, s(p) = p exactly, and the output equals the input.

Three more options bring training closer to users' digits (issue 11), in this order
before the geometric ones: ``printed`` replaces a fraction of the images by
printed-style digits of the same label drawn from stroke skeletons (glyphs.py);
``stroke`` widens or narrows each image's pen (pen.change_stroke); and, after the
geometric distortions, ``low_res`` shows a fraction of the images as a small digit
enlarged (pen.low_resolution). Labels are untouched by all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import IMAGE_SIDE

if TYPE_CHECKING:  # a type only: config.py reads its choices from this layer
    from digitnet.config import Config


SIDE = IMAGE_SIDE  # MNIST images are 28 × 28
CENTRE = (SIDE - 1) / 2  # 13.5: rotation, scale and shear act about the image centre
_PAD = 1  # a zero row above and below each image in the stacked batch, read beyond its edges
#: images per remap call (``bilinear``): OpenCV's remap takes images of fewer than 32,767 rows,
#: and 256 slots of 30 rows keep float32 row coordinates exact to 5 · 10⁻⁴ pixels
REMAP_IMAGES = 256

Images = NDArray[np.float32]


@dataclass(frozen=True)
class Distortion:
    """Strengths of the random distortions; each is the largest magnitude drawn."""

    shift: float = 0.0  # pixels: t uniform in [−shift, shift] per axis
    rotate: float = 0.0  # degrees: rotation uniform in [−rotate, rotate]
    scale: float = 0.0  # fraction: scale uniform in [1 − scale, 1 + scale] per axis
    shear: float = 0.0  # shear factor k uniform in [−shear, shear] (row ← row + k col)
    elastic_alpha: float = 0.0  # α: size of the elastic displacement (pixels per unit field)
    elastic_sigma: float = 4.0  # σ: smoothness of the elastic field (pixels)
    stroke: float = 0.0  # pixels: stroke width changed by Δ uniform in [−stroke, stroke]
    low_res: float = 0.0  # fraction of images shrunk to a 7-14 px digit and enlarged back
    printed: float = 0.0  # fraction of images replaced by a printed-style digit (same label)

    @classmethod
    def from_config(cls, config: Config) -> Distortion:
        return cls(
            shift=config.augment_shift,
            rotate=config.augment_rotate,
            scale=config.augment_scale,
            shear=config.augment_shear,
            elastic_alpha=config.elastic_alpha,
            elastic_sigma=config.elastic_sigma,
            stroke=config.augment_stroke,
            low_res=config.augment_low_res,
            printed=config.augment_printed,
        )

    @property
    def enabled(self) -> bool:
        return self.geometric or any((self.stroke, self.low_res, self.printed))

    @property
    def geometric(self) -> bool:
        """Whether the sampling map differs from the identity."""
        return any((self.shift, self.rotate, self.scale, self.shear, self.elastic_alpha))


@lru_cache(maxsize=8)
def gaussian_matrix(sigma: float, side: int = SIDE) -> NDArray[np.float32]:
    """G with (G u)_i = Σ_j g_σ(i − j) u_j: 1-D Gaussian smoothing with zero padding.

    The kernel is normalised as a density (Σ over all integers ≈ 1), so the field
    keeps Simard's scale: α multiplies a smoothed uniform(−1, 1) field.
    """
    i = np.arange(side, dtype=np.float64)
    d = i[:, None] - i[None, :]
    g = np.exp(-(d**2) / (2 * sigma**2))
    g /= np.exp(-(np.arange(-4 * side, 4 * side + 1) ** 2) / (2 * sigma**2)).sum()
    return g.astype(np.float32)


#: eigenvalues of G Gᵀ below this share of their sum are left out of the field's basis
FIELD_VARIANCE_LEFT_OUT = 1e-3


@lru_cache(maxsize=8)
def field_basis(sigma: float, side: int = SIDE) -> NDArray[np.float32]:
    """L (side × k) with L Lᵀ = C / √3 up to the smallest eigenvalues, C = G Gᵀ.

    For u uniform in [−1, 1) (variance 1/3), G u Gᵀ has covariance (1/3) C ⊗ C between
    its pixels; L z Lᵀ with z standard normal has (L Lᵀ) ⊗ (L Lᵀ): the same when
    L Lᵀ = C/√3. L holds C's leading eigenvectors scaled by √(eigenvalue/√3).
    """
    G = gaussian_matrix(sigma, side).astype(np.float64)
    values, vectors = np.linalg.eigh(G @ G.T)
    values, vectors = values[::-1].clip(min=0), vectors[:, ::-1]  # largest first
    left_out = 1 - np.cumsum(values) / values.sum()
    k = int(np.argmax(left_out <= FIELD_VARIANCE_LEFT_OUT)) + 1
    basis: NDArray[np.float32] = (vectors[:, :k] * np.sqrt(values[:k] / np.sqrt(3))).astype(
        np.float32
    )
    return basis


@lru_cache(maxsize=8)
def sampling_basis(sigma: float | None) -> NDArray[np.float32]:
    """B = [L | g | 1] (28 × (k + 2)): the elastic field's basis (``field_basis``; none
    when ``sigma`` is None), the pixel's offset from the centre g = p − c, and ones.

    Every sampling map is B Wᵀ B evaluated per image as (B Wᵀ Bᵀ)(i, j) =
    Σ_ab B_ia W_ba B_jb (``sampling_map``): a k × k block of W carries the elastic
    field, the entries pairing g with 1 carry M, and the entry pairing 1 with 1 the
    centre and the shift.
    """
    grid = np.arange(SIDE, dtype=np.float32) - np.float32(CENTRE)
    columns = [grid[:, None], np.ones((SIDE, 1), np.float32)]
    if sigma is not None:
        columns.insert(0, field_basis(float(sigma)))
    return np.hstack(columns)


def sampling_map(
    m: int,
    rng: np.random.Generator,
    d: Distortion,
    zoom: NDArray[np.float32] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Source coordinates (rows, cols), each (m, 28, 28), for a batch of m images.

    s(p) = M (p − c) + c + t + α L z Lᵀ is, per image and coordinate, one bilinear form
    B Wᵀ Bᵀ in the basis B = [L | g | 1] (``sampling_basis``), with

    * W's k × k block α z, z a k × k standard normal: the elastic field (``field_basis``;
      L zᵀ Lᵀ has the law of L z Lᵀ);
    * rows: W[1, g] = M₀₀ (times g_i, the row's offset), W[g, 1] = M₀₁ (times g_j, the
      column's), W[1, 1] = c + t_r; cols likewise with M₁₀, M₁₁ and c + t_c.

    So the whole map, affine part and field at once, is two batched products with a
    28 × (k + 2) matrix, and no pass over the m × 28 × 28 coordinates besides the
    products' own writes.
    """
    elastic = bool(d.elastic_alpha)
    B = sampling_basis(d.elastic_sigma if elastic else None)
    k = B.shape[1] - 2  # the field's directions; g is column k and 1 is column k + 1
    g, one = k, k + 1

    def uniform(limit: float) -> NDArray[np.float32]:
        return rng.uniform(-limit, limit, size=m).astype(np.float32)

    # M = R · Sh · S, drawn per image.
    angle = np.deg2rad(uniform(d.rotate)) if d.rotate else np.zeros(m, np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    sr = 1 + uniform(d.scale) if d.scale else np.float32(1)
    sc = 1 + uniform(d.scale) if d.scale else np.float32(1)
    if zoom is not None:  # each image's own scale on top (a thicker pen refitted)
        sr, sc = sr * zoom, sc * zoom
    shear = uniform(d.shear) if d.shear else np.float32(0)
    W = np.zeros((2, m, k + 2, k + 2), dtype=np.float32)  # [rows, cols] per image
    if elastic:
        field = rng.standard_normal((2, m, k, k), dtype=np.float32)
        np.multiply(field, np.float32(d.elastic_alpha), out=W[:, :, :k, :k])
    # Sh · S = [[sr, k sc], [0, sc]] in (row, col) order; then rotate by R.
    W[0, :, one, g] = cos * sr
    W[0, :, g, one] = cos * shear * sc - sin * sc
    W[1, :, one, g] = sin * sr
    W[1, :, g, one] = sin * shear * sc + cos * sc
    W[:, :, one, one] = np.float32(CENTRE)
    if d.shift:
        W[0, :, one, one] += uniform(d.shift)
        W[1, :, one, one] += uniform(d.shift)
    width = k + 2
    across = W.reshape(-1, width) @ B.T
    # Each slice is W Bᵀ; turned, it is B Wᵀ, whose product with Bᵀ runs along the last axis.
    turned = np.ascontiguousarray(across.reshape(2 * m, width, SIDE).swapaxes(1, 2))
    coordinates = (turned.reshape(-1, width) @ B.T).reshape(2, m, SIDE, SIDE)
    return coordinates[0], coordinates[1]


def bilinear(
    images: Images, rows: NDArray[np.float32], cols: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Read each (m, 28, 28) image at (rows, cols) by bilinear interpolation, zeros outside.

    The batch is one tall image for OpenCV's ``remap`` (a single call, vectorised in C):
    each image sits in its own slot of 30 rows, the 28 of the image between a zero row
    above and below, and its row coordinates are clipped to [−1, 28] and moved to its
    slot, so a read beyond the image's edge finds zeros and never a neighbour. Columns
    need neither clipping nor zero columns: left and right of the tall image lies remap's
    constant zero border. OpenCV 5 interpolates float maps with exact weights (4.x rounds
    them to 1/32 pixel; tests/test_augment.py compares with scipy). Float32 coordinates in a
    tall image are exact to half a unit in the last place: 1.2 · 10⁻⁴ pixels at the
    3,000th row of a batch of 100, far below what a distortion can show. A larger batch is
    read ``REMAP_IMAGES`` images at a time: remap refuses images of 32,767 rows or more.
    """
    m = images.shape[0]
    out = np.empty((m, SIDE, SIDE), dtype=np.float32)
    for start in range(0, m, REMAP_IMAGES):
        part = slice(start, start + REMAP_IMAGES)
        _bilinear_stacked(images[part], rows[part], cols[part], out=out[part])
    np.clip(out, 0.0, 1.0, out=out)  # rounding could step a hair past 1
    return out


def _bilinear_stacked(
    images: Images,
    rows: NDArray[np.float32],
    cols: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    """``bilinear`` for at most ``REMAP_IMAGES`` images into ``out`` (m, 28, 28): one tall
    image, one remap call writing straight into ``out``."""
    import cv2  # opencv-python-headless: a dependency; loaded only when training distorts

    m = images.shape[0]
    slot = SIDE + 2 * _PAD
    stacked = np.zeros((m, slot, SIDE), dtype=np.float32)
    stacked[:, _PAD : _PAD + SIDE] = images.reshape(m, SIDE, SIDE)
    first_row = (np.arange(m, dtype=np.float32) * slot + _PAD)[:, None, None]
    r = np.clip(rows, -1, SIDE)
    r += first_row
    tall = out.reshape(m * SIDE, SIDE)  # a view: remap writes the result in place
    cv2.remap(
        stacked.reshape(m * slot, SIDE),
        cols.reshape(m * SIDE, SIDE),
        r.reshape(m * SIDE, SIDE),
        dst=tall,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def distort(
    images: Images,
    rng: np.random.Generator,
    d: Distortion,
    labels: NDArray[np.integer] | None = None,
) -> Images:
    """A randomly distorted copy of ``images`` (m, 784) with values in [0, 1].

    ``labels`` (m,) are needed only for ``d.printed`` (a printed digit of each
    replaced image's label is drawn); without them no image is replaced.
    """
    from digitnet.data import glyphs, pen

    m = images.shape[0]
    out = images
    if d.printed and labels is not None:
        chosen = np.flatnonzero(rng.random(m) < d.printed)
        out = images.copy()
        out[chosen] = glyphs.render(labels[chosen], rng)
    zoom = None
    if d.stroke:
        delta = pen.stroke_changes(m, rng, d.stroke)
        out = pen.change_stroke(out, delta)
        zoom = pen.refit_zoom(delta)
    if d.geometric or zoom is not None:
        rows, cols = sampling_map(m, rng, d, zoom)
        out = bilinear(out, rows, cols).reshape(m, SIDE * SIDE)
    if d.low_res:
        out = pen.low_resolution(out, rng, d.low_res)
    return out if out is not images else images.copy()


def preview_grid(
    images: Images,
    rng: np.random.Generator,
    d: Distortion,
    variants: int = 7,
    gap: int = 2,
    labels: NDArray[np.integer] | None = None,
) -> NDArray[np.uint8]:
    """A picture of what training sees: one row per image, the original first, then
    ``variants`` random distortions of it; white background, dark ink, ``gap`` pixels
    between cells. Returns 8-bit gray levels, ready to save as PNG."""
    k = images.shape[0]
    cell = SIDE + gap
    grid = np.zeros((k * cell + gap, (variants + 1) * cell + gap), dtype=np.float32)
    columns = [images] + [distort(images, rng, d, labels) for _ in range(variants)]
    for j, column in enumerate(columns):
        for i in range(k):
            top, left = gap + i * cell, gap + j * cell
            grid[top : top + SIDE, left : left + SIDE] = column[i].reshape(SIDE, SIDE)
    return np.round(255 * (1 - grid)).astype(np.uint8)
