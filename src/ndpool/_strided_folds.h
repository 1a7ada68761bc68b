/* Folds of channels-first window rows whose W taps lie `step` (2, 3 or 4) elements apart.
 *
 * The fused spans of _spans.pxd (max_rows, sum_rows) fold, for each output i, the taps
 * row[step * i + t] of up to three window rows.  With a stride of 2, 3 or 4 those are
 * interleaved in memory; gcc vectorised the stride-2 loops with slow generic permutes and
 * left stride 3 and 4 scalar.  Here a vector of outputs is loaded as `step` plain vectors
 * and de-interleaved in registers (shuffles, a 4x4 transpose for step 4), so that lane k
 * of "phase" t holds row[step * (j + k) + t].  Each lane then folds its own output's taps
 * in the scalar order (row a, then b, then c; taps in order; max folds each row and then
 * the rows, which max_update's associativity allows), with the scalar operations:
 * results are bitwise those of the scalar spans.
 *
 * ndp_max_rows_f32(a, b, c, step, dst, n, taps, rows) and the _f64, ndp_sum_rows_* take
 * the arguments of max_rows / sum_rows and return how many outputs they wrote: all n,
 * the last few (which a vector load would read past the row for) one at a time in lane 0
 * (NDP_SF_TAIL), or 0 for a shape without a form, which the caller's spans then take.
 * 128-bit vectors in both builds, and 256-bit ones for steps 2 and 4 in the AVX2 build;
 * the lanes never interact and run the same operations, so the builds agree bit for bit.
 *
 * Never reads outside [row, row + step * (n - 1) + taps), what the scalar span reads:
 * a vector step runs only while its loads end inside that range.
 */
#ifndef NDPOOL_STRIDED_FOLDS_H
#define NDPOOL_STRIDED_FOLDS_H

#include <stddef.h>

#include "_max_steps.h"  /* torch's max step: ndp_maxup*, in vectors */

#if defined(__GNUC__)
#define NDP_SF_INLINE static inline __attribute__((always_inline))
#else
#define NDP_SF_INLINE static inline
#endif

/* The loops over rows and taps have constant counts once inlined.  gcc unrolls them on
 * this hint; clang unrolls them itself, and given a count it unrolls them before inlining,
 * for a count not yet known, and then leaves them: the taps stayed in memory (2x2/s2 max
 * 0.5x of gcc's code). */
#if defined(__clang__)
#define NDP_SF_UNROLL
#else
#define NDP_SF_UNROLL _Pragma("GCC unroll 4")
#endif

#if defined(__SSE2__)
#include <immintrin.h>

/* Phases 0 .. step - 1 of 4 outputs from p: ph[t] lane k = p[step * k + t]. */
NDP_SF_INLINE void ndp_phases_f32(const float *p, const int step, __m128 *ph)
{
    if (step == 2) {
        __m128 l0 = _mm_loadu_ps(p), l1 = _mm_loadu_ps(p + 4);
        ph[0] = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
        ph[1] = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
    } else if (step == 3) {
        /* l0 = p0..p3, l1 = p4..p7, l2 = p8..p11; phases (0 3 6 9) (1 4 7 10) (2 5 8 11). */
        __m128 l0 = _mm_loadu_ps(p), l1 = _mm_loadu_ps(p + 4), l2 = _mm_loadu_ps(p + 8);
        __m128 y0 = _mm_shuffle_ps(l1, l2, _MM_SHUFFLE(1, 1, 2, 2));  /* 6 6 9 9 */
        __m128 y1 = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(0, 0, 1, 1));  /* 1 1 4 4 */
        __m128 y2 = _mm_shuffle_ps(l1, l2, _MM_SHUFFLE(2, 2, 3, 3));  /* 7 7 10 10 */
        __m128 y3 = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(1, 1, 2, 2));  /* 2 2 5 5 */
        ph[0] = _mm_shuffle_ps(l0, y0, _MM_SHUFFLE(2, 0, 3, 0));
        ph[1] = _mm_shuffle_ps(y1, y2, _MM_SHUFFLE(2, 0, 2, 0));
        ph[2] = _mm_shuffle_ps(y3, l2, _MM_SHUFFLE(3, 0, 2, 0));
    } else {
        __m128 l0 = _mm_loadu_ps(p), l1 = _mm_loadu_ps(p + 4);
        __m128 l2 = _mm_loadu_ps(p + 8), l3 = _mm_loadu_ps(p + 12);
        _MM_TRANSPOSE4_PS(l0, l1, l2, l3);
        ph[0] = l0;
        ph[1] = l1;
        ph[2] = l2;
        ph[3] = l3;
    }
}

