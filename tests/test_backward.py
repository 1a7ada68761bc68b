"""Backward functions: against the plain-NumPy reference, finite differences, thread counts,
layouts, errors.  (Against torch's autograd: test_backward_torch.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ndpool
from ndpool import _backward, _layout, reference

from _backward_helpers import (adaptive_avg_forward, adaptive_configs, arrange, arrange_shape,
                               arrangements, bfunc, logical)
from _helpers import FLOAT_DTYPES, call_or_reject, func, pool_configs, random_values


def _same(got, want):
    """Same dtype and values; NaN where the other has NaN.  (Sums of infinities make NaNs
    whose sign bit depends on operand order, which NumPy and C may choose differently.)"""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _max_case(rng, in_shape, out_spatial, dtype):
    """grad_output with infinities and NaNs, and indices with many duplicates."""
    out_shape = tuple(in_shape[:2]) + tuple(out_spatial)
    grad = random_values(rng, out_shape, dtype)
    indices = rng.integers(0, int(np.prod(in_shape[2:])), size=out_shape).astype(np.int64)
    return grad, indices


# ---------------------------------------------------------------------------------------
# Against the reference


@settings(max_examples=400)
@given(op=st.sampled_from(["max", "adaptive_max"]), config=adaptive_configs(), dtype=st.sampled_from(FLOAT_DTYPES),
       data=st.data(), threads=st.sampled_from([None, 1, 2]), seed=st.integers(0, 2**32 - 1))
def test_max_backward_matches_reference(op, config, dtype, data, threads, seed):
    in_shape, out_spatial = config
    nd = len(out_spatial)
    grad, indices = _max_case(np.random.default_rng(seed), in_shape, out_spatial, dtype)
    data_format, batched, grad_memory, idx_memory = data.draw(arrangements(in_shape[0]))
    g, g_logical = arrange(grad, grad_memory, data_format, batched)
    i, i_logical = arrange(indices, idx_memory, data_format, batched)
    before = g.tobytes(), i.tobytes()
    shape = arrange_shape(in_shape, data_format, batched)
    got = bfunc(op, nd, ndpool)(g, i, shape, data_format=data_format, num_threads=threads)
    want = bfunc(op, nd, reference)(g_logical, i_logical, in_shape)
    assert got.shape == shape
    _same(logical(got, data_format, batched), want)
    assert (g.tobytes(), i.tobytes()) == before


@settings(max_examples=400)
@given(config=pool_configs("avg"), dtype=st.sampled_from(FLOAT_DTYPES), data=st.data(),
       threads=st.sampled_from([None, 1, 2]), seed=st.integers(0, 2**32 - 1))
def test_avg_backward_matches_reference(config, dtype, data, threads, seed):
    in_shape, kwargs = config
    nd = len(in_shape) - 2
    out_shape = call_or_reject(func("avg", nd), np.zeros(in_shape, dtype), **kwargs).shape
    grad = random_values(np.random.default_rng(seed), out_shape, dtype)
    data_format, batched, memory, _ = data.draw(arrangements(in_shape[0]))
    g, g_logical = arrange(grad, memory, data_format, batched)
    before = g.tobytes()
    shape = arrange_shape(in_shape, data_format, batched)
    got = bfunc("avg", nd, ndpool)(g, shape, **kwargs, data_format=data_format, num_threads=threads)
    want = bfunc("avg", nd, reference)(g_logical, in_shape, **kwargs)
    assert got.shape == shape
    _same(logical(got, data_format, batched), want)
    assert g.tobytes() == before


@settings(max_examples=400)
@given(config=adaptive_configs(), dtype=st.sampled_from(FLOAT_DTYPES), data=st.data(),
       threads=st.sampled_from([None, 1, 2]), seed=st.integers(0, 2**32 - 1))
def test_adaptive_avg_backward_matches_reference(config, dtype, data, threads, seed):
    in_shape, out_spatial = config
    nd = len(out_spatial)
    grad = random_values(np.random.default_rng(seed), in_shape[:2] + out_spatial, dtype)
    data_format, batched, memory, _ = data.draw(arrangements(in_shape[0]))
    g, g_logical = arrange(grad, memory, data_format, batched)
    before = g.tobytes()
    shape = arrange_shape(in_shape, data_format, batched)
    got = bfunc("adaptive_avg", nd, ndpool)(g, shape, data_format=data_format, num_threads=threads)
    want = bfunc("adaptive_avg", nd, reference)(g_logical, in_shape)
    assert got.shape == shape
    _same(logical(got, data_format, batched), want)
    assert g.tobytes() == before


def test_reference_examples():
    # 1-D, k=3, s=1, p=1 on 4 cells: windows [-1,2) [0,3) [1,4) [2,5), divisor 3 each.
    g = np.array([[3.0, 6.0, 9.0, 12.0]])
    np.testing.assert_array_equal(reference.avg_pool1d_backward(g, (1, 4), 3, 1, 1),
                                  [[1 + 2, 1 + 2 + 3, 2 + 3 + 4, 3 + 4]])
    # Overlapping max windows that share an argmax add up.
    np.testing.assert_array_equal(reference.max_pool1d_backward(g, np.array([[1, 1, 3, 1]]), (1, 4)),
                                  [[0.0, 3 + 6 + 12, 0.0, 9.0]])
    # Adaptive bins of 3 -> 2: [0, 2) and [1, 3), the middle cell shared.
    np.testing.assert_array_equal(reference.adaptive_avg_pool1d_backward(np.array([[2.0, 4.0]]), (1, 3)),
                                  [[1.0, 3.0, 2.0]])


# ---------------------------------------------------------------------------------------
# Finite differences: the average ops are linear, so <grad_input, v> must equal
# <grad_output, (f(x + eps v) - f(x - eps v)) / (2 eps)> for any direction v.


def _check_directional(forward, backward, in_shape, out_shape, rng):
    x = rng.standard_normal(in_shape)
    gout = rng.standard_normal(out_shape)
    gin = backward(gout)
    assert gin.shape == tuple(in_shape)
    eps = 1e-3
    for _ in range(3):
        v = rng.standard_normal(in_shape)
        fd = (forward(x + eps * v) - forward(x - eps * v)) / (2 * eps)
        lhs, rhs = np.vdot(gin, v), np.vdot(gout, fd)
        assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9 * np.linalg.norm(gout) * np.linalg.norm(fd))


@settings(max_examples=60)
@given(config=pool_configs("avg", max_size=6), seed=st.integers(0, 2**32 - 1))
def test_avg_backward_is_the_adjoint(config, seed):
    in_shape, kwargs = config
    nd = len(in_shape) - 2
    forward = lambda x: call_or_reject(func("avg", nd), x, **kwargs)  # noqa: E731
    out_shape = forward(np.zeros(in_shape)).shape
    _check_directional(forward, lambda g: bfunc("avg", nd, ndpool)(g, in_shape, **kwargs),
                       in_shape, out_shape, np.random.default_rng(seed))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding="same"),
                                    dict(kernel_size=4, stride=1, padding="same"),
                                    dict(kernel_size=2, stride=3, padding="same")])
def test_same_padding_avg_backward(nd, kwargs):
    rng = np.random.default_rng(nd)
    in_shape = (2, 3) + (7, 6, 5)[:nd]
    forward = lambda x: func("avg", nd)(x, **kwargs)  # noqa: E731
    out_shape = forward(np.zeros(in_shape)).shape
    backward = lambda g: bfunc("avg", nd, ndpool)(g, in_shape, **kwargs)  # noqa: E731
    _check_directional(forward, backward, in_shape, out_shape, rng)
    g = rng.standard_normal(out_shape).astype(np.float32)
    assert backward(g).tobytes() == bfunc("avg", nd, reference)(g, in_shape, **kwargs).tobytes()


@settings(max_examples=60)
@given(config=adaptive_configs(max_size=7), seed=st.integers(0, 2**32 - 1))
def test_adaptive_avg_backward_is_the_adjoint(config, seed):
    in_shape, out_spatial = config
    nd = len(out_spatial)
    _check_directional(lambda x: adaptive_avg_forward(x, out_spatial),
                       lambda g: bfunc("adaptive_avg", nd, ndpool)(g, in_shape),
                       in_shape, in_shape[:2] + out_spatial, np.random.default_rng(seed))


# ---------------------------------------------------------------------------------------
# Threads, layouts, edge cases

# (op, forward-style arguments); max ops get indices from the forward with return_indices.
THREAD_CASES = [
    ("max", dict(kernel_size=3, stride=2, padding=1)),
    ("max", dict(kernel_size=2, stride=1, dilation=2)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg", dict(kernel_size=3, stride=1, padding="same")),
    ("adaptive_max", dict(output_size=5)),
    ("adaptive_avg", dict(output_size=7)),
]


def _run(op, nd, g, x_shape, kwargs, x=None, **extra):
    """The backward of op for grad g; max indices come from ndpool's forward on x."""
    if op == "max":
        _, idx = func("max", nd)(x, **kwargs, return_indices=True)
        if extra.get("data_format") == "channels_last":
            idx = np.moveaxis(idx, 1, -1)
        return bfunc(op, nd, ndpool)(g, idx, x_shape, **extra)
    if op == "adaptive_max":
        rng = np.random.default_rng(0)
        idx = rng.integers(0, int(np.prod(x_shape[2:])), size=g.shape)
        return bfunc(op, nd, ndpool)(g, idx, x_shape, **extra)
    if op == "avg":
        return bfunc(op, nd, ndpool)(g, x_shape, **kwargs, **extra)
    return bfunc(op, nd, ndpool)(g, x_shape, **extra)


