"""Thread scaling: ndpool and torch at 1, 2, 4, ... threads on cases of the asv suite.

    python benchmarks/thread_scaling.py [--threads 1,2,4,8,16] [--cases SUBSTR,...]
                                        [--seconds 0.3]

For each case, layout and direction it prints each library's median time at each thread
count, its speed-up over its own one-thread time, and ndpool's speed-up over torch at
the same count.  The calls are those of the asv suite (``benchmarks/_cases.py``: the same
inputs, arguments and backward graphs), repeated in one process for about ``--seconds``
each, so caches are warm: this compares how the two scale, while the suite's single
cold calls are the record of absolute speed.  Set ``OMP_WAIT_POLICY`` before starting, as
for the suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import _cases  # noqa: E402

# A spread of kernels: overlapping and disjoint windows, stride-1 pyramids, global heads,
# 1-D and 3-D, in both layouts where the suite has them.
DEFAULT_CASES = ["max2d_k3s2p1_resnet_stem", "max2d_k2s2_vgg", "max2d_k5s1p2_spp",
                 "avg2d_k3s1p1_inception", "adaptive_avg2d_global_resnet50",
                 "adaptive_max2d_7x7_from20", "max1d_k3s2p1_seq", "avg3d_k3s1p1_i3d",
                 "max3d_k2s2_c3d"]


def median_time(call, seconds: float) -> float:
    call()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2,4,8,16",
                        help="comma-separated thread counts (default 1,2,4,8,16)")
    parser.add_argument("--cases", default="",
                        help="comma-separated substrings of case names (default: a spread)")
    parser.add_argument("--seconds", type=float, default=0.3,
                        help="timing budget per library, case and count (default 0.3)")
    args = parser.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    if args.cases:
        names = [n for n in _cases.CASES if any(s in n for s in args.cases.split(","))]
    else:
        names = DEFAULT_CASES
    backends = ["ndpool"] + (["torch"] if _cases.torch is not None else [])
    print(f"machine: {platform.machine()} {platform.processor() or ''}, "
          f"{os.cpu_count()} logical CPUs; {_cases.describe()}")
    print("time ms at each thread count; (xN) speed-up over the same library's one thread; "
          "vs torch = torch's time / ndpool's")
    for name in names:
        for layout in _cases.LAYOUTS:
            for direction in _cases.DIRECTIONS:
                times = {}
                try:
                    for n in counts:
                        _cases.THREADS = n
                        for backend in backends:
                            call = _cases.build(name, backend, direction, layout, "float32")
                            times[backend, n] = median_time(call, args.seconds)
                except NotImplementedError:
                    continue
                label = f"{name} {direction} {'cl' if layout == 'channels_last' else 'cf'}"
                print(label)
                for backend in backends:
                    base = times[backend, counts[0]]
                    cells = [f"{times[backend, n] * 1e3:8.3f} (x{base / times[backend, n]:4.1f})"
                             for n in counts]
                    print(f"  {backend:7s}" + "".join(f" {c:>17s}" for c in cells))
                if "torch" in backends:
                    cells = [f"{times['torch', n] / times['ndpool', n]:.2f}" for n in counts]
                    print("  vs torch" + "".join(f" {c:>17s}" for c in cells))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
