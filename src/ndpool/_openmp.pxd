# OpenMP shim: a build without OpenMP still compiles and links, and reports one thread.
# All OpenMP calls go through here; never `cimport openmp` directly.  Every module with a
# prange cimports it, for the one-thread regions without libgomp's team (_serial_regions.h).
cdef extern from "_serial_regions.h":
    pass

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
