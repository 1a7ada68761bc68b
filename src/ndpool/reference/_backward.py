"""Plain-NumPy versions of the backward functions: the test oracle for ndpool's kernels.

Same arguments and errors as :mod:`ndpool` (validation is shared through :mod:`ndpool._args`),
but the gradient is built independently of the fast code, following docs/semantics.md (Gradients):

* max and adaptive max: ``np.add.at`` at the forward's indices, which adds in the order of
  the index array, i.e. each plane's outputs in row-major order;
* average: every output's window positions are gathered (the forward reference's
  ``_gather_windows``), each output's share ``gout / divisor`` is computed with one division,
  and ``np.add.at`` adds it to the window's cells in output, then scan, order;
* adaptive average: a loop over the outputs, each adding ``gout / kd / kh / kw`` to its bin.

Written to be read; speed only matters enough for property tests on small arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._args import (adaptive_bounds, avg_backward_geometry, avg_options, index_range_error,
                     validate_backward)
from .._typing import DataFormat, Padding, Size
from ._window import _divisors, _gather_windows

__all__ = [f"{op}_pool{nd}d_backward" for op in ("adaptive_avg", "adaptive_max", "avg", "max")
           for nd in (1, 2, 3)]


def _ncs(a, call):
    """An (N, C, *spatial) view of a grad_output-shaped array."""
    a = a if call.batched else a[np.newaxis]
    return np.moveaxis(a, -1, 1) if call.channels_last else a


def _result(gin, call):
    """Back to the user's rank and axis order, as a fresh C-contiguous array."""
    if call.channels_last:
        gin = np.moveaxis(gin, 1, -1)
    if not call.batched:
        gin = gin[0]
    return np.ascontiguousarray(gin)


def _zeros(g, call):
    """The zero input gradient, (N, C, *spatial): input_shape's N and C are grad_output's."""
    return np.zeros(g.shape[:2] + tuple(call.spatial_in), dtype=g.dtype)


def _max_backward(fn, nd, grad_output, indices, input_shape, data_format, num_threads):
    call = validate_backward(fn, nd, grad_output, input_shape, indices, data_format, num_threads,
                             with_indices=True)
    g, idx = _ncs(call.grad, call), _ncs(call.indices, call)
    gin = _zeros(g, call)
    plane = int(np.prod(call.spatial_in))
    bad = np.count_nonzero((idx < 0) | (idx >= plane))
    if bad:
        raise index_range_error(fn, bad, plane)
    # One row per (n, c) plane; add.at walks the (plane, output) pairs in row-major order.
    planes, outputs = g.shape[0] * g.shape[1], int(np.prod(g.shape[2:]))
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in the kernels
        np.add.at(gin.reshape(planes, plane), (np.arange(planes)[:, None], idx.reshape(planes, outputs)),
                  g.reshape(planes, outputs))
    return _result(gin, call)


def _avg_backward(fn, nd, grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, num_threads):
    count_include_pad, divisor_override = avg_options(fn, padding, count_include_pad, divisor_override)
    call = validate_backward(fn, nd, grad_output, input_shape, None, data_format, num_threads,
                             with_indices=False)
    axes = avg_backward_geometry(fn, call, kernel_size, stride, padding, ceil_mode)
    g = _ncs(call.grad, call)
    gin = _zeros(g, call)
    # Only the positions matter: inside (O.., K) marks the taps in the input, flat (O.., K)
    # is each tap's flat position in a plane, taps in scan order.
    _, inside, flat = _gather_windows(np.zeros((1, 1) + tuple(call.spatial_in)), axes, dilated=False)
    share = g / _divisors(axes, count_include_pad, divisor_override).astype(g.dtype)
    # The (output, tap) pairs inside the input: outputs in row-major order, taps in scan order.
    outputs, taps = inside.size // inside.shape[-1], inside.shape[-1]
    out_pos, tap_pos = np.nonzero(inside.reshape(outputs, taps))
    cells = flat.reshape(outputs, taps)[out_pos, tap_pos]
    planes = g.shape[0] * g.shape[1]
    shares = share.reshape(planes, outputs)[:, out_pos]
    with np.errstate(invalid="ignore"):
        np.add.at(gin.reshape(planes, int(np.prod(call.spatial_in))), (np.arange(planes)[:, None], cells[None, :]),
                  shares)
    return _result(gin, call)


