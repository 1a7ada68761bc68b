"""ndpool: fast max, average and adaptive pooling for NumPy arrays.

Functions follow ``torch.nn.functional`` (names, arguments, output shapes, indices, NaN
rules); ``ndpool.reference`` holds plain-NumPy versions of the same functions.
"""

import sys as _sys
from typing import Any as _Any

from . import _buffer_pool
from ._build_info import BUILD_INFO as _BUILD_INFO
from ._simd import VARIANT as _SIMD, _kernels as _simd_kernels
from ._pooling import avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d
from ._adaptive import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
)
from ._backward import (
    adaptive_avg_pool1d_backward,
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool3d_backward,
    adaptive_max_pool1d_backward,
    adaptive_max_pool2d_backward,
    adaptive_max_pool3d_backward,
    avg_pool1d_backward,
    avg_pool2d_backward,
    avg_pool3d_backward,
    max_pool1d_backward,
    max_pool2d_backward,
    max_pool3d_backward,
)

from ._pyramid import pyramid

__version__ = "0.1.0"

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "buffer_pool_info",
    "build_info",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "pyramid",
    "set_buffer_pool_limit",
]


def build_info() -> dict[str, _Any]:
    """How the kernels were compiled, and the thread limit they would use now."""
    return dict(_BUILD_INFO, openmp=_simd_kernels.openmp_enabled(), simd=_SIMD,
                max_threads=_simd_kernels.max_threads())


def set_buffer_pool_limit(max_bytes: int) -> int:
    """Keep at most ``max_bytes`` of freed result memory for reuse (0: keep none); returns
    the previous limit.  Results of 1 MiB or more are recycled; see :doc:`/performance`."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise TypeError(f"set_buffer_pool_limit: max_bytes must be an int, got {type(max_bytes).__name__}")
    if not 0 <= max_bytes <= _sys.maxsize:
        raise ValueError(f"set_buffer_pool_limit: max_bytes must be in [0, {_sys.maxsize}], got {max_bytes}")
    return _buffer_pool.set_limit(max_bytes)


def buffer_pool_info() -> dict[str, int]:
    """The freed result memory kept for reuse: ``bytes``, ``blocks`` and ``limit`` (bytes)."""
    held, blocks, limit = _buffer_pool.info()
    return {"bytes": held, "blocks": blocks, "limit": limit}
