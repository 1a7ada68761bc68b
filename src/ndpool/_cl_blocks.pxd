# Channels-last blocks: one run of channels of an output pixel, folded over every window
# tap (nd x nh x nw taps, sD/sH/sW elements apart, in scan order d, h, w) with the running
# maxima or sums in a fixed-size local array.  Its fixed length lets gcc keep the array in
# vector registers across all taps: one load per element and tap, where a span per tap
# (_spans.pxd) also loads and stores the output at every tap.  clang kept it in memory, so
# float and double blocks (maxima, and sums of their own type) run as explicit vector steps
# in _max_steps.h; the Cython loops here are the rest (integers, mixed types, no SSE2).
# Each channel still sees its taps in the same order, so the results are those of the span
# loops, bit for bit.
#
# A block is CL_BLOCK_BYTES of running values: 8 AVX2 registers (16 SSE2 ones, about all
# there are).  Blocks pay where a pixel's window is small enough to stay in L1 while its
# blocks walk it (cl_blocks_pay); a huge window (global pooling) is better read tap by tap,
# each tap's channels in one contiguous sweep that the prefetchers follow.  Averages in
# blocks once measured slower (0.6-1.0x) while every pixel was its own work item; with a
# row of pixels per item (_kernels.pyx) they beat the tap-major spans (DenseNet's 2x2/s2,
# 1.2-2x on one thread).

from ndpool._common cimport lowest_value, pool_t, real_t

cdef extern from "_max_steps.h" nogil:
    # max_window_block for float and double in explicit vector steps; 0 without SSE2.
    int ndp_max_block_f32(const float* src, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                          Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, float* dst)
    int ndp_max_block_f64(const double* src, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                          Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, double* dst)
    # sum_window_block for float and double sums of the same type; 0 without SSE2.
    int ndp_sum_block_f32(const float* src, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                          Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, float div,
                          int by_inverse, float* dst)
    int ndp_sum_block_f64(const double* src, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                          Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, double div,
                          int by_inverse, double* dst)

cdef enum:
    CL_BLOCK_BYTES = 256
    CL_WINDOW_BYTES = 16 * 1024  # the largest window (taps x channels) walked in blocks


cdef inline Py_ssize_t cl_block_len(size_t itemsize) noexcept nogil:
    """Channels per block for running values of itemsize bytes."""
    return <Py_ssize_t>(CL_BLOCK_BYTES / itemsize)


cdef inline bint cl_blocks_pay(Py_ssize_t taps, Py_ssize_t C, size_t itemsize) noexcept nogil:
    """Whether a pixel's window of `taps` taps of C channels is walked in blocks."""
    return C >= <Py_ssize_t>(CL_BLOCK_BYTES / itemsize) and taps * C * <Py_ssize_t>itemsize <= CL_WINDOW_BYTES


cdef inline pool_t _fold(pool_t m, pool_t v) noexcept nogil:
    """torch's max step (strictly greater wins, any NaN wins) as two selects: a plain max
    (one max instruction: v > m ? v : m) then the NaN test, one operation fewer per tap
    than a select on the combined condition."""
    m = v if v > m else m
    if pool_t is float or pool_t is double:
        m = v if v != v else m
    return m


