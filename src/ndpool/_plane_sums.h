/* Sums of 16 contiguous planes at once, each in one scan-order chain.
 *
 * Global average pooling of channels-first data sums many short planes (a 7x7 map is 49
 * values).  One chain per plane is latency-bound, and scalar loads from several planes
 * cap the rate at two values per cycle.  Here each vector lane follows one plane: a
 * square block of V planes x V consecutive values is loaded with V vector loads and
 * transposed in registers, so that the lane of plane p receives p's values in order.
 * Every plane's sum is therefore bitwise the scalar sequence acc += x[0], acc += x[1], ...
 * Sixteen planes give 16 / V independent accumulators to hide the addition latency.
 *
 * ndp_sum16_f32(rows, n, acc): acc[p] += rows[p][0], ..., rows[p][n - 1] in turn, p < 16.
 * rows[p] may repeat a plane (a short last block); its duplicate sums are simply unused.
 */
#ifndef NDPOOL_PLANE_SUMS_H
#define NDPOOL_PLANE_SUMS_H

#include <stddef.h>
#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#define NDP_PLANES 16

/* Ask for the cache lines of [p, p + bytes) ahead of use: many short planes read side by
 * side defeat the hardware's stream prefetch.  A hint only: any address is safe. */
static inline void ndp_prefetch(const void *p, ptrdiff_t bytes)
{
#if defined(__GNUC__)
    for (ptrdiff_t k = 0; k < bytes; k += 64)
        __builtin_prefetch((const char *)p + k);
#else
    (void)p;
    (void)bytes;
#endif
}

/* The values past the last full vector, one chain per plane, continuing its order. */
#define NDP_TAIL(T, rows, i, n, acc)                  \
    for (int p_ = 0; p_ < NDP_PLANES; p_++) {         \
        T a_ = (acc)[p_];                             \
        for (ptrdiff_t j_ = (i); j_ < (n); j_++)      \
            a_ += (rows)[p_][j_];                     \
        (acc)[p_] = a_;                               \
    }

#if defined(__AVX__) || defined(__SSE2__)

/* Each step adds values i .. i + V - 1 of V planes r[0 .. V - 1] to a, lane p in order. */
#if defined(__AVX__)
typedef __m256 ndp_vf;
typedef __m256d ndp_vd;
#define NDP_VF 8
#define NDP_VD 4
#define ndp_loadu_f _mm256_loadu_ps
#define ndp_storeu_f _mm256_storeu_ps
#define ndp_loadu_d _mm256_loadu_pd
#define ndp_storeu_d _mm256_storeu_pd

static inline __m256 ndp_step_f32(__m256 a, const float *const *r, ptrdiff_t i)
{
    __m256 t0 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[0] + i), _mm256_loadu_ps(r[1] + i));
    __m256 t1 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[0] + i), _mm256_loadu_ps(r[1] + i));
    __m256 t2 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[2] + i), _mm256_loadu_ps(r[3] + i));
    __m256 t3 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[2] + i), _mm256_loadu_ps(r[3] + i));
    __m256 t4 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[4] + i), _mm256_loadu_ps(r[5] + i));
    __m256 t5 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[4] + i), _mm256_loadu_ps(r[5] + i));
    __m256 t6 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[6] + i), _mm256_loadu_ps(r[7] + i));
    __m256 t7 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[6] + i), _mm256_loadu_ps(r[7] + i));
    /* u_k: value k (low 128 bits) and k + 4 (high) of planes 0-3, likewise v_k of 4-7. */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), v0 = _mm256_shuffle_ps(t4, t6, 0x44);
    __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xEE), v1 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), v2 = _mm256_shuffle_ps(t5, t7, 0x44);
    __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xEE), v3 = _mm256_shuffle_ps(t5, t7, 0xEE);
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u0, v0, 0x20));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u1, v1, 0x20));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u2, v2, 0x20));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u3, v3, 0x20));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u0, v0, 0x31));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u1, v1, 0x31));
    a = _mm256_add_ps(a, _mm256_permute2f128_ps(u2, v2, 0x31));
    return _mm256_add_ps(a, _mm256_permute2f128_ps(u3, v3, 0x31));
}

