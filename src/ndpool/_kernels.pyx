# cython: language_level=3
"""Private pooling kernels.  Arguments are trusted: ``ndpool._pooling`` validates them.

Every op sees a 5-D array in one of two memory layouts:

* channels-first ``(N, C, D, H, W)`` with unit-stride W.  One work item is a block of
  output positions along W for one ``(n, c, od, oh)`` (without indices: for a run of
  output rows, rows_per_item); loops run window tap by window tap over the whole block,
  so the innermost loop walks output width and vectorises.  Windows of 2 or 3 W taps
  fold all their taps of up to three window rows in one pass instead, and windows of
  more rows (3-D) in several such passes (_max_cf_fused, _avg_cf_fused; _spans.max_rows,
  sum_rows).
* channels-last ``(N, D, H, W, C)`` with unit-stride C.  One work item is a run of
  output pixels of one row (_cl_row_block), the D and H taps worked out once; the
  innermost loop walks channels and vectorises.  Without indices, whole blocks of
  channels fold every tap in registers (_cl_blocks.pxd: max_window_block,
  sum_window_block), the rest tap by tap.

Each output still sees its window elements in torch's scan order (d, then h, then w),
so ties, NaN and float sums come out exactly as in torch.  Other strides are free.

Float windows whose stride equals their size, unpadded (2x2/s2, 3x3/s3), of up to three
rows of 2 to 4 values, fold a row of outputs per call instead (_strided_rows.pxd); max
without indices, average.

Max pooling without indices of overlapping windows (stride-1 k >= 2 in 2-D, SPP's
5/9/13, k5s2, k7s2, ...) takes the separable path of ``_separable.pxd`` instead when a
pass-count cost model says it pays (``_separable_pays``): reductions along W, then H,
then D, O(log k) vector passes per axis, byte-identical to the raster scan.  Its tiles
are (od, block of output rows, block of output columns) for one channel (channels-first);
channels-last tiles are (n, od, a run of channels), streamed row by row through a ring
of the window's rows (sep_max_rows), and so are channels-first float32 planes of up to
SEP_LANES_CELLS cells, 8 at a time as the lanes of such a tile (_sep_max_lanes).
Per-thread scratch is allocated up front.

Channels-last max with indices of 4-byte types tracks indices as int32 while scanning
(the compare mask then selects values and indices alike on baseline SSE2) and widens
them once per pixel.
"""

from cpython.buffer cimport (PyBUF_RECORDS_RO, PyBuffer_IsContiguous, PyBuffer_Release,
                            PyObject_GetBuffer)
from cython.parallel cimport prange, threadid
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t)
from libc.stdlib cimport free, malloc
from libc.string cimport strchr

from ndpool._common cimport (Axis, RowBlock, pool_t, real_t, block_taps, divisor_factor,
                             first_pos,
                             lowest_value, out_range, read_geometry, row_block,
                             row_blocks, rows_per_item, tap_range, whole_windows)
from ndpool._folds cimport rows_max4, wide_fold
from ndpool._spans cimport (cl_max_2x2, cl_max_3x3, cl_sum_2x2, cl_sum_3x3, max_rows,
                            max_rows4, max_span, max_span_any, max_span_idx, max_step1,
                            max_span_idx32, max_update, sum_rows, sum_span, sum_span_any,
                            sum_taps_any, sum_taps_apart)
from ndpool._buffers cimport Strided, acquire_padded, format_kind
from ndpool._openmp cimport NDPOOL_OPENMP, omp_get_max_threads
from ndpool._lanes cimport lanes_in, lanes_out
from ndpool._separable cimport sep_max_item, sep_max_rows, sep_rows
from ndpool._strided_rows cimport strided_rows_apply, strided_rows_cf
from ndpool._int_rows cimport int_rows_apply, strided_max_int_cf
from ndpool._cl_narrow cimport NARROW_DIRECT_TAPS, narrow_applies, narrow_run
from ndpool._cl_blocks cimport (cl_block_len, cl_blocks_pay, exact_inverse, max_window_block,
                               sum_window_block)

# Output positions per channels-first work item: long rows are split so that a single
# long signal still keeps every thread busy, and a block of outputs stays in L1.
cdef enum:
    W_BLOCK = 512

# Channels-first planes per work item of _avg_cf_windows' side-by-side form.
cdef enum:
    PLANE_GROUP = 8

# Separable tiles: each of the two ping-pong buffers of a thread holds about this many
# bytes (L2-sized); a channels-last tile takes channels in runs (multiples of CL_RUN)
# as long as the budget allows before it cuts the rows into blocks, whose halos cost
# (tuned on the 2-core dev VM: a 64 KiB budget was up to 1.5x slower channels-last, and
# runs of 64 that cut rows 2x slower for float64).
# Channels-last tiles stream rows (_sep_max_cl): a tile takes as many channels as keep
# the window's W-reduced rows within SEP_CL_WINDOW_BYTES, and reduces each input row
# along W in chunks of SEP_CL_CHUNK_BYTES (measured on SPP's (8, 512, 19, 19) float32,
# one thread: 128 KiB windows beat 64 KiB at k13 and 256 KiB or all 512 channels by
# 1.1-1.3x; 256-byte chunks beat 128-byte ones by 1.1x).
cdef enum:
    SEP_CL_WINDOW_BYTES = 128 * 1024
    SEP_CL_CHUNK_BYTES = 256
cdef enum:
    SEP_BUF_BYTES = 512 * 1024
    SEP_W_TILE = 1024
    CL_RUN = 16
    SEP_MAX_SCRATCH = 64 * 1024 * 1024
# Channels-first float32 planes of up to SEP_LANES_CELLS cells (and outputs) go through
# the separable passes 8 at a time, as the lanes of a channels-last tile (_sep_max_lanes).
cdef enum:
    SEP_LANES_CELLS = 1024


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(NDPOOL_OPENMP)


def max_threads():
    """OpenMP's current thread limit (honours OMP_NUM_THREADS and threadpoolctl)."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------------------
# Work items.  `plane` points at x[n, c, 0, 0, 0] (channels-first) or x[n, 0, 0, 0, 0]
# (channels-last); `s*` are element strides.

cdef enum:
    RANGE_CACHE = 32  # W taps whose output ranges a channels-first item computes up front


cdef inline bint cache_out_ranges(const Axis* aw, Py_ssize_t kw0, Py_ssize_t kw1, Py_ssize_t w0,
                                  Py_ssize_t w1, Py_ssize_t* rr) noexcept nogil:
    """rr[2t], rr[2t+1] = out_range of W tap kw0 + t, once per item instead of once per
    (d, h) tap pair: its two integer divisions cost more than a short row's adds."""
    cdef Py_ssize_t kw
    if kw1 - kw0 > RANGE_CACHE:
        return False
    for kw in range(kw0, kw1):
        out_range(aw, kw * aw.dilation - aw.pad_lo, w0, w1, &rr[2 * (kw - kw0)],
                  &rr[2 * (kw - kw0) + 1])
    return True


cdef inline bint _windows_pay(const Axis* aw, Py_ssize_t outputs) noexcept nogil:
    """Whether a channels-first row block of this many outputs is reduced a window at a
    time rather than a tap at a time (one call per tap and row, for all outputs): for
    few outputs a row, or wide windows that strided taps serve poorly (measured on 7x7
    to 112x112 maps, float32, both max and average)."""
    return aw.dilation == 1 and (outputs <= 4 or (aw.kernel >= 4 and 2 * aw.kernel >= outputs)
                                 or (aw.kernel >= 5 and aw.stride >= 2))


cdef inline bint _plane_groups_pay(const Axis* ax) noexcept nogil:
    """Whether channels-first averages take _avg_cf_windows' side-by-side planes: where
    _windows_pay for whole rows, and for disjoint windows on maps of at most 64 outputs
    (3x3/s3/p1 on 14x14 1.2-1.5x).  Overlapping windows there were 0.8-0.9x: the
    tap-at-a-time forms reuse the rows."""
    cdef Py_ssize_t outputs = ax[0].size_out * ax[1].size_out * ax[2].size_out
    return _windows_pay(&ax[2], ax[2].size_out) or (
        outputs <= 64 and ax[1].stride >= ax[1].kernel and ax[2].stride >= ax[2].kernel)