def _out_shape(op, nd, x, kwargs):
    if op.startswith("adaptive"):
        return x.shape[:2] + (kwargs["output_size"],) * nd
    return func(op, nd)(x, **kwargs).shape


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_thread_count_does_not_change_bits(nd, channels_last, parallel_small_calls):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal({1: (3, 40, 400), 2: (3, 40, 30, 30), 3: (3, 40, 8, 10, 12)}[nd]).astype(np.float32)
    for op, kwargs in THREAD_CASES:
        g = rng.standard_normal(_out_shape(op, nd, x, kwargs)).astype(np.float32)
        if channels_last:  # channels-last memory, (N, C, ...) shape: the channel-block kernels
            g = np.moveaxis(np.ascontiguousarray(np.moveaxis(g, 1, -1)), -1, 1)
        runs = [_run(op, nd, g, x.shape, kwargs, x, num_threads=t).tobytes() for t in (1, 2, 3)]
        assert runs[0] == runs[1] == runs[2], op


@pytest.mark.parametrize("k,s,p,extra", [(4, 1, 2, dict(count_include_pad=False)), (5, 2, "same", {}),
                                         (3, 1, 0, dict(ceil_mode=True, divisor_override=-3))])
def test_long_rows_keep_output_order(k, s, p, extra):
    # Channels-first average rows are processed 512 outputs at a time; windows that straddle
    # two blocks must still add their shares in output order.
    rng = np.random.default_rng(k)
    for nd, in_shape, kwargs in [
        (1, (2, 3, 1500 * s), dict(kernel_size=k, stride=s, padding=p)),
        (2, (2, 3, 3, 1500 * s), dict(kernel_size=(2, k), stride=(1, s), padding=p if p == "same" else (1, p))),
    ]:
        g = random_values(rng, func("avg", nd)(np.zeros(in_shape), **kwargs, **extra).shape, np.float32)
        assert g.shape[-1] > 1024
        _same(bfunc("avg", nd, ndpool)(g, in_shape, **kwargs, **extra),
              bfunc("avg", nd, reference)(g, in_shape, **kwargs, **extra))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("in_spatial,kwargs,channels", [
    ((72, 72), dict(kernel_size=3, stride=2, padding=1), 3),
    ((128, 128), dict(kernel_size=2), 3),
    ((400, 20), dict(kernel_size=9, stride=1, padding=4), 3),
    ((150, 150), dict(kernel_size=3, stride=2, padding=1), 94),  # copied out streamed
])
def test_max_backward_of_planes_built_on_the_stack(in_spatial, kwargs, channels, dtype):
    """Channels-first planes of 16 to 128 KiB are scattered into a stack buffer and copied
    out (streamed for gradients of STREAM_MIN_BYTES or more): the reference's bits for
    random indices with duplicates, for a forward's indices on a ramp (long runs of equal
    indices, the run-keeping scatter on 20-wide rows), and an out-of-range index still
    raises."""
    rng = np.random.default_rng(in_spatial[0])
    in_shape = (2, channels) + in_spatial
    big = np.prod(in_shape) * np.dtype(dtype).itemsize >= _backward._backward_kernels.STREAM_MIN_BYTES
    assert big == (channels > 3)
    out_spatial = func("max", 2)(np.zeros(in_shape, dtype), **kwargs).shape[2:]
    # Equal peaks every 5 columns: a 9-wide window's argmax, its first peak, stays put for
    # about 5 outputs.
    ramp = np.add.outer(np.arange(in_spatial[0]), 1000 * (np.arange(in_spatial[1]) % 5 == 4))
    ramp = ramp.astype(dtype)
    ramp_idx = func("max", 2)(np.broadcast_to(ramp, in_shape), return_indices=True, **kwargs)[1]
    for grad, idx in [_max_case(rng, in_shape, out_spatial, dtype),
                      (random_values(rng, ramp_idx.shape, dtype), ramp_idx)]:
        _same(bfunc("max", 2, ndpool)(grad, idx, in_shape),
              bfunc("max", 2, reference)(grad, idx, in_shape))
    idx = idx.copy()
    idx[1, 2, 0, 0] = np.prod(in_spatial)
    with pytest.raises(ValueError, match="indices must lie in"):
        bfunc("max", 2, ndpool)(grad, idx, in_shape)


