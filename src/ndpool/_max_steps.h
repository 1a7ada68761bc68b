/* torch's max step in explicit SSE/AVX instructions, and the max loops built on it.
 *
 * The step (max_update in _spans.pxd): v wins if v > m, then any NaN v wins; so the first
 * of equal maxima stays and the last NaN wins.  maxps(v, m) is exactly v > m ? v : m, so
 * the step is one max and one NaN blend.  Written as two C selects, it is left to the
 * compiler, and compilers differ: gcc 12 emits the max and the blend; gcc 13 makes
 * branches of it in scalar code (random data mispredicts half of them: the ResNet stem's
 * forward 3-10x slower) and a longer mask sequence in vector loops (channels-last and
 * global maxima 0.4-0.7x).  Hence the loops here, for float and double:
 *
 * ndp_maxup_f32/_f64 (128-bit), ndp_maxup8_f32/ndp_maxup4_f64 (AVX2): the step, lane-wise.
 * ndp_max1_f32/_f64(m, v): the step on one value, for scalar code (window edges, tails).
 * ndp_max_taps_f32/_f64(src, apart, dst, n, taps): dst[i] = the fold of dst[i], src[i],
 *   src[i + apart], ... (taps 1 to 3) for i < n: a channels-last window row, or with
 *   taps 1 a plain span.
 * ndp_max_block_f32/_f64(src, sD, sH, sW, nd, nh, nw, dst): dst[c] = the fold from -inf
 *   of every tap of an nd x nh x nw window (scan order d, h, w), for the
 *   NDP_MAX_BLOCK_BYTES / itemsize channels of one block, its running maxima in registers
 *   (_cl_blocks.pxd's max_window_block).
 * ndp_sum_block_f32/_f64(src, sD, sH, sW, nd, nh, nw, div, by_inverse, dst): the same
 *   block of sums, (0 + every tap) / div (_cl_blocks.pxd's sum_window_block); not a max
 *   loop, but the same block walk.
 * ndp_max_idx_f32(src, step, dst, idx, n, flat, flat_step): the step of src[i * step] into
 *   dst[i] for i < n, and where it wins, idx[i] = flat + i * flat_step (max_span_idx).
 * ndp_cl_max_f32/_f64(a, b, c, sW, pstep, dst, dstep, n, npix, kw): whole kw x kw windows
 *   (kw 2 or 3) of npix channels-last pixels; rows a, b (, c), taps sW apart; dst and the
 *   rows advance by dstep and pstep per pixel.  Returns 0 for fewer channels than a vector.
 *
 * Loops over channels end on a vector that overlaps the one before: folding the same
 * taps into a lane twice changes nothing (the step keeps m when v equals it, and a NaN
 * winner is the same NaN again).  A window's rows may be folded on their own and then in
 * order (the step is associative in scan order; see max_update).  Without SSE2 the
 * functions that return a flag return 0 and the Cython loops run.
 */
#ifndef NDPOOL_MAX_STEPS_H
#define NDPOOL_MAX_STEPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define NDP_MS_INLINE static inline __attribute__((always_inline))
#else
#define NDP_MS_INLINE static inline
#endif

#define NDP_MAX_BLOCK_BYTES 256  /* CL_BLOCK_BYTES of _cl_blocks.pxd */

#if defined(__SSE2__)
#include <immintrin.h>

NDP_MS_INLINE __m128 ndp_maxup_f32(__m128 m, __m128 v)
{
    __m128 g = _mm_max_ps(v, m), nan = _mm_cmpunord_ps(v, v);
#if defined(__AVX__)
    return _mm_blendv_ps(g, v, nan);
#else
    return _mm_or_ps(_mm_and_ps(nan, v), _mm_andnot_ps(nan, g));
#endif
}

NDP_MS_INLINE __m128d ndp_maxup_f64(__m128d m, __m128d v)
{
    __m128d g = _mm_max_pd(v, m), nan = _mm_cmpunord_pd(v, v);
#if defined(__AVX__)
    return _mm_blendv_pd(g, v, nan);
#else
    return _mm_or_pd(_mm_and_pd(nan, v), _mm_andnot_pd(nan, g));
#endif
}

