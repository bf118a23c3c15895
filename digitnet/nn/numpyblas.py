"""numpy's own BLAS, called through its C interface: products C ← α A B + β C and y ← y + a x
on the threads that run numpy's ``@``.

Why (issue 12, measured on the 2-core AMD EPYC of benchmarks/speed.py, OpenBLAS
Haswell kernels): for a 784-800-10 network the optimiser's
update touches θ (627,200 weights, 2.5 MB) in four passes per step, and those passes
cost almost as much as the forward product. Two things make them cheap:

* the product's own β: ``v ← μ v − η ∂J/∂θ`` is one ``gemm`` with α = −η, β = μ
  writing into the velocity, instead of a product into a gradient array followed by
  two passes over it (``network.backprop``'s ``into``);
* the second core: the passes left (the L2 term, θ ← θ + v) run in numpy's OpenBLAS,
  whose worker threads are still awake from the product just before, so a θ-sized
  ``axpy`` uses both cores. scipy's BLAS is another library with its own pool, whose
  threads would have to wake and would then compete with numpy's (digitnet/nn/blas.py
  pins it to one thread for that reason).

numpy exposes no such call, so this module finds numpy's OpenBLAS (via threadpoolctl)
and binds its CBLAS symbols with ctypes (which releases the GIL during each call).
Only the ILP64 build numpy's wheels ship is bound (``scipy_cblas_sgemm64_`` and the
like, 64-bit integers): for any other BLAS, or if a self-check on a small product
disagrees with numpy, ``available()`` is False and the functions here fall back to
numpy's ``@`` and digitnet/nn/blas.py: same results, one core for the passes over θ.
Operands are C-contiguous (row-major); a product's operands may also be transposed
views of C-contiguous arrays.
"""

from __future__ import annotations

import ctypes
import logging
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.nn import blas
from digitnet.nn.blas import Array

log = logging.getLogger(__name__)

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values

#: Vector passes (axpy, scal) over fewer elements than this stay on scipy's one-thread BLAS
#: (digitnet/nn/blas.py). A 784-100-10 θ (79,510 weights, 318 KB) stays in one core's cache,
#: and handing half of it to a second thread costs more than it saves (issue 12: the
#: 784-100-10 step was ~7% slower with threaded passes); a 784-800-10 θ (636,010 weights,
#: 2.5 MB) does not fit, and the passes there are memory-bound work that two cores halve.
THREADED_MIN = 1 << 18
_PREFIXES = ("scipy_cblas_", "cblas_")  # numpy's wheels, then a plain OpenBLAS built ILP64
_SUFFIX = "64_"  # ILP64: every integer argument is 64-bit

_I = ctypes.c_int
_N = ctypes.c_int64
_P = ctypes.c_void_p


class _Routines:
    """The bound CBLAS routines of one library, for float32 ('s') and float64 ('d')."""

    def __init__(self, library: ctypes.CDLL, prefix: str) -> None:
        self.gemm: dict[str, Any] = {}
        self.axpy: dict[str, Any] = {}
        self.scal: dict[str, Any] = {}
        for kind, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            gemm = getattr(library, f"{prefix}{kind}gemm{_SUFFIX}")
            gemm.argtypes = [_I, _I, _I, _N, _N, _N, real, _P, _N, _P, _N, real, _P, _N]
            gemm.restype = None
            axpy = getattr(library, f"{prefix}{kind}axpy{_SUFFIX}")
            axpy.argtypes = [_N, real, _P, _N, _P, _N]
            axpy.restype = None
            scal = getattr(library, f"{prefix}{kind}scal{_SUFFIX}")
            scal.argtypes = [_N, real, _P, _N]
            scal.restype = None
            self.gemm[kind], self.axpy[kind], self.scal[kind] = gemm, axpy, scal


def _numpy_blas_path() -> Path | None:
    """The file of the BLAS that numpy's ``@`` calls, if threadpoolctl can see it."""
    from threadpoolctl import ThreadpoolController

    numpy_dir = Path(np.__file__).resolve().parent
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        path = Path(lib.filepath).resolve()
        # numpy's wheels keep it in numpy.libs/ (Linux) or numpy/.dylibs (macOS).
        if numpy_dir in path.parents or path.parent.name == "numpy.libs":
            return path
    return None


