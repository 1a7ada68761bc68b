"""Backward functions against torch's autograd (CPU), run whenever torch is importable.

Max, adaptive max and average backward match torch bit for bit, in every layout: they add the
same shares in the same order.  Adaptive average matches bit for bit too, except in the two
places where torch itself uses a different formula (see test_adaptive_avg_backward_matches_torch).
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import ndpool

from _backward_helpers import MEMORY, adaptive_configs, arrange, arrange_shape, bfunc, logical
from _helpers import FLOAT_DTYPES, call_or_reject, func, pool_configs, random_values

torch = pytest.importorskip("torch")
F = torch.nn.functional

# How torch holds its input: plain, or its own channels_last memory format (2-D/3-D only).
TORCH_MEMORY = ["contiguous", "channels_last"]
# ndpool's memory variants that keep the values (broadcast_batch repeats the first sample).
SAME_VALUES = [m for m in MEMORY if m != "broadcast_batch"]


@st.composite
def setups(draw, n: int, nd: int):
    """(torch memory, data_format, batched, grad memory, indices memory)."""
    torch_memory = draw(st.sampled_from(TORCH_MEMORY if nd > 1 else TORCH_MEMORY[:1]))
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    batched = n != 1 or draw(st.booleans())
    return torch_memory, data_format, batched, draw(st.sampled_from(SAME_VALUES)), draw(st.sampled_from(SAME_VALUES))


def to_torch(a: np.ndarray, memory: str):
    t = torch.from_numpy(a)
    if memory == "channels_last":
        t = t.contiguous(memory_format=torch.channels_last if a.ndim == 4 else torch.channels_last_3d)
    return t


def torch_input(x: np.ndarray, memory: str):
    return to_torch(x, memory).requires_grad_()


def torch_grad(y, x, gout: np.ndarray, memory: str) -> np.ndarray:
    """torch's input gradient for upstream gradient gout, as a C-contiguous (N, C, ...) array.

    gout has the memory format of x (and y), as in a network: torch picks its channels-last
    backward kernels only when the upstream gradient is channels-last too."""
    (g,) = torch.autograd.grad(y, x, to_torch(gout, memory))
    return np.ascontiguousarray(g.numpy())


def check(got: np.ndarray, want: np.ndarray, data_format: str, batched: bool, in_shape):
    assert got.shape == arrange_shape(in_shape, data_format, batched)
    got = np.ascontiguousarray(logical(got, data_format, batched))
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()  # bitwise


@settings(max_examples=300)
@given(config=pool_configs("max", allow_same=False), dtype=st.sampled_from(FLOAT_DTYPES),
       data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_max_backward_matches_torch(config, dtype, data, seed):
    in_shape, kwargs = config
    kwargs.pop("return_indices")
    nd = len(in_shape) - 2
    rng = np.random.default_rng(seed)
    x = random_values(rng, in_shape, dtype)  # ties and NaNs: indices torch picks by its rules
    call_or_reject(func("max", nd), x, **kwargs)  # torch writes out of bounds where ndpool rejects
    torch_memory, data_format, batched, grad_memory, idx_memory = data.draw(setups(in_shape[0], nd))
    xt = torch_input(x, torch_memory)
    y, idx = func("max", nd, F)(xt, **kwargs, return_indices=True)
    gout = rng.standard_normal(tuple(y.shape)).astype(dtype)
    want = torch_grad(y, xt, gout, torch_memory)
    g = arrange(gout, grad_memory, data_format, batched)[0]
    i = arrange(idx.numpy(), idx_memory, data_format, batched)[0]
    got = bfunc("max", nd, ndpool)(g, i, arrange_shape(in_shape, data_format, batched), data_format=data_format)
    check(got, want, data_format, batched, in_shape)


@settings(max_examples=300)
@given(config=pool_configs("avg", allow_same=False), dtype=st.sampled_from(FLOAT_DTYPES),
       data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_avg_backward_matches_torch(config, dtype, data, seed):
    in_shape, kwargs = config
    nd = len(in_shape) - 2
    if nd == 1:
        kwargs.pop("divisor_override", None)  # torch.avg_pool1d has none
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape).astype(dtype)
    torch_memory, data_format, batched, grad_memory, _ = data.draw(setups(in_shape[0], nd))
    xt = torch_input(x, torch_memory)
    try:
        y = func("avg", nd, F)(xt, **kwargs)
    except RuntimeError as exc:
        # avg_pool3d alone rejects inputs smaller than the kernel even when padding makes the
        # windows valid; the reference tests cover those.
        assert "smaller than kernel size" in str(exc)
        assume(False)
    gout = rng.standard_normal(tuple(y.shape)).astype(dtype)
    want = torch_grad(y, xt, gout, torch_memory)
    g = arrange(gout, grad_memory, data_format, batched)[0]
    got = bfunc("avg", nd, ndpool)(g, arrange_shape(in_shape, data_format, batched), **kwargs,
                                   data_format=data_format)
    check(got, want, data_format, batched, in_shape)


@settings(max_examples=200)
@given(config=adaptive_configs(), dtype=st.sampled_from(FLOAT_DTYPES), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_max_backward_matches_torch(config, dtype, data, seed):
    in_shape, out_size = config
    nd = len(out_size)
    rng = np.random.default_rng(seed)
    x = random_values(rng, in_shape, dtype)
    torch_memory, data_format, batched, grad_memory, idx_memory = data.draw(setups(in_shape[0], nd))
    xt = torch_input(x, torch_memory)
    y, idx = getattr(F, f"adaptive_max_pool{nd}d")(xt, out_size, return_indices=True)
    gout = rng.standard_normal(tuple(y.shape)).astype(dtype)
    want = torch_grad(y, xt, gout, torch_memory)
    g = arrange(gout, grad_memory, data_format, batched)[0]
    i = arrange(idx.numpy(), idx_memory, data_format, batched)[0]
    got = bfunc("adaptive_max", nd, ndpool)(g, i, arrange_shape(in_shape, data_format, batched),
                                            data_format=data_format)
    check(got, want, data_format, batched, in_shape)


@settings(max_examples=200)
@given(config=adaptive_configs(), dtype=st.sampled_from(FLOAT_DTYPES), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_avg_backward_matches_torch(config, dtype, data, seed):
    in_shape, out_size = config
    nd = len(out_size)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape).astype(dtype)
    torch_memory, data_format, batched, grad_memory, _ = data.draw(setups(in_shape[0], nd))
    xt = torch_input(x, torch_memory)
    y = getattr(F, f"adaptive_avg_pool{nd}d")(xt, out_size)
    gout = rng.standard_normal(tuple(y.shape)).astype(dtype)
    want = torch_grad(y, xt, gout, torch_memory)
    g = arrange(gout, grad_memory, data_format, batched)[0]
    got = bfunc("adaptive_avg", nd, ndpool)(g, arrange_shape(in_shape, data_format, batched),
                                            data_format=data_format)
    if (nd > 1 and out_size == (1,) * nd) or (nd == 2 and torch_memory == "channels_last"):
        # Where torch divides once instead of by each bin size in turn, the results agree to
        # rounding only: an output of all ones in 2-D/3-D is torch.mean, whose gradient is
        # gout / (H*W) (or / (D*H*W)); torch's 2-D channels-last kernel divides by kh*kw in its
        # vector lanes (docs/semantics.md, Gradients).  ndpool always uses the contiguous kernels'
        # gout / kd / kh / kw, which does not depend on memory layout or vector width.
        got = np.ascontiguousarray(logical(got, data_format, batched))
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=0)
    else:
        check(got, want, data_format, batched, in_shape)


# torch's channels-last kernels vectorise over channels (8 float32 or 4 float64 lanes, then a
# scalar tail); 21 channels exercise both parts, and 40 several of ndpool's channel blocks.
CL_CASES = [("max", dict(kernel_size=3, stride=2, padding=1)),
            ("max", dict(kernel_size=2, stride=1, dilation=2)),
            ("avg", dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
            ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5)),
            ("adaptive_max", dict(output_size=4)),
            ("adaptive_avg", dict(output_size=4))]


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("channels", [21, 40])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_channels_last_memory_like_torch(nd, channels, dtype):
    rng = np.random.default_rng(nd * channels)
    x = rng.standard_normal((2, channels) + (9, 8, 7)[:nd]).astype(dtype)
    xt = torch_input(x, "channels_last")
    for op, kwargs in CL_CASES:
        fn = func(op, nd, F)
        if op.endswith("max"):
            y, idx = fn(xt, **kwargs, return_indices=True)
            args = (idx.numpy(),)
        else:
            y, args = fn(xt, **kwargs), ()
        gout = to_torch(rng.standard_normal(tuple(y.shape)).astype(dtype), "channels_last")
        (want,) = torch.autograd.grad(y, xt, gout)
        assert not gout.is_contiguous()
        got = bfunc(op, nd, ndpool)(gout.numpy(), *args, x.shape, **(kwargs if op == "avg" else {}))
        # Same memory order as torch's channels-last gradient, without a copy of grad_output.
        assert np.moveaxis(got, 1, -1).flags.c_contiguous
        if op == "adaptive_avg" and nd == 2:  # torch's vector lanes divide once (see above)
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-13, atol=0)
        else:
            assert got.tobytes() == want.numpy().tobytes(), op


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_forward_then_backward_equals_autograd(nd, channels_last):
    """The whole round trip a training step makes, with ndpool's own indices."""
    rng = np.random.default_rng(nd)
    shape = (2, 5) + (9, 8, 7)[:nd]
    x = random_values(rng, shape, np.float64)
    if channels_last:
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    cases = [
        ("max", dict(kernel_size=3, stride=2, padding=1), True),
        ("adaptive_max", dict(output_size=4), True),
        ("avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), False),
        ("adaptive_avg", dict(output_size=(5,) + (None,) * (nd - 1)), False),
    ]
    for op, kwargs, with_indices in cases:
        t = torch.from_numpy(x).requires_grad_()
        want_out = getattr(F, f"{op}_pool{nd}d")(t, **kwargs)
        grad_out = rng.standard_normal(tuple(want_out.shape))
        (want_grad,) = torch.autograd.grad(want_out, t, torch.from_numpy(grad_out))
        forward = getattr(ndpool, f"{op}_pool{nd}d")
        backward = getattr(ndpool, f"{op}_pool{nd}d_backward")
        if with_indices:
            out, idx = forward(x, **kwargs, return_indices=True)
            grad = backward(grad_out, idx, x.shape)
        else:
            out = forward(x, **kwargs)
            window = {k: v for k, v in kwargs.items() if k != "output_size"}
            grad = backward(grad_out, x.shape, **window)
        np.testing.assert_array_equal(out, want_out.detach().numpy())
        np.testing.assert_array_equal(grad, want_grad.numpy())


def hard_grad(rng, shape, dtype, inf):
    """An upstream gradient whose magnitudes span 12 decades, so that the order of the
    additions shows in the bits, with NaN, inf (of the given sign) and -0.0 mixed in."""
    g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
    flat = g.reshape(-1)
    flat[rng.random(flat.size) < 0.05] = np.nan
    flat[rng.random(flat.size) < 0.05] = inf
    flat[rng.random(flat.size) < 0.1] = -0.0
    return g


def torch_gradient(fn, shape, dtype, rng, inf, **kwargs):
    """(g, torch's input gradient) for torch function fn on an input of this shape, g from
    hard_grad."""
    x = torch.zeros(shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                    requires_grad=True)
    y = fn(x, **kwargs)
    g = hard_grad(rng, tuple(y.shape), dtype, inf)
    return g, torch.autograd.grad(y, x, torch.from_numpy(g))[0].numpy()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel, padding, shape", [
    (3, 1, (2, 2, 35, 35)),          # Inception's 3x3/s1/p1
    ((1, 3), (0, 1), (1, 3, 12, 9)),  # one share row per cell
    ((3, 3, 3), 1, (1, 2, 5, 7, 41)),  # 3-D: the ring of share slices wraps
    ((2, 3, 3), (1, 0, 1), (1, 1, 4, 9, 300)),  # clipped D and H ranges, long rows
    ((3, 3), (1, 1), (1, 2, 3, 30)),  # fewer rows than the window
    ((3, 3), (1, 1), (1, 2, 20, 5)),  # rows narrower than a float32 vector
])
@pytest.mark.parametrize("cip, divisor", [(True, None), (False, None), (False, 7)])
def test_avg_stride1_same_width_gather_matches_torch(kernel, padding, shape, dtype, cip, divisor):
    """Stride 1 with 3 W taps and padding 1 (OW == W) on planes past 64 cells is written as
    a gather, rows of the same output-row range at once (_avg_plane_same, _share_rows.h);
    every cell must still get torch's shares in torch's order, NaN and signed zeros
    included, at the row ends (a zero share stands in for the missing output) too."""
    nd = len(shape) - 2
    rng = np.random.default_rng(sum(shape))
    kw = dict(kernel_size=kernel, stride=1, padding=padding, count_include_pad=cip)
    if nd > 1:
        kw["divisor_override"] = divisor
    g, want = torch_gradient(getattr(F, f"avg_pool{nd}d"), shape, dtype, rng, -np.inf, **kw)
    got = getattr(ndpool, f"avg_pool{nd}d_backward")(g, shape, **kw)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, ceil, shape", [
    (2, 2, 0, False, (2, 3, 56, 56)),             # DenseNet's transition 2x2/s2
    (2, 2, 1, True, (1, 2, 7, 9)),                # padded and ceil_mode: clipped edge windows
    (3, 3, 1, False, (1, 2, 10, 11)),             # repeat of 3, and an uncovered tail
    ((1, 4), (1, 4), 0, False, (1, 2, 3, 2100)),  # 1-D-like rows of more than 512 outputs
    (2, 3, 0, False, (1, 2, 8, 13)),              # stride > kernel: zero gaps in rows and columns
    ((2, 2, 2), (3, 2, 2), (1, 0, 1), True, (1, 2, 7, 6, 9)),  # 3-D, uncovered planes
    # Windows that tile the input exactly (_avg_tiles): a divisor of 9, and 3-D.
    (3, 3, 0, False, (2, 3, 9, 12)),
    ((2, 2, 2), (2, 2, 2), 0, False, (1, 2, 4, 6, 8)),
    ((2, 2, 2), (2, 2, 2), 0, False, (1, 40, 2, 4, 6)),  # channels-last: channel blocks
])
@pytest.mark.parametrize("cip, divisor", [(True, None), (False, None), (False, 3)])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_avg_disjoint_windows_match_torch(kernel, stride, padding, ceil, shape, dtype, cip,
                                          divisor, data_format):
    """Windows that do not overlap (kernel <= stride) are written row by row, each cell
    once (_avg_plane_disjoint and _avg_disjoint, or _avg_tiles where they tile the
    input): 0 + its share, or 0.  The bits must be torch's scatter's, NaN payloads and
    signed zeros included."""
    nd = len(shape) - 2
    rng = np.random.default_rng(sum(shape))
    kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil,
              count_include_pad=cip, divisor_override=divisor)
    g, want = torch_gradient(getattr(F, f"avg_pool{nd}d"), shape, dtype, rng, -np.inf, **kw)
    if data_format == "channels_last":
        g = np.ascontiguousarray(np.moveaxis(g, 1, -1))
        shape = shape[:1] + shape[2:] + shape[1:2]
    got = getattr(ndpool, f"avg_pool{nd}d_backward")(g, shape, data_format=data_format, **kw)
    if data_format == "channels_last":
        got = np.ascontiguousarray(np.moveaxis(got, -1, 1))
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape, output_size", [
    ((2, 3, 14, 14), 7),               # VGG's head at 448: bins of 2x2
    ((1, 2, 20, 20), (10, 5)),         # bins of 2 rows and 4 columns
    ((1, 2, 6, 9, 12), (2, 3, 4)),     # 3-D, bins of 3
    ((1, 2, 3, 96), (1, 32)),          # bins of whole columns, width 3
    ((1, 1, 256, 512), (128, 256)),    # more outputs than a flat share slice holds
    ((1, 2, 12), 4),                   # 1-D
])
def test_adaptive_avg_equal_bins_match_torch(shape, output_size, dtype):
    """Input sizes that are multiples of the output sizes give equal bins that do not
    overlap: their shares are repeated along rows and rows copied, not gathered and added.
    The bits must stay torch's (successive divisions, share + 0), NaN and -0.0 included."""
    nd = len(shape) - 2
    rng = np.random.default_rng(sum(shape))
    g, want = torch_gradient(getattr(F, f"adaptive_avg_pool{nd}d"), shape, dtype, rng, np.inf,
                             output_size=output_size)
    got = getattr(ndpool, f"adaptive_avg_pool{nd}d_backward")(g, shape)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("k, size", [(13, 19), (9, 13), (5, 8)])
def test_max_backward_long_index_runs_match_torch(k, size, dtype):
    """SPP-style stride-1 windows over short rows: consecutive outputs share their argmax
    for long runs, which the channels-first scatter sums in a register (_scatter_runs);
    the bits must stay torch's, with NaN, -0.0 and inf grads and a NaN input (whose index
    wins every window holding it)."""
    rng = np.random.default_rng(k * 100 + size)
    x = rng.standard_normal((2, 3, size, size)).astype(dtype)
    x[0, 1, size // 2, size // 3] = np.nan
    xt = torch.from_numpy(x).requires_grad_()
    y = F.max_pool2d(xt, k, 1, k // 2)
    g = hard_grad(rng, tuple(y.shape), dtype, np.inf)
    want = torch.autograd.grad(y, xt, torch.from_numpy(g))[0].numpy()
    _, idx = ndpool.max_pool2d(x, k, 1, k // 2, return_indices=True)
    got = ndpool.max_pool2d_backward(g, idx, x.shape)
    assert got.tobytes() == want.tobytes()
