"""Which build of the kernels runs: the portable baseline or the AVX2 variant.

meson builds every kernel extension from the same source twice on x86 (meson option
``simd``): the baseline (x86-64 = SSE2) and ``<name>_avx2`` with ``-mavx2`` and no FMA, so
both give bitwise-identical results.  The choice is made once, at import: AVX2 when it was
built and the CPU (and OS) support it, as NumPy detects them.  ``NDPOOL_SIMD=baseline``
forces the baseline; ``NDPOOL_SIMD=avx2`` asks for AVX2 and warns, falling back to the
baseline, where it is unavailable.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import TYPE_CHECKING

from ._build_info import BUILD_INFO


def _cpu_has_avx2() -> bool:
    """NumPy's run-time detection, which also checks that the OS saves the AVX registers."""
    for where in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # 2.x, 1.x
        try:
            features = importlib.import_module(where).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return bool(features.get("AVX2", False))
    return False


def _choose() -> str:
    built = "avx2" in str(BUILD_INFO.get("simd_variants", "")).split(",")
    usable = built and _cpu_has_avx2()
    wanted = os.environ.get("NDPOOL_SIMD", "").strip().lower()
    if wanted == "baseline":
        return "baseline"
    if wanted not in ("", "avx2"):
        warnings.warn(f"NDPOOL_SIMD={wanted!r} is not 'baseline' or 'avx2'; ignored",
                      RuntimeWarning, stacklevel=3)
    elif wanted == "avx2" and not usable:
        why = "this CPU lacks AVX2" if built else "ndpool was built without the AVX2 variant"
        warnings.warn(f"NDPOOL_SIMD=avx2 but {why}; using the baseline kernels",
                      RuntimeWarning, stacklevel=3)
    return "avx2" if usable else "baseline"


VARIANT = _choose()


def _load(name: str) -> ModuleType:
    suffix = "" if VARIANT == "baseline" else "_" + VARIANT
    return importlib.import_module(f"ndpool.{name}{suffix}")


if TYPE_CHECKING:  # both variants have the baseline's stubs
    from . import _adaptive_kernels, _backward_kernels, _kernels
else:
    _kernels = _load("_kernels")
    _adaptive_kernels = _load("_adaptive_kernels")
    _backward_kernels = _load("_backward_kernels")