/* Phases of 2 outputs (f64): ph[t] lane k = p[step * k + t]. */
NDP_SF_INLINE void ndp_phases_f64(const double *p, const int step, __m128d *ph)
{
    if (step == 2) {
        __m128d l0 = _mm_loadu_pd(p), l1 = _mm_loadu_pd(p + 2);
        ph[0] = _mm_unpacklo_pd(l0, l1);
        ph[1] = _mm_unpackhi_pd(l0, l1);
    } else if (step == 3) {
        __m128d l0 = _mm_loadu_pd(p), l1 = _mm_loadu_pd(p + 2), l2 = _mm_loadu_pd(p + 4);
        ph[0] = _mm_shuffle_pd(l0, l1, 2);  /* p0 p3 */
        ph[1] = _mm_shuffle_pd(l0, l2, 1);  /* p1 p4 */
        ph[2] = _mm_shuffle_pd(l1, l2, 2);  /* p2 p5 */
    } else {
        __m128d l0 = _mm_loadu_pd(p), l1 = _mm_loadu_pd(p + 2);
        __m128d l2 = _mm_loadu_pd(p + 4), l3 = _mm_loadu_pd(p + 6);
        ph[0] = _mm_unpacklo_pd(l0, l2);
        ph[1] = _mm_unpackhi_pd(l0, l2);
        ph[2] = _mm_unpacklo_pd(l1, l3);
        ph[3] = _mm_unpackhi_pd(l1, l3);
    }
}

/* One fold body per type: W outputs per vector; tap t >= step is phase t - step of the
 * next output (p + step).  is_max selects max or sum; constant step/taps/rows after
 * inlining, so the loops over rows and taps unroll away.  PHASES may leave the outputs
 * in a fixed permuted lane order (in-lane AVX shuffles); FIX is that permutation, its
 * own inverse, applied to init on the way in and to the results on the way out. */
#define NDP_SF_SAME(v) (v)
#define NDP_SF_FOLD(T, VT, W, PHASES, FIX, LOADU, STOREU, SET1, ADD, DIV, MAXUP)            \
    ptrdiff_t j = 0;                                                                      \
    /* Elements a vector step loads from row + step * j, and the scalar span's extent. */ \
    const ptrdiff_t reach = (taps > step ? step : 0) + (ptrdiff_t)W * step;               \
    const ptrdiff_t extent = step * (n - 1) + taps;                                      \
    const VT dv = SET1(div);                                                              \
    for (; n > 0 && step * j + reach <= extent; j += W) {                                 \
        VT acc = is_max ? SET1(0) : FIX(LOADU(init + j)), row = SET1(0);                  \
        NDP_SF_UNROLL                                                                     \
        for (int r = 0; r < rows; r++) {                                                  \
            const T *p = (r == 0 ? a : r == 1 ? b : r == 2 ? c : d) + step * j;                        \
            VT ph[4], pq[4];                                                              \
            PHASES(p, step, ph);                                                          \
            if (taps > step)                                                              \
                PHASES(p + step, step, pq);                                               \
            NDP_SF_UNROLL                                                                 \
            for (int t = 0; t < taps; t++) {                                              \
                VT v = t < step ? ph[t] : pq[t - step];                                   \
                if (is_max)                                                               \
                    row = t == 0 ? v : MAXUP(row, v);                                     \
                else                                                                      \
                    acc = ADD(acc, v);                                                    \
            }                                                                             \
            /* Max folds each row, then the rows in order: the same bits, a shorter     \
             * chain (max_update in _spans.pxd). */                                       \
            if (is_max)                                                                   \
                acc = r == 0 ? row : MAXUP(acc, row);                                     \
        }                                                                                 \
        STOREU(dst + j, FIX(is_max ? acc : DIV(acc, dv)));                                \
    }                                                                                     \
    return j;

