"""BLAS on one thread: in-place updates y ← y + a x and x ← a x, and products C ← α A B + β C.

The optimiser's update and the L2 term of the gradient touch arrays the size of θ
(800 × 784 floats for a 784-800-10 network) several times per step. numpy's
in-place ufuncs need a temporary for y += a x (a product, then a sum: two passes
and a fresh array); BLAS ``axpy`` does it in one pass without one.

These run on scipy's OpenBLAS, pinned to **one** thread, and the matrix products
stay on numpy's ``@``. Measured on the 2-core machine of benchmarks/speed.py
(issue 4): a multi-threaded ``axpy`` on θ-sized arrays was several times slower
than a single-threaded one (each call wakes and waits for a worker for very little
work), and running the products on scipy's BLAS too, with its own thread pool,
was slower than numpy's ``@``: the two libraries' workers spin for a while after
each call and take the cores from one another. With scipy's BLAS on one thread it
has no workers at all, so nothing competes with numpy's pool.

``gemm`` serves small products that numpy would split into many calls (augment.py);
the training step's own products use numpy's ``@``. scipy is imported on first use
(it takes ~0.3 s): prediction never needs it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

Array: TypeAlias = NDArray[np.floating]


@cache
def _routine(name: str, dtype: np.dtype[Any]) -> Any:
    from scipy.linalg import blas

    _pin_scipy_blas_to_one_thread()
    return blas.get_blas_funcs(name, dtype=dtype)


def _pin_scipy_blas_to_one_thread() -> None:
    """Set the BLAS that scipy bundles (not numpy's) to one thread, for this process.

    When scipy uses the same BLAS as numpy (some system or conda builds), nothing is
    changed: limiting it would slow numpy's products down.
    """
    import scipy
    from threadpoolctl import ThreadpoolController

    scipy_dir = Path(scipy.__file__).resolve().parent
    for lib in ThreadpoolController().lib_controllers:
        folder = Path(lib.filepath).resolve().parent
        if lib.user_api == "blas" and (
            folder.name.startswith("scipy") or scipy_dir in (folder, *folder.parents)
        ):
            lib.set_num_threads(1)


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
    if result is not flat:  # f2py had to copy (another dtype): put the result in place
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
