# Stub for the AVX2 build of _adaptive_kernels: the same functions.
from ndpool._adaptive_kernels import *
