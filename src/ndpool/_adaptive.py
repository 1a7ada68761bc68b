"""Public adaptive max and average pooling functions (torch.nn.functional names and arguments)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._simd import _adaptive_kernels
from ._args import INT32_MAX, AdaptiveAxis, Call, adaptive_bounds, validate_adaptive_call
from ._docs import FLAT_INDEX, OPTIONS, RAISES, examples, input_param, max_returns
from ._layout import (empty_output, from_ncdhw, kernel_input, plain_input, plain_output,
                      to_ncdhw)
from ._threading import stream_threads
from ._typing import DataFormat, OutputSize

_UNIT_AXIS = AdaptiveAxis(1, 1)


@lru_cache(maxsize=1024)
def _sizes_array(axes: tuple[AdaptiveAxis, ...]) -> np.ndarray:
    """The kernels' (3, 2) int64 table: (size_in, size_out) rows for D, H, W, missing
    leading axes of size 1."""
    rows = [_UNIT_AXIS] * (3 - len(axes)) + list(axes)
    table = np.array([[a.size_in, a.size_out] for a in rows], dtype=np.int64)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=1024)
def _reads_per_line(axis: AdaptiveAxis) -> int:
    """Input reads of all bins of one axis together (overlapping bins read some twice)."""
    start, end = adaptive_bounds(axis.size_in, axis.size_out)
    return int((end - start).sum())


def _plane_reads(axes: tuple[AdaptiveAxis, ...]) -> int:
    """Input reads of all bins of one (n, c) plane."""
    reads = 1
    for a in axes:
        reads *= _reads_per_line(a)
    return reads


def _work(call: Call, out_shape: tuple[int, ...]) -> int:
    """Input reads of a call: (n, c) planes times the reads of all bins of a plane."""
    return out_shape[0] * out_shape[1] * _plane_reads(call.axes)


def _kernel_operands(call, nd):
    """The kernel's input and layout, and the 5-D output shape, of a validated call."""
    x5 = _as_kernel_input(to_ncdhw(call.x, nd, call.channels_last, call.batched))
    xk, cl_kernel = kernel_input(x5, call.channels_last)
    out_shape = x5.shape[:2] + (1,) * (3 - nd) + tuple(a.size_out for a in call.axes)
    return call, xk, cl_kernel, out_shape


def _as_kernel_input(x5: np.ndarray) -> np.ndarray:
    # Bool is read as uint8: max over {0, 1} is logical or, and its sum counts the Trues.
    return x5.view(np.uint8) if x5.dtype == np.bool_ else x5