NDP_MS_INLINE float ndp_max1_f32(float m, float v)
{
    return _mm_cvtss_f32(ndp_maxup_f32(_mm_set_ss(m), _mm_set_ss(v)));
}

NDP_MS_INLINE double ndp_max1_f64(double m, double v)
{
    return _mm_cvtsd_f64(ndp_maxup_f64(_mm_set_sd(m), _mm_set_sd(v)));
}

#if defined(__AVX2__)
NDP_MS_INLINE __m256 ndp_maxup8_f32(__m256 m, __m256 v)
{
    __m256 g = _mm256_max_ps(v, m);
    return _mm256_blendv_ps(g, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

NDP_MS_INLINE __m256d ndp_maxup4_f64(__m256d m, __m256d v)
{
    __m256d g = _mm256_max_pd(v, m);
    return _mm256_blendv_pd(g, v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
}

/* The widest vectors of the build: type, lanes, load, store, step, -inf. */
#define NDP_MS_F32 __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, ndp_maxup8_f32, \
                   _mm256_set1_ps(-INFINITY)
#define NDP_MS_F64 __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, ndp_maxup4_f64, \
                   _mm256_set1_pd(-INFINITY)
#else
#define NDP_MS_F32 __m128, 4, _mm_loadu_ps, _mm_storeu_ps, ndp_maxup_f32, \
                   _mm_set1_ps(-INFINITY)
#define NDP_MS_F64 __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, ndp_maxup_f64, \
                   _mm_set1_pd(-INFINITY)
#endif

/* The bodies, for NDP_MS_F32 or NDP_MS_F64's arguments (expanded by NDP_MS_CALL). */
#define NDP_MS_CALL(BODY, ...) BODY(__VA_ARGS__)

#define NDP_MS_TAPS(T, V, L, LOAD, STORE, MAXUP, NEG, ONE)                                  \
    if (n < L) {                                                                          \
        for (ptrdiff_t i = 0; i < n; i++) {                                               \
            T m = dst[i];                                                                 \
            for (int t = 0; t < taps; t++)                                                \
                m = ONE(m, src[i + t * apart]);                                           \
            dst[i] = m;                                                                   \
        }                                                                                 \
        return 1;                                                                         \
    }                                                                                     \
    for (ptrdiff_t i = 0; i < n; i += L) {                                                \
        const ptrdiff_t k = i + L <= n ? i : n - L;                                       \
        V m = MAXUP(LOAD(dst + k), LOAD(src + k));                                        \
        if (taps > 1)                                                                     \
            m = MAXUP(m, LOAD(src + k + apart));                                          \
        if (taps > 2)                                                                     \
            m = MAXUP(m, LOAD(src + k + 2 * apart));                                      \
        STORE(dst + k, m);                                                                \
    }                                                                                     \
    return 1;

NDP_MS_INLINE int ndp_max_taps_f32_(const float *src, ptrdiff_t apart, float *dst, ptrdiff_t n,
                                    const int taps)
{
#define NDP_MS_TAPS_F32(V, L, LOAD, STORE, MAXUP, NEG) \
    NDP_MS_TAPS(float, V, L, LOAD, STORE, MAXUP, NEG, ndp_max1_f32)
    NDP_MS_CALL(NDP_MS_TAPS_F32, NDP_MS_F32)
}

NDP_MS_INLINE int ndp_max_taps_f64_(const double *src, ptrdiff_t apart, double *dst,
                                    ptrdiff_t n, const int taps)
{
#define NDP_MS_TAPS_F64(V, L, LOAD, STORE, MAXUP, NEG) \
    NDP_MS_TAPS(double, V, L, LOAD, STORE, MAXUP, NEG, ndp_max1_f64)
    NDP_MS_CALL(NDP_MS_TAPS_F64, NDP_MS_F64)
}

/* Constant tap counts, so that each loop is straight-line. */
static inline int ndp_max_taps_f32(const float *src, ptrdiff_t apart, float *dst, ptrdiff_t n,
                                   int taps)
{
    if (taps == 1)
        return ndp_max_taps_f32_(src, apart, dst, n, 1);
    if (taps == 2)
        return ndp_max_taps_f32_(src, apart, dst, n, 2);
    if (taps == 3)
        return ndp_max_taps_f32_(src, apart, dst, n, 3);
    return 0;
}

static inline int ndp_max_taps_f64(const double *src, ptrdiff_t apart, double *dst, ptrdiff_t n,
                                   int taps)
{
    if (taps == 1)
        return ndp_max_taps_f64_(src, apart, dst, n, 1);
    if (taps == 2)
        return ndp_max_taps_f64_(src, apart, dst, n, 2);
    if (taps == 3)
        return ndp_max_taps_f64_(src, apart, dst, n, 3);
    return 0;
}

/* An nd x nh x nw window's taps folded by STEP into NV vectors of running values, from
 * INIT, in scan order: the channels-last register block (acc, in registers). */
#define NDP_MS_FOLD_BLOCK(T, V, L, LOAD, STEP, INIT)                                       \
    enum { NV = NDP_MAX_BLOCK_BYTES / sizeof(T) / L };                                    \
    V acc[NV];                                                                            \
    _Pragma("GCC unroll 16")                                                              \
    for (int v = 0; v < NV; v++)                                                          \
        acc[v] = INIT;                                                                    \
    for (ptrdiff_t kd = 0; kd < nd; kd++)                                                 \
        for (ptrdiff_t kh = 0; kh < nh; kh++) {                                           \
            const T *p = src + kd * sD + kh * sH;                                         \
            for (ptrdiff_t kw = 0; kw < nw; kw++, p += sW) {                              \
                _Pragma("GCC unroll 16")                                                  \
                for (int v = 0; v < NV; v++)                                              \
                    acc[v] = STEP(acc[v], LOAD(p + v * L));                               \
            }                                                                             \
        }

#define NDP_MS_BLOCK(T, V, L, LOAD, STORE, MAXUP, NEG)                                      \
    NDP_MS_FOLD_BLOCK(T, V, L, LOAD, MAXUP, NEG)                                          \
    _Pragma("GCC unroll 16")                                                              \
    for (int v = 0; v < NV; v++)                                                          \
        STORE(dst + v * L, acc[v]);                                                       \
    return 1;

static inline int ndp_max_block_f32(const float *src, ptrdiff_t sD, ptrdiff_t sH, ptrdiff_t sW,
                                    ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw, float *dst)
{
#define NDP_MS_BLOCK_F32(...) NDP_MS_BLOCK(float, __VA_ARGS__)
    NDP_MS_CALL(NDP_MS_BLOCK_F32, NDP_MS_F32)
}

static inline int ndp_max_block_f64(const double *src, ptrdiff_t sD, ptrdiff_t sH,
                                    ptrdiff_t sW, ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                                    double *dst)
{
#define NDP_MS_BLOCK_F64(...) NDP_MS_BLOCK(double, __VA_ARGS__)
    NDP_MS_CALL(NDP_MS_BLOCK_F64, NDP_MS_F64)
}

/* The sum block: 0 + every tap in scan order, then one division by div, or one product
 * with 1 / div when by_inverse (div a power of two, whose inverse is exact: the same
 * bits).  clang kept _cl_blocks.pxd's array of sums in memory (channels-last 5x5 and 7x7
 * averages 0.4x of gcc); here the sums are vector variables. */
#define NDP_MS_SUM_BLOCK(T, V, L, LOAD, STORE, ADD, ZERO, MUL, DIV, SET1)                   \
    NDP_MS_FOLD_BLOCK(T, V, L, LOAD, ADD, ZERO)                                           \
    const V d = SET1(by_inverse ? 1 / div : div);                                         \
    _Pragma("GCC unroll 16")                                                              \
    for (int v = 0; v < NV; v++)                                                          \
        STORE(dst + v * L, by_inverse ? MUL(acc[v], d) : DIV(acc[v], d));                 \
    return 1;

#if defined(__AVX__)
#define NDP_MS_SUM_F32 __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, \
                       _mm256_setzero_ps(), _mm256_mul_ps, _mm256_div_ps, _mm256_set1_ps
#define NDP_MS_SUM_F64 __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_add_pd, \
                       _mm256_setzero_pd(), _mm256_mul_pd, _mm256_div_pd, _mm256_set1_pd
#else
#define NDP_MS_SUM_F32 __m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_add_ps, _mm_setzero_ps(), \
                       _mm_mul_ps, _mm_div_ps, _mm_set1_ps
#define NDP_MS_SUM_F64 __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _mm_add_pd, _mm_setzero_pd(), \
                       _mm_mul_pd, _mm_div_pd, _mm_set1_pd
#endif

static inline int ndp_sum_block_f32(const float *src, ptrdiff_t sD, ptrdiff_t sH, ptrdiff_t sW,
                                    ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw, float div,
                                    int by_inverse, float *dst)
{
#define NDP_MS_SUM_BLOCK_F32(...) NDP_MS_SUM_BLOCK(float, __VA_ARGS__)
    NDP_MS_CALL(NDP_MS_SUM_BLOCK_F32, NDP_MS_SUM_F32)
}

static inline int ndp_sum_block_f64(const double *src, ptrdiff_t sD, ptrdiff_t sH,
                                    ptrdiff_t sW, ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                                    double div, int by_inverse, double *dst)
{
#define NDP_MS_SUM_BLOCK_F64(...) NDP_MS_SUM_BLOCK(double, __VA_ARGS__)
    NDP_MS_CALL(NDP_MS_SUM_BLOCK_F64, NDP_MS_SUM_F64)
}

/* The step with its index, float values and int64 indices: where v = src[i * step] wins,
 * dst[i] = v and idx[i] = f, f running from flat by flat_step.  The 32-bit win mask is
 * widened to the indices' 64-bit lanes (AVX2: sign extension; SSE2: each lane paired with
 * itself).  Strided values come in one vector (clang made the scalar loop's select a
 * branch: 0.15-0.2x of gcc on 2x2/s2 with indices): step 2 as two plain loads split into
 * even and odd lanes, which read one value past the last used (so not for a row's last
 * vector), other steps value by value. */
#if defined(__AVX2__)
NDP_MS_INLINE __m256 ndp_ms_load8_f32(const float *p, ptrdiff_t step, int whole)
{
    if (step == 1)
        return _mm256_loadu_ps(p);
    if (step == 2 && whole) {
        __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    }
    return _mm256_setr_ps(p[0], p[step], p[2 * step], p[3 * step], p[4 * step], p[5 * step],
                          p[6 * step], p[7 * step]);
}
#else
NDP_MS_INLINE __m128 ndp_ms_load4_f32(const float *p, ptrdiff_t step, int whole)
{
    if (step == 1)
        return _mm_loadu_ps(p);
    if (step == 2 && whole)
        return _mm_shuffle_ps(_mm_loadu_ps(p), _mm_loadu_ps(p + 4), 0x88);
    return _mm_setr_ps(p[0], p[step], p[2 * step], p[3 * step]);
}
#endif
NDP_MS_INLINE int ndp_max_idx_f32_(const float *src, ptrdiff_t step, float *dst, int64_t *idx,
                                   ptrdiff_t n, int64_t flat, int64_t flat_step)
{
#if defined(__AVX2__)
    const ptrdiff_t L = 8;
    const __m256i fs4 = _mm256_set1_epi64x(4 * flat_step);
#else
    const ptrdiff_t L = 4;
    const __m128i fs = _mm_set1_epi64x(flat_step);
#endif
    if (n < L) {
        for (ptrdiff_t i = 0; i < n; i++) {
            __m128 v = _mm_load_ss(src + i * step), m = _mm_load_ss(dst + i);
            int64_t take = -(int64_t)(_mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ss(v, m),
                                                                    _mm_cmpunord_ss(v, v))) & 1);
            _mm_store_ss(dst + i, ndp_maxup_f32(m, v));
            idx[i] = ((flat + i * flat_step) & take) | (idx[i] & ~take);
        }
        return 1;
    }
    for (ptrdiff_t i = 0; i < n; i += L) {
        const ptrdiff_t k = i + L <= n ? i : n - L;
        const int64_t f = flat + k * flat_step;
#if defined(__AVX2__)
        __m256 v = ndp_ms_load8_f32(src + k * step, step, k + L < n);
        __m256 m = _mm256_loadu_ps(dst + k);
        __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        __m256i t = _mm256_castps_si256(take);
        __m256i f0 = _mm256_set_epi64x(f + 3 * flat_step, f + 2 * flat_step, f + flat_step, f);
        __m256i f1 = _mm256_add_epi64(f0, fs4);
        __m256d t0 = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(t)));
        __m256d t1 = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(t, 1)));
        _mm256_storeu_ps(dst + k, _mm256_blendv_ps(m, v, take));
        _mm256_storeu_pd((double *)(idx + k), _mm256_blendv_pd(
            _mm256_loadu_pd((const double *)(idx + k)), _mm256_castsi256_pd(f0), t0));
        _mm256_storeu_pd((double *)(idx + k + 4), _mm256_blendv_pd(
            _mm256_loadu_pd((const double *)(idx + k + 4)), _mm256_castsi256_pd(f1), t1));
