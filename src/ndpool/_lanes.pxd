# Small channels-first planes as the channels of a channels-last tile on the stack, so
# that the channels-last kernels (vectors along the channels) serve planes too small for
# vectors of their own: a 7x7 map has rows of 7 outputs, each a short chain.  Lane k of
# the tile is plane u0 + k; the kernels treat every lane alike, so each plane gets the
# operations, and so the bits, that the channels-last kernels give a channel.

from ndpool._common cimport pool_t, real_t
from ndpool._spans cimport max_update


cdef inline void lanes_in(const pool_t* base, Py_ssize_t sN, Py_ssize_t sC, Py_ssize_t sD,
                          Py_ssize_t sH, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H,
                          Py_ssize_t W, Py_ssize_t u0, Py_ssize_t m,
                          pool_t* tile) noexcept nogil:
    """Planes u0 .. u0 + m - 1 (m <= 8; plane u is sample u // C, channel u % C; unit W
    stride) side by side as the 8 channels of a tile of D * H * W cells; lanes past m
    repeat the last plane."""
    cdef Py_ssize_t k, u, q, d, h, w
    cdef const pool_t* src
    cdef const pool_t* rows[8]
    if pool_t is float:  # row by row through register transposes
        for k in range(8):
            u = u0 + (k if k < m else m - 1)
            rows[k] = base + u // C * sN + u % C * sC
        if (H == 1 or sH == W) and (D == 1 or sD == H * W):
            # Contiguous planes: one run, so that only its last few cells (not every row's)
            # go one at a time.
            ndp_lanes_in_f32(rows, D * H * W, tile)
            return
        q = 0
        for d in range(D):
            for h in range(H):
                ndp_lanes_in_f32(rows, W, tile + q * 8)
                for k in range(8):
                    rows[k] += sH
                q += W
            for k in range(8):
                rows[k] += sD - H * sH
        return
    for k in range(8):
        u = u0 + (k if k < m else m - 1)
        src = base + u // C * sN + u % C * sC
        q = 0
        for d in range(D):
            for h in range(H):
                for w in range(W):
                    tile[q * 8 + k] = src[d * sD + h * sH + w]
                    q += 1


cdef inline void lanes_out(const pool_t* tile, pool_t* out, Py_ssize_t u0, Py_ssize_t m,
                           Py_ssize_t P) noexcept nogil:
    """The first m channels of a tile of P cells into the contiguous planes u0 .. u0 + m - 1
    of out (P cells apart)."""
    cdef Py_ssize_t k, p
    cdef pool_t* dst
    cdef pool_t* rows[8]
    if pool_t is float:
        for k in range(m):
            rows[k] = out + (u0 + k) * P
        ndp_lanes_out_f32(tile, rows, P, <int>m)
        return
    for k in range(m):
        dst = out + (u0 + k) * P
        for p in range(P):
            dst[p] = tile[p * 8 + k]