def _same_bits(got, want):
    """Bit for bit, signed zeros included; NaN where the other has NaN."""
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    ints = np.dtype(f"i{want.itemsize}")
    assert np.array_equal(got.view(ints)[~nan], want.view(ints)[~nan])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k,p,extra", [(3, 1, {}), (3, 1, dict(count_include_pad=False)), (3, 0, {}),
                                       (2, 1, dict(ceil_mode=True)), (2, 0, dict(divisor_override=3)),
                                       ((3, 3), (0, 1), dict(count_include_pad=False))])
def test_channels_last_stride_one_gather(k, p, extra, dtype):
    # Channels-last 2x2 and 3x3 windows of stride 1 (and 2x2x2, 3x3x3) sum each cell's
    # shares in one pass per depth (_avg_block_gather), in output order from 0, as the
    # scatter does: same bits.
    rng = np.random.default_rng(7)
    for in_shape, threads in [((1, 37, 7, 9), 3), ((3, 20, 12, 5), 2), ((2, 9, 3, 3), 1)]:
        kwargs = dict(kernel_size=k, stride=1, padding=p, **extra)
        g = random_values(rng, func("avg", 2)(np.zeros(in_shape), **kwargs).shape, dtype)
        g_cl = np.ascontiguousarray(np.moveaxis(g, 1, -1))
        shape_cl = (in_shape[0],) + in_shape[2:] + (in_shape[1],)
        got = ndpool.avg_pool2d_backward(g_cl, shape_cl, **kwargs, data_format="channels_last",
                                         num_threads=threads)
        _same_bits(np.moveaxis(got, -1, 1), reference.avg_pool2d_backward(g, in_shape, **kwargs))
    # 3-D windows one slice deep: each depth slice is gathered alone.
    kwargs = dict(kernel_size=(1, k, k) if isinstance(k, int) else (1,) + k, stride=1,
                  padding=(0, p, p) if isinstance(p, int) else (0,) + p, **extra)
    in_shape = (2, 11, 3, 6, 5)
    g = random_values(rng, func("avg", 3)(np.zeros(in_shape), **kwargs).shape, dtype)
    got = ndpool.avg_pool3d_backward(np.ascontiguousarray(np.moveaxis(g, 1, -1)),
                                     (2, 3, 6, 5, 11), **kwargs, data_format="channels_last")
    _same_bits(np.moveaxis(got, -1, 1), reference.avg_pool3d_backward(g, in_shape, **kwargs))
    # Cubic windows (3x3x3, 2x2x2): each cell sums the boxes of all its depths in order;
    # depths of 7 and 3 (clipped at both ends with padding), and channel blocks (1 sample).
    kwargs = dict(kernel_size=k if isinstance(k, int) else (k[0],) + k, stride=1,
                  padding=p if isinstance(p, int) else (p[0],) + p, **extra)
    for in_shape in [(2, 11, 7, 6, 5), (1, 40, 3, 4, 7)]:
        g = random_values(rng, func("avg", 3)(np.zeros(in_shape), **kwargs).shape, dtype)
        shape_cl = (in_shape[0],) + in_shape[2:] + (in_shape[1],)
        got = ndpool.avg_pool3d_backward(np.ascontiguousarray(np.moveaxis(g, 1, -1)), shape_cl,
                                         **kwargs, data_format="channels_last")
        _same_bits(np.moveaxis(got, -1, 1), reference.avg_pool3d_backward(g, in_shape, **kwargs))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_channels_last_gather_slice_by_slice(dtype):
    # Depth windows of one whose rows of shares over all depths would not fit in L2 are
    # gathered a depth slice at a time: the same bits as the reference.
    rng = np.random.default_rng(11)
    in_shape = (2, 16, 40, 4, 64)
    kwargs = dict(kernel_size=(1, 3, 3), stride=1, padding=(0, 1, 1), count_include_pad=False)
    g = random_values(rng, func("avg", 3)(np.zeros(in_shape), **kwargs).shape, dtype)
    got = ndpool.avg_pool3d_backward(np.ascontiguousarray(np.moveaxis(g, 1, -1)),
                                     (2, 40, 4, 64, 16), **kwargs, data_format="channels_last")
    _same_bits(np.moveaxis(got, -1, 1), reference.avg_pool3d_backward(g, in_shape, **kwargs))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_avg_tiles_of_one_strided_channel(dtype):
    # Channels-last windows that tile the input, over one channel, with the gradient's
    # pixels two apart: _avg_tiles must not take its unit-step row form there.
    rng = np.random.default_rng(3)
    g = random_values(rng, (2, 1, 3, 4), dtype)
    wide = np.zeros((2, 3, 8, 1), dtype)
    wide[:, :, ::2] = np.moveaxis(g, 1, -1)
    got = ndpool.avg_pool2d_backward(wide[:, :, ::2], (2, 6, 8, 1), kernel_size=2,
                                     data_format="channels_last")
    _same_bits(np.moveaxis(got, -1, 1), reference.avg_pool2d_backward(g, (2, 1, 6, 8), kernel_size=2))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("in_spatial,out_spatial", [((14, 14), (7, 7)), ((14, 7), (7, 7)), ((7, 14), (7, 7)),
                                                    ((9, 12), (3, 4)), ((6, 48), (6, 16)), ((40,), (8,))])
