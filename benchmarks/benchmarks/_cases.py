"""The benchmark matrix: pooling shapes from real networks, and how each backend runs them.

Environment variables (read when asv imports the suite):

- ``NDPOOL_ASV_THREADS`` (default 2): threads for both libraries, ndpool's ``num_threads``
  and ``torch.set_num_threads``.  NumPy code is single-threaded.
- ``NDPOOL_ASV_TINY=1``: every shape shrinks to a few thousand elements, so the whole suite
  runs once in well under two minutes (CI's smoke run).  The numbers are then meaningless.
- ``NDPOOL_ASV_BACKENDS`` (default: all): a comma-separated subset of the backends below;
  the others skip.  ``ndpool,torch,copy`` leaves out the slow NumPy ones, which take most
  of a repeated run's time, when only the ratios over torch are wanted.

Backends:

- ``ndpool``: the compiled functions, forward and the ``*_backward`` gradients.
- ``numpy``: ``ndpool.reference``, the plain-NumPy oracle, forward and backward.
- ``numpy_idiom``: the NumPy one-liners people write instead, forward only and only where
  one exists: a reshape and a reduction for non-overlapping windows (k == stride, no
  padding, divisible sizes; adaptive bins of equal size), a plain reduction for a global
  (output 1) adaptive pool, ``sliding_window_view`` (after ``np.pad``) for overlapping
  windows.  Adaptive pooling with overlapping bins has no such idiom.
- ``copy``: the memory floor of the call, not pooling: a copy between preallocated
  buffers with the call's memory traffic.  The call must read R bytes (the input; for
  a gradient, the incoming gradient and max pooling's indices) and write W (the output,
  or the input-sized gradient), each once; a written byte costs two transfers (read for
  ownership, written back), so the copy moves (R + 2W) / 3 bytes.  torch's ``copy_`` at
  the suite's thread count, else ``np.copyto`` (one thread).
  ``ratios.py`` divides torch's time by it: the most that any kernel moving each byte
  once at copy speed could gain over torch (its outputs' first-touch page faults aside).
- ``torch``: ``torch.nn.functional`` on CPU, on a tensor sharing the array's memory.
  Forward under ``torch.no_grad()``; backward is ``torch.autograd.grad`` on a graph built in
  ``setup`` (``retain_graph=True``), so only the backward pass is timed.  Skipped when
  torch is not importable.

An impossible or pointless combination raises ``NotImplementedError`` in ``build``, which
asv records as skipped (``n/a``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import ndpool
from ndpool import reference

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is optional: its benchmarks are skipped
    torch = F = None

THREADS = int(os.environ.get("NDPOOL_ASV_THREADS", "2"))
TINY = os.environ.get("NDPOOL_ASV_TINY", "0") not in ("", "0")

BACKENDS = ["ndpool", "numpy", "torch", "copy"]  # plus "numpy_idiom", forward only (its own class)
# The parameters stay the same whatever is selected, so that runs remain comparable.
SELECTED = {b.strip() for b in os.environ.get("NDPOOL_ASV_BACKENDS", "").split(",") if b.strip()}
_unknown = SELECTED - {*BACKENDS, "numpy_idiom"}
if _unknown:
    raise ValueError(f"NDPOOL_ASV_BACKENDS: unknown backends {sorted(_unknown)}; the names "
                     f"are {', '.join([*BACKENDS, 'numpy_idiom'])}")
DIRECTIONS = ["forward", "backward"]
LAYOUTS = ["channels_first", "channels_last"]


@dataclass(frozen=True)
class Case:
    op: str  # "max", "avg", "adaptive_max" or "adaptive_avg"
    nd: int
    full: tuple[int, ...]  # (N, C, *spatial): the real network's activation
    tiny: tuple[int, ...]  # NDPOOL_ASV_TINY=1
    args: dict[str, Any] = field(default_factory=dict)  # arguments after the input
    # ndpool.reference at full size: False where one call takes many seconds (or GiB).
    numpy_full: bool = True

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tiny if TINY else self.full

    @property
    def fn_name(self) -> str:
        return f"{self.op}_pool{self.nd}d"


def _k(kernel_size: int, stride: int, padding: int = 0) -> dict[str, int]:
    return dict(kernel_size=kernel_size, stride=stride, padding=padding)


# Each axis of the issue is covered by some case, not every combination: ops 1D/2D/3D,
# overlapping and non-overlapping windows, padding, global and 7x7 adaptive heads, equal
# and unequal adaptive bins, large and latency-bound inputs.
CASES: dict[str, Case] = {
    # torchvision ResNet stem: 7x7/2 conv to 64x112x112, then MaxPool2d(3, 2, 1).
    "max2d_k3s2p1_resnet_stem": Case("max", 2, (8, 64, 112, 112), (1, 4, 12, 12), _k(3, 2, 1)),
    # VGG-16's first pool: MaxPool2d(2, 2) on 64x224x224.
    "max2d_k2s2_vgg": Case("max", 2, (4, 64, 224, 224), (1, 4, 12, 12), _k(2, 2)),
    # DenseNet-121's first transition: AvgPool2d(2, 2) on 128x56x56.
    "avg2d_k2s2_densenet": Case("avg", 2, (8, 128, 56, 56), (1, 4, 12, 12), _k(2, 2)),
    # Inception-v3 branch pools: avg 3x3, stride 1, padding 1, on Mixed_5b's 192x35x35.
    "avg2d_k3s1p1_inception": Case("avg", 2, (8, 192, 35, 35), (1, 4, 9, 9), _k(3, 1, 1)),
    # YOLOv3-SPP: max 5, 9, 13 with stride 1 and padding k//2 on 512x19x19 (608 input).
    # The reference gathers k*k copies of the input: slow (k=9) and ~1 GiB (k=13) at full size.
    "max2d_k5s1p2_spp": Case("max", 2, (8, 512, 19, 19), (1, 4, 8, 8), _k(5, 1, 2)),
    "max2d_k9s1p4_spp": Case("max", 2, (8, 512, 19, 19), (1, 4, 8, 8), _k(9, 1, 4),
                             numpy_full=False),
    "max2d_k13s1p6_spp": Case("max", 2, (8, 512, 19, 19), (1, 4, 8, 8), _k(13, 1, 6),
                              numpy_full=False),
    # ResNet-50 head: AdaptiveAvgPool2d(1) on 2048x7x7; the max variant (global max pooling).
    "adaptive_avg2d_global_resnet50": Case("adaptive_avg", 2, (32, 2048, 7, 7), (2, 8, 7, 7),
                                           dict(output_size=1)),
    "adaptive_max2d_global_resnet50": Case("adaptive_max", 2, (32, 2048, 7, 7), (2, 8, 7, 7),
                                           dict(output_size=1)),
    # VGG's AdaptiveAvgPool2d((7, 7)) head at a 448x448 input: 512x14x14 -> 7x7 (2x2 bins).
    "adaptive_avg2d_7x7_vgg448": Case("adaptive_avg", 2, (8, 512, 14, 14), (1, 4, 14, 14),
                                      dict(output_size=7)),
    # 7x7 from a 20x20 map: unequal, overlapping bins (no NumPy idiom).
    "adaptive_max2d_7x7_from20": Case("adaptive_max", 2, (8, 256, 20, 20), (1, 4, 10, 10),
                                      dict(output_size=7)),
    # 1-D sequences: a conv front end's MaxPool1d(3, 2, 1), an AvgPool1d(4) downsampler, and
    # a text CNN's max over time (global adaptive max over the tokens).
    "max1d_k3s2p1_seq": Case("max", 1, (32, 256, 1024), (2, 4, 64), _k(3, 2, 1)),
    "avg1d_k4s4_seq": Case("avg", 1, (32, 256, 1024), (2, 4, 64), _k(4, 4)),
    "adaptive_max1d_global_textcnn": Case("adaptive_max", 1, (64, 768, 256), (2, 4, 32),
                                          dict(output_size=1)),
    # 3-D volumes: C3D's pool2 (MaxPool3d(2, 2) on 128x16x56x56), an I3D-style inception
    # branch AvgPool3d(3, 1, 1), and r3d_18's AdaptiveAvgPool3d(1) head on 512x2x7x7.
    "max3d_k2s2_c3d": Case("max", 3, (2, 128, 16, 56, 56), (1, 4, 4, 8, 8), _k(2, 2)),
    "avg3d_k3s1p1_i3d": Case("avg", 3, (2, 192, 8, 28, 28), (1, 4, 4, 6, 6), _k(3, 1, 1)),
    "adaptive_avg3d_global_r3d18": Case("adaptive_avg", 3, (32, 512, 2, 7, 7), (2, 4, 2, 4, 4),
                                        dict(output_size=1)),
    # Latency: a call so small that per-call overhead is all there is (same in tiny mode).
    "max2d_k2_small_latency": Case("max", 2, (1, 16, 8, 8), (1, 16, 8, 8),
                                   dict(kernel_size=2)),
}

# The cases run in float64 and uint8 too (float32 runs everything).
DTYPE_CASES = ["max2d_k3s2p1_resnet_stem", "avg2d_k2s2_densenet",
               "adaptive_avg2d_global_resnet50", "adaptive_max1d_global_textcnn",
               "max3d_k2s2_c3d"]
# The cases whose peak memory is measured.
MEMORY_CASES = ["max2d_k3s2p1_resnet_stem", "max2d_k13s1p6_spp", "avg2d_k3s1p1_inception",
                "adaptive_avg2d_global_resnet50", "max1d_k3s2p1_seq", "max3d_k2s2_c3d"]


def describe() -> str:
    """The run's conditions in one line: stored by asv as BuildInfo's parameter."""
    info = ndpool.build_info()
    flags = info.get("c_args") or ""  # a string in build_info(); join it if it is a list
    flags = flags if isinstance(flags, str) else " ".join(flags)
    parts = [
        f"ndpool {ndpool.__version__}",
        f"openmp={info['openmp']} max_threads={info['max_threads']}",
        f"{info['buildtype']} -O{info['optimization']} {info['compiler']} [{flags}]",
        f"cython_debug={info['cython_debug']}",
        f"numpy {np.__version__}",
        f"torch {torch.__version__}" if torch is not None else "torch n/a",
        f"threads={THREADS}",
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}",
        f"tiny={TINY}",
        f"cpus={os.cpu_count()}",
    ]
    return "; ".join(parts)


def _make_input(case: Case, layout: str, dtype: str, rng: np.random.Generator) -> np.ndarray:
    shape = case.shape
    if layout == "channels_last":
        shape = (shape[0], *shape[2:], shape[1])  # (N, *spatial, C), C-contiguous
    if dtype == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.dtype(dtype))


def _spatial_axes(case: Case, layout: str) -> tuple[int, ...]:
    first = 1 if layout == "channels_last" else 2
    return tuple(range(first, first + case.nd))


def _ndpool_call(module, case: Case, direction: str, layout: str, x: np.ndarray,
                 rng: np.random.Generator, threads: dict) -> Callable[[], Any]:
    """ndpool or ndpool.reference: the two share every signature."""
    fwd = getattr(module, case.fn_name)
    fmt = dict(data_format=layout, **threads)
    if direction == "forward":
        return lambda: fwd(x, **case.args, **fmt)
    # Backward: the forward's output and indices come from ndpool (bit-identical to the
    # reference's, and fast), the gradient is random.
    bwd = getattr(module, case.fn_name + "_backward")
    if case.op in ("max", "adaptive_max"):
        y, idx = getattr(ndpool, case.fn_name)(x, **case.args, return_indices=True,
                                               data_format=layout)
        g = rng.random(y.shape, dtype=y.dtype)
        return lambda: bwd(g, idx, x.shape, **fmt)
    y = getattr(ndpool, case.fn_name)(x, **case.args, data_format=layout)
    g = rng.random(y.shape, dtype=y.dtype)
    if case.op == "avg":
        return lambda: bwd(g, x.shape, **case.args, **fmt)
    return lambda: bwd(g, x.shape, **fmt)


def _reshape_reduce(x: np.ndarray, axes: tuple[int, ...], ks: list[int], reduce) -> np.ndarray:
    """Non-overlapping windows ``ks`` on ``axes``: split each into (size // k, k), reduce."""
    shape, window_axes = [], []
    for ax, size in enumerate(x.shape):
        if ax in axes:
            k = ks[axes.index(ax)]
            shape += [size // k, k]
            window_axes.append(len(shape) - 1)
        else:
            shape.append(size)
    return reduce(x.reshape(shape), axis=tuple(window_axes))


def _idiom_call(case: Case, layout: str, x: np.ndarray) -> Callable[[], Any]:
    axes = _spatial_axes(case, layout)
    sizes = [x.shape[a] for a in axes]
    reduce = np.max if case.op.endswith("max") else np.mean
    if case.op.startswith("adaptive"):
        out = case.args["output_size"]
        if out == 1:
            return lambda: reduce(x, axis=axes, keepdims=True)
        if all(s % out == 0 for s in sizes):
            return lambda: _reshape_reduce(x, axes, [n // out for n in sizes], reduce)
        raise NotImplementedError("adaptive bins of unequal sizes have no NumPy idiom")
    k = case.args["kernel_size"]
    s = case.args.get("stride") or k
    p = case.args.get("padding", 0)
    if k == s and p == 0 and all(n % k == 0 for n in sizes):
        return lambda: _reshape_reduce(x, axes, [k] * case.nd, reduce)
    # Overlapping or padded windows: pad (max with the dtype's lowest value, avg with zeros,
    # i.e. torch's count_include_pad=True), view every window, keep every s-th, reduce.
    if reduce is np.mean:
        fill = 0
    else:
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    pad = [(p, p) if a in axes else (0, 0) for a in range(x.ndim)]
    step = tuple(slice(None, None, s) if a in axes else slice(None) for a in range(x.ndim))
    window = tuple(range(x.ndim, x.ndim + case.nd))

    def call():
        xp = np.pad(x, pad, constant_values=fill) if p else x
        return reduce(sliding_window_view(xp, (k,) * case.nd, axis=axes)[step], axis=window)
    return call


def _traffic(case: Case, direction: str, layout: str, x: np.ndarray) -> tuple[int, int]:
    """(bytes read, bytes written) that a pooling call cannot avoid."""
    y = getattr(ndpool, case.fn_name)(x, **case.args, data_format=layout)
    if direction == "forward":
        return x.nbytes, y.nbytes
    indices = y.size * 8 if case.op.endswith("max") else 0  # int64
    return y.nbytes + indices, x.nbytes  # gradient (and indices) in, input-sized gradient out


def _copy_call(case: Case, direction: str, layout: str, x: np.ndarray) -> Callable[[], Any]:
    read, written = _traffic(case, direction, layout, x)
    n = (read + 2 * written) // 3
    src, dst = np.ones(n, np.uint8), np.empty(n, np.uint8)
    if torch is None:
        return lambda: np.copyto(dst, src)
    torch.set_num_threads(THREADS)
    s, d = torch.from_numpy(src), torch.from_numpy(dst)
    return lambda: d.copy_(s)


def _torch_call(case: Case, direction: str, layout: str, x: np.ndarray) -> Callable[[], Any]:
    if torch is None:
        raise NotImplementedError("torch is not installed")
    torch.set_num_threads(THREADS)
    t = torch.from_numpy(x)
    if layout == "channels_last":
        # (N, C, *spatial) view of (N, *spatial, C) memory: torch's channels_last format.
        t = t.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
    fn = getattr(F, case.fn_name)
    if direction == "forward":
        def forward():
            with torch.no_grad():
                return fn(t, **case.args)
        return forward
    leaf = t.detach().requires_grad_()
    y = fn(leaf, **case.args)
    y = y[0] if isinstance(y, tuple) else y
    g = torch.rand_like(y)  # keeps y's memory format, as a real upstream gradient would
    return lambda: torch.autograd.grad(y, leaf, g, retain_graph=True)


def build(case_name: str, backend: str, direction: str, layout: str,
          dtype: str) -> Callable[[], Any]:
    """The call to time, after one warm-up call; NotImplementedError means skip."""
    case = CASES[case_name]
    if SELECTED and backend not in SELECTED:
        raise NotImplementedError(f"backend {backend!r} not in NDPOOL_ASV_BACKENDS")
    if layout == "channels_last" and case.nd == 1:
        raise NotImplementedError("1-D sequences: channels-last is not a torch memory format")
    if dtype == "uint8" and not (case.op.endswith("max") and direction == "forward"):
        raise NotImplementedError("integers: max pooling forward only (no gradients, and "
                                  "integer averages differ from torch by design)")
    if backend == "numpy" and not TINY and not case.numpy_full:
        raise NotImplementedError("ndpool.reference takes too long or too much memory here")
    if backend == "numpy_idiom" and direction == "backward":
        raise NotImplementedError("the NumPy idioms have no gradient")
    rng = np.random.default_rng(0)
    x = _make_input(case, layout, dtype, rng)
    if backend == "ndpool":
        call = _ndpool_call(ndpool, case, direction, layout, x, rng, dict(num_threads=THREADS))
    elif backend == "numpy":
        return _ndpool_call(reference, case, direction, layout, x, rng, {})  # no warm-up: slow
    elif backend == "numpy_idiom":
        call = _idiom_call(case, layout, x)
    elif backend == "torch":
        call = _torch_call(case, direction, layout, x)
    elif backend == "copy":
        call = _copy_call(case, direction, layout, x)
    else:
        raise ValueError(backend)
    try:
        call()  # warm-up: first touch of the output, thread team start
    except (RuntimeError, TypeError) as exc:  # e.g. a dtype torch does not implement
        if backend == "torch":
            raise NotImplementedError(f"torch: {exc}") from exc
        raise
    return call
