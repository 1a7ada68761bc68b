# Spans: the innermost loops of the forward kernels, over n elements src[i * step] -> dst[i].
# Branch-free so that the compiler vectorises them; the *_any variants pass literal steps for
# the common strides, which become constants after inlining.

from libc.stdint cimport int32_t, int64_t, uint64_t

from ndpool._common cimport pool_t, real_t


cdef inline int check_unit_inner(Py_ssize_t stride, int itemsize, Py_ssize_t size) except -1:
    # Spans read the last axis as contiguous memory; the Python layer guarantees it.
    if stride != itemsize and size > 1:
        raise ValueError("kernel input must have a unit-stride last axis")
    return 0


cdef inline void max_span(const pool_t* src, Py_ssize_t step, pool_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t v, m
    for i in range(n):
        v = src[i * step]
        m = dst[i]
        # torch's rule: strictly greater wins (first max kept), any NaN wins (last NaN kept).
        if pool_t is float or pool_t is double:
            dst[i] = v if ((v > m) | (v != v)) else m
        else:
            dst[i] = v if v > m else m


cdef inline void max_span_any(const pool_t* src, Py_ssize_t step, pool_t* dst, Py_ssize_t n) noexcept nogil:
    if step == 1:
        max_span(src, 1, dst, n)
    elif step == 2:
        max_span(src, 2, dst, n)
    else:
        max_span(src, step, dst, n)


cdef inline void max_span_idx(const pool_t* src, Py_ssize_t step, pool_t* dst, int64_t* idx,
                              Py_ssize_t n, int64_t flat, int64_t flat_step) noexcept nogil:
    """max_span that also records idx[i] = flat + i * flat_step where src wins."""
    cdef Py_ssize_t i
    cdef pool_t v, m
    cdef int64_t take, k
    cdef bint gt
    if pool_t is double or pool_t is int64_t or pool_t is uint64_t:
        # Baseline x86-64 (SSE2) cannot turn 64-bit compares into index masks: plain
        # selects (branch-free) and a rare NaN branch.
        for i in range(n):
            v = src[i * step]
            m = dst[i]
            k = idx[i]
            gt = v > m
            m = v if gt else m
            k = flat + i * flat_step if gt else k
            if pool_t is double:
                if v != v:
                    m = v
                    k = flat + i * flat_step
            dst[i] = m
            idx[i] = k
    else:
        for i in range(n):
            v = src[i * step]
            m = dst[i]
            if pool_t is float:
                take = -<int64_t>((v > m) | (v != v))
            else:
                take = -<int64_t>(v > m)
            dst[i] = v if take else m
            # A bit mask rather than a conditional store: this form vectorises.
            idx[i] = ((flat + i * flat_step) & take) | (idx[i] & ~take)


cdef inline void sum_span(const pool_t* src, Py_ssize_t step, real_t* dst, Py_ssize_t n) noexcept nogil:
    # Integer inputs are summed in the float accumulator (float64), element by element.
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i * step]


cdef inline void sum_span_any(const pool_t* src, Py_ssize_t step, real_t* dst, Py_ssize_t n) noexcept nogil:
    if step == 1:
        sum_span(src, 1, dst, n)
    elif step == 2:
        sum_span(src, 2, dst, n)
    else:
        sum_span(src, step, dst, n)


cdef inline void max_span_idx32(const pool_t* src, pool_t* dst, int32_t* idx, Py_ssize_t n,
                                int32_t flat) noexcept nogil:
    """max_span(step 1) that records idx[i] = flat where src wins, with int32 indices: for
    4-byte types the compare mask then has the width of the index, so the select
    vectorises on baseline SSE2."""
    cdef Py_ssize_t i
    cdef pool_t v, m
    cdef int32_t take
    for i in range(n):
        v = src[i]
        m = dst[i]
        if pool_t is float or pool_t is double:
            take = -<int32_t>((v > m) | (v != v))
        else:
            take = -<int32_t>(v > m)
        dst[i] = v if take else m
        idx[i] = (flat & take) | (idx[i] & ~take)


cdef inline void sum_taps(const pool_t* src, Py_ssize_t step, real_t* dst, Py_ssize_t n,
                          Py_ssize_t taps) noexcept nogil:
    """sum_span of `taps` (2 or 3) consecutive window taps in one pass: dst[i] gets
    src[i * step], then src[i * step + 1] (then + 2) added in that order, the very
    additions of separate passes, with one load and store of dst instead of several."""
    cdef Py_ssize_t i
    if taps == 2:
        for i in range(n):
            dst[i] = (dst[i] + src[i * step]) + src[i * step + 1]
    else:
        for i in range(n):
            dst[i] = ((dst[i] + src[i * step]) + src[i * step + 1]) + src[i * step + 2]


cdef inline void sum_taps_any(const pool_t* src, Py_ssize_t step, real_t* dst, Py_ssize_t n,
                              Py_ssize_t taps) noexcept nogil:
    if step == 1:
        sum_taps(src, 1, dst, n, taps)
    elif step == 2:
        sum_taps(src, 2, dst, n, taps)
    else:
        sum_taps(src, step, dst, n, taps)
