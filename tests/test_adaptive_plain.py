"""The adaptive functions' short path (ndpool._adaptive._plain) against their general path:
identical bytes, shape, strides and dtype, identical errors, and that the short path is taken."""

import numpy as np
import pytest

from ndpool import _adaptive

from test_adaptive import adaptive
from test_forward_plain import _layouts, _same


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("op,kwargs", [
    ("max", {}), ("max", dict(return_indices=True)), ("max", dict(num_threads=2)),
    ("avg", {}), ("avg", dict(num_threads=1)),
])
@pytest.mark.parametrize("size", [1, 3, 9, "tuple"])
def test_short_path_matches_general_path(monkeypatch, nd, dtype, batched, op, kwargs, size):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 5) + (7,) * nd).astype(dtype)
    x[0, 1, ..., 2] = np.nan
    x[1, 2, ..., 0] = -np.inf
    output_size = (1, 9, 4)[-nd:] if size == "tuple" else size
    fn = adaptive(op, nd)
    for name, (data_format, arr) in _layouts(x).items():
        if not batched:
            arr = arr[1]
        plan = _adaptive._plain(nd, arr, output_size, data_format, kwargs.get("num_threads"))
        assert plan is not None, name  # the short path serves this call
        fast = fn(arr, output_size, data_format=data_format, **kwargs)
        with monkeypatch.context() as m:
            m.setattr(_adaptive, "_plain", lambda *args: None)
            slow = fn(arr, output_size, data_format=data_format, **kwargs)
        _same(fast, slow)


@pytest.mark.parametrize("x,output_size,data_format,num_threads", [
    (np.ones((2, 3, 6, 6), np.float32)[..., ::2], 2, "channels_first", None),  # strided
    (np.ones((2, 3, 6, 1), np.float32), 2, "channels_first", None),       # last axis of 1
    (np.ones((2, 6, 6, 1), np.float32), 2, "channels_last", None),        # one channel
    (np.ones((2, 3, 6, 6), np.float16), 2, "channels_first", None),
    (np.ones((2, 3, 6, 6), np.int32), 2, "channels_first", None),
    (np.ones((2, 3, 6, 6), ">f4"), 2, "channels_first", None),
    (np.ones((0, 3, 6, 6), np.float32), 2, "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), 0, "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), (2, None), "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), [2, 2], "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), np.int64(2), "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), True, "channels_first", None),
    (np.ones((2, 3, 6, 6), np.float32), 2, "NCHW", None),
    (np.ones((2, 3, 6, 6), np.float32), 2, "channels_first", 0),
    (np.ones((2, 3, 6, 6), np.float32).tolist(), 2, "channels_first", None),
])
def test_other_calls_take_the_general_path(x, output_size, data_format, num_threads):
    assert _adaptive._plain(2, x, output_size, data_format, num_threads) is None


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("x,output_size", [
    (np.ones((2, 3, 4, 4), np.float32), -1),
    (np.ones((2, 3, 4, 4), np.float32), 2**31),
    (np.ones((2, 3, 4, 4), np.float32), (2, 2, 2)),
    (np.ones((2, 3, 4, 4), np.float32), 2.0),
    (np.ones((3, 4, 4), np.float32)[None, None], 2),  # 5-D
    (np.ones((2, 3, 4, 4), np.float16), 2),
])
def test_errors_are_the_general_paths(monkeypatch, op, x, output_size):
    fn = adaptive(op, 2)
    with pytest.raises(Exception) as fast:
        fn(x, output_size)
    with monkeypatch.context() as m:
        m.setattr(_adaptive, "_plain", lambda *args: None)
        with pytest.raises(Exception) as slow:
            fn(x, output_size)
    assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)
