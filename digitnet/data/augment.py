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

Everything is vectorised over the batch (no Python loop over images). Two choices
keep augmentation well below the cost of a training step:

* the elastic field G_σ * u is the separable product G u Gᵀ with a 28 × 28 matrix G
  holding the kernel (zero padding, like scipy's mode="constant"). It is a smoothed
  random field, so only its covariance matters: per axis G Gᵀ, whose eigenvalues fall
  off like e^(−(πjσ/28)²). ``field_basis`` keeps the k leading eigenvectors (k = 8 of
  28 for σ = 4, all but 10⁻⁵ of the variance) and the field is drawn as L z Lᵀ with
  z a k × k standard normal: the same mean, variance and spatial correlation
  (tests/test_augment.py compares them with G u Gᵀ), from 64 random numbers instead of
  784 and two products with a 28 × k matrix instead of 28 × 28. Gaussian instead of a
  sum of uniforms: each pixel of G u Gᵀ sums hundreds of them, so it is normal already;
* bilinear interpolation gathers the four neighbours from a zero-padded copy with
  flat indices (faster than ``scipy.ndimage.map_coordinates`` with order=1 on the
  stacked batch, issue 4).

Training prepares the next mini-batch's distortions in a worker thread while the
current step runs (digitnet/training/batches.py).

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
_PAD = 1  # zero border on each side, so any clipped coordinate has four neighbours

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
    low_res: float = 0.0  # fraction of images shrunk to a 5-12 px digit and enlarged back
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
FIELD_VARIANCE_LEFT_OUT = 1e-5


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


def elastic_field(m: int, rng: np.random.Generator, sigma: float) -> NDArray[np.float32]:
    """Two smoothed random fields (rows, cols) per image, (2, m, 28, 28), before α.

    Each is L zᵀ Lᵀ with z a k × k standard normal (``field_basis``): zᵀ has z's
    distribution, so the one transpose that two batched products leave is harmless.
    Both products run over the whole batch at once on scipy's BLAS pinned to one thread
    (digitnet/nn/blas.gemm), which has no worker threads to compete with numpy's pool,
    which runs the training step's products.
    """
    from digitnet.nn import blas

    L = field_basis(float(sigma))
    k = L.shape[1]
    z = rng.standard_normal((2 * m * k, k), dtype=np.float32)
    across = blas.gemm(np.empty((2 * m * k, SIDE), np.float32), z, L.T)  # each slice z Lᵀ
    # Transpose each slice so that the second product also runs along the last axis.
    turned = np.ascontiguousarray(across.reshape(2 * m, k, SIDE).swapaxes(1, 2))
    flat = turned.reshape(2 * m * SIDE, k)  # each slice L zᵀ
    field = blas.gemm(np.empty((2 * m * SIDE, SIDE), np.float32), flat, L.T)  # L zᵀ Lᵀ
    shaped: NDArray[np.float32] = field.reshape(2, m, SIDE, SIDE)
    return shaped


def sampling_map(
    m: int, rng: np.random.Generator, d: Distortion
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Source coordinates (rows, cols), each (m, 28, 28), for a batch of m images."""
    grid = np.arange(SIDE, dtype=np.float32) - np.float32(CENTRE)
    pr = grid[None, :, None]  # (1, 28, 1)  p − c, row
    pc = grid[None, None, :]  # (1, 1, 28)  p − c, column

    def uniform(limit: float) -> NDArray[np.float32]:
        return rng.uniform(-limit, limit, size=(m, 1, 1)).astype(np.float32)  # (m, 1, 1)

    # M = R · Sh · S, drawn per image; shape (m, 1, 1) per entry for broadcasting.
    angle = np.deg2rad(uniform(d.rotate)) if d.rotate else np.zeros((m, 1, 1), np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    sr = 1 + uniform(d.scale) if d.scale else np.float32(1)
    sc = 1 + uniform(d.scale) if d.scale else np.float32(1)
    k = uniform(d.shear) if d.shear else np.float32(0)
    # Sh · S = [[sr, k sc], [0, sc]] in (row, col) order; then rotate by R.
    m00, m01 = cos * sr, cos * k * sc - sin * sc
    m10, m11 = sin * sr, sin * k * sc + cos * sc
    rows = m00 * pr + m01 * pc + np.float32(CENTRE)  # (m, 28, 28)
    cols = m10 * pr + m11 * pc + np.float32(CENTRE)
    if d.shift:
        rows = rows + uniform(d.shift)
        cols = cols + uniform(d.shift)
    if d.elastic_alpha:
        field = elastic_field(m, rng, d.elastic_sigma)  # (2, m, 28, 28)  G_σ * u in law
        field *= np.float32(d.elastic_alpha)
        rows = rows + field[0]  # fresh arrays: ``rows`` may be a broadcast view
        cols = cols + field[1]
    shape = (m, SIDE, SIDE)

    def full(coordinates: NDArray[np.float32]) -> NDArray[np.float32]:
        if coordinates.shape == shape and coordinates.dtype == np.float32:
            return coordinates  # already one fresh array per image: no copy
        return np.broadcast_to(coordinates, shape).astype(np.float32)

    return full(rows), full(cols)


def bilinear(
    images: Images, rows: NDArray[np.float32], cols: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Read each (m, 28, 28) image at (rows, cols) by bilinear interpolation, zeros outside.

    Every step after the padding works in place on float32 arrays of the map's size, and
    the flat source index is formed in float32 (exact: it stays below 2^24) and gathered
    with int32 indices: a third cheaper than int64 index arithmetic (issue 12).
    """
    m = images.shape[0]
    size = SIDE + 2 * _PAD + 1  # one extra row/column so r0 + 1 stays inside
    padded = np.zeros((m, size, size), dtype=np.float32)
    padded[:, _PAD : _PAD + SIDE, _PAD : _PAD + SIDE] = images.reshape(m, SIDE, SIDE)
    source = padded.reshape(-1)
    # Clipping to [−1, SIDE]: beyond that every neighbour is zero padding anyway.
    r = np.clip(rows, -1, SIDE).astype(np.float32, copy=False)
    c = np.clip(cols, -1, SIDE).astype(np.float32, copy=False)
    r += _PAD
    c += _PAD
    r0, c0 = np.floor(r), np.floor(c)
    r -= r0  # fr: the weight of the lower neighbours
    c -= c0  # fc: the weight of the right-hand neighbours
    r0 += (np.arange(m, dtype=np.float32) * size)[:, None, None]  # the image's first row
    r0 *= size
    r0 += c0
    flat = r0.astype(np.int32)  # index of each top-left neighbour in ``source``
    top_left, top_right = np.take(source, flat), np.take(source, flat + 1)
    flat += size
    bottom_left, bottom_right = np.take(source, flat), np.take(source, flat + 1)
    top = _lerp(top_left, top_right, c)
    bottom = _lerp(bottom_left, bottom_right, c)
    out = _lerp(top, bottom, r)
    return np.clip(out, 0.0, 1.0, out=out)  # rounding could step a hair past 1


def _lerp(
    a: NDArray[np.float32], b: NDArray[np.float32], t: NDArray[np.float32]
) -> NDArray[np.float32]:
    """a + t (b − a), written into b."""
    b -= a
    b *= t
    b += a
    return b


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
    if d.stroke:
        out = pen.change_stroke(out, rng, d.stroke)
    if d.geometric:
        rows, cols = sampling_map(m, rng, d)
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
