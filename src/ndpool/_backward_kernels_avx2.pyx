# cython: language_level=3
# The AVX2 build of _backward_kernels (see meson.build and _simd.py): the same source.
include "_backward_kernels.pyx"