NDP_SF_INLINE ptrdiff_t ndp_fold_f32(const float *a, const float *b, const float *c,
                                     const float *d, const float *init, float *dst, ptrdiff_t n, float div,
                                     const int step, const int taps, const int rows,
                                     const int is_max)
{
    NDP_SF_FOLD(float, __m128, 4, ndp_phases_f32, NDP_SF_SAME, _mm_loadu_ps, _mm_storeu_ps, _mm_set1_ps,
                _mm_add_ps, _mm_div_ps, ndp_maxup_f32)
}

NDP_SF_INLINE ptrdiff_t ndp_fold_f64(const double *a, const double *b, const double *c,
                                     const double *d, const double *init, double *dst, ptrdiff_t n, double div,
                                     const int step, const int taps, const int rows,
                                     const int is_max)
{
    NDP_SF_FOLD(double, __m128d, 2, ndp_phases_f64, NDP_SF_SAME, _mm_loadu_pd, _mm_storeu_pd, _mm_set1_pd,
                _mm_add_pd, _mm_div_pd, ndp_maxup_f64)
}

/* The outputs [j, n) that a vector step cannot reach without reading past the scalar
 * span's extent, one at a time with the lanes' operations on lane 0 (max: maxss and the
 * NaN blend, never a compiler's select, which gcc 13 turned into branches that random data
 * mispredicts; sum: the same additions in the same order), so that a fold always writes
 * all n outputs and the scalar spans of _spans.pxd never run for these shapes. */
#define NDP_SF_TAIL(T, VS, ZERO, LOAD1, STORE1, MAXUP)                                    \
    for (; j < n; j++) {                                                                  \
        if (is_max) {                                                                     \
            VS acc = ZERO;  /* replaced by row a's fold */                                \
            NDP_SF_UNROLL                                                                 \
            for (int r = 0; r < rows; r++) {                                              \
                const T *p = (r == 0 ? a : r == 1 ? b : r == 2 ? c : d) + step * j;       \
                VS m = LOAD1(p);                                                          \
                NDP_SF_UNROLL                                                             \
                for (int t = 1; t < taps; t++)                                            \
                    m = MAXUP(m, LOAD1(p + t));                                           \
                acc = r == 0 ? m : MAXUP(acc, m);                                         \
            }                                                                             \
            STORE1(dst + j, acc);                                                         \
        } else {                                                                          \
            T s = init[j];                                                                \
            NDP_SF_UNROLL                                                                 \
            for (int r = 0; r < rows; r++) {                                              \
                const T *p = (r == 0 ? a : r == 1 ? b : r == 2 ? c : d) + step * j;       \
                NDP_SF_UNROLL                                                             \
                for (int t = 0; t < taps; t++)                                            \
                    s = s + p[t];                                                         \
            }                                                                             \
            dst[j] = s / div;                                                             \
        }                                                                                 \
    }                                                                                     \
    return n;

/* The 128-bit fold from output j on, then the tail: all n outputs. */
NDP_SF_INLINE ptrdiff_t ndp_fold_all_f32(const float *a, const float *b, const float *c,
                                         const float *d, const float *init, float *dst,
                                         ptrdiff_t j, ptrdiff_t n, float div, const int step,
                                         const int taps, const int rows, const int is_max)
{
    j += ndp_fold_f32(a + step * j, b + step * j, c + step * j, d + step * j,
                      is_max ? init : init + j, dst + j, n - j, div, step, taps, rows, is_max);
    NDP_SF_TAIL(float, __m128, _mm_setzero_ps(), _mm_load_ss, _mm_store_ss, ndp_maxup_f32)
}