def test_adaptive_average_equal_bins_as_rows(in_spatial, out_spatial, dtype):
    # Channels-first equal bins of short rows run as one sequence of rows over all planes
    # (_equal_bins_rows); work items of 2048 values cut planes in the middle.
    rng = np.random.default_rng(len(in_spatial) * 100 + in_spatial[-1])
    nd = len(in_spatial)
    for n, c, threads in [(3, 37, 2), (1, 5, 1), (2, 150, 3)]:
        g = random_values(rng, (n, c) + out_spatial, dtype)
        got = bfunc("adaptive_avg", nd, ndpool)(g, (n, c) + in_spatial, num_threads=threads)
        want = bfunc("adaptive_avg", nd, reference)(g, (n, c) + in_spatial)
        _same_bits(got, want)
        # A gradient whose planes are apart in memory takes the plane-by-plane path.
        gs = random_values(rng, (n, 2 * c) + out_spatial, dtype)[:, ::2]
        _same_bits(bfunc("adaptive_avg", nd, ndpool)(gs, (n, c) + in_spatial, num_threads=threads),
                   bfunc("adaptive_avg", nd, reference)(np.ascontiguousarray(gs), (n, c) + in_spatial))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("width", [1, 3, 6, 7, 9, 14, 16])
def test_adaptive_average_equal_bins_rows_stay_in_their_memory(width, threads, dtype):
    # _equal_bins_rows writes rows in whole 8-value steps whose overhang lands in later
    # rows: it must never reach past the work item (the other thread's rows) nor past the
    # end of out.  The kernel writes into a view followed by guard values.
    rng = np.random.default_rng(width)
    kernels = _backward._backward_kernels
    for planes in (1, 5, 3000):  # one item, and several (2048 values of shares each)
        g = random_values(rng, (1, planes, 1, 2, width), dtype)
        size = planes * 4 * width
        buf = np.full(size + 16, np.nan, dtype)
        out = buf[:size].reshape(1, planes, 1, 4, width)
        kernels.adaptive_avg_backward(g, out, False, threads)
        assert np.isnan(buf[size:]).all()
        _same_bits(out[:, :, 0], reference.adaptive_avg_pool2d_backward(g[:, :, 0], (1, planes, 4, width)))


