"""Static checks of ndpool's public types: run by mypy, never executed or collected by pytest.

Each ``assert_type`` fails type checking if a signature's return type changes; calls that
must be rejected carry ``# type: ignore[...]`` comments, which ``warn_unused_ignores`` turns
into errors once they are accepted.  Run (see pyproject.toml [tool.mypy]):

    mypy -p ndpool tests/typing/check_api.py      # or against an installed package, .ci/package
"""

from __future__ import annotations

from typing import Any, assert_type

import numpy as np
import numpy.typing as npt

import ndpool
import ndpool.reference

Array = npt.NDArray[Any]
Indices = npt.NDArray[np.int64]
WithIndices = tuple[Array, Indices]

x1 = np.zeros((2, 3, 8), dtype=np.float32)
x2 = np.zeros((2, 3, 8, 8), dtype=np.float32)
x3 = np.zeros((2, 3, 4, 8, 8))
nested = [[[1.0, 5.0, 2.0, 0.0]]]  # any array-like input
flag: bool = bool(x2.size)


def forward_max() -> None:
    assert_type(ndpool.max_pool1d(x1, 2), Array)
    assert_type(ndpool.max_pool1d(nested, 2, return_indices=False), Array)
    assert_type(ndpool.max_pool2d(x2, 2), Array)
    assert_type(ndpool.max_pool2d(x2, (2, 3), stride=[1, 2], padding=1, dilation=(1, 1)), Array)
    assert_type(ndpool.max_pool2d(x2, 3, 2, "same", data_format="channels_last"), Array)
    assert_type(ndpool.max_pool3d(x3, 2, num_threads=2), Array)
    # return_indices=True, by keyword or by position, returns (out, int64 indices).
    assert_type(ndpool.max_pool1d(x1, 2, return_indices=True), WithIndices)
    assert_type(ndpool.max_pool2d(x2, 2, return_indices=True), WithIndices)
    assert_type(ndpool.max_pool2d(x2, 2, 2, 0, 1, False, True), WithIndices)
    assert_type(ndpool.max_pool3d(x3, 2, ceil_mode=True, return_indices=True), WithIndices)
    out, idx = ndpool.max_pool2d(x2, 2, return_indices=True)
    assert_type(out, Array)
    assert_type(idx, Indices)
    # A bool only known at run time: either form.
    assert_type(ndpool.max_pool2d(x2, 2, return_indices=flag), Array | WithIndices)


def forward_avg() -> None:
    assert_type(ndpool.avg_pool1d(x1, 3, 1, 1, False, False, 2), Array)
    assert_type(ndpool.avg_pool2d(x2, 3, stride=2, padding="valid"), Array)
    assert_type(ndpool.avg_pool2d(x2, 15, stride=1, padding=7, running_sums=True), Array)
    assert_type(ndpool.avg_pool3d(x3, (2, 2, 2), count_include_pad=False, divisor_override=None), Array)


def adaptive() -> None:
    assert_type(ndpool.adaptive_avg_pool1d(x1, 4), Array)
    assert_type(ndpool.adaptive_avg_pool2d(x2, (None, 1)), Array)
    assert_type(ndpool.adaptive_avg_pool3d(x3, [2, 2, None], num_threads=None), Array)
    assert_type(ndpool.adaptive_max_pool1d(x1, 4), Array)
    assert_type(ndpool.adaptive_max_pool2d(x2, 7, data_format="channels_last"), Array)
    assert_type(ndpool.adaptive_max_pool2d(x2, (None, 1), return_indices=True), WithIndices)
    assert_type(ndpool.adaptive_max_pool3d(x3, 2, True), WithIndices)
    assert_type(ndpool.adaptive_max_pool3d(x3, 2, flag), Array | WithIndices)


