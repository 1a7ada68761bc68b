# Stub for the AVX2 build of _backward_kernels: the same functions.
from ndpool._backward_kernels import *
