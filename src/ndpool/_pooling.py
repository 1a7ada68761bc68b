"""Public max and average pooling functions (torch.nn.functional names and arguments)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _box_sums
from ._simd import _kernels
from ._args import (Axis, avg_options, axes_table, check_running_sums, validate_call,
                    window_geometry)
from ._docs import FLAT_INDEX, OPTIONS, RAISES, examples, input_param, max_returns
from ._layout import (empty_output, from_ncdhw, kernel_input, plain_input, plain_output,
                      to_ncdhw)
from ._threading import window_threads
from ._typing import DataFormat, Padding, Size


@lru_cache(maxsize=256)
def _plain_geometry(fn, spatial, kernel_size, stride, padding, dilation):
    """(geometry table, output spatial shape, window size) of exact-int arguments; the checks
    and their errors are window_geometry's, as on the general path (ceil_mode False)."""
    axes = window_geometry(fn, spatial, kernel_size, stride, padding, dilation, False)
    return axes_table(axes), tuple(a.size_out for a in axes), _work(1, axes)


def _plain(fn, nd, x, kernel_size, stride, padding, dilation, ceil_mode, data_format,
           num_threads):
    """The common call in a few steps: a plain_input call with int window arguments and
    default dilation and ceil_mode.  Returns (input in kernel order, channels_last kernel,
    (N, C, *spatial_out) output shape, geometry table, threads, batched), or None for
    every other call, which the general path then checks with its errors."""
    if (type(kernel_size) is not int or type(padding) is not int
            or (stride is not None and type(stride) is not int)
            or dilation.__class__ is not int or dilation != 1 or ceil_mode is not False):
        return None
    plain = plain_input(x, nd, data_format, num_threads)
    if plain is None:
        return None
    xk, channels_last, shape, batched = plain
    table, spatial_out, window = _plain_geometry(fn, shape[2:], kernel_size, stride, padding,
                                                 dilation)
    out_shape = shape[:2] + spatial_out
    threads = window_threads(num_threads, math.prod(out_shape) * window, shape, channels_last)
    return xk, channels_last, out_shape, table, threads, batched


def _max_pool(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format, num_threads):
    plain = _plain(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, data_format,
                   num_threads)
    if plain is not None:
        xk, cl, out_shape, table, threads, batched = plain
        out_k, out = plain_output(out_shape, xk.dtype, cl, nd, data_format, batched)
        if return_indices:
            idx_k, idx = plain_output(out_shape, np.int64, cl, nd, data_format, batched)
            _kernels.max_pool(xk, out_k, idx_k, table, cl, threads)
            return out, idx
        _kernels.max_pool(xk, out_k, None, table, cl, threads)
        return out
    call = validate_call(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                         data_format, num_threads)
    return run_max_pool(call, nd, return_indices)


def run_max_pool(call, nd, return_indices):
    """Max pooling of a validated :class:`._args.Call` (its axes may carry any geometry the kernels accept,
    such as the uneven padding of one block of a chunked array, see ndpool.dask)."""
    x5 = to_ncdhw(call.x, nd, call.channels_last, call.batched)
    is_bool = x5.dtype == np.bool_
    if is_bool:
        x5 = x5.view(np.uint8)  # max over {0, 1} is logical or
    xk, cl_kernel = kernel_input(x5, call.channels_last)
    out_shape = _out_shape(x5, call.axes)
    out_k, out5 = empty_output(out_shape, x5.dtype, cl_kernel)
    idx_k = idx5 = None
    if return_indices:
        idx_k, idx5 = empty_output(out_shape, np.int64, cl_kernel)
    if out_k.size:
        threads = window_threads(call.num_threads, _work(out_k.size, call.axes), x5.shape,
                                 cl_kernel)
        _kernels.max_pool(xk, out_k, idx_k, axes_table(call.axes), cl_kernel, threads)
    if is_bool:
        out5 = out5.view(np.bool_)
    out = from_ncdhw(out5, nd, call.channels_last, call.batched)
    if return_indices:
        return out, from_ncdhw(idx5, nd, call.channels_last, call.batched)
    return out


def _avg_pool(fn, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, running_sums, data_format, num_threads):
    count_include_pad, divisor = avg_options(fn, padding, count_include_pad, divisor_override)
    plain = None
    if running_sums is False:
        plain = _plain(fn, nd, input, kernel_size, stride, padding, 1, ceil_mode, data_format,
                       num_threads)
    if plain is not None:
        xk, cl, out_shape, table, threads, batched = plain
        out_k, out = plain_output(out_shape, xk.dtype, cl, nd, data_format, batched)
        _kernels.avg_pool(xk, out_k, table, count_include_pad, divisor, cl, threads)
        return out
    running_sums = check_running_sums(fn, running_sums)
    call = validate_call(fn, nd, input, kernel_size, stride, padding, 1, ceil_mode, data_format,
                         num_threads)
    return run_avg_pool(call, nd, count_include_pad, divisor, running_sums)


def run_avg_pool(call, nd, count_include_pad, divisor, running_sums=False):
    """Average pooling of a validated call (divisor 0: no override); see run_max_pool."""
    x5 = to_ncdhw(call.x, nd, call.channels_last, call.batched)
    if x5.dtype == np.bool_:
        x5 = x5.view(np.uint8)
    # NumPy's convention: the mean of integers is float64.  The kernel reads integers in
    # place and sums them in float64, so no converted copy of the input is made.
    out_dtype = np.float32 if x5.dtype == np.float32 else np.float64
    xk, cl_kernel = kernel_input(x5, call.channels_last)
    out_k, out5 = empty_output(_out_shape(x5, call.axes), out_dtype, cl_kernel)
    if out_k.size:
        work = _work(out_k.size, call.axes)
        kernel = _box_sums if _box_pays(x5, call.axes, work, running_sums) else _kernels
        kernel.avg_pool(xk, out_k, axes_table(call.axes), count_include_pad, divisor, cl_kernel,
                        window_threads(call.num_threads, work, x5.shape, cl_kernel))
    return from_ncdhw(out5, nd, call.channels_last, call.batched)