#else
        __m128 v = ndp_ms_load4_f32(src + k * step, step, k + L < n);
        __m128 m = _mm_loadu_ps(dst + k);
        __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, m), _mm_cmpunord_ps(v, v));
        __m128i t0 = _mm_castps_si128(_mm_unpacklo_ps(take, take));
        __m128i t1 = _mm_castps_si128(_mm_unpackhi_ps(take, take));
        __m128i f0 = _mm_set_epi64x(f + flat_step, f);
        __m128i f1 = _mm_add_epi64(f0, _mm_add_epi64(fs, fs));
        __m128i i0 = _mm_loadu_si128((const __m128i *)(idx + k));
        __m128i i1 = _mm_loadu_si128((const __m128i *)(idx + k + 2));
        _mm_storeu_ps(dst + k, _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m)));
        _mm_storeu_si128((__m128i *)(idx + k), _mm_or_si128(_mm_and_si128(t0, f0),
                                                               _mm_andnot_si128(t0, i0)));
        _mm_storeu_si128((__m128i *)(idx + k + 2), _mm_or_si128(_mm_and_si128(t1, f1),
                                                                   _mm_andnot_si128(t1, i1)));
#endif
    }
    return 1;
}

/* Stride 1 as its own loop (a constant step), as 1-D and stride-1 windows take it most. */
static inline int ndp_max_idx_f32(const float *src, ptrdiff_t step, float *dst, int64_t *idx,
                                  ptrdiff_t n, int64_t flat, int64_t flat_step)
{
    if (step == 1)
        return ndp_max_idx_f32_(src, 1, dst, idx, n, flat, flat_step);
    return ndp_max_idx_f32_(src, step, dst, idx, n, flat, flat_step);
}

