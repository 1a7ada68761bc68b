# Spans: the innermost loops of the forward kernels, over n elements src[i * step] -> dst[i].
# Branch-free so that the compiler vectorises them; the *_any variants pass literal steps for
# the common strides, which become constants after inlining.

from libc.stdint cimport int32_t, int64_t, uint64_t

from ndpool._common cimport pool_t, real_t

cdef extern from "_strided_folds.h" nogil:
    enum: NDP_SF_MIN_STEP  # smallest step with a vector form in this build
    # Vector forms of max_rows / sum_rows for float inputs with W taps 2, 3 or 4 apart;
    # each writes all n outputs and returns n, or 0 where it has no form.
    Py_ssize_t ndp_max_rows_f32(const float* a, const float* b, const float* c, Py_ssize_t step,
                                float* dst, Py_ssize_t n, Py_ssize_t taps, int rows)
    Py_ssize_t ndp_max_rows_f64(const double* a, const double* b, const double* c,
                                Py_ssize_t step, double* dst, Py_ssize_t n, Py_ssize_t taps,
                                int rows)
    Py_ssize_t ndp_max_rows4_f32(const float* a, const float* b, const float* c, const float* d,
                                 Py_ssize_t step, float* dst, Py_ssize_t n, Py_ssize_t taps)
    Py_ssize_t ndp_max_rows4_f64(const double* a, const double* b, const double* c,
                                 const double* d, Py_ssize_t step, double* dst, Py_ssize_t n,
                                 Py_ssize_t taps)
    Py_ssize_t ndp_sum_rows_f32(const float* a, const float* b, const float* c,
                                const float* init, Py_ssize_t step, float* dst, Py_ssize_t n,
                                Py_ssize_t taps, int rows, float div)
    Py_ssize_t ndp_sum_rows_f64(const double* a, const double* b, const double* c,
                                const double* init, Py_ssize_t step, double* dst, Py_ssize_t n,
                                Py_ssize_t taps, int rows, double div)
    # count calls of the above at once, the k-th on rows a, b, c + k * pitch into
    # dst + k * opitch; n a multiple of 8.  1 when done, 0 (nothing written) without a form.
    Py_ssize_t ndp_max_rows_many_f32(const float* a, const float* b, const float* c,
                                     Py_ssize_t step, float* dst, Py_ssize_t n, Py_ssize_t taps,
                                     int rows, Py_ssize_t count, Py_ssize_t pitch,
                                     Py_ssize_t opitch)
    Py_ssize_t ndp_max_rows_many_f64(const double* a, const double* b, const double* c,
                                     Py_ssize_t step, double* dst, Py_ssize_t n, Py_ssize_t taps,
                                     int rows, Py_ssize_t count, Py_ssize_t pitch,
                                     Py_ssize_t opitch)
    Py_ssize_t ndp_sum_rows_many_f32(const float* a, const float* b, const float* c,
                                     const float* init, Py_ssize_t step, float* dst, Py_ssize_t n,
                                     Py_ssize_t taps, int rows, float div, Py_ssize_t count,
                                     Py_ssize_t pitch, Py_ssize_t opitch)
    Py_ssize_t ndp_sum_rows_many_f64(const double* a, const double* b, const double* c,
                                     const double* init, Py_ssize_t step, double* dst,
                                     Py_ssize_t n, Py_ssize_t taps, int rows, double div,
                                     Py_ssize_t count, Py_ssize_t pitch, Py_ssize_t opitch)

