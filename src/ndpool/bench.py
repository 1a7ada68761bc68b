"""Quick benchmark: ndpool vs plain NumPy (``ndpool.reference``) vs PyTorch.

Run ``python -m ndpool.bench [--quick] [--threads N] [--png PATH]``.  Every case is
timed as the min over a few repeats after one warm-up call, its ndpool output is
checked against torch and the reference, and ndpool's memory traffic is compared with
this machine's copy bandwidth (pooling is memory-bound, so a copy is the roofline).
"""

# OpenMP waiting.  torch's wheel links libgomp.so.1 by SONAME, so it shares the libgomp
# that ndpool's kernels loaded: one runtime, one thread team, same rules for both.  What
# matters is how its idle threads wait.  Measured on the 2-vCPU dev VM, which other
# jobs share: libgomp's default (spin ~300k pauses, then sleep) and "active" turn every
# parallel call into 4-12 ms whenever a third thread is runnable (a spinning waiter
# holds a core while the thread it waits for is preempted); torch is hit hardest, as it
# runs even a 16x8x8 input on the whole team.  "passive" never did that, at a cost on
# an idle VM (waking a halted vCPU is slow, so a second thread gains little).  So the
# command line runs with OMP_WAIT_POLICY=passive unless OMP_WAIT_POLICY or
# GOMP_SPINCOUNT is already set (on an idle machine OMP_WAIT_POLICY=active shows both
# libraries' peak).  A setdefault at the top of this module would do nothing:
# ``python -m ndpool.bench`` imports ndpool/__init__, which loads libgomp, and libgomp
# reads its environment once, at load; so main() re-executes the command instead.
# The header prints what was in force.
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import ndpool

# The plain-NumPy implementation.  Guarded so a checkout where it is missing or half
# written still benchmarks ndpool vs torch; the header says why the column is empty.
_reference_error = None
try:
    from ndpool import reference as _reference
except Exception as exc:  # noqa: BLE001 - any failure only disables one column
    _reference, _reference_error = None, f"{type(exc).__name__}: {exc}"

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None

_WAIT_POLICY = "passive"  # see the comment at the top
_SET_BY_BENCH = "_NDPOOL_BENCH_SET_WAIT_POLICY"


@dataclass(frozen=True)
class Case:
    name: str
    op: str  # "max" or "avg"
    nd: int
    shape: tuple[int, ...]
    quick_shape: tuple[int, ...]
    kwargs: dict = field(default_factory=dict)
    channels_last: bool = False
    return_indices: bool = False

    @property
    def fn_name(self) -> str:
        return f"{self.op}_pool{self.nd}d"

    @property
    def layout(self) -> str:
        spatial = "DHW"[3 - self.nd :] if self.nd > 1 else "L"
        return f"N{spatial}C" if self.channels_last else f"NC{spatial}"


VGG = (32, 64, 112, 112)
VGG_QUICK = (8, 64, 56, 56)
CASES = [
    Case("max2d k2s2", "max", 2, VGG, VGG_QUICK, dict(kernel_size=2, stride=2)),
    Case("max2d k2s2", "max", 2, VGG, VGG_QUICK, dict(kernel_size=2, stride=2),
         channels_last=True),
    Case("max2d k3s2p1 stem", "max", 2, VGG, VGG_QUICK, dict(kernel_size=3, stride=2, padding=1)),
    Case("avg2d k2s2", "avg", 2, VGG, VGG_QUICK, dict(kernel_size=2, stride=2)),
    Case("max1d k3s2", "max", 1, (64, 256, 4096), (16, 128, 4096), dict(kernel_size=3, stride=2)),
    Case("max3d k2s2", "max", 3, (8, 32, 32, 64, 64), (2, 32, 16, 64, 64),
         dict(kernel_size=2, stride=2)),
    Case("avg3d k3s2p1", "avg", 3, (8, 32, 32, 64, 64), (2, 32, 16, 64, 64),
         dict(kernel_size=3, stride=2, padding=1)),
    Case("max2d k2 tiny", "max", 2, (1, 16, 8, 8), (1, 16, 8, 8), dict(kernel_size=2)),
    Case("max2d k2s2 +idx", "max", 2, VGG, VGG_QUICK, dict(kernel_size=2, stride=2),
         return_indices=True),
]


