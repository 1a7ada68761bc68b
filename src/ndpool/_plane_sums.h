/* Sums and maxima of 16 planes at once, each in one scan-order chain.
 *
 * Global pooling of channels-first data folds many short planes (a 7x7 map is 49
 * values).  One chain per plane is latency-bound, and scalar loads from several planes
 * cap the rate at two values per cycle.  Here each vector lane follows one plane: a
 * block of planes x consecutive values is loaded and transposed in registers, so that
 * the lane of plane p receives p's values in order.  Every plane's sum is therefore
 * bitwise the scalar sequence acc += x[0], acc += x[1], ...  Sixteen planes give several
 * independent accumulators to hide the latency of each step.
 *
 * ndp_sum16_f32(rows, n, acc, pf): acc[p] += rows[p][0], ..., rows[p][n - 1] in turn,
 * p < 16.  rows[p] may repeat a plane (a short last block); its duplicate sums are simply
 * unused.  The 16 * n values from pf (a later block; NULL for none) are prefetched, a few
 * lines per step.
 * ndp_sum16s_f32(base, stride, n, acc, pf): the same for rows[p] = base + p * stride, the
 * usual packed layout: one live pointer instead of sixteen keeps the loop free of spills.
 * ndp_max16s_f32(base, stride, n, acc, pf): the same with torch's max step in place of
 * the addition (take v if v > acc, so the first of equal values stays), except that a
 * NaN is not taken: it returns a mask whose bit p says that plane p holds a NaN, and
 * the caller folds those planes again in scan order (which NaN wins depends on it).
 * ndp_divide16_f32(acc, k): the kernels' _divide of the 16 sums by k.
 * The _f64 versions take doubles.
 */
#ifndef NDPOOL_PLANE_SUMS_H
#define NDPOOL_PLANE_SUMS_H

#include <math.h>
#include <stddef.h>
#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#define NDP_PLANES 16

#if defined(__GNUC__)
#define NDP_INLINE static inline __attribute__((always_inline))
#else
#define NDP_INLINE static inline
#endif

/* Ask for the cache lines of [p, p + bytes) ahead of use: many short planes read side by
 * side defeat the hardware's stream prefetch.  A hint only: any address is safe.
 * ndp_prefetch sends the lines to L2 (prefetcht1), ndp_prefetch_l1 to L1 (prefetcht0). */
#if defined(__GNUC__)
#define NDP_PREFETCH_BODY(LOCALITY)                                    \
    for (ptrdiff_t k = 0; k < bytes; k += 64)                         \
        __builtin_prefetch((const char *)p + k, 0, LOCALITY);
#else
#define NDP_PREFETCH_BODY(LOCALITY) (void)p; (void)bytes;
#endif
static inline void ndp_prefetch(const void *p, ptrdiff_t bytes) { NDP_PREFETCH_BODY(2) }
static inline void ndp_prefetch_l1(const void *p, ptrdiff_t bytes) { NDP_PREFETCH_BODY(3) }

/* Where plane p starts: rows[p], or base + p * stride when rows is NULL.  The bodies below
 * are inlined with a constant rows (NULL or not), so the test folds away. */
#define NDP_ROW(p) ((rows) ? (rows)[p] : (base) + (p) * (stride))

/* The scalar steps: an addition, and max without NaN (v > a: NaN is never taken, and
 * the NaN mask reports it, as the vector step's). */
#define NDP_ADD1(a, v) ((a) + (v))
#define NDP_MAX1(a, v) ((v) > (a) ? (v) : (a))

/* The values from i on, one chain per plane, continuing its order; NaN sets the plane's
 * bit of `nan` (unused by the sums). */
#define NDP_TAIL(T, i, OP1)                           \
    for (int p_ = 0; p_ < NDP_PLANES; p_++) {         \
        const T *r_ = NDP_ROW(p_);                    \
        T a_ = acc[p_];                               \
        for (ptrdiff_t j_ = (i); j_ < n; j_++) {      \
            nan |= (r_[j_] != r_[j_]) << p_;          \
            a_ = OP1(a_, r_[j_]);                     \
        }                                             \
        acc[p_] = a_;                                 \
    }

#if defined(__AVX__)

/* A step adds values i .. i + 3 of eight planes (f32), or i, i + 1 of four planes (f64),
 * to a, lane p taking plane p's values in order.  Each 128-bit half of a vector is one
 * plane's run, loaded straight into place (vinsertf128 from memory), so an in-lane
 * transpose gathers value k of every plane into one vector: the shuffles of a full 8x8
 * transpose, a third of them lane-crossing, were the bottleneck. */
