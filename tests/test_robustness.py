"""Reliability: thread safety and the GIL, memory growth and peak memory, determinism across
thread counts, and index arithmetic on planes of more than 2**31 elements (slow, opt-in)."""

from __future__ import annotations

import concurrent.futures
import gc
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import ndpool
from ndpool import _backward, _layout, _threading

from _helpers import random_values

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SMALL = 64 * KiB  # allowed slack beyond the arrays a call returns


def as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def as_bytes(r) -> bytes:
    return b"".join(np.ascontiguousarray(a).tobytes() + str(a.strides).encode() for a in as_tuple(r))


def channels_last_memory(x: np.ndarray) -> np.ndarray:
    """Same logical (N, C, *spatial) array, stored channels-last."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)


def in_layout(x: np.ndarray, layout: str) -> np.ndarray:
    return channels_last_memory(x) if layout == "channels_last_memory" else np.ascontiguousarray(x)


# --------------------------------------------------------------------------------------------
# Every public operation as (name, forward(x, **kw) -> result, backward(x, fwd, g, **kw) or None)
# on inputs of any nd.  The tests that compare thread counts lower the serial cut-offs
# (conftest's parallel_small_calls), so that every call runs on the threads asked for.

GEOM = {1: dict(k=3, s=2, p=1, out=13), 2: dict(k=3, s=2, p=1, out=(7, 9)),
        3: dict(k=3, s=2, p=1, out=(3, 5, 7))}
DET_SHAPES = {1: (4, 32, 4000), 2: (2, 32, 80, 80), 3: (2, 16, 16, 32, 32)}


def forward_ops(nd: int):
    g = GEOM[nd]
    f = lambda op: getattr(ndpool, f"{op}_pool{nd}d")  # noqa: E731
    return {
        "max": lambda x, **kw: f("max")(x, g["k"], g["s"], g["p"], **kw),
        "max_indices": lambda x, **kw: f("max")(x, g["k"], g["s"], g["p"], return_indices=True, **kw),
        "max_dilated": lambda x, **kw: f("max")(x, 2, 1, 0, 2, ceil_mode=True, **kw),
        "avg": lambda x, **kw: f("avg")(x, g["k"], g["s"], g["p"], count_include_pad=False, **kw),
        "avg_divisor": lambda x, **kw: f("avg")(x, g["k"], g["s"], g["p"], ceil_mode=True,
                                                divisor_override=5, **kw),
        "adaptive_max": lambda x, **kw: f("adaptive_max")(x, g["out"], **kw),
        "adaptive_max_indices": lambda x, **kw: f("adaptive_max")(x, g["out"], return_indices=True, **kw),
        "adaptive_avg": lambda x, **kw: f("adaptive_avg")(x, g["out"], **kw),
    }


def backward_ops(nd: int):
    """name -> (forward name giving grad shape/indices, backward(fwd_result, grad, shape, **kw))."""
    g = GEOM[nd]
    b = lambda op: getattr(ndpool, f"{op}_pool{nd}d_backward")  # noqa: E731
    return {
        "max_backward": ("max_indices", lambda fw, gr, shape, **kw: b("max")(gr, fw[1], shape, **kw)),
        "avg_backward": ("avg", lambda fw, gr, shape, **kw: b("avg")(
            gr, shape, g["k"], g["s"], g["p"], count_include_pad=False, **kw)),
        "avg_backward_divisor": ("avg_divisor", lambda fw, gr, shape, **kw: b("avg")(
            gr, shape, g["k"], g["s"], g["p"], ceil_mode=True, divisor_override=5, **kw)),
        "adaptive_max_backward": ("adaptive_max_indices",
                                  lambda fw, gr, shape, **kw: b("adaptive_max")(gr, fw[1], shape, **kw)),
        "adaptive_avg_backward": ("adaptive_avg",
                                  lambda fw, gr, shape, **kw: b("adaptive_avg")(gr, shape, **kw)),
    }


def grad_like(fw, layout: str, seed: int = 0) -> np.ndarray:
    out = as_tuple(fw)[0]
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    return in_layout(g, layout)


# --------------------------------------------------------------------------------------------
# 1. Thread safety and the GIL

N_PY_THREADS = 8
ROUNDS = 20


def _mixed_calls(x: np.ndarray):
    """A mix of forward and backward calls on x (N, C, H, W) and on 1-D/3-D views of it."""
    def calls(num_threads):
        kw = dict(num_threads=num_threads)
        y, idx = ndpool.max_pool2d(x, 3, 2, 1, return_indices=True, **kw)
        a = ndpool.avg_pool2d(x, 3, 2, 1, count_include_pad=False, **kw)
        am, aidx = ndpool.adaptive_max_pool2d(x, (7, 9), return_indices=True, **kw)
        aa = ndpool.adaptive_avg_pool2d(x, (5, 6), **kw)
        x1 = x.reshape(x.shape[0], x.shape[1], -1)
        m1 = ndpool.max_pool1d(x1, 4, 3, dilation=2, **kw)
        x3 = x.reshape(x.shape[0], x.shape[1], 4, x.shape[2] // 4, x.shape[3])
        a3 = ndpool.avg_pool3d(x3, 2, ceil_mode=True, **kw)
        return (y, idx, a, am, aidx, aa, m1, a3,
                ndpool.max_pool2d_backward(y, idx, x.shape, **kw),
                ndpool.avg_pool2d_backward(a, x.shape, 3, 2, 1, count_include_pad=False, **kw),
                ndpool.adaptive_max_pool2d_backward(am, aidx, x.shape, **kw),
                ndpool.adaptive_avg_pool2d_backward(aa, x.shape, **kw),
                ndpool.avg_pool3d_backward(a3, x3.shape, 2, ceil_mode=True, **kw))
    return calls


@pytest.mark.parametrize("shared", [False, True], ids=["own_inputs", "shared_readonly_input"])
def test_python_threads_match_serial_bit_for_bit(shared, parallel_small_calls):
    rng = np.random.default_rng(11)
    shape = (2, 16, 64, 64)
    if shared:
        x = random_values(rng, shape, np.float32)
        x.flags.writeable = False
        inputs = [x] * N_PY_THREADS
    else:
        inputs = [random_values(rng, shape, np.float64 if i % 2 else np.float32)
                  for i in range(N_PY_THREADS)]
        inputs[3] = channels_last_memory(inputs[3])
    before = [x.tobytes() for x in inputs]
    expected = [as_bytes(_mixed_calls(x)(1)) for x in inputs]

    def worker(i):
        calls = _mixed_calls(inputs[i])
        for r in range(ROUNDS):
            for nt in (1, 2) if (r + i) % 2 else (2, 1):
                assert as_bytes(calls(nt)) == expected[i], f"thread {i} round {r} num_threads={nt}"
        return ROUNDS * 2 * 13

    barrier_start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(N_PY_THREADS) as pool:
        done = list(pool.map(worker, range(N_PY_THREADS)))
    assert sum(done) == N_PY_THREADS * ROUNDS * 2 * 13  # 1248 calls
    assert time.perf_counter() - barrier_start < 60
    assert [x.tobytes() for x in inputs] == before  # inputs untouched


def _long_calls():
    x = random_values(np.random.default_rng(5), (1, 12, 1024, 1024), np.float32)
    y = np.ones((1, 12, 1024, 1024), np.float32)
    idx = np.broadcast_to(np.arange(1024 * 1024, dtype=np.int64).reshape(1, 1, 1024, 1024), y.shape)
    return {  # each about 0.2-0.4 s on one thread (max: separable passes, so a few calls)
        "max_pool2d": lambda: [ndpool.max_pool2d(x, 9, 1, 4, num_threads=1) for _ in range(8)],
        "avg_pool2d": lambda: ndpool.avg_pool2d(x, 9, 1, 4, num_threads=1),
        "avg_pool2d_backward": lambda: ndpool.avg_pool2d_backward(y, x.shape, 9, 1, 4, num_threads=1),
        "adaptive_avg_pool2d": lambda: ndpool.adaptive_avg_pool2d(x, (1000, 1000), num_threads=1),
        "max_pool2d_backward": lambda: [ndpool.max_pool2d_backward(y, idx, x.shape, num_threads=1)
                                        for _ in range(3)],
    }


def test_gil_is_released_during_kernels():
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        report = {}
        for name, call in _long_calls().items():
            for attempt in range(3):  # a loaded VM may starve the spinner once
                c0, t0 = count[0], time.perf_counter()
                time.sleep(0.1)  # main thread idle: the spinner's free-running rate
                idle_rate = (count[0] - c0) / (time.perf_counter() - t0)
                c0, t0 = count[0], time.perf_counter()
                call()
                dt = time.perf_counter() - t0
                busy_rate = (count[0] - c0) / dt
                report[name] = (round(dt, 3), round(busy_rate / idle_rate, 2))
                # Holding the GIL for the whole call would leave the spinner near 0 (it could
                # only run during the call's few ms of Python); released, it runs at about
                # its idle rate on the other core.
                if dt > 0.05 and busy_rate > 0.25 * idle_rate:
                    break
            else:
                pytest.fail(f"{name}: spinner rate during the kernel / idle rate = {report[name]}")
    finally:
        stop.set()
        spinner.join()
    print("GIL: (seconds, counter rate during kernel / idle rate)", report)


# --------------------------------------------------------------------------------------------
# 2. Memory: no growth over 10,000 calls; peak memory of one call

FAMILY_CALLS = 10_000


def _family_step(family: str):
    rng = np.random.default_rng(1)
    xs = {nd: random_values(rng, (1, 2) + (6,) * nd, np.float32) for nd in (1, 2, 3)}
    xs_cl = {nd: channels_last_memory(x) for nd, x in xs.items()}

    def step(i):
        nd = 1 + i % 3
        x = xs_cl[nd] if i % 2 else xs[nd]
        fw = lambda op: getattr(ndpool, f"{op}_pool{nd}d")  # noqa: E731
        bw = lambda op: getattr(ndpool, f"{op}_pool{nd}d_backward")  # noqa: E731
        if family == "max":
            y, idx = fw("max")(x, 2, 1, 1, return_indices=True)
            bw("max")(y, idx, x.shape)
        elif family == "avg":
            y = fw("avg")(x, 3, 2, 1, count_include_pad=bool(i % 4))
            bw("avg")(y, x.shape, 3, 2, 1, count_include_pad=bool(i % 4))
        elif family == "adaptive_max":
            y, idx = fw("adaptive_max")(x, 4, return_indices=True)
            bw("adaptive_max")(y, idx, x.shape)
        else:
            y = fw("adaptive_avg")(x, 4)
            bw("adaptive_avg")(y, x.shape)
    return step


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("family", ["max", "avg", "adaptive_max", "adaptive_avg"])
def test_no_memory_growth_over_10000_calls(family):
    step = _family_step(family)
    # (b) resident memory, without tracemalloc's own bookkeeping
    for i in range(500):
        step(i)
    gc.collect()
    rss0 = _rss()
    for i in range(FAMILY_CALLS):
        step(i)
    gc.collect()
    rss_growth = _rss() - rss0
    # (a) memory traced by Python and NumPy's allocator
    tracemalloc.start()
    try:
        for i in range(500):
            step(i)
        gc.collect()
        traced0 = tracemalloc.get_traced_memory()[0]
        for i in range(FAMILY_CALLS):
            step(i)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()
    print(f"{family}: {2 * FAMILY_CALLS} calls, traced growth {traced_growth} B, RSS growth {rss_growth} B")
    assert traced_growth < SMALL
    assert rss_growth < 4 * MiB


def _peak_of(call, tries=3):
    """(result, bytes allocated at the peak of call beyond what was live before it): the
    least of a few calls, because tracemalloc also counts what other threads allocate
    meanwhile (pytest-xdist's messaging thread once added 76 KB); a call that allocates
    too much does so every time.  Every result stays referenced until the end, so that no
    try gets an earlier try's result memory back from the buffer pool."""
    peaks, results = [], []
    for _ in range(tries):
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            results.append(call())
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
    return results[-1], min(peaks)


PEAK_SHAPES = {1: (4, 16, 16384), 2: (4, 16, 128, 128), 3: (2, 16, 16, 32, 32)}  # 1 Mi elements


@pytest.fixture
def no_input_copy(monkeypatch):
    monkeypatch.setattr(_layout, "copy_to_layout",
                        lambda *a: pytest.fail("input was copied"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last_memory", "data_format_channels_last"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("op", ["max", "max_indices", "avg", "adaptive_max",
                                "adaptive_max_indices", "adaptive_avg"])
def test_forward_peak_memory_is_the_output(op, nd, layout, dtype, no_input_copy):
    x = random_values(np.random.default_rng(0), PEAK_SHAPES[nd], dtype)
    kw = {}
    if layout == "data_format_channels_last":
        x, kw = np.ascontiguousarray(np.moveaxis(x, 1, -1)), dict(data_format="channels_last")
    else:
        x = in_layout(x, layout)
    fn = forward_ops(nd)[op]
    result, peak = _peak_of(lambda: fn(x, **kw))
    out_bytes = sum(a.nbytes for a in as_tuple(result))
    assert peak <= out_bytes + SMALL, (peak, out_bytes, x.nbytes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last_memory"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("op", ["max_backward", "avg_backward", "adaptive_max_backward",
                                "adaptive_avg_backward"])
