"""Public backward functions: the gradient of each pooling op with respect to its input.

Each takes the gradient of the loss with respect to the forward's output (``grad_output``)
and returns the gradient with respect to the forward's input, with torch's CPU formulas and
accumulation order (docs/semantics.md, Gradients), so results are bit-identical to torch's autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._simd import _backward_kernels
from ._args import (avg_backward_geometry, avg_options, axes_table, index_range_error,
                    validate_backward)
from ._docs import OPTIONS, RAISES, SHAPES, examples
from ._layout import empty, empty_output, from_ncdhw, kernel_input, kernel_layout, to_ncdhw
from ._threading import threads_for
from ._typing import DataFormat, Padding, Size


def _prepare(call, nd: int):
    """grad in kernel axis order, the kernel's layout, and the result (kernel order, 5-D view)."""
    g5 = to_ncdhw(call.grad, nd, call.channels_last, call.batched)
    gk, cl_kernel = kernel_input(g5, call.channels_last)
    # The 5-D shape through the same view as the arrays (a zero-strided stand-in, no memory).
    shape5 = to_ncdhw(np.broadcast_to(np.empty((), g5.dtype), call.input_shape), nd,
                      call.channels_last, call.batched).shape
    out_k, out5 = empty_output(shape5, g5.dtype, cl_kernel)
    if gk.size == 0:
        out_k.fill(0)  # nothing flows back: an empty batch, or an adaptive output size of 0
    return gk, cl_kernel, out_k, out5


# NumPy's own native dtype instances (what np.float32 etc. give): an identity test is the
# cheapest check, and any other instance (byte-swapped, with metadata) takes the general path.
_F32, _F64, _INT64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
_MAX_CELLS = np.iinfo(np.intp).max // 8  # as _args.check_input_shape


class _PlainCall:
    """The parts of a BackwardCall that the functions below read, for the common call (a
    frozen dataclass costs microseconds to build)."""

    __slots__ = ("grad", "indices", "input_shape", "spatial_in", "spatial_out", "batched",
                 "channels_last", "num_threads")

    def __init__(self, grad, indices, input_shape, spatial_in, channels_last, num_threads):
        self.grad = grad
        self.indices = indices
        self.input_shape = input_shape
        self.spatial_in = spatial_in
        self.spatial_out = grad.shape[1:-1] if channels_last else grad.shape[2:]
        self.batched = True
        self.channels_last = channels_last
        self.num_threads = num_threads


def _plain(nd, grad_output, indices, input_shape, data_format, num_threads, with_indices):
    """The common call, checked in a few steps: batched C-contiguous native float32/float64
    arrays (int64 indices) of either layout with more than one element on the last axis
    (or, channels-first, planes of one cell), input_shape a tuple of positive ints,
    num_threads None or a positive int.  Returns what
    the general path (validate_backward, then _prepare) would, as (call, grad, indices,
    result for the kernel, result), the arrays as they are (the kernels read 3-D and 4-D
    ones as 5-D), or None for any other call, which the general path
    then checks, with its errors.  Small inputs are where these steps matter: the general
    path costs tens of microseconds."""
    g = grad_output
    if (type(g) is not np.ndarray or type(input_shape) is not tuple
            or g.ndim != nd + 2 or len(input_shape) != nd + 2
            or (g.dtype is not _F32 and g.dtype is not _F64) or not g.flags.c_contiguous or g.size == 0):
        return None
    # An exact positive int is what check_num_threads returns unchanged.
    if num_threads is not None and (type(num_threads) is not int or num_threads < 1):
        return None
    if data_format == "channels_first":
        channels_last = False
        # A last axis of 1 leaves the layout in doubt, unless every plane is one cell (a
        # global pool's gradient), where kernel_input follows data_format too.
        if g.shape[-1] < 2 and math.prod(g.shape[2:]) != 1:
            return None
    elif data_format == "channels_last":
        channels_last = True
        if g.shape[-1] < 2:
            return None
    else:
        return None
    shape = input_shape
    for v in shape:
        if type(v) is not int or v <= 0:
            return None
    channel = -1 if channels_last else 1
    if shape[0] != g.shape[0] or shape[channel] != g.shape[channel] or math.prod(shape) > _MAX_CELLS:
        return None
    idx = None
    if with_indices:
        idx = indices
        if (type(idx) is not np.ndarray or idx.dtype is not _INT64 or idx.shape != g.shape
                or not idx.flags.c_contiguous):
            return None
    # C-contiguous with a last axis longer than 1, or planes of one cell: kernel_input picks
    # the kernel of the data format, and the result is C-contiguous in the same layout.
    # The kernels read these 3-D and 4-D arrays as 5-D themselves (no reshaped views).
    spatial = shape[1:-1] if channels_last else shape[2:]
    call = _PlainCall(g, idx, shape, spatial, channels_last, num_threads)
    result = empty(shape, g.dtype)
    return call, g, idx, result, result


