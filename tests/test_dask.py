"""ndpool.dask and ndpool.pyramid: Dask results equal the in-memory functions bit for bit, for
random chunkings and geometry; laziness; the graph's size; a real distributed cluster; Zarr."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ndpool

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
import ndpool.dask as ndd  # noqa: E402

# Property tests run on the synchronous scheduler (no thread pool per example); a fixed sample
# keeps the file's run time modest in every hypothesis profile.
EXAMPLES = settings(max_examples=200)


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def assert_same(got, want):
    """Equal bits (NaN where NaN), dtype and shape."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
        return
    got = got.compute()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want, strict=True)
    if want.dtype.kind == "f":  # -0.0 and +0.0 compare equal: check the sign bits too
        number = ~np.isnan(want)  # (a NaN's sign depends on the order of the operands)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))


@st.composite
def chunked_inputs(draw, nd, dtypes=("float32", "float64", "int16", "uint8", "bool")):
    """(numpy array, the same as a dask array of random chunks, batched, data_format)."""
    batched = draw(st.booleans())
    channels_last = draw(st.booleans())
    top = {1: 14, 2: 10, 3: 6}[nd]
    spatial = draw(st.lists(st.integers(1, top), min_size=nd, max_size=nd))
    lead = ([draw(st.integers(1, 2))] if batched else []) + ([] if channels_last else [draw(st.integers(1, 3))])
    tail = [draw(st.integers(1, 3))] if channels_last else []
    shape = tuple(lead + spatial + tail)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        x = rng.random(shape) < 0.4
    elif dtype.kind == "f":
        # Few distinct values (ties), signed zeros, and some NaN and infinities.
        x = rng.choice(np.array([-2.0, -0.0, 0.0, 1.5, 3.0, np.nan, np.inf, -np.inf]),
                       size=shape, p=[.2, .1, .1, .2, .2, .1, .05, .05]).astype(dtype)
        if draw(st.booleans()):
            x = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -3), min(info.max, 4), size=shape, endpoint=True).astype(dtype)
        if draw(st.booleans()):
            x.flat[0] = info.min
    chunks = tuple(draw(chunking(n)) for n in shape)
    return x, da.from_array(x, chunks=chunks), batched, ("channels_last" if channels_last else "channels_first")


@st.composite
def chunking(draw, n):
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set()
    bounds = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in zip(bounds, bounds[1:]))


def same_outcome(dask_call, numpy_call):
    """Both raise the same error, or the dask result computes to the numpy one."""
    try:
        want = numpy_call()
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e), match=None) as got:
            dask_call()
        assert str(got.value) == str(e)
        return
    assert_same(dask_call(), want)


@EXAMPLES
@given(data=st.data(), nd=st.integers(1, 3))
def test_max_pool_equals_in_memory(data, nd):
    x, dx, _, data_format = data.draw(chunked_inputs(nd))
    k = data.draw(st.integers(1, 4))
    s = data.draw(st.one_of(st.none(), st.integers(1, 4)))
    same = data.draw(st.booleans())
    pad = "same" if same else data.draw(st.integers(0, k // 2))
    dil = data.draw(st.integers(1, 2))
    ceil = False if same else data.draw(st.booleans())
    ind = data.draw(st.booleans())
    name = f"max_pool{nd}d"
    args = (k, s, pad, dil, ceil, ind)
    same_outcome(lambda: getattr(ndd, name)(dx, *args, data_format=data_format),
                 lambda: getattr(ndpool, name)(x, *args, data_format=data_format))


@EXAMPLES
@given(data=st.data(), nd=st.integers(1, 3))
def test_avg_pool_equals_in_memory(data, nd):
    x, dx, _, data_format = data.draw(chunked_inputs(nd))
    k = data.draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd).map(tuple))
    s = data.draw(st.one_of(st.none(), st.integers(1, 4)))
    same = data.draw(st.booleans())
    pad = "same" if same else data.draw(st.integers(0, min(k) // 2))
    ceil = False if same else data.draw(st.booleans())
    cip = data.draw(st.booleans())
    div = data.draw(st.sampled_from([None, None, 3, -2]))
    name = f"avg_pool{nd}d"
    args = (k, s, pad, ceil, cip, div)
    same_outcome(lambda: getattr(ndd, name)(dx, *args, data_format=data_format),
                 lambda: getattr(ndpool, name)(x, *args, data_format=data_format))


@EXAMPLES
@given(data=st.data(), nd=st.integers(1, 3), op=st.sampled_from(["max", "avg"]))
def test_adaptive_pool_equals_in_memory(data, nd, op):
    x, dx, _, data_format = data.draw(chunked_inputs(nd))
    sizes = tuple(data.draw(st.one_of(st.none(), st.integers(0, 9))) for _ in range(nd))
    name = f"adaptive_{op}_pool{nd}d"
    args = (sizes, data.draw(st.booleans())) if op == "max" else (sizes,)
    same_outcome(lambda: getattr(ndd, name)(dx, *args, data_format=data_format),
                 lambda: getattr(ndpool, name)(x, *args, data_format=data_format))


@pytest.mark.parametrize("size_in, size_out, chunk", [
    (1000, 7, 50),      # bins far larger than chunks: one unaligned block per period
    (1000, 250, 64),    # period 1: every block aligned, kernel path
    (997, 300, 100),    # coprime: reference path
    (12, 40, 5),        # upsampling bins
])
def test_adaptive_long_axis(size_in, size_out, chunk):
    x = np.random.default_rng(size_in).standard_normal((2, size_in)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, chunk))
    assert_same(ndd.adaptive_avg_pool1d(dx, size_out), ndpool.adaptive_avg_pool1d(x, size_out))
    assert_same(ndd.adaptive_max_pool1d(dx, size_out, True), ndpool.adaptive_max_pool1d(x, size_out, True))


def test_large_plane_indices_and_chunks_follow_input():
    x = np.random.default_rng(3).standard_normal((1, 2, 300, 256)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 1, 64, 128))
    out, idx = ndd.max_pool2d(dx, 3, 2, 1, return_indices=True)
    assert out.chunks[2:] == ((32, 32, 32, 32, 22), (64, 64))
    assert_same((out, idx), ndpool.max_pool2d(x, 3, 2, 1, return_indices=True))


