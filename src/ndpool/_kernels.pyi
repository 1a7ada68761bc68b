# Stub for the compiled module ndpool._kernels (src/ndpool/_kernels.pyx).
# Arguments are trusted: ndpool._pooling validates them.  Arrays are 5-D, (N, C, D, H, W)
# or channels-last (N, D, H, W, C), or 3-/4-D without the leading spatial axes (read as
# size 1), and reach the kernels through the buffer protocol; the comments say what the
# kernels accept.  pool_t is one of float32/float64/int8/int16/int32/
# int64/uint8/uint16/uint32/uint64 (bool is read as uint8), one type per call.

import numpy as np

def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def max_pool(
    x: np.ndarray,  # pool_t, any strides but a unit-stride last axis
    out: np.ndarray,  # x's dtype, C-contiguous, writable
    indices: np.ndarray | None,  # int64, C-contiguous, writable; None for no indices
    geometry: np.ndarray,  # int64, C-contiguous, shape (3, 7): see ndpool._args.axes_table
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
def avg_pool(
    x: np.ndarray,  # pool_t, any strides but a unit-stride last axis
    out: np.ndarray,  # float32 for float32 x, else float64; C-contiguous, writable
    geometry: np.ndarray,  # int64, C-contiguous, shape (3, 7)
    count_include_pad: bool,  # bint
    divisor_override: int,  # Py_ssize_t, 0 for none
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