def test_backward_peak_memory_is_the_result(op, nd, layout, dtype, no_input_copy):
    x = in_layout(random_values(np.random.default_rng(0), PEAK_SHAPES[nd], dtype), layout)
    fwd_name, bwd = backward_ops(nd)[op]
    fw = forward_ops(nd)[fwd_name](x)
    g = grad_like(fw, layout)
    result, peak = _peak_of(lambda: bwd(fw, g, x.shape))
    assert result.shape == x.shape and result.dtype == dtype
    assert peak <= result.nbytes + SMALL, (peak, result.nbytes)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.bool_])
@pytest.mark.parametrize("op", ["avg", "adaptive_avg"])
def test_integer_average_peak_memory_is_the_output(op, dtype):
    x = random_values(np.random.default_rng(0), PEAK_SHAPES[2], dtype)
    result, peak = _peak_of(lambda: forward_ops(2)[op](x))
    assert peak <= result.nbytes + SMALL, (peak, result.nbytes, x.nbytes)


# --------------------------------------------------------------------------------------------
# 3. Determinism across thread counts

THREAD_COUNTS = (1, 2, 3, 4, 8)


@pytest.fixture
def thread_spy(monkeypatch):
    """Records the thread count each kernel call was given."""
    seen = []
    threads_for = _threading.threads_for

    def spy(*args):
        n = threads_for(*args)
        seen.append(n)
        return n

    # window_threads and stream_threads (_pooling's, _adaptive's) call _threading's own.
    for mod in (_threading, _backward):
        monkeypatch.setattr(mod, "threads_for", spy)
    return seen