@pytest.mark.parametrize("op", ["max", "avg", "adaptive_avg"])
def test_result_memory_follows_grad_memory(op):
    x = np.random.default_rng(0).standard_normal((2, 6, 8, 8)).astype(np.float32)
    kwargs = dict(output_size=3) if op == "adaptive_avg" else dict(kernel_size=2)
    g = np.ones(_out_shape(op, 2, x, kwargs), np.float32)
    assert _run(op, 2, g, x.shape, kwargs, x).flags.c_contiguous
    g_cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(g, 1, -1)), -1, 1)
    out = _run(op, 2, g_cl, x.shape, kwargs, x)
    assert out.shape == x.shape and np.moveaxis(out, 1, -1).flags.c_contiguous
    nhwc = _run(op, 2, np.moveaxis(g_cl, 1, -1), (2, 8, 8, 6), kwargs, x, data_format="channels_last")
    assert nhwc.shape == (2, 8, 8, 6) and nhwc.flags.c_contiguous


def test_indices_are_copied_only_when_their_layout_differs(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 9, 9))
    _, idx = ndpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = rng.standard_normal(idx.shape)
    want = reference.max_pool2d_backward(g, idx, x.shape)
    idx_cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(idx, 1, -1)), -1, 1)
    g_cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(g, 1, -1)), -1, 1)
    calls = []
    real = _layout.copy_to_layout
    monkeypatch.setattr(_layout, "copy_to_layout", lambda *a: calls.append(1) or real(*a))
    for gg, ii, copies in [(g, idx, 0), (g_cl, idx_cl, 0), (g, idx_cl, 1), (g_cl, idx, 1),
                           (g, idx[..., ::-1][..., ::-1], 0), (g, np.repeat(idx, 2, -1)[..., ::2], 1)]:
        calls.clear()
        np.testing.assert_array_equal(ndpool.max_pool2d_backward(gg, ii, x.shape), want)
        assert len(calls) == copies


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_empty_batch_and_empty_outputs(nd):
    in_shape = (0, 3) + (6,) * nd
    g = np.zeros((0, 3) + (3,) * nd, np.float32)
    idx = np.zeros(g.shape, np.int64)
    for out in (bfunc("max", nd, ndpool)(g, idx, in_shape), bfunc("adaptive_max", nd, ndpool)(g, idx, in_shape),
                bfunc("avg", nd, ndpool)(g, in_shape, 2), bfunc("adaptive_avg", nd, ndpool)(g, in_shape)):
        assert out.shape == in_shape and out.dtype == np.float32
    # Adaptive output size 0 (torch allows it): nothing flows back.
    in_shape = (2, 3) + (6,) * nd
    g = np.zeros((2, 3) + (0,) * nd, np.float64)
    for out in (bfunc("adaptive_avg", nd, ndpool)(g, in_shape),
                bfunc("adaptive_max", nd, ndpool)(g, np.zeros(g.shape, np.int64), in_shape)):
        assert out.shape == in_shape and out.dtype == np.float64 and not out.any()


def test_big_endian_and_array_like_inputs():
    g = np.arange(8.0).reshape(1, 2, 4)
    idx = np.array([[[0, 3, 4, 7], [1, 1, 1, 1]]])
    want = ndpool.max_pool1d_backward(g, idx, (1, 2, 8))
    np.testing.assert_array_equal(ndpool.max_pool1d_backward(g.astype(">f8"), idx.astype(">i8"), [1, 2, 8]), want)
    np.testing.assert_array_equal(ndpool.max_pool1d_backward(g.tolist(), idx.tolist(), (1, 2, 8)), want)
    np.testing.assert_array_equal(want[0, 1], [0.0, 4 + 5 + 6 + 7, 0, 0, 0, 0, 0, 0])


# ---------------------------------------------------------------------------------------
# Errors

G2 = np.zeros((2, 3, 4, 4), np.float32)
I2 = np.zeros((2, 3, 4, 4), np.int64)
S2 = (2, 3, 8, 8)