def backward() -> None:
    y, idx = ndpool.max_pool2d(x2, 2, return_indices=True)
    g = np.ones_like(y)
    assert_type(ndpool.max_pool1d_backward(np.ones((2, 3, 4)), np.zeros((2, 3, 4), np.int64), x1.shape), Array)
    assert_type(ndpool.max_pool2d_backward(g, idx, x2.shape), Array)
    assert_type(ndpool.max_pool3d_backward(g, idx, [2, 3, 4, 8, 8], data_format="channels_first"), Array)
    assert_type(ndpool.adaptive_max_pool1d_backward(g, idx, x1.shape), Array)
    assert_type(ndpool.adaptive_max_pool2d_backward(g, idx, x2.shape, num_threads=1), Array)
    assert_type(ndpool.adaptive_max_pool3d_backward(g, idx, x3.shape), Array)
    assert_type(ndpool.avg_pool1d_backward(g, x1.shape, 2), Array)
    assert_type(ndpool.avg_pool2d_backward(g, x2.shape, 3, 1, "same", False, True, None), Array)
    assert_type(ndpool.avg_pool3d_backward(g, x3.shape, (2, 2, 2), count_include_pad=False), Array)
    assert_type(ndpool.adaptive_avg_pool1d_backward(g, x1.shape), Array)
    assert_type(ndpool.adaptive_avg_pool2d_backward(g, x2.shape, data_format="channels_last"), Array)
    assert_type(ndpool.adaptive_avg_pool3d_backward(g, x3.shape), Array)


def reference() -> None:
    """ndpool.reference mirrors the public signatures."""
    ref = ndpool.reference
    assert_type(ref.max_pool1d(x1, 2), Array)
    assert_type(ref.max_pool2d(x2, 2, return_indices=True), WithIndices)
    assert_type(ref.max_pool3d(x3, 2, 2, 0, 1, False, True), WithIndices)
    assert_type(ref.avg_pool1d(x1, 2), Array)
    assert_type(ref.avg_pool2d(x2, 2, padding="same"), Array)
    assert_type(ref.avg_pool3d(x3, 2), Array)
    assert_type(ref.adaptive_max_pool1d(x1, 2), Array)
    assert_type(ref.adaptive_max_pool2d(x2, 2, return_indices=True), WithIndices)
    assert_type(ref.adaptive_max_pool3d(x3, 2, flag), Array | WithIndices)
    assert_type(ref.adaptive_avg_pool1d(x1, 2), Array)
    assert_type(ref.adaptive_avg_pool2d(x2, 2), Array)
    assert_type(ref.adaptive_avg_pool3d(x3, 2), Array)
    y, idx = ref.max_pool2d(x2, 2, return_indices=True)
    assert_type(ref.max_pool1d_backward(y, idx, x1.shape), Array)
    assert_type(ref.max_pool2d_backward(y, idx, x2.shape), Array)
    assert_type(ref.max_pool3d_backward(y, idx, x3.shape), Array)
    assert_type(ref.adaptive_max_pool1d_backward(y, idx, x1.shape), Array)
    assert_type(ref.adaptive_max_pool2d_backward(y, idx, x2.shape), Array)
    assert_type(ref.adaptive_max_pool3d_backward(y, idx, x3.shape), Array)
    assert_type(ref.avg_pool1d_backward(y, x1.shape, 2), Array)
    assert_type(ref.avg_pool2d_backward(y, x2.shape, 2), Array)
    assert_type(ref.avg_pool3d_backward(y, x3.shape, 2), Array)
    assert_type(ref.adaptive_avg_pool1d_backward(y, x1.shape), Array)
    assert_type(ref.adaptive_avg_pool2d_backward(y, x2.shape), Array)
    assert_type(ref.adaptive_avg_pool3d_backward(y, x3.shape), Array)


def info() -> None:
    assert_type(ndpool.build_info(), dict[str, Any])
    assert_type(ndpool.set_buffer_pool_limit(0), int)
    assert_type(ndpool.buffer_pool_info(), dict[str, int])
    assert_type(ndpool.__version__, str)


def rejected() -> None:
    """Calls the signatures rule out (each would also raise at run time)."""
    ndpool.max_pool2d(x2, 2, data_format="NHWC")  # type: ignore[call-overload]
    ndpool.max_pool2d(x2, 2, padding="full")  # type: ignore[arg-type]
    ndpool.max_pool2d(x2, 2.5)  # type: ignore[call-overload]
    ndpool.avg_pool2d(x2, "2")  # type: ignore[arg-type]
    ndpool.avg_pool2d(x2, 2, num_threads=1.5)  # type: ignore[arg-type]
    ndpool.adaptive_avg_pool2d(x2, (1.5, 2))  # type: ignore[arg-type]
    ndpool.avg_pool2d_backward(x2, 4, 2)  # type: ignore[arg-type]
    ndpool.max_pool2d(x2, 2, 2, 0, 1, False, True, "channels_last")  # type: ignore[call-overload]
    # With indices the result is a pair, not an array.
    out: Array = ndpool.max_pool2d(x2, 2, return_indices=True)  # type: ignore[assignment]
    del out