#define NDP_VF 4 /* values per plane and step */
#define NDP_GF 8 /* planes per step */
#define NDP_VD 2
#define NDP_GD 4
typedef __m256 ndp_vf;
typedef __m256d ndp_vd;
#define ndp_loadu_F32 _mm256_loadu_ps
#define ndp_storeu_F32 _mm256_storeu_ps
#define ndp_zero_F32 _mm256_setzero_ps
#define ndp_loadu_F64 _mm256_loadu_pd
#define ndp_storeu_F64 _mm256_storeu_pd
#define ndp_zero_F64 _mm256_setzero_pd

/* Values a[0 .. 3] in the low half, b[0 .. 3] in the high half (unaligned loads). */
NDP_INLINE __m256 ndp_pair_f32(const float *a, const float *b)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(a)), _mm_loadu_ps(b), 1);
}

NDP_INLINE __m256d ndp_pair_f64(const double *a, const double *b)
{
    return _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(a)), _mm_loadu_pd(b), 1);
}

/* The last n - i < 4 (f32) or < 2 (f64) values, the lanes past them set to `fill`, a
 * value the step leaves its accumulator unchanged by: +0.0 for sums (adding it to a sum
 * that started from +0.0 keeps its bits; it is never -0.0), -inf for max (never taken).
 * So a masked step finishes the chains in vector form. */
NDP_INLINE __m256 ndp_pair_tail_f32(const float *a, const float *b, __m128i m, __m256 fill)
{
    __m256 v = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(a, m)),
                                    _mm_maskload_ps(b, m), 1);
    __m128 h = _mm_castsi128_ps(m);
    return _mm256_blendv_ps(fill, v, _mm256_insertf128_ps(_mm256_castps128_ps256(h), h, 1));
}

NDP_INLINE __m256d ndp_pair_tail_f64(const double *a, const double *b, __m128i m,
                                     __m256d fill)
{
    __m256d v = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_maskload_pd(a, m)),
                                     _mm_maskload_pd(b, m), 1);
    __m128d h = _mm_castsi128_pd(m);
    return _mm256_blendv_pd(fill, v, _mm256_insertf128_pd(_mm256_castpd128_pd256(h), h, 1));
}

#define NDP_PAIR_F32(a, b) ndp_pair_f32(a, b)
#define NDP_PAIR_F64(a, b) ndp_pair_f64(a, b)
#define NDP_PAIR_TAIL_F32(a, b) ndp_pair_tail_f32(a, b, mask_, _mm256_set1_ps(fill_))
#define NDP_PAIR_TAIL_F64(a, b) ndp_pair_tail_f64(a, b, mask_, _mm256_set1_pd(fill_))
/* Lanes k < t of 32-bit (f32) or 64-bit (f64) elements set. */
#define NDP_MASK_F32(t) _mm_cmpgt_epi32(_mm_set1_epi32((int)(t)), _mm_setr_epi32(0, 1, 2, 3))
#define NDP_MASK_F64(t) _mm_set_epi64x(0, -1) /* t is 1 */
#define NDP_MASKED_TAIL 1

/* The vector steps, as NDP_ADD1 / NDP_MAX1 lane by lane; max also marks NaN lanes in
 * nf (maxps(v, a) is v > a ? v : a, so it never takes a NaN v). */
#define NDP_ADD_F32(a, nf, v) (a = _mm256_add_ps(a, v))
#define NDP_ADD_F64(a, nf, v) (a = _mm256_add_pd(a, v))
#define NDP_MAX_F32(a, nf, v) \
    do { __m256 v_ = (v); nf = _mm256_or_ps(nf, _mm256_cmp_ps(v_, v_, _CMP_UNORD_Q)); \
         a = _mm256_max_ps(v_, a); } while (0)
#define NDP_MAX_F64(a, nf, v) \
    do { __m256d v_ = (v); nf = _mm256_or_pd(nf, _mm256_cmp_pd(v_, v_, _CMP_UNORD_Q)); \
         a = _mm256_max_pd(v_, a); } while (0)
#define NDP_NANBITS_F32(nf) _mm256_movemask_ps(nf)
#define NDP_NANBITS_F64(nf) _mm256_movemask_pd(nf)

