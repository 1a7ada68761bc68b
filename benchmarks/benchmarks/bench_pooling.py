"""Pooling forward and backward: ndpool vs NumPy vs PyTorch CPU (cases in ``_cases``).

Every benchmark is parameterised by (case, backend, direction, ...); ``setup`` builds the
input and the call (one warm-up call included), so only the pooling call is timed.
Skipped combinations (``n/a`` in asv's output) raise ``NotImplementedError`` in ``setup``.
``benchmarks/ratios.py`` turns the results into ndpool/torch and ndpool/numpy ratios.
"""

from ._cases import (BACKENDS, CASES, DIRECTIONS, DTYPE_CASES, LAYOUTS, MEMORY_CASES, THREADS,
                     build, describe)


class _Bench:
    # ndpool.reference on the larger cases takes seconds per call.
    timeout = 300.0
    # min 2, max 10 samples, up to 10 s per benchmark (asv's default is 20 s); asv's --quick
    # overrides this with a single call.
    repeat = (2, 10, 10.0)

    def teardown(self, *params):
        self.call = None


class Pool(_Bench):
    """float32 in both layouts: the main matrix."""

    params = [list(CASES), BACKENDS, DIRECTIONS, LAYOUTS]
    param_names = ["case", "backend", "direction", "layout"]

    def setup(self, case, backend, direction, layout):
        self.call = build(case, backend, direction, layout, "float32")

    def time_pool(self, case, backend, direction, layout):
        self.call()


class PoolIdiom(_Bench):
    """The NumPy idioms (reshape, reduction, sliding_window_view), forward only, float32."""

    params = [list(CASES), LAYOUTS]
    param_names = ["case", "layout"]

    def setup(self, case, layout):
        self.call = build(case, "numpy_idiom", "forward", layout, "float32")

    def time_pool(self, case, layout):
        self.call()


class PoolDtype(_Bench):
    """float64 (forward and backward) and uint8 (max forward), channels-first."""

    params = [DTYPE_CASES, BACKENDS, DIRECTIONS, ["float64", "uint8"]]
    param_names = ["case", "backend", "direction", "dtype"]

    def setup(self, case, backend, direction, dtype):
        self.call = build(case, backend, direction, "channels_first", dtype)

    def time_pool(self, case, backend, direction, dtype):
        self.call()


class PoolMemory(_Bench):
    """Peak resident memory of the process (input and imports included, as asv measures
    it): what a backend allocates on top of the input, float32 channels-first."""

    params = [MEMORY_CASES, BACKENDS, DIRECTIONS]
    param_names = ["case", "backend", "direction"]

    def setup(self, case, backend, direction):
        if backend == "copy":
            raise NotImplementedError("the copy floor is for timings")
        self.call = build(case, backend, direction, "channels_first", "float32")

    def peakmem_pool(self, case, backend, direction):
        self.call()


class BuildInfo:
    """The run's conditions, stored with the results: the parameter is one line with
    ndpool.build_info() (OpenMP, compiler, flags, debug), the NumPy and torch versions, the
    thread count, OMP_WAIT_POLICY, tiny mode and the CPU count.  asv's machine file
    (``asv machine``) holds the CPU model, RAM and OS."""

    params = [[describe()]]
    param_names = ["build"]

    def track_threads(self, build):
        return THREADS

    track_threads.unit = "threads"
