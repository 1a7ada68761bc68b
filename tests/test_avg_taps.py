"""Average pooling with 2 or 3 W taps sums them in one pass where all of them apply and
tap by tap at the edges; rows of few outputs, and wide windows, are summed a window at a
time, four windows of a row side by side, or with enough channels the same window of
eight planes side by side.  Every output must still get torch's additions in torch's
order."""

import itertools

import numpy as np
import pytest

import ndpool
from ndpool import reference

torch = pytest.importorskip("torch")

CASES = [
    (k, s, p, ceil, cip)
    for k, s in itertools.product((2, 3), (1, 2, 3))
    for p in range(k // 2 + 1)
    for ceil, cip in itertools.product((False, True), (False, True))
]


@pytest.mark.parametrize("k, s, p, ceil, cip", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_two_and_three_taps_match_torch(k, s, p, ceil, cip, dtype):
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    # Values of very different magnitudes make the order of additions visible.
    x = (rng.standard_normal((2, 3, 5, 9, 13)) * 10.0 ** rng.integers(-6, 7, (2, 3, 5, 9, 13)))
    x = x.astype(dtype)
    kw = dict(kernel_size=(2, 3, k), stride=(1, 2, s), padding=(1, 1, p), ceil_mode=ceil,
              count_include_pad=cip)
    want = torch.nn.functional.avg_pool3d(torch.from_numpy(x), **kw).numpy()
    # Channels-last memory, so that the channels-last kernels run.
    for data_format, xx in (("channels_first", x),
                            ("channels_last", np.ascontiguousarray(np.moveaxis(x, 1, -1)))):
        got = ndpool.avg_pool3d(xx, **kw, data_format=data_format)
        if data_format == "channels_last":
            got = np.moveaxis(got, -1, 1)
        assert np.ascontiguousarray(got).tobytes() == want.tobytes()


@pytest.mark.parametrize("k, s, p, ceil, cip", CASES)
@pytest.mark.parametrize("divisor", [None, 3])
def test_channels_last_square_windows_match_torch(k, s, p, ceil, cip, divisor):
    # Channels-last 2x2 and 3x3 windows: a row's whole windows are one call, the clipped
    # ones at its ends go pixel by pixel.  Same bits as torch either way.
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    for c in (13, 64):
        x = (rng.standard_normal((2, c, 7, 11)) * 10.0 ** rng.integers(-6, 7, (2, c, 7, 11)))
        x = x.astype(np.float32)
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip,
                  divisor_override=divisor)
        want = torch.nn.functional.avg_pool2d(torch.from_numpy(x), **kw).numpy()
        got = ndpool.avg_pool2d(np.ascontiguousarray(np.moveaxis(x, 1, -1)), **kw,
                                data_format="channels_last")
        assert np.ascontiguousarray(np.moveaxis(got, -1, 1)).tobytes() == want.tobytes()


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("width", [1, 2, 3])
def test_channels_last_narrow_same_windows_match_reference(k, width):
    # padding="same" puts the extra column after the row: with a row narrower than the
    # window, no window is whole, and none may be summed as one (nothing past the row
    # is read).
    x = np.random.default_rng(width).standard_normal((2, 9, 4, width)).astype(np.float32)
    x_cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    for stride in (1, 2):
        got = ndpool.avg_pool2d(x_cl, k, stride, "same", data_format="channels_last")
        want = reference.avg_pool2d(x, k, stride, "same")
        assert np.ascontiguousarray(np.moveaxis(got, -1, 1)).tobytes() == want.tobytes()


@pytest.mark.parametrize("k", [5, 7])
@pytest.mark.parametrize("cip, divisor", [(True, None), (False, None), (True, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride1_same_wide_windows_match_torch(k, cip, divisor, dtype):
    # Stride-1 "same" windows of 5 or 7 taps: the rows of a plane form one span, summed in
    # passes of 3 or 2 taps of one window row, each continuing the sums (_avg_cf_flat).
    rng = np.random.default_rng(k)
    for shape in [(2, 3, 14, 14), (1, 2, 9, 23), (1, 1, 20, 8)]:
        x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
        kw = dict(kernel_size=k, stride=1, padding=k // 2, count_include_pad=cip,
                  divisor_override=divisor)
        want = torch.nn.functional.avg_pool2d(torch.from_numpy(x), **kw).numpy()
        for threads in (1, 2):
            assert ndpool.avg_pool2d(x, **kw, num_threads=threads).tobytes() == want.tobytes()


@pytest.mark.parametrize("k", [4, 6])
def test_stride1_even_same_windows_match_reference(k):
    # Even windows with padding="same" (one more column after than before) also have
    # rows as far apart as the input's.
    x = np.random.default_rng(k).standard_normal((2, 3, 13, 17)).astype(np.float32)
    got = ndpool.avg_pool2d(x, k, 1, "same")
    want = reference.avg_pool2d(x, k, 1, "same")
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("k", [2, 3])
def test_avg_taps_integers_match_reference(k):
    x = np.random.default_rng(k).integers(-100, 100, (2, 3, 11, 17)).astype(np.int32)
    kw = dict(kernel_size=k, stride=1, padding=k // 2, ceil_mode=True)
    np.testing.assert_array_equal(ndpool.avg_pool2d(x, **kw), reference.avg_pool2d(x, **kw))


@pytest.mark.parametrize("cip, divisor", [(True, None), (False, None), (False, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 2, 35, 35), (2, 1, 3, 40, 7), (1, 3, 70, 33)])
def test_stride1_same_pooling_as_one_span_matches_torch(shape, dtype, cip, divisor):
    """3x3(x3)/s1/p1 channels-first rows are summed as one span across rows (_avg_cf_flat,
    spans longer than W_BLOCK included), the edge columns after; NaN, inf and -0.0 at the
    edges must come out as torch's."""
    rng = np.random.default_rng(len(shape) * 7 + shape[-1])
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
    x[..., 0] = np.where(rng.random(x[..., 0].shape) < 0.3, -0.0, x[..., 0])
    x[..., -1, -1] = np.inf
    x[..., 1, 0] = np.nan
    nd = len(shape) - 2
    kw = dict(kernel_size=3, stride=1, padding=1, count_include_pad=cip, divisor_override=divisor)
    fn, tfn = ((ndpool.avg_pool2d, torch.nn.functional.avg_pool2d) if nd == 2
               else (ndpool.avg_pool3d, torch.nn.functional.avg_pool3d))
    want = tfn(torch.from_numpy(x), **kw).numpy()
    assert fn(x, **kw).tobytes() == want.tobytes()


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 7, 7), dict(kernel_size=7)),                                   # one output
    ((2, 3, 7, 7), dict(kernel_size=3, stride=3, padding=1)),              # clipped edges
    ((2, 3, 14, 14), dict(kernel_size=7, stride=2, padding=3)),            # shapes change per output
    ((2, 3, 14, 14), dict(kernel_size=3, stride=3, padding=1)),            # 25 disjoint windows
    ((2, 3, 14, 15), dict(kernel_size=5, stride=2, ceil_mode=True)),       # a last window past the edge
    ((1, 2, 9, 40), dict(kernel_size=(2, 6), stride=(3, 5), padding=(1, 3), count_include_pad=False)),
    ((1, 2, 5, 6, 30), dict(kernel_size=(2, 3, 9), stride=(2, 2, 8), padding=(1, 1, 4), divisor_override=7)),
    ((2, 3, 50), dict(kernel_size=17, stride=16, padding=8)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [3, 37])  # 37: groups of 8 planes and a tail of 5
def test_avg_window_at_a_time_matches_torch(shape, kwargs, dtype, channels):
    nd = len(shape) - 2
    shape = shape[:1] + (channels,) + shape[2:]
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
    x.reshape(-1)[rng.random(x.size) < 0.05] = -0.0
    x.reshape(-1)[rng.random(x.size) < 0.01] = np.inf
    x.reshape(-1)[rng.random(x.size) < 0.01] = np.nan
    want = getattr(torch.nn.functional, f"avg_pool{nd}d")(torch.from_numpy(x), **kwargs).numpy()
    fn = getattr(ndpool, f"avg_pool{nd}d")
    for threads in (1, 2):
        got = fn(x, **kwargs, num_threads=threads)
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()
    ints = rng.integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_array_equal(fn(ints, **kwargs),
                                  getattr(reference, f"avg_pool{nd}d")(ints, **kwargs))
