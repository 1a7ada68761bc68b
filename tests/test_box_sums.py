"""Integer averages over large windows take block prefix/suffix sums (_box_sums): float64
sums of integers up to 32 bits are exact in any order, so results must equal the direct
kernel's and the reference's bit for bit."""

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
        mp.setattr(_pooling, "_box_pays", lambda x5, axes: True)
        got = getattr(ndpool, f"avg_pool{nd}d")(x, **kw, data_format=fmt)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert got.tobytes() == np.ascontiguousarray(want).tobytes()


def _pays(shape, dtype, kernel_size, stride):
    x5 = np.zeros(shape, dtype)[:, :, None]
    call = _pooling.validate_call("avg_pool2d", 2, x5[:, :, 0], kernel_size, stride, 0, 1,
                                  False, "channels_first", None)
    return _pooling._box_pays(x5, call.axes)


def test_cost_model_takes_box_sums_for_large_integer_windows_only():
    assert _pays((1, 3, 256, 256), np.uint8, 15, 1)
    assert not _pays((1, 3, 256, 256), np.uint8, 2, 2)
    assert not _pays((1, 3, 256, 256), np.uint8, 4, 4)
    # Sums of floats or 64-bit integers depend on the order: never.
    assert not _pays((1, 3, 256, 256), np.float32, 15, 1)
    assert not _pays((1, 3, 256, 256), np.int64, 15, 1)


def test_large_window_uint8_image_matches_reference():
    x = np.random.default_rng(0).integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    kw = dict(kernel_size=(15, 9), stride=(1, 2), padding=(7, 4), data_format="channels_last")
    assert ndpool.avg_pool2d(x, **kw).tobytes() == reference.avg_pool2d(x, **kw).tobytes()
