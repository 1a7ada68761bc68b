"""Property tests: ndpool equals its plain-NumPy reference on random configurations, in
every dtype and memory layout, padding="same"/"valid" included, and never changes its input."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ndpool import reference

from _helpers import FLOAT_DTYPES, INT_DTYPES, LAYOUTS, MAX_DTYPES, call_or_reject, func, pool_configs, random_values, with_layout


def _check_unchanged(passed, before):
    assert passed.tobytes() == before


@given(
    config=pool_configs("max"),
    dtype=st.sampled_from(MAX_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    threads=st.sampled_from([None, 1, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_pool_matches_reference(config, dtype, layout, threads, seed):
    shape, kwargs = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    before = passed.tobytes()
    got = call_or_reject(func("max", nd), passed, **kwargs, data_format=data_format, num_threads=threads)
    want = func("max", nd, reference)(logical, **kwargs)
    got, want = (got, want) if kwargs["return_indices"] else ((got,), (want,))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        assert back(g).shape == w.shape
        assert back(g).tobytes() == np.ascontiguousarray(w).tobytes()
    _check_unchanged(passed, before)


@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_])
@pytest.mark.parametrize("layout", ["contiguous", "outer_strided", "inner_strided"])
@pytest.mark.parametrize("shape,kernel_size", [
    ((2, 3, 8, 70), 2),  # rows of 35 outputs: 32-byte blocks and a moved-back last block
    ((2, 3, 4, 6, 56), 2),  # C3D's 2x2x2 on 56-wide maps: four rows a window
    ((1, 2, 9, 9000), (3, 2)),  # one output row a pass (wider types: the generic path)
    ((2, 3, 7, 61), (3, 2)),  # 61 = 30 windows + 1 cell no window reads
    ((2, 3, 301), 2),  # 1-D: the input row is the folded row
    ((2, 3, 9, 20), (3, 4)),  # 4 wide: the generic forms
])
def test_integer_max_of_disjoint_windows_matches_reference(shape, kernel_size, layout, dtype):
    """Integer max pooling with stride == kernel and no padding folds rows in any order
    (_int_rows.pxd); it must still be the reference's, on both sides of its block size."""
    x = random_values(np.random.default_rng(len(shape) * 31 + shape[-1]), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    fn = func("max", len(shape) - 2)
    want = func("max", len(shape) - 2, reference)(logical, kernel_size)
    for threads in (1, 2):
        got = back(fn(passed, kernel_size, data_format=data_format, num_threads=threads))
        assert got.dtype == want.dtype and np.array_equal(got, want)


def _narrow_cases():
    """(dtype, channels): channels-last pixels of 2 to 16 bytes, each dtype's widths (16
    bytes: the first width past the narrow kernel's)."""
    for dtype in MAX_DTYPES:
        for channels in (2, 3, 4, 5, 8, 16):
            if channels * np.dtype(dtype).itemsize <= 16:
                yield dtype, channels


def _narrow_results(op, dtype, channels, spatial, kwargs):
    """(ndpool's result, the reference's) on channels-last random values, both channels-first
    and contiguous, at 1 and 2 threads."""
    shape = (2, channels, *spatial)
    x = random_values(np.random.default_rng(sum(shape)), shape, dtype)
    passed = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    want = func(op, len(spatial), reference)(x, **kwargs)
    for threads in (1, 2):
        got = func(op, len(spatial))(passed, **kwargs, data_format="channels_last",
                                     num_threads=threads)
        yield np.ascontiguousarray(np.moveaxis(got, -1, 1)), np.array(want)


@pytest.mark.parametrize("dtype,channels", list(_narrow_cases()))
@pytest.mark.parametrize("spatial,kwargs", [
    ((3, 600), dict(kernel_size=2)),  # 300 outputs: 16-byte pixels fill two buffers
    ((2, 6000), dict(kernel_size=(1, 2))),  # 3000 outputs: 2-byte pixels fill two
    ((7, 11), dict(kernel_size=3, stride=2, padding=1)),  # a padded window at either end
    ((7, 11), dict(kernel_size=2, stride=1)),  # stride 1: folded straight into the output
    ((8, 13), dict(kernel_size=3, stride=3, ceil_mode=True)),  # a last window cut short
    ((9, 14), dict(kernel_size=3, stride=2, dilation=2)),
    ((5, 9), dict(kernel_size=(1, 4), stride=(1, 3), padding=(0, 2))),
    ((4, 6, 10), dict(kernel_size=2)),
    ((5, 6, 9), dict(kernel_size=3, stride=2, padding=1)),
])
def test_narrow_channels_last_max_matches_reference(dtype, channels, spatial, kwargs):
    """Channels-last max of narrow pixels folds each tap over a whole run of windows of a
    row, and copies every step-th pixel out (_cl_narrow.pxd): the reference's values and
    bits, NaN payloads and signed zeros included, on both sides of its buffer's size."""
    for got, want in _narrow_results("max", dtype, channels, spatial, kwargs):
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype,channels", [(np.float32, 2), (np.float32, 3), (np.float32, 4),
                                            (np.float64, 2)])