/* r(k) is the address of value i of the step's plane k; pair(a, b) loads two planes. */
#define NDP_STEP_F32(a, nf, r, pair, OP)                                             \
    do {                                                                             \
        __m256 m0_ = pair(r(0), r(4)), m1_ = pair(r(1), r(5));                       \
        __m256 m2_ = pair(r(2), r(6)), m3_ = pair(r(3), r(7));                       \
        __m256 t0_ = _mm256_unpacklo_ps(m0_, m1_), t1_ = _mm256_unpackhi_ps(m0_, m1_); \
        __m256 t2_ = _mm256_unpacklo_ps(m2_, m3_), t3_ = _mm256_unpackhi_ps(m2_, m3_); \
        OP(a, nf, _mm256_shuffle_ps(t0_, t2_, 0x44));                                \
        OP(a, nf, _mm256_shuffle_ps(t0_, t2_, 0xEE));                                \
        OP(a, nf, _mm256_shuffle_ps(t1_, t3_, 0x44));                                \
        OP(a, nf, _mm256_shuffle_ps(t1_, t3_, 0xEE));                                \
    } while (0)

#define NDP_STEP_F64(a, nf, r, pair, OP)                                             \
    do {                                                                             \
        __m256d m0_ = pair(r(0), r(2)), m1_ = pair(r(1), r(3));                      \
        OP(a, nf, _mm256_unpacklo_pd(m0_, m1_));                                     \
        OP(a, nf, _mm256_unpackhi_pd(m0_, m1_));                                     \
    } while (0)

#elif defined(__SSE2__)

/* A step adds values i .. i + 3 of planes r0 .. r0 + 3 (f32), or i, i + 1 of two planes
 * (f64): a 4x4 (2x2) transpose in registers. */
#define NDP_VF 4
#define NDP_GF 4
#define NDP_VD 2
#define NDP_GD 2
typedef __m128 ndp_vf;
typedef __m128d ndp_vd;
#define ndp_loadu_F32 _mm_loadu_ps
#define ndp_storeu_F32 _mm_storeu_ps
#define ndp_zero_F32 _mm_setzero_ps
#define ndp_loadu_F64 _mm_loadu_pd
#define ndp_storeu_F64 _mm_storeu_pd
#define ndp_zero_F64 _mm_setzero_pd
/* SSE2 has no masked loads: the scalar tail finishes the chains. */
#define NDP_PAIR_F32(a, b) /* unused */
#define NDP_PAIR_F64(a, b)
#define NDP_PAIR_TAIL_F32(a, b)
#define NDP_PAIR_TAIL_F64(a, b)
#define NDP_MASK_F32(t) _mm_setzero_si128()
#define NDP_MASK_F64(t) _mm_setzero_si128()
#define NDP_MASKED_TAIL 0

#define NDP_ADD_F32(a, nf, v) (a = _mm_add_ps(a, v))
#define NDP_ADD_F64(a, nf, v) (a = _mm_add_pd(a, v))
#define NDP_MAX_F32(a, nf, v) \
    do { __m128 v_ = (v); nf = _mm_or_ps(nf, _mm_cmpunord_ps(v_, v_)); \
         a = _mm_max_ps(v_, a); } while (0)
#define NDP_MAX_F64(a, nf, v) \
    do { __m128d v_ = (v); nf = _mm_or_pd(nf, _mm_cmpunord_pd(v_, v_)); \
         a = _mm_max_pd(v_, a); } while (0)
#define NDP_NANBITS_F32(nf) _mm_movemask_ps(nf)
#define NDP_NANBITS_F64(nf) _mm_movemask_pd(nf)

#define NDP_STEP_F32(a, nf, r, pair, OP)                                             \
    do {                                                                             \
        __m128 r0_ = _mm_loadu_ps(r(0)), r1_ = _mm_loadu_ps(r(1));                   \
        __m128 r2_ = _mm_loadu_ps(r(2)), r3_ = _mm_loadu_ps(r(3));                   \
        _MM_TRANSPOSE4_PS(r0_, r1_, r2_, r3_); /* now r_k holds value k of the planes */ \
        OP(a, nf, r0_);                                                              \
        OP(a, nf, r1_);                                                              \
        OP(a, nf, r2_);                                                              \
        OP(a, nf, r3_);                                                              \
    } while (0)

#define NDP_STEP_F64(a, nf, r, pair, OP)                                             \
    do {                                                                             \
        __m128d r0_ = _mm_loadu_pd(r(0)), r1_ = _mm_loadu_pd(r(1));                  \
        OP(a, nf, _mm_unpacklo_pd(r0_, r1_));                                        \
        OP(a, nf, _mm_unpackhi_pd(r0_, r1_));                                        \
    } while (0)

#endif

#if defined(__AVX__) || defined(__SSE2__)

