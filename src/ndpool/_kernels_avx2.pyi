# Stub for the AVX2 build of _kernels: the same functions.
from ndpool._kernels import *
