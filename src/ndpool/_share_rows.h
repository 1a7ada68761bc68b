/* Cell sums of stride-1 average gradients, gathered from rows of shares (_avg_plane_same
 * and _avg_block_gather in _backward_kernels.pyx).
 *
 * With stride 1 an input cell receives, in output order (depth, height, then width), the
 * shares of the outputs whose windows hold it: from each output row that reaches it,
 * those of the kw outputs next to it.  The callers keep each row of shares with zeros
 * standing in for the outputs past either end, so that every cell reads kw taps whatever
 * its position: a zero leaves the bits alone, because the sum starts from +0.0 and so is
 * never -0.0, and x + 0.0 is x for every other x (NaN payloads and infinities included).
 *
 * ndp_share_rows_f32(rows, nrows, taps, tstep, pitch, dst, dstep, n, m): for q < m and
 * i < n, dst[q * dstep + i] = 0 + the values rows[r][q * pitch + t * tstep + i] for r <
 * nrows, t < taps, in that order (torch's scatter order, bit for bit).  Channels-first,
 * i runs along a row of cells (tstep 1) and q over a run of rows; channels-last, i runs
 * along a pixel's channels (tstep: the channels of a pixel) and q over a row's pixels.
 * Vectors along i (256-bit in the AVX2 build, 128-bit ones for short spans and in the
 * baseline); where n is not a whole number of vectors the last one overlaps the one
 * before it (the same values, written twice) instead of leaving a scalar tail.  _f64
 * for doubles.
 */
#ifndef NDPOOL_SHARE_ROWS_H
#define NDPOOL_SHARE_ROWS_H

#include <stddef.h>
#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* One value of dst: 0, then every row's taps in order. */
#define NDP_SR_CELL(T, i)                                                   \
    {                                                                      \
        T acc = 0;                                                         \
        for (int r = 0; r < nrows; r++)                                    \
            for (int t = 0; t < taps; t++)                                 \
                acc = acc + rows[r][q * pitch + t * tstep + (i)];          \
        dst[q * dstep + (i)] = acc;                                        \
    }

/* Vectors of L values of a span (n >= L), the last one ending at the span's end, for
 * spans q0 .. m - 1.  The steps share no registers, so the core runs several of their add
 * chains at once. */
#define NDP_SR_VECTORS(T, V, L, NR, TAPS, TS, LOAD, ADD, STORE, ZERO, q0)           \
    for (ptrdiff_t q = q0; q < m; q++)                                             \
        for (ptrdiff_t i = 0; i < n; i += L) {                                     \
            const ptrdiff_t c = i + L <= n ? i : n - L, s = q * pitch + c;         \
            V acc = ZERO();                                                        \
            for (int r = 0; r < NR; r++)                                           \
                for (int t = 0; t < TAPS; t++)                                     \
                    acc = ADD(acc, LOAD(rows[r] + s + t * (TS)));                  \
            STORE(dst + q * dstep + c, acc);                                       \
        }

/* Channels-last (pitch == tstep): the taps of span q + 1 are those of span q moved on by
 * one, so two spans at a time load TAPS + 1 vectors a row instead of 2 * TAPS.  Leaves
 * an odd last span to NDP_SR_VECTORS. */
#define NDP_SR_PAIRS(T, V, L, NR, TAPS, LOAD, ADD, STORE, ZERO)                     \
    for (ptrdiff_t q = 0; q + 1 < m; q += 2)                                       \
        for (ptrdiff_t i = 0; i < n; i += L) {                                     \
            const ptrdiff_t c = i + L <= n ? i : n - L, s = q * pitch + c;         \
            V acc0 = ZERO(), acc1 = acc0, v[TAPS + 1];                             \
            for (int r = 0; r < NR; r++) {                                         \
                for (int t = 0; t <= TAPS; t++)                                    \
                    v[t] = LOAD(rows[r] + s + t * tstep);                          \
                for (int t = 0; t < TAPS; t++) {                                   \
                    acc0 = ADD(acc0, v[t]);                                        \
                    acc1 = ADD(acc1, v[t + 1]);                                    \
                }                                                                  \
            }                                                                      \
            STORE(dst + q * dstep + c, acc0);                                      \
            STORE(dst + (q + 1) * dstep + c, acc1);                                \
        }