@pytest.mark.parametrize("spatial,kwargs", [
    ((3, 1100), dict(kernel_size=2)),  # 550 outputs: float32 pairs fill two buffers
    ((7, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((7, 11), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((7, 12), dict(kernel_size=3, stride=1, padding=1)),  # folded straight into the output
    ((8, 13), dict(kernel_size=3, stride=3, ceil_mode=True)),
    ((6, 9), dict(kernel_size=3, stride=2, divisor_override=5)),
    ((9, 30), dict(kernel_size=5, stride=2, padding=2, count_include_pad=False)),
    ((4, 5, 33), dict(kernel_size=3, stride=2, padding=1)),
])
def test_narrow_channels_last_avg_matches_reference(dtype, channels, spatial, kwargs):
    """Channels-last float averages of narrow pixels sum each tap over a run of windows
    (_cl_narrow.pxd): 0 + the taps in scan order, one division, as the reference: every bit
    but NaN payloads (which of two NaNs an addition keeps is the compiler's choice of
    operand order, here as in the other average kernels)."""
    for got, want in _narrow_results("avg", dtype, channels, spatial, kwargs):
        got[np.isnan(got)] = want[np.isnan(want)] = np.nan  # one payload
        assert got.tobytes() == want.tobytes()


def _order_values(rng, shape, dtype):
    """+0, -0 and NaNs of two payloads (one negative), -1 now and then: which value a window
    returns then depends only on the order its taps are folded in."""
    bits = {np.float32: [0x7FC00001, 0xFFC00002], np.float64: [0x7FF8000000000001, 0xFFF8000000000002]}
    nans = np.array(bits[dtype], dtype=np.uint32 if dtype == np.float32 else np.uint64).view(dtype)
    choices = np.concatenate([np.array([0.0, -0.0, -1.0], dtype), nans])
    return choices[rng.choice(5, size=shape, p=[0.4, 0.4, 0.1, 0.05, 0.05])]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("nd,kwargs", [
    (2, dict(kernel_size=3, stride=2, padding=1)), (2, dict(kernel_size=3, stride=1)),
    (2, dict(kernel_size=3, stride=3)), (2, dict(kernel_size=2)), (2, dict(kernel_size=4)),
    (2, dict(kernel_size=(2, 3), stride=(1, 2))), (3, dict(kernel_size=2)),
    (3, dict(kernel_size=3, stride=2, padding=1)), (3, dict(kernel_size=3, stride=1, padding=1)),
    (1, dict(kernel_size=3, stride=2, padding=1)), (1, dict(kernel_size=2, stride=1)),
    (1, dict(kernel_size=3, stride=1))])
@pytest.mark.parametrize("channels,width", [(3, None), (16, None), (70, None), (4, 6)])
@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool_folds_taps_in_scan_order(nd, kwargs, data_format, dtype, channels, width,
                                           return_indices):
    # The fused kernels fold a window row by row and then the rows; ties of signed zeros
    # (the first wins) and NaN payloads (the last wins) show any other order, in the values
    # and in the indices.  Channels-last maps of 3 channels take the one-value steps, of 70
    # float32 the register blocks; rows 6 wide leave channels-first spans shorter than a
    # vector.
    spatial = {1: (40,), 2: (12, 21), 3: (6, 8, 11)}[nd]
    if width is not None:
        spatial = spatial[:-1] + (width,)
    x = _order_values(np.random.default_rng(nd), (2, channels) + spatial, dtype)
    passed = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if data_format == "channels_last" else x
    got = func("max", nd)(passed, **kwargs, return_indices=return_indices,
                          data_format=data_format)
    want = func("max", nd, reference)(x, **kwargs, return_indices=return_indices)
    got, want = (got, want) if return_indices else ((got,), (want,))
    for g, w in zip(got, want):
        if data_format == "channels_last":
            g = np.moveaxis(g, -1, 1)
        assert np.ascontiguousarray(g).tobytes() == np.ascontiguousarray(w).tobytes()


@given(
    config=pool_configs("avg"),
    dtype=st.sampled_from(FLOAT_DTYPES + INT_DTYPES[:2] + [np.bool_]),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_avg_pool_matches_reference(config, dtype, layout, seed):
    shape, kwargs = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    before = passed.tobytes()
    got = call_or_reject(func("avg", nd), passed, **kwargs, data_format=data_format)
    want = func("avg", nd, reference)(logical, **kwargs)
    assert got.dtype == want.dtype
    # Both sum each window in scan order and divide once, so they agree exactly.
    np.testing.assert_array_equal(back(got), want)
    _check_unchanged(passed, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd,output_size,data_format", [
    (1, 1, "channels_first"), (1, 5, "channels_first")] + [
    (nd, size, fmt) for nd, size in [(2, 1), (2, (3, 5)), (3, 1), (3, 2)]
    for fmt in ("channels_first", "channels_last")])
@pytest.mark.parametrize("channels", [3, 70])
def test_adaptive_max_pool_folds_bins_in_scan_order(nd, output_size, data_format, dtype,
                                                    channels):
    # As above, for the bins of adaptive max pooling (global maxima included).
    spatial = {1: (40,), 2: (12, 21), 3: (6, 8, 11)}[nd]
    x = _order_values(np.random.default_rng(nd), (2, channels) + spatial, dtype)
    passed = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if data_format == "channels_last" else x
    got = func("adaptive_max", nd)(passed, output_size, data_format=data_format)
    if data_format == "channels_last":
        got = np.moveaxis(got, -1, 1)
    want = func("adaptive_max", nd, reference)(x, output_size)
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


def _keras_same(x, k, s, reducer, fill):
    """Independent 1-D model of Keras "same" pooling: pad T//2 left, the rest right."""
    n = x.shape[-1]
    out = -(-n // s)
    total = max(0, (out - 1) * s + k - n)
    padded = np.concatenate([np.full(total // 2, fill), x, np.full(total - total // 2, fill)])
    valid = np.concatenate([np.zeros(total // 2), np.ones(n), np.zeros(total - total // 2)])
    return np.array([reducer(padded[o * s:o * s + k], valid[o * s:o * s + k]) for o in range(out)])


@pytest.mark.parametrize("n", [1, 4, 5, 6, 7, 10])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_same_padding_follows_keras(n, k, s):
    x = np.random.default_rng(n * 100 + k * 10 + s).standard_normal(n)
    got_max = func("max", 1)(x[None, None], k, s, padding="same")[0, 0]
    got_avg = func("avg", 1)(x[None, None], k, s, padding="same")[0, 0]
    want_max = _keras_same(x, k, s, lambda w, v: w[v > 0].max(), -np.inf)
    want_avg = _keras_same(x, k, s, lambda w, v: w[v > 0].sum() / v.sum(), 0.0)
    np.testing.assert_array_equal(got_max, want_max)
    np.testing.assert_allclose(got_avg, want_avg, rtol=1e-12)
    assert got_max.shape == (-(-n // s),)


def test_valid_padding_is_zero_padding():
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    np.testing.assert_array_equal(func("max", 2)(x, 3, 2, "valid"), func("max", 2)(x, 3, 2, 0))
    np.testing.assert_array_equal(func("avg", 2)(x, 3, 2, "valid", ceil_mode=True),
                                  func("avg", 2)(x, 3, 2, 0, ceil_mode=True))
