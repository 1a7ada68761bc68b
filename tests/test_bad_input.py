"""The bad-input matrix: every public pooling function against wrong ranks, sizes, dtypes,
byte orders, empty dimensions and (for the gradients) bad indices and input shapes.

Each case either raises ValueError/TypeError whose message starts with the function name
and names the argument, or returns a sane result that the case checks.
"""

import re

import numpy as np
import pytest

import ndpool

HUGE = [2**31, 2**63, 2**64]  # beyond int32, beyond int64 (signed), beyond uint64
BAD_DTYPES = [object, np.complex128, np.str_, np.float16]
I64 = np.iinfo(np.int64)


def raises(exc, arg):
    return ("raises", exc, arg)


def check(fn):
    return ("check", fn)


def shape_is(*shapes):
    """The result (or each array of a result tuple) has these shapes."""
    def _check(res):
        got = [r.shape for r in res] if isinstance(res, tuple) else [res.shape]
        assert got == list(shapes)
    return check(_check)


def equals(expected):
    def _check(res):
        for r, e in zip(res if isinstance(res, tuple) else (res,), expected if isinstance(expected, tuple) else (expected,)):
            assert r.dtype == e.dtype and r.shape == e.shape
            np.testing.assert_array_equal(r, e)
    return check(_check)


def x_of(nd, n=2, c=3, s=8, dtype=np.float32):
    return np.random.default_rng(nd).standard_normal((n, c) + (s,) * nd).astype(dtype)


def common_input_cases(name, nd, size_arg, call):
    """Rank, dtype, byte order and zero-size cases shared by every forward function;
    ``call(x)`` returns (args, kwargs) for a valid size argument."""
    x = x_of(nd)
    a, k = call(x)
    yield name, (np.zeros((), np.float32),) + a[1:], k, raises(ValueError, "input")      # 0-d
    yield name, (np.zeros(8, np.float32),) + a[1:], k, raises(ValueError, "input")       # 1-D
    yield name, (np.zeros((1,) * (nd + 3), np.float32),) + a[1:], k, raises(ValueError, "input")
    for dt in BAD_DTYPES:
        yield name, (np.zeros(x.shape, dt),) + a[1:], k, raises(TypeError, "input")
    native = getattr(ndpool, name)(*a, **k)
    yield name, (x.astype(x.dtype.newbyteorder(">")),) + a[1:], k, equals(native)
    empty = getattr(ndpool, name)(x[:0], *a[1:], **k)
    assert all(r.shape[0] == 0 for r in (empty if isinstance(empty, tuple) else (empty,)))
    out = native if isinstance(native, tuple) else (native,)
    yield name, (x[:0],) + a[1:], k, shape_is(*[(0,) + r.shape[1:] for r in out])
    yield name, (x[:, :0],) + a[1:], k, raises(ValueError, "input")                      # C = 0
    yield name, (x[..., :0],) + a[1:], k, raises(ValueError, "input")                    # spatial 0


def bad_int_cases(name, x, nd, arg, pos=None, extra=None, negative=True):
    """Zero / negative / huge / wrong-length / wrong-type values for one size argument."""
    def call(v):
        if pos is not None:
            return name, (x, v), dict(extra or {})
        return name, (x, 2), dict(extra or {}, **{arg: v})
    values = ([0, -1] if negative else [0]) + HUGE + [-2**64]
    for v in values:
        yield call(v) + (raises(ValueError, arg),)
    yield call((2,) * (nd + 1)) + (raises(ValueError, arg),)
    yield call(("2",) * nd) + (raises(TypeError, arg),)
    yield call(2.0) + (raises(TypeError, arg),)
    yield call("2") + (raises(ValueError if arg == "padding" else TypeError, arg),)


def window_cases(op, nd):
    name, x = f"{op}_pool{nd}d", x_of(nd)
    yield from common_input_cases(name, nd, "kernel_size", lambda x: ((x, 2), {"return_indices": True} if op == "max" else {}))
    yield from bad_int_cases(name, x, nd, "kernel_size", pos=0)
    yield from bad_int_cases(name, x, nd, "stride")
    yield from (c for c in bad_int_cases(name, x, nd, "padding", negative=True) if c[2]["padding"] != 0)
    if op == "max":
        yield from bad_int_cases(name, x, nd, "dilation")
    else:
        for v in [0] + HUGE + [-2**64]:
            yield name, (x, 2), {"divisor_override": v}, raises(ValueError, "divisor_override")
        for v in (1.5, "2", (2,)):
            yield name, (x, 2), {"divisor_override": v}, raises(TypeError, "divisor_override")


def adaptive_cases(op, nd):
    name, x = f"adaptive_{op}_pool{nd}d", x_of(nd)
    kw = {"return_indices": True} if op == "max" else {}
    yield from common_input_cases(name, nd, "output_size", lambda x: ((x, 3), kw))
    for v in [-1, -2**64] + HUGE + [(2,) * (nd + 1), ("2",) * nd, 2.0, "2", None]:
        exc = TypeError if isinstance(v, (str, float, type(None))) or (isinstance(v, tuple) and len(v) == nd) else ValueError
        yield name, (x, v), kw, raises(exc, "output_size")
    n_out = 2 if op == "max" else 1
    yield name, (x, 0), kw, shape_is(*[(2, 3) + (0,) * nd] * n_out)               # empty output
    yield name, (x, (0,) + (None,) * (nd - 1)), kw, shape_is(*[(2, 3, 0) + (8,) * (nd - 1)] * n_out)