NDP_SF_INLINE ptrdiff_t ndp_fold_all_f64(const double *a, const double *b, const double *c,
                                         const double *d, const double *init, double *dst,
                                         ptrdiff_t j, ptrdiff_t n, double div, const int step,
                                         const int taps, const int rows, const int is_max)
{
    j += ndp_fold_f64(a + step * j, b + step * j, c + step * j, d + step * j,
                      is_max ? init : init + j, dst + j, n - j, div, step, taps, rows, is_max);
    NDP_SF_TAIL(double, __m128d, _mm_setzero_pd(), _mm_load_sd, _mm_store_sd, ndp_maxup_f64)
}

#if defined(__AVX2__)
/* 256-bit forms for step 2 (f32, f64) and step 4 (f32), where 8 (4) outputs per vector
 * beat gcc's own 256-bit vectorisation of the scalar spans; the 128-bit fold then takes
 * what is left.  Same lane-wise operations as the 128-bit forms. */

/* Step 2, f32: in-lane shuffles of p0..p7, p8..p15 give outputs in lane order
 * 0 1 4 5 2 3 6 7; NDP_SF_FIX8 swaps the middle 64-bit pairs back. */
NDP_SF_INLINE void ndp_phases8_f32(const float *p, const int step, __m256 *ph)
{
    if (step == 2) {
        __m256 l0 = _mm256_loadu_ps(p), l1 = _mm256_loadu_ps(p + 8);
        ph[0] = _mm256_shuffle_ps(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
        ph[1] = _mm256_shuffle_ps(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
    } else {
        /* Step 4: output k's 4 taps in the low half of v_k, output k + 4's in the high
         * half (loaded straight into place), then an in-lane 4x4 transpose: in order. */
        __m256 v[4];
        for (int k = 0; k < 4; k++)
            v[k] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 4 * k)),
                                        _mm_loadu_ps(p + 16 + 4 * k), 1);
        __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
        __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
        ph[0] = _mm256_shuffle_ps(t0, t2, 0x44);
        ph[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
        ph[2] = _mm256_shuffle_ps(t1, t3, 0x44);
        ph[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
    }
}

/* Step 2, f64: outputs in lane order 0 2 1 3. */
NDP_SF_INLINE void ndp_phases4_f64(const double *p, const int step, __m256d *ph)
{
    __m256d l0 = _mm256_loadu_pd(p), l1 = _mm256_loadu_pd(p + 4);
    (void)step;
    ph[0] = _mm256_unpacklo_pd(l0, l1);
    ph[1] = _mm256_unpackhi_pd(l0, l1);
}

#define NDP_SF_FIX8_S2(v) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8))
#define NDP_SF_FIX4_S2(v) _mm256_permute4x64_pd(v, 0xD8)

NDP_SF_INLINE ptrdiff_t ndp_fold8_s2_f32(const float *a, const float *b, const float *c,
                                         const float *d, const float *init, float *dst, ptrdiff_t n, float div,
                                         const int step, const int taps, const int rows,
                                         const int is_max)
{
    NDP_SF_FOLD(float, __m256, 8, ndp_phases8_f32, NDP_SF_FIX8_S2, _mm256_loadu_ps,
                _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_div_ps, ndp_maxup8_f32)
}

NDP_SF_INLINE ptrdiff_t ndp_fold8_s4_f32(const float *a, const float *b, const float *c,
                                         const float *d, const float *init, float *dst, ptrdiff_t n, float div,
                                         const int step, const int taps, const int rows,
                                         const int is_max)
{
    NDP_SF_FOLD(float, __m256, 8, ndp_phases8_f32, NDP_SF_SAME, _mm256_loadu_ps,
                _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_div_ps, ndp_maxup8_f32)
}

NDP_SF_INLINE ptrdiff_t ndp_fold4_s2_f64(const double *a, const double *b, const double *c,
                                         const double *d, const double *init, double *dst, ptrdiff_t n,
                                         double div, const int step, const int taps,
                                         const int rows, const int is_max)
{
    NDP_SF_FOLD(double, __m256d, 4, ndp_phases4_f64, NDP_SF_FIX4_S2, _mm256_loadu_pd,
                _mm256_storeu_pd, _mm256_set1_pd, _mm256_add_pd, _mm256_div_pd, ndp_maxup4_f64)
}

/* The wide fold, then the 128-bit one and the tail on what it left. */
NDP_SF_INLINE ptrdiff_t ndp_fold_wide_f32(const float *a, const float *b, const float *c,
                                          const float *d, const float *init, float *dst, ptrdiff_t n,
                                          float div, const int step, const int taps,
                                          const int rows, const int is_max)
{
    ptrdiff_t j = 0;
    if (step == 2)
        j = ndp_fold8_s2_f32(a, b, c, d, init, dst, n, div, step, taps, rows, is_max);
    else if (step == 4)
        j = ndp_fold8_s4_f32(a, b, c, d, init, dst, n, div, step, taps, rows, is_max);
    return ndp_fold_all_f32(a, b, c, d, init, dst, j, n, div, step, taps, rows, is_max);
}

NDP_SF_INLINE ptrdiff_t ndp_fold_wide_f64(const double *a, const double *b, const double *c,
                                          const double *d, const double *init, double *dst, ptrdiff_t n,
                                          double div, const int step, const int taps,
                                          const int rows, const int is_max)
{
    ptrdiff_t j = 0;
    if (step == 2)
        j = ndp_fold4_s2_f64(a, b, c, d, init, dst, n, div, step, taps, rows, is_max);
    return ndp_fold_all_f64(a, b, c, d, init, dst, j, n, div, step, taps, rows, is_max);
}

#define NDP_SF_FOLD_F32 ndp_fold_wide_f32
#define NDP_SF_FOLD_F64 ndp_fold_wide_f64
#else
/* Baseline (SSE2): the 128-bit folds, step 2 included.  gcc 12's own SSE2 vectorisation
 * of the step-2 spans was as fast; gcc 13's, with branches in its scalar remainder, made
 * the ResNet stem's forward 30x slower. */
NDP_SF_INLINE ptrdiff_t ndp_fold_base_f32(const float *a, const float *b, const float *c,
                                          const float *d, const float *init, float *dst, ptrdiff_t n,
                                          float div, const int step, const int taps,
                                          const int rows, const int is_max)
{
    return ndp_fold_all_f32(a, b, c, d, init, dst, 0, n, div, step, taps, rows, is_max);
}

NDP_SF_INLINE ptrdiff_t ndp_fold_base_f64(const double *a, const double *b, const double *c,
                                          const double *d, const double *init, double *dst, ptrdiff_t n,
                                          double div, const int step, const int taps,
                                          const int rows, const int is_max)
{
    return ndp_fold_all_f64(a, b, c, d, init, dst, 0, n, div, step, taps, rows, is_max);
}

#define NDP_SF_FOLD_F32 ndp_fold_base_f32
#define NDP_SF_FOLD_F64 ndp_fold_base_f64
#endif
#define NDP_SF_MIN_STEP 2

/* The (step, taps) pairs with a vector form: k2s2, k3s2 (the next output's first tap),
 * k3s3, k4s4; rows 1 to 4. */
#define NDP_SF_DISPATCH(FOLD, a, b, c, d, init, dst, n, div, step, taps, rows, is_max)        \
    do {                                                                                  \
        if (rows < 1 || rows > 4)                                                         \
            return 0;                                                                     \
        if (step == 2 && taps == 2) {                                                     \
            if (rows == 1) return FOLD(a, b, c, d, init, dst, n, div, 2, 2, 1, is_max);       \
            if (rows == 2) return FOLD(a, b, c, d, init, dst, n, div, 2, 2, 2, is_max);       \
            if (rows == 3) return FOLD(a, b, c, d, init, dst, n, div, 2, 2, 3, is_max);       \
            return FOLD(a, b, c, d, init, dst, n, div, 2, 2, 4, is_max);                     \
        }                                                                                 \
        if (step == 2 && taps == 3) {                                                     \
            if (rows == 1) return FOLD(a, b, c, d, init, dst, n, div, 2, 3, 1, is_max);       \
            if (rows == 2) return FOLD(a, b, c, d, init, dst, n, div, 2, 3, 2, is_max);       \
            if (rows == 3) return FOLD(a, b, c, d, init, dst, n, div, 2, 3, 3, is_max);       \
            return FOLD(a, b, c, d, init, dst, n, div, 2, 3, 4, is_max);                     \
        }                                                                                 \
        if (step == 3 && taps == 3) {                                                     \
            if (rows == 1) return FOLD(a, b, c, d, init, dst, n, div, 3, 3, 1, is_max);       \
            if (rows == 2) return FOLD(a, b, c, d, init, dst, n, div, 3, 3, 2, is_max);       \
            if (rows == 3) return FOLD(a, b, c, d, init, dst, n, div, 3, 3, 3, is_max);       \
            return FOLD(a, b, c, d, init, dst, n, div, 3, 3, 4, is_max);                     \
        }                                                                                 \
        if (step == 4 && taps == 4) {                                                     \
            if (rows == 1) return FOLD(a, b, c, d, init, dst, n, div, 4, 4, 1, is_max);       \
            if (rows == 2) return FOLD(a, b, c, d, init, dst, n, div, 4, 4, 2, is_max);       \
            if (rows == 3) return FOLD(a, b, c, d, init, dst, n, div, 4, 4, 3, is_max);       \
            return FOLD(a, b, c, d, init, dst, n, div, 4, 4, 4, is_max);                     \
        }                                                                                 \
        return 0;                                                                         \
    } while (0)

static ptrdiff_t ndp_max_rows_f32(const float *a, const float *b, const float *c,
                                  ptrdiff_t step, float *dst, ptrdiff_t n, ptrdiff_t taps,
                                  int rows)
{
    NDP_SF_DISPATCH(NDP_SF_FOLD_F32, a, b, c, c, (const float *)0, dst, n, 1.0f, step, taps, rows, 1);
}

static ptrdiff_t ndp_max_rows_f64(const double *a, const double *b, const double *c,
                                  ptrdiff_t step, double *dst, ptrdiff_t n, ptrdiff_t taps,
                                  int rows)
{
    NDP_SF_DISPATCH(NDP_SF_FOLD_F64, a, b, c, c, (const double *)0, dst, n, 1.0, step, taps, rows, 1);
}

/* max_rows of four rows (a, b, c, d) in one pass: 2x2x2 windows (3-D k2), which the
 * 3-row spans take in two passes and a merge. */
static ptrdiff_t ndp_max_rows4_f32(const float *a, const float *b, const float *c,
                                   const float *d, ptrdiff_t step, float *dst, ptrdiff_t n,
                                   ptrdiff_t taps)
{
    const int rows = 4;
    NDP_SF_DISPATCH(NDP_SF_FOLD_F32, a, b, c, d, (const float *)0, dst, n, 1.0f, step, taps, rows, 1);
}

static ptrdiff_t ndp_max_rows4_f64(const double *a, const double *b, const double *c,
                                   const double *d, ptrdiff_t step, double *dst, ptrdiff_t n,
                                   ptrdiff_t taps)
{
    const int rows = 4;
    NDP_SF_DISPATCH(NDP_SF_FOLD_F64, a, b, c, d, (const double *)0, dst, n, 1.0, step, taps, rows, 1);
}

static ptrdiff_t ndp_sum_rows_f32(const float *a, const float *b, const float *c,
                                  const float *init, ptrdiff_t step, float *dst, ptrdiff_t n,
                                  ptrdiff_t taps, int rows, float div)
{
    NDP_SF_DISPATCH(NDP_SF_FOLD_F32, a, b, c, c, init, dst, n, div, step, taps, rows, 0);
}

static ptrdiff_t ndp_sum_rows_f64(const double *a, const double *b, const double *c,
                                  const double *init, ptrdiff_t step, double *dst, ptrdiff_t n,
                                  ptrdiff_t taps, int rows, double div)
{
    NDP_SF_DISPATCH(NDP_SF_FOLD_F64, a, b, c, c, init, dst, n, div, step, taps, rows, 0);
}

/* `count` calls of ndp_max_rows / ndp_sum_rows in one, the k-th on rows a, b, c +
 * k * pitch into dst + k * opitch (rows of a few outputs each: the adaptive pooling of
 * equal bins), so that the dispatch is paid once; rows 1 to 3.  (Callers pass n a
 * multiple of 8, so that no output takes the tail.)  Returns 1 when done, 0 (nothing written) where
 * there is no form.  The dispatch's FOLD is NDP_SF_MANY_*, which reads count, pitch and
 * opitch from the enclosing function. */
#define NDP_SF_MANY_DEF(T, SFX)                                                           \
    NDP_SF_INLINE ptrdiff_t ndp_many_##SFX(const T *a, const T *b, const T *c, const T *init, \
                                           T *dst, ptrdiff_t n, T div, const int step,       \
                                           const int taps, const int rows, const int is_max, \
                                           ptrdiff_t count, ptrdiff_t pitch,                 \
                                           ptrdiff_t opitch)                                 \
    {                                                                                     \
        for (ptrdiff_t k_ = 0; k_ < count; k_++)                                          \
            NDP_SF_FOLD_##SFX(a + k_ * pitch, b + k_ * pitch, c + k_ * pitch, c, init,    \
                              dst + k_ * opitch, n, div, step, taps, rows, is_max);       \
        return 1;                                                                         \
    }

