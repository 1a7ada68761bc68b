# Channels-first windows whose stride equals their size and that need no padding: max and
# average pooling with kernel == stride (2x2/s2, 3x3/s3, ...) and adaptive pooling of equal
# bins (VGG's 14x14 -> 7x7 head).  Output o of an axis reads [o * k, o * k + k).
#
# With kd * kh <= 3 window rows of kw = 2 to 4 values, every output row is one fused fold of
# _strided_folds.h (the kernels' max_rows / sum_rows): each lane folds its own output's
# taps in scan order, so the results are the scan's, bit for bit.  Rows of a few outputs
# (7 on a 14x14 map) cost mostly their set-up, so one call folds all of a work item's rows
# (ndp_*_rows_many), each rounded up to whole vectors of OVERHANG outputs: the overhang
# reads on into the plane's next input rows and writes into the item's next output rows,
# which are computed after.  The item's last rows, whose overhang would leave the item or
# the plane, fold from zero-padded copies of their input rows.

from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from ndpool._common cimport RowBlock, divide_span, real_t, row_block, rows_per_item
from ndpool._spans cimport (max_rows, max_span, ndp_max_rows_many_f32, ndp_max_rows_many_f64,
                            ndp_sum_rows_many_f32, ndp_sum_rows_many_f64, sum_rows)

cdef enum:
    STRIDED_ROWS = 3  # input rows per output row that one fused fold takes
    OVERHANG = 8  # a row's fold computes a multiple of this many outputs (the widest vector)
    TAIL_READ = 128  # values per input row that the tail's stack buffers hold
    STRIDED_ROW_MAX = 512  # the longest output row taken (its zeros live on the stack)
    SLICE_VALUES = 1024  # outputs per pass of _max_slices (its buffer lives on the stack)


cdef inline bint strided_rows_apply(const Py_ssize_t* size_in, const Py_ssize_t* size_out,
                                    const Py_ssize_t* k, Py_ssize_t sD, Py_ssize_t sH,
                                    bint is_max) noexcept nogil:
    """Whether strided_rows_cf takes a call with windows k (D, H, W) at stride k: their
    shape (above; max takes deeper windows a depth slice at a time), every window inside
    the input, input rows packed (what a row's fold reads past its row lies in the plane),
    more than one output (global pooling has its own kernels) and rows of up to
    STRIDED_ROW_MAX outputs."""
    cdef int a
    for a in range(3):
        if size_out[a] * k[a] > size_in[a]:
            return False
    return (2 <= k[2] <= 4 and (k[0] * k[1] <= STRIDED_ROWS or (is_max and k[1] <= STRIDED_ROWS))
            and sH == size_in[2]
            and (size_in[0] == 1 or sD == size_in[1] * sH)
            and size_out[0] * size_out[1] * size_out[2] > 1 and size_out[2] <= STRIDED_ROW_MAX)


cdef inline bint _rows_many(const real_t** src, Py_ssize_t kw, real_t* out, Py_ssize_t n,
                            int rows, Py_ssize_t count, Py_ssize_t pitch, Py_ssize_t opitch,
                            const real_t* zeros, real_t div, bint is_max) noexcept nogil:
    if real_t is float and is_max:
        return ndp_max_rows_many_f32(src[0], src[1], src[2], kw, out, n, kw, rows, count, pitch,
                                     opitch)
    elif real_t is float:
        return ndp_sum_rows_many_f32(src[0], src[1], src[2], zeros, kw, out, n, kw, rows, div,
                                     count, pitch, opitch)
    elif is_max:
        return ndp_max_rows_many_f64(src[0], src[1], src[2], kw, out, n, kw, rows, count, pitch,
                                     opitch)
    else:
        return ndp_sum_rows_many_f64(src[0], src[1], src[2], zeros, kw, out, n, kw, rows, div,
                                     count, pitch, opitch)


