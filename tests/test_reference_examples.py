"""Hand-checkable examples for ndpool.reference, the NumPy oracle the other tests trust.

Expected values follow docs/semantics.md and are worked out by hand;
one differential test also checks the reference against torch where torch is installed.
"""

import numpy as np
import pytest

from ndpool import reference as ref

TUTORIAL = [[2, 3, 4, 2], [8, 5, 5, 1], [6, 7, 9, 4], [3, 1, 4, 5]]


# ---------------------------------------------------------------------------------------------
# Max pooling


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.uint8])
def test_max_tutorial_example(dtype):
    x = np.array([TUTORIAL], dtype=dtype)  # (C, H, W) = (1, 4, 4), unbatched
    out, idx = ref.max_pool2d(x, 2, 2, return_indices=True)
    assert out.dtype == dtype and out.shape == (1, 2, 2)
    np.testing.assert_array_equal(out, [[[8, 5], [7, 9]]])
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [[[4, 6], [9, 10]]])
    # stride defaults to kernel_size
    np.testing.assert_array_equal(ref.max_pool2d(x, 2), out)


def test_max_nan_last_nan_wins():
    x = np.array([[[1.0, np.nan], [np.nan, 2.0]]])
    out, idx = ref.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(out[0, 0, 0])
    assert idx[0, 0, 0] == 2


def test_max_nan_after_max_and_before_max():
    # Windows [5, nan, 7], [7, nan, 0], [0, nan, 9]: a NaN beats maxima before and after it.
    out, idx = ref.max_pool1d(np.array([[5.0, np.nan, 7.0, np.nan, 0.0, np.nan, 9.0]]), 3, 2,
                              return_indices=True)
    assert np.isnan(out).all()
    np.testing.assert_array_equal(idx, [[1, 3, 5]])


def test_max_negative_zero_first_wins():
    x = np.array([[-0.0, 0.0, 0.0, -0.0]])
    out, idx = ref.max_pool1d(x, 2, return_indices=True)
    np.testing.assert_array_equal(np.signbit(out), [[True, False]])
    np.testing.assert_array_equal(idx, [[0, 2]])


def test_max_padding_is_never_selected():
    # All -inf (or dtype min): the index is the first real element, never a padded one.
    x = np.full((1, 3), -np.inf)
    out, idx = ref.max_pool1d(x, 3, 1, padding=1, return_indices=True)
    np.testing.assert_array_equal(out, np.full((1, 3), -np.inf))
    np.testing.assert_array_equal(idx, [[0, 0, 1]])
    xi = np.full((1, 3), np.iinfo(np.int16).min, dtype=np.int16)
    out, idx = ref.max_pool1d(xi, 3, 1, padding=1, return_indices=True)
    assert out.dtype == np.int16 and (out == xi.min()).all()
    np.testing.assert_array_equal(idx, [[0, 0, 1]])


def test_max_dilation_and_ceil():
    # I=7, k=2, d=3, s=2, p=1, ceil: O = (7+2-3-1+1)//2+1 = 4; starts -1, 1, 3, 5
    # taps {-1,2}, {1,4}, {3,6}, {5,8}: the last has only element 5.
    x = np.array([[10.0, 3.0, 1.0, 7.0, 2.0, 8.0, 4.0]])
    out, idx = ref.max_pool1d(x, 2, 2, padding=1, dilation=3, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(out, [[1.0, 3.0, 7.0, 8.0]])
    np.testing.assert_array_equal(idx, [[2, 1, 3, 5]])


def test_max_3d_indices():
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(1, 2, 3, 4)  # (C, D, H, W)
    out, idx = ref.max_pool3d(x, 2, return_indices=True)
    assert out.shape == (1, 1, 1, 2)
    # Window (d, h, w) in {0,1} x {0,1} x {0,1} / {2,3}: max at (1, 1, 1) and (1, 1, 3).
    np.testing.assert_array_equal(idx, [[[[(1 * 3 + 1) * 4 + 1, (1 * 3 + 1) * 4 + 3]]]])
    np.testing.assert_array_equal(out, idx.astype(np.float64))


def test_max_uint8_and_bool_keep_dtype():
    x8 = np.array([[[0, 255], [3, 200]]], dtype=np.uint8)
    out = ref.max_pool2d(x8, 2)
    assert out.dtype == np.uint8 and out[0, 0, 0] == 255
    xb = np.array([[False, False, True, False, False, False]])
    out, idx = ref.max_pool1d(xb, 2, return_indices=True)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, [[False, True, False]])
    np.testing.assert_array_equal(idx, [[0, 2, 4]])  # all-False window: first element