NDP_SF_MANY_DEF(float, F32)
NDP_SF_MANY_DEF(double, F64)

#define NDP_SF_MANY_F32(a, b, c, d, init, dst, n, div, step, taps, rows, is_max) \
    ndp_many_F32(a, b, c, init, dst, n, div, step, taps, rows, is_max, count, pitch, opitch)
#define NDP_SF_MANY_F64(a, b, c, d, init, dst, n, div, step, taps, rows, is_max) \
    ndp_many_F64(a, b, c, init, dst, n, div, step, taps, rows, is_max, count, pitch, opitch)

static ptrdiff_t ndp_max_rows_many_f32(const float *a, const float *b, const float *c,
                                       ptrdiff_t step, float *dst, ptrdiff_t n, ptrdiff_t taps,
                                       int rows, ptrdiff_t count, ptrdiff_t pitch,
                                       ptrdiff_t opitch)
{
    NDP_SF_DISPATCH(NDP_SF_MANY_F32, a, b, c, c, (const float *)0, dst, n, 1.0f, step, taps, rows, 1);
}

static ptrdiff_t ndp_max_rows_many_f64(const double *a, const double *b, const double *c,
                                       ptrdiff_t step, double *dst, ptrdiff_t n, ptrdiff_t taps,
                                       int rows, ptrdiff_t count, ptrdiff_t pitch,
                                       ptrdiff_t opitch)
{
    NDP_SF_DISPATCH(NDP_SF_MANY_F64, a, b, c, c, (const double *)0, dst, n, 1.0, step, taps, rows, 1);
}