def _adaptive_avg_backward(fn, nd, grad_output, input_shape, data_format, num_threads):
    call = validate_backward(fn, nd, grad_output, input_shape, None, data_format, num_threads,
                             with_indices=False)
    g = _ncs(call.grad, call)
    gin = _zeros(g, call)
    bins = [list(zip(*adaptive_bounds(i, o))) for i, o in zip(call.spatial_in, call.spatial_out)]
    for out in itertools.product(*[range(o) for o in call.spatial_out]):  # row-major
        share = g[(Ellipsis,) + out]
        window = [slice(*bins[axis][o]) for axis, o in enumerate(out)]
        for s in window:  # successive divisions by the bin sizes
            share = share / g.dtype.type(s.stop - s.start)
        with np.errstate(invalid="ignore"):
            gin[(Ellipsis, *window)] += share[(Ellipsis,) + (np.newaxis,) * nd]
    return _result(gin, call)


# ---------------------------------------------------------------------------------------------
# Public functions: the signatures of ndpool._backward


def max_pool1d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.max_pool1d_backward` (``num_threads`` is validated and ignored)."""
    return _max_backward("max_pool1d_backward", 1, grad_output, indices, input_shape, data_format,
                         num_threads)


def max_pool2d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.max_pool2d_backward` (``num_threads`` is validated and ignored)."""
    return _max_backward("max_pool2d_backward", 2, grad_output, indices, input_shape, data_format,
                         num_threads)


def max_pool3d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.max_pool3d_backward` (``num_threads`` is validated and ignored)."""
    return _max_backward("max_pool3d_backward", 3, grad_output, indices, input_shape, data_format,
                         num_threads)


def adaptive_max_pool1d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_max_pool1d_backward` (``num_threads`` is ignored)."""
    return _max_backward("adaptive_max_pool1d_backward", 1, grad_output, indices, input_shape,
                         data_format, num_threads)


def adaptive_max_pool2d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_max_pool2d_backward` (``num_threads`` is ignored)."""
    return _max_backward("adaptive_max_pool2d_backward", 2, grad_output, indices, input_shape,
                         data_format, num_threads)


def adaptive_max_pool3d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_max_pool3d_backward` (``num_threads`` is ignored)."""
    return _max_backward("adaptive_max_pool3d_backward", 3, grad_output, indices, input_shape,
                         data_format, num_threads)


def avg_pool1d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool1d_backward` (``num_threads`` is validated and ignored)."""
    return _avg_backward("avg_pool1d_backward", 1, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def avg_pool2d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool2d_backward` (``num_threads`` is validated and ignored)."""
    return _avg_backward("avg_pool2d_backward", 2, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def avg_pool3d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool3d_backward` (``num_threads`` is validated and ignored)."""
    return _avg_backward("avg_pool3d_backward", 3, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def adaptive_avg_pool1d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool1d_backward` (``num_threads`` is ignored)."""
    return _adaptive_avg_backward("adaptive_avg_pool1d_backward", 1, grad_output, input_shape,
                                  data_format, num_threads)


def adaptive_avg_pool2d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool2d_backward` (``num_threads`` is ignored)."""
    return _adaptive_avg_backward("adaptive_avg_pool2d_backward", 2, grad_output, input_shape,
                                  data_format, num_threads)


def adaptive_avg_pool3d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool3d_backward` (``num_threads`` is ignored)."""
    return _adaptive_avg_backward("adaptive_avg_pool3d_backward", 3, grad_output, input_shape,
                                  data_format, num_threads)