cdef inline void max_window_block(const pool_t* src, Py_ssize_t sD, Py_ssize_t sH,
                                  Py_ssize_t sW, Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw,
                                  pool_t* dst) noexcept nogil:
    """dst[c] = the max_span fold of every tap, from lowest_value, for
    c < cl_block_len(sizeof(pool_t)): torch's first maximum, last NaN.  The last tap is
    folded straight into dst: a plain copy of the array would become a memcpy through the
    stack that reloads halves of vector stores, and stalls."""
    cdef pool_t acc[CL_BLOCK_BYTES]
    cdef Py_ssize_t kd, kh, kw, c, n
    cdef const pool_t* pd
    cdef const pool_t* ph
    cdef const pool_t* p
    cdef pool_t lowest = lowest_value(<pool_t>0)
    # Floats in explicit vector steps (_max_steps.h): gcc 13 vectorised _fold into a
    # longer mask sequence (global channels-last maxima 0.6x).
    if pool_t is float:
        if ndp_max_block_f32(src, sD, sH, sW, nd, nh, nw, dst):
            return
    elif pool_t is double:
        if ndp_max_block_f64(src, sD, sH, sW, nd, nh, nw, dst):
            return
    if nd <= 0 or nh <= 0 or nw <= 0:
        for c in range(cl_block_len(sizeof(pool_t))):
            dst[c] = lowest
        return
    for c in range(cl_block_len(sizeof(pool_t))):
        acc[c] = lowest
    for kd in range(nd):
        pd = src + kd * sD
        for kh in range(nh):
            ph = pd + kh * sH
            n = nw - 1 if (kd == nd - 1 and kh == nh - 1) else nw
            for kw in range(n):
                p = ph + kw * sW
                for c in range(cl_block_len(sizeof(pool_t))):
                    acc[c] = _fold(acc[c], p[c])
    p = src + (nd - 1) * sD + (nh - 1) * sH + (nw - 1) * sW
    for c in range(cl_block_len(sizeof(pool_t))):
        dst[c] = _fold(acc[c], p[c])



cdef inline bint exact_inverse(real_t div) noexcept nogil:
    """Whether the divisor (a positive integer) is a power of two, whose inverse is exact."""
    cdef Py_ssize_t d = <Py_ssize_t>div
    return d > 0 and (d & (d - 1)) == 0 and <real_t>d == div


cdef inline void sum_window_block(const pool_t* src, Py_ssize_t sD, Py_ssize_t sH,
                                  Py_ssize_t sW, Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw,
                                  real_t div, real_t* dst) noexcept nogil:
    """dst[c] = (0 + every tap, in scan order) / div for c < cl_block_len(sizeof(real_t)):
    the additions and the division of the tap-by-tap spans, with the sums in registers
    and one store per channel (the spans load and store the output at every pass).  The
    first tap starts the sums (0 + it, kept: 0 + -0.0 is +0.0) and the last is added on
    the way out, as in max_window_block; a zero start would become a memset of the array
    through the stack."""
    cdef real_t acc[CL_BLOCK_BYTES]
    cdef Py_ssize_t kd, kh, kw, c, k0, k1
    cdef const pool_t* pd
    cdef const pool_t* ph
    cdef const pool_t* p
    # Floats in explicit vector steps (_max_steps.h): clang kept acc in memory.
    if pool_t is float and real_t is float:
        if ndp_sum_block_f32(src, sD, sH, sW, nd, nh, nw, div, exact_inverse(div), dst):
            return
    elif pool_t is double and real_t is double:
        if ndp_sum_block_f64(src, sD, sH, sW, nd, nh, nw, div, exact_inverse(div), dst):
            return
    if nd <= 0 or nh <= 0 or nw <= 0:
        for c in range(cl_block_len(sizeof(real_t))):
            dst[c] = <real_t>0 / div
        return
    if nd == 1 and nh == 1 and nw == 1:
        for c in range(cl_block_len(sizeof(real_t))):
            dst[c] = (<real_t>0 + <real_t>src[c]) / div
        return
    for c in range(cl_block_len(sizeof(real_t))):
        acc[c] = <real_t>0 + <real_t>src[c]
    for kd in range(nd):
        pd = src + kd * sD
        for kh in range(nh):
            ph = pd + kh * sH
            k0 = 1 if (kd == 0 and kh == 0) else 0
            k1 = nw - 1 if (kd == nd - 1 and kh == nh - 1) else nw
            for kw in range(k0, k1):
                p = ph + kw * sW
                for c in range(cl_block_len(sizeof(real_t))):
                    acc[c] = acc[c] + p[c]
    p = src + (nd - 1) * sD + (nh - 1) * sH + (nw - 1) * sW
    if exact_inverse(div):
        # s * (1 / div) and s / div are both the correctly rounded s / div when 1 / div
        # is exact (a power of two): the same bits, NaNs included; a multiply is cheaper.
        div = 1 / div
        for c in range(cl_block_len(sizeof(real_t))):
            dst[c] = (acc[c] + p[c]) * div
    else:
        for c in range(cl_block_len(sizeof(real_t))):
            dst[c] = (acc[c] + p[c]) / div