def test_small_calls_run_serially(thread_spy):
    """Below SERIAL_WORK element reads and writes a call runs on one thread.  Channels-last
    windows over many channels, and global pooling, stream their input: they stay serial
    below STREAM_SERIAL_WORK reads unless the input has PARALLEL_CELLS values or more.  A
    channels-last call with few channels counts each pixel tap as CL_VISIT reads."""
    x = np.zeros((1, 3, 224, 224), np.float32)
    ndpool.max_pool2d(x, 2, num_threads=2)  # 150k reads
    assert thread_spy[-1] == 1
    ndpool.max_pool2d(x, 7, 2, num_threads=2)  # 1.7M reads
    assert thread_spy[-1] == 2
    cl3 = np.moveaxis(x, 1, -1).copy()
    ndpool.max_pool2d(cl3, 2, data_format="channels_last", num_threads=2)  # 3 channels: 800k
    assert thread_spy[-1] == 1
    ndpool.max_pool2d(cl3, 3, 2, data_format="channels_last", num_threads=2)  # 1.8M visit reads
    assert thread_spy[-1] == 2
    wide = np.zeros((8, 28, 28, 64), np.float32)  # 64 channels, 400k values
    ndpool.avg_pool2d(wide, 3, 1, 1, data_format="channels_last", num_threads=2)  # 3.6M reads
    assert thread_spy[-1] == 1
    ndpool.avg_pool2d(wide, 5, 1, 2, data_format="channels_last", num_threads=2)  # 10M reads
    assert thread_spy[-1] == 2
    big = np.zeros((8, 64, 64, 64), np.float32)  # 2.1M values
    ndpool.avg_pool2d(big, 2, data_format="channels_last", num_threads=2)  # 2.1M reads
    assert thread_spy[-1] == 2
    ndpool.adaptive_max_pool2d(wide, 1, data_format="channels_last", num_threads=2)
    assert thread_spy[-1] == 1
    ndpool.adaptive_max_pool2d(big, 1, data_format="channels_last", num_threads=2)
    assert thread_spy[-1] == 2
    cf = np.zeros((8, 64, 28, 28), np.float32)
    ndpool.adaptive_avg_pool2d(cf, 1, num_threads=2)  # global: streamed, serial
    assert thread_spy[-1] == 1
    ndpool.adaptive_avg_pool2d(cf, 7, num_threads=2)  # 400k reads
    assert thread_spy[-1] == 1
    ndpool.adaptive_avg_pool2d(cf, 24, num_threads=2)  # 1.2M reads
    assert thread_spy[-1] == 2
    g = np.zeros((8, 64, 14, 14), np.float32)
    ndpool.avg_pool2d_backward(g, cf.shape, 2, num_threads=2)  # 400k reads + 400k writes
    assert thread_spy[-1] == 1
    ndpool.avg_pool2d_backward(g, cf.shape, 3, 2, 1, num_threads=2)  # 900k + 400k
    assert thread_spy[-1] == 2


