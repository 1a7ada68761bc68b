# OpenMP shim: a build without OpenMP still compiles and links, and reports one thread.
# All OpenMP calls go through here; never `cimport openmp` directly.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define NDPOOL_OPENMP 1
    #else
    #define NDPOOL_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint NDPOOL_OPENMP
    int omp_get_max_threads() noexcept nogil