def _validated(fn, nd, grad_output, indices, input_shape, data_format, num_threads, with_indices):
    """(call, grad in kernel order, indices in its layout or None, channels_last kernel,
    result in kernel order, result); the result is uninitialised where grad is not empty."""
    plain = _plain(nd, grad_output, indices, input_shape, data_format, num_threads, with_indices)
    if plain is not None:
        call, gk, idx_k, out_k, result = plain
        return call, gk, idx_k, call.channels_last, out_k, result
    call = validate_backward(fn, nd, grad_output, input_shape, indices, data_format, num_threads,
                             with_indices=with_indices)
    gk, cl_kernel, out_k, out5 = _prepare(call, nd)
    idx_k = None
    if with_indices and gk.size:
        idx_k = kernel_layout(to_ncdhw(call.indices, nd, call.channels_last, call.batched), cl_kernel)
    return call, gk, idx_k, cl_kernel, out_k, from_ncdhw(out5, nd, call.channels_last, call.batched)


def _work(call, cells_per_output: int) -> int:
    """Cells a call reads or writes, for the serial cut-off of threads_for."""
    return call.grad.size * cells_per_output + math.prod(call.input_shape)


def _max_backward(fn, nd, grad_output, indices, input_shape, data_format, num_threads):
    call, gk, idx_k, cl_kernel, out_k, result = _validated(
        fn, nd, grad_output, indices, input_shape, data_format, num_threads, with_indices=True)
    if gk.size:
        bad = _backward_kernels.max_backward(gk, idx_k, out_k, cl_kernel,
                                             threads_for(call.num_threads, _work(call, 1)))
        if bad:
            raise index_range_error(fn, bad, math.prod(call.spatial_in))
    return result


def _exact_ints(value) -> bool:
    """An int, or a tuple of ints, of exactly those types (bool is not an int here)."""
    if type(value) is int:
        return True
    return type(value) is tuple and all(type(v) is int for v in value)


@lru_cache(maxsize=256)
def _geometry(fn, call, kernel_size, stride, padding, ceil_mode):
    """avg_backward_geometry and what the kernel needs of it, for hashable arguments whose
    equality means the same checks and results (see _cacheable).  Failing checks raise,
    and lru_cache keeps no result for them."""
    axes = avg_backward_geometry(fn, call, kernel_size, stride, padding, ceil_mode)
    return axes_table(axes), math.prod(a.kernel for a in axes)


class _Shapes(tuple):
    """(input_shape, spatial_in, spatial_out) as the call that _geometry's checks read: a
    hashable stand-in for the whole call."""

    input_shape = property(lambda self: self[0])
    spatial_in = property(lambda self: self[1])
    spatial_out = property(lambda self: self[2])


def _cacheable(stride, padding, ceil_mode, kernel_size) -> bool:
    return (_exact_ints(kernel_size) and (stride is None or _exact_ints(stride))
            and (type(padding) is str or _exact_ints(padding)) and type(ceil_mode) is bool)


def _avg_backward(fn, nd, grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, num_threads):
    count_include_pad, divisor = avg_options(fn, padding, count_include_pad, divisor_override)
    plain = _plain(nd, grad_output, None, input_shape, data_format, num_threads, False)
    if plain is not None:
        call, gk, _, out_k, result = plain
        cl_kernel = call.channels_last
    else:
        call = validate_backward(fn, nd, grad_output, input_shape, None, data_format, num_threads,
                                 with_indices=False)
    # The geometry checks come after the argument checks, as in validate_backward's order.
    if _cacheable(stride, padding, ceil_mode, kernel_size):
        shapes = _Shapes((call.input_shape, tuple(call.spatial_in), tuple(call.spatial_out)))
        table, window = _geometry(fn, shapes, kernel_size, stride, padding, ceil_mode)
    else:
        axes = avg_backward_geometry(fn, call, kernel_size, stride, padding, ceil_mode)
        table, window = axes_table(axes), math.prod(a.kernel for a in axes)
    if plain is None:
        gk, cl_kernel, out_k, out5 = _prepare(call, nd)
        result = from_ncdhw(out5, nd, call.channels_last, call.batched)
    if gk.size:
        _backward_kernels.avg_backward(gk, out_k, table, count_include_pad, divisor,
                                       cl_kernel, threads_for(call.num_threads, _work(call, window)))
    return result