# In a fresh process: serial calls (one-thread regions, run without a libgomp team since
# _serial_regions.h) start no OpenMP threads; a parallel call still does, and both agree.
_OS_THREADS_SCRIPT = """
import os
import numpy as np
import ndpool
def os_threads():
    return len(os.listdir("/proc/self/task"))
x = np.random.default_rng(0).standard_normal((4, 64, 64, 64), dtype=np.float32)
small = x[:1, :4, :8, :8]
before = os_threads()
serial = [ndpool.max_pool2d(small, 2), ndpool.avg_pool2d(x, 3, 1, 1, num_threads=1),
          ndpool.adaptive_max_pool2d(x, 5, num_threads=1)]
after_serial = os_threads()
parallel = [ndpool.max_pool2d(small, 2, num_threads=4),
            ndpool.avg_pool2d(x, 3, 1, 1, num_threads=4),
            ndpool.adaptive_max_pool2d(x, 5, num_threads=4)]
print(before, after_serial, os_threads(),
      all(np.array_equal(a, b) for a, b in zip(serial, parallel)))
"""


@pytest.mark.skipif(not ndpool.build_info()["openmp"] or not os.path.isdir("/proc/self/task"),
                    reason="needs an OpenMP build and /proc/self/task")
def test_parallel_calls_still_use_threads_after_serial_ones():
    out = subprocess.run([sys.executable, "-c", _OS_THREADS_SCRIPT], capture_output=True,
                         text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "4"})
    before, after_serial, after_parallel, same = out.stdout.split()
    assert after_serial == before, out.stdout
    assert int(after_parallel) >= int(before) + 1, out.stdout  # OpenMP's workers
    assert same == "True"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last_memory"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_every_op_is_identical_for_any_thread_count(nd, layout, dtype, thread_spy,
                                                   parallel_small_calls):
    x = in_layout(random_values(np.random.default_rng(nd), DET_SHAPES[nd], dtype), layout)
    fwd = forward_ops(nd)
    forward_results = {}
    for name, fn in fwd.items():
        runs = [as_bytes(fn(x, num_threads=t)) for t in THREAD_COUNTS]
        assert all(r == runs[0] for r in runs), f"{name}: bytes differ across {THREAD_COUNTS}"
        forward_results[name] = fn(x)
        assert thread_spy[-2] == 8, f"{name} did not run in parallel (work too small?)"
    for name, (fwd_name, bwd) in backward_ops(nd).items():
        fw = forward_results[fwd_name]
        g = grad_like(fw, layout, seed=nd)
        runs = [as_bytes(bwd(fw, g, x.shape, num_threads=t)) for t in THREAD_COUNTS]
        assert all(r == runs[0] for r in runs), f"{name}: bytes differ across {THREAD_COUNTS}"
        assert thread_spy[-1] == 8, f"{name} did not run in parallel (work too small?)"