/* All groups of G planes advance together, so their accumulators form independent
 * chains; each step takes V values of every plane.  OP and OP1 are the vector and
 * scalar steps, FILL their neutral value; the NaN lanes that max marks in nf_ become
 * `nan`, bit p for plane p. */
#define NDP_FOLD16(T, V, G, VT, SFX, OP, OP1, FILL)                    \
    VT a_[NDP_PLANES / G], nf_[NDP_PLANES / G];                        \
    const T fill_ = (FILL);                                            \
    int nan = 0;                                                       \
    ptrdiff_t i = 0;                                                   \
    (void)fill_;                                                       \
    for (int g = 0; g < NDP_PLANES / G; g++) {                         \
        a_[g] = ndp_loadu_##SFX(acc + g * G);                          \
        nf_[g] = ndp_zero_##SFX();                                     \
    }                                                                  \
    for (; i + V <= n; i += V) {                                       \
        if (pf) {                                                      \
            ndp_prefetch_l1(pf, NDP_PLANES * V * sizeof(T));           \
            pf += NDP_PLANES * V * sizeof(T);                          \
        }                                                              \
        for (int g = 0; g < NDP_PLANES / G; g++) {                     \
            const int p0_ = g * G;                                     \
            NDP_STEP_##SFX(a_[g], nf_[g], NDP_AT, NDP_PAIR_##SFX, OP); \
        }                                                              \
    }                                                                  \
    if (pf)                                                            \
        ndp_prefetch_l1(pf, NDP_PLANES * (n - i) * sizeof(T));         \
    if (NDP_MASKED_TAIL && i < n) {                                    \
        const __m128i mask_ = NDP_MASK_##SFX(n - i);                   \
        (void)mask_;                                                   \
        for (int g = 0; g < NDP_PLANES / G; g++) {                     \
            const int p0_ = g * G;                                     \
            NDP_STEP_##SFX(a_[g], nf_[g], NDP_AT, NDP_PAIR_TAIL_##SFX, OP); \
        }                                                              \
        i = n;                                                         \
    }                                                                  \
    for (int g = 0; g < NDP_PLANES / G; g++) {                         \
        ndp_storeu_##SFX(acc + g * G, a_[g]);                          \
        nan |= NDP_NANBITS_##SFX(nf_[g]) << (g * G);                   \
    }                                                                  \
    NDP_TAIL(T, i, OP1)                                                \
    return nan;

/* Address of value i of the group's plane k. */
#define NDP_AT(k) (NDP_ROW(p0_ + (k)) + i)

/* The bodies, inlined with constant rows (NULL or not) and is_max. */
NDP_INLINE int ndp_fold16_body_f32(const float *const *rows, const float *base,
                                   ptrdiff_t stride, ptrdiff_t n, float *acc,
                                   const char *pf, const int is_max)
{
    if (is_max) {
        NDP_FOLD16(float, NDP_VF, NDP_GF, ndp_vf, F32, NDP_MAX_F32, NDP_MAX1, -INFINITY)
    } else {
        NDP_FOLD16(float, NDP_VF, NDP_GF, ndp_vf, F32, NDP_ADD_F32, NDP_ADD1, 0.0f)
    }
}

NDP_INLINE int ndp_fold16_body_f64(const double *const *rows, const double *base,
                                   ptrdiff_t stride, ptrdiff_t n, double *acc,
                                   const char *pf, const int is_max)
{
    if (is_max) {
        NDP_FOLD16(double, NDP_VD, NDP_GD, ndp_vd, F64, NDP_MAX_F64, NDP_MAX1, -INFINITY)
    } else {
        NDP_FOLD16(double, NDP_VD, NDP_GD, ndp_vd, F64, NDP_ADD_F64, NDP_ADD1, 0.0)
    }
}

#else /* no x86 vectors: plain chains, still in order */

#define NDP_FOLD16_SCALAR(T)                                           \
    int nan = 0;                                                       \
    if (pf)                                                            \
        ndp_prefetch_l1(pf, NDP_PLANES * n * sizeof(T));               \
    if (is_max) {                                                      \
        NDP_TAIL(T, 0, NDP_MAX1)                                       \
    } else {                                                           \
        NDP_TAIL(T, 0, NDP_ADD1)                                       \
    }                                                                  \
    return nan;

NDP_INLINE int ndp_fold16_body_f32(const float *const *rows, const float *base,
                                   ptrdiff_t stride, ptrdiff_t n, float *acc,
                                   const char *pf, const int is_max)
{
    NDP_FOLD16_SCALAR(float)
}