# (function, args, kwargs, exception, message pattern)
ERRORS = [
    ("max_pool2d_backward", (G2.astype(np.float16), I2, S2), {}, TypeError, "grad_output dtype float16 is not supported"),
    ("avg_pool2d_backward", (G2.astype(np.int32), S2, 2), {}, TypeError, "grad_output dtype int32"),
    ("adaptive_avg_pool2d_backward", (G2.astype(np.complex64), S2), {}, TypeError, "grad_output dtype complex64"),
    ("max_pool2d_backward", (G2[0, 0], I2[0, 0], S2[2:]), {}, ValueError, r"grad_output must be 3-D or 4-D \(N, C, H, W\)"),
    ("max_pool1d_backward", (G2, I2, S2), {}, ValueError, "grad_output must be 2-D or 3-D"),
    ("max_pool2d_backward", (G2, I2.astype(np.int32), S2), {}, TypeError, "indices must be int64"),
    ("adaptive_max_pool2d_backward", (G2, I2.astype(np.float64), S2), {}, TypeError, "indices must be int64"),
    ("max_pool2d_backward", (G2, I2[:, :, :3], S2), {}, ValueError, "indices must have the shape of grad_output"),
    ("max_pool2d_backward", (G2, I2 - 1, S2), {}, ValueError, r"indices must lie in \[0, 64\).*96 out-of-range values"),
    ("adaptive_max_pool2d_backward", (G2, I2 + 64, S2), {}, ValueError, r"indices must lie in \[0, 64\)"),
    ("max_pool2d_backward", (G2, I2, np.array(S2)), {}, TypeError, "input_shape must be a tuple or list of ints"),
    ("max_pool2d_backward", (G2, I2, (2, 3, 8.0, 8)), {}, TypeError, "input_shape must be a tuple or list of ints"),
    ("avg_pool2d_backward", (G2, (2, 3, True, 8), 2), {}, TypeError, "input_shape must be a tuple or list of ints"),
    ("avg_pool2d_backward", (G2, 8, 2), {}, TypeError, "input_shape must be a tuple or list of ints"),
    ("max_pool2d_backward", (G2, I2, (3, 8, 8)), {}, ValueError, "input_shape must have 4 entries"),
    ("max_pool2d_backward", (G2, I2, (2, 3, 0, 8)), {}, ValueError, "input_shape must have non-zero channel and spatial sizes"),
    ("adaptive_avg_pool2d_backward", (G2, (2, 3, -8, 8)), {}, ValueError, "input_shape must have non-zero"),
    ("max_pool2d_backward", (G2, I2, (1, 3, 8, 8)), {}, ValueError, "input_shape .* must have the batch and channel sizes of grad_output"),
    ("avg_pool2d_backward", (G2, (2, 4, 8, 8), 2), {}, ValueError, "must have the batch and channel sizes of grad_output"),
    ("avg_pool2d_backward", (G2, (2, 8, 8, 3), 2), {"data_format": "channels_last"}, ValueError, "batch and channel sizes"),
    # the forward's argument checks, for input_shape
    ("avg_pool2d_backward", (G2, S2, 3), {"padding": 2}, ValueError, "padding must be at most half of kernel_size"),
    ("avg_pool2d_backward", (G2, S2, 0), {}, ValueError, "kernel_size must be greater than zero"),
    ("avg_pool2d_backward", (G2, S2, 2.0), {}, TypeError, "kernel_size must be an int"),
    ("avg_pool2d_backward", (G2, S2, 9), {}, ValueError, "too small"),
    ("avg_pool2d_backward", (G2, S2, 2), {"divisor_override": 0}, ValueError, "divisor_override must not be zero"),
    ("avg_pool2d_backward", (G2, S2, 2), {"count_include_pad": 1}, TypeError, "count_include_pad must be a bool"),
    ("avg_pool2d_backward", (G2, S2, 2), {"padding": "same", "ceil_mode": True}, ValueError, "ceil_mode=True cannot"),
    # grad_output must have the forward output's shape
    ("avg_pool2d_backward", (G2, S2, 3), {}, ValueError, r"grad_output has spatial shape \(4, 4\), but the forward output .* \(2, 2\)"),
    ("avg_pool1d_backward", (G2[0, 0], (4, 7), 2), {}, ValueError, r"grad_output has spatial shape \(4,\), .* \(3,\)"),
    # keyword-only extras
    ("max_pool2d_backward", (G2, I2, S2), {"data_format": "NHWC"}, ValueError, "data_format must be"),
    ("adaptive_avg_pool2d_backward", (G2, S2), {"num_threads": 0}, ValueError, "num_threads must be None or a positive int"),
]


@pytest.mark.parametrize("name,args,kwargs,exc,match", ERRORS, ids=[f"{e[0]}-{e[4][:30]}" for e in ERRORS])
def test_bad_arguments_raise(name, args, kwargs, exc, match):
    for module in (ndpool, reference):  # the reference raises the same errors
        with pytest.raises(exc, match=match) as info:
            getattr(module, name)(*args, **kwargs)
        assert str(info.value).startswith(name + ":"), "messages start with the function name"


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("bad", [-1, 64, 2**40, -(2**63)])
def test_out_of_range_indices_are_never_written(channels_last, bad):
    g = np.ones((2, 20, 4, 4), np.float32)
    idx = np.zeros(g.shape, np.int64)
    idx[1, 17, 2, 3] = bad
    if channels_last:
        g, idx = (np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1) for a in (g, idx))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices must lie in \[0, 64\).*got 1 out-of-range value$"):
        ndpool.max_pool2d_backward(g, idx, (2, 20, 8, 8))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_common_call_path_matches_general_path(monkeypatch, nd, data_format):
    # Batched C-contiguous calls take _backward._plain; without it the same call goes
    # through validate_backward.  Same bits, same layout.
    rng = np.random.default_rng(nd)
    shape = (2, 5) + (6,) * nd
    x = rng.standard_normal(shape).astype(np.float32)
    if data_format == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    kw = dict(data_format=data_format)
    y, idx = func("max", nd)(x, 3, stride=2, padding=1, return_indices=True, **kw)
    a = func("avg", nd)(x, 3, stride=1, padding=1, **kw)
    for call in [
        lambda t: bfunc("max", nd, ndpool)(y, idx, x.shape, num_threads=t, **kw),
        lambda t: bfunc("avg", nd, ndpool)(a, x.shape, 3, 1, 1, num_threads=t, **kw),
        lambda t: bfunc("adaptive_avg", nd, ndpool)(y, x.shape, num_threads=t, **kw),
    ]:
        for t in (None, 1, 2):
            fast = call(t)
            with monkeypatch.context() as m:
                m.setattr(_backward, "_plain", lambda *args: None)
                slow = call(t)
            assert fast.shape == slow.shape and fast.strides == slow.strides
            assert fast.tobytes() == slow.tobytes()


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_global_pool_gradient_keeps_data_format(monkeypatch, nd, data_format):
    # A global pool's gradient, (N, C, 1, ...) and C-contiguous, has unit stride along C
    # too, so its memory fits both layouts: the result takes data_format's (C-contiguous),
    # on the short path and the general one alike, with the reference's bits.
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 5) + (6,) * nd).astype(np.float32)
    if data_format == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    kw = dict(data_format=data_format)
    y, idx = func("adaptive_max", nd)(x, 1, return_indices=True, **kw)
    g = rng.standard_normal(y.shape).astype(np.float32)
    calls = [
        lambda m, t: bfunc("adaptive_max", nd, m)(g, idx, x.shape, num_threads=t, **kw),
        lambda m, t: bfunc("adaptive_avg", nd, m)(g, x.shape, num_threads=t, **kw),
        lambda m, t: bfunc("avg", nd, m)(g, x.shape, 6, num_threads=t, **kw),
    ]
    for call in calls:
        want = call(reference, None)
        for t in (None, 1, 2):
            fast = call(ndpool, t)
            with monkeypatch.context() as m:
                m.setattr(_backward, "_plain", lambda *args: None)
                slow = call(ndpool, t)
            for got in (fast, slow):
                assert got.flags.c_contiguous and got.shape == x.shape
                assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("in_spatial,streamed", [((7, 7), False), ((2, 7, 7), False), ((1025,), False),
                                                 ((3,), False), ((1, 2), False), ((1, 1, 5), False),
                                                 ((16400,), True), ((2, 90, 92), True)])
