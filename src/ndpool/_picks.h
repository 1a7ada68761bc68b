/* Max backward cells written once: each cell 0 + the share of the one output whose
 * index hits it (or +0), for calls where a cell can receive at most one share.  Adding
 * the share to zero is what the scatter does to a zeroed cell (and turns a -0 share
 * into +0, as there).  In blocks 2 to 4 cells wide, shares are masked by their bits, not
 * chosen by a branch: the loops vectorise, and a branch on a random match mispredicts.
 */
#ifndef NDPOOL_PICKS_H
#define NDPOOL_PICKS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Channels-last: op[c] = 0 + (gp[c] if ip[c] == cell else +0) for c < nc; returns how
   many matched.  T is the float type, U the unsigned integer of its width, H a counter
   of that width (keeps the count in the vector lanes). */
#define NDPOOL_PICK(name, T, U, H)                                                      \
static inline ptrdiff_t name(const T* gp, const int64_t* ip, int64_t cell, T* op,       \
                             ptrdiff_t nc) {                                            \
    const U* gb = (const U*)gp;                                                         \
    H hits = 0;                                                                         \
    for (ptrdiff_t c = 0; c < nc; c++) {                                                \
        U m = -(U)(ip[c] == cell);                                                      \
        U b = gb[c] & m;                                                                \
        T v;                                                                            \
        memcpy(&v, &b, sizeof v);                                                       \
        op[c] = (T)0 + v;                                                               \
        hits += (H)(m & 1u);                                                            \
    }                                                                                   \
    return hits;                                                                        \
}
NDPOOL_PICK(ndpool_pick_f32, float, uint32_t, int)
NDPOOL_PICK(ndpool_pick_f64, double, uint64_t, int64_t)

/* The same for float32 with the indices narrowed once per output, where one output's
   indices are tested against several cells (a channels-last block's, row by row):
   ndpool_offsets sets off[c] = ip[c] - base, or -1 (no cell) where that is negative or
   does not fit in 31 bits; ndpool_pick32_f32 then compares 32-bit offsets, eight
   channels a vector, where the int64 compare and its narrowing cost more than the pick. */
static inline void ndpool_offsets(const int64_t* ip, int64_t base, int32_t* off,
                                  ptrdiff_t nc) {
    for (ptrdiff_t c = 0; c < nc; c++) {
        uint64_t d = (uint64_t)ip[c] - (uint64_t)base;
        off[c] = d < ((uint64_t)1 << 31) ? (int32_t)d : -1;
    }
}
static inline ptrdiff_t ndpool_pick32_f32(const float* gp, const int32_t* off, int32_t cell,
                                          float* op, ptrdiff_t nc) {
    const uint32_t* gb = (const uint32_t*)gp;
    int hits = 0;
    for (ptrdiff_t c = 0; c < nc; c++) {
        uint32_t m = -(uint32_t)(off[c] == cell);
        uint32_t b = gb[c] & m;
        float v;
        memcpy(&v, &b, sizeof v);
        op[c] = 0.0f + v;
        hits += (int)(m & 1u);
    }
    return hits;
}

/* The channels-first form, along a row of blocks of bw cells: dst[k * bw + e] =
   0 + (g[k] if idx[k] == base + k * bw + e else +0) for k < n, e < bw; returns how
   many idx[k] hit their block.  Widths 2 to 4 (2x2, 3x3/s3, 4x4/s4 pools) each have
   their own loop with a constant width: with a variable one clang kept the cells'
   loop (max 4x4/s4 backward 0.2-0.36x of gcc's code). */
#define NDPOOL_PICK_CELLS(T, U, H, BW)                                                  \
    for (ptrdiff_t k = 0; k < n; k++) {                                                 \
        uint64_t j = (uint64_t)(idx[k] - base - (BW) * k);                              \
        U b;                                                                            \
        memcpy(&b, g + k, sizeof b);                                                    \
        for (ptrdiff_t e = 0; e < (BW); e++) {                                          \
            U be = b & -(U)(j == (uint64_t)e);                                          \
            T v;                                                                        \
            memcpy(&v, &be, sizeof v);                                                  \
            dst[k * (BW) + e] = (T)0 + v;                                               \
        }                                                                               \
        hits += (H)(j < (uint64_t)(BW));                                                \
    }                                                                                   \
    return hits;
/* Wider blocks: the row zeroed at once (+0, the bits of 0 + +0), then each hit cell
   written alone, so that the work per output no longer grows with bw.  A masked loop of
   a variable width stayed scalar under clang (adaptive max 56 -> 7 backward, 8-cell
   blocks: 0.33-0.37x of gcc's code). */
#define NDPOOL_PICK_HITS(T)                                                             \
    memset(dst, 0, (size_t)(n * bw) * sizeof(T));                                       \
    for (ptrdiff_t k = 0; k < n; k++) {                                                 \
        uint64_t j = (uint64_t)(idx[k] - base - bw * k);                                \
        if (j < (uint64_t)bw) {                                                         \
            dst[k * bw + (ptrdiff_t)j] = (T)0 + g[k];                                   \
            hits++;                                                                     \
        }                                                                               \
    }                                                                                   \
    return hits;
