"""Large results live on recycled memory: reused only once nothing references it."""

import gc
import threading

import numpy as np
import pytest

import ndpool
import ndpool.reference

BIG = (4, 64, 64, 64)  # 4 MiB of float32: pooled; its 2x2 pooling (1 MiB) too


@pytest.fixture
def pool():
    """A pool with the default limit and nothing in it, restored afterwards."""
    gc.collect()
    previous = ndpool.set_buffer_pool_limit(0)
    ndpool.set_buffer_pool_limit(previous)
    yield
    ndpool.set_buffer_pool_limit(0)
    ndpool.set_buffer_pool_limit(previous)


def _input(seed=0, shape=BIG):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def test_dead_result_memory_is_reused_with_right_values(pool):
    x, z = _input(0), _input(1)
    y, i = ndpool.max_pool2d(x, 2, return_indices=True)  # 1 and 2 MiB, held
    g = ndpool.max_pool2d_backward(y, i, x.shape)  # 4 MiB
    address = g.ctypes.data
    del g
    assert ndpool.buffer_pool_info() == {"bytes": 4 << 20, "blocks": 1, "limit": 256 << 20}
    y2, i2 = ndpool.max_pool2d(z, 2, return_indices=True)
    g = ndpool.max_pool2d_backward(y2, i2, z.shape)
    assert g.ctypes.data == address  # the freed gradient's memory, handed on
    np.testing.assert_array_equal(g, ndpool.reference.max_pool2d_backward(y2, i2, z.shape))
    assert g.flags.c_contiguous and g.flags.writeable and g.dtype == np.float32


def test_live_result_and_its_views_are_never_reused(pool):
    x = _input(0)
    y, y2 = ndpool.avg_pool2d(x, 2), ndpool.avg_pool2d(_input(1), 2)
    a = ndpool.avg_pool2d_backward(y, x.shape, 2)
    view = a[1:3]
    expected = view.copy()
    del a  # the view still holds the memory
    b = ndpool.avg_pool2d_backward(y2, x.shape, 2)
    assert not np.shares_memory(view, b)
    np.testing.assert_array_equal(view, expected)
    assert ndpool.buffer_pool_info()["blocks"] == 0


def test_small_results_use_plain_numpy_memory(pool):
    y = ndpool.max_pool2d(_input(0, (2, 3, 8, 8)), 2)
    assert y.flags.owndata
    assert not ndpool.max_pool2d(_input(0), 2).flags.owndata


def test_limit_bounds_what_is_kept_and_zero_turns_it_off(pool):
    x = _input(0)
    ndpool.set_buffer_pool_limit(3 << 20)  # room for one 1 MiB output, not a 4 MiB gradient
    y = ndpool.avg_pool2d(x, 2)
    ndpool.avg_pool2d_backward(y, x.shape, 2)  # 4 MiB: freed, not kept
    del y  # 1 MiB: kept
    info = ndpool.buffer_pool_info()
    assert info == {"bytes": 1 << 20, "blocks": 1, "limit": 3 << 20}
    assert ndpool.set_buffer_pool_limit(0) == 3 << 20
    assert ndpool.buffer_pool_info()["bytes"] == 0  # lowering the limit frees blocks
    ndpool.max_pool2d(x, 2)
    assert ndpool.buffer_pool_info()["blocks"] == 0


def test_at_most_sixteen_blocks_oldest_freed_first(pool):
    results = [ndpool.max_pool1d(_input(0, (1, 1, 2 * (n + (1 << 18)))), 2) for n in range(20)]
    sizes = [r.nbytes for r in results]
    while results:
        del results[0]
    info = ndpool.buffer_pool_info()
    assert info["blocks"] == 16 and info["bytes"] == sum(sizes[-16:])


def test_threads_return_and_take_blocks_safely(pool):
    x = _input(0)
    expected = ndpool.max_pool2d(x, 2)
    errors = []

    def work():
        for _ in range(20):
            y = ndpool.max_pool2d(x, 2, num_threads=1)
            if not np.array_equal(y, expected):
                errors.append("wrong result")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ndpool.buffer_pool_info()["blocks"] <= 16


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**70, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("1", TypeError)])
def test_bad_limit(bad, error):
    with pytest.raises(error, match="set_buffer_pool_limit: max_bytes"):
        ndpool.set_buffer_pool_limit(bad)


def test_pooled_results_pickle_and_copy_like_any_array(pool):
    import copy
    import pickle

    y = ndpool.max_pool2d(_input(0), 2)
    assert not y.flags.owndata  # on pooled memory
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y), y.copy()):
        assert not np.shares_memory(clone, y)
        np.testing.assert_array_equal(clone, y)