#define NDP_MS_ROW(r, LOAD, MAXUP, K)                                                      \
    (K == 2 ? MAXUP(LOAD(r + k), LOAD(r + k + sW))                                        \
            : MAXUP(MAXUP(LOAD(r + k), LOAD(r + k + sW)), LOAD(r + k + 2 * sW)))
#define NDP_MS_CL(V, L, LOAD, STORE, MAXUP, K)                                             \
    for (ptrdiff_t p = 0; p < npix; p++) {                                                \
        for (ptrdiff_t i = 0; i < n; i += L) {                                            \
            const ptrdiff_t k = i + L <= n ? i : n - L;                                   \
            V m = MAXUP(NDP_MS_ROW(a, LOAD, MAXUP, K), NDP_MS_ROW(b, LOAD, MAXUP, K));    \
            if (K == 3)                                                                   \
                m = MAXUP(m, NDP_MS_ROW(c, LOAD, MAXUP, K));                              \
            STORE(dst + k, m);                                                            \
        }                                                                                 \
        a += pstep;                                                                       \
        b += pstep;                                                                       \
        c += pstep;                                                                       \
        dst += dstep;                                                                     \
    }                                                                                     \
    return 1;
#define NDP_MS_CL_KW(V, L, LOAD, STORE, MAXUP, NEG)                                        \
    if (n < L || kw < 2 || kw > 3)                                                        \
        return 0;                                                                         \
    if (kw == 2) {                                                                        \
        NDP_MS_CL(V, L, LOAD, STORE, MAXUP, 2)                                            \
    }                                                                                     \
    NDP_MS_CL(V, L, LOAD, STORE, MAXUP, 3)