#define NDPOOL_PICK_ROW(name, T, U, H)                                                  \
static inline ptrdiff_t name(const T* g, const int64_t* idx, ptrdiff_t n,               \
                             int64_t base, ptrdiff_t bw, T* dst) {                      \
    H hits = 0;                                                                         \
    if (bw == 2) { NDPOOL_PICK_CELLS(T, U, H, 2) }                                      \
    if (bw == 3) { NDPOOL_PICK_CELLS(T, U, H, 3) }                                      \
    if (bw == 4) { NDPOOL_PICK_CELLS(T, U, H, 4) }                                      \
    NDPOOL_PICK_HITS(T)                                                                 \
}
NDPOOL_PICK_ROW(ndpool_pick_row_any_f32, float, uint32_t, ptrdiff_t)
NDPOOL_PICK_ROW(ndpool_pick_row_any_f64, double, uint64_t, ptrdiff_t)
/* With AVX2, bw == 2 four outputs at a time in explicit vectors: GCC's own version of
   the loop above shuffled its int64 masks into float lanes at three times the
   instructions.  Each output's two masks (64-bit, from idx - cell == 0 or 1) become
   the 32-bit (float) or 64-bit (double) lanes of its two cells, and its value is
   repeated into both. */
#if defined(__AVX2__)
#include <immintrin.h>
/* Four outputs' cells 2k and 2k + 1 from their masks m0 and m1 (64-bit lanes). */
static inline void ndpool_pairs_f32(__m256i m0, __m256i m1, const float* g, float* dst) {
    const __m256i twice = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    __m256 m = _mm256_castsi256_ps(_mm256_blend_epi32(m0, m1, 0xAA));
    __m256 v = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(g)), twice);
    _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_setzero_ps(), _mm256_and_ps(m, v)));
}
static inline void ndpool_pairs_f64(__m256i m0, __m256i m1, const double* g, double* dst) {
    __m256i lo = _mm256_unpacklo_epi64(m0, m1), hi = _mm256_unpackhi_epi64(m0, m1);
    __m256d v = _mm256_loadu_pd(g);
    __m256d a = _mm256_and_pd(_mm256_castsi256_pd(_mm256_permute2x128_si256(lo, hi, 0x20)),
                              _mm256_permute4x64_pd(v, 0x50));
    __m256d b = _mm256_and_pd(_mm256_castsi256_pd(_mm256_permute2x128_si256(lo, hi, 0x31)),
                              _mm256_permute4x64_pd(v, 0xFA));
    _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_setzero_pd(), a));
    _mm256_storeu_pd(dst + 4, _mm256_add_pd(_mm256_setzero_pd(), b));
}
#define NDPOOL_PICK_ROW_AVX2(name, T, any, pairs)                                       \
static inline ptrdiff_t name(const T* g, const int64_t* idx, ptrdiff_t n,               \
                             int64_t base, ptrdiff_t bw, T* dst) {                      \
    ptrdiff_t k = 0;                                                                    \
    int64_t h[4];                                                                       \
    __m256i hits = _mm256_setzero_si256();                                              \
    if (bw == 2) {                                                                      \
        const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256();       \
        __m256i cell = _mm256_add_epi64(_mm256_set1_epi64x(base),                       \
                                        _mm256_setr_epi64x(0, 2, 4, 6));                \
        for (; k + 4 <= n; k += 4) {                                                    \
            __m256i j = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i*)(idx + k)), \
                                         cell);                                         \
            __m256i m0 = _mm256_cmpeq_epi64(j, zero), m1 = _mm256_cmpeq_epi64(j, one);  \
            pairs(m0, m1, g + k, dst + 2 * k);                                          \
            hits = _mm256_sub_epi64(hits, _mm256_or_si256(m0, m1));                     \
            cell = _mm256_add_epi64(cell, _mm256_set1_epi64x(8));                       \
        }                                                                               \
    }                                                                                   \
    _mm256_storeu_si256((__m256i*)h, hits);                                             \
    return h[0] + h[1] + h[2] + h[3]                                                    \
           + any(g + k, idx + k, n - k, base + bw * k, bw, dst + bw * k);               \
}
NDPOOL_PICK_ROW_AVX2(ndpool_pick_row_f32, float, ndpool_pick_row_any_f32, ndpool_pairs_f32)
NDPOOL_PICK_ROW_AVX2(ndpool_pick_row_f64, double, ndpool_pick_row_any_f64, ndpool_pairs_f64)
#else
#define ndpool_pick_row_f32 ndpool_pick_row_any_f32
#define ndpool_pick_row_f64 ndpool_pick_row_any_f64
#endif

#endif
