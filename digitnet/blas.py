"""Matrix products and vector updates written straight into existing arrays, through BLAS.

The training step calls these instead of numpy's ``@`` and ufuncs, for two reasons
measured with benchmarks/speed.py (issue 4):

* One thread pool. numpy and scipy wheels each bundle their own OpenBLAS, each with
  its own worker threads, and a worker spins for a while after its work is done. A
  step that alternates between the two (numpy's ``@`` for the products, scipy's
  ``saxpy`` for the update) leaves one pool spinning while the other computes, and
  on two cores that made a 784-800-10 epoch several times slower. So the whole
  step goes through scipy's BLAS; numpy's ``@`` stays for everything outside it
  (prediction, scoring), which need not import scipy at all.
* Threads and passes over memory. For a 784-800-10 network the update touches
  arrays of 800 × 784 floats several times per step; numpy's in-place ufuncs run
  on one core, BLAS's ``axpy``/``scal`` on all of them, and ``gemm``'s α folds a
  scale into the product instead of a separate pass.

BLAS is column-major and numpy arrays here are row-major (C order). A C-ordered
(r, c) array is the column-major (c, r) array of its transpose, so ``C = A B`` is
computed as Cᵀ = Bᵀ Aᵀ on transposed views, without copying anything.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

Array: TypeAlias = NDArray[np.floating]


@cache
def _routine(name: str, dtype: np.dtype[Any]) -> Any:
    # scipy.linalg is heavy to import (~0.3 s); only training needs it (DESIGN.md: predict
    # must start fast), so it is imported on first use.
    from scipy.linalg import blas

    return blas.get_blas_funcs(name, dtype=dtype)


def _column_major(x: Array) -> tuple[Array, bool]:
    """An operand for BLAS: (array, transpose flag) whose column-major reading is x.T.

    x.T of a C-ordered x is Fortran-ordered: pass it as is. A transposed view (x = W.T
    of a C-ordered W) is Fortran-ordered itself: pass it with the transpose flag.
    Anything else is copied once to C order first.
    """
    if x.flags.c_contiguous:
        return x.T, False
    if x.flags.f_contiguous:
        return x, True
    return np.ascontiguousarray(x).T, False


def gemm(out: Array, a: Array, b: Array, alpha: float = 1.0, beta: float = 0.0) -> Array:
    """out ← α a @ b + β out, written into ``out`` (C-ordered, dtype of a and b).

    Computed as outᵀ ← α bᵀ aᵀ + β outᵀ: every operand is a view, nothing is copied.
    """
    if not out.flags.c_contiguous:
        raise ValueError("gemm writes into a C-contiguous array only")
    first, trans_first = _column_major(b)  # bᵀ
    second, trans_second = _column_major(a)  # aᵀ
    c = out.T
    result = _routine("gemm", out.dtype)(
        alpha,
        first,
        second,
        beta=beta,
        c=c,
        trans_a=trans_first,
        trans_b=trans_second,
        overwrite_c=True,
    )
    if result is not c:  # f2py had to copy (another dtype): put the result in place
        out[...] = result.T
    return out


def axpy(y: Array, x: Array, a: float) -> Array:
    """y ← y + a x in place, for C-contiguous arrays of one shape and dtype."""
    if not (y.flags.c_contiguous and x.flags.c_contiguous):
        raise ValueError("axpy works on C-contiguous arrays only")
    flat = y.reshape(-1)
    result = _routine("axpy", y.dtype)(x.reshape(-1), flat, a=a)
    if result is not flat:
        flat[...] = result
    return y


def scal(x: Array, a: float) -> Array:
    """x ← a x in place, for a C-contiguous array."""
    if not x.flags.c_contiguous:
        raise ValueError("scal works on C-contiguous arrays only")
    flat = x.reshape(-1)
    result = _routine("scal", x.dtype)(a, flat)
    if result is not flat:
        flat[...] = result
    return x