static int ndp_cl_max_f32(const float *a, const float *b, const float *c, ptrdiff_t sW,
                          ptrdiff_t pstep, float *dst, ptrdiff_t dstep, ptrdiff_t n,
                          ptrdiff_t npix, int kw)
{
    NDP_MS_CALL(NDP_MS_CL_KW, NDP_MS_F32)
}

static int ndp_cl_max_f64(const double *a, const double *b, const double *c, ptrdiff_t sW,
                          ptrdiff_t pstep, double *dst, ptrdiff_t dstep, ptrdiff_t n,
                          ptrdiff_t npix, int kw)
{
    NDP_MS_CALL(NDP_MS_CL_KW, NDP_MS_F64)
}

#else /* no SSE2: the Cython loops do everything */

static inline float ndp_max1_f32(float m, float v)
{
    m = v > m ? v : m;
    return v != v ? v : m;
}

static inline double ndp_max1_f64(double m, double v)
{
    m = v > m ? v : m;
    return v != v ? v : m;
}

static inline int ndp_max_taps_f32(const float *src, ptrdiff_t apart, float *dst, ptrdiff_t n,
                                   int taps)
{ (void)src; (void)apart; (void)dst; (void)n; (void)taps; return 0; }
static inline int ndp_max_taps_f64(const double *src, ptrdiff_t apart, double *dst, ptrdiff_t n,
                                   int taps)
{ (void)src; (void)apart; (void)dst; (void)n; (void)taps; return 0; }
static inline int ndp_max_block_f32(const float *src, ptrdiff_t sD, ptrdiff_t sH, ptrdiff_t sW,
                                    ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw, float *dst)
{ (void)src; (void)sD; (void)sH; (void)sW; (void)nd; (void)nh; (void)nw; (void)dst; return 0; }
static inline int ndp_max_block_f64(const double *src, ptrdiff_t sD, ptrdiff_t sH,
                                    ptrdiff_t sW, ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                                    double *dst)
{ (void)src; (void)sD; (void)sH; (void)sW; (void)nd; (void)nh; (void)nw; (void)dst; return 0; }
static inline int ndp_sum_block_f32(const float *src, ptrdiff_t sD, ptrdiff_t sH, ptrdiff_t sW,
                                    ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw, float div,
                                    int by_inverse, float *dst)
{ (void)src; (void)sD; (void)sH; (void)sW; (void)nd; (void)nh; (void)nw; (void)div; (void)by_inverse; (void)dst; return 0; }
static inline int ndp_sum_block_f64(const double *src, ptrdiff_t sD, ptrdiff_t sH,
                                    ptrdiff_t sW, ptrdiff_t nd, ptrdiff_t nh, ptrdiff_t nw,
                                    double div, int by_inverse, double *dst)
{ (void)src; (void)sD; (void)sH; (void)sW; (void)nd; (void)nh; (void)nw; (void)div; (void)by_inverse; (void)dst; return 0; }
static inline int ndp_max_idx_f32(const float *src, ptrdiff_t step, float *dst, int64_t *idx,
                                  ptrdiff_t n, int64_t flat, int64_t flat_step)
{ (void)src; (void)step; (void)dst; (void)idx; (void)n; (void)flat; (void)flat_step; return 0; }
static int ndp_cl_max_f32(const float *a, const float *b, const float *c, ptrdiff_t sW,
                          ptrdiff_t pstep, float *dst, ptrdiff_t dstep, ptrdiff_t n,
                          ptrdiff_t npix, int kw)
{ (void)a; (void)b; (void)c; (void)sW; (void)pstep; (void)dst; (void)dstep; (void)n; (void)npix; (void)kw; return 0; }
static int ndp_cl_max_f64(const double *a, const double *b, const double *c, ptrdiff_t sW,
                          ptrdiff_t pstep, double *dst, ptrdiff_t dstep, ptrdiff_t n,
                          ptrdiff_t npix, int kw)
{ (void)a; (void)b; (void)c; (void)sW; (void)pstep; (void)dst; (void)dstep; (void)n; (void)npix; (void)kw; return 0; }

#endif

#endif /* NDPOOL_MAX_STEPS_H */
