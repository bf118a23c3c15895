"""numpy's own BLAS through its C interface, and the training step that writes the
optimiser's velocity through it (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.config import Config
from digitnet.nn import numpyblas
from digitnet.nn.network import Accumulate, Params, Workspace, backprop, forward, init_params
from digitnet.nn.optim import Momentum, Nesterov
from digitnet.training.step import Step

needs_numpy_blas = pytest.mark.skipif(
    not numpyblas.available(),
    reason="numpy here is not linked to an ILP64 OpenBLAS with CBLAS symbols (numpy's wheels are)",
)


@pytest.fixture(params=["numpy's BLAS", "fallback"])
def blas_path(request, monkeypatch):
    """Every behaviour twice: through numpy's BLAS and through the fallback without it."""
    if request.param == "numpy's BLAS" and not numpyblas.available():
        pytest.skip("numpy's BLAS is not bound here")
    if request.param == "fallback":
        monkeypatch.setattr(numpyblas, "_routines", lambda: None)
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_gemm_computes_alpha_a_b_plus_beta_out(blas_path, dtype, transpose_a, transpose_b):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 5) if transpose_a else (5, 7)).astype(dtype)
    b = rng.standard_normal((4, 7) if transpose_b else (7, 4)).astype(dtype)
    a, b = (a.T if transpose_a else a), (b.T if transpose_b else b)
    out = rng.standard_normal((5, 4)).astype(dtype)
    expected = -0.3 * (a.astype(np.float64) @ b) + 0.9 * out
    numpyblas.gemm(out, a, b, alpha=-0.3, beta=0.9)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_gemm_with_beta_zero_ignores_what_out_held(blas_path):
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    out = np.full((2, 2), np.nan, np.float32)
    numpyblas.gemm(out, a, b, alpha=2.0, beta=0.0)
    np.testing.assert_array_equal(out, np.full((2, 2), 6.0))


def test_gemm_takes_a_strided_operand_by_copying_it(blas_path):
    rng = np.random.default_rng(2)
    wide = rng.standard_normal((6, 10)).astype(np.float32)
    a = wide[:, ::2]  # neither C- nor F-contiguous
    b = rng.standard_normal((5, 3)).astype(np.float32)
    out = np.zeros((6, 3), np.float32)
    numpyblas.gemm(out, a, b)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-6)


def test_gemm_refuses_shapes_that_do_not_fit():
    if not numpyblas.available():
        pytest.skip("numpy's BLAS is not bound here")
    with pytest.raises(ValueError, match="does not fit"):
        numpyblas.gemm(
            np.zeros((3, 3), np.float32), np.ones((3, 2), np.float32), np.ones((3, 3), np.float32)
        )


@pytest.mark.parametrize("size", [10, numpyblas.THREADED_MIN + 3])  # one thread, then numpy's pool
def test_axpy_and_scal_update_in_place(blas_path, size):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(size).astype(np.float32)
    y = rng.standard_normal(size).astype(np.float32)
    expected = (y + np.float32(0.25) * x) * np.float32(-2.0)
    same_y = numpyblas.axpy(y, x, 0.25)
    numpyblas.scal(y, -2.0)
    assert same_y is y
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def small_batch(hidden: int, activation: str = "sigmoid"):
    rng = np.random.default_rng(4)
    params = init_params(hidden, activation, rng).pack()
    A1 = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    return params, A1, y


@pytest.mark.parametrize("dropout", [False, True])
def test_backprop_into_writes_alpha_gradient_plus_beta_out(blas_path, dropout):
    params, A1, y = small_batch(hidden=12, activation="relu")
    mask = None
    if dropout:
        rng = np.random.default_rng(9)
        mask = (rng.random((32, 12)) > 0.3).astype(np.float32) / np.float32(0.7)
    cache = forward(params, A1, "relu", dropout_mask=mask)
    gradient = backprop(params, cache, y, "relu", l2=3.0, n_train=500).copy()
    start = Params(**{k: np.random.default_rng(5).standard_normal(a.shape).astype(np.float32)
                      for k, a in params.arrays().items()})  # fmt: skip
    into = start.copy()
    cache = forward(params, A1, "relu", dropout_mask=mask)
    returned = backprop(
        params, cache, y, "relu", l2=3.0, n_train=500, into=Accumulate(into, -0.1, 0.9)
    )
    assert returned is into
    for name, g in gradient.arrays().items():
        expected = 0.9 * getattr(start, name) - 0.1 * g
        np.testing.assert_allclose(getattr(into, name), expected, rtol=1e-4, atol=1e-6)


