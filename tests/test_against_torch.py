"""Differential tests against torch.nn.functional (CPU), run whenever torch is importable.

Max pooling must match bit for bit, values and indices; average pooling of float32 and
float64 matches bit for bit too, since ndpool sums windows in torch's order and divides once.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from _helpers import FLOAT_DTYPES, MAX_DTYPES, call_or_reject, func, pool_configs, random_values, with_layout

torch = pytest.importorskip("torch")
F = torch.nn.functional

# torch's max pooling has kernels for these; other types are compared through int64.
TORCH_INT_TYPES = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.int32, np.int64)}
LAYOUTS = ["contiguous", "channels_last_memory", "reversed", "outer_strided", "data_format_channels_last"]


def torch_max(x: np.ndarray, nd: int, kwargs: dict):
    """torch's values and indices for x, in x's dtype."""
    top_bit = np.uint64(1 << 63)
    if x.dtype == np.uint64:
        # Flipping the top bit maps uint64 onto int64 preserving order.
        t = torch.from_numpy((x ^ top_bit).view(np.int64))
    elif x.dtype == np.bool_:
        t = torch.from_numpy(x).to(torch.uint8)
    elif x.dtype not in TORCH_INT_TYPES and x.dtype.kind != "f":
        t = torch.from_numpy(x).to(torch.int64)  # uint16/uint32 fit
    else:
        t = torch.from_numpy(x)
    args = {k: v for k, v in kwargs.items() if k != "return_indices"}
    # return_indices=True reaches the same kernel for every dtype (the 1-D index-free fast
    # path takes floats only); the values are the same either way.
    values, indices = func("max", nd, F)(t, **args, return_indices=True)
    values = values.numpy()
    if x.dtype == np.uint64:
        return values.view(np.uint64) ^ top_bit, indices.numpy()
    return values.astype(x.dtype), indices.numpy()


@given(
    config=pool_configs("max", allow_same=False),
    dtype=st.sampled_from(MAX_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_pool_matches_torch(config, dtype, layout, seed):
    shape, kwargs = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    result = call_or_reject(func("max", nd), passed, **kwargs, data_format=data_format)
    want_values, want_indices = torch_max(logical, nd, kwargs)
    if kwargs["return_indices"]:
        values, indices = result
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(back(indices), want_indices)
    else:
        values = result
    assert values.dtype == x.dtype
    assert back(values).shape == want_values.shape
    # Bitwise: NaN payloads and the sign of zero must match too.
    assert back(values).tobytes() == np.ascontiguousarray(want_values).tobytes()


@given(
    config=pool_configs("avg", allow_same=False),
    dtype=st.sampled_from(FLOAT_DTYPES + [np.int32, np.uint8]),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_avg_pool_matches_torch(config, dtype, layout, seed):
    shape, kwargs = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    # torch.avg_pool1d has no divisor_override; ndpool accepts it for every rank.
    if nd == 1:
        kwargs.pop("divisor_override", None)
    try:
        want = func("avg", nd, F)(torch.from_numpy(logical.astype(np.float64) if x.dtype.kind != "f" else logical), **kwargs)
    except RuntimeError as exc:
        # avg_pool3d alone insists on input >= kernel even where padding makes windows valid;
        # ndpool computes those (the windows are well defined), so check against the
        # reference instead.
        assert "smaller than kernel size" in str(exc)
        from ndpool import reference

        want_np = func("avg", nd, reference)(logical, **kwargs)
    else:
        want_np = want.numpy()
    got = call_or_reject(func("avg", nd), passed, **kwargs, data_format=data_format)
    assert got.dtype == (np.float32 if x.dtype == np.float32 else np.float64)
    np.testing.assert_array_equal(back(got), want_np)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("nd", [2, 3])
def test_channels_last_memory_is_kept_like_torch(op, nd):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6) + (9,) * nd).astype(np.float32)
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    t = torch.from_numpy(x).contiguous(memory_format=fmt)
    x_cl = t.numpy()  # numpy view with torch's channels-last strides
    assert not x_cl.flags.c_contiguous
    kwargs = dict(kernel_size=3, stride=2, padding=1)
    got = func(op, nd)(x_cl, **kwargs)
    want = func(op, nd, F)(t, **kwargs)
    np.testing.assert_array_equal(got, want.numpy())
    # Same memory order as the input: channels innermost.
    assert np.moveaxis(got, 1, -1).flags.c_contiguous
    if op == "max":
        values, indices = func(op, nd)(x_cl, **kwargs, return_indices=True)
        _, want_idx = func(op, nd, F)(t, **kwargs, return_indices=True)
        np.testing.assert_array_equal(indices, want_idx.numpy())
        assert np.moveaxis(indices, 1, -1).flags.c_contiguous


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_empty_batch_matches_torch(nd):
    x = np.zeros((0, 3) + (6,) * nd, dtype=np.float32)
    for op, extra in (("max", {}), ("avg", {})):
        got = func(op, nd)(x, 2, **extra)
        want = func(op, nd, F)(torch.from_numpy(x), 2)
        assert got.shape == tuple(want.shape)
    values, indices = func("max", nd)(x, 2, return_indices=True)
    assert values.shape == indices.shape and indices.dtype == np.int64