static ptrdiff_t ndp_sum_rows_many_f32(const float *a, const float *b, const float *c,
                                       const float *init, ptrdiff_t step, float *dst,
                                       ptrdiff_t n, ptrdiff_t taps, int rows, float div,
                                       ptrdiff_t count, ptrdiff_t pitch, ptrdiff_t opitch)
{
    NDP_SF_DISPATCH(NDP_SF_MANY_F32, a, b, c, c, init, dst, n, div, step, taps, rows, 0);
}

static ptrdiff_t ndp_sum_rows_many_f64(const double *a, const double *b, const double *c,
                                       const double *init, ptrdiff_t step, double *dst,
                                       ptrdiff_t n, ptrdiff_t taps, int rows, double div,
                                       ptrdiff_t count, ptrdiff_t pitch, ptrdiff_t opitch)
{
    NDP_SF_DISPATCH(NDP_SF_MANY_F64, a, b, c, c, init, dst, n, div, step, taps, rows, 0);
}

#else /* no SSE2: the scalar spans do everything */

#define NDP_SF_MIN_STEP 1000000

static ptrdiff_t ndp_max_rows_f32(const float *a, const float *b, const float *c,
                                  ptrdiff_t step, float *dst, ptrdiff_t n, ptrdiff_t taps,
                                  int rows)
{ (void)a; (void)b; (void)c; (void)step; (void)dst; (void)n; (void)taps; (void)rows; return 0; }
static ptrdiff_t ndp_max_rows_f64(const double *a, const double *b, const double *c,
                                  ptrdiff_t step, double *dst, ptrdiff_t n, ptrdiff_t taps,
                                  int rows)
{ (void)a; (void)b; (void)c; (void)step; (void)dst; (void)n; (void)taps; (void)rows; return 0; }
static ptrdiff_t ndp_sum_rows_f32(const float *a, const float *b, const float *c,
                                  const float *init, ptrdiff_t step, float *dst, ptrdiff_t n,
                                  ptrdiff_t taps, int rows, float div)
{ (void)a; (void)b; (void)c; (void)init; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)div; return 0; }
static ptrdiff_t ndp_sum_rows_f64(const double *a, const double *b, const double *c,
                                  const double *init, ptrdiff_t step, double *dst, ptrdiff_t n,
                                  ptrdiff_t taps, int rows, double div)
{ (void)a; (void)b; (void)c; (void)init; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)div; return 0; }

