# Stub for ndpool/_build_info.py, which meson generates from _build_info.py.in.
from typing import Any

BUILD_INFO: dict[str, Any]  # buildtype, optimization, c_args, compiler: str; openmp, cython_debug: bool;
# simd_variants: str, the optional kernel builds besides the baseline, comma-separated ("avx2")
