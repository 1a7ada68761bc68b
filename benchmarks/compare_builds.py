"""Two builds of ndpool's kernels, call by call: a compiler or flag change, measured.

    python benchmarks/compare_builds.py DIR_A DIR_B [--direction forward|backward]
                                        [--variant avx2|baseline] [--cases SUBSTR,...]
                                        [--seconds 0.03]

DIR_A and DIR_B hold the compiled kernel modules of two builds of the same source
(``_kernels*.so``, ``_adaptive_kernels*.so``, ``_backward_kernels*.so``: a meson build
directory's ``src/ndpool``, e.g. ``meson setup b13 -Dbuildtype=release`` with ``CC=gcc-13``,
then ``ninja -C b13``), built for the running Python.  The installed ndpool supplies the
Python layer; each call runs once with A's kernels and once with B's, interleaved over
five rounds, and their outputs must be bitwise equal.  It prints the median time of each
and B's speed-up over A (below 1: B slower), flags B under 0.8x, and ends with the
geometric mean.

The calls cover a grid of op (max, average, adaptive), 1-D/2-D/3-D, windows (2x2/s2,
3x3/s2/p1, 3x3/s1/p1, 5x5/s1/p2, 4x4/s4, 7x7/s1/p3; adaptive outputs 1 and 7), layout,
dtype (max forward also uint8 and int32) and, for float32 max forward, return_indices:
what differs between compilers is which loops they vectorise and how, so each kernel
family must be reached.  Shapes are a few MB (56x56 maps), run at OpenMP's default
thread count; set ``OMP_WAIT_POLICY`` as for the suite.
"""

from __future__ import annotations

import argparse
import glob
import importlib.machinery
import importlib.util
import math
import os
import time

import numpy as np

import ndpool
import ndpool._adaptive as _adaptive
import ndpool._backward as _backward
import ndpool._pooling as _pooling

FAMILIES = ("_kernels", "_adaptive_kernels", "_backward_kernels")
SHAPES = {1: (8, 64, 2048), 2: (4, 64, 56, 56), 3: (2, 32, 8, 28, 28)}
WINDOWS = [(2, 2, 0), (3, 2, 1), (3, 1, 1), (5, 1, 2), (4, 4, 0), (7, 1, 3)]


def load_build(directory: str, suffix: str) -> dict:
    """The kernel modules of one build directory, imported under ndpool's names."""
    modules = {}
    for family in FAMILIES:
        name = family + suffix
        paths = glob.glob(os.path.join(directory, name + ".cpython-*.so")) or glob.glob(
            os.path.join(directory, name + ".*.pyd"))
        if not paths:
            raise SystemExit(f"{directory}: no {name} module for this Python")
        loader = importlib.machinery.ExtensionFileLoader("ndpool." + name, paths[0])
        spec = importlib.util.spec_from_file_location("ndpool." + name, paths[0], loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        modules[family] = module
    return modules


def use(modules: dict) -> None:
    """Point ndpool's Python layer at one build's kernels."""
    for layer in (_pooling, _adaptive, _backward):
        for family, module in modules.items():
            if hasattr(layer, family):
                setattr(layer, family, module)


def configs():
    """(name, nd, op, window or output size, layout, dtype, return_indices)."""
    for nd in (1, 2, 3):
        layouts = ("channels_first",) if nd == 1 else ("channels_first", "channels_last")
        for op in ("max", "avg"):
            for window in WINDOWS:
                if nd == 3 and window[0] > 3:
                    continue
                for layout in layouts:
                    for dtype in ("float32", "float64", "uint8", "int32") if op == "max" \
                            else ("float32", "float64"):
                        for idx in (False, True) if op == "max" and dtype == "float32" \
                                else (False,):
                            yield nd, op, window, layout, dtype, idx
        for op in ("adaptive_max", "adaptive_avg"):
            for size in (1, 7):
                for layout in layouts:
                    for dtype in ("float32", "float64"):
                        yield nd, op, size, layout, dtype, False


def make_call(nd, op, window, layout, dtype, idx, direction, rng):
    shape = SHAPES[nd]
    if layout == "channels_last":
        shape = (shape[0], *shape[2:], shape[1])
    if dtype in ("uint8", "int32"):
        x = rng.integers(0, 250, shape).astype(dtype)
    else:
        x = rng.random(shape).astype(dtype)
    fwd = getattr(ndpool, f"{op}_pool{nd}d")
    fmt = dict(data_format=layout)
    args = (window,) if op.startswith("adaptive") else window
    if direction == "forward":
        return lambda: fwd(x, *args, return_indices=True, **fmt) if idx else fwd(x, *args, **fmt)
    bwd = getattr(ndpool, f"{op}_pool{nd}d_backward")
    if op.endswith("max"):
        y, indices = fwd(x, *args, return_indices=True, **fmt)
        g = rng.random(y.shape).astype(y.dtype)
        return lambda: bwd(g, indices, x.shape, **fmt)
    y = fwd(x, *args, **fmt)
    g = rng.random(y.shape).astype(y.dtype)
    if op == "avg":
        return lambda: bwd(g, x.shape, *window, **fmt)
    return lambda: bwd(g, x.shape, **fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--direction", choices=["forward", "backward"], default="forward")
    parser.add_argument("--variant", choices=["avx2", "baseline"], default="avx2")
    parser.add_argument("--cases", default="", help="comma-separated substrings of the names")
    parser.add_argument("--seconds", type=float, default=0.03, help="time per call and round")
    opts = parser.parse_args()
    suffix = "_avx2" if opts.variant == "avx2" else ""
    builds = [load_build(opts.a, suffix), load_build(opts.b, suffix)]
    wanted = [c for c in opts.cases.split(",") if c]
    rng = np.random.default_rng(0)
    logs = []
    print(f"A = {opts.a}, B = {opts.b}, {opts.variant} kernels, {opts.direction}")
    print(f"{'call':44s} {'A ms':>8s} {'B ms':>8s}  B speed-up")
    for nd, op, window, layout, dtype, idx in configs():
        if opts.direction == "backward" and (idx or dtype in ("uint8", "int32")):
            continue
        w = f"out{window}" if op.startswith("adaptive") else "k{}s{}p{}".format(*window)
        name = f"{op}{nd}d {w} {layout} {dtype}{' +idx' if idx else ''}"
        if wanted and not any(c in name for c in wanted):
            continue
        use(builds[0])
        call = make_call(nd, op, window, layout, dtype, idx, opts.direction, rng)
        results = []
        for build in builds:
            use(build)
            out = call()
            results.append(np.asarray(out[0] if isinstance(out, tuple) else out).tobytes())
        assert results[0] == results[1], f"{name}: the builds disagree"
        start = time.perf_counter()
        call()
        reps = max(3, min(50, int(opts.seconds / max(time.perf_counter() - start, 1e-6))))
        times = [[], []]
        for _ in range(5):
            for k, build in enumerate(builds):
                use(build)
                for _ in range(reps):
                    start = time.perf_counter()
                    call()
                    times[k].append(time.perf_counter() - start)
        a, b = (float(np.median(t)) for t in times)
        logs.append(math.log(a / b))
        flag = "  <- B slower" if a / b < 0.8 else ""
        print(f"{name:44s} {a * 1e3:8.3f} {b * 1e3:8.3f}  {a / b:5.2f}x{flag}", flush=True)
    if logs:
        print(f"geometric mean B speed-up: {math.exp(sum(logs) / len(logs)):.3f}x "
              f"over {len(logs)} calls")


if __name__ == "__main__":
    main()
