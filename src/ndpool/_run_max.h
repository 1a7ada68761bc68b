/* The plain maximum of one long run of doubles, in explicit vectors.
 *
 * _folds.bin_max keeps 32 running maxima and 32 running sums in arrays, which gcc turns
 * into vectors for float (8 AVX registers) but not for double: there the 16 registers
 * the arrays need spill, every step goes through memory, and the fold ran at a quarter
 * of float's rate per byte (10 GB/s against a 45 GB/s read rate, 2-core Zen 4, the
 * 100 MB float64 text-CNN input).  Here four vectors of maxima and four of sums live in
 * registers: 16 lanes with AVX, 8 with SSE2 (every x86-64).  Elsewhere NDP_RUN_MAX is 0
 * and bin_max keeps its arrays.
 *
 * ndp_run_max_f64(src, n, &m): m = the plain maximum of src[0:n] (v > m, any order, NaN
 * never taken), n >= 16.  Returns nonzero when the running sums of the values came out NaN
 * (a NaN in the run, or inf - inf): the caller then folds in scan order, as bin_max does.
 */
#ifndef NDPOOL_RUN_MAX_H
#define NDPOOL_RUN_MAX_H

#include <stddef.h>
#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#define NDP_RUN_MAX 1
#else
#define NDP_RUN_MAX 0
#endif

#if defined(__AVX__)
typedef __m256d ndp_rv;
#define NDP_RW 4
#define ndp_rload _mm256_loadu_pd
#define ndp_rstore _mm256_storeu_pd
#define ndp_rmax _mm256_max_pd /* max(v, a) = v > a ? v : a */
#define ndp_radd _mm256_add_pd
#elif defined(__SSE2__)
typedef __m128d ndp_rv;
#define NDP_RW 2
#define ndp_rload _mm_loadu_pd
#define ndp_rstore _mm_storeu_pd
#define ndp_rmax _mm_max_pd
#define ndp_radd _mm_add_pd
#endif

static inline int ndp_run_max_f64(const double *src, ptrdiff_t n, double *out)
{
#if NDP_RUN_MAX
    ptrdiff_t i;
    double m, t;
    enum { L = 4 * NDP_RW };
    double ml[NDP_RW], sl[NDP_RW];
    ndp_rv a0 = ndp_rload(src), a1 = ndp_rload(src + NDP_RW);
    ndp_rv a2 = ndp_rload(src + 2 * NDP_RW), a3 = ndp_rload(src + 3 * NDP_RW);
    ndp_rv s0 = a0, s1 = a1, s2 = a2, s3 = a3;
    for (i = L; i + L <= n; i += L) {
        ndp_rv v0 = ndp_rload(src + i), v1 = ndp_rload(src + i + NDP_RW);
        ndp_rv v2 = ndp_rload(src + i + 2 * NDP_RW), v3 = ndp_rload(src + i + 3 * NDP_RW);
        a0 = ndp_rmax(v0, a0);
        a1 = ndp_rmax(v1, a1);
        a2 = ndp_rmax(v2, a2);
        a3 = ndp_rmax(v3, a3);
        s0 = ndp_radd(s0, v0);
        s1 = ndp_radd(s1, v1);
        s2 = ndp_radd(s2, v2);
        s3 = ndp_radd(s3, v3);
    }
    /* Down to one vector of each, then whole vectors of the rest, then the lanes. */
    a0 = ndp_rmax(ndp_rmax(a0, a1), ndp_rmax(a2, a3));
    s0 = ndp_radd(ndp_radd(s0, s1), ndp_radd(s2, s3));
    for (; i + NDP_RW <= n; i += NDP_RW) {
        ndp_rv v = ndp_rload(src + i);
        a0 = ndp_rmax(v, a0);
        s0 = ndp_radd(s0, v);
    }
    ndp_rstore(ml, a0);
    ndp_rstore(sl, s0);
    m = ml[0];
    t = sl[0];
    for (int j = 1; j < NDP_RW; j++) {
        m = ml[j] > m ? ml[j] : m;
        t += sl[j];
    }
    for (; i < n; i++) {
        m = src[i] > m ? src[i] : m;
        t += src[i];
    }
    *out = m;
    return t != t;
#else
    (void)src;
    (void)n;
    (void)out;
    return 1; /* unused: bin_max tests NDP_RUN_MAX first */
#endif
}

#endif