def test_one_task_per_output_chunk_and_lazy():
    x = da.random.default_rng(0).standard_normal((2, 3, 64, 64), chunks=(1, 3, 16, 32))

    def forbid(*args, **kwargs):
        raise AssertionError("computed")

    with dask.config.set(scheduler=forbid):
        y = ndd.avg_pool2d(x, 3, 2, 1)
    layer = y.dask.layers[y.name]
    blocks = [k for k in layer if k[0] == y.name]
    assert len(blocks) == y.npartitions == 2 * 1 * 4 * 2
    assert y.shape == (2, 3, 32, 32) and y.dtype == np.float64
    # The rest copy halos: one per neighbour chunk a block reads a part of.
    assert len(layer) - len(blocks) == 2 * (3 * 2 + 1 * 4 + 3 * 1)
    # Windows that do not cross chunks need no copies.
    z = ndd.max_pool2d(x, 2)
    assert len(z.dask.layers[z.name]) == z.npartitions


def test_numpy_input_and_errors():
    x = np.arange(2 * 10.0).reshape(2, 10)
    assert_same(ndd.max_pool1d(x, 3), ndpool.max_pool1d(x, 3))
    with pytest.raises(ValueError, match="max_pool2d: input must be 3-D or 4-D"):
        ndd.max_pool2d(da.zeros((4, 4)), 2)
    with pytest.raises(TypeError, match="float16"):
        ndd.avg_pool1d(da.zeros((1, 4), dtype=np.float16), 2)


def test_non_native_byte_order():
    x = np.arange(24.0).reshape(2, 12).astype(">f8")
    assert_same(ndd.avg_pool1d(da.from_array(x, chunks=(1, 5)), 3, 2), ndpool.avg_pool1d(x, 3, 2))


# ---------------------------------------------------------------------------------------
# pyramid


@pytest.mark.parametrize("method", ["mean", "max"])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pyramid_numpy_and_dask(method, ceil_mode):
    x = np.random.default_rng(1).integers(0, 256, (2, 45, 67, 3), dtype=np.uint8)
    levels = ndpool.pyramid(x, 4, method, data_format="channels_last", ceil_mode=ceil_mode)
    assert levels[0] is x
    pool = ndpool.avg_pool2d if method == "mean" else ndpool.max_pool2d
    want = x
    for level in levels[1:]:
        want = pool(want, 2, 2, 0, ceil_mode=ceil_mode, data_format="channels_last")
        np.testing.assert_array_equal(level, want, strict=True)
    dlevels = ndpool.pyramid(da.from_array(x, chunks=(1, 16, 20, 3)), 4, method,
                             data_format="channels_last", ceil_mode=ceil_mode)
    for got, want in zip(dlevels, levels):
        assert isinstance(got, da.Array)
        assert_same(got, want)


