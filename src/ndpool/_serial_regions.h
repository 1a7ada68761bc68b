/* One-thread parallel regions without libgomp's team set-up.
 *
 * Every prange in the kernels carries use_threads_if=num_threads > 1, and small calls run
 * serially.  GCC still enters libgomp for such a region (GOMP_parallel with one thread),
 * and libgomp builds a team of one whose barriers end in futex wake-up system calls: about
 * 1.3 us of a 5.6 us small max_pool2d on the 2-core VM, whatever ran before.
 *
 * This GOMP_parallel, hidden in each kernel module, takes the calls that module's regions
 * make.  A one-thread region outside any other region runs its body directly: the loop
 * constructs in it are then orphaned, which OpenMP defines as running every iteration on
 * the calling thread (libgomp: no team, no barrier; omp_get_thread_num() is 0).  Any
 * other region goes to libgomp's own GOMP_parallel.  Only for GCC's libgomp on glibc
 * (other compilers and runtimes enter their regions through other calls).
 */
#ifndef NDPOOL_SERIAL_REGIONS_H
#define NDPOOL_SERIAL_REGIONS_H

#if defined(_OPENMP) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) \
    && defined(_GNU_SOURCE)
#include <dlfcn.h>
#include <omp.h>

typedef void (*ndp_gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);

__attribute__((visibility("hidden"))) void GOMP_parallel(void (*fn)(void *), void *data,
                                                         unsigned nthreads, unsigned flags)
{
    static ndp_gomp_parallel_fn libgomp_parallel = NULL;
    ndp_gomp_parallel_fn next;
    if (nthreads == 1 && omp_get_level() == 0) {
        fn(data);
        return;
    }
    next = __atomic_load_n(&libgomp_parallel, __ATOMIC_ACQUIRE);
    if (next == NULL) {
        next = (ndp_gomp_parallel_fn)dlvsym(RTLD_NEXT, "GOMP_parallel", "GOMP_4.0");
        if (next == NULL) {  /* not found: the region runs on this thread alone */
            fn(data);
            return;
        }
        __atomic_store_n(&libgomp_parallel, next, __ATOMIC_RELEASE);
    }
    next(fn, data, nthreads, flags);
}
#endif

#endif /* NDPOOL_SERIAL_REGIONS_H */
