"""The AVX2 build of the kernels gives bitwise the same results as the baseline build.

Each case runs a public function twice, with the kernel modules of ``_pooling``,
``_adaptive`` and ``_backward`` pointed at the baseline and then at the AVX2 modules, so
both see identical arguments, and compares the bytes of every result.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

import ndpool
from ndpool import _adaptive, _backward, _pooling, _simd

_FAMILIES = {
    _pooling: ("_kernels", "ndpool._kernels"),
    _adaptive: ("_adaptive_kernels", "ndpool._adaptive_kernels"),
    _backward: ("_backward_kernels", "ndpool._backward_kernels"),
}


def _avx2_skip_reason() -> str | None:
    if not _simd._cpu_has_avx2():
        return "this CPU has no AVX2 (as NumPy detects it)"
    try:
        importlib.import_module("ndpool._kernels_avx2")
    except ImportError:
        return "ndpool was built without the AVX2 kernels (meson option simd, or not x86)"
    return None


avx2_only = pytest.mark.skipif(_avx2_skip_reason() is not None,
                               reason=str(_avx2_skip_reason()))


def _run_with(monkeypatch, suffix, fn, *args, **kwargs):
    with monkeypatch.context() as m:
        for owner, (attr, base) in _FAMILIES.items():
            m.setattr(owner, attr, importlib.import_module(base + suffix))
        out = fn(*args, **kwargs)
    return out if isinstance(out, tuple) else (out,)


def _assert_same(monkeypatch, fn, *args, **kwargs):
    base = _run_with(monkeypatch, "", fn, *args, **kwargs)
    avx2 = _run_with(monkeypatch, "_avx2", fn, *args, **kwargs)
    assert len(base) == len(avx2)
    for b, a in zip(base, avx2):
        assert b.dtype == a.dtype and b.shape == a.shape and b.strides == a.strides
        assert b.tobytes() == a.tobytes(), fn.__name__


_DTYPES = ["float32", "float64", "int32", "uint8", "int64"]
# (N, C, spatial...): C=37 leaves a tail after every vector width; big enough for 2 threads.
_SPATIAL = {1: (61,), 2: (23, 19), 3: (7, 9, 11)}


def _data(nd, dtype, channels_last, seed=0):
    rng = np.random.default_rng(seed + nd)
    shape = (3, 37) + _SPATIAL[nd]
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal(shape).astype(dtype)
        x.flat[::13] = x.flat[::7]  # ties
        x.flat[5::101] = np.nan
        x.flat[9::89] = -np.inf
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)
        x.flat[::11] = x.flat[::5]
    if channels_last:
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    return x


def _fmt(cl):
    return "channels_last" if cl else "channels_first"


@avx2_only
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("cl", [False, True])
def test_forward_bitwise(monkeypatch, nd, dtype, cl):
    x = _data(nd, dtype, cl)
    fmt = _fmt(cl)
    maxp = getattr(ndpool, f"max_pool{nd}d")
    avgp = getattr(ndpool, f"avg_pool{nd}d")
    amax = getattr(ndpool, f"adaptive_max_pool{nd}d")
    aavg = getattr(ndpool, f"adaptive_avg_pool{nd}d")
    for k, s, p, extra in [(3, 1, 1, {}), (2, 2, 0, {}), (3, 2, 1, {"ceil_mode": True}), (5, 3, 2, {})]:
        for ri in (False, True):
            _assert_same(monkeypatch, maxp, x, k, s, p, return_indices=ri, data_format=fmt,
                         num_threads=2, **extra)
        _assert_same(monkeypatch, maxp, x, 2, 1, 0, dilation=2, return_indices=True,
                     data_format=fmt, num_threads=2)
        for cip in (True, False):
            _assert_same(monkeypatch, avgp, x, k, s, p, count_include_pad=cip, data_format=fmt,
                         num_threads=2, **extra)
        _assert_same(monkeypatch, avgp, x, k, s, p, divisor_override=7, data_format=fmt,
                     num_threads=2)
    for size in (1, 5, 13, 40):
        for ri in (False, True):
            _assert_same(monkeypatch, amax, x, size, return_indices=ri, data_format=fmt,
                         num_threads=2)
        _assert_same(monkeypatch, aavg, x, size, data_format=fmt, num_threads=2)


@avx2_only
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cl", [False, True])
def test_backward_bitwise(monkeypatch, nd, dtype, cl):
    x = _data(nd, dtype, cl)
    x[np.isnan(x) | np.isinf(x)] = 0.5
    fmt = _fmt(cl)
    shape = x.shape
    rng = np.random.default_rng(7)

    def grad_like(out):
        return rng.standard_normal(out.shape).astype(dtype)

    out, idx = getattr(ndpool, f"max_pool{nd}d")(x, 3, 2, 1, return_indices=True, data_format=fmt)
    _assert_same(monkeypatch, getattr(ndpool, f"max_pool{nd}d_backward"), grad_like(out), idx,
                 shape, data_format=fmt, num_threads=2)
    out, idx = getattr(ndpool, f"adaptive_max_pool{nd}d")(x, 5, return_indices=True, data_format=fmt)
    _assert_same(monkeypatch, getattr(ndpool, f"adaptive_max_pool{nd}d_backward"), grad_like(out),
                 idx, shape, data_format=fmt, num_threads=2)
    avgb = getattr(ndpool, f"avg_pool{nd}d_backward")
    for k, s, p, kw in [(3, 1, 1, {}), (2, 2, 0, {}), (3, 2, 1, {"count_include_pad": False}),
                        (3, 2, 1, {"ceil_mode": True}), (5, 3, 2, {"divisor_override": 3})]:
        out = getattr(ndpool, f"avg_pool{nd}d")(x, k, s, p, data_format=fmt, **kw)
        _assert_same(monkeypatch, avgb, grad_like(out), shape, k, s, p, data_format=fmt,
                     num_threads=2, **kw)
    for size in (1, 5, 40):
        out = getattr(ndpool, f"adaptive_avg_pool{nd}d")(x, size, data_format=fmt)
        _assert_same(monkeypatch, getattr(ndpool, f"adaptive_avg_pool{nd}d_backward"),
                     grad_like(out), shape, data_format=fmt, num_threads=2)


def _variant_in_subprocess(value):
    env = dict(os.environ)
    if value is None:
        env.pop("NDPOOL_SIMD", None)
    else:
        env["NDPOOL_SIMD"] = value
    code = ("import warnings; warnings.simplefilter('error'); import ndpool, ndpool._pooling as p; "
            "print(ndpool.build_info()['simd'], p._kernels.__name__)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_env_baseline_selects_baseline():
    assert _variant_in_subprocess("baseline") == ["baseline", "ndpool._kernels"]


@avx2_only
def test_default_selects_avx2():
    assert _simd.VARIANT == "avx2" or os.environ.get("NDPOOL_SIMD") == "baseline"
    assert _variant_in_subprocess(None) == ["avx2", "ndpool._kernels_avx2"]
    assert _variant_in_subprocess("avx2") == ["avx2", "ndpool._kernels_avx2"]


def test_build_info_reports_variant():
    assert ndpool.build_info()["simd"] == _simd.VARIANT in ("baseline", "avx2")
