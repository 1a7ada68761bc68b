"""Plain-NumPy versions of the public pooling functions: the test oracle and benchmark baseline.

They take the same arguments and raise the same errors as :mod:`ndpool` (validation is shared
through :mod:`ndpool._args`), but find their windows independently of the fast code: every
output's window is gathered with fancy indexing into a trailing "tap" axis, in row-major scan
order (d, then h, then w), and reduced there.  Written to be read; speed only matters enough
for property tests on small arrays.  The rules are those of docs/semantics.md.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._args import avg_options, validate_call
from .._typing import DataFormat, Padding, Size

__all__ = ["avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d"]


# ---------------------------------------------------------------------------------------------
# Validation and layout


def _prepare(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, data_format, num_threads):
    """Validate exactly as ndpool does; return an (N, C, *spatial) view and the geometry."""
    call = validate_call(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                         data_format, num_threads)  # num_threads is checked, then unused
    x = call.x if call.batched else call.x[np.newaxis]
    if call.channels_last:
        x = np.moveaxis(x, -1, 1)
    return x, call.axes, call.channels_last, call.batched


def _restore_layout(out, channels_last, batched):
    """Undo _prepare's view changes, so the output has the input's rank and axis order."""
    if channels_last:
        out = np.moveaxis(out, 1, -1)
    if not batched:
        out = out[0]
    return np.ascontiguousarray(out)


# ---------------------------------------------------------------------------------------------
# Window gathering


def _gather_windows(x, axes, dilated):
    """Every output's window, as ``(windows, inside, flat)``.

    ``windows`` has shape (N, C, O1, .., Ond, K) with K = k1*..*knd taps in row-major scan
    order.  Taps that fall in the padding (or past it) are gathered from a clipped position so
    that the indexing is legal; ``inside`` (shape (O1, .., Ond, K)) marks the taps that are real
    input elements, and only those may be used.  ``flat`` (same shape) is each tap's flat
    position in an (n, c) plane of the unpadded input, i.e. the max-pool index.
    """
    nd = len(axes)
    index, inside, flat = [], True, 0
    for i, a in enumerate(axes):
        step = a.dilation if dilated else 1
        pos = (np.arange(a.size_out) * a.stride - a.pad_lo)[:, None] + np.arange(a.kernel) * step
        # Output axis i goes to dimension i and tap axis i to dimension nd + i, so that the
        # index arrays broadcast to (O1, .., Ond, k1, .., knd): an outer product of the axes.
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = a.size_out, a.kernel
        pos = pos.reshape(shape)
        index.append(np.clip(pos, 0, a.size_in - 1))
        inside = inside & (pos >= 0) & (pos < a.size_in)
        flat = flat * a.size_in + pos  # Horner: (d*H + h)*W + w
    # Merging the tap dimensions (k1, .., knd) into one axis keeps row-major scan order.
    # (Every axis contributed its own dimensions, so inside and flat already have full shape.)
    taps = tuple(a.size_out for a in axes) + (int(np.prod([a.kernel for a in axes])),)
    windows = x[(slice(None), slice(None), *index)].reshape(x.shape[:2] + taps)
    return windows, inside.reshape(taps), flat.reshape(taps)


# ---------------------------------------------------------------------------------------------
# Max pooling


def _lowest(dtype):
    """The reduction's starting value, which a padded tap must never beat."""
    if dtype == np.bool_:
        return False
    if dtype.kind == "f":
        return -np.inf
    return np.iinfo(dtype).min


def _max_pool(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              data_format, num_threads):
    x, axes, channels_last, batched = _prepare(
        fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, data_format, num_threads
    )
    windows, inside, flat = _gather_windows(x, axes, dilated=True)

    # torch scans the window keeping the first strict maximum, except that every NaN replaces
    # the current best: so a window with NaN selects its *last* NaN, otherwise its first max.
    # Padded taps are filled with the lowest value so that they never become the maximum, and
    # masked out of the equality test so that an all-lowest window picks its first real element.
    # (Validation guarantees each window has at least one real element.)
    filled = np.where(inside, windows, _lowest(x.dtype))
    best = filled.max(axis=-1, keepdims=True)
    tap = np.argmax((filled == best) & inside, axis=-1)
    if x.dtype.kind == "f":
        nan = np.isnan(filled)  # padded taps hold -inf, never NaN
        last_nan = nan.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
        tap = np.where(nan.any(axis=-1), last_nan, tap)

    # Take the value at the chosen tap rather than `best`, so that -0.0 before +0.0 stays -0.0.
    out = np.take_along_axis(windows, tap[..., None], axis=-1)[..., 0]
    out = _restore_layout(out, channels_last, batched)
    if not return_indices:
        return out
    flat = np.broadcast_to(flat, windows.shape).astype(np.int64)
    indices = np.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
    return out, _restore_layout(indices, channels_last, batched)


# ---------------------------------------------------------------------------------------------
# Average pooling


def _divisors(axes, count_include_pad, divisor_override):
    """Per-output divisor, shape (O1, .., Ond), as docs/semantics.md defines it."""
    divisor = np.ones((), dtype=np.int64)
    for a in axes:
        start = np.arange(a.size_out) * a.stride - a.pad_lo
        # The window stops at the end of the right padding, even when k would reach further;
        # cells past that never count, even with count_include_pad.
        end = np.minimum(start + a.kernel, a.size_in + a.pad_hi)
        if count_include_pad:
            size = end - start
        else:
            size = np.minimum(end, a.size_in) - np.maximum(start, 0)
        divisor = np.multiply.outer(divisor, size)
    if divisor_override:
        divisor = np.full_like(divisor, divisor_override)
    return divisor


def _avg_pool(fn, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, data_format, num_threads):
    count_include_pad, divisor_override = avg_options(fn, padding, count_include_pad, divisor_override)
    x, axes, channels_last, batched = _prepare(
        fn, nd, input, kernel_size, stride, padding, 1, ceil_mode, data_format, num_threads
    )
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)  # the mean of integers is float64, as in NumPy

    # Taps beyond the input hold clipped duplicates; zero them.  Within the input the taps of
    # an undilated window run exactly from max(start, 0) to min(end, size_in), so the sum is
    # over the clamped window.  Adding the taps one by one in scan order is the order torch
    # uses (adding +0.0 for a padded tap leaves the sum unchanged), then one true division.
    windows, inside, _ = _gather_windows(x, axes, dilated=False)
    terms = np.where(inside, windows, x.dtype.type(0))
    total = np.zeros(terms.shape[:-1], dtype=x.dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in the kernels
        for t in range(terms.shape[-1]):
            total += terms[..., t]
    out = total / _divisors(axes, count_include_pad, divisor_override).astype(x.dtype)
    return _restore_layout(out, channels_last, batched)


# ---------------------------------------------------------------------------------------------
# Public functions: the signatures of ndpool._pooling


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
    """Reference for :func:`ndpool.max_pool1d` (``num_threads`` is validated and ignored)."""
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
    """Reference for :func:`ndpool.max_pool2d` (``num_threads`` is validated and ignored)."""
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
    """Reference for :func:`ndpool.max_pool3d` (``num_threads`` is validated and ignored)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


def avg_pool1d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool1d` (``num_threads`` is validated and ignored)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, data_format, num_threads)


def avg_pool2d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool2d` (``num_threads`` is validated and ignored)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, data_format, num_threads)


def avg_pool3d(
    input: ArrayLike, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None, *,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.avg_pool3d` (``num_threads`` is validated and ignored)."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, data_format, num_threads)