@cache
def _routines() -> _Routines | None:
    np.ones(2) @ np.ones(2)  # numpy loads its BLAS lazily on some builds: make sure it is there
    path = _numpy_blas_path()
    if path is None:
        log.debug("numpy's BLAS library not found: the step uses numpy and scipy's BLAS")
        return None
    library = ctypes.CDLL(str(path))
    for prefix in _PREFIXES:
        try:
            routines = _Routines(library, prefix)
        except AttributeError:
            continue
        if _self_check(routines):
            return routines
        log.debug("%s in %s failed its self-check: not used", prefix, path.name)
    return None


def _self_check(routines: _Routines) -> bool:
    """A small product with α, β and a transposed operand, and an axpy, against numpy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal((5, 4)).astype(np.float32)
    c = rng.standard_normal((3, 4)).astype(np.float32)
    expected = -0.5 * (a.T @ b) + 0.25 * c
    _gemm_call(routines, c, a.T, b, -0.5, 0.25)
    y = np.arange(7, dtype=np.float32)
    _axpy_call(routines, y, np.ones(7, np.float32), 2.0)
    return bool(np.allclose(c, expected, atol=1e-5) and np.array_equal(y, np.arange(7) + 2.0))


def available() -> bool:
    """True when numpy's own BLAS is bound (see the module's docstring)."""
    return _routines() is not None


def _operand(x: Array) -> tuple[Array, int, int]:
    """(row-major array, transpose flag, leading dimension) that reads as x."""
    if x.flags.c_contiguous:
        return x, NO_TRANS, x.shape[1]
    if x.flags.f_contiguous:  # x = Mᵀ of a C-ordered M: pass M, transposed
        return x.T, TRANS, x.shape[0]
    copy = np.ascontiguousarray(x)  # any other view: one copy
    return copy, NO_TRANS, copy.shape[1]


def _kind(out: Array) -> str:
    if out.dtype == np.float32:
        return "s"
    if out.dtype == np.float64:
        return "d"
    raise ValueError(f"numpyblas works on float32 and float64, not {out.dtype}")


def _gemm_call(
    routines: _Routines, out: Array, a: Array, b: Array, alpha: float, beta: float
) -> None:
    m, n = out.shape
    k = a.shape[1]
    if a.shape[0] != m or b.shape != (k, n) or not out.flags.c_contiguous:
        raise ValueError(f"gemm: {a.shape} @ {b.shape} does not fit a C-ordered {out.shape}")
    kind = _kind(out)
    a_rows, trans_a, lda = _operand(a)
    b_rows, trans_b, ldb = _operand(b)
    routines.gemm[kind](
        ROW_MAJOR, trans_a, trans_b, m, n, k,
        alpha, a_rows.ctypes.data, lda, b_rows.ctypes.data, ldb,
        beta, out.ctypes.data, n,
    )  # fmt: skip


def _axpy_call(routines: _Routines, y: Array, x: Array, a: float) -> None:
    if not (y.flags.c_contiguous and x.flags.c_contiguous) or x.shape != y.shape:
        raise ValueError("axpy works on C-contiguous arrays of one shape only")
    kind = _kind(y)
    if x.dtype != y.dtype:
        raise ValueError("axpy operands must share one dtype")
    routines.axpy[kind](y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)


def gemm(out: Array, a: Array, b: Array, alpha: float = 1.0, beta: float = 0.0) -> Array:
    """out ← α a @ b + β out, in place."""
    routines = _routines()
    if routines is not None and a.dtype == b.dtype == out.dtype:
        _gemm_call(routines, out, a, b, alpha, beta)
        return out
    product = a @ b  # without numpy's BLAS, or mixed dtypes: a fresh product, then a pass
    if beta == 0.0:  # as BLAS does: out is not read (it may hold anything, even NaN)
        return np.multiply(product, alpha, out=out, casting="same_kind")
    out *= beta
    out += alpha * product
    return out


def axpy(y: Array, x: Array, a: float) -> Array:
    """y ← y + a x, in place (numpy's threads from ``THREADED_MIN`` elements on)."""
    routines = _routines() if y.size >= THREADED_MIN else None
    if routines is None:
        return blas.axpy(y, x, a)
    _axpy_call(routines, y, x, a)
    return y


def scal(x: Array, a: float) -> Array:
    """x ← a x, in place (numpy's threads from ``THREADED_MIN`` elements on)."""
    routines = _routines() if x.size >= THREADED_MIN else None
    if routines is None:
        return blas.scal(x, a)
    if not x.flags.c_contiguous:
        raise ValueError("scal works on C-contiguous arrays only")
    routines.scal[_kind(x)](x.size, a, x.ctypes.data, 1)
    return x
