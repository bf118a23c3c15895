"""The training fast path (issue 4): BLAS helpers, the preallocated workspace, the optimisers.

The workspace path must compute exactly what the plain numpy path computes (which
test_network.py checks against finite differences), write into its own arrays, and
survive a short last batch. Nothing here is timed.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from digitnet.nn import blas, network
from digitnet.nn.activations import softmax
from digitnet.nn.network import Params, Workspace
from digitnet.nn.optim import Momentum, Nesterov
from digitnet.vocabulary import N_INPUTS

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
OUTPUTS = ["softmax", "sigmoid"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_gemm_matches_matmul_in_place(dtype, transpose_a, transpose_b):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((5, 3)).astype(dtype)
    a = np.ascontiguousarray(a.T).T if transpose_a else a  # a Fortran-ordered view
    b = np.ascontiguousarray(b.T).T if transpose_b else b
    out = rng.standard_normal((7, 3)).astype(dtype)
    before = out.copy()
    result = blas.gemm(out, a, b, alpha=-0.5, beta=0.25)
    assert result is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, -0.5 * (a @ b) + 0.25 * before, rtol=tol, atol=tol)


def test_gemm_writes_into_a_row_slice_of_a_buffer():
    rng = np.random.default_rng(1)
    buffer = np.zeros((6, 4), dtype=np.float32)
    a = rng.random((4, 3), dtype=np.float32)
    b = rng.random((3, 4), dtype=np.float32)
    blas.gemm(buffer[:4], a, b)
    np.testing.assert_allclose(buffer[:4], a @ b, rtol=1e-6)
    assert not buffer[4:].any()


def test_gemm_refuses_an_output_it_cannot_write_in_place():
    out = np.zeros((4, 3), dtype=np.float32).T  # Fortran-ordered
    with pytest.raises(ValueError, match="C-contiguous"):
        blas.gemm(out, np.ones((3, 2), np.float32), np.ones((2, 4), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_and_scal_work_in_place(dtype):
    rng = np.random.default_rng(2)
    y = rng.standard_normal((4, 6)).astype(dtype)
    x = rng.standard_normal((4, 6)).astype(dtype)
    expected = 0.9 * y - 0.1 * x
    same = y
    blas.scal(y, 0.9)
    blas.axpy(y, x, -0.1)
    assert y is same
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_axpy_refuses_an_array_it_cannot_update_in_place():
    y = np.zeros((4, 3), dtype=np.float32).T  # Fortran-ordered
    with pytest.raises(ValueError, match="C-contiguous"):
        blas.axpy(y, np.ones((3, 4), np.float32), 1.0)


def test_scipy_blas_runs_on_one_thread_and_numpys_is_untouched():
    code = (
        "import numpy as np\n"
        "from threadpoolctl import threadpool_info\n"
        "before = {i['filepath']: i['num_threads'] for i in threadpool_info()}\n"
        "from digitnet.nn import blas\n"
        "blas.scal(np.ones(3, np.float32), 2.0)\n"
        "for i in threadpool_info():\n"
        "    if i['user_api'] == 'blas':\n"
        "        print(i['filepath'] in before, i['num_threads'], before.get(i['filepath']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    numpy_rows = [r for r in rows if r[0] == "True"]  # loaded with numpy, before scipy
    scipy_rows = [r for r in rows if r[0] == "False"]
    assert all(r[1] == r[2] for r in numpy_rows)  # numpy's products keep their threads
    if scipy_rows:  # a wheel install: scipy brings its own OpenBLAS
        assert all(r[1] == "1" for r in scipy_rows)


def problem(activation, hidden=6, m=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params = network.init_params(hidden, activation, rng, dtype=dtype)
    params.b1[:] = rng.normal(0, 0.5, hidden)
    params.b2[:] = rng.normal(0, 0.5, 10)
    X = rng.random((m, N_INPUTS)).astype(dtype)
    y = rng.integers(0, 10, m)
    mask = (rng.random((m, hidden)) > 0.3).astype(dtype) / 0.7
    return params, X, y, mask


@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_workspace_path_equals_plain_path(activation, output, dropout):
    params, X, y, mask = problem(activation)
    mask = mask if dropout else None
    plain_cache = network.forward(params, X, activation, output, dropout_mask=mask)
    plain = network.backprop(params, plain_cache, y, activation, l2=0.7, n_train=40)
    # A workspace for more rows than the batch: the short-last-batch case.
    ws = Workspace.allocate(8, params.hidden_size, np.float64)
    cache = network.forward(params, X, activation, output, dropout_mask=mask, workspace=ws)
    np.testing.assert_allclose(cache.A3, plain_cache.A3, rtol=1e-12)
    assert np.shares_memory(cache.A3, ws.A3)
    grads = network.backprop(params, cache, y, activation, l2=0.7, n_train=40, workspace=ws)
    assert grads is ws.grads
    for name, expected in plain.arrays().items():
        np.testing.assert_allclose(getattr(grads, name), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_workspace_gradients_match_finite_differences(activation):
    params, X, y, _ = problem(activation, seed=3)
    ws = Workspace.allocate(5, params.hidden_size, np.float64)
    cache = network.forward(params, X, activation, "softmax", workspace=ws)
    grads = network.backprop(params, cache, y, activation, l2=0.7, n_train=40, workspace=ws)
    eps = 1e-6
    for name, theta in params.arrays().items():
        flat, analytic = theta.reshape(-1), getattr(grads, name).reshape(-1)
        for i in np.random.default_rng(4).choice(flat.size, size=min(flat.size, 12), replace=False):
            saved = flat[i]
            flat[i] = saved + eps
            plus = network.cost(params, X, y, activation, "softmax", 0.7, 40)
            flat[i] = saved - eps
            minus = network.cost(params, X, y, activation, "softmax", 0.7, 40)
            flat[i] = saved
            assert analytic[i] == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-9)


def test_float32_stays_float32():
    params, X, y, _ = problem("sigmoid", dtype=np.float32)
    ws = Workspace.allocate(5, params.hidden_size)
    cache = network.forward(params, X, "sigmoid", "softmax", workspace=ws)
    grads = network.backprop(params, cache, y, "sigmoid", l2=1.0, n_train=10, workspace=ws)
    for array in (cache.A2, cache.A3, *grads.arrays().values()):
        assert array.dtype == np.float32


@pytest.mark.parametrize("m", range(1, 9))
def test_first_m_rows_are_views_of_the_workspace(m):
    """A short last batch writes into the top m rows of the same arrays (no fresh ones),
    whatever m is, including m equal to the hidden size; the gradients and the column sums
    (one per unit, not per row) are shared."""
    import dataclasses

    ws = Workspace.allocate(8, 5, np.float64)
    part = ws.first(m)
    for field in dataclasses.fields(Workspace):
        whole, rows = getattr(ws, field.name), getattr(part, field.name)
        if field.name in ("grads", "column_sums"):
            assert rows is whole
            continue
        assert rows.shape == (m, *whole.shape[1:])
        assert np.shares_memory(rows, whole)
        assert rows.__array_interface__["data"][0] == whole.__array_interface__["data"][0]
    assert ws.first(8) is ws


def test_workspace_refuses_a_batch_larger_than_itself():
    with pytest.raises(ValueError, match=r"^a batch of 5 rows does not fit a workspace of 4$"):
        Workspace.allocate(4, 3).first(5)


def textbook_params(seed):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 784), "b1": (3,), "W2": (10, 3), "b2": (10,)}
    return Params(**{k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()})


@pytest.mark.parametrize("packed", [False, True])  # one BLAS call over all of θ, or per block
@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_optimiser_steps_follow_their_formulas(kind, packed):
    params, mu, eta = textbook_params(0), 0.9, 0.05
    if packed:
        params.pack()
    optimiser = Momentum(params, mu) if kind == "momentum" else Nesterov(params, mu)
    theta = params.copy()
    v = {k: np.zeros_like(a) for k, a in theta.arrays().items()}
    for step in range(3):
        grads = textbook_params(10 + step)
        if packed:
            grads.pack()
        assert (params.flat() is not None) == packed
        optimiser.step(params, grads, eta)
        for name, t in theta.arrays().items():
            g = getattr(grads, name)
            v[name] = mu * v[name] - eta * g
            t += v[name] if kind == "momentum" else mu * v[name] - eta * g
            np.testing.assert_allclose(getattr(params, name), t, rtol=1e-5, atol=1e-6)


def test_network_import_does_not_load_scipy():
    code = "import sys, digitnet.nn.network, digitnet.nn.optim; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gathering_uint8_pixels_trains_exactly_like_float_inputs():
    from digitnet.config import Config
    from digitnet.data.inputs import TrainingData, split_validation
    from digitnet.training.train import train

    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 300).astype(np.uint8)
    data = split_validation(images, labels, validation_size=50)
    assert data.pixels_train is not None
    np.testing.assert_array_equal(data.pixels_train * np.float32(1 / 255), data.X_train)
    config = Config(hidden_size=7, batch_size=32, epochs=2, validation_size=50, seed=3)
    with_pixels = [p.copy() for _, p in train(config, data)][-1]
    floats = TrainingData(
        X_train=data.X_train, y_train=data.y_train, X_val=data.X_val, y_val=data.y_val
    )
    without = [p.copy() for _, p in train(config, floats)][-1]
    for name, value in with_pixels.arrays().items():
        np.testing.assert_array_equal(value, getattr(without, name))


def test_param_names_are_the_fields_of_params_in_order():
    from dataclasses import fields

    assert tuple(f.name for f in fields(Params)) == network.PARAM_NAMES


def test_pack_moves_the_blocks_into_one_array_with_the_same_values():
    params = textbook_params(1)
    before = params.copy()
    assert params.flat() is None  # separate arrays
    assert params.pack() is params
    flat = params.flat()
    assert flat is not None
    assert flat.shape == (3 * 784 + 3 + 30 + 10,)
    for name, value in before.arrays().items():
        block = getattr(params, name)
        np.testing.assert_array_equal(block, value)
        assert np.shares_memory(block, flat)
    in_order = np.concatenate([a.ravel() for a in before.arrays().values()])
    np.testing.assert_array_equal(flat, in_order)
    params.pack()  # packing again changes nothing
    assert params.flat() is flat


def test_flat_is_none_once_a_block_is_another_array():
    params = textbook_params(2).pack()
    params.b1 = params.b1.copy()
    assert params.flat() is None
    reordered = Params(W1=params.W2, b1=params.b1, W2=params.W1, b2=params.b2)
    assert reordered.flat() is None


def test_flat_is_none_when_the_blocks_fill_only_part_of_an_array():
    """An update over ``flat`` touches every element of it: a longer array whose head
    holds the blocks (a spare tail) is not θ."""
    blocks = textbook_params(3)
    sizes = [a.size for a in blocks.arrays().values()]
    buffer = np.zeros(sum(sizes) + 5, dtype=np.float32)
    views, start = {}, 0
    for (name, a), size in zip(blocks.arrays().items(), sizes, strict=True):
        views[name] = buffer[start : start + size].reshape(a.shape)
        start += size
    assert Params(**views).flat() is None
    whole = np.zeros(sum(sizes), dtype=np.float32)  # the same layout, no tail: θ itself
    views, start = {}, 0
    for (name, a), size in zip(blocks.arrays().items(), sizes, strict=True):
        views[name] = whole[start : start + size].reshape(a.shape)
        start += size
    assert Params(**views).flat() is whole


def test_optimiser_notices_a_replaced_block():
    """The optimiser remembers whether θ was packed; replacing a block must not leave it
    updating the old array."""
    params = textbook_params(3).pack()
    grads = textbook_params(4).pack()
    optimiser = Momentum(params, 0.0)
    optimiser.step(params, grads, 1.0)
    params.W2 = params.W2.copy()
    expected = params.W2 - grads.W2
    optimiser.step(params, grads, 1.0)
    np.testing.assert_allclose(params.W2, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_log_normaliser_gives_the_log_softmax_cost(dtype):
    rng = np.random.default_rng(6)
    Z = (rng.standard_normal((9, 10)) * 30).astype(dtype)
    Z[0] = 1e4  # large and tied: still finite
    y = rng.integers(0, 10, 9)
    log_normaliser = np.empty(9, dtype=dtype)
    A = softmax(Z, out=np.empty_like(Z), log_normaliser=log_normaliser)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(A, softmax(Z), rtol=tol, atol=1e-30)
    expected = np.log(np.exp(Z.astype(np.float64) - Z.max(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_allclose(log_normaliser, expected + Z.max(axis=1), rtol=tol)
    fused = network.data_cost(Z, y, "softmax", log_normaliser)
    assert fused == pytest.approx(network.data_cost(Z, y, "softmax"), rel=tol)


def test_training_packs_theta_and_keeps_it_packed():
    from digitnet.config import Config
    from digitnet.data.inputs import split_validation
    from digitnet.training.train import TrainState, train

    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 100).astype(np.uint8)
    config = Config(hidden_size=5, batch_size=32, epochs=1, validation_size=20, seed=1)
    state = TrainState.start(config)
    before = state.params.copy()
    for _ in train(config, split_validation(images, labels, 20), state=state):
        pass
    assert state.params.flat() is not None
    assert not np.array_equal(state.params.W1, before.W1)  # the packed θ was trained


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("with_workspace", [False, True])
def test_backprop_into_writes_alpha_gradient_plus_beta_out(dtype, l2, with_workspace):
    """``into``: every block of ``out`` becomes α ∂J/∂θ + β out (the momentum's
    v ← μ v − η ∂J/∂θ in one pass), λ term and bias columns included."""
    from digitnet.nn.network import Accumulate

    params, X, y, mask = problem("tanh", dtype=dtype)
    plain = network.backprop(
        params, network.forward(params, X, "tanh", dropout_mask=mask), y, "tanh", l2, 40
    ).copy()
    rng = np.random.default_rng(9)
    before = Params(
        **{k: rng.standard_normal(a.shape).astype(dtype) for k, a in plain.arrays().items()}
    )
    out = before.copy()
    ws = Workspace.allocate(8, params.hidden_size, dtype) if with_workspace else None
    cache = network.forward(params, X, "tanh", dropout_mask=mask, workspace=ws)
    result = network.backprop(
        params, cache, y, "tanh", l2, 40, workspace=ws, into=Accumulate(out, alpha=-0.3, beta=0.9)
    )
    assert result is out
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for name, g in plain.arrays().items():
        expected = -0.3 * g + 0.9 * getattr(before, name)
        np.testing.assert_allclose(getattr(out, name), expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("m", [5, 8])  # a short last batch and a full one
def test_the_cache_is_views_into_the_workspace(output, m):
    """Forward with a workspace allocates no (m, H) or (m, 10) array: a^(2), ã^(2), z^(3),
    a^(3) and the softmax's log-normaliser are the workspace's own rows."""
    params, X, _, mask = problem("sigmoid", m=m)
    ws = Workspace.allocate(8, params.hidden_size, np.float64)
    cache = network.forward(params, X, "sigmoid", output, dropout_mask=mask, workspace=ws)
    for array, own in (
        (cache.A2, ws.Z2),
        (cache.A2_dropped, ws.A2_dropped),
        (cache.Z3, ws.Z3),
        (cache.A3, ws.A3),
    ):
        assert array.shape[0] == m
        assert np.shares_memory(array, own)
    if output == "softmax":
        assert np.shares_memory(cache.log_normaliser, ws.log_normaliser)
    else:
        assert cache.log_normaliser is None


@pytest.mark.parametrize("with_workspace", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_softmax_cache_keeps_log_sum_exp_of_z3(with_workspace, dropout):
    params, X, _, mask = problem("relu")
    ws = Workspace.allocate(8, params.hidden_size, np.float64) if with_workspace else None
    cache = network.forward(
        params, X, "relu", "softmax", dropout_mask=mask if dropout else None, workspace=ws
    )
    Z3 = cache.Z3
    expected = np.log(np.exp(Z3 - Z3.max(axis=1, keepdims=True)).sum(axis=1)) + Z3.max(axis=1)
    np.testing.assert_allclose(cache.log_normaliser, expected, rtol=1e-12)
    assert network.forward(params, X, "relu", "sigmoid").log_normaliser is None