cdef extern from * nogil:
    """
    #include <stddef.h>
    #include "_max_steps.h"  /* torch's vector max steps, ndp_maxup*_f32/f64 */
    #if defined(__AVX__)
    /* The 8x8 transpose of r[0..7] in place: r[j] lane k <- r[k] lane j. */
    static inline void ndp_transpose8_f32(__m256 *r)
    {
        __m256 t[8], u[8];
        for (int k = 0; k < 8; k += 2) {
            t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
            t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
        }
        for (int k = 0; k < 8; k += 4) {
            u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
            u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
            u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
            u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int k = 0; k < 4; k++) {
            r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
            r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
        }
    }
    #endif

    /* tile[i * 8 + k] = src[k][i] for i < n, k < 8: 8 rows into a tile's lanes, eight
     * cells at a time through a register transpose. */
    static inline void ndp_lanes_in_f32(const float *const *src, ptrdiff_t n, float *tile)
    {
        ptrdiff_t i = 0;
    #if defined(__AVX__)
        for (; i + 8 <= n; i += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_loadu_ps(src[k] + i);
            ndp_transpose8_f32(r);
            for (int k = 0; k < 8; k++)
                _mm256_storeu_ps(tile + (i + k) * 8, r[k]);
        }
    #endif
        for (; i < n; i++)
            for (int k = 0; k < 8; k++)
                tile[i * 8 + k] = src[k][i];
    }

    /* dst[k][i] = tile[i * 8 + k] for i < n, k < m (m <= 8): a tile's lanes into rows. */
    static inline void ndp_lanes_out_f32(const float *tile, float *const *dst, ptrdiff_t n,
                                         int m)
    {
        ptrdiff_t i = 0;
    #if defined(__AVX__)
        if (m == 8)
            for (; i + 8 <= n; i += 8) {
                __m256 r[8];
                for (int k = 0; k < 8; k++)
                    r[k] = _mm256_loadu_ps(tile + (i + k) * 8);
                ndp_transpose8_f32(r);
                for (int k = 0; k < 8; k++)
                    _mm256_storeu_ps(dst[k] + i, r[k]);
            }
    #endif
        for (; i < n; i++)
            for (int k = 0; k < m; k++)
                dst[k][i] = tile[i * 8 + k];
    }

    /* The 8 lanes of acc plus src[i * step + k], i < n, in turn (lane k). */
    static inline void ndp_lanes_sum_f32(const float *src, ptrdiff_t step, ptrdiff_t n,
                                         float *acc)
    {
    #if defined(__AVX__)
        __m256 a = _mm256_loadu_ps(acc);
        for (ptrdiff_t i = 0; i < n; i++)
            a = _mm256_add_ps(a, _mm256_loadu_ps(src + i * step));
        _mm256_storeu_ps(acc, a);
    #else
        for (int k = 0; k < 8; k++)
            for (ptrdiff_t i = 0; i < n; i++)
                acc[k] = acc[k] + src[i * step + k];
    #endif
    }

    static inline void ndp_lanes_sum_f64(const double *src, ptrdiff_t step, ptrdiff_t n,
                                         double *acc)
    {
    #if defined(__AVX__)
        __m256d a = _mm256_loadu_pd(acc), b = _mm256_loadu_pd(acc + 4);
        for (ptrdiff_t i = 0; i < n; i++) {
            a = _mm256_add_pd(a, _mm256_loadu_pd(src + i * step));
            b = _mm256_add_pd(b, _mm256_loadu_pd(src + i * step + 4));
        }
        _mm256_storeu_pd(acc, a);
        _mm256_storeu_pd(acc + 4, b);
    #else
        for (int k = 0; k < 8; k++)
            for (ptrdiff_t i = 0; i < n; i++)
                acc[k] = acc[k] + src[i * step + k];
    #endif
    }

    /* The 8 lanes of acc divided by k as the kernels' _divide does: by nothing for 1, a
     * multiplication by the exact 1 / k for powers of two, else a division. */
    static inline void ndp_lanes_divide_f32(float *acc, ptrdiff_t k)
    {
        if (k == 1)
            return;
    #if defined(__AVX__)
        __m256 a = _mm256_loadu_ps(acc);
        if ((k & (k - 1)) == 0)
            a = _mm256_mul_ps(a, _mm256_set1_ps(1.0f / (float)k));
        else
            a = _mm256_div_ps(a, _mm256_set1_ps((float)k));
        _mm256_storeu_ps(acc, a);
    #else
        for (int j = 0; j < 8; j++)
            acc[j] = (k & (k - 1)) == 0 ? acc[j] * (1.0f / (float)k) : acc[j] / (float)k;
    #endif
    }

    static inline void ndp_lanes_divide_f64(double *acc, ptrdiff_t k)
    {
        if (k == 1)
            return;
    #if defined(__AVX__)
        __m256d a = _mm256_loadu_pd(acc), b = _mm256_loadu_pd(acc + 4);
        if ((k & (k - 1)) == 0) {
            __m256d f = _mm256_set1_pd(1.0 / (double)k);
            a = _mm256_mul_pd(a, f);
            b = _mm256_mul_pd(b, f);
        } else {
            __m256d f = _mm256_set1_pd((double)k);
            a = _mm256_div_pd(a, f);
            b = _mm256_div_pd(b, f);
        }
        _mm256_storeu_pd(acc, a);
        _mm256_storeu_pd(acc + 4, b);
    #else
        for (int j = 0; j < 8; j++)
            acc[j] = (k & (k - 1)) == 0 ? acc[j] * (1.0 / (double)k) : acc[j] / (double)k;
    #endif
    }

    /* The 8 lanes of acc folded with torch's max step (_max_steps.h's ndp_maxup*)
     * over v = src[i * step + k], i < n, lane k: K vectors of LL lanes side by side. */
    #define NDP_LANES_MAX(T, V, LL, LOAD, STORE, MAXUP)                        \
        {                                                                  \
            V a[8 / LL];                                                   \
            for (int j = 0; j < 8 / LL; j++)                               \
                a[j] = LOAD(acc + j * LL);                                 \
            for (ptrdiff_t i = 0; i < n; i++)                              \
                for (int j = 0; j < 8 / LL; j++)                           \
                    a[j] = MAXUP(a[j], LOAD(src + i * step + j * LL));     \
            for (int j = 0; j < 8 / LL; j++)                               \
                STORE(acc + j * LL, a[j]);                                 \
        }
    #define NDP_LANES_MAX_SCALAR(T)                                        \
        for (int k = 0; k < 8; k++)                                        \
            for (ptrdiff_t i = 0; i < n; i++) {                            \
                const T v = src[i * step + k];                             \
                acc[k] = (v > acc[k] || v != v) ? v : acc[k];              \
            }

    static inline void ndp_lanes_max_f32(const float *src, ptrdiff_t step, ptrdiff_t n,
                                         float *acc)
    {
    #if defined(__AVX2__)
        NDP_LANES_MAX(float, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, ndp_maxup8_f32)
    #elif defined(__SSE2__)
        NDP_LANES_MAX(float, __m128, 4, _mm_loadu_ps, _mm_storeu_ps, ndp_maxup_f32)
    #else
        NDP_LANES_MAX_SCALAR(float)
    #endif
    }

    static inline void ndp_lanes_max_f64(const double *src, ptrdiff_t step, ptrdiff_t n,
                                         double *acc)
    {
    #if defined(__AVX2__)
        NDP_LANES_MAX(double, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, ndp_maxup4_f64)
    #elif defined(__SSE2__)
        NDP_LANES_MAX(double, __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, ndp_maxup_f64)
    #else
        NDP_LANES_MAX_SCALAR(double)
    #endif
    }
    """
    void ndp_lanes_in_f32(const float* const* src, Py_ssize_t n, float* tile)
    void ndp_lanes_out_f32(const float* tile, float* const* dst, Py_ssize_t n, int m)
    void ndp_lanes_sum_f32(const float* src, Py_ssize_t step, Py_ssize_t n, float* acc)
    void ndp_lanes_sum_f64(const double* src, Py_ssize_t step, Py_ssize_t n, double* acc)
    void ndp_lanes_divide_f32(float* acc, Py_ssize_t k)
    void ndp_lanes_divide_f64(double* acc, Py_ssize_t k)
    void ndp_lanes_max_f32(const float* src, Py_ssize_t step, Py_ssize_t n, float* acc)
    void ndp_lanes_max_f64(const double* src, Py_ssize_t step, Py_ssize_t n, double* acc)


