"""Memory layouts: how an array of any strides reaches a kernel, and how outputs come back.

Internally every op works on a logical ``(N, C, D, H, W)`` view.  A kernel reads it either
channels-first (unit-stride W) or channels-last (unit-stride C, torch's channels_last
memory format), whichever the memory already is; only arrays that neither kernel can read
in place are copied.  The output is allocated in the memory order of the kernel that ran,
so a channels-last input gives a channels-last output, as in torch.  Outputs of a MiB or
more live on recycled memory (``_buffer_pool``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._buffer_pool import empty


def to_ncdhw(x: np.ndarray, nd: int, channels_last: bool, batched: bool) -> np.ndarray:
    """A 5-D ``(N, C, D, H, W)`` view of an ``nd``-spatial input (no copy)."""
    if not batched:
        x = x[np.newaxis]
    if channels_last:
        x = np.moveaxis(x, -1, 1)
    return x[(slice(None), slice(None)) + (np.newaxis,) * (3 - nd)]


def from_ncdhw(y: np.ndarray, nd: int, channels_last: bool, batched: bool) -> np.ndarray:
    """Undo :func:`to_ncdhw` on an output (no copy)."""
    y = y[(slice(None), slice(None)) + (0,) * (3 - nd)]
    if channels_last:
        y = np.moveaxis(y, 1, -1)
    return y if batched else y[0]


def _unit(x: np.ndarray, axis: int) -> bool:
    return x.shape[axis] == 1 or x.strides[axis] == x.itemsize


def _fix_size1_stride(x: np.ndarray) -> np.ndarray:
    """Give a size-1 last axis a unit stride (NumPy leaves its stride arbitrary)."""
    if x.shape[-1] == 1 and x.strides[-1] != x.itemsize:
        x = as_strided(x, strides=x.strides[:-1] + (x.itemsize,), writeable=False)
    return x


def copy_to_layout(x5: np.ndarray, channels_last: bool) -> np.ndarray:
    """The only place an input is copied: into C-contiguous memory of the given layout."""
    order = (0, 2, 3, 4, 1) if channels_last else (0, 1, 2, 3, 4)
    return np.ascontiguousarray(x5.transpose(order)).transpose(np.argsort(order))


def kernel_input(x5: np.ndarray, prefer_channels_last: bool) -> tuple[np.ndarray, bool]:
    """Pick the kernel for ``x5`` and return (array in that kernel's axis order, channels_last).

    Channels-first reads unit-stride W in place, channels-last reads unit-stride C in
    place; anything else (strided or reversed inner axes) is copied into the layout that
    matches the user's data_format.
    """
    w_unit, c_unit = _unit(x5, 4), _unit(x5, 1)
    if w_unit and c_unit and x5.shape[2] * x5.shape[3] * x5.shape[4] == 1:
        # One cell per plane (a global pool's gradient): both kernels read the same memory,
        # so the caller's data_format picks, and the result keeps its layout.
        channels_last = prefer_channels_last
    elif w_unit and (x5.shape[4] > 1 or not c_unit):
        channels_last = False
    elif c_unit:
        channels_last = True
    else:
        channels_last = prefer_channels_last
        x5 = copy_to_layout(x5, channels_last)
    if channels_last:
        return _fix_size1_stride(x5.transpose(0, 2, 3, 4, 1)), True
    return _fix_size1_stride(x5), False


def empty_output(shape5: tuple[int, ...], dtype, channels_last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Allocate an output; returns (C-contiguous array in kernel axis order, logical 5-D view)."""
    if channels_last:
        n, c, d, h, w = shape5
        buf = empty((n, d, h, w, c), dtype)
        return buf, buf.transpose(0, 4, 1, 2, 3)
    buf = empty(shape5, dtype)
    return buf, buf


def kernel_layout(x5: np.ndarray, channels_last: bool) -> np.ndarray:
    """``x5`` in the axis order of the given kernel, read in place when that kernel can (its
    innermost axis has unit stride) and copied into the kernel's layout otherwise.  For a
    second array (indices) that must follow the kernel :func:`kernel_input` chose."""
    if not _unit(x5, 1 if channels_last else 4):
        x5 = copy_to_layout(x5, channels_last)
    return _fix_size1_stride(x5.transpose(0, 2, 3, 4, 1) if channels_last else x5)


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
# Kernel axis orders (N, D, H, W, C) of channels-first axes (N, C, *spatial), and back.
_TO_CL = {1: (0, 2, 1), 2: (0, 2, 3, 1), 3: (0, 2, 3, 4, 1)}
_FROM_CL = {1: (0, 2, 1), 2: (0, 3, 1, 2), 3: (0, 4, 1, 2, 3)}


def plain_input(x, nd: int, data_format, num_threads
                ) -> tuple[np.ndarray, bool, tuple[int, ...], bool] | None:
    """The common input in a few steps, for the short paths of the public functions.

    A batched or unbatched native float32/float64 ndarray without empty axes, whose
    memory a kernel reads in place with no doubt about the choice: C-contiguous (last
    axis longer than 1) for either data_format, or torch's channels_last memory (more
    than one channel) for "channels_first"; num_threads None or a positive int.  Returns
    (array in kernel axis order, channels_last kernel, logical (N, C, *spatial) shape,
    batched), or None for every other input, which the general path then checks with
    its errors.  kernel_input picks the same kernel for such an input, so outputs get
    the general path's bytes, shape and strides (plain_output).
    """
    if (type(x) is not np.ndarray or (x.dtype is not _F32 and x.dtype is not _F64)
            or data_format.__class__ is not str):
        return None
    if num_threads is not None and (type(num_threads) is not int or num_threads < 1):
        return None
    batched = x.ndim == nd + 2
    if not batched:
        if x.ndim != nd + 1:
            return None
        x = x[np.newaxis]
    shape = x.shape
    if 0 in shape or shape[-1] < 2:
        return None
    if data_format == "channels_last":
        if not x.flags.c_contiguous:
            return None
        return x, True, shape[:1] + shape[-1:] + shape[1:-1], batched
    if data_format != "channels_first":
        return None
    if x.flags.c_contiguous:
        return x, False, shape, batched
    if shape[1] < 2:
        return None
    xk = x.transpose(_TO_CL[nd])
    if not xk.flags.c_contiguous:
        return None
    return xk, True, shape, batched


def plain_output(out_shape: tuple[int, ...], dtype, channels_last: bool, nd: int,
                 data_format: str, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    """(output in kernel axis order, the output the user gets) for a plain_input call with
    logical (N, C, *spatial_out) shape out_shape: empty_output's memory, from_ncdhw's view."""
    if channels_last:
        buf = empty(out_shape[:1] + out_shape[2:] + out_shape[1:2], dtype)
        user = buf if data_format == "channels_last" else buf.transpose(_FROM_CL[nd])
    else:
        user = buf = empty(out_shape, dtype)
    return buf, user if batched else user[0]
