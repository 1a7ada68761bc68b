"""Inputs of any layout: never modified, copied only when no kernel can read them in place,
outputs in the input's memory layout; threads do not change results."""

import numpy as np
import pytest

import ndpool
from ndpool import _layout

from _helpers import LAYOUTS, func, random_values, with_layout

OPS = [("max", {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}),
       ("max", {"kernel_size": 2, "dilation": 2}),
       ("avg", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False})]


def test_tutorial_example():
    image = [[2, 3, 4, 2], [8, 5, 5, 1], [6, 7, 9, 4], [3, 1, 4, 5]]
    for dtype in (np.int64, np.float32, np.uint8):
        x = np.array([image], dtype=dtype)
        out = ndpool.max_pool2d(x, kernel_size=2, stride=2)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, [[[8, 5], [7, 9]]])
    _, idx = ndpool.max_pool2d(np.array([image]), 2, 2, return_indices=True)
    np.testing.assert_array_equal(idx, [[[4, 6], [9, 10]]])


def test_array_likes_and_unbatched_inputs():
    nested = [[[1.0, 5.0, 2.0, 0.0]]]  # (N=1, C=1, L=4) as lists
    np.testing.assert_array_equal(ndpool.max_pool1d(nested, 2), [[[5.0, 2.0]]])
    np.testing.assert_array_equal(ndpool.max_pool1d(nested[0], 2), [[5.0, 2.0]])
    x = np.arange(2 * 3 * 4 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4, 4)
    np.testing.assert_array_equal(ndpool.avg_pool3d(x[0], 2), ndpool.avg_pool3d(x, 2)[0])
    cl = np.moveaxis(x, 1, -1)
    np.testing.assert_array_equal(ndpool.max_pool3d(cl[0], 2, data_format="channels_last"),
                                  np.moveaxis(ndpool.max_pool3d(x, 2)[0], 0, -1))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_layouts_give_identical_results_and_keep_input(layout, nd):
    rng = np.random.default_rng(nd)
    x = random_values(rng, (2, 5) + (7,) * nd, np.float32)
    for op, kwargs in OPS:
        passed, logical, data_format, back = with_layout(x, layout)
        before, strides = passed.copy(), passed.strides
        got = func(op, nd)(passed, **kwargs, data_format=data_format)
        want = func(op, nd)(np.ascontiguousarray(logical), **kwargs)
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for g, w in zip(got, want):
            if op == "max":  # values are input elements: bit-identical, NaN payloads too
                assert back(g).tobytes() == w.tobytes()
            else:  # sums may produce NaNs whose sign bit depends on operand order
                np.testing.assert_array_equal(back(g), w)
        assert passed.tobytes() == before.tobytes() and passed.strides == strides


@pytest.mark.parametrize("layout", ["contiguous", "channels_last_memory", "outer_strided", "readonly",
                                    "broadcast_batch", "data_format_channels_last"])
def test_readable_layouts_are_not_copied(layout, monkeypatch):
    def no_copy(*args):
        raise AssertionError("input was copied")

    monkeypatch.setattr(_layout, "copy_to_layout", no_copy)
    x = random_values(np.random.default_rng(0), (2, 4, 9, 9), np.float64)
    passed, _, data_format, _ = with_layout(x, layout)
    ndpool.max_pool2d(passed, 3, 2, 1, return_indices=True, data_format=data_format)
    ndpool.avg_pool2d(passed, 3, 2, 1, data_format=data_format)


def test_unreadable_layouts_are_copied_once(monkeypatch):
    calls = []
    real = _layout.copy_to_layout
    monkeypatch.setattr(_layout, "copy_to_layout", lambda *a: calls.append(1) or real(*a))
    x = random_values(np.random.default_rng(0), (2, 4, 9, 9), np.float32)
    for layout in ("inner_strided", "reversed"):
        passed, logical, _, _ = with_layout(x, layout)
        np.testing.assert_array_equal(ndpool.max_pool2d(passed, 2), ndpool.max_pool2d(logical, 2))
    assert len(calls) == 2


def test_memmap_input_is_read_in_place(tmp_path, monkeypatch):
    x = random_values(np.random.default_rng(3), (2, 3, 16, 16), np.float32)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=x.dtype, shape=x.shape)
    mm[...] = x
    mm.flush()
    ro = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(_layout, "copy_to_layout", lambda *a: pytest.fail("memmap was copied"))
    out = ndpool.max_pool2d(ro, 2)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, ndpool.max_pool2d(x, 2))
    assert np.load(tmp_path / "x.npy").tobytes() == x.tobytes()


def test_output_memory_follows_input_memory():
    x = random_values(np.random.default_rng(1), (2, 6, 8, 8), np.float32)
    nchw = ndpool.max_pool2d(x, 2)
    assert nchw.flags.c_contiguous
    nhwc_mem = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    out, idx = ndpool.max_pool2d(nhwc_mem, 2, return_indices=True)
    assert np.moveaxis(out, 1, -1).flags.c_contiguous and np.moveaxis(idx, 1, -1).flags.c_contiguous
    keras = ndpool.avg_pool2d(np.ascontiguousarray(np.moveaxis(x, 1, -1)), 2, data_format="channels_last")
    assert keras.shape == (2, 4, 4, 6) and keras.flags.c_contiguous
    # An NCHW array viewed as NHWC is read in place, so its output is NCHW memory too.
    view = ndpool.avg_pool2d(np.moveaxis(x, 1, -1), 2, data_format="channels_last")
    assert np.moveaxis(view, -1, 1).flags.c_contiguous


def test_big_endian_input():
    x = random_values(np.random.default_rng(2), (1, 3, 6, 6), np.float64)
    be = x.astype(">f8")
    np.testing.assert_array_equal(ndpool.max_pool2d(be, 3, 1, 1), ndpool.max_pool2d(x, 3, 1, 1))
    np.testing.assert_array_equal(ndpool.avg_pool2d(be, 2), ndpool.avg_pool2d(x, 2))
    assert be.dtype.byteorder == ">"


def test_bool_and_integer_dtypes():
    rng = np.random.default_rng(4)
    mask = rng.random((1, 2, 8, 8)) < 0.2
    out = ndpool.max_pool2d(mask, 2)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, mask.reshape(1, 2, 4, 2, 4, 2).any(axis=(3, 5)))
    assert ndpool.avg_pool2d(mask, 2).dtype == np.float64
    img = rng.integers(0, 256, (1, 3, 8, 8)).astype(np.uint8)
    assert ndpool.max_pool2d(img, 2).dtype == np.uint8
    mean = ndpool.avg_pool2d(img, 2)
    assert mean.dtype == np.float64
    np.testing.assert_allclose(mean, img.reshape(1, 3, 4, 2, 4, 2).mean(axis=(3, 5)))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_thread_count_does_not_change_bits(nd, channels_last, parallel_small_calls):
    rng = np.random.default_rng(nd)
    x = random_values(rng, (3, 8) + (40, 40, 12)[:nd], np.float32)
    if channels_last:
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    for op, kwargs in OPS:
        runs = [func(op, nd)(x, **kwargs, num_threads=t) for t in (1, 2, 3)]
        as_bytes = [b"".join(a.tobytes() for a in (r if isinstance(r, tuple) else (r,))) for r in runs]
        assert as_bytes[0] == as_bytes[1] == as_bytes[2]


def test_threadpoolctl_limit_is_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not ndpool.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert ndpool.build_info()["max_threads"] == 1
