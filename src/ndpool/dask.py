"""Pooling of Dask arrays, chunk by chunk, with exactly the results of the in-memory functions.

``ndpool.dask.max_pool2d(x, 3, 2, 1)`` takes the arguments of :func:`ndpool.max_pool2d` and
returns a lazy ``dask.array.Array`` (a pair of them with ``return_indices=True``) whose
computed value is bit for bit what ``ndpool.max_pool2d(x.compute(), 3, 2, 1)`` returns, for
any chunking of the input.

How: along every spatial axis, every output belongs to the input chunk where its window
(or adaptive bin) ends, so output chunks follow input chunks.  The outputs of one output
chunk read a known input range (their windows or bins, from the same geometry as the
in-memory call, :mod:`ndpool._args`): their own chunk and a halo from the chunks before it.
One task per output chunk assembles that range and runs ndpool's kernel on it, with the
window geometry shifted to the block: uneven padding that reproduces the global padding at
the array's edges and none inside, so that positions, divisors and ceil-mode windows are
those of the whole array.  Max-pooling indices are translated from the block's plane to the
whole plane.  Batch and channel axes keep their chunks.  Halos are copied out of their
chunks by small tasks, ordered so that each chunk is freed once its own block is done: a
few chunks are in memory at a time, whatever the array's size.

Adaptive bins are irregular; a run of bins starting at an output ``o`` with ``o * I / O``
an integer (and ending at one) is itself an adaptive pooling of its input range, which the
kernel computes.  Output chunk boundaries are snapped to such outputs where they are closer
together than the chunks; other blocks run the kernel per bin (large bins) or
ndpool.reference's bin reduction (small bins), which has the kernels' arithmetic (it is the
oracle the kernels are tested against).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Any, cast

import numpy as np

try:
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
except ImportError as exc:  # dask missing, or blocked with sys.modules["dask"] = None
    raise ImportError(
        "ndpool.dask needs Dask, which could not be imported; install it with "
        "`pip install 'dask[array]'` (or ndpool's extra: `pip install 'ndpool[dask]'`); "
        "the rest of ndpool works without it"
    ) from exc

from ._adaptive import run_adaptive_avg, run_adaptive_max
from ._args import (AdaptiveAxis, Axis, Call, avg_options, check_running_sums,
                    validate_adaptive_call, validate_call)
from ._pooling import run_avg_pool, run_max_pool
from ._typing import DataFormat, OutputSize, Padding, Size
from .reference._adaptive import bin_max, bin_mean

__all__ = [
    f"{op}{nd}d" for op in ("max_pool", "avg_pool", "adaptive_max_pool", "adaptive_avg_pool")
    for nd in (1, 2, 3)
]


# ---------------------------------------------------------------------------------------
# Where each output chunk reads: one list of blocks per spatial axis


@dataclass(frozen=True)
class _Block:
    """Outputs [o0, o1) of one spatial axis read inputs [lo, hi) of it.  ``local`` is the
    geometry of the kernel call on that range (None: adaptive bins that are not one adaptive
    pooling of the range, see _unaligned_adaptive)."""

    o0: int
    o1: int
    lo: int
    hi: int
    local: Axis | AdaptiveAxis | None


def _window_blocks(a: Axis, chunks: tuple[int, ...]) -> list[_Block]:
    starts = np.cumsum((0,) + chunks[:-1])[1:]
    span = (a.kernel - 1) * a.dilation + 1
    # Output o belongs to the input chunk where its window ends: a block reads its own chunk
    # and a halo from the chunks before it, which the scheduler has already loaded (see _pool).
    cuts = sorted({0, a.size_out} | {min(max((int(b) + a.pad_lo - span) // a.stride + 1, 0), a.size_out)
                                     for b in starts})
    blocks = []
    for o0, o1 in zip(cuts, cuts[1:]):
        first = o0 * a.stride - a.pad_lo  # where the block's first window starts
        lo = max(first, 0)
        hi = min((o1 - 1) * a.stride - a.pad_lo + span, a.size_in)
        # Window o0 starts at first - lo <= 0 in the block; the right end of the padding
        # stays where it is (it bounds count_include_pad divisors and ceil-mode windows).
        local = Axis(hi - lo, o1 - o0, a.kernel, a.stride, a.dilation, lo - first,
                     a.size_in + a.pad_hi - hi)
        blocks.append(_Block(o0, o1, lo, hi, local))
    return blocks


def _adaptive_blocks(a: AdaptiveAxis, chunks: tuple[int, ...]) -> list[_Block]:
    size_in, size_out = a.size_in, a.size_out
    starts = np.cumsum((0,) + chunks[:-1])[1:]
    # Outputs o with o * I / O an integer, every `period` outputs, start aligned runs of bins.
    period = size_out // math.gcd(size_in, size_out)
    snap = period <= size_out / len(chunks)
    cuts = {0, size_out}
    for b in starts:
        o = int(b) * size_out // size_in  # bins [0, o) end at or before b (as in _window_blocks)
        if snap:
            o = o // period * period
        cuts.add(min(o, size_out))
    blocks = []
    for o0, o1 in zip(sorted(cuts), sorted(cuts)[1:]):
        lo = o0 * size_in // size_out
        hi = -(-o1 * size_in // size_out)
        aligned = (o0 * size_in) % size_out == 0 and (o1 * size_in) % size_out == 0
        blocks.append(_Block(o0, o1, lo, hi, AdaptiveAxis(hi - lo, o1 - o0) if aligned else None))
    return blocks


# ---------------------------------------------------------------------------------------
# What one task does


@dataclass(frozen=True)
class _Op:
    """One pooling call's options, the same for every block (pickled into each task)."""

    kind: str  # "max", "avg", "adaptive_max" or "adaptive_avg"
    nd: int
    batched: bool
    channels_last: bool
    num_threads: int | None
    return_indices: bool = False
    count_include_pad: bool = True
    divisor: int = 0
    running_sums: bool = False
    spatial_in: tuple[int, ...] = ()
    sizes_out: tuple[int, ...] = ()  # adaptive output sizes