@needs_numpy_blas
@pytest.mark.parametrize("optimizer", [Momentum, Nesterov])
def test_a_large_network_steps_as_the_two_line_recurrence(optimizer):
    """784-400-10 (θ over THREADED_MIN): classical momentum fuses v ← μv − η∂J/∂θ into the
    products, Nesterov does not; both must follow their formulas with the true gradient."""
    params, A1, y = small_batch(hidden=400)
    flat = params.flat()
    assert flat is not None
    assert flat.size >= numpyblas.THREADED_MIN
    config = Config(hidden_size=400, l2=5.0)
    mu, eta = 0.9, 0.05
    step = Step(config, params, optimizer(params, mu), n_train=1000, batch_size=32)
    theta = params.copy()
    v = {k: np.zeros_like(a, dtype=np.float64) for k, a in theta.arrays().items()}
    for _ in range(3):
        cache = forward(theta, A1, "sigmoid")
        g = backprop(theta, cache, y, "sigmoid", l2=5.0, n_train=1000)
        step.measure(A1, y)
        step.update(y, eta)
        for name, t in theta.arrays().items():
            v[name] = mu * v[name] - eta * getattr(g, name)
            t += v[name] if optimizer is Momentum else mu * v[name] - eta * getattr(g, name)
            np.testing.assert_allclose(getattr(params, name), t, rtol=1e-4, atol=1e-6)
    assert step.optimizer._fuse is (True if optimizer is Momentum else None)  # Nesterov: never


def test_momentum_does_not_fuse_a_small_network_or_without_numpy_blas(monkeypatch):
    params, A1, y = small_batch(hidden=10)
    step = Step(Config(hidden_size=10), params, Momentum(params, 0.9), n_train=100, batch_size=32)
    step.measure(A1, y)
    step.update(y, 0.1)
    assert step.optimizer._fuse is False  # 7,960 weights stay in one core's cache
    big, A1, y = small_batch(hidden=400)
    monkeypatch.setattr(numpyblas, "_routines", lambda: None)
    step = Step(Config(hidden_size=400), big, Momentum(big, 0.9), n_train=100, batch_size=32)
    step.measure(A1, y)
    step.update(y, 0.1)
    assert step.optimizer._fuse is False


def test_fused_training_is_reproducible():
    params, A1, y = small_batch(hidden=400)
    results = []
    for _ in range(2):
        p = params.copy().pack()
        step = Step(
            Config(hidden_size=400, l2=1.0), p, Momentum(p, 0.9), n_train=100, batch_size=32
        )
        for _ in range(3):
            step.measure(A1, y)
            step.update(y, 0.1)
        results.append(p)
    for name, a in results[0].arrays().items():
        np.testing.assert_array_equal(a, getattr(results[1], name))


def test_workspace_gradients_are_untouched_by_a_fused_step():
    """The fused step writes into the velocity only: the workspace's gradient arrays are not
    part of it, so nothing reads them stale."""
    if not numpyblas.available():
        pytest.skip("numpy's BLAS is not bound here")
    params, A1, y = small_batch(hidden=400)
    step = Step(Config(hidden_size=400), params, Momentum(params, 0.9), n_train=100, batch_size=32)
    assert isinstance(step.workspace, Workspace)
    step.workspace.grads.W1[...] = 7.0
    step.measure(A1, y)
    step.update(y, 0.1)
    assert np.all(step.workspace.grads.W1 == 7.0)