def backward_common(name, nd, grad, shape, rest, with_idx, idx=None):
    """grad_output and input_shape cases; ``rest`` are the arguments after input_shape."""
    def call(g=grad, s=shape, i=idx):
        return (g, i, s) + rest if with_idx else (g, s) + rest
    for g in (np.zeros((), np.float32), np.zeros(4, np.float32), grad[None, None]):
        yield name, call(g=g, i=g.astype(np.int64)), {}, raises(ValueError, "grad_output")
    for dt in (np.int32, np.float16, np.complex64, object):
        yield name, call(g=grad.astype(dt)), {}, raises(TypeError, "grad_output")
    for s in (shape[1:], shape + (8,), (2, 3) + (0,) * nd, (2, 3) + (-8,) * nd, (2, 0) + shape[2:],
              (1,) + shape[1:], (2, 4) + shape[2:]):
        yield name, call(s=s), {}, raises(ValueError, "input_shape")
    for s in ((2, 3) + (8.0,) * nd, (2, 3) + ("8",) * nd, np.array(shape), 8, None, (2, 3) + (True,) * nd):
        yield name, call(s=s), {}, raises(TypeError, "input_shape")
    native = getattr(ndpool, name)(*call())
    yield name, call(g=grad.astype(grad.dtype.newbyteorder(">"))), {}, equals(native)
    yield name, call(g=grad[:0], s=(0,) + shape[1:], i=None if idx is None else idx[:0]), {}, shape_is((0,) + shape[1:])


def backward_cases(op, nd):
    name = f"{op}_pool{nd}d_backward"
    x = x_of(nd)
    shape = x.shape
    plane = 8**nd
    huge = (2, 3) + (2**64,) + (8,) * (nd - 1)
    if op in ("max", "adaptive_max"):
        fwd = getattr(ndpool, name.replace("_backward", ""))
        y, idx = fwd(x, 2 if op == "max" else 4, return_indices=True)
        g = np.ones_like(y)
        yield from backward_common(name, nd, g, shape, (), True, idx)
        for bad in (idx.astype(np.int32), idx.astype(np.float64), idx.astype(np.uint64), idx.astype(object)):
            yield name, (g, bad, shape), {}, raises(TypeError, "indices")
        for bad in (idx[..., :1], idx[None], idx[0]):
            yield name, (g, bad, shape), {}, raises(ValueError, "indices")
        for v in (-1, plane, I64.max, I64.min):
            bad = idx.copy()
            bad.flat[5] = v
            yield name, (g, bad, shape), {}, raises(ValueError, "indices")
        yield name, (g, idx.astype(">i8"), shape), {}, equals(getattr(ndpool, name)(g, idx, shape))
        yield name, (g, idx, huge), {}, raises(ValueError, "input_shape")
    elif op == "avg":
        g = np.ones((2, 3) + (4,) * nd, np.float32)
        yield from backward_common(name, nd, g, shape, (2,), False)
        yield name, (g, shape, 3), {}, raises(ValueError, "grad_output")   # forward output is 2
        for v in [0, -1] + HUGE:
            yield name, (g, shape, v), {}, raises(ValueError, "kernel_size")
            yield name, (g, shape, 2), {"stride": v}, raises(ValueError, "stride")
        for v in (2.0, "2", (2,) * (nd + 1)):
            yield name, (g, shape, v), {}, raises(ValueError if isinstance(v, tuple) else TypeError, "kernel_size")
        for v in [0] + HUGE:
            yield name, (g, shape, 2), {"divisor_override": v}, raises(ValueError, "divisor_override")
        yield name, (g, shape, 2), {"divisor_override": 2.0}, raises(TypeError, "divisor_override")
        yield name, (g, huge, 2), {}, raises(ValueError, "input_shape")
    else:
        g = np.ones((2, 3) + (3,) * nd, np.float32)
        yield from backward_common(name, nd, g, shape, (), False)
        yield name, (g[..., :0], shape), {}, equals(np.zeros(shape, np.float32))   # empty output grad
        yield name, (g, huge), {}, raises(ValueError, "input_shape")


def _all_cases():
    for nd in (1, 2, 3):
        for op in ("max", "avg"):
            yield from window_cases(op, nd)
            yield from adaptive_cases(op, nd)
        for op in ("max", "adaptive_max", "avg", "adaptive_avg"):
            yield from backward_cases(op, nd)


def _param(case, i):
    if not hasattr(case, "marks"):  # a plain tuple, not already a pytest.param
        case = pytest.param(*case)
    name, args, kwargs, expect = case.values
    what = expect[2] if expect[0] == "raises" else "ok"
    return pytest.param(*case.values, marks=case.marks, id=f"{i:03d}-{name}-{what}")


CASES = [_param(c, i) for i, c in enumerate(_all_cases())]
assert len(CASES) > 100, len(CASES)
FUNCTIONS = {c.values[0] for c in CASES}


def test_matrix_covers_every_public_function():
    # pyramid: tests/test_dask.py; the buffer pool's two: tests/test_buffer_pool.py
    public = set(ndpool.__all__) - {"build_info", "pyramid", "set_buffer_pool_limit",
                                    "buffer_pool_info"}
    assert len(public) == 24 and FUNCTIONS == public


@pytest.mark.parametrize("name,args,kwargs,expect", CASES)
def test_bad_input(name, args, kwargs, expect):
    fn = getattr(ndpool, name)
    if expect[0] == "check":
        expect[1](fn(*args, **kwargs))
        return
    _, exc, arg = expect
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert re.match(rf"{re.escape(name)}: .*\b{re.escape(arg)}\b", str(info.value)), str(info.value)


def test_build_info_takes_no_arguments():
    info = ndpool.build_info()
    assert isinstance(info, dict) and "openmp" in info
    with pytest.raises(TypeError):
        ndpool.build_info(1)
