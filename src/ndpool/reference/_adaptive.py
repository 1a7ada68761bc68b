"""Plain-NumPy adaptive pooling: the test oracle and benchmark baseline for :mod:`ndpool._adaptive`.

Same arguments and errors as ndpool (validation is shared through :mod:`ndpool._args`), but the
bins are gathered independently of the kernels: along each axis, output o pools
``[floor(o*In/Out), ceil((o+1)*In/Out))`` (:func:`ndpool._args.adaptive_bounds`).  Bins of one
axis differ in length, so each is gathered padded to the longest one, with a mask of the taps
that are real bin elements; the taps of all axes are merged into one trailing axis in
row-major scan order (d, then h, then w) and reduced there.  The rules are those of
docs/semantics.md (Adaptive pooling).
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._args import adaptive_bounds, validate_adaptive_call
from .._typing import DataFormat, OutputSize
from ._window import _lowest, _restore_layout

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"]


def _prepare(fn, nd, input, output_size, data_format, num_threads):
    """Validate exactly as ndpool does; return an (N, C, *spatial) view and the axes."""
    call = validate_adaptive_call(fn, nd, input, output_size, data_format, num_threads)
    x = call.x if call.batched else call.x[np.newaxis]
    if call.channels_last:
        x = np.moveaxis(x, -1, 1)
    return x, call.axes, call.channels_last, call.batched


def _axis_bounds(axes):
    """(start, end, size_in) of every axis's bins."""
    return [adaptive_bounds(a.size_in, a.size_out) + (a.size_in,) for a in axes]


def _gather_bins(x, bounds):
    """Every output's bin, for bins ``[start, end)`` along each axis of ``bounds``
    (``(start, end, size_in)`` per axis, from :func:`_axis_bounds` or any other bins inside
    the input), as ``(bins, inside, flat, lengths)``., as ``(bins, inside, flat, lengths)``.

    ``bins`` has shape (N, C, O1, .., Ond, K) with K = k1*..*knd, ki the longest bin of axis i,
    taps in row-major scan order.  Taps past the end of a shorter bin are gathered from a
    clipped position; ``inside`` (shape (O1, .., Ond, K)) marks the real bin elements.  ``flat``
    (same shape) is each tap's flat position in an (n, c) plane (the max-pool index), and
    ``lengths`` holds each axis's bin lengths, shaped to broadcast against (O1, .., Ond).
    """
    nd = len(bounds)
    index, inside, flat, lengths = [], True, 0, []
    for i, (start, end, size_in) in enumerate(bounds):
        k = int((end - start).max())
        pos = start[:, None] + np.arange(k)
        # Output axis i goes to dimension i and tap axis i to dimension nd + i, so that the
        # index arrays broadcast to (O1, .., Ond, k1, .., knd): an outer product of the axes.
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = len(start), k
        index.append(np.minimum(pos, size_in - 1).reshape(shape))
        inside = inside & (pos < end[:, None]).reshape(shape)
        flat = flat * size_in + pos.reshape(shape)  # Horner: (d*H + h)*W + w
        lengths.append((end - start).reshape(shape[:nd]))
    taps = tuple(len(start) for start, _, _ in bounds) + (int(np.prod(inside.shape[nd:])),)
    bins = x[(slice(None), slice(None), *index)].reshape(x.shape[:2] + taps)
    return bins, inside.reshape(taps), flat.reshape(taps), lengths


def _empty(x, axes, dtype):
    return np.empty(x.shape[:2] + tuple(a.size_out for a in axes), dtype=dtype)


def _adaptive_max(fn, nd, input, output_size, return_indices, data_format, num_threads):
    x, axes, channels_last, batched = _prepare(fn, nd, input, output_size, data_format, num_threads)
    if 0 in x.shape[:2] or any(a.size_out == 0 for a in axes):
        out, indices = _empty(x, axes, x.dtype), _empty(x, axes, np.int64)
    else:
        out, indices = bin_max(x, _axis_bounds(axes))
    out = _restore_layout(out, channels_last, batched)
    if return_indices:
        return out, _restore_layout(indices, channels_last, batched)
    return out


def bin_max(x, bounds):
    """Max and flat index of every bin of an (N, C, *spatial) array with non-empty bins;
    ``bounds`` as in :func:`_gather_bins` (ndpool.dask calls this on blocks)."""
    bins, inside, flat = _gather_bins(x, bounds)[:3]
    # torch scans the bin keeping the first strict maximum, except that every NaN replaces
    # the current best: a bin with NaN selects its *last* NaN, otherwise its first max.
    # Taps outside the bin hold the lowest value and are masked out of the equality test,
    # so an all-lowest bin picks its first element (tap 0, always inside).
    filled = np.where(inside, bins, _lowest(x.dtype))
    best = filled.max(axis=-1, keepdims=True)
    tap = np.argmax((filled == best) & inside, axis=-1)
    if x.dtype.kind == "f":
        nan = np.isnan(filled)
        last_nan = nan.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
        tap = np.where(nan.any(axis=-1), last_nan, tap)
    # The value at the chosen tap, not `best`: -0.0 before +0.0 stays -0.0.
    out = np.take_along_axis(bins, tap[..., None], axis=-1)[..., 0]
    flat = np.broadcast_to(flat, bins.shape).astype(np.int64)
    indices = np.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
    return out, indices


def _adaptive_avg(fn, nd, input, output_size, data_format, num_threads):
    x, axes, channels_last, batched = _prepare(fn, nd, input, output_size, data_format, num_threads)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)  # the mean of integers is float64, as in NumPy
    if 0 in x.shape[:2] or any(a.size_out == 0 for a in axes):
        return _restore_layout(_empty(x, axes, x.dtype), channels_last, batched)
    return _restore_layout(bin_mean(x, _axis_bounds(axes)), channels_last, batched)


def bin_mean(x, bounds):
    """Mean of every bin of a float (N, C, *spatial) array with non-empty bins; ``bounds``
    as in :func:`_gather_bins` (ndpool.dask calls this on blocks)."""
    # Sum the bin's elements one by one in scan order, from +0.0 (adding +0.0 for a tap
    # outside the bin changes nothing), then divide by the bin length of each axis in turn.
    bins, inside, _, lengths = _gather_bins(x, bounds)
    terms = np.where(inside, bins, x.dtype.type(0))
    total = np.zeros(terms.shape[:-1], dtype=x.dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in the kernels
        for t in range(terms.shape[-1]):
            total += terms[..., t]
    for length in lengths:
        total = total / length.astype(x.dtype)
    return total


# ---------------------------------------------------------------------------------------------
# Public functions: the signatures of ndpool._adaptive


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
    """Reference for :func:`ndpool.adaptive_max_pool1d` (``num_threads`` is validated and ignored)."""
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
    """Reference for :func:`ndpool.adaptive_max_pool2d` (``num_threads`` is validated and ignored)."""
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
    """Reference for :func:`ndpool.adaptive_max_pool3d` (``num_threads`` is validated and ignored)."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices, data_format,
                         num_threads)


def adaptive_avg_pool1d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool1d` (``num_threads`` is validated and ignored)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size, data_format, num_threads)


def adaptive_avg_pool2d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool2d` (``num_threads`` is validated and ignored)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size, data_format, num_threads)


def adaptive_avg_pool3d(
    input: ArrayLike, output_size: OutputSize, *, data_format: DataFormat = "channels_first",
    num_threads: int | None = None,
) -> NDArray[Any]:
    """Reference for :func:`ndpool.adaptive_avg_pool3d` (``num_threads`` is validated and ignored)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size, data_format, num_threads)