cdef void _max_cf_wide(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* orow,
                       Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                       const Axis* ax) noexcept nogil:
    """_max_cf_item without indices where _windows_pay: a window at a time, in four chains
    (_folds.rows_max4), or one run where the window's cells are contiguous."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, i, nd, nh, nw
    cdef Py_ssize_t rD = sD * ax[0].dilation, rH = sH * ax[1].dilation
    cdef const pool_t* first
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    nd = kd1 - kd0
    nh = kh1 - kh0
    for i in range(w0, w1):
        tap_range(aw, i, &kw0, &kw1)
        nw = kw1 - kw0
        first = (plane + (od * ax[0].stride - ax[0].pad_lo + kd0 * ax[0].dilation) * sD
                 + (oh * ax[1].stride - ax[1].pad_lo + kh0 * ax[1].dilation) * sH
                 + i * aw.stride - aw.pad_lo + kw0)
        if (nh == 1 or rH == nw) and (nd == 1 or rD == nh * nw):
            orow[i] = wide_fold(first, nd * nh * nw)  # one contiguous run
        else:
            orow[i] = rows_max4(first, rD, rH, nd, nh, nw)


cdef void _max_cf_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* orow,
                       int64_t* irow, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                       const Axis* ax) noexcept nogil:
    """Outputs out[n, c, od, oh, w0:w1]; indices too when irow is not NULL."""
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, id_, ih, off, r0, r1, i
    cdef const Axis* aw = &ax[2]
    cdef const pool_t* src
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef Py_ssize_t rr[2 * RANGE_CACHE]
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    block_taps(aw, w0, w1, &kw0, &kw1)
    cdef bint cached = cache_out_ranges(aw, kw0, kw1, w0, w1, rr)
    for i in range(w0, w1):
        orow[i] = lowest
    if irow != NULL:
        # If no element beats the start value, torch reports the first element visited.
        id_ = od * ax[0].stride - ax[0].pad_lo + kd0 * ax[0].dilation
        ih = oh * ax[1].stride - ax[1].pad_lo + kh0 * ax[1].dilation
        for i in range(w0, w1):
            irow[i] = (id_ * ax[1].size_in + ih) * aw.size_in + first_pos(aw, i)
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
        for kh in range(kh0, kh1):
            ih = oh * ax[1].stride - ax[1].pad_lo + kh * ax[1].dilation
            src = plane + id_ * sD + ih * sH
            for kw in range(kw0, kw1):
                off = kw * aw.dilation - aw.pad_lo
                if cached:
                    r0 = rr[2 * (kw - kw0)]
                    r1 = rr[2 * (kw - kw0) + 1]
                else:
                    out_range(aw, off, w0, w1, &r0, &r1)
                if r1 == r0:
                    continue
                if irow == NULL:
                    max_span_any(src + r0 * aw.stride + off, aw.stride, orow + r0, r1 - r0)
                else:
                    max_span_idx(src + r0 * aw.stride + off, aw.stride, orow + r0, irow + r0, r1 - r0,
                                  (id_ * ax[1].size_in + ih) * aw.size_in + r0 * aw.stride + off, aw.stride)


cdef struct FusedW:
    # Where the W taps of a channels-first block [w0, w1) fold in one pass (max_rows):
    # taps kw0 + (0, 1[, 2]) reach inside the input for every output in [f0, f1); the
    # outputs of [w0, f0) and [f1, w1) (padding or clipped windows) keep their own tap
    # ranges, edge_t0/edge_t1[i - w0] for i < f0 and [RANGE_CACHE + i - f1] for i >= f1.
    Py_ssize_t kw0, taps, f0, f1
    Py_ssize_t edge_t0[2 * RANGE_CACHE]
    Py_ssize_t edge_t1[2 * RANGE_CACHE]


cdef bint _fused_w(const Axis* aw, Py_ssize_t w0, Py_ssize_t w1, FusedW* f,
                   Py_ssize_t max_taps) noexcept nogil:
    """Fill f; returns False where the fused form does not apply (dilation, windows of
    more than max_taps W taps, a block with no common interior or long clipped edges)."""
    cdef Py_ssize_t kw1, t, i, r0, r1
    if aw.dilation != 1:
        return False
    block_taps(aw, w0, w1, &f.kw0, &kw1)
    f.taps = kw1 - f.kw0
    if f.taps < 2 or f.taps > max_taps:
        return False
    f.f0 = w0
    f.f1 = w1
    for t in range(f.taps):
        out_range(aw, f.kw0 + t - aw.pad_lo, w0, w1, &r0, &r1)
        f.f0 = r0 if r0 > f.f0 else f.f0
        f.f1 = r1 if r1 < f.f1 else f.f1
    if f.f1 <= f.f0 or f.f0 - w0 > RANGE_CACHE or w1 - f.f1 > RANGE_CACHE:
        return False
    for i in range(w0, f.f0):
        tap_range(aw, i, &f.edge_t0[i - w0], &f.edge_t1[i - w0])
    for i in range(f.f1, w1):
        tap_range(aw, i, &f.edge_t0[RANGE_CACHE + i - f.f1], &f.edge_t1[RANGE_CACHE + i - f.f1])
    return True


cdef inline Py_ssize_t _fused_taps(const Axis* aw, bint is_float) noexcept nogil:
    """Widest window the fused form takes: 3 taps, and 4 for float windows 4 apart
    (k4s4), which _strided_folds.h de-interleaves; other 4-tap windows keep the
    tap-by-tap spans, whose constant steps 1 and 2 vectorise."""
    return 4 if is_float and aw.stride == 4 else 3


cdef inline pool_t _max_edge(const pool_t** rows, Py_ssize_t nrows, Py_ssize_t pos,
                             Py_ssize_t t0, Py_ssize_t t1) noexcept nogil:
    """Scalar fold of taps [t0, t1) at input position pos + t of each row, in scan order."""
    cdef pool_t m = lowest_value(<pool_t>0)
    cdef Py_ssize_t r, t
    for r in range(nrows):
        for t in range(t0, t1):
            m = max_step1(m, rows[r][pos + t])
    return m


cdef enum:
    MAX_ROWS = 64  # window rows (d, h taps) that the fused channels-first item holds
    WIDE_FLAT = 7  # the widest windows _avg_cf_flat takes (in groups of 3 or 2 taps)


cdef inline void _window_rows(const pool_t* first, Py_ssize_t apart, Py_ssize_t n,
                              const pool_t** rows) noexcept nogil:
    """rows[k] = first + k * apart for k < n, by a running pointer: the product form,
    inlined in the per-row fused items, was vectorised by gcc into a 64-bit multiply
    set-up for up to MAX_ROWS rows that ran for every output row (about 40% of a k2s2
    max on 112-wide rows)."""
    cdef Py_ssize_t k
    for k in range(n):
        rows[k] = first
        first += apart


cdef bint _max_cf_fused(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* orow,
                        Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                        const Axis* ax, const FusedW* f) noexcept nogil:
    """_max_cf_item without indices for a block with a fused W form: the interior
    [f0, f1) in passes of up to three window rows each (max_rows; later passes go through
    `part` and update the first's folds), or all four rows at once (max_rows4), the
    edges scalar.  Returns False (nothing
    written) for windows of more than MAX_ROWS rows."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kd, kh, id_, ih, i, r, nrows, n
    cdef const pool_t* rows[MAX_ROWS]
    cdef pool_t part[W_BLOCK]
    cdef Py_ssize_t shift = f.f0 * aw.stride + f.kw0 - aw.pad_lo
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    nrows = (kd1 - kd0) * (kh1 - kh0) if kd1 > kd0 and kh1 > kh0 else 0
    if nrows > MAX_ROWS:
        return False
    nrows = 0
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
        ih = oh * ax[1].stride - ax[1].pad_lo + kh0 * ax[1].dilation
        _window_rows(plane + id_ * sD + ih * sH, ax[1].dilation * sH, kh1 - kh0, rows + nrows)
        nrows += kh1 - kh0
    if nrows == 0:
        for i in range(w0, w1):
            orow[i] = lowest_value(<pool_t>0)
        return True
    # Four rows (2x2x2 windows) in one pass where there is a vector form for it; the
    # outputs it leaves go on below.
    cdef Py_ssize_t done = 0, o0, width
    if nrows == 4:
        done = max_rows4(rows[0] + shift, rows[1] + shift, rows[2] + shift, rows[3] + shift,
                         aw.stride, orow + f.f0, f.f1 - f.f0, f.taps)
    shift += done * aw.stride
    o0 = f.f0 + done
    width = f.f1 - o0
    # Up to three rows per pass; the folds of later passes update the first's (a fold of
    # a sequence is the update of its first part's fold by the rest's).
    r = 0 if width > 0 else nrows
    while r < nrows:
        n = nrows - r if nrows - r < 3 else 3
        max_rows(rows[r] + shift, rows[r + 1 if n > 1 else r] + shift,
                 rows[r + 2 if n > 2 else r] + shift, aw.stride,
                 orow + o0 if r == 0 else part, width, f.taps, <int>n)
        if r > 0:
            for i in range(width):
                orow[o0 + i] = max_update(orow[o0 + i], part[i])
        r += n
    for i in range(w0, f.f0):
        orow[i] = _max_edge(rows, nrows, i * aw.stride - aw.pad_lo, f.edge_t0[i - w0],
                            f.edge_t1[i - w0])
    for i in range(f.f1, w1):
        orow[i] = _max_edge(rows, nrows, i * aw.stride - aw.pad_lo,
                            f.edge_t0[RANGE_CACHE + i - f.f1], f.edge_t1[RANGE_CACHE + i - f.f1])
    return True


cdef void _max_cf_rows(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* out,
                       Py_ssize_t OW, Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1,
                       Py_ssize_t w0, Py_ssize_t w1, const Axis* ax) noexcept nogil:
    """Outputs out[oh, w0:w1] for oh in [oh0, oh1) (out points at out[n, c, od, 0, 0]),
    without indices: the W geometry is worked out once for all those rows."""
    cdef FusedW f
    cdef Py_ssize_t oh
    if _windows_pay(&ax[2], w1 - w0):
        for oh in range(oh0, oh1):
            _max_cf_wide(plane, sD, sH, out + oh * OW, od, oh, w0, w1, ax)
        return
    cdef bint fused = _fused_w(&ax[2], w0, w1, &f,
                               _fused_taps(&ax[2], pool_t is float or pool_t is double))
    for oh in range(oh0, oh1):
        if not (fused and _max_cf_fused(plane, sD, sH, out + oh * OW, od, oh, w0, w1, ax, &f)):
            _max_cf_item(plane, sD, sH, out + oh * OW, NULL, od, oh, w0, w1, ax)


cdef void _max_cl_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                       Py_ssize_t C, pool_t* opix, int64_t* ipix, Py_ssize_t od, Py_ssize_t oh,
                       Py_ssize_t ow, const Axis* ax) noexcept nogil:
    """Outputs out[n, od, oh, ow, :] tap by tap (a span per tap); indices too when ipix is
    not NULL.  _max_cl_row's pixels whose channels do not fold in blocks."""
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, id_, ih, iw, c
    cdef pool_t lowest = lowest_value(<pool_t>0)
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    tap_range(&ax[2], ow, &kw0, &kw1)
    for c in range(C):
        opix[c] = lowest
    if ipix != NULL:
        id_ = first_pos(&ax[0], od)
        ih = first_pos(&ax[1], oh)
        iw = first_pos(&ax[2], ow)
        for c in range(C):
            ipix[c] = (id_ * ax[1].size_in + ih) * ax[2].size_in + iw
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
        for kh in range(kh0, kh1):
            ih = oh * ax[1].stride - ax[1].pad_lo + kh * ax[1].dilation
            for kw in range(kw0, kw1):
                iw = ow * ax[2].stride - ax[2].pad_lo + kw * ax[2].dilation
                if ipix == NULL:
                    max_span(plane + id_ * sD + ih * sH + iw * sW, 1, opix, C)
                else:
                    max_span_idx(plane + id_ * sD + ih * sH + iw * sW, 1, opix, ipix, C,
                                  (id_ * ax[1].size_in + ih) * ax[2].size_in + iw, 0)