static ptrdiff_t ndp_max_rows4_f32(const float *a, const float *b, const float *c,
                                   const float *d, ptrdiff_t step, float *dst, ptrdiff_t n,
                                   ptrdiff_t taps)
{ (void)a; (void)b; (void)c; (void)d; (void)step; (void)dst; (void)n; (void)taps; return 0; }
static ptrdiff_t ndp_max_rows4_f64(const double *a, const double *b, const double *c,
                                   const double *d, ptrdiff_t step, double *dst, ptrdiff_t n,
                                   ptrdiff_t taps)
{ (void)a; (void)b; (void)c; (void)d; (void)step; (void)dst; (void)n; (void)taps; return 0; }

static ptrdiff_t ndp_max_rows_many_f32(const float *a, const float *b, const float *c,
                                       ptrdiff_t step, float *dst, ptrdiff_t n, ptrdiff_t taps,
                                       int rows, ptrdiff_t count, ptrdiff_t pitch,
                                       ptrdiff_t opitch)
{ (void)a; (void)b; (void)c; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)count; (void)pitch; (void)opitch; return 0; }
static ptrdiff_t ndp_max_rows_many_f64(const double *a, const double *b, const double *c,
                                       ptrdiff_t step, double *dst, ptrdiff_t n, ptrdiff_t taps,
                                       int rows, ptrdiff_t count, ptrdiff_t pitch,
                                       ptrdiff_t opitch)
{ (void)a; (void)b; (void)c; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)count; (void)pitch; (void)opitch; return 0; }
static ptrdiff_t ndp_sum_rows_many_f32(const float *a, const float *b, const float *c,
                                       const float *init, ptrdiff_t step, float *dst,
                                       ptrdiff_t n, ptrdiff_t taps, int rows, float div,
                                       ptrdiff_t count, ptrdiff_t pitch, ptrdiff_t opitch)
{ (void)a; (void)b; (void)c; (void)init; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)div; (void)count; (void)pitch; (void)opitch; return 0; }
static ptrdiff_t ndp_sum_rows_many_f64(const double *a, const double *b, const double *c,
                                       const double *init, ptrdiff_t step, double *dst,
                                       ptrdiff_t n, ptrdiff_t taps, int rows, double div,
                                       ptrdiff_t count, ptrdiff_t pitch, ptrdiff_t opitch)
{ (void)a; (void)b; (void)c; (void)init; (void)step; (void)dst; (void)n; (void)taps; (void)rows; (void)div; (void)count; (void)pitch; (void)opitch; return 0; }

#endif

#endif /* NDPOOL_STRIDED_FOLDS_H */