cdef extern from "_max_steps.h" nogil:
    # torch's max step in explicit instructions for float and double (see max_update):
    # on one value, over a window row's taps, with indices, over whole channels-last
    # 2x2 / 3x3 windows (kw).  Those returning int return 0, having written nothing,
    # without SSE2 or for a shape they do not take; then the Cython loops run.
    float ndp_max1_f32(float m, float v)
    double ndp_max1_f64(double m, double v)
    int ndp_max_taps_f32(const float* src, Py_ssize_t apart, float* dst, Py_ssize_t n, int taps)
    int ndp_max_taps_f64(const double* src, Py_ssize_t apart, double* dst, Py_ssize_t n,
                         int taps)
    int ndp_max_idx_f32(const float* src, Py_ssize_t step, float* dst, int64_t* idx, Py_ssize_t n,
                        int64_t flat, int64_t flat_step)
    int ndp_cl_max_f32(const float* a, const float* b, const float* c, Py_ssize_t sW,
                       Py_ssize_t pstep, float* dst, Py_ssize_t dstep, Py_ssize_t n,
                       Py_ssize_t npix, int kw)
    int ndp_cl_max_f64(const double* a, const double* b, const double* c, Py_ssize_t sW,
                       Py_ssize_t pstep, double* dst, Py_ssize_t dstep, Py_ssize_t n,
                       Py_ssize_t npix, int kw)


cdef inline int check_unit_inner(Py_ssize_t stride, int itemsize, Py_ssize_t size) except -1:
    # Spans read the last axis as contiguous memory; the Python layer guarantees it.
    if stride != itemsize and size > 1:
        raise ValueError("kernel input must have a unit-stride last axis")
    return 0