@lru_cache(maxsize=1024)
def _plain_geometry(spatial: tuple[int, ...], sizes: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """(kernel size table, input reads per (n, c) plane) of valid spatial and output sizes."""
    axes = tuple(AdaptiveAxis(i, o) for i, o in zip(spatial, sizes))
    return _sizes_array(axes), _plane_reads(axes)


def _plain(nd, x, output_size, data_format, num_threads):
    """The common call in a few steps: a plain_input call whose output_size is an int or a
    tuple of nd ints, each from 1 to 2**31 - 1.  Returns
    (plain_input's four values, output shape, size table, threads), or None for every other
    call, which the general path then checks with its errors."""
    if type(output_size) is int:
        sizes = (output_size,) * nd
    elif type(output_size) is tuple and len(output_size) == nd \
            and all(type(v) is int for v in output_size):
        sizes = output_size
    else:
        return None
    if min(sizes) < 1 or max(sizes) > INT32_MAX:
        return None
    plain = plain_input(x, nd, data_format, num_threads)
    if plain is None:
        return None
    shape = plain[2]
    table, reads = _plain_geometry(shape[2:], sizes)
    threads = stream_threads(num_threads, shape[0] * shape[1] * reads, shape[1], plain[0].size,
                             plain[1], max(sizes) == 1)
    return (*plain, shape[:2] + sizes, table, threads)


def _adaptive_max(fn, nd, input, output_size, return_indices, data_format, num_threads):
    plain = _plain(nd, input, output_size, data_format, num_threads)
    if plain is not None:
        xk, cl, _, batched, out_shape, table, threads = plain
        out_k, out = plain_output(out_shape, xk.dtype, cl, nd, data_format, batched)
        idx_k = idx = None
        if return_indices:
            idx_k, idx = plain_output(out_shape, np.int64, cl, nd, data_format, batched)
            idx_k = _as_5d(idx_k, nd, cl)
        _adaptive_kernels.adaptive_max_pool(_as_5d(xk, nd, cl), _as_5d(out_k, nd, cl), idx_k,
                                            table, cl, threads)
        return (out, idx) if return_indices else out
    call = validate_adaptive_call(fn, nd, input, output_size, data_format, num_threads)
    return run_adaptive_max(call, nd, return_indices)


def _as_5d(xk: np.ndarray, nd: int, channels_last: bool) -> np.ndarray:
    """A kernel-order array of nd spatial axes with the missing ones inserted (size 1)."""
    at = 1 if channels_last else 2
    return xk.reshape(xk.shape[:at] + (1,) * (3 - nd) + xk.shape[at:])


def run_adaptive_max(call, nd, return_indices):
    """Adaptive max pooling of a validated call (used on blocks by ndpool.dask)."""
    call, xk, cl_kernel, out_shape = _kernel_operands(call, nd)
    out_k, out5 = empty_output(out_shape, xk.dtype, cl_kernel)
    idx_k = idx5 = None
    if return_indices:
        idx_k, idx5 = empty_output(out_shape, np.int64, cl_kernel)
    if out_k.size:
        threads = stream_threads(call.num_threads, _work(call, out_shape), out_shape[1],
                                 xk.size, cl_kernel, max(out_shape[2:]) == 1)
        _adaptive_kernels.adaptive_max_pool(xk, out_k, idx_k, _sizes_array(call.axes), cl_kernel,
                                            threads)
    if call.x.dtype == np.bool_:
        out5 = out5.view(np.bool_)
    out = from_ncdhw(out5, nd, call.channels_last, call.batched)
    if return_indices:
        return out, from_ncdhw(idx5, nd, call.channels_last, call.batched)
    return out


def _adaptive_avg(fn, nd, input, output_size, data_format, num_threads):
    plain = _plain(nd, input, output_size, data_format, num_threads)
    if plain is not None:
        xk, cl, _, batched, out_shape, table, threads = plain
        out_k, out = plain_output(out_shape, xk.dtype, cl, nd, data_format, batched)
        _adaptive_kernels.adaptive_avg_pool(_as_5d(xk, nd, cl), _as_5d(out_k, nd, cl), table, cl,
                                            threads)
        return out
    call = validate_adaptive_call(fn, nd, input, output_size, data_format, num_threads)
    return run_adaptive_avg(call, nd)


def run_adaptive_avg(call, nd):
    """Adaptive average pooling of a validated call (used on blocks by ndpool.dask)."""
    call, xk, cl_kernel, out_shape = _kernel_operands(call, nd)
    # NumPy's convention: the mean of integers (and bools) is float64; the kernel reads
    # them in place and sums in float64.
    out_dtype = np.float32 if xk.dtype == np.float32 else np.float64
    out_k, out5 = empty_output(out_shape, out_dtype, cl_kernel)
    if out_k.size:
        threads = stream_threads(call.num_threads, _work(call, out_shape), out_shape[1],
                                 xk.size, cl_kernel, max(out_shape[2:]) == 1)
        _adaptive_kernels.adaptive_avg_pool(xk, out_k, _sizes_array(call.axes), cl_kernel, threads)
    return from_ncdhw(out5, nd, call.channels_last, call.batched)


# ---------------------------------------------------------------------------------------
# Public functions and their docstrings

_OUT_NAMES = {1: "L_out", 2: "(H_out, W_out)", 3: "(D_out, H_out, W_out)"}

_DOC = """\
{nd}-D adaptive {name} pooling, as ``torch.nn.functional.adaptive_{op}_pool{nd}d``.

Output position ``o`` of an axis with ``I`` inputs and ``O`` outputs pools the bin
``[floor(o * I / O), ceil((o + 1) * I / O))``.  Bins may overlap, and ``O`` may exceed ``I``.

Parameters
----------
{input}
output_size : int or tuple of {nd} (int or None)
    Output size {out}: one int for every axis, or one entry per axis, where ``None``
    keeps that axis's input size.  A size of 0 gives an empty output.
{extra}{options}

Returns
-------
{returns}

{raises}
{examples}"""

_MAX_EXTRA = """\
return_indices : bool
    Also return the int64 position of each maximum, flattened within its
    (n, c) plane of the input (``{flat}``).
"""

_AVG_RETURNS = """\
out : ndarray
    float32 for float32 input, float64 otherwise: integer and bool inputs are averaged in
    float64 (NumPy's convention; torch rejects them).  Same memory layout as the input.
    Each bin is summed in scan order (d, h, w), then divided by its size along each axis
    in turn, ``sum / kd / kh / kw``: torch's arithmetic, bit for bit, except where torch
    takes other paths (an output of size 1 on every axis uses ``torch.mean``, and 2-D
    channels-last tensors divide once by ``kh * kw`` in vector lanes), which round
    differently."""


def _doc(op: str, nd: int) -> str:
    if op == "max":
        extra, returns = _MAX_EXTRA.format(flat=FLAT_INDEX[nd]), max_returns("bin")
    else:
        extra, returns = "", _AVG_RETURNS
    name = "max" if op == "max" else "average"
    return _DOC.format(nd=nd, op=op, name=name, input=input_param(nd), out=_OUT_NAMES[nd], extra=extra,
                       options=OPTIONS, returns=returns, raises=RAISES,
                       examples=examples(f"adaptive_{op}_pool{nd}d"))


@overload
def adaptive_max_pool1d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def adaptive_max_pool1d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[True], *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def adaptive_max_pool1d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def adaptive_max_pool1d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices, data_format,
                         num_threads)


@overload
def adaptive_max_pool2d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def adaptive_max_pool2d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[True], *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def adaptive_max_pool2d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def adaptive_max_pool2d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices, data_format,
                         num_threads)


@overload
def adaptive_max_pool3d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[False] = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any]: ...
@overload
def adaptive_max_pool3d(
    input: ArrayLike, output_size: OutputSize, return_indices: Literal[True], *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> tuple[NDArray[Any], NDArray[np.int64]]: ...
@overload
def adaptive_max_pool3d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = ..., *,
    data_format: DataFormat = ..., num_threads: int | None = ...,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]: ...
def adaptive_max_pool3d(
    input: ArrayLike, output_size: OutputSize, return_indices: bool = False, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64]]:
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices, data_format,
                         num_threads)


def adaptive_avg_pool1d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size, data_format, num_threads)


def adaptive_avg_pool2d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size, data_format, num_threads)


def adaptive_avg_pool3d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size, data_format, num_threads)


for _nd, _fn in enumerate((adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d), start=1):
    _fn.__doc__ = _doc("max", _nd)
for _nd, _fn in enumerate((adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d), start=1):
    _fn.__doc__ = _doc("avg", _nd)
del _nd, _fn