def machine_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_copy_bandwidth(nbytes: int = 256 << 20, repeats: int = 5) -> float:
    """Copy bandwidth in GB/s (bytes read + bytes written), best of ``repeats``."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)  # np.ones/np.empty_like + first copy fault the pages in
    np.copyto(dst, src)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def time_call(fn: Callable[[], object], repeats: int, budget_s: float,
              min_batch_s: float = 2e-3, slow_s: float = math.inf) -> tuple[float, object]:
    """Seconds per call (min over repeats) and the warm-up call's result.

    Calls shorter than ``min_batch_s`` are looped inside each repeat, so the timer's
    resolution and call jitter do not dominate; long calls get fewer repeats so the
    whole case stays within ``budget_s``, and a first call over ``slow_s`` is the answer.
    """
    t0 = time.perf_counter()
    result = fn()  # warm-up: first-touch page faults, thread team start, caches
    first = time.perf_counter() - t0
    if first > slow_s:
        return first, result
    number = max(1, int(min_batch_s / max(first, 1e-7)))
    repeats = max(1, min(repeats, int(budget_s / max(first * number, 1e-9))))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best, result


def make_input(case: Case, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    if case.channels_last:
        # Logical (N, C, ...) shape over channels-last memory, like torch.channels_last.
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    return x


def as_tuple(r) -> tuple:
    return tuple(r) if isinstance(r, tuple) else (r,)


def same(case: Case, a, b) -> bool:
    """Exact for max (values and indices), tolerant for avg (summation order differs)."""
    a, b = as_tuple(a), as_tuple(b)
    if len(a) != len(b) or any(np.shape(u) != np.shape(v) for u, v in zip(a, b)):
        return False
    if case.op == "max":
        return all(np.array_equal(u, v) for u, v in zip(a, b))
    return all(np.allclose(u, v, rtol=1e-5, atol=1e-5) for u, v in zip(a, b))


def reference_fn(case: Case):
    return getattr(_reference, case.fn_name, None) if _reference is not None else None


def run_case(case: Case, args, rng) -> dict:
    shape = case.quick_shape if args.quick else case.shape
    x = make_input(case, shape, rng)
    kw = dict(case.kwargs)
    if case.return_indices:
        kw["return_indices"] = True
    row = dict(case=case.name, shape="x".join(map(str, shape)), layout=case.layout,
               checks=[])

    nd_fn = getattr(ndpool, case.fn_name)
    t_nd, out_nd = time_call(lambda: nd_fn(x, **kw, num_threads=args.threads),
                             args.repeats, args.budget)
    row["ndpool"] = t_nd
    moved = x.nbytes + sum(o.nbytes for o in as_tuple(out_nd))
    row["gbs"] = moved / t_nd / 1e9

    if F is not None:
        t = torch.from_numpy(x)  # shares memory and strides: NHWC memory is channels_last
        if case.channels_last:
            t = t.contiguous(memory_format=torch.channels_last)  # no-op, states the intent
        t_fn = getattr(F, case.fn_name)

        def torch_call():
            with torch.no_grad():
                return t_fn(t, **kw)

        row["torch"], out_t = time_call(torch_call, args.repeats, args.budget)
        out_t = tuple(o.numpy() for o in as_tuple(out_t))
        row["checks"].append("t" if same(case, out_nd, out_t) else "T!")
        del out_t

    ref = reference_fn(case)
    if ref is None:
        row["numpy_note"] = "n/a"
    else:
        # Estimate from an eighth of the batch; run the full call only if it looks cheap.
        # The margin: full calls of the reference measured up to ~2x slower than this
        # estimate (bigger temporaries, more page faults).
        part = x[: max(1, shape[0] // 8)]
        t0 = time.perf_counter()
        out_part = ref(part, **kw)
        est = (time.perf_counter() - t0) * shape[0] / part.shape[0]
        if est > 0.6 * args.slow:
            row["numpy_note"] = "slow"
            print(f"  {case.name} [{case.layout}]: numpy reference skipped (slow, estimated "
                  f"~{est:.1f} s per call); checked on {part.shape[0]} of {shape[0]} samples",
                  flush=True)
            ok, mark = same(case, nd_fn(part, **kw, num_threads=args.threads), out_part), "r~"
        else:
            row["numpy"], out_r = time_call(lambda: ref(x, **kw), args.repeats, args.budget,
                                            slow_s=args.slow)
            if row["numpy"] > args.slow:  # the estimate was low: repeats skipped instead
                print(f"  {case.name} [{case.layout}]: numpy reference repeats skipped (slow, "
                      f"{row['numpy']:.1f} s for one call)", flush=True)
            ok, mark = same(case, out_nd, out_r), "r"
        row["checks"].append(mark if ok else "R!")
    return row


def fmt_ms(seconds: float | None, note: str | None = None) -> str:
    if seconds is None:
        return note or "-"
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def fmt_x(num: float | None, den: float) -> str:
    return "-" if num is None else f"{num / den:.2f}x"


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def print_header(args, copy_gbs: float) -> None:
    info = ndpool.build_info()
    print("ndpool benchmark" + (" (quick)" if args.quick else ""))
    print(f"  machine   : {machine_name()} ({platform.machine()}), os.cpu_count()={os.cpu_count()}")
    print(f"  threads   : {args.threads} (ndpool num_threads=, torch.set_num_threads)")
    print(f"  versions  : python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}, "
          f"ndpool {ndpool.__version__}")
    print(f"  build     : buildtype={info['buildtype']} optimization={info['optimization']} "
          f"compiler={info['compiler']} openmp={info['openmp']} "
          f"c_args={info['c_args'] or '(none)'}")
    policy = os.environ.get("OMP_WAIT_POLICY", "(unset: libgomp default)")
    if os.environ.get(_SET_BY_BENCH):
        policy += " (bench default; set OMP_WAIT_POLICY or GOMP_SPINCOUNT to override)"
    spin = os.environ.get("GOMP_SPINCOUNT")
    print(f"  OpenMP    : OMP_WAIT_POLICY={policy}" + (f", GOMP_SPINCOUNT={spin}" if spin else ""))
    if "OMP_WAIT_POLICY" not in os.environ and not spin:
        print("              warning: libgomp's default spinning can add ms to parallel calls "
              "on a busy machine (see the top of ndpool/bench.py)")
    # Other processes on a small machine skew timings more than anything measured here.
    print(f"  load avg  : {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    if reference_fn(CASES[0]) is None:
        why = _reference_error or f"it has no {CASES[0].fn_name}"
        print(f"  numpy     : ndpool.reference not usable ({why}); numpy column shows n/a")
    print(f"  copy roofline: {copy_gbs:.1f} GB/s (np.copyto of 256 MiB float32, "
          "read+write bytes, one thread)")
    print(f"  timing    : min of {args.repeats} after 1 warm-up; numpy skipped when a call, "
          f"estimated from 1/8 of the batch, would take > {0.6 * args.slow:g} s")
    print()


COLUMNS = [("case", 18, "<"), ("shape", 17, "<"), ("layout", 6, "<"), ("ndpool ms", 9, ">"),
           ("numpy ms", 9, ">"), ("torch ms", 9, ">"), ("vs numpy", 8, ">"),
           ("vs torch", 8, ">"), ("GB/s", 6, ">"), ("%copy", 5, ">"), ("check", 5, "<")]


def print_row(cells: list[str]) -> None:
    print("  ".join(f"{c:{align}{w}}" for c, (_, w, align) in zip(cells, COLUMNS)).rstrip())


def print_table(rows: list[dict], copy_gbs: float) -> None:
    print_row([c[0] for c in COLUMNS])
    print("-" * (sum(w for _, w, _ in COLUMNS) + 2 * (len(COLUMNS) - 1)))
    for r in rows:
        print_row([r["case"], r["shape"], r["layout"], fmt_ms(r["ndpool"]),
                   fmt_ms(r.get("numpy"), r.get("numpy_note")), fmt_ms(r.get("torch"), "n/a"),
                   fmt_x(r.get("numpy"), r["ndpool"]), fmt_x(r.get("torch"), r["ndpool"]),
                   f"{r['gbs']:.1f}", f"{100 * r['gbs'] / copy_gbs:.0f}",
                   " ".join(r["checks"]) or "-"])
    print()
    print("check: t / r = ndpool's output equals torch's / the reference's (max: exact, "
          "indices too; avg: allclose);")
    print("       r~ = checked on part of the batch (numpy skipped as slow); T! / R! = MISMATCH.")
    print("GB/s: (input + output [+ indices] bytes) / ndpool time; %copy: of the copy roofline "
          "(a one-thread copy, so threads can pass 100).")
    for other in ("torch", "numpy"):
        g = geomean([r[other] / r["ndpool"] for r in rows if r.get(other)])
        if g is not None:
            print(f"geometric mean speed-up vs {other}: {g:.2f}x")


def write_png(rows: list[dict], path: str, threads: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--png: matplotlib is not installed; no chart written to {path} "
              "(pip install matplotlib to get one)")
        return
    labels = [f"{r['case']}\n{r['layout']}" for r in rows]
    pos = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(rows)), 4.5))
    for i, other in enumerate(("torch", "numpy")):
        vals = [r[other] / r["ndpool"] if r.get(other) else np.nan for r in rows]
        if not np.isnan(vals).all():
            ax.bar(pos + (i - 0.5) * 0.4, vals, 0.4, label=f"vs {other}")
    ax.axhline(1, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("ndpool speed-up (x, log scale)")
    ax.set_title(f"ndpool speed-up, {threads} thread(s); above 1 = ndpool faster")
    ax.set_xticks(pos, labels, fontsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart written to {path}")


def run(args) -> list[dict]:
    if torch is not None:
        torch.set_num_threads(args.threads)
    copy_gbs = measure_copy_bandwidth(repeats=3 if args.quick else 5)
    print_header(args, copy_gbs)
    rng = np.random.default_rng(0)
    rows = []
    for case in CASES:
        if args.cases and not any(s in case.name for s in args.cases):
            continue
        rows.append(run_case(case, args, rng))
    print_table(rows, copy_gbs)
    if args.png:
        write_png(rows, args.png, args.threads)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m ndpool.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller shapes, fewer repeats (< 1 min)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for ndpool and torch (default: ndpool.build_info()['max_threads'])")
    p.add_argument("--png", metavar="PATH", help="write a bar chart of the speed-ups (matplotlib)")
    p.add_argument("--cases", nargs="+", metavar="TEXT",
                   help="only cases whose name contains one of these strings")
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = ndpool.build_info()["max_threads"]
    if args.threads < 1:
        p.error("--threads must be at least 1")
    args.repeats = 3 if args.quick else 7
    args.budget = 2.0 if args.quick else 6.0  # seconds of repeats per case and backend
    args.slow = 1.0 if args.quick else 3.0  # seconds per numpy-reference call
    run(args)


def exec_with_wait_policy() -> None:
    """Re-run this command with OMP_WAIT_POLICY set, unless the user chose a wait policy."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["OMP_WAIT_POLICY"] = _WAIT_POLICY
    os.environ[_SET_BY_BENCH] = "1"
    argv = getattr(sys, "orig_argv", None) or [sys.executable, "-m", "ndpool.bench", *sys.argv[1:]]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    exec_with_wait_policy()  # only as a command: never re-execute a process that imports us
    main()
