# Stub for the compiled module ndpool._adaptive_kernels (src/ndpool/_adaptive_kernels.pyx).
# Arguments are trusted: ndpool._adaptive validates them.  Arrays are 5-D, (N, C, D, H, W)
# or channels-last (N, D, H, W, C); the comments give the Cython memoryview types, where
# pool_t is float32/float64/int8/int16/int32/int64/uint8/uint16/uint32/uint64 (bool is
# passed as uint8) and real_t is float32/float64, one type per call.

import numpy as np

def adaptive_max_pool(
    x: np.ndarray,  # const pool_t[:, :, :, :, :], unit-stride last axis
    out: np.ndarray,  # pool_t[:, :, :, :, ::1]
    indices: np.ndarray | None,  # int64[:, :, :, :, ::1], or None for no indices
    sizes: np.ndarray,  # const int64[:, ::1], shape (3, 2): (size_in, size_out) for D, H, W
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
def adaptive_avg_pool(
    x: np.ndarray,  # const real_t[:, :, :, :, :], unit-stride last axis
    out: np.ndarray,  # real_t[:, :, :, :, ::1]
    sizes: np.ndarray,  # const int64[:, ::1], shape (3, 2)
    channels_last: bool,  # bint
    num_threads: int,  # int
) -> None: ...
