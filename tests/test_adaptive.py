"""Adaptive pooling: ndpool equals its plain-NumPy reference in every dtype and layout; output_size
forms, empty outputs, errors, and thread counts.  (Comparisons with torch: test_adaptive_torch.py.)"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ndpool
from ndpool import _layout, reference

from _adaptive_helpers import adaptive_configs
from _helpers import FLOAT_DTYPES, INT_DTYPES, LAYOUTS, MAX_DTYPES, random_values, with_layout


def adaptive(op: str, nd: int, module=ndpool):
    return getattr(module, f"adaptive_{op}_pool{nd}d")


def _bytes(result) -> bytes:
    return b"".join(np.ascontiguousarray(a).tobytes() for a in (result if isinstance(result, tuple) else (result,)))


@given(
    config=adaptive_configs(),
    dtype=st.sampled_from(MAX_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    return_indices=st.booleans(),
    threads=st.sampled_from([None, 1, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_max_matches_reference(config, dtype, layout, return_indices, threads, seed):
    shape, output_size, resolved = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    before = passed.tobytes()
    got = adaptive("max", nd)(passed, output_size, return_indices, data_format=data_format,
                              num_threads=threads)
    want = adaptive("max", nd, reference)(logical, output_size, return_indices)
    got, want = (got, want) if return_indices else ((got,), (want,))
    assert [w.dtype for w in want] == [np.dtype(dtype), np.dtype(np.int64)][: len(want)]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        assert back(g).shape == w.shape == shape[:2] + resolved
        # Bitwise: NaN payloads and the sign of zero too.
        assert back(g).tobytes() == np.ascontiguousarray(w).tobytes()
    assert passed.tobytes() == before


@given(
    config=adaptive_configs(),
    dtype=st.sampled_from(FLOAT_DTYPES + INT_DTYPES + [np.bool_]),
    layout=st.sampled_from(LAYOUTS),
    threads=st.sampled_from([None, 1, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_avg_matches_reference(config, dtype, layout, threads, seed):
    shape, output_size, resolved = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    before = passed.tobytes()
    got = adaptive("avg", nd)(passed, output_size, data_format=data_format, num_threads=threads)
    want = adaptive("avg", nd, reference)(logical, output_size)
    assert got.dtype == want.dtype == (np.float32 if dtype == np.float32 else np.float64)
    assert back(got).shape == want.shape == shape[:2] + resolved
    # Both sum each bin in scan order and divide by kd, kh, kw in turn: exactly equal.
    np.testing.assert_array_equal(back(got), want)
    assert passed.tobytes() == before


def test_overlapping_and_repeated_bins():
    # docs/semantics.md (adaptive bins): In=3, Out=7.
    x = np.array([[[0.0, 1.0, 2.0]]])
    for module in (ndpool, reference):
        np.testing.assert_array_equal(module.adaptive_avg_pool1d(x, 7), [[[0, 0, 0.5, 1, 1.5, 2, 2]]])
        values, indices = module.adaptive_max_pool1d(x, 7, return_indices=True)
        np.testing.assert_array_equal(values, [[[0, 0, 1, 1, 2, 2, 2]]])
        np.testing.assert_array_equal(indices, [[[0, 0, 1, 1, 2, 2, 2]]])


def test_max_rule_and_indices_by_hand():
    # 3x3 into 2x2: bins [0, 2) and [1, 3) along each axis overlap on the middle row/column.
    nan = np.nan
    x = np.array([[[1.0, 5.0, 5.0],
                   [nan, 2.0, 5.0],
                   [nan, 0.0, 3.0]]])
    for module in (ndpool, reference):
        values, indices = module.adaptive_max_pool2d(x, 2, return_indices=True)
        # (0,0): a NaN after a larger value still wins.  (0,1): ties at 5 keep the first.
        # (1,0): two NaNs, the last wins.  (1,1): the one 5.
        np.testing.assert_array_equal(indices, [[[3, 1], [6, 5]]])
        np.testing.assert_array_equal(values, [[[nan, 5.0], [nan, 5.0]]])
    zeros = np.array([[[-0.0, 0.0]]])
    assert np.signbit(ndpool.adaptive_max_pool1d(zeros, 1)).all()  # first max kept: -0.0
    ints = np.full((1, 1, 4), np.iinfo(np.int16).min, dtype=np.int16)
    values, indices = ndpool.adaptive_max_pool1d(ints, 2, return_indices=True)
    np.testing.assert_array_equal(indices, [[[0, 2]]])  # all at the start value: first element


def test_average_divides_per_axis():
    # One 3x3 bin summing to 0.7f: sum / 3 / 3 and sum / 9 round differently in float32.
    x = np.zeros((1, 2, 3, 3), dtype=np.float32)
    x[:, :, 0, 0] = 0.7
    three, nine = np.float32(3), np.float32(9)
    want = np.float32(np.float32(np.float32(0.7) / three) / three)
    assert want != np.float32(0.7) / nine
    cl_memory = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)  # channels-last kernel
    for module in (ndpool, reference):
        for arr in (x, cl_memory):
            np.testing.assert_array_equal(module.adaptive_avg_pool2d(arr, 1), np.full((1, 2, 1, 1), want))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_output_size_forms_agree(nd):
    x = random_values(np.random.default_rng(nd), (2, 3) + (5, 7, 6)[:nd], np.float64)
    spatial = x.shape[2:]
    forms = [3, (3,) * nd, [3] * nd, np.int64(3), np.array([3] * nd), tuple(np.int32(3) for _ in range(nd))]
    results = [adaptive("max", nd)(x, f) for f in forms] + [adaptive("avg", nd)(x, f) for f in forms]
    for r in results[1 : len(forms)]:
        np.testing.assert_array_equal(r, results[0])
    for r in results[len(forms) + 1 :]:
        np.testing.assert_array_equal(r, results[len(forms)])
    # None keeps the input size of its axis.
    for axis in range(nd):
        entries = [3] * nd
        entries[axis] = None
        for op in ("max", "avg"):
            out = adaptive(op, nd)(x, tuple(entries))
            resolved = list(entries)
            resolved[axis] = spatial[axis]
            assert out.shape == x.shape[:2] + tuple(resolved)
            np.testing.assert_array_equal(out, adaptive(op, nd)(x, tuple(resolved)))
    # Out = In everywhere is the identity; bins of one element.
    np.testing.assert_array_equal(adaptive("avg", nd)(x, (None,) * nd), x)
    values, indices = adaptive("max", nd)(x, list(spatial), return_indices=True)
    np.testing.assert_array_equal(values, x)
    np.testing.assert_array_equal(indices, np.broadcast_to(np.arange(np.prod(spatial)).reshape(spatial), x.shape))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_zero_sizes_give_empty_outputs(nd, data_format):
    spatial = (4, 5, 6)[:nd]

    def make(n):
        shape = (n, 3) + spatial
        x = np.ones(shape, np.float32)
        return np.moveaxis(x, 1, -1) if data_format == "channels_last" else x

    def logical(out):
        return np.moveaxis(out, -1, 1) if data_format == "channels_last" else out

    cases = [(make(2), 0, (2, 3) + (0,) * nd),
             (make(2), (0,) + (2,) * (nd - 1), (2, 3, 0) + (2,) * (nd - 1)),
             (make(2), (2,) * (nd - 1) + (0,), (2, 3) + (2,) * (nd - 1) + (0,)),
             (make(0), 2, (0, 3) + (2,) * nd)]
    for module in (ndpool, reference):
        for x, output_size, want in cases:
            values, indices = adaptive("max", nd, module)(x, output_size, True, data_format=data_format)
            avg = adaptive("avg", nd, module)(x, output_size, data_format=data_format)
            assert logical(values).shape == logical(indices).shape == logical(avg).shape == want
            assert values.dtype == np.float32 and indices.dtype == np.int64 and avg.dtype == np.float32


X1 = np.zeros((2, 3, 8), np.float32)
X2 = np.zeros((2, 3, 8, 8), np.float32)
X3 = np.zeros((2, 3, 4, 4, 4), np.float32)

# (function, input, args, kwargs, exception, message pattern)
ERROR_CASES = [
    ("adaptive_max_pool2d", X2, (-1,), {}, ValueError, "output_size must be non-negative"),
    ("adaptive_avg_pool3d", X3, ((2, -1, None),), {}, ValueError, "output_size must be non-negative"),
    ("adaptive_avg_pool2d", X2, ((2, 2, 2),), {}, ValueError, "output_size must be an int or a tuple of 2 values, each an int or None"),
    ("adaptive_max_pool2d", X2, ((2,),), {}, ValueError, "output_size must be an int or a tuple of 2 values"),
    ("adaptive_max_pool1d", X1, ((2, 2),), {}, ValueError, "output_size must be an int or a tuple of 1 value, an int or None"),
    ("adaptive_avg_pool3d", X3, ([],), {}, ValueError, "output_size must be an int or a tuple of 3 values"),
    ("adaptive_max_pool2d", X2, (2.0,), {}, TypeError, "output_size must be an int"),
    ("adaptive_avg_pool2d", X2, ((2, 2.5),), {}, TypeError, "output_size must be an int"),
    ("adaptive_avg_pool1d", X1, (True,), {}, TypeError, "output_size must be an int"),
    ("adaptive_max_pool3d", X3, ((2, np.bool_(True), 2),), {}, TypeError, "output_size must be an int"),
    ("adaptive_max_pool2d", X2, ("2",), {}, TypeError, "output_size must be an int"),
    ("adaptive_avg_pool2d", X2, (None,), {}, TypeError, "output_size must be an int"),
    ("adaptive_max_pool2d", X2, (2**31,), {}, ValueError, "output_size must fit in a 32-bit int"),
    ("adaptive_avg_pool2d", np.zeros((8, 8)), (2,), {}, ValueError, r"input must be 3-D or 4-D \(N, C, H, W\)"),
    ("adaptive_max_pool1d", np.zeros(8, np.float32), (2,), {"data_format": "channels_last"}, ValueError,
     r"input must be 2-D or 3-D \(N, L, C\)"),
    ("adaptive_max_pool2d", np.zeros((2, 0, 8, 8)), (2,), {}, ValueError, "non-zero channel and spatial sizes"),
    ("adaptive_avg_pool3d", np.zeros((1, 2, 3, 0, 3)), (2,), {}, ValueError, "non-zero channel and spatial sizes"),
    ("adaptive_max_pool2d", X2.astype(np.float16), (2,), {}, TypeError, "float16 is not supported"),
    ("adaptive_avg_pool1d", X1.astype(np.complex64), (2,), {}, TypeError, "complex64 is not supported"),
    ("adaptive_max_pool2d", X2, (2,), {"data_format": "NHWC"}, ValueError, "data_format must be"),
    ("adaptive_avg_pool2d", X2, (2,), {"num_threads": 0}, ValueError, "num_threads must be None or a positive int"),
    ("adaptive_max_pool3d", X3, (2,), {"num_threads": 2.0}, TypeError, "num_threads must be None or a positive int"),
]


@pytest.mark.parametrize("name,x,args,kwargs,exc,match", ERROR_CASES,
                         ids=[f"{c[0]}-{c[5][:40]}" for c in ERROR_CASES])
def test_bad_arguments_raise(name, x, args, kwargs, exc, match):
    with pytest.raises(exc, match=match) as fast:
        getattr(ndpool, name)(x, *args, **kwargs)
    assert str(fast.value).startswith(name + ":"), "messages start with the function name"
    with pytest.raises(exc) as ref:
        getattr(reference, name)(x, *args, **kwargs)
    assert str(ref.value) == str(fast.value), "the reference raises the same message"


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_thread_count_does_not_change_bits(nd, channels_last, dtype, parallel_small_calls):
    rng = np.random.default_rng(nd)
    x = random_values(rng, (3, 32) + ((4000,), (80, 74), (40, 37, 12))[nd - 1], dtype)
    if channels_last:
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    output_size = (7, 5, 9)[:nd]
    for op, extra in (("max", (True,)), ("avg", ())):
        runs = [_bytes(adaptive(op, nd)(x, output_size, *extra, num_threads=t)) for t in (1, 2, 3)]
        assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last_memory", "outer_strided", "readonly",
                                    "broadcast_batch", "data_format_channels_last"])
def test_readable_layouts_are_not_copied(layout, monkeypatch):
    monkeypatch.setattr(_layout, "copy_to_layout", lambda *a: pytest.fail("input was copied"))
    x = random_values(np.random.default_rng(0), (2, 4, 9, 11), np.float64)
    passed, logical, data_format, back = with_layout(x, layout)
    values, indices = ndpool.adaptive_max_pool2d(passed, (4, 5), True, data_format=data_format)
    avg = ndpool.adaptive_avg_pool2d(passed, (4, 5), data_format=data_format)
    monkeypatch.undo()
    want_values, want_indices = ndpool.adaptive_max_pool2d(np.ascontiguousarray(logical), (4, 5), True)
    assert back(values).tobytes() == want_values.tobytes()
    np.testing.assert_array_equal(back(indices), want_indices)
    np.testing.assert_array_equal(back(avg), ndpool.adaptive_avg_pool2d(np.ascontiguousarray(logical), (4, 5)))


def test_output_memory_follows_input_memory():
    x = random_values(np.random.default_rng(1), (2, 6, 8, 9), np.float32)
    assert ndpool.adaptive_avg_pool2d(x, 3).flags.c_contiguous
    nhwc_mem = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    out, idx = ndpool.adaptive_max_pool2d(nhwc_mem, 3, return_indices=True)
    assert np.moveaxis(out, 1, -1).flags.c_contiguous and np.moveaxis(idx, 1, -1).flags.c_contiguous
    keras = ndpool.adaptive_avg_pool2d(np.ascontiguousarray(np.moveaxis(x, 1, -1)), (2, 3),
                                       data_format="channels_last")
    assert keras.shape == (2, 2, 3, 6) and keras.flags.c_contiguous


def test_array_likes_big_endian_and_unbatched():
    nested = [[[1.0, 5.0, 2.0, 0.0]]]
    np.testing.assert_array_equal(ndpool.adaptive_max_pool1d(nested, 2), [[[5.0, 2.0]]])
    np.testing.assert_array_equal(ndpool.adaptive_avg_pool1d(nested[0], 2), [[3.0, 1.0]])
    x = random_values(np.random.default_rng(2), (2, 3, 5, 6), np.float64)
    be = x.astype(">f8")
    np.testing.assert_array_equal(ndpool.adaptive_avg_pool2d(be, 4), ndpool.adaptive_avg_pool2d(x, 4))
    np.testing.assert_array_equal(ndpool.adaptive_max_pool2d(x[0], 4), ndpool.adaptive_max_pool2d(x, 4)[0])
    assert be.dtype.byteorder == ">"


def test_bool_and_integer_dtypes():
    rng = np.random.default_rng(4)
    mask = rng.random((1, 2, 8, 8)) < 0.2
    out = ndpool.adaptive_max_pool2d(mask, 4)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, mask.reshape(1, 2, 4, 2, 4, 2).any(axis=(3, 5)))
    img = rng.integers(0, 256, (1, 3, 8, 8)).astype(np.uint8)
    assert ndpool.adaptive_max_pool2d(img, 3).dtype == np.uint8
    mean = ndpool.adaptive_avg_pool2d(img, 4)
    assert mean.dtype == np.float64
    np.testing.assert_allclose(mean, img.reshape(1, 3, 4, 2, 4, 2).mean(axis=(3, 5)))
    big = np.array([[[2**62, 2**62 + 1, -(2**63)]]], dtype=np.int64)
    np.testing.assert_array_equal(ndpool.adaptive_max_pool1d(big, 2), [[[2**62 + 1, 2**62 + 1]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_wide_channels_last_max(dtype):
    """Channel counts past the kernels' channel block (2048), with NaNs and ties, in
    channels-last memory: the same values and indices as the reference and as channels-first."""
    rng = np.random.default_rng(7)
    x = random_values(rng, (2, 2100, 6, 7), dtype)
    cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    for output_size in [(4, 3), 1, (6, 7)]:
        want = reference.adaptive_max_pool2d(x, output_size, True)
        for arr in (x, cl):
            for threads in (1, 2):
                got = ndpool.adaptive_max_pool2d(arr, output_size, True, num_threads=threads)
                assert _bytes(got) == _bytes(want)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_global_average(nd, dtype):
    """Output size 1 on every axis: the reference's bits in every layout and for every thread
    count, contiguous planes or not, and close to NumPy's mean."""
    rng = np.random.default_rng(nd)
    spatial = ((301,), (19, 23), (5, 9, 7))[nd - 1]
    x = (rng.standard_normal((3, 150) + spatial) * 100).astype(dtype)
    want = reference.adaptive_avg_pool1d(x, 1) if nd == 1 else adaptive("avg", nd, reference)(x, 1)
    layouts = {
        "contiguous": x,
        "channels_last_memory": np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1),
        "rows_apart": np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 5)])[..., : spatial[-1]],
        # Contiguous planes, but channels or samples not packed: blocks of planes that
        # cross a sample must step over the gap.
        "channels_apart": np.repeat(x, 2, axis=1)[:, ::2],
        "samples_apart": np.pad(x, [(0, 0), (0, 3)] + [(0, 0)] * nd)[:, :150],
    }
    for name, arr in layouts.items():
        for threads in (1, 2, 3):
            got = adaptive("avg", nd)(arr, 1, num_threads=threads)
            assert got.tobytes() == np.ascontiguousarray(want).tobytes(), (name, threads)
    nhwc = np.ascontiguousarray(np.moveaxis(x[:1], 1, -1))
    keras = adaptive("avg", nd)(nhwc, 1, data_format="channels_last", num_threads=2)
    assert np.moveaxis(keras, -1, 1).tobytes() == want[:1].tobytes()
    scan = x.astype(np.float64).reshape(x.shape[:2] + (-1,)).mean(axis=-1)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(want.reshape(scan.shape), scan, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spatial", [(49,), (7, 7), (2, 7, 7), (16, 16), (16, 32), (23, 24),
                                     (9, 15), (2, 67)])
