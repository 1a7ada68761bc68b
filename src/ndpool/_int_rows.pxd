# Channels-first integer maxima of windows 2 cells wide whose stride equals their size and
# that need no padding (2x2/s2, 2x2x2/s2, (3, 2)/(3, 2), ...), without indices.
#
# A max over integers is the same in any order, so a run of output rows goes in two passes
# that vectorise over long spans: the kd * kh input rows of each output row folded
# element by element into one row of a stack buffer (only the kw * OW values the windows
# read), then the W taps of the whole run at once, as one strided fold over the buffer
# (its rows follow each other with no gap).  The window-at-a-time forms of _kernels.pyx
# paid their per-row set-up (tap ranges, fused passes, scalar tails) on every output row:
# on C3D's 56-wide uint8 maps about 90 ns a row of 28 outputs, slower than float32 there.

from cython.parallel cimport prange
from libc.stdint cimport uint64_t

from ndpool._common cimport RowBlock, pool_t, row_block, rows_per_item
from ndpool._spans cimport max_rows, max_update

cdef enum:
    INT_RUN_BYTES = 16384  # folded input rows a pass holds (a stack buffer)
    INT_RUN_WORDS = 2048  # INT_RUN_BYTES in the buffer's 8-byte words
    INT_WINDOW_ROWS = 64  # kd * kh input rows per window, at most


cdef inline bint int_rows_apply(const Py_ssize_t* size_in, const Py_ssize_t* size_out,
                                const Py_ssize_t* k, Py_ssize_t itemsize) noexcept nogil:
    """Whether strided_max_int_cf takes windows k (D, H, W) at stride k, unpadded: every
    window inside the input, 2 cells wide (the W fold's one vectorised strided form,
    _spans.max_rows_s2t2r1; wider windows keep _kernels.pyx's forms), at most
    INT_WINDOW_ROWS rows a window, and one output row's folded row within the buffer."""
    cdef int a
    for a in range(3):
        if size_out[a] * k[a] > size_in[a]:
            return False
    return (k[2] == 2 and k[0] * k[1] <= INT_WINDOW_ROWS
            and k[2] * size_out[2] * itemsize <= INT_RUN_BYTES)


cdef inline void _fold_span(const pool_t** rows, Py_ssize_t nrows, Py_ssize_t i,
                            pool_t* dst, Py_ssize_t m) noexcept nogil:
    """dst[j] = max over the rows of rows[r][i + j], for j < m (nrows >= 2)."""
    cdef Py_ssize_t j, r
    for j in range(m):
        dst[j] = max_update(rows[0][i + j], rows[1][i + j])
    for r in range(2, nrows):
        for j in range(m):
            dst[j] = max_update(dst[j], rows[r][i + j])


cdef inline void _fold_rows(const pool_t** rows, Py_ssize_t nrows, pool_t* dst,
                            Py_ssize_t n) noexcept nogil:
    """dst[i] = max over the rows of rows[r][i], for i < n (nrows >= 2).  In blocks of 32
    bytes (a constant count, so each is one vector step), each folding every row before
    it is stored, the last block moved back to end at n (it folds some values again, to
    the same maxima): a row of 56 uint8 is two vector steps, where gcc's loop left 8
    scalar ones.  (Folding row after row in place over the whole row made each block's
    load wait on the previous, partly overlapping, store.)"""
    cdef Py_ssize_t v = 32 // sizeof(pool_t), i = 0
    if n < v:
        _fold_span(rows, nrows, 0, dst, n)
        return
    while i < n:
        if i > n - v:
            i = n - v
        _fold_span(rows, nrows, i, dst + i, v)
        i += v


cdef inline void _int_rows(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* out,
                           Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1,
                           const Py_ssize_t* size_out, const Py_ssize_t* k) noexcept nogil:
    """Output rows [oh0, oh1) of out[n, c, od] (out points at out[n, c, od, 0, 0]) from the
    plane x[n, c] (element strides sD, sH; unit W stride)."""
    cdef Py_ssize_t OW = size_out[2], kd = k[0], kh = k[1], kw = k[2]
    cdef Py_ssize_t span = kw * OW, nrows = kd * kh
    cdef Py_ssize_t per = INT_RUN_BYTES // (span * <Py_ssize_t>sizeof(pool_t))
    cdef Py_ssize_t o, q, q1, a, e, r
    cdef const pool_t* rows[INT_WINDOW_ROWS]
    cdef uint64_t buf[INT_RUN_WORDS]
    cdef pool_t* run = <pool_t*>buf
    o = oh0
    while o < oh1:
        q1 = o + per if o + per < oh1 else oh1
        for q in range(o, q1):
            r = 0
            for a in range(kd):
                for e in range(kh):
                    rows[r] = plane + (od * kd + a) * sD + (q * kh + e) * sH
                    r += 1
            if nrows == 1:  # the input row is the folded row: no copy
                max_rows(rows[0], rows[0], rows[0], kw, out + q * OW, OW, kw, 1)
                continue
            _fold_rows(rows, nrows, run + (q - o) * span, span)
        if nrows > 1:
            max_rows(run, run, run, kw, out + o * OW, (q1 - o) * OW, kw, 1)
        o = q1


cdef inline void strided_max_int_cf(const pool_t* x, Py_ssize_t sN, Py_ssize_t sC,
                                    Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t N, Py_ssize_t C,
                                    pool_t* out, const Py_ssize_t* size_out,
                                    const Py_ssize_t* k, int num_threads) noexcept nogil:
    """Every output of a call that int_rows_apply takes.  Work items are blocks of output
    rows of one (n, c, od) (rows_per_item), as in _strided_rows.pxd."""
    cdef Py_ssize_t OD = size_out[0], OH = size_out[1], OW = size_out[2]
    cdef Py_ssize_t rpi = rows_per_item(N * C * OD, OH, OW, num_threads)
    cdef Py_ssize_t nblk = (OH + rpi - 1) // rpi
    cdef Py_ssize_t item
    cdef RowBlock rb
    for item in prange(N * C * OD * nblk, num_threads=num_threads, schedule='guided',
                       use_threads_if=num_threads > 1):
        rb = row_block(item, C, OD, nblk, 1, 1)  # rb.oh: the item's block of rows
        _int_rows(x + rb.n * sN + rb.c * sC, sD, sH,
                  out + ((rb.n * C + rb.c) * OD + rb.od) * OH * OW, rb.od, rb.oh * rpi,
                  (rb.oh + 1) * rpi if (rb.oh + 1) * rpi < OH else OH, size_out, k)
