# cython: language_level=3
# The AVX2 build of _adaptive_kernels (see meson.build and _simd.py): the same source.
include "_adaptive_kernels.pyx"