def test_global_max(dtype, spatial):
    """Output size 1, without indices, on planes around the size where the kernel stops
    folding 16 planes side by side (1024 bytes), and longer planes folded one by one in
    vectors (135 and 134 values: tails of whole and part vectors after steps of 16 lanes):
    the reference's bits for packed planes and
    planes apart in memory, a short last block, ties of signed zeros, and NaNs of several
    payloads (the last NaN of a plane wins, so those planes are folded again in order)."""
    rng = np.random.default_rng(len(spatial) * 100 + spatial[-1])
    x = random_values(rng, (3, 21) + spatial, dtype)  # 63 planes: a short last block
    x[1] = np.where(rng.random(x[1].shape) < 0.5, -0.0, 0.0)  # a plane's maximum is a zero
    bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
    nan = np.isnan(x)
    bits[nan] |= rng.integers(1, 1000, int(nan.sum())).astype(bits.dtype)  # distinct payloads
    nd = len(spatial)
    want = np.ascontiguousarray(adaptive("max", nd, reference)(x, 1)).tobytes()
    assert np.isnan(x).reshape(63, -1).any(axis=1).sum() > 16  # the refold runs
    layouts = {
        "contiguous": x,
        "channels_apart": np.repeat(x, 2, axis=1)[:, ::2],
        "samples_apart": np.pad(x, [(0, 0), (0, 3)] + [(0, 0)] * nd)[:, :21],
        "rows_apart": np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 5)])[..., : spatial[-1]],
    }
    for name, arr in layouts.items():
        for threads in (1, 2):
            got = adaptive("max", nd)(arr, 1, num_threads=threads)
            assert got.tobytes() == want, (name, threads)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("spatial, size", [((20, 20), 7), ((9, 23), (4, 6)), ((4, 6, 7), 3),
                                           ((16,), 5), ((3, 11), (5, 20)), ((14, 14), 7)])
