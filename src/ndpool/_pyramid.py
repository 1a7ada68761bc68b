"""Multiscale pyramids: each level pooled from the previous one, for NumPy and Dask arrays."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Literal

from numpy.typing import ArrayLike

from ._args import DATA_FORMATS, int_tuple, pooling_output_size, spatial_shape
from ._typing import DataFormat, Size

_METHODS = ("mean", "max")


def _is_dask_array(array: Any) -> bool:
    # A Dask array exists only once dask.array is imported: NumPy inputs never import Dask.
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(array, module.Array)


def pyramid(
    array: ArrayLike | Any, levels: int, method: Literal["mean", "max"] = "mean",
    factor: Size = 2, *, spatial_dims: int = 2, ceil_mode: bool = False,
    data_format: DataFormat = "channels_first", num_threads: int | None = None,
) -> list[Any]:
    """A multiscale pyramid: ``levels`` arrays, each pooled by ``factor`` from the previous one.

    Level 0 is ``array`` itself; level ``i`` is ``avg_pool`` (``method="mean"``) or
    ``max_pool`` (``method="max"``) of level ``i - 1`` with ``kernel_size = stride =
    factor``, as the image pyramids of OME-Zarr style viewers are built.  A Dask array gives
    lazy Dask levels computed chunk by chunk by :mod:`ndpool.dask` (bit for bit equal to
    the NumPy pyramid); anything else gives NumPy arrays and never imports Dask.

    Parameters
    ----------
    array : array_like or dask.array.Array
        ``(N, C, *spatial)`` or ``(C, *spatial)`` (channels-first), or ``(N, *spatial, C)``
        or ``(*spatial, C)`` with ``data_format="channels_last"``, as for the pooling
        functions; ``spatial_dims`` says how many axes are spatial.  A single-channel image
        ``(H, W)`` is pooled as ``image[None]``.
    levels : int
        Number of levels, at least 1 (level 0 is the input).
    method : {"mean", "max"}
        Average pooling (integer and bool inputs give float64 levels, as in
        :func:`ndpool.avg_pool2d`) or max pooling (keeps the dtype).
    factor : int or tuple of ``spatial_dims`` ints
        Downsampling factor per spatial axis; 1 keeps an axis.
    spatial_dims : {1, 2, 3}
        The number of spatial axes (default 2: images).
    ceil_mode : bool
        False (default, torch's floor rule): a size that ``factor`` does not divide loses its
        last ``size % factor`` cells at that level.  True: those cells form a last, smaller
        window, pooled over the cells it holds (its mean divides by their count).
    data_format : {"channels_first", "channels_last"}
        Where the channel axis is.
    num_threads : int, optional
        Threads per pooling call (per chunk for Dask arrays).

    Returns
    -------
    list
        ``levels`` arrays, NumPy or Dask like ``array``, level 0 first.

    Raises
    ------
    ValueError
        If ``levels`` < 1, ``method`` or ``spatial_dims`` is unknown, or a level would have
        an empty axis (too many levels for the array's size).

    Examples
    --------
    >>> import numpy as np, ndpool
    >>> levels = ndpool.pyramid(np.ones((3, 64, 48), np.float32), 3)
    >>> [level.shape for level in levels]
    [(3, 64, 48), (3, 32, 24), (3, 16, 12)]
    """
    fn = "pyramid"
    count: Any = levels  # checked at run time: the annotation does not bind callers
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{fn}: levels must be an int of at least 1, got {levels!r}")
    if method not in _METHODS:
        raise ValueError(f"{fn}: method must be 'mean' or 'max', got {method!r}")
    if spatial_dims not in (1, 2, 3):
        raise ValueError(f"{fn}: spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{fn}: data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
    factors = int_tuple(fn, "factor", factor, spatial_dims)
    if any(f < 1 for f in factors):
        raise ValueError(f"{fn}: factor must be at least 1, got {factors}")
    # ndpool.dask for Dask arrays, else the in-memory functions.
    pooling = importlib.import_module("ndpool.dask" if _is_dask_array(array) else "ndpool")
    name = f"{'avg' if method == 'mean' else 'max'}_pool{spatial_dims}d"
    pool = getattr(pooling, name)

    shape = getattr(array, "shape", None)
    if shape is not None and len(shape) in (spatial_dims + 1, spatial_dims + 2):
        # Name the level that would be empty before building any of them.
        sizes = spatial_shape(tuple(shape), spatial_dims, data_format == "channels_last")
        for level in range(1, levels):
            sizes = tuple(pooling_output_size(s, f, f, 0, 1, ceil_mode) for s, f in zip(sizes, factors))
            if min(sizes) < 1:
                raise ValueError(f"{fn}: level {level} of a pyramid of spatial shape "
                                 f"{spatial_shape(tuple(shape), spatial_dims, data_format == 'channels_last')} "
                                 f"with factor {factors} would be empty; use at most {level} levels")
    result = [array]
    for _ in range(levels - 1):
        result.append(pool(result[-1], factors, factors, 0, ceil_mode=ceil_mode,
                           data_format=data_format, num_threads=num_threads))
    return result