static inline __m256d ndp_step_f64(__m256d a, const double *const *r, ptrdiff_t i)
{
    __m256d r0 = _mm256_loadu_pd(r[0] + i), r1 = _mm256_loadu_pd(r[1] + i);
    __m256d r2 = _mm256_loadu_pd(r[2] + i), r3 = _mm256_loadu_pd(r[3] + i);
    /* t0: values 0 (low) and 2 (high) of planes 0, 1; t1: values 1 and 3; t2, t3: 2, 3. */
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    a = _mm256_add_pd(a, _mm256_permute2f128_pd(t0, t2, 0x20));
    a = _mm256_add_pd(a, _mm256_permute2f128_pd(t1, t3, 0x20));
    a = _mm256_add_pd(a, _mm256_permute2f128_pd(t0, t2, 0x31));
    return _mm256_add_pd(a, _mm256_permute2f128_pd(t1, t3, 0x31));
}

#else /* SSE2 */
typedef __m128 ndp_vf;
typedef __m128d ndp_vd;
#define NDP_VF 4
#define NDP_VD 2
#define ndp_loadu_f _mm_loadu_ps
#define ndp_storeu_f _mm_storeu_ps
#define ndp_loadu_d _mm_loadu_pd
#define ndp_storeu_d _mm_storeu_pd

static inline __m128 ndp_step_f32(__m128 a, const float *const *r, ptrdiff_t i)
{
    __m128 r0 = _mm_loadu_ps(r[0] + i), r1 = _mm_loadu_ps(r[1] + i);
    __m128 r2 = _mm_loadu_ps(r[2] + i), r3 = _mm_loadu_ps(r[3] + i);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3); /* now r_k holds value k of the four planes */
    a = _mm_add_ps(a, r0);
    a = _mm_add_ps(a, r1);
    a = _mm_add_ps(a, r2);
    return _mm_add_ps(a, r3);
}

static inline __m128d ndp_step_f64(__m128d a, const double *const *r, ptrdiff_t i)
{
    __m128d r0 = _mm_loadu_pd(r[0] + i), r1 = _mm_loadu_pd(r[1] + i);
    a = _mm_add_pd(a, _mm_unpacklo_pd(r0, r1));
    return _mm_add_pd(a, _mm_unpackhi_pd(r0, r1));
}
#endif

/* All groups advance together, so their accumulators form independent chains. */
#define NDP_SUM16(T, V, VT, loadu, storeu, step)                       \
    VT a_[NDP_PLANES / V];                                             \
    ptrdiff_t i = 0;                                                   \
    for (int g = 0; g < NDP_PLANES / V; g++)                           \
        a_[g] = loadu(acc + g * V);                                    \
    for (; i + V <= n; i += V)                                         \
        for (int g = 0; g < NDP_PLANES / V; g++)                       \
            a_[g] = step(a_[g], rows + g * V, i);                      \
    for (int g = 0; g < NDP_PLANES / V; g++)                           \
        storeu(acc + g * V, a_[g]);                                    \
    NDP_TAIL(T, rows, i, n, acc)

static inline void ndp_sum16_f32(const float *const *rows, ptrdiff_t n, float *acc)
{
    NDP_SUM16(float, NDP_VF, ndp_vf, ndp_loadu_f, ndp_storeu_f, ndp_step_f32)
}

static inline void ndp_sum16_f64(const double *const *rows, ptrdiff_t n, double *acc)
{
    NDP_SUM16(double, NDP_VD, ndp_vd, ndp_loadu_d, ndp_storeu_d, ndp_step_f64)
}

#else /* no x86 vectors: plain chains, still in order */

static inline void ndp_sum16_f32(const float *const *rows, ptrdiff_t n, float *acc)
{
    NDP_TAIL(float, rows, 0, n, acc)
}

static inline void ndp_sum16_f64(const double *const *rows, ptrdiff_t n, double *acc)
{
    NDP_TAIL(double, rows, 0, n, acc)
}

#endif
#endif
