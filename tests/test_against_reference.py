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