def test_max_non_native_byte_order_and_input_untouched():
    x = np.array([[3.0, 1.0, -2.0, 5.0]], dtype=">f8")
    before = x.copy()
    out = ref.max_pool1d(x, 2)
    assert out.dtype == np.float64 and out.dtype.isnative
    np.testing.assert_array_equal(out, [[3.0, 5.0]])
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------------------------------------
# Average pooling (docs/semantics.md)


def test_avg_window_clipped_at_right_padding():
    # I=6, k=3, s=2, p=1, ceil: last window [5, 7): pool_size 2, one valid cell -> 0.5
    out = ref.avg_pool1d(np.ones((1, 6)), 3, 2, padding=1, ceil_mode=True)
    assert out.shape == (1, 4)
    assert out[0, -1] == 0.5
    np.testing.assert_array_equal(out, [[2 / 3, 1.0, 1.0, 0.5]])


def test_avg_pool_sizes_with_padding():
    # I=6, k=4, s=3, p=2, ceil: windows [-2,2), [1,5), [4,8); valid 2, 4, 2 out of 4
    out = ref.avg_pool1d(np.ones((1, 6)), 4, 3, padding=2, ceil_mode=True)
    np.testing.assert_array_equal(out, [[0.5, 1.0, 0.5]])


def test_avg_count_include_pad():
    x = np.arange(6.0)[None]
    np.testing.assert_array_equal(ref.avg_pool1d(x, 2, 2, 1, ceil_mode=True), [[0, 1.5, 3.5, 2.5]])
    np.testing.assert_array_equal(
        ref.avg_pool1d(x, 2, 2, 1, ceil_mode=True, count_include_pad=False), [[0, 1.5, 3.5, 5]]
    )


def test_avg_divisor_override():
    x = np.arange(6.0)[None]
    np.testing.assert_array_equal(ref.avg_pool1d(x, 2, divisor_override=-2), [[-0.5, -2.5, -4.5]])


def test_avg_2d_divisor_is_a_product():
    # 3x3 ones, k=2, s=2, p=1: every window has 4 cells of which 1 (corner), 2 (edge) are real.
    out = ref.avg_pool2d(np.ones((1, 3, 3)), 2, 2, padding=1)
    np.testing.assert_array_equal(out, [[[0.25, 0.5], [0.5, 1.0]]])
    out = ref.avg_pool2d(np.ones((1, 3, 3)), 2, 2, padding=1, count_include_pad=False)
    np.testing.assert_array_equal(out, np.ones((1, 2, 2)))


def test_avg_dtypes():
    xi = np.array([[1, 2, 4]], dtype=np.int32)
    out = ref.avg_pool1d(xi, 2, 1)
    assert out.dtype == np.float64  # no truncation: NumPy's mean convention
    np.testing.assert_array_equal(out, [[1.5, 3.0]])
    assert ref.avg_pool1d(xi.astype(np.bool_), 2).dtype == np.float64
    assert ref.avg_pool1d(xi.astype(np.float32), 2).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# padding="same" (docs/semantics.md, Beyond torch)


def test_same_padding_one_cell_on_the_right():
    # I=5, k=2, s=2: O = 3, T = (3-1)*2 + 2 - 5 = 1 -> pad (0, 1); last window is cell 4 alone.
    x = np.arange(5.0)[None]
    np.testing.assert_array_equal(ref.avg_pool1d(x, 2, 2, padding="same"), [[0.5, 2.5, 4.0]])
    out, idx = ref.max_pool1d(x, 2, 2, padding="same", return_indices=True)
    np.testing.assert_array_equal(out, [[1.0, 3.0, 4.0]])
    np.testing.assert_array_equal(idx, [[1, 3, 4]])


def test_same_padding_odd_total_extra_cell_on_the_right():
    # I=4, k=4, s=1: O = 4, T = 3 + 4 - 4 = 3 -> pad (1, 2).  Windows: [-1,3), [0,4), [1,5), [2,6)
    x = np.array([[1.0, 2.0, 3.0, 10.0]])
    # count_include_pad is ignored: always the number of real cells.
    for cip in (True, False):
        out = ref.avg_pool1d(x, 4, 1, padding="same", count_include_pad=cip)
        np.testing.assert_array_equal(out, [[2.0, 4.0, 5.0, 6.5]])
    np.testing.assert_array_equal(ref.max_pool1d(-x, 4, 1, padding="same"), [[-1.0, -1.0, -2.0, -3.0]])


