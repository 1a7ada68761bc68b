"""The forward's short path (ndpool._pooling._plain) against its general path: identical
bytes, shape, strides and dtype, identical errors, and that the short path is taken."""

import numpy as np
import pytest

import ndpool
from ndpool import _pooling

from _helpers import func


def _general(monkeypatch):
    monkeypatch.setattr(_pooling, "_plain", lambda *args: None)


def _layouts(x):
    """x as C-contiguous memory and as torch's channels_last memory (same logical array)."""
    cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    return {"contiguous": x, "channels_last_memory": cl}


def _same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
        return
    assert type(a) is np.ndarray and type(b) is np.ndarray
    assert a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
    assert a.tobytes() == b.tobytes()


CALLS = [
    ("max", dict(kernel_size=2)),
    ("max", dict(kernel_size=3, stride=1, padding=1)),
    ("max", dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("max", dict(kernel_size=2, return_indices=True, num_threads=2)),
    ("max", dict(kernel_size=5, stride=1, padding=2)),  # separable path
    ("avg", dict(kernel_size=2)),
    ("avg", dict(kernel_size=3, stride=2, padding=1)),
    ("avg", dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, divisor_override=7, num_threads=1)),
]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("op,kwargs", CALLS)
def test_short_path_matches_general_path(monkeypatch, nd, dtype, batched, op, kwargs):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 5) + (7,) * nd).astype(dtype)
    x[0, 1, ..., 2] = np.nan
    x[1, 2, ..., 0] = -np.inf
    for name, arr in _layouts(x).items():
        if not batched:
            arr = arr[1]
        fn = func(op, nd)
        plan = _pooling._plain(fn.__name__, nd, arr, kwargs["kernel_size"], kwargs.get("stride"),
                               kwargs.get("padding", 0), 1, False, "channels_first",
                               kwargs.get("num_threads"))
        assert plan is not None, name  # the short path serves this call
        fast = fn(arr, **kwargs)
        with monkeypatch.context() as m:
            _general(m)
            slow = fn(arr, **kwargs)
        _same(fast, slow)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("op,kwargs", CALLS)
def test_channels_last_short_path_matches_general_path(monkeypatch, nd, dtype, batched, op, kwargs):
    """data_format="channels_last" on C-contiguous (N, *spatial, C) memory."""
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2,) + (7,) * nd + (5,)).astype(dtype)
    x[0, ..., 2, 1] = np.nan
    x[1, ..., 0, 2] = -np.inf
    if not batched:
        x = x[1]
    fn = func(op, nd)
    plan = _pooling._plain(fn.__name__, nd, x, kwargs["kernel_size"], kwargs.get("stride"),
                           kwargs.get("padding", 0), 1, False, "channels_last",
                           kwargs.get("num_threads"))
    assert plan is not None  # the short path serves this call
    fast = fn(x, data_format="channels_last", **kwargs)
    with monkeypatch.context() as m:
        _general(m)
        slow = fn(x, data_format="channels_last", **kwargs)
    _same(fast, slow)


@pytest.mark.parametrize("make", [
    lambda x: x[..., ::2],                       # strided last axis
    lambda x: x[..., :1],                        # last axis of size 1
    lambda x: x.astype(x.dtype.newbyteorder()),  # non-native byte order
    lambda x: x.astype(np.float16),
    lambda x: x.astype(np.int32),
    lambda x: x > 0,
    lambda x: x[:0],                             # empty batch
    lambda x: x.tolist(),
    lambda x: x[:, :1],                          # one channel, not contiguous
    lambda x: np.moveaxis(np.ascontiguousarray(np.moveaxis(x[:, :1], 1, -1)), -1, 1)[..., ::1].copy(order='F'),
])
def test_other_inputs_take_the_general_path(make):
    x = make(np.ones((2, 3, 6, 6), np.float32))
    assert _pooling._plain("max_pool2d", 2, x, 2, None, 0, 1, False, "channels_first", None) is None


@pytest.mark.parametrize("kwargs", [
    dict(stride=(2, 2)), dict(padding=(0, 0)), dict(dilation=2), dict(ceil_mode=True),
    dict(data_format="NHWC"), dict(kernel_size=np.int64(2)), dict(padding="valid"),
])
def test_other_arguments_take_the_general_path(kwargs):
    x = np.ones((2, 3, 6, 6), np.float32)
    args = dict(kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False,
                data_format="channels_first", num_threads=None)
    args.update(kwargs)
    assert _pooling._plain("max_pool2d", 2, x, *args.values()) is None


BAD = [
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=5)),            # too small
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=0)),            # not positive
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=2, stride=0)),
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=2, padding=-1)),
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=2, padding=2)),  # more than half
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=2**31)),        # not 32-bit
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=2, num_threads=0)),
    (np.ones((2, 3, 4, 4), np.float32), dict(kernel_size=True)),
    (np.ones((3, 4, 4), np.float32)[None, None], dict(kernel_size=2)),    # 5-D
    (np.ones((2, 0, 4, 4), np.float32), dict(kernel_size=2)),
    (np.ones((2, 3, 4, 4), np.float16), dict(kernel_size=2)),
]


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("x,kwargs", BAD)
def test_errors_are_the_general_paths(monkeypatch, op, x, kwargs):
    fn = func(op, 2)
    with pytest.raises(Exception) as fast:
        fn(x, **kwargs)
    with monkeypatch.context() as m:
        _general(m)
        with pytest.raises(Exception) as slow:
            fn(x, **kwargs)
    assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)


def test_avg_option_errors_come_first():
    x = np.ones((2, 3, 4, 4), np.float32)
    with pytest.raises(TypeError, match="count_include_pad"):
        ndpool.avg_pool2d(x, 5, count_include_pad=None)
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        ndpool.avg_pool2d(x, 5, divisor_override=0)