def _box_pays(x5: np.ndarray, axes: tuple[Axis, ...], work: int, running_sums: bool) -> bool:
    """Whether block prefix sums (_box_sums) beat the call's `work` window reads: for
    integers of up to 32 bits, which float64 sums exactly in any order (same results),
    and for floats when running_sums allows another order.  The passes read the input
    and write and read the W-reduced buffers; measured on uint8 images they break even
    near 12 window reads per such cell (5x5 at stride 1), and gain 4.7x at 15x15, 6.6x
    at 7x7x7."""
    exact = x5.dtype.kind in "iu" and x5.dtype.itemsize <= 4
    if not (exact or (running_sums and x5.dtype.kind == "f")):
        return False
    w_lines = x5.size // x5.shape[-1]
    return work > 16 * (x5.size + 2 * w_lines * axes[-1].size_out)


def _work(out_size: int, axes: tuple[Axis, ...]) -> int:
    """Window reads of a call: outputs times window size."""
    for a in axes:
        out_size *= a.kernel
    return out_size


def _out_shape(x5: np.ndarray, axes: tuple[Axis, ...]) -> tuple[int, ...]:
    return x5.shape[:2] + (1,) * (3 - len(axes)) + tuple(a.size_out for a in axes)


_WINDOW_PARAMS = """\
kernel_size : int or tuple of {nd} ints
    Window size.
stride : int or tuple of {nd} ints, optional
    Window step; defaults to ``kernel_size``.
padding : int, tuple of {nd} ints, "valid" or "same"
    Implicit padding on both sides (at most half the window; padded cells are never
    read).  ``"valid"`` means 0; ``"same"`` follows Keras/TensorFlow: output size
    ``ceil(size / stride)``, the odd padding cell on the right, padded cells ignored."""

def _doc(op: str, nd: int, params: str, returns: str) -> str:
    return (
        f"{nd}-D {'max' if op == 'max' else 'average'} pooling, as ``torch.nn.functional.{op}_pool{nd}d``.\n\n"
        f"Parameters\n----------\n{input_param(nd)}\n{_WINDOW_PARAMS.format(nd=nd)}\n{params}\n"
        f"{OPTIONS}\n\nReturns\n-------\n{returns}\n\n{RAISES}\n{examples(f'{op}_pool{nd}d')}"
    )


_MAX_PARAMS = """\
dilation : int or tuple of {nd} ints
    Spacing between window elements.
ceil_mode : bool
    Use ceil instead of floor for the output size (a last window that would start in the
    right padding is dropped, as in torch).
return_indices : bool
    Also return the int64 position of each maximum, flattened within its
    (n, c) plane of the unpadded input (``{flat}``)."""

_AVG_PARAMS = """\
ceil_mode : bool
    Use ceil instead of floor for the output size.
count_include_pad : bool
    Whether padded cells count in the divisor (ignored for ``padding="same"``, where
    they never count, as in Keras).
divisor_override : int, optional
    If given (non-zero), divide every window sum by it.
running_sums : bool, default False
    Keyword-only.  Let float inputs take block prefix sums in float64 where they pay
    (large overlapping windows): a few additions per cell per axis whatever the window,
    each window still adding only its own values (NaN and inf behave as in torch), but in
    another order, so the last bits can differ from torch's.  Integer inputs take that
    path whenever it pays, with identical results (their float64 sums are exact)."""

_AVG_RETURNS = """\
out : ndarray
    float32 for float32 input, float64 otherwise: integer and bool inputs are averaged in
    float64 (NumPy's convention; torch would truncate integer averages).  Same memory
    layout as the input."""


@overload
def max_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def max_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None, padding: Padding, dilation: Size,
    ceil_mode: bool, return_indices: Literal[True], *, data_format: DataFormat = ...,
    num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., *, return_indices: Literal[True],
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def max_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


@overload
def max_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def max_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None, padding: Padding, dilation: Size,
    ceil_mode: bool, return_indices: Literal[True], *, data_format: DataFormat = ...,
    num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., *, return_indices: Literal[True],
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def max_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


@overload
def max_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def max_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None, padding: Padding, dilation: Size,
    ceil_mode: bool, return_indices: Literal[True], *, data_format: DataFormat = ...,
    num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., *, return_indices: Literal[True],
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def max_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = ..., padding: Padding = ...,
    dilation: Size = ..., ceil_mode: bool = ..., return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def max_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


def avg_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    running_sums: bool = False, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


def avg_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    running_sums: bool = False, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


def avg_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    running_sums: bool = False, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


for _nd, _fn in enumerate((max_pool1d, max_pool2d, max_pool3d), start=1):
    _fn.__doc__ = _doc("max", _nd, _MAX_PARAMS.format(nd=_nd, flat=FLAT_INDEX[_nd]), max_returns("window"))
for _nd, _fn in enumerate((avg_pool1d, avg_pool2d, avg_pool3d), start=1):
    _fn.__doc__ = _doc("avg", _nd, _AVG_PARAMS, _AVG_RETURNS)
del _nd, _fn
