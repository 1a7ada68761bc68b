"""Channels-first max and average pooling with stride equal to the window, unpadded, of up
to 3 window rows of 2 to 4 values: one fused fold per output row, rounded up to whole
vectors where the overhang stays inside the work item (_strided_rows.pxd).  Every output
must still be the reference's, bit for bit."""

import numpy as np
import pytest

import ndpool
from ndpool import reference

from _helpers import random_values

# (shape, kernel, extra arguments): rows of 1 to 16 outputs, rows and columns left over by
# floor mode, ceil mode that adds no partial window, 1-D and 3-D windows, a single large
# plane split into items of rows, and windows of 4 and 6 rows (max folds them a depth slice
# at a time, in passes of up to 1024 outputs; average takes another kernel).
CASES = [
    ((8, 5, 14, 14), 2, {}), ((2, 3, 15, 15), 2, {}), ((2, 3, 15, 17), 3, {}),
    ((1, 2, 21, 21), 3, {}), ((3, 4, 28, 28), 4, {}), ((1, 1, 2000, 24), 2, {}),
    ((1, 3, 8, 1021), 2, {}), ((32, 4, 8, 8), 2, {}), ((1, 16, 8, 8), 2, {}),
    ((2, 2, 14, 14), 2, {"ceil_mode": True}), ((2, 3, 4, 14, 14), (1, 2, 2), {}),
    ((2, 3, 5, 9, 9), (3, 1, 3), {}), ((2, 3, 4, 8, 8), 2, {}),
    ((2, 3, 6, 9, 12), (3, 2, 4), {}), ((1, 2, 4, 200, 40), 2, {}), ((1, 2, 4, 6, 1024), 2, {}),
    ((3, 7, 48), 2, {}), ((3, 7, 49), 3, {}), ((3, 7, 50), 4, {}),
]


def _fn(op, nd, module=ndpool):
    return getattr(module, f"{op}_pool{nd}d")


@pytest.mark.parametrize("shape, kernel, extra", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_windows_match_reference(shape, kernel, extra, dtype):
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    nd = len(shape) - 2
    x = random_values(rng, shape, dtype)  # NaNs, infinities, signed zeros, ties
    # Magnitudes far apart make the order of additions visible; one NaN source only (which
    # of two NaNs an average keeps is open).
    f = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
    f.flat[rng.choice(f.size, 3, replace=False)] = [np.nan, np.inf, -0.0]
    calls = [("max", x, {}), ("avg", f, {}), ("avg", f, {"divisor_override": 3})]
    for op, arr, kwargs in calls:
        want = np.ascontiguousarray(_fn(op, nd, reference)(arr, kernel, **extra, **kwargs))
        for view in (arr, np.repeat(arr, 2, axis=1)[:, ::2]):  # planes packed or apart
            for threads in (1, 2, 3):
                got = _fn(op, nd)(view, kernel, num_threads=threads, **extra, **kwargs)
                assert got.tobytes() == want.tobytes(), (op, kwargs, threads)