def test_global_pool_gradient_of_one_cell_planes(in_spatial, streamed, dtype):
    """Channels-first gradients with one value per plane fill each plane (the average's share,
    or zeros and the max's value at its index); gradients of ONE_CELL_STREAM_MIN_BYTES or
    more are streamed.  The reference's bits, for a strided gradient too, and an index outside a
    plane is reported."""
    nd = len(in_spatial)
    rng = np.random.default_rng(len(in_spatial) + in_spatial[-1])
    shape = (2, 259) + in_spatial  # 518 planes: items of 256, and a part item
    big = np.prod(shape) * np.dtype(dtype).itemsize >= _backward._backward_kernels.ONE_CELL_STREAM_MIN_BYTES
    assert big == streamed
    x = random_values(rng, shape, dtype)
    y, idx = func("adaptive_max", nd)(x, 1, return_indices=True)
    g = random_values(rng, (2, 2 * 259) + (1,) * nd, dtype)[:, ::2]  # strided along C
    g[0, 3] = -0.0
    for got, want in [
        (bfunc("adaptive_max", nd, ndpool)(g, idx, shape), bfunc("adaptive_max", nd, reference)(g, idx, shape)),
        (bfunc("adaptive_avg", nd, ndpool)(g, shape), bfunc("adaptive_avg", nd, reference)(g, shape)),
    ]:
        assert got.flags.c_contiguous
        assert got.tobytes() == want.tobytes()
    idx = idx.copy()
    idx[1, 258] = np.prod(in_spatial)
    with pytest.raises(ValueError, match="indices must lie in"):
        bfunc("adaptive_max", nd, ndpool)(g, idx, shape)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("in_spatial,kwargs", [
    ((4, 4), dict(kernel_size=4)),                                        # CIFAR ResNets' head
    ((3, 3), dict(kernel_size=5, padding=2)),                             # padding counted
    ((3, 3), dict(kernel_size=5, padding=2, count_include_pad=False)),
    ((4, 4), dict(kernel_size=4, divisor_override=3)),
    ((3, 3), dict(kernel_size=4, padding=1, ceil_mode=True)),
    ((3, 4, 4), dict(kernel_size=(3, 4, 4))),
    ((16,), dict(kernel_size=16)),
    ((5, 5), dict(kernel_size=4)),  # one output whose window leaves cells out: not a fill
])
def test_avg_backward_of_one_window(in_spatial, kwargs, dtype):
    """An average with one output per plane whose window holds the whole plane gives every
    cell the same share (a fill); the reference's bits, -0.0 included."""
    nd = len(in_spatial)
    rng = np.random.default_rng(nd)
    shape = (3, 300) + in_spatial  # 900 planes: items of 256, and a part item
    x = random_values(rng, shape, dtype)
    y = func("avg", nd)(x, **kwargs)
    assert y.shape[2:] == (1,) * nd
    g = random_values(rng, y.shape, dtype)
    g[0, 1] = -0.0
    got = bfunc("avg", nd, ndpool)(g, shape, **kwargs)
    want = bfunc("avg", nd, reference)(g, shape, **kwargs)
    assert got.flags.c_contiguous and got.tobytes() == want.tobytes()


def test_avg_geometry_cache_keeps_argument_checks():
    # The window geometry is cached for int arguments; True (== 1) must still be rejected.
    g = np.ones((1, 2, 4, 4), np.float32)
    ndpool.avg_pool2d_backward(g, (1, 2, 4, 4), 1)
    with pytest.raises(TypeError, match="kernel_size"):
        ndpool.avg_pool2d_backward(g, (1, 2, 4, 4), True)
    with pytest.raises(ValueError, match="spatial shape"):
        ndpool.avg_pool2d_backward(g, (1, 2, 8, 8), 1)


@pytest.mark.parametrize("k", [2, 5])  # blocks 2 wide (vector masks) and 5 (hit by hit)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("in_spatial,streamed", [((35, 33), False), ((9, 35, 33), False),
                                                 ((1031, 1023), True), ((17, 257, 255), True),
                                                 ((7, 7), False), ((14, 14), False)])
