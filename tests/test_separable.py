"""The separable max-pooling path (overlapping windows such as SPP's k=5/9/13 at stride 1),
and the window-at-a-time path for windows wider than their rows of outputs (at the end).

It reduces along W, then H, then D with doubling passes instead of scanning each window.
It must give the same bytes as a raster scan of every window: the last NaN of a window
(payloads differ here), the first of equal maxima (0.0 vs -0.0), -inf and the integer
minimum.  Each case is compared with the direct kernel (``return_indices=True`` always
takes it), with torch when it is installed, and with the NumPy reference on small inputs.
"""

import zlib

import numpy as np
import pytest

import ndpool
from ndpool import reference

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None


def adversarial(rng, shape, dtype):
    """Few distinct values (many ties), signed zeros, -inf and NaNs with distinct payloads
    and signs; integers with ties and the type's minimum."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.2
    if dtype.kind == "f":
        x = rng.integers(-2, 3, size=shape).astype(dtype)
        zero = rng.random(shape) < 0.3
        x[zero] = np.where(rng.random(int(zero.sum())) < 0.5, 0.0, -0.0)
        x[rng.random(shape) < 0.05] = -np.inf
        uint = np.uint32 if dtype == np.float32 else np.uint64
        quiet = uint(0x7FC00000) if dtype == np.float32 else uint(0x7FF8000000000000)
        sign = uint(1) << uint(dtype.itemsize * 8 - 1)
        nan = rng.random(shape) < 0.02
        payload = rng.integers(1, 1 << 20, size=int(nan.sum())).astype(uint)
        signs = np.where(rng.random(int(nan.sum())) < 0.5, sign, uint(0))
        x.view(uint)[nan] = quiet | payload | signs
        return x
    info = np.iinfo(dtype)
    x = rng.integers(-2, 3, size=shape).clip(info.min, info.max).astype(dtype)
    x[rng.random(shape) < 0.05] = info.min
    return x


def _pool(x, nd, kwargs, channels_last, **extra):
    fn = getattr(ndpool, f"max_pool{nd}d")
    if channels_last:  # channels-last memory, so that the channels-last kernels run
        y = fn(np.ascontiguousarray(np.moveaxis(x, 1, -1)), **kwargs, data_format="channels_last",
               **extra)
        return tuple(np.moveaxis(v, -1, 1) for v in y) if isinstance(y, tuple) else np.moveaxis(y, -1, 1)
    return fn(x, **kwargs, **extra)


def _torch_values(x, nd, kwargs):
    if x.dtype == np.bool_:
        t = torch.from_numpy(x).to(torch.uint8)
    else:
        t = torch.from_numpy(np.ascontiguousarray(x))
    fn = getattr(torch.nn.functional, f"max_pool{nd}d")
    values = fn(t, **kwargs, return_indices=True)[0].numpy()
    return values.astype(np.bool_) if x.dtype == np.bool_ else values


def _check(x, nd, kwargs, channels_last, with_reference):
    got = _pool(x, nd, kwargs, channels_last)
    direct = _pool(x, nd, kwargs, channels_last, return_indices=True)[0]
    assert got.shape == direct.shape
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(direct).tobytes()
    if torch is not None:
        want = _torch_values(x, nd, kwargs)
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()
    if with_reference:
        want = getattr(reference, f"max_pool{nd}d")(x, **kwargs)
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


SPP = [
    dict(kernel_size=5, stride=1, padding=2),
    dict(kernel_size=9, stride=1, padding=4),
    dict(kernel_size=13, stride=1, padding=6),
    dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
    dict(kernel_size=4, stride=1, padding=2, dilation=2),
    dict(kernel_size=(5, 3), stride=(1, 1), padding=(0, 1), dilation=(1, 3)),
    dict(kernel_size=7, stride=2, padding=3, ceil_mode=True),
    dict(kernel_size=(6, 5), stride=(3, 2), padding=(3, 2), ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", SPP)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int8, np.int64, np.bool_])
@pytest.mark.parametrize("channels_last", [False, True])
def test_separable_2d(kwargs, dtype, channels_last):
    rng = np.random.default_rng(zlib.crc32(f"{kwargs}{np.dtype(dtype).name}".encode()))
    x = adversarial(rng, (2, 3, 15, 14), dtype)
    _check(x, 2, kwargs, channels_last, with_reference=True)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (2, 1, 1), (3, 2, 1), (3, 3, 0), (3, 2, 0), (2, 3, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
def test_channels_last_square_windows(k, s, p, dtype):
    # Channels-last 2x2 and 3x3 windows: a row's whole windows are one cl_max call (tap
    # by tap per channel), the clipped ones at its ends fold in register blocks; torch's
    # first maximum and last NaN either way.  16, 64 and 80 channels: below, at and past
    # one block.
    for c in (16, 64, 80):
        rng = np.random.default_rng(zlib.crc32(f"{k}{s}{p}{c}{np.dtype(dtype).name}".encode()))
        x = adversarial(rng, (2, c, 9, 11), dtype)
        _check(x, 2, dict(kernel_size=k, stride=s, padding=p, ceil_mode=True), True,
               with_reference=True)
    if k == 2:  # 2x2x2 windows, and 2x2 windows two slices deep at a clipped depth
        x = adversarial(np.random.default_rng(s * 10 + p), (1, 72, 5, 6, 7), dtype)
        for kwargs in (dict(kernel_size=2, stride=s, padding=p, ceil_mode=True),
                       dict(kernel_size=(3, 2, 2), stride=(2, s, s), padding=(1, p, p))):
            _check(x, 3, kwargs, True, with_reference=True)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=5, stride=1, padding=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 5, 5), stride=(2, 1, 1), padding=(1, 2, 2), ceil_mode=True),
    dict(kernel_size=(2, 9, 9), stride=1, padding=(1, 4, 4), dilation=(2, 1, 1)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("channels_last", [False, True])
def test_separable_3d(kwargs, dtype, channels_last):
    rng = np.random.default_rng(7)
    x = adversarial(rng, (1, 2, 7, 11, 10), dtype)
    _check(x, 3, kwargs, channels_last, with_reference=True)


@pytest.mark.parametrize("channels_last", [False, True])
def test_separable_3d_nan_in_an_earlier_plane_only(channels_last):
    # Planes are folded in order; a NaN from an earlier plane must survive later planes
    # that hold none (those take the plain-max path).
    x = np.ones((1, 2, 6, 9, 9), np.float32)
    x.view(np.uint32)[0, :, 1, 4, 4] = 0x7FC00123
    x[0, :, 4] = 5.0
    _check(x, 3, dict(kernel_size=5, stride=1, padding=2), channels_last, with_reference=True)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=9, stride=1, padding=4),
    dict(kernel_size=13, stride=1, padding=6, dilation=3),
    dict(kernel_size=3, stride=1, padding=1),
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_separable_1d(kwargs, channels_last):
    rng = np.random.default_rng(3)
    x = adversarial(rng, (2, 3, 300), np.float32)
    _check(x, 1, kwargs, channels_last, with_reference=True)


@pytest.mark.parametrize("shape, kwargs, channels_last", [
    # Several W tiles (1024 outputs each).
    ((1, 2, 9, 2500), dict(kernel_size=5, stride=1, padding=2), False),
    # A single plane split into row tiles so that both threads get work.
    ((1, 1, 200, 70), dict(kernel_size=9, stride=1, padding=4), False),
    # Channels-last: channels in runs, the last one short, each image streamed row by row.
    ((2, 150, 40, 40), dict(kernel_size=13, stride=1, padding=6), True),
    ((3, 70, 33, 20), dict(kernel_size=5, stride=1, padding=2), True),
    # Runs of 80 channels, reduced along W in chunks of 64 floats / 32 doubles (short last).
    ((2, 300, 9, 11), dict(kernel_size=5, stride=1, padding=2), True),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_separable_tiles(shape, kwargs, channels_last, dtype):
    rng = np.random.default_rng(11)
    x = adversarial(rng, shape, dtype)
    _check(x, 2, kwargs, channels_last, with_reference=False)


@pytest.mark.parametrize("nd, shape, kwargs", [
    (2, (3, 23, 19, 19), dict(kernel_size=5, stride=1, padding=2)),
    (2, (3, 23, 19, 19), dict(kernel_size=13, stride=1, padding=6)),
    (2, (2, 40, 7, 7), dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)),
    (2, (1, 17, 32, 32), dict(kernel_size=(9, 4), stride=1, padding=(4, 2), dilation=(1, 2))),
    (3, (2, 37, 5, 9, 9), dict(kernel_size=(3, 5, 5), stride=(2, 1, 1), padding=(1, 2, 2))),
    (1, (3, 30, 200), dict(kernel_size=9, stride=1, padding=4)),
])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_separable_lanes(nd, shape, kwargs, num_threads):
    # Channels-first float32 planes of up to 1024 cells go through the passes 8 at a time
    # as the lanes of a tile: groups of 8 planes across samples, a short last group, and
    # input rows that are not contiguous; SPP 13x13's work is past the serial cut-off, so
    # there two threads share the groups.
    rng = np.random.default_rng(zlib.crc32(f"{shape}{kwargs}".encode()))
    x = adversarial(rng, shape, np.float32)
    _check(x, nd, kwargs, False, with_reference=False)
    fn = getattr(ndpool, f"max_pool{nd}d")
    wide = adversarial(rng, shape[:-1] + (shape[-1] + 3,), np.float32)[..., 1:-2]
    want = fn(np.ascontiguousarray(wide), **kwargs, return_indices=True)[0]
    assert fn(wide, **kwargs, num_threads=num_threads).tobytes() == want.tobytes()


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_separable_thread_counts_agree(num_threads):
    rng = np.random.default_rng(5)
    x = adversarial(rng, (2, 7, 30, 30), np.float32)
    kwargs = dict(kernel_size=9, stride=1, padding=4)
    one = ndpool.max_pool2d(x, **kwargs, num_threads=1)
    assert ndpool.max_pool2d(x, **kwargs, num_threads=num_threads).tobytes() == one.tobytes()


def test_huge_window_stays_direct():
    # A window nearly as large as a big input gives few outputs; the separable tiles would
    # need far more scratch than the input, so the direct kernel runs (same result).
    x = np.random.default_rng(0).random((1, 1, 2100, 2100), dtype=np.float32)
    got = ndpool.max_pool2d(x, 2099, 1)
    assert got.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(got, ndpool.max_pool2d(x, 2099, 1, return_indices=True)[0])


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 7, 7), dict(kernel_size=7)),                       # a global max as max_pool2d
    ((2, 3, 7, 7), dict(kernel_size=5, stride=2, padding=2)),  # clipped windows
    ((2, 3, 14, 15), dict(kernel_size=7, ceil_mode=True)),     # a last window past the edge
    ((1, 2, 9, 30), dict(kernel_size=(2, 13), stride=(3, 11), padding=(1, 6))),
    ((1, 2, 5, 6, 40), dict(kernel_size=(2, 3, 9), stride=(2, 2, 8), dilation=(2, 1, 1))),
    ((2, 3, 50), dict(kernel_size=17, stride=16, padding=8)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.bool_])
def test_wide_windows_few_outputs(shape, kwargs, dtype):
    """Channels-first windows wider than their block of outputs are reduced a window at a
    time, in four chains of any order, and rescanned in order where the order shows: a
    NaN (which payload wins) or a zero maximum (+0.0 or -0.0, whichever comes first)."""
    rng = np.random.default_rng(zlib.crc32(f"{shape}{kwargs}{np.dtype(dtype).name}".encode()))
    x = adversarial(rng, shape, dtype)
    _check(x, len(shape) - 2, kwargs, False, with_reference=True)
    if x.dtype.kind == "f":  # maxima of zero, no NaN: the sign of the first zero scanned
        z = rng.choice(np.array([-1.0, 0.0, -0.0], dtype), size=shape, p=[0.6, 0.2, 0.2])
        _check(z, len(shape) - 2, kwargs, False, with_reference=True)
