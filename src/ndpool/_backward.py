"""Public backward functions: the gradient of each pooling op with respect to its input.

Each takes the gradient of the loss with respect to the forward's output (``grad_output``)
and returns the gradient with respect to the forward's input, with torch's CPU formulas and
accumulation order (docs/semantics.md, Gradients), so results are bit-identical to torch's autograd.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _backward_kernels
from ._args import avg_backward_geometry, avg_options, axes_table, index_range_error, validate_backward
from ._docs import OPTIONS, RAISES, SHAPES, examples
from ._layout import empty_output, from_ncdhw, kernel_input, kernel_layout, to_ncdhw
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


def _work(call, cells_per_output: int) -> int:
    """Cells a call reads or writes, for the serial cut-off of threads_for."""
    return call.grad.size * cells_per_output + int(np.prod(call.input_shape))


def _max_backward(fn, nd, grad_output, indices, input_shape, data_format, num_threads):
    call = validate_backward(fn, nd, grad_output, input_shape, indices, data_format, num_threads,
                             with_indices=True)
    gk, cl_kernel, out_k, out5 = _prepare(call, nd)
    if gk.size:
        idx_k = kernel_layout(to_ncdhw(call.indices, nd, call.channels_last, call.batched), cl_kernel)
        bad = _backward_kernels.max_backward(gk, idx_k, out_k, cl_kernel,
                                             threads_for(call.num_threads, _work(call, 1)))
        if bad:
            raise index_range_error(fn, bad, int(np.prod(call.spatial_in)))
    return from_ncdhw(out5, nd, call.channels_last, call.batched)


def _avg_backward(fn, nd, grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                  count_include_pad, divisor_override, data_format, num_threads):
    count_include_pad, divisor = avg_options(fn, padding, count_include_pad, divisor_override)
    call = validate_backward(fn, nd, grad_output, input_shape, None, data_format, num_threads,
                             with_indices=False)
    axes = avg_backward_geometry(fn, call, kernel_size, stride, padding, ceil_mode)
    gk, cl_kernel, out_k, out5 = _prepare(call, nd)
    if gk.size:
        window = int(np.prod([a.kernel for a in axes]))
        _backward_kernels.avg_backward(gk, out_k, axes_table(axes), count_include_pad, divisor,
                                       cl_kernel, threads_for(call.num_threads, _work(call, window)))
    return from_ncdhw(out5, nd, call.channels_last, call.batched)


def _adaptive_avg_backward(fn, nd, grad_output, input_shape, data_format, num_threads):
    call = validate_backward(fn, nd, grad_output, input_shape, None, data_format, num_threads,
                             with_indices=False)
    gk, cl_kernel, out_k, out5 = _prepare(call, nd)
    if gk.size:
        # A bin spans about ceil(In / Out) cells per axis.
        bin_cells = int(np.prod([-(-i // o) for i, o in zip(call.spatial_in, call.spatial_out)]))
        _backward_kernels.adaptive_avg_backward(gk, out_k, cl_kernel,
                                                threads_for(call.num_threads, _work(call, bin_cells)))
    return from_ncdhw(out5, nd, call.channels_last, call.batched)


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
    grad_output's memory is channels-last, as in torch."""

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