def test_pyramid_factors_and_errors():
    x = np.ones((1, 8, 8, 8), np.float32)
    assert [v.shape for v in ndpool.pyramid(x, 3, factor=(1, 2, 2), spatial_dims=3)] == [
        (1, 8, 8, 8), (1, 8, 4, 4), (1, 8, 2, 2)]
    assert [v.shape for v in ndpool.pyramid(x[0, 0], 2, spatial_dims=1)] == [(8, 8), (8, 4)]
    with pytest.raises(ValueError, match="level 4 .* would be empty; use at most 4 levels"):
        ndpool.pyramid(x, 5, spatial_dims=2)
    with pytest.raises(ValueError, match="method must be 'mean' or 'max'"):
        ndpool.pyramid(x, 2, "median")
    with pytest.raises(ValueError, match="levels must be an int of at least 1"):
        ndpool.pyramid(x, 0)


# ---------------------------------------------------------------------------------------
# Dask stays optional; Zarr; a real cluster


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_ndpool_does_not_import_dask():
    done = python("import ndpool, numpy as np, sys; ndpool.pyramid(np.ones((1, 4, 4)), 2); "
                  "assert 'dask' not in sys.modules, 'dask imported'")
    assert done.returncode == 0, done.stderr


def test_ndpool_dask_without_dask_says_to_install_it():
    done = python("import sys; sys.modules['dask'] = None\n"
                  "try:\n    import ndpool.dask\nexcept ImportError as e:\n    print(e)\n")
    assert done.returncode == 0, done.stderr
    assert "ndpool.dask needs Dask" in done.stdout and "pip install" in done.stdout


def test_zarr_round_trip_and_pyramid_store(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = np.random.default_rng(2).standard_normal((1, 96, 80)).astype(np.float32)
    src = tmp_path / "image.zarr"
    da.from_array(x, chunks=(1, 32, 32)).to_zarr(str(src))
    image = da.from_zarr(str(src))
    # The documented one-liner: every level into the group "0", "1", ... of one store.
    out = str(tmp_path / "pyramid.zarr")
    dask.compute(*[level.to_zarr(out, component=str(i), compute=False)
                   for i, level in enumerate(ndpool.pyramid(image, 3))])
    group = zarr.open_group(out, mode="r")
    for i, want in enumerate(ndpool.pyramid(x, 3)):
        np.testing.assert_array_equal(group[str(i)][...], want, strict=True)


def test_local_cluster_two_processes():
    distributed = pytest.importorskip("distributed")
    x = np.random.default_rng(4).standard_normal((2, 3, 70, 50)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 2, 24, 17))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out, idx = ndd.max_pool2d(dx, 3, 2, 1, ceil_mode=True, return_indices=True)
        levels = ndpool.pyramid(dx, 3, "mean")
        got = client.compute([out, idx, ndd.adaptive_avg_pool2d(dx, (9, 7)), *levels[1:]], sync=True)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    want = [*ndpool.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
            ndpool.adaptive_avg_pool2d(x, (9, 7)), *ndpool.pyramid(x, 3, "mean")[1:]]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w, strict=True)


@pytest.mark.parametrize("name", ndd.__all__)
def test_signatures_match_in_memory(name):
    """Same parameters, defaults and kinds as the ndpool function; every one annotated."""
    import inspect
    import typing

    ours, theirs = inspect.signature(getattr(ndd, name)), inspect.signature(getattr(ndpool, name))
    assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
        [(p.name, p.default, p.kind) for p in theirs.parameters.values()]
    assert set(typing.get_type_hints(getattr(ndd, name))) == set(ours.parameters) | {"return"}


@pytest.mark.parametrize("pool", [
    lambda x: ndd.avg_pool2d(x, 3, 2, 1),
    lambda x: ndd.max_pool2d(x, 5, 1, 2, return_indices=True)[1],
])
def test_few_input_chunks_in_memory_at_once(pool):
    """Halos are copied out and each chunk freed after its own block: on a 12 x 12 grid the
    local scheduler never holds more than a few input chunks, not a row of them."""
    from dask.callbacks import Callback

    x = da.random.default_rng(5).standard_normal((1, 1, 192, 192), chunks=(1, 1, 16, 16))
    y = pool(x)
    peak = [0]

    class Count(Callback):
        def _posttask(self, key, result, dsk, state, id):
            peak[0] = max(peak[0], sum(1 for k in state["cache"] if isinstance(k, tuple) and k[0] == x.name))

    with Count():
        y.compute()
    assert 1 <= peak[0] <= 4, peak[0]
