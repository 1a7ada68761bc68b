/* Cell sums of the stride-1 average gradient with 3 W taps ("same" windows, as in an
 * Inception 3x3/s1/p1 branch): _avg_plane_same in _backward_kernels.pyx.
 *
 * Input cell i of a row receives, from every share row that reaches it (output order:
 * depth, then height), the shares of outputs i - 1, i and i + 1 in turn.  The caller keeps
 * each share row with a zero on either side (row[0] and row[W + 1]), so cell i reads
 * row[i], row[i + 1], row[i + 2] whatever i: the zero that stands for a missing output
 * leaves the bits alone, because the sum starts from +0.0 and so is never -0.0, and
 * x + 0.0 is x for every other x (NaN payloads and infinities included).
 *
 * ndp_share_rows_f32(rows, nrows, pitch, dst, n, m): for m input rows q, each of n cells,
 * dst[q * n + i] = 0 + s[0][i] + s[0][i + 1] + s[0][i + 2] + s[1][i] + ... in that order
 * (torch's scatter order, bit for bit), where s[r] = rows[r] + q * pitch: the rows of a
 * run that the same share rows reach, one row further on for each.  Vectors of cells
 * (256-bit in the AVX2 build, 128-bit ones for shorter rows and in the baseline); where
 * n is not a whole number of vectors the last one overlaps the one before it (the same
 * values, written twice) instead of leaving a scalar tail.  _f64 for doubles.
 */
#ifndef NDPOOL_SHARE_ROWS_H
#define NDPOOL_SHARE_ROWS_H

#include <stddef.h>
#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* Cell by cell (rows too short for a vector, or no x86 vectors). */
#define NDP_SR_SCALAR(T)                                                    \
    for (ptrdiff_t q = 0; q < m; q++)                                      \
        for (ptrdiff_t i = 0; i < n; i++) {                                \
            T acc = 0;                                                     \
            for (int r = 0; r < nrows; r++) {                              \
                const T *p = rows[r] + q * pitch + i;                      \
                acc = acc + p[0];                                          \
                acc = acc + p[1];                                          \
                acc = acc + p[2];                                          \
            }                                                              \
            dst[q * n + i] = acc;                                          \
        }

/* A vector of L cells at a time (n >= L), each row's last one ending at its last cell.
 * The steps share no registers, so the core runs several of their add chains at once. */
#define NDP_SR_VECTORS(T, V, L, LOAD, ADD, STORE, ZERO)                             \
    for (ptrdiff_t q = 0; q < m; q++)                                              \
        for (ptrdiff_t i = 0; i < n; i += L) {                                     \
            const ptrdiff_t c = i + L <= n ? i : n - L, s = q * pitch + c;         \
            V acc = ZERO();                                                        \
            for (int r = 0; r < nrows; r++) {                                      \
                const T *p = rows[r] + s;                                          \
                acc = ADD(acc, LOAD(p));                                           \
                acc = ADD(acc, LOAD(p + 1));                                       \
                acc = ADD(acc, LOAD(p + 2));                                       \
            }                                                                      \
            STORE(dst + q * n + c, acc);                                           \
        }

static void ndp_share_rows_f32(const float *const *rows, int nrows, ptrdiff_t pitch,
                               float *dst, ptrdiff_t n, ptrdiff_t m)
{
#if defined(__AVX__)
    if (n >= 8) {
        NDP_SR_VECTORS(float, __m256, 8, _mm256_loadu_ps, _mm256_add_ps, _mm256_storeu_ps,
                       _mm256_setzero_ps)
        return;
    }
#endif
#if defined(__SSE2__)
    if (n >= 4) {
        NDP_SR_VECTORS(float, __m128, 4, _mm_loadu_ps, _mm_add_ps, _mm_storeu_ps,
                       _mm_setzero_ps)
        return;
    }
#endif
    NDP_SR_SCALAR(float)
}

static void ndp_share_rows_f64(const double *const *rows, int nrows, ptrdiff_t pitch,
                               double *dst, ptrdiff_t n, ptrdiff_t m)
{
#if defined(__AVX__)
    if (n >= 4) {
        NDP_SR_VECTORS(double, __m256d, 4, _mm256_loadu_pd, _mm256_add_pd, _mm256_storeu_pd,
                       _mm256_setzero_pd)
        return;
    }
#endif
#if defined(__SSE2__)
    if (n >= 2) {
        NDP_SR_VECTORS(double, __m128d, 2, _mm_loadu_pd, _mm_add_pd, _mm_storeu_pd,
                       _mm_setzero_pd)
        return;
    }
#endif
    NDP_SR_SCALAR(double)
}

#endif /* NDPOOL_SHARE_ROWS_H */