# --------------------------------------------------------------------------------------------
# 4. Index arithmetic beyond 2**31 elements in one (n, c) plane (opt-in: --run-slow)

BIG = 2**31 + 4096
WIN = 2**20


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KiB / GiB


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * KiB for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _planted():
    """A (1, 1, BIG) uint8 plane, zero but for one nonzero value per max-pool window (stride
    WIN, ceil_mode) and per adaptive bin (2049 outputs); positions reach past 2**31."""
    x = np.zeros((1, 1, BIG), np.uint8)
    n_out = -(-(BIG - WIN) // WIN) + 1  # ceil_mode: the last window starts at 2**31
    assert n_out == 2049 and (n_out - 1) * WIN < BIG
    pos = np.array([w * WIN + (w * 7919) % min(WIN, BIG - w * WIN) for w in range(n_out)], np.int64)
    val = (np.arange(n_out) % 255 + 1).astype(np.uint8)
    x[0, 0, pos] = val
    return x, pos, val


@pytest.mark.slow
def test_max_pool_indices_beyond_2_31():
    t0 = time.perf_counter()
    x, pos, val = _planted()
    assert pos[-1] > 2**31 and pos.max() > np.iinfo(np.int32).max
    for data_format, a, want in (("channels_first", x, val),
                                 ("channels_first", x.view(np.bool_), np.ones_like(val, np.bool_)),
                                 ("channels_last", x.reshape(1, BIG, 1), val)):
        out, idx = ndpool.max_pool1d(a, WIN, ceil_mode=True, return_indices=True,
                                     data_format=data_format)
        out, idx = out.reshape(-1), idx.reshape(-1)
        assert idx.dtype == np.int64 and out.dtype == a.dtype
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(idx, pos)
    # Adaptive bins [floor(i*L/O), ceil((i+1)*L/O)): i*L exceeds 2**31 (and 2**32).
    n_bins = 2049
    starts = [(i * BIG) // n_bins for i in range(n_bins)]
    ends = [-(-((i + 1) * BIG) // n_bins) for i in range(n_bins)]
    mids = np.array([(s + e) // 2 for s, e in zip(starts, ends)], np.int64)
    del x, a
    y = np.zeros((1, 1, BIG), np.uint8)
    y[0, 0, mids] = val
    out, idx = ndpool.adaptive_max_pool1d(y, n_bins, return_indices=True)
    np.testing.assert_array_equal(out.reshape(-1), val)
    np.testing.assert_array_equal(idx.reshape(-1), mids)
    print(f"forward beyond 2**31: {time.perf_counter() - t0:.1f} s, peak RSS {_peak_rss_gib():.2f} GiB")


@pytest.mark.slow
def test_max_pool_backward_beyond_2_31():
    """Scatter to indices > 2**31 of an 8 GiB float32 result (the smallest float plane)."""
    if _available_bytes() < 12 * GiB:
        pytest.skip("needs about 9 GiB of free memory")
    t0 = time.perf_counter()
    pos, val = _planted()[1:]  # the 2 GiB input is freed here
    grad = (val.astype(np.float32) + 0.5).reshape(1, 1, -1)
    idx = pos.reshape(1, 1, -1)
    dx = ndpool.max_pool1d_backward(grad, idx, (1, 1, BIG))
    assert dx.shape == (1, 1, BIG) and dx.dtype == np.float32
    np.testing.assert_array_equal(dx[0, 0, pos], grad.reshape(-1))
    assert np.count_nonzero(dx) == len(pos)
    del dx
    # adaptive_max_pool1d_backward: same scatter through the adaptive entry point, with two
    # outputs sharing one index past 2**31 (gradients add).
    idx2 = idx.copy()
    idx2[0, 0, -2] = idx2[0, 0, -1]
    dx = ndpool.adaptive_max_pool1d_backward(grad, idx2, (1, 1, BIG))
    assert dx[0, 0, pos[-1]] == grad[0, 0, -1] + grad[0, 0, -2]
    assert np.count_nonzero(dx) == len(pos) - 1
    del dx
    print(f"backward beyond 2**31: {time.perf_counter() - t0:.1f} s, peak RSS {_peak_rss_gib():.2f} GiB")