def test_valid_padding_is_zero():
    x = np.arange(7.0)[None]
    np.testing.assert_array_equal(ref.max_pool1d(x, 3, 2, padding="valid"), ref.max_pool1d(x, 3, 2))


# ---------------------------------------------------------------------------------------------
# Layouts


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_channels_last_is_transposed_channels_first(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 3) + (5,) * nd)
    x_cl = np.moveaxis(x, 1, -1)
    for name, kwargs in [("max", dict(return_indices=True)), ("avg", dict())]:
        fn = getattr(ref, f"{name}_pool{nd}d")
        first = fn(x, 2, 1, 1, **kwargs)
        last = fn(x_cl, 2, 1, 1, data_format="channels_last", **kwargs)
        first, last = (first, last) if isinstance(first, tuple) else ((first,), (last,))
        for a, b in zip(first, last):
            np.testing.assert_array_equal(np.moveaxis(a, 1, -1), b)
        # unbatched: (C, *spatial) and (*spatial, C)
        single = fn(x_cl[0], 2, 1, 1, data_format="channels_last", **kwargs)
        single = single if isinstance(single, tuple) else (single,)
        np.testing.assert_array_equal(single[0], last[0][0])


def test_empty_batch():
    out, idx = ref.max_pool2d(np.zeros((0, 3, 4, 4)), 2, return_indices=True)
    assert out.shape == idx.shape == (0, 3, 2, 2)
    assert ref.avg_pool3d(np.zeros((0, 4, 4, 4, 3)), 2, data_format="channels_last").shape == (0, 2, 2, 2, 3)


def test_errors_match_ndpool():
    import ndpool

    bad_calls = [
        lambda m: m.max_pool2d(np.ones((1, 4, 4)), 3, padding=2),
        lambda m: m.max_pool1d(np.ones((1, 1)), 2, 1, padding=1, dilation=2),
        lambda m: m.avg_pool1d(np.ones((1, 4)), 2, divisor_override=0),
        lambda m: m.max_pool1d(np.ones((1, 4), dtype=np.float16), 2),
        lambda m: m.max_pool1d(np.ones((1, 4)), 2, data_format="NCL"),
        lambda m: m.max_pool1d(np.ones((1, 4)), 2, num_threads=0),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, TypeError)) as theirs:
            call(ndpool)
        with pytest.raises(theirs.type) as ours:
            call(ref)
        assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------------------------------------
# Differential test against torch


def test_matches_torch_on_random_configs():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(20240611)
    checked = 0
    for _ in range(200):
        nd = int(rng.integers(1, 4))
        spatial = tuple(int(v) for v in rng.integers(1, 7, size=nd))
        k = tuple(int(v) for v in rng.integers(1, 4, size=nd))
        s = tuple(int(v) for v in rng.integers(1, 4, size=nd))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        d = tuple(int(v) for v in rng.integers(1, 3, size=nd))
        ceil = bool(rng.integers(2))
        cip = bool(rng.integers(2))
        x = rng.standard_normal((2, 3) + spatial)
        x[rng.random(x.shape) < 0.1] = np.nan
        xt = torch.from_numpy(x)
        max_t = getattr(F, f"max_pool{nd}d")
        avg_t = getattr(F, f"avg_pool{nd}d")

        try:
            want, want_idx = max_t(xt, k, s, p, d, ceil, return_indices=True)
        except RuntimeError:
            want = None
        if want is not None:
            try:
                got, got_idx = getattr(ref, f"max_pool{nd}d")(x, k, s, p, d, ceil, return_indices=True)
            except ValueError as err:
                assert "covers no input element" in str(err)
            else:
                assert np.array_equal(got, want.numpy(), equal_nan=True)
                assert np.array_equal(got_idx, want_idx.numpy())
                checked += 1

        xa = np.nan_to_num(x)
        try:
            want = avg_t(torch.from_numpy(xa), k, s, p, ceil, cip).numpy()
        except RuntimeError:
            continue
        got = getattr(ref, f"avg_pool{nd}d")(xa, k, s, p, ceil, cip)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 200  # most configurations are legal for at least one of the two ops