def _adaptive_avg_backward(fn, nd, grad_output, input_shape, data_format, num_threads):
    call, gk, _, cl_kernel, out_k, result = _validated(
        fn, nd, grad_output, None, input_shape, data_format, num_threads, with_indices=False)
    if gk.size:
        # A bin spans about ceil(In / Out) cells per axis.
        bin_cells = math.prod(-(-i // o) for i, o in zip(call.spatial_in, call.spatial_out))
        _backward_kernels.adaptive_avg_backward(gk, out_k, cl_kernel,
                                                threads_for(call.num_threads, _work(call, bin_cells)))
    return result


# ---------------------------------------------------------------------------------------
# Docstrings

_GRAD = """\
grad_output : array_like
    Gradient of the loss with respect to the forward's output, float32 or float64:
    {cf} with ``data_format="channels_first"`` (the default),
    {cl} with ``data_format="channels_last"``.
    Any strides (channels-last memory is read in place); never modified."""

_INDICES = """\
indices : array_like of int64
    The forward's indices (``return_indices=True``), with grad_output's shape: flat
    positions within each (n, c) plane of the input."""

_INPUT_SHAPE = """\
input_shape : tuple or list of ints
    Shape of the forward's input, in the same layout and rank as grad_output."""

_WINDOW = """\
kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    The forward's arguments, with the same meaning and checks as in
    :func:`ndpool.avg_pool{nd}d` (``padding`` may be ``"same"`` or ``"valid"``)."""

_RETURNS = """\
Returns
-------
grad_input : ndarray
    Of shape ``input_shape`` and grad_output's dtype.  Channels-last memory when
    grad_output's memory is channels-last, as in torch; a gradient that fits both layouts
    (one value per plane, after global pooling) gives ``data_format``'s."""

# What each op computes (docs/semantics.md, Gradients), and how close it is to torch.
_RULES = {
    "max": """\
torch's input gradient, bit for bit: the result starts at zero and ``grad_output`` is
added at ``indices`` in output order (row-major within each (n, c) plane), so outputs
that share an argmax add up in that order.""",
    "avg": """\
torch's input gradient, bit for bit: the result starts at zero and each output, in
row-major order, adds ``grad_output / divisor`` (one division by the forward's divisor)
to every input cell of its window.""",
    "adaptive_avg": """\
The result starts at zero and each output, in row-major order, adds
``grad_output / kd / kh / kw`` (successive divisions by its bin's sizes) to every input
cell of its bin: torch's formula for contiguous and 3-D input, bit for bit.  Where torch
divides once, results agree to rounding: an output of all ones in 2-D and 3-D (torch
takes a mean there) and the vector lanes of torch's 2-D channels-last kernel.""",
}


def _doc(op: str, nd: int, params: list[str]) -> str:
    cf, cl = SHAPES[nd]
    with_indices = op.endswith("max")
    return (
        f"Gradient of :func:`ndpool.{op}_pool{nd}d` with respect to its input.\n\n"
        f"{_RULES['max' if with_indices else op]}\n\n"
        "Parameters\n----------\n"
        + "\n".join(p.format(cf=cf, cl=cl, nd=nd) for p in params)
        + "\n"
        + f"{OPTIONS}\n\n{_RETURNS}\n\n{RAISES}"
        + ("\n    Indices outside the input plane raise ValueError." if with_indices else "")
        + "\n"
        + examples(f"{op}_pool{nd}d_backward")
    )


# ---------------------------------------------------------------------------------------
# Public functions


def max_pool1d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("max_pool1d_backward", 1, grad_output, indices, input_shape, data_format,
                         num_threads)


def max_pool2d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("max_pool2d_backward", 2, grad_output, indices, input_shape, data_format,
                         num_threads)


def max_pool3d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("max_pool3d_backward", 3, grad_output, indices, input_shape, data_format,
                         num_threads)


def adaptive_max_pool1d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("adaptive_max_pool1d_backward", 1, grad_output, indices, input_shape,
                         data_format, num_threads)


def adaptive_max_pool2d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("adaptive_max_pool2d_backward", 2, grad_output, indices, input_shape,
                         data_format, num_threads)


def adaptive_max_pool3d_backward(
    grad_output: ArrayLike, indices: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _max_backward("adaptive_max_pool3d_backward", 3, grad_output, indices, input_shape,
                         data_format, num_threads)


def avg_pool1d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_backward("avg_pool1d_backward", 1, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def avg_pool2d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_backward("avg_pool2d_backward", 2, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def avg_pool3d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], kernel_size: Size,
    stride: Size | None = None, padding: Padding = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _avg_backward("avg_pool3d_backward", 3, grad_output, input_shape, kernel_size, stride,
                         padding, ceil_mode, count_include_pad, divisor_override, data_format,
                         num_threads)


def adaptive_avg_pool1d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg_backward("adaptive_avg_pool1d_backward", 1, grad_output, input_shape,
                                  data_format, num_threads)


def adaptive_avg_pool2d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg_backward("adaptive_avg_pool2d_backward", 2, grad_output, input_shape,
                                  data_format, num_threads)


def adaptive_avg_pool3d_backward(
    grad_output: ArrayLike, input_shape: Sequence[int], *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    return _adaptive_avg_backward("adaptive_avg_pool3d_backward", 3, grad_output, input_shape,
                                  data_format, num_threads)


for _nd in (1, 2, 3):
    for _op, _params in (("max", [_GRAD, _INDICES, _INPUT_SHAPE]),
                         ("adaptive_max", [_GRAD, _INDICES, _INPUT_SHAPE]),
                         ("avg", [_GRAD, _INPUT_SHAPE, _WINDOW]),
                         ("adaptive_avg", [_GRAD, _INPUT_SHAPE])):
        globals()[f"{_op}_pool{_nd}d_backward"].__doc__ = _doc(_op, _nd, _params)
del _nd, _op, _params
