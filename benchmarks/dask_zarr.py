"""Pool a Zarr array larger than the memory the process uses, chunk by chunk, with ndpool.dask.

    python benchmarks/dask_zarr.py                      # 1 GiB float32 image, chunks 512..2048
    python benchmarks/dask_zarr.py --side 32768 --chunks 1024   # 4 GiB

Writes a (1, side, side) float32 array of random numbers to a Zarr store (chunk by chunk, so
it is never in memory), then, for each chunk size, in a fresh process: opens it with
``dask.array.from_zarr``, pools it with ``ndpool.dask.avg_pool2d(x, 3, 2, 1)`` (windows
that cross every chunk boundary) and writes the result to another store; then builds a
4-level mean pyramid with ``ndpool.pyramid`` and writes every level in one pass.  Each run
reports its wall time and its peak resident memory (``ru_maxrss``), and that peak less the
memory the process held before computing (Python, NumPy, Dask, Zarr imported).  The
threaded scheduler runs ``--workers`` tasks at once, so the expected peak is a few chunks
per worker, whatever the array's size.  RSS also counts memory the allocator keeps after
freeing it (glibc reuses freed chunk buffers from its arenas rather than returning them);
``--live`` adds the most bytes of task results (input chunks, halo copies, outputs) the
scheduler held at once, measured with a Dask callback in a separate run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_input(path: str, side: int, chunk: int) -> None:
    import dask.array as da

    x = da.random.default_rng(0).standard_normal((1, side, side), dtype="float32",
                                                  chunks=(1, chunk, chunk))
    x.to_zarr(path, overwrite=True)


def child(args: argparse.Namespace) -> None:
    """One measurement, in its own process so that its peak memory is its own."""
    import dask
    import dask.array as da

    import ndpool
    import ndpool.dask

    from dask.callbacks import Callback

    class LiveData(Callback):
        """The most bytes of task results (chunks, halos, outputs) the scheduler held at once."""

        peak = 0

        def _posttask(self, key, result, dsk, state, id):
            held = sum(v.nbytes for v in state["cache"].values() if isinstance(v, np.ndarray))
            LiveData.peak = max(LiveData.peak, held)

    import numpy as np

    dask.config.set(scheduler="threads", num_workers=args.workers)
    x = da.from_zarr(args.input, chunks=(1, args.chunk, args.chunk))
    before = _rss_mib()
    start = time.perf_counter()
    with LiveData() if args.live else contextlib.nullcontext():
        if args.what == "avg_pool2d":
            ndpool.dask.avg_pool2d(x, 3, 2, 1, num_threads=1).to_zarr(args.output, overwrite=True)
        else:
            levels = ndpool.pyramid(x, 4, "mean", num_threads=1)[1:]
            dask.compute(*[level.to_zarr(args.output, component=str(i + 1), overwrite=True,
                                         compute=False) for i, level in enumerate(levels)])
    seconds = time.perf_counter() - start
    print(json.dumps({"what": args.what, "chunk": args.chunk, "seconds": round(seconds, 2),
                      "baseline_mib": round(before), "peak_mib": round(_peak_mib()),
                      "peak_above_baseline_mib": round(_peak_mib() - before),
                      "live_mib": round(LiveData.peak / 2**20) if args.live else None}))


def _run(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=16384, help="the image is (1, side, side) float32")
    parser.add_argument("--chunks", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--workers", type=int, default=2, help="tasks at once (threaded scheduler)")
    parser.add_argument("--dir", default=None, help="where to put the stores (default: a temporary directory)")
    parser.add_argument("--live", action="store_true",
                        help="also report the most task data held at once (a second, slower run)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--what", default="avg_pool2d", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    work = tempfile.mkdtemp(prefix="ndpool-dask-zarr-", dir=args.dir)
    try:
        source = os.path.join(work, "input.zarr")
        gib = args.side**2 * 4 / 2**30
        start = time.perf_counter()
        write_input(source, args.side, min(args.chunks))
        print(f"input: (1, {args.side}, {args.side}) float32, {gib:.2f} GiB, written in "
              f"{time.perf_counter() - start:.1f} s; {args.workers} workers, 1 kernel thread each")
        print(f"{'operation':<14}{'chunk':>7}{'chunk MiB':>11}{'time s':>8}{'peak RSS MiB':>14}"
              f"{'above baseline':>16}" + (f"{'live data MiB':>15}" if args.live else ""))
        for what in ("avg_pool2d", "pyramid"):
            for chunk in args.chunks:
                output = os.path.join(work, f"{what}-{chunk}.zarr")
                command = [sys.executable, __file__, "--child", "--what", what, "--chunk", str(chunk),
                           "--workers", str(args.workers), "--input", source, "--output", output]
                r = _run(command)
                line = (f"{what:<14}{chunk:>7}{chunk**2 * 4 / 2**20:>11.0f}{r['seconds']:>8.1f}"
                        f"{r['peak_mib']:>14}{r['peak_above_baseline_mib']:>16}")
                if args.live:  # its own run: the callback slows the scheduler
                    line += f"{_run(command + ['--live'])['live_mib']:>15}"
                print(line)
                shutil.rmtree(output, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