cdef enum:
    IDX_CHUNK = 256  # channels per pass of the int32-index channels-last kernel


cdef void _max_cl_item_idx32(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                             Py_ssize_t C, pool_t* opix, int64_t* ipix, Py_ssize_t od,
                             Py_ssize_t oh, Py_ssize_t ow, const Axis* ax) noexcept nogil:
    """_max_cl_item with indices, for 4-byte types and planes of fewer than 2**31 cells:
    indices are tracked as int32, the width of the values, so that the compare mask
    selects both without widening (baseline SSE2 cannot widen masks cheaply); they are
    converted to int64 once per pixel."""
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, id_, ih, iw, c, c0, n
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef int32_t idx[IDX_CHUNK]
    cdef int32_t first
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    tap_range(&ax[2], ow, &kw0, &kw1)
    first = <int32_t>((first_pos(&ax[0], od) * ax[1].size_in + first_pos(&ax[1], oh))
                      * ax[2].size_in + first_pos(&ax[2], ow))
    c0 = 0
    while c0 < C:
        n = C - c0 if C - c0 < IDX_CHUNK else IDX_CHUNK
        for c in range(n):
            opix[c0 + c] = lowest
            idx[c] = first
        for kd in range(kd0, kd1):
            id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
            for kh in range(kh0, kh1):
                ih = oh * ax[1].stride - ax[1].pad_lo + kh * ax[1].dilation
                for kw in range(kw0, kw1):
                    iw = ow * ax[2].stride - ax[2].pad_lo + kw * ax[2].dilation
                    max_span_idx32(plane + id_ * sD + ih * sH + iw * sW + c0, opix + c0, idx, n,
                                   <int32_t>((id_ * ax[1].size_in + ih) * ax[2].size_in + iw))
        for c in range(n):
            ipix[c0 + c] = idx[c]
        c0 += n


cdef void _max_cl_row(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                      Py_ssize_t C, pool_t* orow, int64_t* irow, Py_ssize_t od, Py_ssize_t oh,
                      Py_ssize_t ow0, Py_ssize_t ow1, const Axis* ax, bint idx32) noexcept nogil:
    """Outputs out[n, od, oh, ow0:ow1, :] (orow, irow point at pixel 0 of the row); indices
    too when irow is not NULL (as int32 while scanning where idx32), pixel by pixel.
    Without indices the D and H taps are worked out once for the row, and whole blocks of
    channels fold in registers (max_window_block) where they pay."""
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, ow, c, cb, nd, nh, nw, owa, owb
    cdef Py_ssize_t nb = cl_block_len(sizeof(pool_t))
    cdef const pool_t* first
    cdef const pool_t* src
    cdef bint narrow
    if irow != NULL:
        for ow in range(ow0, ow1):
            if idx32:
                _max_cl_item_idx32(plane, sD, sH, sW, C, orow + ow * C, irow + ow * C, od, oh,
                                   ow, ax)
            else:
                _max_cl_item(plane, sD, sH, sW, C, orow + ow * C, irow + ow * C, od, oh, ow, ax)
        return
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    nd = kd1 - kd0 if kd1 > kd0 else 0
    nh = kh1 - kh0 if kh1 > kh0 else 0
    first = (plane + (od * ax[0].stride - ax[0].pad_lo + kd0 * ax[0].dilation) * sD
             + (oh * ax[1].stride - ax[1].pad_lo + kh0 * ax[1].dilation) * sH)
    # The row's interior [owa, owb) of whole windows in one call: of any window for narrow
    # pixels (_cl_narrow.pxd), else of undilated 2x2 or 3x3 windows (cl_max).
    owa = owb = ow1
    narrow = nd * nh > 0 and narrow_applies(C, sW, sizeof(pool_t))
    if narrow or (nd == 1 and nh == ax[2].kernel and (nh == 2 or nh == 3)
                  and ax[1].dilation == 1 and ax[2].dilation == 1):
        whole_windows(&ax[2], ow0, ow1, &owa, &owb)
    if owb > owa:
        src = first + (owa * ax[2].stride - ax[2].pad_lo) * sW
        if narrow:
            narrow_run(src, ax[0].dilation * sD, ax[1].dilation * sH, nd, nh, ax[2].kernel,
                       ax[2].dilation, ax[2].stride, C, orow + owa * C, owb - owa, 0)
        elif nh == 2:
            cl_max_2x2(src, src + sH, sW, ax[2].stride * sW, orow + owa * C, C, C, owb - owa)
        else:
            cl_max_3x3(src, src + sH, src + 2 * sH, sW, ax[2].stride * sW, orow + owa * C, C, C,
                       owb - owa)
    # The pixels either side of it, one at a time (a loop over the interior's pixels that
    # did nothing cost about 6 cycles a pixel: its counter went through memory).
    ow = ow0
    while ow < ow1:
        if ow == owa:
            ow = owb
            if ow >= ow1:
                break
        tap_range(&ax[2], ow, &kw0, &kw1)
        nw = kw1 - kw0 if kw1 > kw0 else 0
        if not cl_blocks_pay(nd * nh * nw, C, sizeof(pool_t)):
            _max_cl_item(plane, sD, sH, sW, C, orow + ow * C, NULL, od, oh, ow, ax)
            ow += 1
            continue
        cb = C - C % nb
        c = 0
        while c < cb:
            max_window_block(first + (ow * ax[2].stride - ax[2].pad_lo + kw0 * ax[2].dilation) * sW
                             + c, ax[0].dilation * sD, ax[1].dilation * sH, ax[2].dilation * sW,
                             nd, nh, nw, orow + ow * C + c)
            c += nb
        if cb < C:
            _max_cl_item(plane + cb, sD, sH, sW, C - cb, orow + ow * C + cb, NULL, od, oh, ow,
                         ax)
        ow += 1


cdef void _avg_cf_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* orow,
                       Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                       const Axis* ax, bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, id_, ih, off, r0, r1, i, div_dh
    cdef const Axis* aw = &ax[2]
    cdef const pool_t* src
    cdef Py_ssize_t rr[2 * RANGE_CACHE]
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    block_taps(aw, w0, w1, &kw0, &kw1)
    cdef bint cached = cache_out_ranges(aw, kw0, kw1, w0, w1, rr)
    # 2 or 3 W taps (k2/k3 windows) are summed in one pass where all of them apply.
    cdef bint fused = cached and (kw1 - kw0 == 2 or kw1 - kw0 == 3)
    cdef Py_ssize_t fm0 = w0, fm1 = w1
    if fused:
        for kw in range(kw1 - kw0):
            fm0 = rr[2 * kw] if rr[2 * kw] > fm0 else fm0
            fm1 = rr[2 * kw + 1] if rr[2 * kw + 1] < fm1 else fm1
        if fm1 <= fm0:
            fused = False
    for i in range(w0, w1):
        orow[i] = 0
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd
        for kh in range(kh0, kh1):
            ih = oh * ax[1].stride - ax[1].pad_lo + kh
            src = plane + id_ * sD + ih * sH
            if fused:
                # Outputs that all taps reach: every tap in one pass, in tap order.
                sum_taps_any(src + fm0 * aw.stride + kw0 - aw.pad_lo, aw.stride, orow + fm0,
                             fm1 - fm0, kw1 - kw0)
            for kw in range(kw0, kw1):
                off = kw - aw.pad_lo
                if cached:
                    r0 = rr[2 * (kw - kw0)]
                    r1 = rr[2 * (kw - kw0) + 1]
                else:
                    out_range(aw, off, w0, w1, &r0, &r1)
                if fused:
                    # The rest, tap by tap: [r0, fm0) and [fm1, r1).
                    if r0 < fm0:
                        sum_span_any(src + r0 * aw.stride + off, aw.stride, orow + r0,
                                     (r1 if r1 < fm0 else fm0) - r0)
                    if fm1 > r0:
                        r0 = fm1
                if r1 > r0:
                    sum_span_any(src + r0 * aw.stride + off, aw.stride, orow + r0, r1 - r0)
    # One true division by an integer divisor, as torch does (not a multiply by 1/div).
    if divisor_override != 0:
        for i in range(w0, w1):
            orow[i] = orow[i] / <real_t>divisor_override
    else:
        div_dh = (divisor_factor(&ax[0], od, count_include_pad)
                  * divisor_factor(&ax[1], oh, count_include_pad))
        for i in range(w0, w1):
            orow[i] = orow[i] / <real_t>(div_dh * divisor_factor(aw, i, count_include_pad))


cdef inline real_t _avg_edge(const real_t** rows, Py_ssize_t nrows, Py_ssize_t pos,
                             Py_ssize_t t0, Py_ssize_t t1, Py_ssize_t div_dh, const Axis* aw,
                             Py_ssize_t i, bint count_include_pad,
                             Py_ssize_t divisor_override) noexcept nogil:
    """One edge output of _avg_cf_fused: taps [t0, t1) at pos + t of each row, in scan
    order from 0, then _avg_cf_item's division."""
    cdef real_t s = 0
    cdef Py_ssize_t r, t
    for r in range(nrows):
        for t in range(t0, t1):
            s = s + rows[r][pos + t]
    if divisor_override != 0:
        return s / <real_t>divisor_override
    return s / <real_t>(div_dh * divisor_factor(aw, i, count_include_pad))


