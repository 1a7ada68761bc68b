"""Averages by block prefix/suffix sums (_box_sums).  Integers of up to 32 bits take them
wherever they pay: float64 sums those exactly in any order, so results must equal the
direct kernel's and the reference's bit for bit.  Floats take them on request
(running_sums=True): close to the reference, NaN and inf exactly where it has them, and
no cancellation by far-away values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ndpool
from ndpool import _pooling, reference

INTS = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.bool_]


@st.composite
def calls(draw):
    nd = draw(st.integers(1, 3))
    ks = draw(st.lists(st.integers(1, 7), min_size=nd, max_size=nd))
    kw = dict(kernel_size=tuple(ks),
              stride=tuple(draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))),
              padding=tuple(draw(st.integers(0, k // 2)) for k in ks),
              ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()))
    if nd > 1 and draw(st.booleans()):
        kw["divisor_override"] = draw(st.integers(1, 9))
    spatial = tuple(draw(st.lists(st.integers(1, 17), min_size=nd, max_size=nd)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5))) + spatial
    return nd, shape, kw, draw(st.sampled_from(INTS)), draw(st.booleans()), draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(calls(), st.integers(0, 2**32 - 1))
def test_box_sums_equal_reference(call, seed):
    nd, shape, kw, dtype, channels_last, reversed_w = call
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    x = (rng.integers(0, 2, shape) if info is None
         else rng.integers(info.min, info.max, shape, endpoint=True)).astype(dtype)
    fmt = "channels_last" if channels_last else "channels_first"
    if channels_last:
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    if reversed_w:  # strides other than the packed ones
        x = x[..., ::-1, :] if channels_last else x[..., ::-1]
    try:
        want = getattr(reference, f"avg_pool{nd}d")(x, **kw, data_format=fmt)
    except ValueError:
        return
    with pytest.MonkeyPatch.context() as mp:  # every call on the box path
        mp.setattr(_pooling, "_box_pays", lambda x5, axes, work, running_sums: True)
        got = getattr(ndpool, f"avg_pool{nd}d")(x, **kw, data_format=fmt)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert got.tobytes() == np.ascontiguousarray(want).tobytes()


def _pays(shape, dtype, kernel_size, stride, running_sums=False):
    x5 = np.zeros(shape, dtype)[:, :, None]
    call = _pooling.validate_call("avg_pool2d", 2, x5[:, :, 0], kernel_size, stride, 0, 1,
                                  False, "channels_first", None)
    out_size = math.prod(x5.shape[:2]) * math.prod(a.size_out for a in call.axes)
    return _pooling._box_pays(x5, call.axes, _pooling._work(out_size, call.axes), running_sums)


def test_cost_model_takes_box_sums_for_large_integer_windows_only():
    assert _pays((1, 3, 256, 256), np.uint8, 15, 1)
    assert not _pays((1, 3, 256, 256), np.uint8, 2, 2)
    assert not _pays((1, 3, 256, 256), np.uint8, 4, 4)
    # Sums of floats or 64-bit integers depend on the order: floats on request only.
    assert not _pays((1, 3, 256, 256), np.float32, 15, 1)
    assert not _pays((1, 3, 256, 256), np.int64, 15, 1)
    assert _pays((1, 3, 256, 256), np.float32, 15, 1, running_sums=True)
    assert not _pays((1, 3, 256, 256), np.float32, 2, 2, running_sums=True)


def test_large_window_uint8_image_matches_reference():
    x = np.random.default_rng(0).integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    kw = dict(kernel_size=(15, 9), stride=(1, 2), padding=(7, 4), data_format="channels_last")
    assert ndpool.avg_pool2d(x, **kw).tobytes() == reference.avg_pool2d(x, **kw).tobytes()


@settings(max_examples=150, deadline=None)
@given(calls(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_running_sums_of_floats_close_to_reference_nan_inf_exact(call, dtype, seed):
    nd, shape, kw, _, channels_last, _ = call
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.random(flat.size) < 0.02] = np.nan
    flat[rng.random(flat.size) < 0.02] = np.inf
    flat[rng.random(flat.size) < 0.02] = -np.inf
    fmt = "channels_last" if channels_last else "channels_first"
    if channels_last:
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    try:
        want = getattr(reference, f"avg_pool{nd}d")(x, **kw, data_format=fmt)
    except ValueError:
        return
    with pytest.MonkeyPatch.context() as mp:  # the box path even for small windows
        mp.setattr(_pooling, "_box_pays", lambda x5, axes, work, running_sums: running_sums)
        got = getattr(ndpool, f"avg_pool{nd}d")(x, **kw, data_format=fmt, running_sums=True)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got[finite], want[finite], rtol=tol, atol=tol * 10)


def test_running_sums_never_cancel_far_values():
    """A window sums its own values only: a huge value elsewhere on the row cannot wipe
    out the small ones (a running add-and-subtract sum would give 0 here)."""
    x = np.ones((1, 1, 200), np.float32)
    x[0, 0, 0] = 1e30
    y = ndpool.avg_pool1d(x, 15, stride=1, running_sums=True)
    assert y[0, 0, 0] == np.float32(1e30 / 15)
    np.testing.assert_array_equal(y[0, 0, 1:], 1.0)


def test_running_sums_large_window_matches_direct_closely():
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype(np.float32)
    kw = dict(kernel_size=21, stride=1, padding=10, count_include_pad=False)
    np.testing.assert_allclose(ndpool.avg_pool2d(x, **kw, running_sums=True),
                               ndpool.avg_pool2d(x, **kw), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [1, None, "yes"])
def test_running_sums_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="avg_pool2d: running_sums must be a bool"):
        ndpool.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, running_sums=bad)


def test_dask_passes_running_sums_on():
    da = pytest.importorskip("dask.array")
    import ndpool.dask

    x = np.random.default_rng(2).integers(0, 256, (1, 2, 60, 70), dtype=np.uint8)
    kw = dict(kernel_size=13, stride=1, padding=6)
    lazy = ndpool.dask.avg_pool2d(da.from_array(x, chunks=(1, 1, 25, 30)), **kw, running_sums=True)
    # Integers: exact sums, so any chunking gives the in-memory bits.
    assert lazy.compute().tobytes() == ndpool.avg_pool2d(x, **kw).tobytes()
    with pytest.raises(TypeError, match="running_sums"):
        ndpool.dask.avg_pool2d(da.from_array(x), **kw, running_sums="no")