cdef inline void max_span(const pool_t* src, Py_ssize_t step, pool_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t v, m
    # Contiguous float spans in explicit vector steps (_max_steps.h; see max_update).
    if pool_t is float:
        if step == 1 and ndp_max_taps_f32(src, 0, dst, n, 1):
            return
    elif pool_t is double:
        if step == 1 and ndp_max_taps_f64(src, 0, dst, n, 1):
            return
    for i in range(n):
        v = src[i * step]
        m = dst[i]
        # torch's rule: strictly greater wins (first max kept), any NaN wins (last NaN kept).
        if pool_t is float or pool_t is double:
            dst[i] = v if ((v > m) | (v != v)) else m
        else:
            dst[i] = v if v > m else m


cdef extern from * nogil:
    """
    #if defined(__clang__)
    #define NDP_LITERAL_STEP4 1
    #else
    #define NDP_LITERAL_STEP4 0
    #endif
    """
    # Step 4 as a literal too, under clang.  Given a variable step, clang vectorises only
    # a copy of the loop for step 1 and runs the others scalar (integer 4/s4 max windows,
    # wider than the fused forms take: 0.33-0.41x of gcc's code; with the literal, 1-D
    # 2.0-6.1x faster, 2-D 1.24-1.46x).  gcc vectorises any step, and its literal-step-4
    # loops measured 0.78-0.90x on int32 and 2-D uint8.
    bint NDP_LITERAL_STEP4


cdef inline void max_span_any(const pool_t* src, Py_ssize_t step, pool_t* dst, Py_ssize_t n) noexcept nogil:
    if step == 1:
        max_span(src, 1, dst, n)
    elif step == 2:
        max_span(src, 2, dst, n)
    elif NDP_LITERAL_STEP4 and step == 4:
        max_span(src, 4, dst, n)
    else:
        max_span(src, step, dst, n)


cdef inline void max_span_idx(const pool_t* src, Py_ssize_t step, pool_t* dst, int64_t* idx,
                              Py_ssize_t n, int64_t flat, int64_t flat_step) noexcept nogil:
    """max_span that also records idx[i] = flat + i * flat_step where src wins.  The index
    is a running sum (f): as a product, gcc 13 vectorised it into emulated 64-bit
    multiplies (0.6x)."""
    cdef Py_ssize_t i
    cdef pool_t v, m
    cdef int64_t take, k, f = flat
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
            k = f if gt else k
            if pool_t is double:
                if v != v:
                    m = v
                    k = f
            dst[i] = m
            idx[i] = k
            f += flat_step
    else:
        # Float spans in explicit vector steps (_max_steps.h): gcc 13's own vectorisation
        # of the masks below ran stride-1 windows 0.75-0.88x of gcc 12's, and clang made
        # strided ones scalar branches.
        if pool_t is float:
            if ndp_max_idx_f32(src, step, dst, idx, n, flat, flat_step):
                return
        for i in range(n):
            v = src[i * step]
            m = dst[i]
            if pool_t is float:
                take = -<int64_t>((v > m) | (v != v))
            else:
                take = -<int64_t>(v > m)
            dst[i] = v if take else m
            # A bit mask rather than a conditional store: this form vectorises.
            idx[i] = (f & take) | (idx[i] & ~take)
            f += flat_step


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


cdef inline void sum_taps_apart(const pool_t* src, Py_ssize_t apart, real_t* dst, Py_ssize_t n,
                                Py_ssize_t taps) noexcept nogil:
    """sum_span of `taps` (1 to 3) window taps `apart` elements apart in one pass (a
    channels-last window row): dst[i] gets src[i], then src[i + apart] (then + 2 * apart)
    added in that order, with one load and store of dst."""
    cdef Py_ssize_t i
    if taps == 1:
        for i in range(n):
            dst[i] = dst[i] + src[i]
    elif taps == 2:
        for i in range(n):
            dst[i] = (dst[i] + src[i]) + src[i + apart]
    else:
        for i in range(n):
            dst[i] = ((dst[i] + src[i]) + src[i + apart]) + src[i + 2 * apart]


cdef inline void max_taps_apart(const pool_t* src, Py_ssize_t apart, pool_t* dst, Py_ssize_t n,
                                Py_ssize_t taps) noexcept nogil:
    """max_span of `taps` (1 to 3) window taps `apart` elements apart in one pass (a
    channels-last window row), folded in that order with torch's rule (max_update): one
    load and store of dst per pass instead of per tap.  Floats in explicit vector steps."""
    cdef Py_ssize_t i
    if pool_t is float:
        if ndp_max_taps_f32(src, apart, dst, n, <int>taps):
            return
    elif pool_t is double:
        if ndp_max_taps_f64(src, apart, dst, n, <int>taps):
            return
    if taps == 1:
        for i in range(n):
            dst[i] = max_update(dst[i], src[i])
    elif taps == 2:
        for i in range(n):
            dst[i] = max_update(max_update(dst[i], src[i]), src[i + apart])
    else:
        for i in range(n):
            dst[i] = max_update(max_update(max_update(dst[i], src[i]), src[i + apart]),
                                src[i + 2 * apart])


cdef inline void sum_taps_any(const pool_t* src, Py_ssize_t step, real_t* dst, Py_ssize_t n,
                              Py_ssize_t taps) noexcept nogil:
    if step == 1:
        sum_taps(src, 1, dst, n, taps)
    elif step == 2:
        sum_taps(src, 2, dst, n, taps)
    else:
        sum_taps(src, step, dst, n, taps)


# ---------------------------------------------------------------------------------------
# Fused channels-first spans: up to three input rows (a, b, c, in scan order) and 2 or 3
# consecutive W taps per row, all folded into each output in one pass, so the running
# value stays in a register and each input vector is loaded (and de-interleaved, for
# stride 2) once.  Max folds each row and then the rows (see max_update); either way
# every output gets the bits of the tap-by-tap spans.
#
# Each (stride, taps, rows) has its own span with the taps written out: a generic span
# specialised through constant arguments vectorised only where gcc inlined it, and in
# these large modules its inlining budget (inline-unit-growth) runs out.

cdef inline pool_t max_update(pool_t m, pool_t v) noexcept nogil:
    """torch's max step: strictly greater wins (first max kept), any NaN wins (last NaN).
    Two selects, a plain max then the NaN test: gcc if-converts this form inside longer
    chains, where the combined condition became branches.

    The step is associative when m holds the fold of taps that come before v's in scan
    order: the last NaN of the later part wins, else a NaN of the earlier part, else the
    first of the largest values.  So a window may fold each row on its own and then the
    rows in order, with the same bits and a shorter chain of dependent steps (a 3x3
    window 4 steps deep, not 8)."""
    m = v if v > m else m
    if pool_t is float or pool_t is double:
        m = v if v != v else m
    return m


cdef inline pool_t max_step1(pool_t m, pool_t v) noexcept nogil:
    """max_update for scalar code that is never vectorised (window edges): float and double
    as explicit instructions (_strided_folds.h).  gcc 13 compiles max_update's selects
    outside vector loops as branches, which random data mispredicts half the time."""
    if pool_t is float:
        return ndp_max1_f32(m, v)
    elif pool_t is double:
        return ndp_max1_f64(m, v)
    else:
        return max_update(m, v)


cdef inline void max_rows_s1t2r1(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t m
    for i in range(n):
        m = a[i]
        m = max_update(m, a[i + 1])
        dst[i] = m


cdef inline void max_rows_s1t2r2(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb
    for i in range(n):
        ma = max_update(a[i], a[i + 1])
        mb = max_update(b[i], b[i + 1])
        dst[i] = max_update(ma, mb)


cdef inline void max_rows_s1t2r3(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb, mc
    for i in range(n):
        ma = max_update(a[i], a[i + 1])
        mb = max_update(b[i], b[i + 1])
        mc = max_update(c[i], c[i + 1])
        dst[i] = max_update(max_update(ma, mb), mc)


cdef inline void max_rows_s1t3r1(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t m
    for i in range(n):
        m = a[i]
        m = max_update(m, a[i + 1])
        m = max_update(m, a[i + 2])
        dst[i] = m


cdef inline void max_rows_s1t3r2(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb
    for i in range(n):
        ma = max_update(max_update(a[i], a[i + 1]), a[i + 2])
        mb = max_update(max_update(b[i], b[i + 1]), b[i + 2])
        dst[i] = max_update(ma, mb)


cdef inline void max_rows_s1t3r3(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb, mc
    for i in range(n):
        ma = max_update(max_update(a[i], a[i + 1]), a[i + 2])
        mb = max_update(max_update(b[i], b[i + 1]), b[i + 2])
        mc = max_update(max_update(c[i], c[i + 1]), c[i + 2])
        dst[i] = max_update(max_update(ma, mb), mc)


cdef inline void max_rows_s2t2r1(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t m
    for i in range(n):
        m = a[2 * i]
        m = max_update(m, a[2 * i + 1])
        dst[i] = m


cdef inline void max_rows_s2t2r2(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb
    for i in range(n):
        ma = max_update(a[2 * i], a[2 * i + 1])
        mb = max_update(b[2 * i], b[2 * i + 1])
        dst[i] = max_update(ma, mb)


cdef inline void max_rows_s2t2r3(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb, mc
    for i in range(n):
        ma = max_update(a[2 * i], a[2 * i + 1])
        mb = max_update(b[2 * i], b[2 * i + 1])
        mc = max_update(c[2 * i], c[2 * i + 1])
        dst[i] = max_update(max_update(ma, mb), mc)


cdef inline void max_rows_s2t3r1(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t m
    for i in range(n):
        m = a[2 * i]
        m = max_update(m, a[2 * i + 1])
        m = max_update(m, a[2 * i + 2])
        dst[i] = m


cdef inline void max_rows_s2t3r2(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb
    for i in range(n):
        ma = max_update(max_update(a[2 * i], a[2 * i + 1]), a[2 * i + 2])
        mb = max_update(max_update(b[2 * i], b[2 * i + 1]), b[2 * i + 2])
        dst[i] = max_update(ma, mb)


cdef inline void max_rows_s2t3r3(const pool_t* a, const pool_t* b, const pool_t* c, pool_t* dst,
                                 Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef pool_t ma, mb, mc
    for i in range(n):
        ma = max_update(max_update(a[2 * i], a[2 * i + 1]), a[2 * i + 2])
        mb = max_update(max_update(b[2 * i], b[2 * i + 1]), b[2 * i + 2])
        mc = max_update(max_update(c[2 * i], c[2 * i + 1]), c[2 * i + 2])
        dst[i] = max_update(max_update(ma, mb), mc)


# Where a sum_rows form starts each sum: from dst itself (InPlace, init being dst) or from
# init.  In place, the forms must read dst: clang vectorises a loop whose init and dst are
# separate pointers only behind a check that they do not overlap, which equal pointers
# fail (its scalar loop ran 4x slower; gcc accepts equal pointers).  A fused type makes it
# a compile-time choice, each form compiled once per case.  (A bint held only where the
# forms were inlined with a literal; clang left the 3x3x3 forms out of line, and its
# channels-first 3x3x3/s1 averages ran 0.46-0.59x of gcc's code; with the fused type
# 2.15x float32 and 1.65x float64 faster, level with gcc.)
cdef struct InPlace:
    char unused
cdef struct FromInit:
    char unused
ctypedef fused start_t:
    InPlace
    FromInit


cdef inline void sum_rows_s1t2r1(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s1t2r2(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        s = s + b[i]
        s = s + b[i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s1t2r3(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        s = s + b[i]
        s = s + b[i + 1]
        s = s + c[i]
        s = s + c[i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s1t3r1(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        s = s + a[i + 2]
        dst[i] = s / div


cdef inline void sum_rows_s1t3r2(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        s = s + a[i + 2]
        s = s + b[i]
        s = s + b[i + 1]
        s = s + b[i + 2]
        dst[i] = s / div


cdef inline void sum_rows_s1t3r3(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[i]
        s = s + a[i + 1]
        s = s + a[i + 2]
        s = s + b[i]
        s = s + b[i + 1]
        s = s + b[i + 2]
        s = s + c[i]
        s = s + c[i + 1]
        s = s + c[i + 2]
        dst[i] = s / div


cdef inline void sum_rows_s2t2r1(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s2t2r2(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        s = s + b[2 * i]
        s = s + b[2 * i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s2t2r3(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        s = s + b[2 * i]
        s = s + b[2 * i + 1]
        s = s + c[2 * i]
        s = s + c[2 * i + 1]
        dst[i] = s / div


cdef inline void sum_rows_s2t3r1(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        s = s + a[2 * i + 2]
        dst[i] = s / div


cdef inline void sum_rows_s2t3r2(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        s = s + a[2 * i + 2]
        s = s + b[2 * i]
        s = s + b[2 * i + 1]
        s = s + b[2 * i + 2]
        dst[i] = s / div


cdef inline void sum_rows_s2t3r3(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, real_t* dst, Py_ssize_t n,
                                 real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i
    cdef real_t s
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        s = s + a[2 * i]
        s = s + a[2 * i + 1]
        s = s + a[2 * i + 2]
        s = s + b[2 * i]
        s = s + b[2 * i + 1]
        s = s + b[2 * i + 2]
        s = s + c[2 * i]
        s = s + c[2 * i + 1]
        s = s + c[2 * i + 2]
        dst[i] = s / div


cdef inline void max_rows_gen(const pool_t* a, const pool_t* b, const pool_t* c, Py_ssize_t step,
                              pool_t* dst, Py_ssize_t n, Py_ssize_t taps,
                              int rows) noexcept nogil:
    cdef Py_ssize_t i, t, r
    cdef pool_t m
    cdef const pool_t* row
    for i in range(n):
        m = a[i * step]
        for r in range(rows):
            row = a if r == 0 else (b if r == 1 else c)
            for t in range(1 if r == 0 else 0, taps):
                m = max_update(m, row[i * step + t])
        dst[i] = m


cdef inline void max_rows(const pool_t* a, const pool_t* b, const pool_t* c, Py_ssize_t step,
                          pool_t* dst, Py_ssize_t n, Py_ssize_t taps, int rows) noexcept nogil:
    """dst[i] = fold of rows (a, then b, then c; rows of them) x taps (2 or 3) at i * step,
    started from the first tap: update(start value, v) is v bitwise (-inf, or the integer
    minimum, never wins over itself), so the start value needs no pass of its own.
    Float inputs with taps 2 to 4 apart go through _strided_folds.h, which takes the
    whole row; the spans below take the rest."""
    cdef Py_ssize_t done = 0
    if step >= NDP_SF_MIN_STEP:
        if pool_t is float:
            done = ndp_max_rows_f32(a, b, c, step, dst, n, taps, rows)
        elif pool_t is double:
            done = ndp_max_rows_f64(a, b, c, step, dst, n, taps, rows)
        if done == n:  # a form writes all n outputs, or none
            return
    if step == 1 and taps == 2 and rows == 1:
        max_rows_s1t2r1(a, b, c, dst, n)
    elif step == 1 and taps == 2 and rows == 2:
        max_rows_s1t2r2(a, b, c, dst, n)
    elif step == 1 and taps == 2 and rows == 3:
        max_rows_s1t2r3(a, b, c, dst, n)
    elif step == 1 and taps == 3 and rows == 1:
        max_rows_s1t3r1(a, b, c, dst, n)
    elif step == 1 and taps == 3 and rows == 2:
        max_rows_s1t3r2(a, b, c, dst, n)
    elif step == 1 and taps == 3 and rows == 3:
        max_rows_s1t3r3(a, b, c, dst, n)
    elif step == 2 and taps == 2 and rows == 1:
        max_rows_s2t2r1(a, b, c, dst, n)
    elif step == 2 and taps == 2 and rows == 2:
        max_rows_s2t2r2(a, b, c, dst, n)
    elif step == 2 and taps == 2 and rows == 3:
        max_rows_s2t2r3(a, b, c, dst, n)
    elif step == 2 and taps == 3 and rows == 1:
        max_rows_s2t3r1(a, b, c, dst, n)
    elif step == 2 and taps == 3 and rows == 2:
        max_rows_s2t3r2(a, b, c, dst, n)
    elif step == 2 and taps == 3 and rows == 3:
        max_rows_s2t3r3(a, b, c, dst, n)
    else:
        max_rows_gen(a, b, c, step, dst, n, taps, rows)


cdef inline Py_ssize_t max_rows4(const pool_t* a, const pool_t* b, const pool_t* c,
                                const pool_t* d, Py_ssize_t step, pool_t* dst, Py_ssize_t n,
                                Py_ssize_t taps) noexcept nogil:
    """max_rows of four rows in one pass where _strided_folds.h has a form (float windows
    2 to 4 apart): returns how many leading outputs it wrote, 0 elsewhere."""
    if step < NDP_SF_MIN_STEP:
        return 0
    if pool_t is float:
        return ndp_max_rows4_f32(a, b, c, d, step, dst, n, taps)
    elif pool_t is double:
        return ndp_max_rows4_f64(a, b, c, d, step, dst, n, taps)
    return 0


cdef inline void sum_rows_gen(const real_t* a, const real_t* b, const real_t* c,
                              const real_t* init, Py_ssize_t step,
                              real_t* dst, Py_ssize_t n, Py_ssize_t taps, int rows,
                              real_t div, start_t start) noexcept nogil:
    cdef Py_ssize_t i, t, r
    cdef real_t s
    cdef const real_t* row
    for i in range(n):
        s = dst[i] if start_t is InPlace else init[i]
        for r in range(rows):
            row = a if r == 0 else (b if r == 1 else c)
            for t in range(taps):
                s = s + row[i * step + t]
        dst[i] = s / div


cdef inline void _sum_rows_forms(const real_t* a, const real_t* b, const real_t* c,
                                 const real_t* init, Py_ssize_t step, real_t* dst,
                                 Py_ssize_t n, Py_ssize_t taps, int rows, real_t div,
                                 start_t start) noexcept nogil:
    """sum_rows' Cython forms, starting from dst itself (InPlace: init is dst) or init."""
    if step == 1 and taps == 2 and rows == 1:
        sum_rows_s1t2r1(a, b, c, init, dst, n, div, start)
    elif step == 1 and taps == 2 and rows == 2:
        sum_rows_s1t2r2(a, b, c, init, dst, n, div, start)
    elif step == 1 and taps == 2 and rows == 3:
        sum_rows_s1t2r3(a, b, c, init, dst, n, div, start)
    elif step == 1 and taps == 3 and rows == 1:
        sum_rows_s1t3r1(a, b, c, init, dst, n, div, start)
    elif step == 1 and taps == 3 and rows == 2:
        sum_rows_s1t3r2(a, b, c, init, dst, n, div, start)
    elif step == 1 and taps == 3 and rows == 3:
        sum_rows_s1t3r3(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 2 and rows == 1:
        sum_rows_s2t2r1(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 2 and rows == 2:
        sum_rows_s2t2r2(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 2 and rows == 3:
        sum_rows_s2t2r3(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 3 and rows == 1:
        sum_rows_s2t3r1(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 3 and rows == 2:
        sum_rows_s2t3r2(a, b, c, init, dst, n, div, start)
    elif step == 2 and taps == 3 and rows == 3:
        sum_rows_s2t3r3(a, b, c, init, dst, n, div, start)
    else:
        sum_rows_gen(a, b, c, init, step, dst, n, taps, rows, div, start)


cdef inline void sum_rows(const real_t* a, const real_t* b, const real_t* c, const real_t* init,
                          Py_ssize_t step, real_t* dst, Py_ssize_t n, Py_ssize_t taps, int rows,
                          real_t div) noexcept nogil:
    """dst[i] = (init[i] + rows (a, then b, then c) x taps (2 or 3) at i * step) / div: the
    additions of the tap-by-tap sums, in their order, continuing init (zeros to start
    from an explicit 0: 0 + -0.0 is +0.0; a window's earlier rows' sum, with div 1, to
    continue it), and their division.  init may be dst.  Taps 2 to 4 apart go through
    _strided_folds.h first, as in max_rows."""
    cdef Py_ssize_t done = 0
    if step >= NDP_SF_MIN_STEP:
        if real_t is float:
            done = ndp_sum_rows_f32(a, b, c, init, step, dst, n, taps, rows, div)
        else:
            done = ndp_sum_rows_f64(a, b, c, init, step, dst, n, taps, rows, div)
        if done == n:  # a form writes all n outputs, or none
            return
    if init == dst:
        _sum_rows_forms(a, b, c, dst, step, dst, n, taps, rows, div, InPlace(0))
    else:
        _sum_rows_forms(a, b, c, init, step, dst, n, taps, rows, div, FromInit(0))


# ---------------------------------------------------------------------------------------
# Channels-last average sweeps: the 2x2 or 3x3 taps of an output pixel (rows a, b[, c],
# taps sW elements apart in each) summed into every channel in one pass over the n
# channels, 0 + the taps in scan order, with no running array: straight-line code per
# channel that vectorises along C, where a register block (_cl_blocks.sum_window_block)
# with its variable tap loops costs a call, loop control and a trip through the stack
# per block (1.1-1.2x on one thread for 2x2/s2 and 3x3/s1).  Max windows measured no
# better this way (3x3/s2: 0.9x, the compare-and-select chain is longer): they keep the
# blocks.  inv != 0 means multiply by inv (an exact inverse of div, see
# _cl_blocks.exact_inverse) instead of dividing.  npix pixels in a row: pixel p reads
# its taps pstep further on and writes dst + p * dstep (one call for a row's interior
# saves the per-pixel set-up, which cost as much as the sums at 128 channels).

cdef inline void cl_sum_2x2(const pool_t* a, const pool_t* b, Py_ssize_t sW, Py_ssize_t pstep,
                            real_t* dst, Py_ssize_t dstep, Py_ssize_t n, Py_ssize_t npix,
                            real_t div, real_t inv) noexcept nogil:
    cdef Py_ssize_t i, p
    for p in range(npix):
        if inv != 0:
            for i in range(n):
                dst[i] = ((((<real_t>0 + <real_t>a[i]) + a[i + sW]) + b[i]) + b[i + sW]) * inv
        else:
            for i in range(n):
                dst[i] = ((((<real_t>0 + <real_t>a[i]) + a[i + sW]) + b[i]) + b[i + sW]) / div
        a += pstep
        b += pstep
        dst += dstep


cdef inline void cl_sum_3x3(const pool_t* a, const pool_t* b, const pool_t* c, Py_ssize_t sW,
                            Py_ssize_t pstep, real_t* dst, Py_ssize_t dstep, Py_ssize_t n,
                            Py_ssize_t npix, real_t div, real_t inv) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef real_t s
    for p in range(npix):
        if inv != 0:
            for i in range(n):
                s = ((<real_t>0 + <real_t>a[i]) + a[i + sW]) + a[i + 2 * sW]
                s = ((s + b[i]) + b[i + sW]) + b[i + 2 * sW]
                dst[i] = (((s + c[i]) + c[i + sW]) + c[i + 2 * sW]) * inv
        else:
            for i in range(n):
                s = ((<real_t>0 + <real_t>a[i]) + a[i + sW]) + a[i + 2 * sW]
                s = ((s + b[i]) + b[i + sW]) + b[i + 2 * sW]
                dst[i] = (((s + c[i]) + c[i + sW]) + c[i + 2 * sW]) / div
        a += pstep
        b += pstep
        c += pstep
        dst += dstep


cdef inline bint _cl_max_vectors(const pool_t* a, const pool_t* b, const pool_t* c,
                                 Py_ssize_t sW, Py_ssize_t pstep, pool_t* dst, Py_ssize_t dstep,
                                 Py_ssize_t n, Py_ssize_t npix, int kw) noexcept nogil:
    """cl_max_2x2 / cl_max_3x3 for floats in explicit vector steps (_max_steps.h): their
    scalar forms below became branches (3x3) and long mask sequences (2x2) with gcc 13.
    False (nothing written) for other types or fewer channels than a vector."""
    if pool_t is float:
        return ndp_cl_max_f32(a, b, c, sW, pstep, dst, dstep, n, npix, kw)
    elif pool_t is double:
        return ndp_cl_max_f64(a, b, c, sW, pstep, dst, dstep, n, npix, kw)
    return False


cdef inline void cl_max_2x2(const pool_t* a, const pool_t* b, Py_ssize_t sW, Py_ssize_t pstep,
                            pool_t* dst, Py_ssize_t dstep, Py_ssize_t n,
                            Py_ssize_t npix) noexcept nogil:
    """The max counterpart of cl_sum_2x2 (a run of whole windows): torch's max step over
    the taps in scan order, starting from the first (lowest_value folded with it gives
    it back, bit for bit)."""
    cdef Py_ssize_t i, p
    if _cl_max_vectors(a, b, b, sW, pstep, dst, dstep, n, npix, 2):
        return
    for p in range(npix):
        for i in range(n):
            dst[i] = max_update(max_update(max_update(a[i], a[i + sW]), b[i]), b[i + sW])
        a += pstep
        b += pstep
        dst += dstep


cdef inline void cl_max_3x3(const pool_t* a, const pool_t* b, const pool_t* c, Py_ssize_t sW,
                            Py_ssize_t pstep, pool_t* dst, Py_ssize_t dstep, Py_ssize_t n,
                            Py_ssize_t npix) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef pool_t ma, mb, mc
    if _cl_max_vectors(a, b, c, sW, pstep, dst, dstep, n, npix, 3):
        return
    for p in range(npix):
        for i in range(n):
            # Each row folds on its own, then the rows in order (see max_update).
            ma = max_update(max_update(a[i], a[i + sW]), a[i + 2 * sW])
            mb = max_update(max_update(b[i], b[i + sW]), b[i + 2 * sW])
            mc = max_update(max_update(c[i], c[i + sW]), c[i + 2 * sW])
            dst[i] = max_update(max_update(ma, mb), mc)
        a += pstep
        b += pstep
        c += pstep
        dst += dstep