cdef bint _avg_cf_fused(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* orow,
                        Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                        const Axis* ax, bint count_include_pad, Py_ssize_t divisor_override,
                        const FusedW* f) noexcept nogil:
    """_avg_cf_item for float inputs summed in their own type (pool_t is real_t), with a
    fused W form: the interior [f0, f1) in passes of up to three window rows each
    (sum_rows; later passes continue the sums of earlier ones, and only the last divides),
    the edges scalar; same additions in the same order, same division.  Returns False
    (nothing written) where it does not apply: interior windows of fewer taps than the
    kernel (their divisors vary), no rows, or more than MAX_ROWS."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kd, kh, id_, ih, i, r, n, nrows, div_dh
    cdef const real_t* rows[MAX_ROWS]
    cdef const real_t* start
    cdef real_t zeros[W_BLOCK]
    cdef Py_ssize_t shift = f.f0 * aw.stride + f.kw0 - aw.pad_lo, width = f.f1 - f.f0
    cdef real_t dv
    if divisor_override == 0 and f.taps != aw.kernel:
        return False
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    if kd1 <= kd0 or kh1 <= kh0 or (kd1 - kd0) * (kh1 - kh0) > MAX_ROWS:
        return False
    nrows = 0
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd
        ih = oh * ax[1].stride - ax[1].pad_lo + kh0
        _window_rows(<const real_t*>(plane + id_ * sD + ih * sH), sH, kh1 - kh0, rows + nrows)
        nrows += kh1 - kh0
    div_dh = (divisor_factor(&ax[0], od, count_include_pad)
              * divisor_factor(&ax[1], oh, count_include_pad))
    # Interior windows lie inside the input, so their W divisor is the kernel size.
    dv = <real_t>(divisor_override if divisor_override != 0 else div_dh * aw.kernel)
    for i in range(width):
        zeros[i] = 0
    r = 0
    while r < nrows:
        n = nrows - r if nrows - r < 3 else 3
        start = <const real_t*>zeros if r == 0 else orow + f.f0
        sum_rows(rows[r] + shift, rows[r + 1 if n > 1 else r] + shift,
                 rows[r + 2 if n > 2 else r] + shift, start, aw.stride, orow + f.f0, width,
                 f.taps, <int>n, dv if r + n == nrows else 1)
        r += n
    for i in range(w0, f.f0):
        orow[i] = _avg_edge(rows, nrows, i * aw.stride - aw.pad_lo, f.edge_t0[i - w0],
                            f.edge_t1[i - w0], div_dh, aw, i, count_include_pad, divisor_override)
    for i in range(f.f1, w1):
        orow[i] = _avg_edge(rows, nrows, i * aw.stride - aw.pad_lo,
                            f.edge_t0[RANGE_CACHE + i - f.f1], f.edge_t1[RANGE_CACHE + i - f.f1],
                            div_dh, aw, i, count_include_pad, divisor_override)
    return True


cdef void _avg_cf_flat(const real_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* out,
                       Py_ssize_t OW, Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1,
                       const Axis* ax, bint count_include_pad, Py_ssize_t divisor_override,
                       const FusedW* f) noexcept nogil:
    """Rows [oh0, oh1) of _avg_cf_fused at once, for rows whose H taps all lie inside the
    input, with stride 1 along H and W and input rows OW apart (sH == OW, stride-1 "same"
    pooling).  Output q = oh * OW + ow then reads input q + (kh - pad_h) * OW + kw - pad_w
    whatever its row, so the rows form one span for sum_rows: short rows (a 35-wide map)
    no longer pay each row's set-up and tail.  A window that crosses a row end reads the
    neighbouring row; those outputs are the edges, recomputed after.  The span starts at
    the first row's f0 and ends at the last row's f1, so nothing outside the plane is
    read.  Same additions in the same order, same division, as _avg_cf_fused."""
    cdef const Axis* aw = &ax[2]
    cdef const Axis* ah = &ax[1]
    cdef Py_ssize_t kd0, kd1, kd, kh, nrows = 0, r, n, c, q1, span, oh, t
    cdef const real_t* rows[MAX_ROWS]
    cdef real_t zeros[W_BLOCK]
    cdef Py_ssize_t shift = f.kw0 - aw.pad_lo
    tap_range(&ax[0], od, &kd0, &kd1)
    for kd in range(kd0, kd1):
        for kh in range(ah.kernel):
            # Input row kh of output row 0's window (may lie before the plane: only offsets
            # inside it are read).
            rows[nrows] = plane + (od * ax[0].stride - ax[0].pad_lo + kd) * sD + (kh - ah.pad_lo) * sH
            nrows += 1
    cdef Py_ssize_t div_dh = (divisor_factor(&ax[0], od, count_include_pad)
                              * divisor_factor(ah, oh0, count_include_pad))
    cdef real_t dv = <real_t>(divisor_override if divisor_override != 0 else div_dh * aw.kernel)
    for c in range(W_BLOCK):
        zeros[c] = 0
    c = oh0 * OW + f.f0
    q1 = (oh1 - 1) * OW + f.f1
    while c < q1:
        span = q1 - c if q1 - c < W_BLOCK else W_BLOCK
        r = 0
        while r < nrows and f.taps <= 3:
            n = nrows - r if nrows - r < 3 else 3
            sum_rows(rows[r] + shift + c, rows[r + 1 if n > 1 else r] + shift + c,
                     rows[r + 2 if n > 2 else r] + shift + c,
                     <const real_t*>zeros if r == 0 else out + c, 1, out + c, span, f.taps,
                     <int>n, dv if r + n == nrows else 1)
            r += n
        while r < nrows:
            # Wider windows: a row's taps in groups of 3 or 2 (sum_rows' forms), each
            # pass continuing the sums, so the additions keep their order.
            t = 0
            while t < f.taps:
                n = f.taps - t if f.taps - t <= 3 else (2 if f.taps - t == 4 else 3)
                sum_rows(rows[r] + shift + t + c, rows[r] + shift + t + c,
                         rows[r] + shift + t + c,
                         <const real_t*>zeros if r == 0 and t == 0 else out + c, 1, out + c,
                         span, n, 1, dv if r == nrows - 1 and t + n == f.taps else 1)
                t += n
            r += 1
        c += span
    for c in range(f.f0):
        _avg_edge_column(rows, nrows, out, OW, oh0, oh1, c, f.edge_t0[c], f.edge_t1[c], div_dh,
                         aw, count_include_pad, divisor_override)
    for c in range(f.f1, OW):
        _avg_edge_column(rows, nrows, out, OW, oh0, oh1, c, f.edge_t0[RANGE_CACHE + c - f.f1],
                         f.edge_t1[RANGE_CACHE + c - f.f1], div_dh, aw, count_include_pad,
                         divisor_override)


cdef enum:
    EDGE_LANES = 8  # rows whose edge outputs _avg_edge_column sums side by side


cdef void _avg_edge_column(const real_t** rows, Py_ssize_t nrows, real_t* out, Py_ssize_t OW,
                           Py_ssize_t oh0, Py_ssize_t oh1, Py_ssize_t c, Py_ssize_t t0,
                           Py_ssize_t t1, Py_ssize_t div_dh, const Axis* aw,
                           bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    """Edge column c of _avg_cf_flat's rows (taps [t0, t1) of every window row, as
    _avg_edge).  Each output is one chain of additions; EDGE_LANES rows advance together,
    so their chains overlap instead of each waiting on its own latency."""
    cdef real_t acc[EDGE_LANES]
    cdef Py_ssize_t lane[EDGE_LANES]
    cdef Py_ssize_t oh, j, m, r, t, pos = c * aw.stride - aw.pad_lo
    cdef real_t dv = <real_t>(divisor_override if divisor_override != 0
                              else div_dh * divisor_factor(aw, c, count_include_pad))
    cdef const real_t* p
    oh = oh0
    while oh < oh1:
        # Always EDGE_LANES lanes, a constant count, so that the compiler keeps them in
        # registers (with m of them, in memory: 1.1x on the I3D forward); lanes past the
        # last row repeat it.
        m = oh1 - oh if oh1 - oh < EDGE_LANES else EDGE_LANES
        for j in range(EDGE_LANES):
            acc[j] = 0
            lane[j] = (j if j < m else m - 1) * OW
        for r in range(nrows):
            p = rows[r] + oh * OW + pos  # rows are OW apart (sH == OW)
            for t in range(t0, t1):
                for j in range(EDGE_LANES):
                    acc[j] = acc[j] + p[lane[j] + t]
        for j in range(m):
            out[(oh + j) * OW + c] = acc[j] / dv
        oh += m


cdef inline void _side_by_side(const pool_t* plane, const Py_ssize_t* off, const bint eight,
                               Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t rD,
                               Py_ssize_t rH, real_t* acc) noexcept nogil:
    """_sum_windows of 4 windows, or 8 if `eight` (a constant where inlined, so the
    compiler keeps one loop of each width)."""
    cdef real_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t d, h, j, o
    for d in range(nd):
        for h in range(nh):
            o = d * rD + h * rH
            for j in range(nw):
                a0 = a0 + <real_t>plane[off[0] + o + j]
                a1 = a1 + <real_t>plane[off[1] + o + j]
                a2 = a2 + <real_t>plane[off[2] + o + j]
                a3 = a3 + <real_t>plane[off[3] + o + j]
                if eight:
                    a4 = a4 + <real_t>plane[off[4] + o + j]
                    a5 = a5 + <real_t>plane[off[5] + o + j]
                    a6 = a6 + <real_t>plane[off[6] + o + j]
                    a7 = a7 + <real_t>plane[off[7] + o + j]
    acc[0], acc[1], acc[2], acc[3] = a0, a1, a2, a3
    if eight:
        acc[4], acc[5], acc[6], acc[7] = a4, a5, a6, a7


cdef void _sum_windows(const pool_t* plane, const Py_ssize_t* off, Py_ssize_t cnt,
                       Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t rD, Py_ssize_t rH,
                       real_t* acc) noexcept nogil:
    """acc[q] = 0 + the cells of window q in scan order, for cnt <= 8 windows of nd x nh x nw
    cells starting at plane + off[q] (rows rH apart, depth slices rD): four or eight
    windows side by side are as many independent chains.  The 8-wide form serves
    _avg_cf_windows' planes, the 4-wide one its row groups (8 chains with spare ones for
    row groups measured 0.8-0.9x on 3- and 16-channel maps)."""
    cdef real_t a0
    cdef Py_ssize_t d, h, j, q, o
    if cnt == 8:
        _side_by_side(plane, off, True, nd, nh, nw, rD, rH, acc)
        return
    if cnt == 4:
        _side_by_side(plane, off, False, nd, nh, nw, rD, rH, acc)
        return
    for q in range(cnt):
        a0 = 0
        for d in range(nd):
            for h in range(nh):
                o = off[q] + d * rD + h * rH
                for j in range(nw):
                    a0 = a0 + <real_t>plane[o + j]
        acc[q] = a0


cdef inline void _divide_windows(const pool_t* plane, const Py_ssize_t* off,
                                 const Py_ssize_t* cell, const Py_ssize_t* div, Py_ssize_t cnt,
                                 Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t rD,
                                 Py_ssize_t rH, real_t* out, Py_ssize_t divisor_override) noexcept nogil:
    """out[cell[q]] = window q's sum / its divisor, for the cnt windows of _sum_windows."""
    cdef real_t acc[8]
    cdef Py_ssize_t q
    _sum_windows(plane, off, cnt, nd, nh, nw, rD, rH, acc)
    for q in range(cnt):
        out[cell[q]] = acc[q] / <real_t>(divisor_override if divisor_override != 0 else div[q])


