# Stub for the compiled module ndpool._backward_kernels (src/ndpool/_backward_kernels.pyx).
# Arguments are trusted: ndpool._backward validates them.  Arrays are 5-D, (N, C, D, H, W)
# or channels-last (N, D, H, W, C), read through the buffer protocol (3-D and 4-D arrays
# are read with size-1 leading spatial axes); real_t is float32 or float64, one type per
# call (ValueError for other item sizes or ranks).

import numpy as np

STREAM_MIN_BYTES: int  # gradients this large are written with streaming stores
ONE_CELL_STREAM_MIN_BYTES: int  # the same for gradients with one value per plane

def max_backward(
    grad: np.ndarray,  # real_t, any strides but a unit-stride last axis
    indices: np.ndarray,  # int64, grad's shape, unit-stride last axis
    out: np.ndarray,  # real_t, C-contiguous, written
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> int: ...  # how many indices fell outside their plane (skipped)
def avg_backward(
    grad: np.ndarray,  # real_t, any strides but a unit-stride last axis
    out: np.ndarray,  # real_t, C-contiguous, written
    geometry: np.ndarray,  # const int64[:, ::1], shape (3, 7): see ndpool._args.axes_table
    count_include_pad: bool,  # bint
    divisor_override: int,  # Py_ssize_t, 0 for none
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
def adaptive_avg_backward(
    grad: np.ndarray,  # real_t, any strides but a unit-stride last axis
    out: np.ndarray,  # real_t, C-contiguous, written
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
