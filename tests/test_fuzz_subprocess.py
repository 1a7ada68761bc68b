"""Crash isolation: a seeded fuzz loop, in a subprocess, over every public function.

Each call gets randomly corrupted arguments and must either return or raise ValueError or
TypeError.  Anything else fails the test: another exception type (the child exits 1 and
prints it), a segfault (negative return code) or a hang (timeout).
"""

import json
import subprocess
import sys
import textwrap

FUZZ = textwrap.dedent(r'''
    import json, sys, time
    import numpy as np
    import ndpool

    CALLS = int(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    DTYPES = [np.float32, np.float64, np.int8, np.uint8, np.int64, np.bool_, np.float16,
              np.complex64, object, ">f4", ">f8", ">i2", np.uint64]
    # Adaptive output sizes leave out 2**31 - 1: a valid request, but its output would take
    # tens of GiB.  Window sizes take it (the kernels only walk taps that reach the input).
    WILD_OUT = [-2**64, -2**63, -2**31, -3, -1, 0, 2**31, 2**63, 2**64, 2.0, "2", True, None, (), "same"]
    WILD = WILD_OUT + [2**31 - 1]

    def pick(seq):
        return seq[rng.integers(len(seq))]

    def size(nd, lo=1, hi=4, wild=0.3, pool=WILD):
        """A size argument: mostly small ints or tuples, sometimes anything."""
        if rng.random() < wild:
            v = pick(pool)
            return tuple(pick(pool) for _ in range(rng.integers(0, 5))) if rng.random() < 0.2 else v
        if rng.random() < 0.5:
            return int(rng.integers(lo, hi + 1))
        return tuple(int(rng.integers(lo, hi + 1)) for _ in range(nd if rng.random() < 0.9 else nd + 1))

    def view(a):
        """The same data through odd strides: negative steps, transposes, broadcasts."""
        r = rng.random()
        if a.ndim and r < 0.25:
            ax = rng.integers(a.ndim)
            return a[(slice(None),) * ax + (slice(None, None, -int(rng.integers(1, 3))),)]
        if a.ndim >= 2 and r < 0.45:
            return np.swapaxes(a, -1, -2)
        if a.ndim and r < 0.6 and 0 not in a.shape:
            shape = list(a.shape)
            ax = rng.integers(a.ndim)
            shape[ax] = int(rng.integers(1, 4))
            return np.broadcast_to(a[(slice(None),) * ax + (slice(0, 1),)], shape)
        return a

    def array(shape, dtype):
        try:
            a = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
        except (TypeError, ValueError):
            a = np.zeros(shape, dtype)
        return view(a)

    def shape_for(nd):
        rank = nd + 2 - int(rng.random() < 0.3) + (int(rng.integers(-3, 3)) if rng.random() < 0.1 else 0)
        return tuple(int(pick([0, 1, 1, 2, 3, 5, 8])) if rng.random() < 0.1 else int(rng.integers(1, 9))
                     for _ in range(max(rank, 0)))

    def dtype():
        return pick(DTYPES) if rng.random() < 0.3 else pick([np.float32, np.float64])

    def forward_args(op, nd):
        x = array(shape_for(nd), dtype())
        kw = {}
        if rng.random() < 0.2:
            kw["data_format"] = pick(["channels_last", "channels_first", "NHWC"])
        if rng.random() < 0.1:
            kw["num_threads"] = pick([1, 2, 0, -1, 1.0, None])
        if op.startswith("adaptive"):
            out = size(nd, 0, 6, wild=0.2, pool=WILD_OUT)
            if op == "adaptive_max" and rng.random() < 0.5:
                kw["return_indices"] = True
            return (x, out), kw
        kw.update(stride=size(nd), padding=size(nd, 0, 2), ceil_mode=bool(rng.random() < 0.3))
        if op == "max":
            kw.update(dilation=size(nd, 1, 2, wild=0.1), return_indices=bool(rng.random() < 0.5))
        else:
            kw.update(count_include_pad=bool(rng.random() < 0.5),
                      divisor_override=pick([None, None, None, 1, 3, -2, 0, 2**31, 2.0]))
        return (x, size(nd, 1, 4)), kw

    def backward_args(op, nd):
        """A real forward's output and indices, then corrupted; else random arrays."""
        fwd = getattr(ndpool, f"{op}_pool{nd}d")
        shape = (int(rng.integers(0, 3)), int(rng.integers(1, 4))) + tuple(int(rng.integers(1, 9)) for _ in range(nd))
        x = rng.standard_normal(shape).astype(np.float32)
        try:
            if op in ("max", "adaptive_max"):
                y, idx = fwd(x, 2 if op == "max" else int(rng.integers(0, 5)), return_indices=True)
            else:
                y, idx = fwd(x, 2 if op == "avg" else int(rng.integers(0, 5))), None
        except ValueError:  # input too small for the window
            y, idx = np.zeros((shape[0], shape[1]) + (1,) * nd, np.float32), np.zeros((shape[0], shape[1]) + (1,) * nd, np.int64)
        g = array(y.shape, dtype()) if rng.random() < 0.9 else array(shape_for(nd), dtype())
        if idx is not None:
            idx = idx.copy() if idx is not None else None
            if idx.size and rng.random() < 0.3:
                plane = int(np.prod(shape[2:]))
                idx.flat[rng.integers(idx.size)] = pick([-1, plane, plane + 1, 2**62, -2**63, 2**63 - 1])
            if rng.random() < 0.15:
                idx = idx.astype(pick([np.int32, np.float64, np.uint64, ">i8"]))
            if rng.random() < 0.1:
                idx = idx[..., :1]
            idx = view(idx) if rng.random() < 0.2 else idx
        in_shape = list(shape)
        if rng.random() < 0.3:
            i = rng.integers(len(in_shape))
            in_shape[i] = pick([0, -1, -8, 1, 3, 2**31 - 1 if i < 2 else 1, 8.0, "8", True])
        if rng.random() < 0.1:
            in_shape = in_shape[1:] if rng.random() < 0.5 else in_shape + [4]
        in_shape = tuple(in_shape) if rng.random() < 0.95 else pick([np.array(shape), None, 8])
        kw = {"data_format": "channels_last"} if rng.random() < 0.1 else {}
        if op == "avg":
            kw.update(stride=size(nd, 1, 3, wild=0.1), padding=size(nd, 0, 1, wild=0.1),
                      divisor_override=pick([None, None, 2, 0, 2**31]))
            return (g, in_shape, size(nd, 1, 3, wild=0.1)), kw
        if idx is not None:
            return (g, idx, in_shape), kw
        return (g, in_shape), kw

    counts = {"returned": 0, "ValueError": 0, "TypeError": 0}
    start = time.perf_counter()
    for i in range(CALLS):
        op = pick(["max", "avg", "adaptive_max", "adaptive_avg"])
        nd = int(rng.integers(1, 4))
        backward = rng.random() < 0.45
        name = f"{op}_pool{nd}d" + ("_backward" if backward else "")
        args, kw = (backward_args if backward else forward_args)(op, nd)
        try:
            res = getattr(ndpool, name)(*args, **kw)
            for r in res if isinstance(res, tuple) else (res,):
                assert isinstance(r, np.ndarray), type(r)
            counts["returned"] += 1
        except (ValueError, TypeError) as e:
            if not str(e).startswith(name + ":"):
                print(f"call {i}: {name} raised {type(e).__name__} without its name: {e}", flush=True)
                sys.exit(2)
            counts[type(e).__name__] += 1
        except BaseException as e:
            desc = [(a.shape, a.dtype, a.strides) if isinstance(a, np.ndarray) else a for a in args]
            print(f"call {i}: {name}{desc!r} {kw!r} raised {type(e).__name__}: {e}", flush=True)
            sys.exit(1)
    counts["calls"] = CALLS
    counts["seconds"] = round(time.perf_counter() - start, 2)
    ndpool.build_info()
    print(json.dumps(counts))
''')


def run_fuzz(calls: int, seed: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", FUZZ, str(calls), str(seed)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (f"fuzz child exited with {proc.returncode} (negative: killed by a "
                                  f"signal, e.g. -11 for a segfault)\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fuzz_every_public_function_in_a_subprocess():
    counts = run_fuzz(4000, seed=20261121)
    assert counts["calls"] == counts["returned"] + counts["ValueError"] + counts["TypeError"]
    for category in ("returned", "ValueError", "TypeError"):
        assert counts[category] > 100, counts