cdef void _avg_cf_windows(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* out,
                          Py_ssize_t OW, Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1,
                          Py_ssize_t w0, Py_ssize_t w1, const Axis* ax, bint count_include_pad,
                          Py_ssize_t divisor_override, Py_ssize_t planes, Py_ssize_t sC,
                          Py_ssize_t oC) noexcept nogil:
    """_avg_cf_rows where _windows_pay: a window at a time, consecutive windows of the same
    clipped shape four at a time (_sum_windows), then _avg_cf_item's division.

    With planes > 1, the same window of `planes` planes (sC apart in the input, oC in
    out) is summed eight planes at a time instead: on small maps a row holds few windows,
    and clipped ones differ in shape, while every plane's window has the same."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, oh, i, p, o, d, cnt = 0, nh = 0, nw = 0
    cdef Py_ssize_t div_dh
    cdef Py_ssize_t rD = sD * ax[0].dilation, rH = sH * ax[1].dilation
    cdef Py_ssize_t off[8]
    cdef Py_ssize_t cell[8]
    cdef Py_ssize_t div[8]
    tap_range(&ax[0], od, &kd0, &kd1)
    cdef Py_ssize_t base = (od * ax[0].stride - ax[0].pad_lo + kd0 * ax[0].dilation) * sD
    for oh in range(oh0, oh1):
        tap_range(&ax[1], oh, &kh0, &kh1)
        div_dh = (divisor_factor(&ax[0], od, count_include_pad)
                  * divisor_factor(&ax[1], oh, count_include_pad))
        for i in range(w0, w1):
            tap_range(aw, i, &kw0, &kw1)
            o = (base + (oh * ax[1].stride - ax[1].pad_lo + kh0 * ax[1].dilation) * sH
                 + i * aw.stride - aw.pad_lo + kw0)
            d = div_dh * divisor_factor(aw, i, count_include_pad)
            if planes > 1:
                for p in range(planes):
                    off[p % 8] = o + p * sC
                    cell[p % 8] = oh * OW + i + p * oC
                    div[p % 8] = d
                    if p % 8 == 7 or p == planes - 1:
                        _divide_windows(plane, off, cell, div, p % 8 + 1, kd1 - kd0, kh1 - kh0,
                                        kw1 - kw0, rD, rH, out, divisor_override)
                continue
            if cnt > 0 and (kh1 - kh0 != nh or kw1 - kw0 != nw):  # a window of another shape
                _divide_windows(plane, off, cell, div, cnt, kd1 - kd0, nh, nw, rD, rH, out,
                                divisor_override)
                cnt = 0
            nh = kh1 - kh0
            nw = kw1 - kw0
            off[cnt] = o
            cell[cnt] = oh * OW + i
            div[cnt] = d
            cnt += 1
            if cnt == 4:
                _divide_windows(plane, off, cell, div, cnt, kd1 - kd0, nh, nw, rD, rH, out,
                                divisor_override)
                cnt = 0
    if cnt > 0:
        _divide_windows(plane, off, cell, div, cnt, kd1 - kd0, nh, nw, rD, rH, out,
                        divisor_override)


cdef void _avg_cf_rows(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* out,
                       Py_ssize_t OW, Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1,
                       Py_ssize_t w0, Py_ssize_t w1, const Axis* ax, bint count_include_pad,
                       Py_ssize_t divisor_override) noexcept nogil:
    """Outputs out[oh, w0:w1] for oh in [oh0, oh1), as _max_cf_rows; the fused form only
    for float inputs summed in their own type."""
    cdef FusedW f
    cdef Py_ssize_t oh, a = oh1, b = oh1, kd0, kd1
    cdef const Axis* ah = &ax[1]
    if _windows_pay(&ax[2], w1 - w0):
        _avg_cf_windows(plane, sD, sH, out, OW, od, oh0, oh1, w0, w1, ax, count_include_pad,
                        divisor_override, 1, 0, 0)
        return
    cdef bint fused = ((pool_t is float or pool_t is double) and sizeof(pool_t) == sizeof(real_t)
                       and _fused_w(&ax[2], w0, w1, &f, _fused_taps(&ax[2], True)))
    cdef bint flat = (fused or (
        (pool_t is float or pool_t is double) and sizeof(pool_t) == sizeof(real_t)
        and 3 < ax[2].kernel <= WIDE_FLAT and _fused_w(&ax[2], w0, w1, &f, ax[2].kernel)))
    if (flat and w0 == 0 and w1 == OW and sH == OW and ax[2].stride == 1 and ah.stride == 1
            and (divisor_override != 0 or f.taps == ax[2].kernel)):
        # Rows [a, b) whose H taps all lie inside the input go to _avg_cf_flat.
        tap_range(&ax[0], od, &kd0, &kd1)
        a = oh0 if oh0 > ah.pad_lo else ah.pad_lo
        b = ah.size_in - ah.kernel + ah.pad_lo + 1
        b = b if b < oh1 else oh1
        if b - a < 2 or kd1 <= kd0 or (kd1 - kd0) * ah.kernel > MAX_ROWS:
            a = b = oh1
    for oh in range(oh0, oh1):
        if oh == a:
            _avg_cf_flat(<const real_t*>plane, sD, sH, out, OW, od, a, b, ax, count_include_pad,
                         divisor_override, &f)
        if a <= oh < b:
            continue
        if not (fused and _avg_cf_fused(plane, sD, sH, out + oh * OW, od, oh, w0, w1, ax,
                                        count_include_pad, divisor_override, &f)):
            _avg_cf_item(plane, sD, sH, out + oh * OW, od, oh, w0, w1, ax, count_include_pad,
                         divisor_override)


cdef void _avg_cl_row(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                      Py_ssize_t C, real_t* orow, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t ow0,
                      Py_ssize_t ow1, const Axis* ax, bint count_include_pad,
                      Py_ssize_t divisor_override) noexcept nogil:
    """Outputs out[n, od, oh, ow0:ow1, :] (orow points at out[n, od, oh, 0, 0]): the D and
    H taps and divisor are worked out once for the row.  Whole blocks of channels sum in
    registers (sum_window_block) where they pay; the rest, tap-major spans.  Every channel
    gets 0 + its taps in scan order, then one division, as torch."""
    cdef Py_ssize_t kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, ow, c, cb, n, nd, nh, nw, div, div_dh
    cdef Py_ssize_t owa, owb
    cdef Py_ssize_t nb = cl_block_len(sizeof(real_t))
    cdef const pool_t* first
    cdef const pool_t* src
    cdef real_t* opix
    cdef real_t rdiv, rinv
    cdef bint narrow
    tap_range(&ax[0], od, &kd0, &kd1)
    tap_range(&ax[1], oh, &kh0, &kh1)
    nd = kd1 - kd0 if kd1 > kd0 else 0
    nh = kh1 - kh0 if kh1 > kh0 else 0
    first = (plane + (od * ax[0].stride - ax[0].pad_lo + kd0) * sD
             + (oh * ax[1].stride - ax[1].pad_lo + kh0) * sH)
    div_dh = (divisor_factor(&ax[0], od, count_include_pad)
              * divisor_factor(&ax[1], oh, count_include_pad))
    # The row's interior [owa, owb): whole windows, all with one divisor, in one call: any
    # window for narrow float pixels (_cl_narrow.pxd), else 2x2 or 3x3 (cl_sum).
    owa = owb = ow1
    narrow = (((pool_t is float and real_t is float) or (pool_t is double and real_t is double))
              and nd * nh > 0 and narrow_applies(C, sW, sizeof(pool_t)))
    if narrow or (nd == 1 and nh == ax[2].kernel and (nh == 2 or nh == 3)):
        whole_windows(&ax[2], ow0, ow1, &owa, &owb)
    if owb > owa:
        div = divisor_override if divisor_override != 0 else (
            div_dh * divisor_factor(&ax[2], owa, count_include_pad))
        rdiv = <real_t>div
        rinv = 1 / rdiv if exact_inverse(rdiv) else 0
        src = first + (owa * ax[2].stride - ax[2].pad_lo) * sW
        if narrow:
            narrow_run(<const real_t*>src, sD, sH, nd, nh, ax[2].kernel, 1, ax[2].stride, C,
                       orow + owa * C, owb - owa, div)
        elif nh == 2:
            cl_sum_2x2(src, src + sH, sW, ax[2].stride * sW, orow + owa * C, C, C, owb - owa,
                       rdiv, rinv)
        else:
            cl_sum_3x3(src, src + sH, src + 2 * sH, sW, ax[2].stride * sW, orow + owa * C, C, C,
                       owb - owa, rdiv, rinv)
    ow = ow0  # the pixels either side of the interior (as in _max_cl_row)
    while ow < ow1:
        if ow == owa:
            ow = owb
            if ow >= ow1:
                break
        tap_range(&ax[2], ow, &kw0, &kw1)
        nw = kw1 - kw0 if kw1 > kw0 else 0
        src = first + (ow * ax[2].stride - ax[2].pad_lo + kw0) * sW
        opix = orow + ow * C
        if divisor_override != 0:
            div = divisor_override
        else:
            div = div_dh * divisor_factor(&ax[2], ow, count_include_pad)
        rdiv = <real_t>div
        if nd == 1 and nh == nw and (nw == 2 or nw == 3):
            rinv = 1 / rdiv if exact_inverse(rdiv) else 0
            if nw == 2:
                cl_sum_2x2(src, src + sH, sW, 0, opix, 0, C, 1, rdiv, rinv)
            else:
                cl_sum_3x3(src, src + sH, src + 2 * sH, sW, 0, opix, 0, C, 1, rdiv, rinv)
            ow += 1
            continue
        cb = 0
        if cl_blocks_pay(nd * nh * nw, C, sizeof(real_t)):
            cb = C - C % nb
            c = 0
            while c < cb:
                sum_window_block(src + c, sD, sH, sW, nd, nh, nw, rdiv, opix + c)
                c += nb
            if cb == C:
                ow += 1
                continue
        for c in range(cb, C):
            opix[c] = 0
        for kd in range(nd):
            for kh in range(nh):
                kw = 0
                while kw < nw:  # up to three taps of the row per pass over the channels
                    n = nw - kw if nw - kw < 3 else 3
                    sum_taps_apart(src + kd * sD + kh * sH + kw * sW + cb, sW, opix + cb,
                                   C - cb, n)
                    kw += n
        for c in range(cb, C):
            opix[c] = opix[c] / rdiv
        ow += 1


cdef Py_ssize_t _cl_row_block(Py_ssize_t rows, Py_ssize_t OW, int num_threads) noexcept nogil:
    """Output pixels per channels-last work item: a whole output row, so that per-item set-up
    (index arithmetic, D and H taps) is spread over the row, cut in halves while there
    are fewer than 8 items per thread."""
    cdef Py_ssize_t b = OW
    while b > 1 and rows * ((OW + b - 1) // b) < 8 * num_threads:
        b = (b + 1) // 2
    return b


# ---------------------------------------------------------------------------------------
# Separable max pooling (see _separable.pxd): tiles of (od, oh block, ow block) for one
# channel (channels-first) or a run of channels (channels-last).

cdef Py_ssize_t _levels(Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t n = 0
    while k > 1:
        k //= 2
        n += 1
    return n


cdef bint _separable_pays(const Axis* ax) noexcept nogil:
    """Whether separable passes beat direct windows.  Cost in vector passes per output:
    direct reads kh * kw taps; separable gathers and reduces the padded input cells along
    W (about s_h * s_w per output, more where windows overhang few outputs), then the
    rows along H (skipped when kh == 1), then stores; kd multiplies both.  The threshold
    is fitted to single-thread timings on the dev VM (float32, both layouts): separable
    won at k2s1 (2-D), k3s1, k5s2, k7s2 and every larger stride-1 window, tied at k3s2
    and 1-D k2s1, lost at k2s2 and 1-D k3s2 (by up to 1.9x)."""
    cdef const Axis* ah = &ax[1]
    cdef const Axis* aw = &ax[2]
    cdef double rows = <double>sep_rows(ah, ah.size_out) / ah.size_out
    cdef double cols = <double>sep_rows(aw, aw.size_out) / aw.size_out
    cdef double direct = <double>ah.kernel * aw.kernel
    cdef double sep = rows * cols * (2 + _levels(aw.kernel)) + 1
    if ah.kernel > 1:
        sep += rows * (1 + _levels(ah.kernel))
    return 10 * direct >= 6 * sep


cdef int _sep_max_pool(const pool_t* xp, const Strided* x, pool_t* op,
                       const Axis* ax, bint channels_last, int num_threads) except -1:
    """Separable max pooling of x into out; returns 0 without touching out when the tiles
    would need more scratch than the direct kernel is worth (huge windows, e.g. a
    window as large as a huge input: the direct kernel then reads each element once)."""
    cdef int isz = sizeof(pool_t)
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t xs0 = x.step[0], xs1 = x.step[1], xs2 = x.step[2], xs3 = x.step[3]
    cdef Py_ssize_t C = x.shape[4] if channels_last else x.shape[1]
    cdef Py_ssize_t budget = SEP_BUF_BYTES // isz
    # Tile: OWB outputs along W, OHB along H, EB channels (1 for channels-first).
    cdef Py_ssize_t OWB = OW if OW < SEP_W_TILE else SEP_W_TILE
    cdef Py_ssize_t lw = sep_rows(&ax[2], OWB)
    cdef Py_ssize_t OHB = OH, EB = 1
    if channels_last and OW <= SEP_W_TILE and _sep_max_cl(xp, x, op, ax, num_threads):
        return 1
    if pool_t is float:
        if not channels_last and _sep_lanes_apply(x, ax, num_threads):
            _sep_max_lanes(xp, x, op, ax, num_threads)
            return 1
    if channels_last:
        EB = budget // (sep_rows(&ax[1], OH) * lw)
        EB = C if EB >= C else (CL_RUN if EB < CL_RUN else EB - EB % CL_RUN)
        if EB > C:
            EB = C
    while OHB > 1 and sep_rows(&ax[1], OHB) * lw * EB > budget:
        OHB = (OHB + 1) // 2
    cdef Py_ssize_t nwb = (OW + OWB - 1) // OWB, ncb = (C + EB - 1) // EB
    cdef Py_ssize_t nhb = (OH + OHB - 1) // OHB
    # Enough tiles for every thread (a few images with few channels).
    while OHB > 1 and N * ncb * OD * nhb * nwb < 4 * num_threads:
        OHB = (OHB + 1) // 2
        nhb = (OH + OHB - 1) // OHB
    cdef Py_ssize_t n_items = N * ncb * OD * nhb * nwb
    cdef Py_ssize_t buf_len = sep_rows(&ax[1], OHB) * lw * EB
    cdef Py_ssize_t per_thread = 2 * buf_len
    cdef double scratch_bytes = <double>sep_rows(&ax[1], OHB) * lw * EB * 2 * isz * num_threads
    cdef double x_bytes = <double>x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3] * x.shape[4] * isz
    if scratch_bytes > SEP_MAX_SCRATCH and scratch_bytes > x_bytes:
        return 0
    cdef pool_t* scratch = <pool_t*>malloc(num_threads * per_thread * isz)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t item, r, n, cb, od, hb, wb, c0, E, oh1, ow1
    cdef pool_t* mine
    try:
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            mine = scratch + threadid() * per_thread
            r = item
            wb = r % nwb
            r = r // nwb
            hb = r % nhb
            r = r // nhb
            od = r % OD
            r = r // OD
            cb = r % ncb
            n = r // ncb
            c0 = cb * EB
            E = EB if c0 + EB <= C else C - c0
            oh1 = (hb + 1) * OHB if (hb + 1) * OHB < OH else OH
            ow1 = (wb + 1) * OWB if (wb + 1) * OWB < OW else OW
            if channels_last:
                sep_max_item(xp + n * xs0 + c0, xs1, xs2, xs3, E,
                             op + (n * OD + od) * OH * OW * C + c0, OW * C, C,
                             od, hb * OHB, oh1, wb * OWB, ow1, ax,
                             mine, mine + buf_len)
            else:
                sep_max_item(xp + n * xs0 + cb * xs1, xs2, xs3, 1, 1,
                             op + ((n * C + cb) * OD + od) * OH * OW, OW, 1,
                             od, hb * OHB, oh1, wb * OWB, ow1, ax,
                             mine, mine + buf_len)
    finally:
        free(scratch)
    return 1


cdef inline bint _sep_lanes_apply(const Strided* x, const Axis* ax, int num_threads) noexcept nogil:
    """Whether _sep_max_lanes takes a channels-first call: planes and outputs of up to
    SEP_LANES_CELLS cells, its row scratch (huge padded windows' long rows) no larger,
    and enough groups of 8 planes to keep every thread busy."""
    cdef Py_ssize_t groups = (x.shape[0] * x.shape[1] + 7) // 8
    return (x.shape[2] * x.shape[3] * x.shape[4] <= SEP_LANES_CELLS
            and ax[0].size_out * ax[1].size_out * ax[2].size_out <= SEP_LANES_CELLS
            and _sep_lanes_rows(ax) <= SEP_LANES_CELLS
            and (num_threads == 1 or groups >= 4 * num_threads))


cdef inline Py_ssize_t _sep_lanes_rows(const Axis* ax) noexcept nogil:
    """Cells of sep_max_rows' scratch for one lane tile: two padded input rows and the ring
    of the window's rows of W-reduced outputs."""
    return 2 * sep_rows(&ax[2], ax[2].size_out) + sep_rows(&ax[1], 1) * ax[2].size_out


cdef int _sep_max_lanes(const float* xp, const Strided* x, float* op, const Axis* ax,
                        int num_threads) except -1:
    """Channels-first separable max of small planes, 8 at a time as the lanes of a
    channels-last tile (_lanes.pxd) streamed row by row (sep_max_rows).  A plane's own
    passes run on rows of 7 to 32 values, each a short loop with a scalar tail; the
    tile's run on whole vectors (A/B on the dev VM: SPP's 19x19 1.0-1.8x, 3x3/s1 to
    13x13/s1 on 7x7 to 28x28 maps 1.1-3.2x; 64x64 maps lost, 0.76x).  Each lane gets the
    operations a channels-last channel gets, so the bits are the same."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t P = OD * OH * OW, groups = (N * C + 7) // 8
    cdef Py_ssize_t lw = sep_rows(&ax[2], OW)
    cdef Py_ssize_t per_thread = (D * H * W + P + _sep_lanes_rows(ax)) * 8
    cdef float* scratch = <float*>malloc(num_threads * per_thread * sizeof(float))
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t item, u0, m, od
    cdef float* tile
    cdef float* otile
    cdef float* rows
    try:
        for item in prange(groups, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            tile = scratch + threadid() * per_thread
            otile = tile + D * H * W * 8
            rows = otile + P * 8
            u0 = 8 * item
            m = N * C - u0 if N * C - u0 < 8 else 8
            lanes_in(xp, x.step[0], x.step[1], x.step[2], x.step[3], C, D, H, W, u0, m, tile)
            for od in range(OD):
                sep_max_rows(tile, H * W * 8, W * 8, 8, 8, otile + od * OH * OW * 8, OW * 8, 8,
                             od, 0, OH, 0, OW, ax, rows, rows + lw * 8, rows + 2 * lw * 8, 8)
            lanes_out(otile, op, u0, m, P)
    finally:
        free(scratch)
    return 0


cdef int _sep_max_cl(const pool_t* xp, const Strided* x, pool_t* op, const Axis* ax,
                     int num_threads) except -1:
    """Channels-last separable max pooling streamed row by row (sep_max_rows): a tile is
    one (n, od) plane's whole output rows for a run of EB channels, EB chosen so that the
    window's rows of W-reduced values (kh * dilation rows of OW * EB) stay in L2.  Returns
    0 without touching out where that would take too much scratch (as _sep_max_pool)."""
    cdef int isz = sizeof(pool_t)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[4]
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t xs0 = x.step[0], xs1 = x.step[1], xs2 = x.step[2], xs3 = x.step[3]
    cdef Py_ssize_t span = (ax[1].kernel - 1) * ax[1].dilation + 1
    cdef Py_ssize_t EB = SEP_CL_WINDOW_BYTES // (span * OW * isz)
    EB = C if EB >= C else (CL_RUN if EB < CL_RUN else EB - EB % CL_RUN)
    if EB > C:
        EB = C
    cdef Py_ssize_t ncb = (C + EB - 1) // EB
    # Enough tiles for every thread: narrower runs of channels.
    while EB > CL_RUN and N * OD * ncb < 4 * num_threads:
        EB = ((EB + 1) // 2 + CL_RUN - 1) // CL_RUN * CL_RUN
        ncb = (C + EB - 1) // EB
    cdef Py_ssize_t lw = sep_rows(&ax[2], OW)
    cdef Py_ssize_t CE = SEP_CL_CHUNK_BYTES // isz
    if CE > EB:
        CE = EB
    cdef Py_ssize_t per_thread = 2 * lw * CE + span * OW * EB
    cdef Py_ssize_t n_items = N * OD * ncb
    cdef double x_bytes = <double>N * x.shape[1] * x.shape[2] * x.shape[3] * C * isz
    cdef double scratch_bytes = <double>per_thread * isz * num_threads
    if scratch_bytes > SEP_MAX_SCRATCH and scratch_bytes > x_bytes:
        return 0  # huge windows: left to _sep_max_pool's row blocks or the direct kernel
    cdef pool_t* scratch = <pool_t*>malloc(num_threads * per_thread * isz)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t item, n, cb, od, c0, E
    cdef pool_t* mine
    try:
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            mine = scratch + threadid() * per_thread
            cb = item % ncb
            od = (item // ncb) % OD
            n = item // (ncb * OD)
            c0 = cb * EB
            E = EB if c0 + EB <= C else C - c0
            sep_max_rows(xp + n * xs0 + c0, xs1, xs2, xs3, E,
                         op + (n * OD + od) * OH * OW * C + c0, OW * C, C,
                         od, 0, OH, 0, OW, ax, mine, mine + lw * CE, mine + 2 * lw * CE, CE)
    finally:
        free(scratch)
    return 1


cdef inline bint _strided_windows(const Axis* ax, Py_ssize_t* size_in, Py_ssize_t* size_out,
                                  Py_ssize_t* k) noexcept nogil:
    """Whether every axis has windows of stride equal to their size, undilated and unpadded
    (_strided_rows.pxd takes them where strided_rows_apply says so); fills the sizes."""
    cdef int a
    for a in range(3):
        if ax[a].stride != ax[a].kernel or ax[a].dilation != 1 or ax[a].pad_lo != 0:
            return False
        size_in[a] = ax[a].size_in
        size_out[a] = ax[a].size_out
        k[a] = ax[a].kernel
    return True


# ---------------------------------------------------------------------------------------
# Typed bodies of the entry points: x is read through element strides, out (and indices)
# are C-contiguous in the same axis order.

cdef int _max_impl(const pool_t* xp, const Strided* x, pool_t* op, int64_t* ip, const Axis* ax,
                   bint channels_last, int num_threads) except -1:
    cdef bint with_idx = ip != NULL
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t xs0 = x.step[0], xs1 = x.step[1], xs2 = x.step[2], xs3 = x.step[3]
    cdef Py_ssize_t C, nblk, n_items, item, ocell, rpi, ngrp, owb
    cdef bint idx32
    cdef RowBlock rb
    cdef Py_ssize_t size_in[3]
    cdef Py_ssize_t size_out[3]
    cdef Py_ssize_t k[3]
    if (pool_t is float or pool_t is double) and not with_idx and not channels_last \
            and _strided_windows(ax, size_in, size_out, k) \
            and strided_rows_apply(size_in, size_out, k, xs2, xs3, True):
        if pool_t is float or pool_t is double:
            with nogil:
                strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, size_in, size_out, k, 1, 1,
                                1, True, num_threads)
        return 0
    if not (pool_t is float or pool_t is double) and not with_idx and not channels_last \
            and _strided_windows(ax, size_in, size_out, k) \
            and int_rows_apply(size_in, size_out, k, sizeof(pool_t)):
        with nogil:
            strided_max_int_cf(xp, xs0, xs1, xs2, xs3, N, x.shape[1], op, size_out, k,
                               num_threads)
        return 0
    if not with_idx and _separable_pays(ax) \
            and not (channels_last and narrow_applies(x.shape[4], xs3, sizeof(pool_t))
                     and ax[0].kernel * ax[1].kernel * ax[2].kernel <= NARROW_DIRECT_TAPS) \
            and _sep_max_pool(xp, x, op, ax, channels_last, num_threads):
        return 0
    if not channels_last and not with_idx:
        C = x.shape[1]
        nblk = row_blocks(OW, W_BLOCK)
        rpi = rows_per_item(N * C * OD, OH, OW if OW < W_BLOCK else W_BLOCK, num_threads)
        ngrp = (OH + rpi - 1) // rpi
        n_items = N * C * OD * ngrp * nblk
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            rb = row_block(item, C, OD, ngrp, nblk * W_BLOCK, W_BLOCK)
            rb.w1 = rb.w1 if rb.w1 < OW else OW
            _max_cf_rows(xp + rb.n * xs0 + rb.c * xs1, xs2, xs3,
                         op + ((rb.n * C + rb.c) * OD + rb.od) * OH * OW, OW, rb.od,
                         rb.oh * rpi, (rb.oh + 1) * rpi if (rb.oh + 1) * rpi < OH else OH,
                         rb.w0, rb.w1, ax)
    elif not channels_last:
        C = x.shape[1]
        nblk = row_blocks(OW, W_BLOCK)
        n_items = N * C * OD * OH * nblk
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            rb = row_block(item, C, OD, OH, OW, W_BLOCK)
            rb.offset = (((rb.n * C + rb.c) * OD + rb.od) * OH + rb.oh) * OW
            _max_cf_item(xp + rb.n * xs0 + rb.c * xs1, xs2, xs3, op + rb.offset,
                         ip + rb.offset if with_idx else NULL, rb.od, rb.oh, rb.w0, rb.w1, ax)
    else:
        C = x.shape[4]
        idx32 = (with_idx and (pool_t is float or pool_t is int32_t or pool_t is uint32_t)
                 and <double>ax[0].size_in * ax[1].size_in * ax[2].size_in < 2147483647.0)
        owb = _cl_row_block(N * OD * OH, OW, num_threads)
        nblk = row_blocks(OW, owb)
        n_items = N * OD * OH * nblk
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            rb = row_block(item, 1, OD, OH, OW, owb)
            ocell = ((rb.n * OD + rb.od) * OH + rb.oh) * OW * C
            _max_cl_row(xp + rb.n * xs0, xs1, xs2, xs3, C, op + ocell,
                        ip + ocell if with_idx else NULL, rb.od, rb.oh, rb.w0, rb.w1, ax, idx32)
    return 0


cdef void _avg_impl(const pool_t* xp, const Strided* x, real_t* op, const Axis* ax,
                    bint count_include_pad, Py_ssize_t divisor_override, bint channels_last,
                    int num_threads) noexcept:
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t xs0 = x.step[0], xs1 = x.step[1], xs2 = x.step[2], xs3 = x.step[3]
    cdef Py_ssize_t C, nblk, n_items, item, rpi, ngrp, owb, n, od, c0
    cdef RowBlock rb
    cdef Py_ssize_t size_in[3]
    cdef Py_ssize_t size_out[3]
    cdef Py_ssize_t k[3]
    if ((pool_t is float and real_t is float) or (pool_t is double and real_t is double)) \
            and not channels_last and _strided_windows(ax, size_in, size_out, k) \
            and strided_rows_apply(size_in, size_out, k, xs2, xs3, False):
        # Windows inside the input: the divisor is the window size (count_include_pad does
        # not matter), one true division, as _avg_cf_item.
        if pool_t is float and real_t is float:
            with nogil:
                strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, size_in, size_out, k,
                                <float>(divisor_override if divisor_override != 0
                                        else k[0] * k[1] * k[2]), 1, 1, False, num_threads)
        elif pool_t is double and real_t is double:
            with nogil:
                strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, size_in, size_out, k,
                                <double>(divisor_override if divisor_override != 0
                                         else k[0] * k[1] * k[2]), 1, 1, False, num_threads)
        return
    if not channels_last and OW <= W_BLOCK and _plane_groups_pay(ax) \
            and N * OD * (x.shape[1] // PLANE_GROUP) >= 4 * num_threads:
        # PLANE_GROUP planes an item, their windows side by side.
        C = x.shape[1]
        ngrp = (C + PLANE_GROUP - 1) // PLANE_GROUP
        for item in prange(N * ngrp * OD, nogil=True, num_threads=num_threads,
                           schedule='guided', use_threads_if=num_threads > 1):
            od = item % OD
            c0 = (item // OD) % ngrp * PLANE_GROUP
            n = item // (OD * ngrp)
            _avg_cf_windows(xp + n * xs0 + c0 * xs1, xs2, xs3,
                            op + ((n * C + c0) * OD + od) * OH * OW, OW, od, 0, OH, 0, OW, ax,
                            count_include_pad, divisor_override,
                            PLANE_GROUP if c0 + PLANE_GROUP <= C else C - c0, xs1,
                            OD * OH * OW)
    elif not channels_last:
        C = x.shape[1]
        nblk = row_blocks(OW, W_BLOCK)
        rpi = rows_per_item(N * C * OD, OH, OW if OW < W_BLOCK else W_BLOCK, num_threads)
        ngrp = (OH + rpi - 1) // rpi
        n_items = N * C * OD * ngrp * nblk
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            rb = row_block(item, C, OD, ngrp, nblk * W_BLOCK, W_BLOCK)
            rb.w1 = rb.w1 if rb.w1 < OW else OW
            _avg_cf_rows(xp + rb.n * xs0 + rb.c * xs1, xs2, xs3,
                         op + ((rb.n * C + rb.c) * OD + rb.od) * OH * OW, OW, rb.od,
                         rb.oh * rpi, (rb.oh + 1) * rpi if (rb.oh + 1) * rpi < OH else OH,
                         rb.w0, rb.w1, ax, count_include_pad, divisor_override)
    else:
        C = x.shape[4]
        owb = _cl_row_block(N * OD * OH, OW, num_threads)
        nblk = row_blocks(OW, owb)
        n_items = N * OD * OH * nblk
        for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                           use_threads_if=num_threads > 1):
            rb = row_block(item, 1, OD, OH, OW, owb)
            _avg_cl_row(xp + rb.n * xs0, xs1, xs2, xs3, C,
                        op + ((rb.n * OD + rb.od) * OH + rb.oh) * OW * C, rb.od, rb.oh,
                        rb.w0, rb.w1, ax, count_include_pad, divisor_override)


# ---------------------------------------------------------------------------------------
# Entry points.  Plain (3- to 5-D) arrays arrive through the buffer protocol (_buffers.pxd), an
# explicit switch picks the typed body, float32 and float64 first: a fused `def` of typed
# memoryviews spent microseconds per call on dispatch and view set-up.

cdef enum:  # the pool_t types
    T_F32, T_F64, T_I8, T_I16, T_I32, T_I64, T_U8, T_U16, T_U32, T_U64

# Buffer format characters of the pool_t types (bool, '?', is read as uint8).
cdef const char* POOL_KINDS = b"fdbhilqnBHILQN?"


cdef int _type_code(const Py_buffer* view) except -1:
    """The pool_t type of a buffer, from its format character and item size."""
    cdef char k = format_kind(view)
    cdef Py_ssize_t size = view.itemsize
    cdef int width = 0 if size == 1 else 1 if size == 2 else 2 if size == 4 else 3 if size == 8 else -1
    if k == c'f' and size == 4:
        return T_F32
    if k == c'd' and size == 8:
        return T_F64
    if width >= 0 and k != 0 and strchr(b"bhilqn", k) != NULL:
        return T_I8 + width
    if width >= 0 and k != 0 and strchr(b"BHILQN?", k) != NULL:
        return T_U8 + width
    raise ValueError("kernel input dtype has no pooling kernel")


cdef int _read_table(object geometry, Axis* ax) except -1:
    """ax from the read-only (3, 7) int64 geometry table (see _common.pxd read_geometry)."""
    cdef Py_buffer gb
    PyObject_GetBuffer(geometry, &gb, PyBUF_RECORDS_RO)
    try:
        if (gb.ndim != 2 or gb.itemsize != 8 or gb.shape[0] != 3 or gb.shape[1] != 7
                or not PyBuffer_IsContiguous(&gb, b'C') or strchr(b"lq", format_kind(&gb)) == NULL):
            raise ValueError("geometry must be a C-contiguous (3, 7) int64 table")
        read_geometry(<const int64_t*>gb.buf, ax)
    finally:
        PyBuffer_Release(&gb)
    return 0


def max_pool(x, out, indices, geometry, bint channels_last, int num_threads):
    """Max pooling of x into out (and indices, unless None).

    x may have any strides but a unit-stride last axis; out (of x's dtype) and indices
    (int64) are C-contiguous in the same axis order.  geometry is the read-only (3, 7)
    int64 table whose rows are the D, H, W axes: (size_in, size_out, kernel, stride,
    dilation, pad_lo, pad_hi).  All sizes are non-zero.
    """
    cdef Axis ax[3]
    _read_table(geometry, ax)
    cdef Py_buffer xb, ob, ib
    cdef Strided xs, os, is_
    cdef int64_t* ip = NULL
    cdef int t
    acquire_padded(x, &xb, &xs, False, 0, POOL_KINDS, 3, 0 if channels_last else 1)
    try:
        t = _type_code(&xb)
        acquire_padded(out, &ob, &os, True, xb.itemsize, POOL_KINDS, 3, 0 if channels_last else 1)
        try:
            if _type_code(&ob) != t:
                raise ValueError("kernel output must have the input's dtype")
            if indices is not None:
                acquire_padded(indices, &ib, &is_, True, 8, b"lq", 3, 0 if channels_last else 1)
                ip = <int64_t*>is_.data
            try:
                if t == T_F32:
                    _max_impl(<const float*>xs.data, &xs, <float*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_F64:
                    _max_impl(<const double*>xs.data, &xs, <double*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_I8:
                    _max_impl(<const int8_t*>xs.data, &xs, <int8_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_I16:
                    _max_impl(<const int16_t*>xs.data, &xs, <int16_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_I32:
                    _max_impl(<const int32_t*>xs.data, &xs, <int32_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_I64:
                    _max_impl(<const int64_t*>xs.data, &xs, <int64_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_U8:
                    _max_impl(<const uint8_t*>xs.data, &xs, <uint8_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_U16:
                    _max_impl(<const uint16_t*>xs.data, &xs, <uint16_t*>os.data, ip, ax, channels_last, num_threads)
                elif t == T_U32:
                    _max_impl(<const uint32_t*>xs.data, &xs, <uint32_t*>os.data, ip, ax, channels_last, num_threads)
                else:
                    _max_impl(<const uint64_t*>xs.data, &xs, <uint64_t*>os.data, ip, ax, channels_last, num_threads)
            finally:
                if indices is not None:
                    PyBuffer_Release(&ib)
        finally:
            PyBuffer_Release(&ob)
    finally:
        PyBuffer_Release(&xb)


def avg_pool(x, out, geometry, bint count_include_pad, Py_ssize_t divisor_override,
             bint channels_last, int num_threads):
    """Average pooling of x into out (same layout; float32 for float32 x, float64
    otherwise); divisor_override 0 means none.  x, out and geometry as for max_pool."""
    cdef Axis ax[3]
    _read_table(geometry, ax)
    cdef Py_buffer xb, ob
    cdef Strided xs, os
    cdef int t
    acquire_padded(x, &xb, &xs, False, 0, POOL_KINDS, 3, 0 if channels_last else 1)
    try:
        t = _type_code(&xb)
        acquire_padded(out, &ob, &os, True, 4 if t == T_F32 else 8, b"fd", 3,
                       0 if channels_last else 1)
        try:
            if t == T_F32:
                _avg_impl(<const float*>xs.data, &xs, <float*>os.data, ax, count_include_pad,
                          divisor_override, channels_last, num_threads)
            else:
                _avg_cast(t, &xs, <double*>os.data, ax, count_include_pad, divisor_override,
                          channels_last, num_threads)
        finally:
            PyBuffer_Release(&ob)
    finally:
        PyBuffer_Release(&xb)


cdef void _avg_cast(int t, const Strided* xs, double* op, const Axis* ax, bint cip,
                    Py_ssize_t div, bint cl, int nt) noexcept:
    """avg_pool of every type but float32 (the output is float64)."""
    if t == T_F64:
        _avg_impl(<const double*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_I8:
        _avg_impl(<const int8_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_I16:
        _avg_impl(<const int16_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_I32:
        _avg_impl(<const int32_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_I64:
        _avg_impl(<const int64_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_U8:
        _avg_impl(<const uint8_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_U16:
        _avg_impl(<const uint16_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    elif t == T_U32:
        _avg_impl(<const uint32_t*>xs.data, xs, op, ax, cip, div, cl, nt)
    else:
        _avg_impl(<const uint64_t*>xs.data, xs, op, ax, cip, div, cl, nt)