cdef inline void _strided_rows(const real_t* plane, Py_ssize_t sD, real_t* out, Py_ssize_t od,
                               Py_ssize_t oh0, Py_ssize_t oh1, const Py_ssize_t* size_in,
                               const Py_ssize_t* size_out, const Py_ssize_t* k, real_t div,
                               Py_ssize_t div2, Py_ssize_t div3, bint is_max) noexcept nogil:
    """Output rows [oh0, oh1) of out[n, c, od] (out points at out[n, c, od, 0, 0]) from the
    plane x[n, c]; sums are divided by div in the fold, then by div2 and div3 in turn."""
    cdef Py_ssize_t H = size_in[1], W = size_in[2], OW = size_out[2]
    cdef Py_ssize_t kd = k[0], kh = k[1], kw = k[2], rows = kd * kh
    cdef Py_ssize_t extent = size_in[0] * H * W
    cdef Py_ssize_t wide = (OW + OVERHANG - 1) // OVERHANG * OVERHANG
    cdef Py_ssize_t oh, a, e, r, i, hs = oh1, last
    cdef const real_t* src[STRIDED_ROWS]
    cdef real_t buf[STRIDED_ROWS * TAIL_READ]
    cdef real_t tmp[TAIL_READ]
    cdef real_t zeros[STRIDED_ROW_MAX + OVERHANG]
    if not is_max:
        memset(zeros, 0, wide * sizeof(real_t))
    # Rows [oh0, hs) take whole vectors in place: those whose overhang, read and written,
    # fits.
    while hs > oh0:
        last = (od * kd + kd - 1) * sD + (hs - 1) * kh * W + (kh - 1) * W  # last row read
        if (hs - 1) * OW + wide <= oh1 * OW and last + kw * wide <= extent:
            break
        hs -= 1
    oh = oh0
    while oh < oh1:
        r = 0
        for a in range(kd):
            for e in range(kh):
                src[r] = plane + (od * kd + a) * sD + (oh * kh + e) * W
                r += 1
        for r in range(rows, STRIDED_ROWS):
            src[r] = src[0]
        if oh < hs:
            if _rows_many(src, kw, out + oh * OW, wide, <int>rows, hs - oh, kh * W, OW, zeros,
                          div, is_max):
                oh = hs
                continue
            hs = oh  # no vector form (the baseline build's step 2): one by one below
        elif kw * wide <= TAIL_READ:
            # The input rows (kw * OW values each) copied into buffers of whole vectors,
            # the results into tmp: the item's last rows in one fold each too.
            for r in range(rows):
                memcpy(buf + r * TAIL_READ, src[r], kw * OW * sizeof(real_t))
                for i in range(kw * OW, kw * wide):
                    buf[r * TAIL_READ + i] = 0
                src[r] = buf + r * TAIL_READ
            for r in range(rows, STRIDED_ROWS):
                src[r] = src[0]
            if _rows_many(src, kw, tmp, wide, <int>rows, 1, 0, 0, zeros, div, is_max):
                memcpy(out + oh * OW, tmp, OW * sizeof(real_t))
                oh += 1
                continue
        if is_max:
            max_rows(src[0], src[1], src[2], kw, out + oh * OW, OW, kw, <int>rows)
        else:
            sum_rows(src[0], src[1], src[2], zeros, kw, out + oh * OW, OW, kw, <int>rows, div)
        oh += 1
    if not is_max:
        divide_span(out + oh0 * OW, (oh1 - oh0) * OW, div2)
        divide_span(out + oh0 * OW, (oh1 - oh0) * OW, div3)


cdef inline void _max_slices(const real_t* plane, Py_ssize_t sD, real_t* out, Py_ssize_t od,
                             Py_ssize_t oh0, Py_ssize_t oh1, const Py_ssize_t* size_in,
                             const Py_ssize_t* size_out, const Py_ssize_t* k) noexcept nogil:
    """_strided_rows' maxima for windows of more rows than one fold takes (2x2x2): each
    depth slice of the windows folds on its own, and the slices' folds update the first's
    in order (the fold of a sequence is the update of its first part's fold by the
    rest's, _folds.pxd).  Rows go SLICE_VALUES outputs at a time through a stack buffer."""
    cdef Py_ssize_t OW = size_out[2], kd = k[0], a, h0, h1
    cdef Py_ssize_t chunk = SLICE_VALUES // OW if OW < SLICE_VALUES else 1
    cdef Py_ssize_t k1[3]
    cdef real_t part[SLICE_VALUES + OVERHANG]
    k1[0], k1[1], k1[2] = 1, k[1], k[2]
    h0 = oh0
    while h0 < oh1:
        h1 = h0 + chunk if h0 + chunk < oh1 else oh1
        # Slice a of output depth od is input depth od * kd + a: depth "od * kd + a" of a
        # one-deep window.
        _strided_rows(plane, sD, out, od * kd, h0, h1, size_in, size_out, k1, 1, 1, 1, True)
        for a in range(1, kd):
            # part stands for rows [h0, h1) of an output array based at part - h0 * OW.
            _strided_rows(plane, sD, part - h0 * OW, od * kd + a, h0, h1, size_in, size_out,
                          k1, 1, 1, 1, True)
            max_span(part, 1, out + h0 * OW, (h1 - h0) * OW)
        h0 = h1


cdef inline void strided_rows_cf(const real_t* x, Py_ssize_t sN, Py_ssize_t sC, Py_ssize_t sD,
                                 Py_ssize_t N, Py_ssize_t C, real_t* out,
                                 const Py_ssize_t* size_in, const Py_ssize_t* size_out,
                                 const Py_ssize_t* k, real_t div, Py_ssize_t div2,
                                 Py_ssize_t div3, bint is_max, int num_threads) noexcept nogil:
    """Every output of a call that strided_rows_apply takes: the max of each window, or its
    sum (from 0, in scan order) divided by div, then by div2 and by div3 (1: none).  Work
    items are blocks of output rows of one (n, c, od) (rows_per_item), so that a few large
    planes still keep every thread busy."""
    cdef Py_ssize_t OD = size_out[0], OH = size_out[1], OW = size_out[2]
    cdef Py_ssize_t rpi = rows_per_item(N * C * OD, OH, OW, num_threads)
    cdef Py_ssize_t nblk = (OH + rpi - 1) // rpi
    cdef Py_ssize_t item, oh0, oh1
    cdef RowBlock rb
    for item in prange(N * C * OD * nblk, num_threads=num_threads, schedule='guided',
                       use_threads_if=num_threads > 1):
        rb = row_block(item, C, OD, nblk, 1, 1)  # rb.oh: the item's block of rows
        oh0 = rb.oh * rpi
        oh1 = oh0 + rpi if oh0 + rpi < OH else OH
        if k[0] * k[1] > STRIDED_ROWS:  # max only (strided_rows_apply)
            _max_slices(x + rb.n * sN + rb.c * sC, sD,
                        out + ((rb.n * C + rb.c) * OD + rb.od) * OH * OW, rb.od, oh0, oh1,
                        size_in, size_out, k)
        else:
            _strided_rows(x + rb.n * sN + rb.c * sC, sD,
                          out + ((rb.n * C + rb.c) * OD + rb.od) * OH * OW, rb.od, oh0, oh1,
                          size_in, size_out, k, div, div2, div3, is_max)
