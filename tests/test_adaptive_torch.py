"""Adaptive pooling against torch.nn.functional (CPU), run whenever torch is importable.

Max pooling matches bit for bit, values and indices.  Average pooling matches bit for bit
wherever torch sums each bin and divides by kd, kh, kw in turn (contiguous tensors); torch's
two other paths round differently and are compared with a tight tolerance: an output of
size 1 on every axis goes through ``torch.mean``, and 2-D channels-last tensors divide
once by ``kh * kw`` in vector lanes (docs/semantics.md, Adaptive pooling).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ndpool

from _adaptive_helpers import adaptive_configs
from _helpers import FLOAT_DTYPES, LAYOUTS, random_values, with_layout

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCE = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}


def adaptive(op: str, nd: int, module=ndpool):
    return getattr(module, f"adaptive_{op}_pool{nd}d")


def assert_close(got, want):
    tol = TOLERANCE[want.dtype]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@settings(max_examples=600)  # torch's per-call overhead; the reference tests run the full count
@given(
    config=adaptive_configs(),
    dtype=st.sampled_from(FLOAT_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_max_matches_torch(config, dtype, layout, seed):
    shape, output_size, resolved = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    values, indices = adaptive("max", nd)(passed, output_size, return_indices=True, data_format=data_format)
    # torch takes no None in 1-D output sizes; give it the resolved sizes.
    want_values, want_indices = adaptive("max", nd, F)(torch.from_numpy(np.array(logical)), resolved,
                                                       return_indices=True)
    assert values.dtype == x.dtype and indices.dtype == np.int64
    assert back(values).shape == tuple(want_values.shape)
    # Bitwise: NaN payloads and the sign of zero must match too.
    assert back(values).tobytes() == want_values.numpy().tobytes()
    np.testing.assert_array_equal(back(indices), want_indices.numpy())
    # Without indices, the same values.
    only = adaptive("max", nd)(passed, output_size, data_format=data_format)
    assert back(only).tobytes() == want_values.numpy().tobytes()


@settings(max_examples=600)  # torch's per-call overhead; the reference tests run the full count
@given(
    config=adaptive_configs(),
    dtype=st.sampled_from(FLOAT_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_avg_matches_torch(config, dtype, layout, seed):
    shape, output_size, resolved = config
    nd = len(shape) - 2
    x = random_values(np.random.default_rng(seed), shape, dtype)
    passed, logical, data_format, back = with_layout(x, layout)
    got = adaptive("avg", nd)(passed, output_size, data_format=data_format)
    want = adaptive("avg", nd, F)(torch.from_numpy(np.array(logical)), resolved).numpy()
    assert got.dtype == x.dtype
    assert back(got).shape == want.shape
    if all(o == 1 for o in resolved):
        assert_close(back(got), want)  # torch.mean
    else:
        np.testing.assert_array_equal(back(got), want)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("channels", [3, 12, 21])
def test_channels_last_tensors(nd, dtype, channels):
    """torch tensors in channels_last memory, read in place; the output keeps that memory."""
    rng = np.random.default_rng(channels + nd)
    x = random_values(rng, (2, channels) + (11, 9, 7)[:nd], dtype)
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    t = torch.from_numpy(x).contiguous(memory_format=fmt)
    x_cl = t.numpy()  # numpy view with torch's channels-last strides
    assert not x_cl.flags.c_contiguous
    for output_size in [(4, 5, 3)[:nd], (13, 2, 8)[:nd], (1,) * nd]:
        values, indices = adaptive("max", nd)(x_cl, output_size, return_indices=True)
        want_values, want_indices = adaptive("max", nd, F)(t, output_size, return_indices=True)
        assert values.tobytes() == np.ascontiguousarray(want_values.numpy()).tobytes()
        np.testing.assert_array_equal(indices, want_indices.numpy())
        assert np.moveaxis(values, 1, -1).flags.c_contiguous
        assert np.moveaxis(indices, 1, -1).flags.c_contiguous
        got = adaptive("avg", nd)(x_cl, output_size)
        want = adaptive("avg", nd, F)(t, output_size).numpy()
        assert np.moveaxis(got, 1, -1).flags.c_contiguous
        if nd == 3 and output_size != (1, 1, 1):
            np.testing.assert_array_equal(got, want)  # torch's 3-D kernel reads through strides
        else:
            assert_close(got, want)  # 2-D vector lanes divide once by kh * kw


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_empty_outputs_match_torch_shapes(nd):
    x = np.zeros((2, 3) + (4, 5, 6)[:nd], dtype=np.float32)
    cases = [(x, 0), (x, (0,) + (2,) * (nd - 1)), (x, (2,) * (nd - 1) + (0,)), (x[:0], 2)]
    for arr, output_size in cases:
        t = torch.from_numpy(arr)
        values, indices = adaptive("max", nd)(arr, output_size, return_indices=True)
        want_values, want_indices = adaptive("max", nd, F)(t, output_size, return_indices=True)
        assert values.shape == indices.shape == tuple(want_values.shape) == tuple(want_indices.shape)
        assert adaptive("avg", nd)(arr, output_size).shape == tuple(adaptive("avg", nd, F)(t, output_size).shape)


@pytest.mark.parametrize("nd", [2, 3])
def test_none_entries_match_torch(nd):
    x = random_values(np.random.default_rng(nd), (1, 2) + (5, 7, 6)[:nd], np.float64)
    t = torch.from_numpy(x)
    for output_size in [(None, 3, 4)[-nd:], (3, None, 2)[:nd], (None,) * nd]:
        np.testing.assert_array_equal(adaptive("avg", nd)(x, output_size), adaptive("avg", nd, F)(t, output_size).numpy())
        got = adaptive("max", nd)(x, list(output_size), return_indices=True)
        want = adaptive("max", nd, F)(t, output_size, return_indices=True)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w.numpy())
