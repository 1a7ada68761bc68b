# Stub for the compiled module ndpool._box_sums (src/ndpool/_box_sums.pyx).  Arguments are
# trusted: ndpool._pooling validates them.

import numpy as np

def avg_pool(
    x: np.ndarray,  # 5-D, kernel order, unit-stride last axis: 8/16/32-bit ints, float32/64
    out: np.ndarray,  # float32 for float32 x, else float64; C-contiguous, same axis order
    geometry: np.ndarray,  # int64 (3, 7) table, see ndpool._args.axes_table
    count_include_pad: bool,
    divisor_override: int,  # 0: none
    channels_last: bool,
    num_threads: int,
) -> None: ...