NDP_INLINE int ndp_fold16_body_f64(const double *const *rows, const double *base,
                                   ptrdiff_t stride, ptrdiff_t n, double *acc,
                                   const char *pf, const int is_max)
{
    NDP_FOLD16_SCALAR(double)
}

#endif

/* acc[p] / k for p < 16 (NaN-safe, exactly the scalar division), as the kernels'
 * _divide: nothing for k = 1, a multiplication by the exact 1 / k for powers of two.
 * Spelled with vectors: sixteen scalar divisions cost as much as summing a 7x7 block. */
#define NDP_DIVIDE16(T, VT, W, loadu, storeu, set1, mul, div)         \
    if (k == 1)                                                       \
        return;                                                       \
    const int pow2_ = (k & (k - 1)) == 0;                             \
    const VT f_ = set1(pow2_ ? (T)1 / (T)k : (T)k);                   \
    for (int p_ = 0; p_ < NDP_PLANES; p_ += W)                        \
        storeu(acc + p_, pow2_ ? mul(loadu(acc + p_), f_) : div(loadu(acc + p_), f_));

#if defined(__AVX__)
static inline void ndp_divide16_f32(float *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(float, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps,
                 _mm256_mul_ps, _mm256_div_ps)
}

static inline void ndp_divide16_f64(double *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(double, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd,
                 _mm256_mul_pd, _mm256_div_pd)
}
#elif defined(__SSE2__)
static inline void ndp_divide16_f32(float *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(float, __m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_set1_ps, _mm_mul_ps,
                 _mm_div_ps)
}

static inline void ndp_divide16_f64(double *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(double, __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _mm_set1_pd, _mm_mul_pd,
                 _mm_div_pd)
}
#else
#define NDP_SCALAR_MUL(a, b) ((a) * (b))
#define NDP_SCALAR_DIV(a, b) ((a) / (b))
#define NDP_SCALAR_LOAD(p) (*(p))
#define NDP_SCALAR_STORE(p, v) (*(p) = (v))
#define NDP_SCALAR_SET1(v) (v)
static inline void ndp_divide16_f32(float *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(float, float, 1, NDP_SCALAR_LOAD, NDP_SCALAR_STORE, NDP_SCALAR_SET1,
                 NDP_SCALAR_MUL, NDP_SCALAR_DIV)
}

static inline void ndp_divide16_f64(double *acc, ptrdiff_t k)
{
    NDP_DIVIDE16(double, double, 1, NDP_SCALAR_LOAD, NDP_SCALAR_STORE, NDP_SCALAR_SET1,
                 NDP_SCALAR_MUL, NDP_SCALAR_DIV)
}
#endif

static inline void ndp_sum16_f32(const float *const *rows, ptrdiff_t n, float *acc,
                                 const void *pf)
{
    ndp_fold16_body_f32(rows, NULL, 0, n, acc, (const char *)pf, 0);
}

static inline void ndp_sum16_f64(const double *const *rows, ptrdiff_t n, double *acc,
                                 const void *pf)
{
    ndp_fold16_body_f64(rows, NULL, 0, n, acc, (const char *)pf, 0);
}

static inline void ndp_sum16s_f32(const float *base, ptrdiff_t stride, ptrdiff_t n, float *acc,
                                  const void *pf)
{
    ndp_fold16_body_f32(NULL, base, stride, n, acc, (const char *)pf, 0);
}

static inline void ndp_sum16s_f64(const double *base, ptrdiff_t stride, ptrdiff_t n,
                                  double *acc, const void *pf)
{
    ndp_fold16_body_f64(NULL, base, stride, n, acc, (const char *)pf, 0);
}

static inline int ndp_max16_f32(const float *const *rows, ptrdiff_t n, float *acc,
                                const void *pf)
{
    return ndp_fold16_body_f32(rows, NULL, 0, n, acc, (const char *)pf, 1);
}

static inline int ndp_max16_f64(const double *const *rows, ptrdiff_t n, double *acc,
                                const void *pf)
{
    return ndp_fold16_body_f64(rows, NULL, 0, n, acc, (const char *)pf, 1);
}

static inline int ndp_max16s_f32(const float *base, ptrdiff_t stride, ptrdiff_t n, float *acc,
                                 const void *pf)
{
    return ndp_fold16_body_f32(NULL, base, stride, n, acc, (const char *)pf, 1);
}

static inline int ndp_max16s_f64(const double *base, ptrdiff_t stride, ptrdiff_t n,
                                 double *acc, const void *pf)
{
    return ndp_fold16_body_f64(NULL, base, stride, n, acc, (const char *)pf, 1);
}

#endif