def _assemble(parts: list[np.ndarray], sels: list[tuple[slice, ...]], grid: tuple[int, ...]) -> np.ndarray:
    """One block from the input parts it overlaps (row-major over ``grid``), each cut by its
    selection: a view when there is one part, else one copy of the parts into place."""
    leaves = {pos: np.asarray(p)[sel]
              for pos, p, sel in zip(product(*(range(n) for n in grid)), parts, sels)}
    first = leaves[(0,) * len(grid)]
    if len(leaves) == 1:
        return first
    # The extent of every part along every axis, read off the parts on that axis's edge.
    offsets = [np.cumsum([0] + [leaves[tuple(j if a == ax else 0 for a in range(len(grid)))].shape[ax]
                                for j in range(n)]) for ax, n in enumerate(grid)]
    block = np.empty(tuple(int(o[-1]) for o in offsets), dtype=first.dtype)
    for pos, leaf in leaves.items():
        block[tuple(slice(int(o[j]), int(o[j + 1])) for o, j in zip(offsets, pos))] = leaf
    return block


def _copy_part(chunk: np.ndarray, sel: tuple[slice, ...], after: Any = None) -> np.ndarray:
    # A copy, not a view: the chunk it came from can be freed.  `after` orders it (see _pool).
    return np.array(np.asarray(chunk)[sel], copy=True)


def _global_indices(idx: np.ndarray, local: tuple[int, ...], offsets: tuple[int, ...],
                    spatial_in: tuple[int, ...]) -> np.ndarray:
    """Flat indices within a block's plane (spatial shape ``local``, at ``offsets`` in the
    whole plane), as flat indices within the whole plane."""
    if len(local) == 1:
        return idx + offsets[0]
    coords = np.unravel_index(idx, local)
    return np.ravel_multi_index(tuple(c + o for c, o in zip(coords, offsets)), spatial_in).astype(np.int64)


def _to_nc_first(x: np.ndarray, op: _Op) -> np.ndarray:
    x = x if op.batched else x[np.newaxis]
    return np.moveaxis(x, -1, 1) if op.channels_last else x


def _from_nc_first(y: np.ndarray, op: _Op) -> np.ndarray:
    y = np.moveaxis(y, 1, -1) if op.channels_last else y
    return y if op.batched else y[0]