cdef inline void lanes_max(const pool_t* src, Py_ssize_t step, Py_ssize_t n,
                           pool_t* acc) noexcept nogil:
    """acc[k] = max_update(acc[k], src[i * step + k]) for i < n in turn, k < 8."""
    cdef Py_ssize_t i, k
    if pool_t is float:
        ndp_lanes_max_f32(src, step, n, acc)
    elif pool_t is double:
        ndp_lanes_max_f64(src, step, n, acc)
    else:
        for i in range(n):
            for k in range(8):
                acc[k] = max_update(acc[k], src[i * step + k])


cdef inline void lanes_sum(const real_t* src, Py_ssize_t step, Py_ssize_t n,
                           real_t* acc) noexcept nogil:
    """acc[k] = acc[k] + src[i * step + k] for i < n in turn, k < 8."""
    if real_t is float:
        ndp_lanes_sum_f32(src, step, n, acc)
    else:
        ndp_lanes_sum_f64(src, step, n, acc)


cdef inline void lanes_divide(real_t* acc, Py_ssize_t k) noexcept nogil:
    """acc[k] = _divide(acc[k], k) for the 8 lanes (the adaptive kernels' division)."""
    if real_t is float:
        ndp_lanes_divide_f32(acc, k)
    else:
        ndp_lanes_divide_f64(acc, k)