def test_max_backward_of_disjoint_blocks(in_spatial, streamed, data_format, dtype, k):
    """Indices of a forward with kernel == stride lie in their outputs' blocks, and each
    input row (channels-first, planes of more than 1024 cells; smaller ones scatter) or
    cell (channels-last, pixels of 64 bytes or more) is written once, without a zeroing pass; gradients of
    STREAM_MIN_BYTES or more are written with streaming stores.  The
    reference's bits, the columns, rows and slices no block covers included; an index
    outside its block (late in a plane that looked like blocks) falls back to the scatter,
    and one outside the plane still raises."""
    nd = len(in_spatial)
    channels = 4 if streamed else 3
    if data_format == "channels_last":  # pixels of 64 bytes and more (narrower ones scatter)
        channels = 16
        if streamed:  # a quarter of the rows: still STREAM_MIN_BYTES
            in_spatial = in_spatial[:-2] + (-(-in_spatial[-2] // 4), in_spatial[-1])
    in_shape = (1, channels) + in_spatial
    big = np.prod(in_shape) * np.dtype(dtype).itemsize >= _backward._backward_kernels.STREAM_MIN_BYTES
    assert big == streamed
    rng = np.random.default_rng(nd)
    x = random_values(rng, in_shape, dtype)
    _, idx = func("max", nd)(x, kernel_size=k, return_indices=True)
    grad = random_values(rng, idx.shape, dtype)
    # The last output's index moved along its row out of its block, into the first column
    # no block covers, or else into the block before: the plane's last row falls back.
    W, OW = in_spatial[-1], idx.shape[-1]
    col = OW * k if OW * k < W else (OW - 1) * k - 1
    moved, last = idx.copy(), (-1,) * idx.ndim
    moved[last] += col - moved[last] % W
    for i in (idx, moved):
        g, i_arr = grad, i
        if data_format == "channels_last":  # channels-last memory: the channels-last kernel
            g, i_arr = (np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (grad, i))
        shape = in_spatial + (channels,) if data_format == "channels_last" else in_shape[1:]
        got = bfunc("max", nd, ndpool)(g, i_arr, (1,) + shape, data_format=data_format)
        if data_format == "channels_last":
            got = np.moveaxis(got, -1, 1)
        _same_bits(got, bfunc("max", nd, reference)(grad, i, in_shape))
    outside = idx.copy()
    outside[0, 1, ..., 0] = np.prod(in_spatial)
    with pytest.raises(ValueError, match="indices must lie in"):
        bfunc("max", nd, ndpool)(grad, outside, in_shape)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("side,streamed", [(32, False), (256, True)])
def test_max_backward_of_disjoint_blocks_against_far_indices(side, streamed, dtype):
    """Channels-last float32 blocks compare each output's indices as 32-bit offsets from
    its block, narrowed once per output: an index 2**32 cells on (the same low 32 bits as
    a cell of the block) or a negative one must still fall back and raise, and one moved
    into the next output's block must fall back to the reference's bits."""
    C = 64
    in_shape = (1, C, side, side)
    big = np.prod(in_shape) * np.dtype(dtype).itemsize >= _backward._backward_kernels.STREAM_MIN_BYTES
    assert big == streamed
    rng = np.random.default_rng(11)
    x = random_values(rng, in_shape, dtype)
    _, idx = ndpool.max_pool2d(x, 2, return_indices=True)
    grad = random_values(rng, idx.shape, dtype)
    g_cl = np.ascontiguousarray(np.moveaxis(grad, 1, -1))
    cl_shape = (1, side, side, C)

    def run(i):
        i_cl = np.ascontiguousarray(np.moveaxis(i, 1, -1))
        return ndpool.max_pool2d_backward(g_cl, i_cl, cl_shape, data_format="channels_last")

    moved = idx.copy()
    moved[0, 5, 10, 7] += 2  # the cell two columns on: the next output's block
    for i in (idx, moved):
        _same_bits(np.moveaxis(run(i), -1, 1), reference.max_pool2d_backward(grad, i, in_shape))
    for far in (2**32, -(2**32), -idx[0, 9, 12, 3] - 1):
        bad = idx.copy()
        bad[0, 9, 12, 3] += far
        with pytest.raises(ValueError, match="indices must lie in"):
            run(bad)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_max_backward_of_disjoint_blocks_with_wide_cells_streamed(dtype):
    """A streamed channels-last row is picked on the stack whole cells at a time; a cell
    wider than that buffer (1040 channels) goes out a chunk of channels at a time.  The
    reference's bits, and a moved index (into the next block) still falls back."""
    C = 1040
    side = 64 if dtype == np.float32 else 46
    in_shape = (1, C, side, side)
    assert np.prod(in_shape) * np.dtype(dtype).itemsize >= _backward._backward_kernels.STREAM_MIN_BYTES
    rng = np.random.default_rng(7)
    x = random_values(rng, in_shape, dtype)
    _, idx = ndpool.max_pool2d(x, 2, return_indices=True)
    grad = random_values(rng, idx.shape, dtype)
    moved = idx.copy()
    moved[0, C - 1, 5, 3] += 2  # the cell two columns on: the next output's block
    for i in (idx, moved):
        g_cl, i_cl = (np.ascontiguousarray(np.moveaxis(a, 1, -1)) for a in (grad, i))
        got = ndpool.max_pool2d_backward(g_cl, i_cl, (1, side, side, C), data_format="channels_last")
        _same_bits(np.moveaxis(got, -1, 1), reference.max_pool2d_backward(grad, i, in_shape))