def _bins(b: _Block, size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Global [start, end) of the adaptive bins of a block's outputs."""
    o = np.arange(b.o0, b.o1, dtype=np.int64)
    return o * size_in // size_out, ((o + 1) * size_in + size_out - 1) // size_out


def _kernel_runs(b: _Block, size_in: int, size_out: int) -> list[tuple[int, int]]:
    """A block's outputs as runs [p0, p1) that are each an adaptive pooling of their input
    range: a single bin, or bins between outputs p with p * I / O an integer."""
    if b.local is not None:
        return [(b.o0, b.o1)]
    period = size_out // math.gcd(size_in, size_out)
    a0, a1 = -(-b.o0 // period) * period, b.o1 // period * period
    if a0 >= a1:
        return [(o, o + 1) for o in range(b.o0, b.o1)]
    return ([(o, o + 1) for o in range(b.o0, a0)] + [(a0, a1)]
            + [(o, o + 1) for o in range(a1, b.o1)])


def _unaligned_adaptive(x: np.ndarray, blocks: Sequence[_Block], op: _Op) -> Any:
    """Adaptive pooling of a block whose bins are not one adaptive pooling of its range.

    Few large bins: the kernel on each run of bins that is (:func:`_kernel_runs`), written
    into the block's output.  Many small bins: ndpool.reference's vectorised reduction, which
    has the kernels' arithmetic and tie rules (it is the oracle they are tested against) and
    loops once per element of the largest bin.
    """
    runs = [_kernel_runs(b, i, o) for b, i, o in zip(blocks, op.spatial_in, op.sizes_out)]
    bins = [_bins(b, i, o) for b, i, o in zip(blocks, op.spatial_in, op.sizes_out)]
    taps = math.prod(int((end - start).max()) for start, end in bins)
    if math.prod(len(r) for r in runs) <= taps:
        return _kernel_on_runs(x, blocks, runs, op)
    bounds = [(start - b.lo, end - b.lo, b.hi - b.lo) for b, (start, end) in zip(blocks, bins)]
    xf = _to_nc_first(x, op)
    if op.kind == "adaptive_avg":
        if xf.dtype.kind in "biu":
            xf = xf.astype(np.float64)
        return _from_nc_first(bin_mean(xf, bounds), op)
    out, idx = bin_max(xf, bounds)
    out, idx = _from_nc_first(out, op), _from_nc_first(idx, op)
    local = tuple(b.hi - b.lo for b in blocks)
    return (out, _global_indices(idx, local, tuple(b.lo for b in blocks), op.spatial_in)) \
        if op.return_indices else out


def _kernel_on_runs(x: np.ndarray, blocks: Sequence[_Block], runs: list[list[tuple[int, int]]],
                    op: _Op) -> Any:
    nd = op.nd
    first = x.ndim - nd - 1 if op.channels_last else x.ndim - nd  # first spatial axis
    out_shape = list(x.shape)
    for k, b in enumerate(blocks):
        out_shape[first + k] = b.o1 - b.o0
    dtype = x.dtype if op.kind == "adaptive_max" else _mean_dtype(x.dtype)
    out = np.empty(out_shape, dtype)
    idx = np.empty(out_shape, np.int64) if op.return_indices else None
    for combo in product(*runs):
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        axes, offsets = [], []
        for k, ((p0, p1), b, size_in, size_out) in enumerate(
                zip(combo, blocks, op.spatial_in, op.sizes_out)):
            lo, hi = p0 * size_in // size_out, -(-p1 * size_in // size_out)
            src[first + k] = slice(lo - b.lo, hi - b.lo)
            dst[first + k] = slice(p0 - b.o0, p1 - b.o0)
            axes.append(AdaptiveAxis(hi - lo, p1 - p0))
            offsets.append(lo)
        call = Call(x[tuple(src)], op.batched, op.channels_last, op.num_threads, tuple(axes))
        if op.kind == "adaptive_avg":
            out[tuple(dst)] = run_adaptive_avg(call, nd)
            continue
        result = run_adaptive_max(call, nd, op.return_indices)
        if op.return_indices:
            out[tuple(dst)], run_idx = result
            idx[tuple(dst)] = _global_indices(run_idx, tuple(a.size_in for a in axes),  # type: ignore[index]
                                              tuple(offsets), op.spatial_in)
        else:
            out[tuple(dst)] = result
    return (out, idx) if op.return_indices else out


def _pool_block(parts: list[np.ndarray], sels: list[tuple[slice, ...]], grid: tuple[int, ...],
                blocks: tuple[_Block, ...], op: _Op) -> Any:
    """The task of one output chunk: assemble its input range, pool it as the whole array would."""
    x = _assemble(parts, sels, grid)
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    if any(b.local is None for b in blocks):
        return _unaligned_adaptive(x, blocks, op)
    call = Call(x, op.batched, op.channels_last, op.num_threads, tuple(b.local for b in blocks))
    if op.kind == "max":
        result = run_max_pool(call, op.nd, op.return_indices)
    elif op.kind == "avg":
        result = run_avg_pool(call, op.nd, op.count_include_pad, op.divisor, op.running_sums)
    elif op.kind == "adaptive_max":
        result = run_adaptive_max(call, op.nd, op.return_indices)
    else:
        result = run_adaptive_avg(call, op.nd)
    if op.return_indices:
        out, idx = result
        return out, _global_indices(idx, tuple(b.hi - b.lo for b in blocks),
                                    tuple(b.lo for b in blocks), op.spatial_in)
    return result


# ---------------------------------------------------------------------------------------
# The graph: one task per output chunk


def _shape_proxy(x: da.Array) -> np.ndarray:
    """A zero-memory ndarray of x's shape and (native) dtype, for the shared validation."""
    return np.broadcast_to(np.zeros((), x.dtype.newbyteorder("=")), x.shape)


def _as_dask(input: Any) -> da.Array:
    return input if isinstance(input, da.Array) else da.asarray(input)


def _pool(fn: str, x: da.Array, op: _Op, axes: tuple[Any, ...], out_dtype: np.dtype) -> Any:
    nd = op.nd
    spatial_dims = list(range(x.ndim - nd - 1, x.ndim - 1) if op.channels_last
                        else range(x.ndim - nd, x.ndim))
    op = replace(op, spatial_in=tuple(x.shape[d] for d in spatial_dims))
    plan: list[list[Any]] = []  # per array axis: blocks (spatial) or chunk indices (others)
    for d in range(x.ndim):
        if d in spatial_dims:
            a = axes[spatial_dims.index(d)]
            if a.size_out == 0:
                return _empty(x, spatial_dims, axes, op, out_dtype)
            make = _window_blocks if isinstance(a, Axis) else _adaptive_blocks
            plan.append(make(a, x.chunks[d]))
        else:
            plan.append(list(range(len(x.chunks[d]))))
    chunk_starts = [np.cumsum((0,) + c) for c in x.chunks]

    token = tokenize(x.name, fn, op, axes)
    name = f"{fn}-{token}"
    halo_name = f"{fn}-halo-{token}"
    dsk: dict[Any, Any] = {}
    halo: dict[Any, Any] = {}
    owner: dict[tuple[int, ...], tuple[int, ...]] = {}  # chunk -> the block it is the own chunk of
    copy_of: dict[Any, tuple[int, ...]] = {}  # copy task -> the chunk it copies from
    for out_index in product(*(range(len(p)) for p in plan)):
        ranges, cuts, blocks = [], [], []
        for d, i in enumerate(out_index):
            item = plan[d][i]
            if isinstance(item, _Block):
                starts = chunk_starts[d]
                first = int(np.searchsorted(starts, item.lo, side="right")) - 1
                last = int(np.searchsorted(starts, item.hi, side="left")) - 1
                ranges.append(range(first, last + 1))
                cuts.append({j: slice(max(item.lo - starts[j], 0), min(item.hi, starts[j + 1]) - starts[j])
                             for j in range(first, last + 1)})
                blocks.append(item)
            else:
                ranges.append(range(item, item + 1))
                cuts.append({item: slice(None)})
        # The block's own chunk is the last it overlaps on every axis; the parts it needs of
        # earlier chunks are copied out by small tasks, so that those chunks need not wait
        # in memory for it (a part that is a whole chunk is read as it is).
        own = tuple(r[-1] for r in ranges)
        owner[own] = out_index
        parts, sels = [], []
        for pos in product(*ranges):
            sel = tuple(c[j] for c, j in zip(cuts, pos))
            whole = all(_covers(sl, x.chunks[d][j]) for d, (sl, j) in enumerate(zip(sel, pos)))
            if pos == own or whole:
                parts.append((x.name,) + pos)
                sels.append(sel)
            else:
                key = (halo_name, len(halo))
                halo[key] = (_copy_part, (x.name,) + pos, sel)
                copy_of[key] = pos
                parts.append(key)
                sels.append((slice(None),) * x.ndim)
        dsk[(name,) + out_index] = (_pool_block, parts, sels, tuple(len(r) for r in ranges),
                                    tuple(blocks), op)
    # A copy out of a chunk also waits for the block whose own chunk it is (and ignores its
    # result).  Without this, Dask's ordering may load a chunk for the copies a later block
    # needs, run that block, and keep the chunk until its own block comes, much later: a
    # band of chunks in memory.  With it, blocks run in an order where every chunk is freed
    # once its own block and its copies are done (the graph stays acyclic: a copy serves
    # only later blocks).
    for key, pos in copy_of.items():
        if pos in owner:
            halo[key] = (*halo[key], (name,) + owner[pos])
    # The copies live in the blocks' layer: they depend on blocks and blocks on them.
    out_chunks = tuple(
        tuple(b.o1 - b.o0 for b in p) if d in spatial_dims else x.chunks[d]
        for d, p in enumerate(plan)
    )
    meta = np.empty((0,) * x.ndim, dtype=out_dtype)
    graph = HighLevelGraph.from_collections(name, {**dsk, **halo}, dependencies=[cast(Any, x)])
    result = da.Array(graph, name, out_chunks, meta=meta)
    if not op.return_indices:
        return result
    # Each task returned (out, indices): two arrays that pick their half of every task.
    pair = result
    halves = []
    for half, dtype in ((0, out_dtype), (1, np.dtype(np.int64))):
        half_name = f"{fn}-{'out' if half == 0 else 'indices'}-{token}"
        half_dsk = {(half_name,) + k[1:]: (operator.getitem, k, half) for k in dsk}
        half_graph = HighLevelGraph.from_collections(half_name, half_dsk, dependencies=[cast(Any, pair)])
        halves.append(da.Array(half_graph, half_name, out_chunks,
                               meta=np.empty((0,) * x.ndim, dtype=dtype)))
    return halves[0], halves[1]


def _covers(sel: slice, size: int) -> bool:
    return (sel.start or 0) == 0 and (sel.stop is None or sel.stop >= size)


def _empty(x: da.Array, spatial_dims: list[int], axes: tuple[Any, ...], op: _Op,
           out_dtype: np.dtype) -> Any:
    """An output with a zero-size spatial axis (adaptive output_size 0)."""
    chunks = tuple((axes[spatial_dims.index(d)].size_out,) if d in spatial_dims else c
                   for d, c in enumerate(x.chunks))
    shape = tuple(sum(c) for c in chunks)
    out = da.empty(shape, dtype=out_dtype, chunks=chunks)
    if op.return_indices:
        return out, da.empty(shape, dtype=np.int64, chunks=chunks)
    return out


def _max_pool(fn: str, nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool, data_format: Any,
              num_threads: int | None) -> Any:
    x = _as_dask(input)
    call = validate_call(fn, nd, _shape_proxy(x), kernel_size, stride, padding, dilation,
                         ceil_mode, data_format, num_threads)
    op = _Op("max", nd, call.batched, call.channels_last, call.num_threads, bool(return_indices))
    return _pool(fn, x, op, call.axes, call.x.dtype)


def _avg_pool(fn: str, nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None,
              running_sums: bool, data_format: Any, num_threads: int | None) -> Any:
    x = _as_dask(input)
    count_include_pad, divisor = avg_options(fn, padding, count_include_pad, divisor_override)
    running_sums = check_running_sums(fn, running_sums)
    call = validate_call(fn, nd, _shape_proxy(x), kernel_size, stride, padding, 1, ceil_mode,
                         data_format, num_threads)
    op = _Op("avg", nd, call.batched, call.channels_last, call.num_threads,
             count_include_pad=count_include_pad, divisor=divisor, running_sums=running_sums)
    return _pool(fn, x, op, call.axes, _mean_dtype(call.x.dtype))


def _adaptive(fn: str, kind: str, nd: int, input: Any, output_size: Any, return_indices: bool,
              data_format: Any, num_threads: int | None) -> Any:
    x = _as_dask(input)
    call = validate_adaptive_call(fn, nd, _shape_proxy(x), output_size, data_format, num_threads)
    op = _Op(kind, nd, call.batched, call.channels_last, call.num_threads, bool(return_indices),
             sizes_out=tuple(a.size_out for a in call.axes))
    dtype = call.x.dtype if kind == "adaptive_max" else _mean_dtype(call.x.dtype)
    return _pool(fn, x, op, call.axes, dtype)


def _mean_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32 if dtype == np.float32 else np.float64)


# ---------------------------------------------------------------------------------------
# Public functions: the arguments of their in-memory namesakes

_DOC = """\
{title}, of a Dask array: lazy, chunk by chunk, equal to :func:`ndpool.{name}`.

Takes the arguments of :func:`ndpool.{name}` and gives, once computed, exactly its
result{indices} for any chunking of ``input``.  Batch and channel axes keep their chunks;
along spatial axes each output chunk is computed from one input chunk plus the halo its
windows need (see :doc:`/dask`).

Parameters
----------
input : dask.array.Array or array_like
    ``(N, C, {spatial})`` or ``(C, {spatial})``; channels-last with
    ``data_format="channels_last"``.  Other arrays are wrapped with ``dask.array.asarray``.
*args, **kwargs
    As for :func:`ndpool.{name}`.

Returns
-------
dask.array.Array{returns}
"""
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _doc(name: str, title: str, nd: int, indices: bool) -> str:
    return _DOC.format(
        name=name, title=title, spatial=_SPATIAL[nd],
        indices=" (and indices, flat within each whole (n, c) plane)" if indices else "",
        returns=(" or tuple of two\n    The pooled array, and with ``return_indices=True`` also "
                 "the int64 indices." if indices else "\n    The pooled array."),
    )


def max_pool1d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> Any:
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


def max_pool2d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> Any:
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


def max_pool3d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               dilation: Size = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> Any:
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, data_format, num_threads)