/* Channels-last spans two at a time, then an odd last one. */
#define NDP_SR_CL(T, V, L, NR, TAPS, LOAD, ADD, STORE, ZERO)                        \
    NDP_SR_PAIRS(T, V, L, NR, TAPS, LOAD, ADD, STORE, ZERO)                        \
    NDP_SR_VECTORS(T, V, L, NR, TAPS, tstep, LOAD, ADD, STORE, ZERO, m - m % 2)

/* The tap count a constant (so that its loops unroll) for 2 and 3, and channels-last the
 * row count too for 2x2, 3x3 and 3x3x3 windows (2, 3 and 9 rows; channels-first, 9 rows
 * unrolled ran 0.95x). */
#define NDP_SR_DISPATCH(T, V, L, LOAD, ADD, STORE, ZERO)                            \
    if (n >= L && pitch == tstep) {                                                \
        if (taps == 3 && nrows == 3) {                                             \
            NDP_SR_CL(T, V, L, 3, 3, LOAD, ADD, STORE, ZERO)                       \
        } else if (taps == 3 && nrows == 9) {                                      \
            NDP_SR_CL(T, V, L, 9, 3, LOAD, ADD, STORE, ZERO)                       \
        } else if (taps == 3) {                                                    \
            NDP_SR_CL(T, V, L, nrows, 3, LOAD, ADD, STORE, ZERO)                   \
        } else if (taps == 2 && nrows == 2) {                                      \
            NDP_SR_CL(T, V, L, 2, 2, LOAD, ADD, STORE, ZERO)                       \
        } else if (taps == 2) {                                                    \
            NDP_SR_CL(T, V, L, nrows, 2, LOAD, ADD, STORE, ZERO)                   \
        } else {                                                                   \
            NDP_SR_VECTORS(T, V, L, nrows, taps, tstep, LOAD, ADD, STORE, ZERO, 0) \
        }                                                                          \
        return;                                                                    \
    }                                                                              \
    if (n >= L) {                                                                  \
        if (taps == 3 && tstep == 1) {                                             \
            NDP_SR_VECTORS(T, V, L, nrows, 3, 1, LOAD, ADD, STORE, ZERO, 0)        \
        } else {                                                                   \
            NDP_SR_VECTORS(T, V, L, nrows, taps, tstep, LOAD, ADD, STORE, ZERO, 0) \
        }                                                                          \
        return;                                                                    \
    }

static void ndp_share_rows_f32(const float *const *rows, int nrows, int taps, ptrdiff_t tstep,
                               ptrdiff_t pitch, float *dst, ptrdiff_t dstep, ptrdiff_t n,
                               ptrdiff_t m)
{
#if defined(__AVX__)
    NDP_SR_DISPATCH(float, __m256, 8, _mm256_loadu_ps, _mm256_add_ps, _mm256_storeu_ps,
                    _mm256_setzero_ps)
#endif
#if defined(__SSE2__)
    NDP_SR_DISPATCH(float, __m128, 4, _mm_loadu_ps, _mm_add_ps, _mm_storeu_ps, _mm_setzero_ps)
#endif
    for (ptrdiff_t q = 0; q < m; q++)
        for (ptrdiff_t i = 0; i < n; i++)
            NDP_SR_CELL(float, i)
}

static void ndp_share_rows_f64(const double *const *rows, int nrows, int taps,
                               ptrdiff_t tstep, ptrdiff_t pitch, double *dst, ptrdiff_t dstep,
                               ptrdiff_t n, ptrdiff_t m)
{
#if defined(__AVX__)
    NDP_SR_DISPATCH(double, __m256d, 4, _mm256_loadu_pd, _mm256_add_pd, _mm256_storeu_pd,
                    _mm256_setzero_pd)
#endif
#if defined(__SSE2__)
    NDP_SR_DISPATCH(double, __m128d, 2, _mm_loadu_pd, _mm_add_pd, _mm_storeu_pd,
                    _mm_setzero_pd)
#endif
    for (ptrdiff_t q = 0; q < m; q++)
        for (ptrdiff_t i = 0; i < n; i++)
            NDP_SR_CELL(double, i)
}

#endif /* NDPOOL_SHARE_ROWS_H */