def test_adaptive_small_planes_in_tiles(op, dtype, spatial, size):
    """Channels-first float planes of up to 512 cells are pooled 8 at a time as the lanes
    of a channels-last tile (_max_cf_lanes, _avg_cf_lanes; float32 in and out through
    register transposes): 19 planes (two full tiles and a short one) must each keep the
    reference's bits, with ties of signed zeros and NaNs (for max of distinct payloads)
    sharing bins, in every layout.  (Integers, and float64 in equal bins, take other
    paths.)"""
    rng = np.random.default_rng(sum(spatial))
    nd = len(spatial)
    x = rng.integers(-3, 4, (1, 19) + spatial).astype(dtype)  # many ties
    if x.dtype.kind == "f":
        x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, -0.0, 0.0)
        x[rng.random(x.shape) < 0.05] = np.nan
        if op == "max":  # which NaN a sum keeps is not the reference's concern (NumPy's)
            bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
            nan = np.isnan(x)
            bits[nan] |= rng.integers(1, 1000, int(nan.sum())).astype(bits.dtype)
    want = np.ascontiguousarray(adaptive(op, nd, reference)(x, size)).tobytes()
    layouts = {
        "contiguous": x,
        "channels_apart": np.repeat(x, 2, axis=1)[:, ::2],
        "rows_apart": np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 5)])[..., : spatial[-1]],
        "samples": x.reshape((19, 1) + spatial),
    }
    for name, arr in layouts.items():
        for threads in (1, 2):
            got = adaptive(op, nd)(arr, size, num_threads=threads)
            assert np.ascontiguousarray(got).tobytes() == want, (name, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("length", [64, 67, 79, 135])
def test_global_max_at_every_position(dtype, length):
    """Long planes (folded in vector lanes, then whole vectors, then single values): plane
    p holds its one maximum, or a NaN, at position p, so every lane and tail position must
    reach the result."""
    rng = np.random.default_rng(length)
    x = -rng.integers(1, 100, (2, length, length)).astype(dtype)
    x[0, np.arange(length), np.arange(length)] = 7
    if x.dtype.kind == "f":
        x[1, np.arange(length), np.arange(length)] = np.nan
    want = np.ascontiguousarray(reference.adaptive_max_pool1d(x, 1)).tobytes()
    assert (x[0].max(axis=1) == 7).all()
    for threads in (1, 2):
        assert ndpool.adaptive_max_pool1d(x, 1, num_threads=threads).tobytes() == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
def test_max_rows_of_few_outputs_side_by_side(dtype):
    """Channels-first max without indices, rows of fewer than 8 outputs: 8 channels'
    plain maxima side by side, and the bins whose maximum is a zero or that hold a NaN
    folded again in scan order.  The reference's bits with bins of all signed zeros, of
    -inf only, and NaNs of distinct payloads; channel counts around the groups of 8."""
    rng = np.random.default_rng(5)
    for shape, output_size in [((2, 19, 20, 20), 7), ((1, 4, 9, 11), (4, 6)),
                               ((2, 9, 3, 12, 12), (2, 3, 5)), ((1, 8, 64, 64), 6)]:
        nd = len(shape) - 2
        x = random_values(rng, shape, dtype)
        if x.dtype.kind == "f":
            x[0, 1] = np.where(rng.random(shape[2:]) < 0.5, -0.0, 0.0)
            x[0, 2] = -np.inf
            bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
            nan = np.isnan(x)
            bits[nan] |= rng.integers(1, 1000, int(nan.sum())).astype(bits.dtype)
        want = np.ascontiguousarray(adaptive("max", nd, reference)(x, output_size)).tobytes()
        for arr in (x, np.repeat(x, 2, axis=1)[:, ::2]):
            for threads in (1, 2):
                got = adaptive("max", nd)(arr, output_size, num_threads=threads)
                assert got.tobytes() == want, (shape, output_size, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equal_bins(dtype):
    """Channels-first inputs split into equal bins of 2 to 4 columns and up to 3 rows
    (one fused fold per output row, rounded up to whole vectors where the overhang stays
    inside the work item): the reference's bits for rows of 1 to 16 outputs, items of
    several planes' rows or of part of one plane (1 to 3 threads), planes apart in memory,
    3-D bins, and the last rows of a plane and of the array."""
    rng = np.random.default_rng(11)
    cases = [((8, 5, 14, 14), 7), ((2, 3, 14, 14), (7, 2)), ((1, 2, 21, 21), 7),
             ((1, 1, 6, 16), (2, 2)), ((3, 4, 6, 6), (3, 3)), ((1, 16, 6, 6), (3, 2)),
             ((1, 1, 2000, 24), (1000, 8)), ((1, 3, 8, 1020), (4, 510)), ((5, 1, 2, 6), (1, 2)),
             ((2, 3, 4, 14, 14), (2, 7, 7)), ((2, 3, 3, 8, 8), (1, 4, 4)), ((3, 7, 48), (16,)),
             ((3, 7, 48), (12,)), ((1, 2, 64, 64), 32), ((2, 9, 10, 10), (5, 5))]
    for shape, output_size in cases:
        nd = len(shape) - 2
        x = random_values(rng, shape, dtype)
        finite = (rng.standard_normal(shape) * 100).astype(dtype)
        finite.flat[rng.choice(finite.size, 3, replace=False)] = [np.nan, np.inf, -0.0]
        want_max = np.ascontiguousarray(adaptive("max", nd, reference)(x, output_size)).tobytes()
        want_avg = np.ascontiguousarray(adaptive("avg", nd, reference)(finite, output_size)).tobytes()
        for threads in (1, 2, 3):
            for arr in (x, np.repeat(x, 2, axis=1)[:, ::2]):
                got = adaptive("max", nd)(arr, output_size, num_threads=threads)
                assert got.tobytes() == want_max, (shape, output_size, threads)
            got = adaptive("avg", nd)(finite, output_size, num_threads=threads)
            assert got.tobytes() == want_avg, (shape, output_size, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_rows_of_few_outputs(dtype):
    """Channels-first rows of fewer than 8 outputs (averages take 8 planes side by side):
    the reference's bits for channel counts around the 8-plane blocks, planes apart in
    memory, bins that repeat (output larger than input), a large plane, and specials; max
    values and indices too."""
    rng = np.random.default_rng(7)
    cases = [((2, 1, 14, 14), 7), ((2, 15, 14, 14), (7, 3)), ((1, 16, 9, 5), (20, 6)),
             ((3, 17, 6, 7), (1, 7)), ((1, 33, 3, 4, 5), (2, 3, 4)),
             ((1, 3, 300, 300), (5, 5))]  # a 90000-value plane: too big for a tile
    for shape, output_size in cases:
        x = (rng.standard_normal(shape) * 100).astype(dtype)
        if x.dtype.kind == "f":  # one NaN source: which of two NaNs an average keeps is open
            x.flat[rng.choice(x.size, 3, replace=False)] = [np.nan, np.inf, -0.0]
        nd = x.ndim - 2
        want_avg = np.ascontiguousarray(adaptive("avg", nd, reference)(x, output_size)).tobytes()
        want_max = _bytes(adaptive("max", nd, reference)(x, output_size, True))
        apart = np.repeat(x, 2, axis=1)[:, ::2]  # planes not packed
        for arr in (x, apart):
            for threads in (1, 2):
                got = adaptive("avg", nd)(arr, output_size, num_threads=threads)
                assert got.tobytes() == want_avg, (shape, output_size, threads)
                got = adaptive("max", nd)(arr, output_size, True, num_threads=threads)
                assert _bytes(got) == want_max, (shape, output_size, threads)
                got = adaptive("max", nd)(arr, output_size, num_threads=threads)
                assert got.tobytes() == want_max[:got.nbytes], (shape, output_size, threads)