def avg_pool1d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None, *, running_sums: bool = False,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> da.Array:
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


def avg_pool2d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None, *, running_sums: bool = False,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> da.Array:
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


def avg_pool3d(input: Any, kernel_size: Size, stride: Size | None = None, padding: Padding = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None, *, running_sums: bool = False,
               data_format: DataFormat = "channels_first",
               num_threads: int | None = None) -> da.Array:
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, running_sums, data_format, num_threads)


def adaptive_max_pool1d(input: Any, output_size: OutputSize, return_indices: bool = False, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> Any:
    return _adaptive("adaptive_max_pool1d", "adaptive_max", 1, input, output_size, return_indices,
                     data_format, num_threads)


def adaptive_max_pool2d(input: Any, output_size: OutputSize, return_indices: bool = False, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> Any:
    return _adaptive("adaptive_max_pool2d", "adaptive_max", 2, input, output_size, return_indices,
                     data_format, num_threads)


def adaptive_max_pool3d(input: Any, output_size: OutputSize, return_indices: bool = False, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> Any:
    return _adaptive("adaptive_max_pool3d", "adaptive_max", 3, input, output_size, return_indices,
                     data_format, num_threads)


def adaptive_avg_pool1d(input: Any, output_size: OutputSize, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> da.Array:
    return _adaptive("adaptive_avg_pool1d", "adaptive_avg", 1, input, output_size, False,
                     data_format, num_threads)


def adaptive_avg_pool2d(input: Any, output_size: OutputSize, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> da.Array:
    return _adaptive("adaptive_avg_pool2d", "adaptive_avg", 2, input, output_size, False,
                     data_format, num_threads)


def adaptive_avg_pool3d(input: Any, output_size: OutputSize, *,
                        data_format: DataFormat = "channels_first",
                        num_threads: int | None = None) -> da.Array:
    return _adaptive("adaptive_avg_pool3d", "adaptive_avg", 3, input, output_size, False,
                     data_format, num_threads)


_FUNCTIONS: dict[str, Callable[..., Any]] = {f.__name__: f for f in (
    max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d,
    adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)}
for _name, _fn in _FUNCTIONS.items():
    _nd = int(_name[-2])
    _title = {"max_pool": "Max pooling", "avg_pool": "Average pooling",
              "adaptive_max_pool": "Adaptive max pooling",
              "adaptive_avg_pool": "Adaptive average pooling"}[_name[:-2]]
    _fn.__doc__ = _doc(_name, f"{_nd}-D {_title.lower()}", _nd, "max" in _name)
del _name, _fn, _nd, _title
