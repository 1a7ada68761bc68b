# cython: language_level=3
"""Private adaptive pooling kernels.  Arguments are trusted: ``ndpool._adaptive`` validates them.

Output o of an axis with In inputs and Out outputs reads the bin
[floor(o*In/Out), ceil((o+1)*In/Out)).  Bins may overlap, and repeat when Out > In.
The layouts are those of ``ndpool._kernels``:

* channels-first ``(N, C, D, H, W)`` with unit-stride W.  One work item is a block of
  output positions along W for one ``(n, c, od, oh)``.  Its outputs share their D and H
  bins, so the item walks each input row ``(id, ih)`` of those bins once, every output
  reading its own (contiguous) W bin.  Consecutive outputs are independent dependency
  chains, which the CPU overlaps.  Rows narrower than PLANES outputs offer too few
  chains, so there one item folds PLANES channels side by side instead (max without
  indices as plain maxima, NaN bins again in scan order).  Global
  averages, and global maxima of short planes, of contiguous planes fold NDP_PLANES
  planes per item, one vector lane per plane (_global_cf, _plane_sums.h).  Planes split
  into equal bins of a few rows of 2 to 4 values are windows with stride equal to their
  size (_strided_rows.pxd).
* channels-last ``(N, D, H, W, C)`` with unit-stride C.  One work item is one output
  pixel; the innermost loop walks channels and vectorises.

Each output sees its bin in torch's scan order (d, then h, then w): max keeps torch's
rule (first maximum, last NaN), and average sums in that order in the input's float type,
then divides by the bin sizes one after another, ``sum / kd / kh / kw`` (torch's
contiguous arithmetic).  Every output is computed by one thread, so results do not depend
on the thread count.
"""

from cython.parallel cimport prange
cimport ndpool._openmp  # one-thread regions without libgomp's team
from libc.stdint cimport int32_t, int64_t, INT32_MAX
from libc.stdlib cimport free, malloc

from ndpool._common cimport (Pixel, RowBlock, adaptive_end, adaptive_start, divide_span,
                             lowest_value, pixel, pool_t, real_t, row_block, row_blocks)
from ndpool._spans cimport (check_unit_inner, max_span, max_span_idx, max_span_idx32,
                            max_taps_apart, max_update, sum_span, sum_taps_apart)
from ndpool._strided_rows cimport strided_rows_apply, strided_rows_cf
from ndpool._cl_blocks cimport cl_block_len, cl_blocks_pay, max_window_block
from ndpool._folds cimport WIDE_BIN, bin_max, fold_scalar, wide_fold
from ndpool._lanes cimport lanes_divide, lanes_in, lanes_max, lanes_out, lanes_sum

cdef extern from "_plane_sums.h" nogil:
    enum: NDP_PLANES  # planes per call
    void ndp_prefetch(const void* p, Py_ssize_t nbytes)
    void ndp_sum16_f32(const float** rows, Py_ssize_t n, float* acc, const void* pf)
    void ndp_sum16_f64(const double** rows, Py_ssize_t n, double* acc, const void* pf)
    void ndp_sum16s_f32(const float* base, Py_ssize_t stride, Py_ssize_t n, float* acc,
                        const void* pf)
    void ndp_sum16s_f64(const double* base, Py_ssize_t stride, Py_ssize_t n, double* acc,
                        const void* pf)
    # As ndp_sum16*, with torch's max step, NaN aside; returns the planes holding a NaN
    # (bit p for plane p).
    int ndp_max16_f32(const float** rows, Py_ssize_t n, float* acc, const void* pf)
    int ndp_max16_f64(const double** rows, Py_ssize_t n, double* acc, const void* pf)
    int ndp_max16s_f32(const float* base, Py_ssize_t stride, Py_ssize_t n, float* acc,
                       const void* pf)
    int ndp_max16s_f64(const double* base, Py_ssize_t stride, Py_ssize_t n, double* acc,
                       const void* pf)
    void ndp_divide16_f32(float* acc, Py_ssize_t k)  # as divide_span(acc, NDP_PLANES, k)
    void ndp_divide16_f64(double* acc, Py_ssize_t k)

# Output positions per channels-first work item, as in ndpool._kernels: a long row is
# split so that a few long signals still keep every thread busy.
cdef enum:
    W_BLOCK = 512
# Channels-first rows narrower than this give too few independent chains to hide the
# latency of each step; such rows are computed PLANES channels at a time.  (Max folds
# plain maxima there: torch's NaN test stopped the compiler from keeping PLANES running
# maxima in registers.)
cdef enum:
    PLANES = 8
# Channels per channels-last max-with-indices pass: the indices of that many channels sit
# in a stack buffer (in L1) next to the running maxima.
cdef enum:
    C_BLOCK = 2048
# Global average planes up to this size are prefetched into L1 PREFETCH_AHEAD items ahead
# (_global_cf).  On Zen 4, against four items into L2: r3d_18's 6 MB head (in L3) 1.16x,
# the text CNN's 50 MB float32 input (from memory) 1.02-1.25x; one item was too close.
cdef enum:
    PREFETCH_PLANE_BYTES = 4096
    PREFETCH_AHEAD = 2
# Global max takes _global_cf for planes up to this size; longer planes fold as well one at
# a time (bin_max).  Against that, on the 2-core EPYC VM at 2 threads: 49 values 3.3x
# (float32) and 2.6x (float64) faster, 128 float64 values 1.2x, 256 float32 values
# 1.0-1.5x; 256 float64 values (the 100 MB text-CNN input) 0.8-0.9x, 784 float32 0.9x.
cdef enum:
    GLOBAL_MAX_PLANE_BYTES = 1024
# Channels-first max without indices on planes of up to LANES_IN cells (and LANES_OUT
# outputs) runs 8 planes at a time through the channels-last kernel (_max_cf_lanes).
cdef enum:
    LANES_IN = 512
    LANES_OUT = 256
cdef double MAX_EXACT_DOUBLE = 9007199254740992.0  # 2**53


cdef struct Bins:
    # Bin bounds of the D, H, W axes: output o of axis a reads [start[a][o], end[a][o]).
    Py_ssize_t size_in[3]
    Py_ssize_t size_out[3]
    Py_ssize_t* start[3]
    Py_ssize_t* end[3]


cdef Py_ssize_t* _make_bins(const int64_t[:, ::1] sizes, Bins* b) except NULL:
    """Fill b from the (3, 2) table of (size_in, size_out) rows; returns the buffer to free."""
    cdef Py_ssize_t a, o, total = 0
    for a in range(3):
        b.size_in[a] = sizes[a, 0]
        b.size_out[a] = sizes[a, 1]
        total += 2 * b.size_out[a]
    cdef Py_ssize_t* buf = <Py_ssize_t*>malloc(total * sizeof(Py_ssize_t))
    if buf == NULL:
        raise MemoryError()
    cdef Py_ssize_t* p = buf
    for a in range(3):
        b.start[a] = p
        b.end[a] = p + b.size_out[a]
        p += 2 * b.size_out[a]
        for o in range(b.size_out[a]):
            b.start[a][o] = adaptive_start(o, b.size_in[a], b.size_out[a])
            b.end[a][o] = adaptive_end(o, b.size_in[a], b.size_out[a])
    return buf


# ---------------------------------------------------------------------------------------
# Channels-first rows: outputs ow in [w0, w1) fold one input row `src` (unit stride) into
# their running values, each over its own W bin [ws[ow], we[ow]).

cdef inline void _max_row(const pool_t* src, pool_t* orow, const Py_ssize_t* ws,
                          const Py_ssize_t* we, Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    cdef Py_ssize_t ow, iw
    cdef pool_t v, m
    for ow in range(w0, w1):
        m = orow[ow]
        if we[ow] - ws[ow] >= WIDE_BIN:
            # Fold of the earlier rows, updated by this row's fold (see _folds.bin_max).
            orow[ow] = max_update(m, bin_max(src + ws[ow], we[ow] - ws[ow]))
            continue
        for iw in range(ws[ow], we[ow]):
            v = src[iw]
            # torch's rule: strictly greater wins (first max kept), any NaN wins (last NaN kept).
            # Written as a plain max (maxss / cmov) plus a NaN test that real data rarely
            # takes: a combined condition compiles to a branch that random data mispredicts.
            m = v if v > m else m
            if pool_t is float or pool_t is double:
                if v != v:
                    m = v
        orow[ow] = m


cdef inline void _max_row_idx(const pool_t* src, int64_t flat, pool_t* orow, int64_t* irow,
                              const Py_ssize_t* ws, const Py_ssize_t* we, Py_ssize_t w0,
                              Py_ssize_t w1) noexcept nogil:
    """As _max_row, also tracking indices; `flat` is the flat index of src[0] in its plane."""
    cdef Py_ssize_t ow, iw
    cdef pool_t v, m
    cdef int64_t k
    cdef bint take
    for ow in range(w0, w1):
        m = orow[ow]
        k = irow[ow]
        for iw in range(ws[ow], we[ow]):
            v = src[iw]
            take = v > m  # branch-free selects, a rare NaN branch: as _max_row
            m = v if take else m
            k = flat + iw if take else k
            if pool_t is float or pool_t is double:
                if v != v:
                    m = v
                    k = flat + iw
        orow[ow] = m
        irow[ow] = k


cdef inline void _sum_row(const pool_t* src, real_t* orow, const Py_ssize_t* ws,
                          const Py_ssize_t* we, Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    cdef Py_ssize_t ow, iw
    cdef real_t s
    for ow in range(w0, w1):
        s = orow[ow]
        for iw in range(ws[ow], we[ow]):
            s = s + src[iw]
        orow[ow] = s


# ---------------------------------------------------------------------------------------
# Divisions by a bin size k.  Where k is a power of two, r * (1/k) is the same correctly
# rounded quotient as r / k (1/k is exact), and much cheaper; k = 1 is skipped.

cdef inline real_t _divide(real_t r, Py_ssize_t k) noexcept nogil:
    if k == 1:
        return r
    if (k & (k - 1)) == 0:
        return r * (<real_t>1 / <real_t>k)
    return r / <real_t>k


# ---------------------------------------------------------------------------------------
# Channels-last max with indices, vectorised: the index lanes have the width of the value
# lanes, so that one compare mask selects both (SSE2 has no 64-bit integer compare, and
# widening a float mask to int64 lanes costs shuffles).  Per C_BLOCK channels, float keeps
# int32 indices (plane sizes below 2**31; _spans.max_span_idx32) and double keeps them as
# doubles (exact below 2**53); both are converted to int64 at the end.

cdef inline void _max_span_f64(const double* src, double* dst, double* idx, Py_ssize_t n,
                               double flat) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, m
    cdef bint take
    for i in range(n):
        v = src[i]
        m = dst[i]
        take = (v > m) | (v != v)  # torch's rule, as max_span
        dst[i] = v if take else m
        idx[i] = flat if take else idx[i]


# ---------------------------------------------------------------------------------------
# Work items.  `plane` points at x[n, c, 0, 0, 0] (channels-first) or x[n, 0, 0, 0, 0]
# (channels-last); `s*` are element strides.

cdef void _max_cf_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, pool_t* orow,
                       int64_t* irow, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0,
                       Py_ssize_t w1, const Bins* b) noexcept nogil:
    """Outputs out[n, c, od, oh, w0:w1]; indices too when irow is not NULL."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t H = b.size_in[1], W = b.size_in[2], id_, ih, ow
    cdef const Py_ssize_t* ws = b.start[2]
    cdef const Py_ssize_t* we = b.end[2]
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef pool_t m
    if irow == NULL and w1 - w0 == 1 and ws[w0] == 0 and we[w0] == W and sH == W:
        # A bin of whole contiguous rows (global pooling above all): one span per plane,
        # or one for the whole bin when the planes are contiguous too.  The fold of a
        # sequence is the update of its first piece's fold by the next piece's.
        m = lowest
        if sD == H * W and h0 == 0 and h1 == H:
            m = wide_fold(plane + d0 * sD, (d1 - d0) * H * W)
        else:
            for id_ in range(d0, d1):
                m = max_update(m, wide_fold(plane + id_ * sD + h0 * W, (h1 - h0) * W))
        orow[w0] = m
        return
    for ow in range(w0, w1):
        orow[ow] = lowest
    if irow == NULL:
        for id_ in range(d0, d1):
            for ih in range(h0, h1):
                _max_row(plane + id_ * sD + ih * sH, orow, ws, we, w0, w1)
    else:
        # If no element beats the start value, torch reports the bin's first element.
        for ow in range(w0, w1):
            irow[ow] = (d0 * H + h0) * W + ws[ow]
        for id_ in range(d0, d1):
            for ih in range(h0, h1):
                _max_row_idx(plane + id_ * sD + ih * sH, (id_ * H + ih) * W, orow, irow,
                             ws, we, w0, w1)


cdef void _max_cl_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                       Py_ssize_t C, pool_t* opix, int64_t* ipix, Py_ssize_t od, Py_ssize_t oh,
                       Py_ssize_t ow, const Bins* b) noexcept nogil:
    """Outputs out[n, od, oh, ow, :]; indices too when ipix is not NULL."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t w0 = b.start[2][ow], w1 = b.end[2][ow]
    cdef Py_ssize_t H = b.size_in[1], W = b.size_in[2], id_, ih, iw, c
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef Py_ssize_t blk, nb = cl_block_len(sizeof(pool_t))
    cdef Py_ssize_t cb = 0
    if cl_blocks_pay((d1 - d0) * (h1 - h0) * (w1 - w0), C, sizeof(pool_t)):
        cb = C - C % nb
    if ipix == NULL:
        # Whole blocks of channels in registers (max_window_block) where they pay, the rest
        # cell by cell.
        for blk in range(cb // nb):
            c = blk * nb
            max_window_block(plane + d0 * sD + h0 * sH + w0 * sW + c, sD, sH, sW,
                             d1 - d0, h1 - h0, w1 - w0, opix + c)
        for c in range(cb, C):
            opix[c] = lowest
        if cb < C:
            for id_ in range(d0, d1):
                for ih in range(h0, h1):
                    iw = w0
                    while iw < w1:  # up to three columns of the bin per pass over the channels
                        c = w1 - iw if w1 - iw < 3 else 3
                        max_taps_apart(plane + id_ * sD + ih * sH + iw * sW + cb, sW, opix + cb,
                                       C - cb, c)
                        iw += c
        return
    for c in range(C):
        opix[c] = lowest
    if pool_t is float:
        if b.size_in[0] * H * W <= INT32_MAX:
            _max_cl_idx_lanes(plane, sD, sH, sW, C, opix, ipix, d0, d1, h0, h1, w0, w1, H, W,
                              <int32_t>((d0 * H + h0) * W + w0))
        else:
            _max_cl_idx_any(plane, sD, sH, sW, C, opix, ipix, d0, d1, h0, h1, w0, w1, H, W)
    elif pool_t is double:
        if b.size_in[0] * H * W <= MAX_EXACT_DOUBLE:
            _max_cl_idx_lanes(plane, sD, sH, sW, C, opix, ipix, d0, d1, h0, h1, w0, w1, H, W,
                              <double>((d0 * H + h0) * W + w0))
        else:
            _max_cl_idx_any(plane, sD, sH, sW, C, opix, ipix, d0, d1, h0, h1, w0, w1, H, W)
    else:
        _max_cl_idx_any(plane, sD, sH, sW, C, opix, ipix, d0, d1, h0, h1, w0, w1, H, W)


cdef inline void _max_cl_idx_any(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH,
                                 Py_ssize_t sW, Py_ssize_t C, pool_t* opix, int64_t* ipix,
                                 Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1,
                                 Py_ssize_t w0, Py_ssize_t w1, Py_ssize_t H,
                                 Py_ssize_t W) noexcept nogil:
    """The indices of _max_cl_item, for any type; opix holds the start values."""
    cdef Py_ssize_t id_, ih, iw, c
    for c in range(C):
        ipix[c] = (d0 * H + h0) * W + w0
    for id_ in range(d0, d1):
        for ih in range(h0, h1):
            for iw in range(w0, w1):
                max_span_idx(plane + id_ * sD + ih * sH + iw * sW, 1, opix, ipix, C,
                             (id_ * H + ih) * W + iw, 0)


ctypedef fused lane_t:  # index lanes of the width of the values: float's, double's
    int32_t
    double


cdef inline void _max_cl_idx_lanes(const void* plane, Py_ssize_t sD, Py_ssize_t sH,
                                   Py_ssize_t sW, Py_ssize_t C, void* opix, int64_t* ipix,
                                   Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1,
                                   Py_ssize_t w0, Py_ssize_t w1, Py_ssize_t H, Py_ssize_t W,
                                   lane_t first) noexcept nogil:
    """As _max_cl_idx_any, C_BLOCK channels at a time, with the indices held in lanes of
    the values' width: int32 for float values (plane sizes below 2**31), doubles for
    double values (exact below 2**53).  first is the bin's first index, in lane type."""
    cdef Py_ssize_t id_, ih, iw, c, c0, cb, off
    cdef lane_t ib[C_BLOCK]
    cdef Py_ssize_t blk, nblk = (C + C_BLOCK - 1) // C_BLOCK
    for blk in range(nblk):
        c0 = blk * C_BLOCK
        cb = C - c0 if C - c0 < C_BLOCK else C_BLOCK
        for c in range(cb):
            ib[c] = first
        for id_ in range(d0, d1):
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    off = id_ * sD + ih * sH + iw * sW + c0
                    if lane_t is int32_t:
                        max_span_idx32(<const float*>plane + off, <float*>opix + c0, ib, cb,
                                       <int32_t>((id_ * H + ih) * W + iw))
                    else:
                        _max_span_f64(<const double*>plane + off, <double*>opix + c0, ib, cb,
                                      <double>((id_ * H + ih) * W + iw))
        for c in range(cb):
            ipix[c0 + c] = <int64_t>ib[c]


cdef void _avg_cf_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, real_t* orow,
                       Py_ssize_t od, Py_ssize_t oh, Py_ssize_t w0, Py_ssize_t w1,
                       const Bins* b) noexcept nogil:
    """Outputs out[n, c, od, oh, w0:w1]."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t id_, ih, ow
    cdef const Py_ssize_t* ws = b.start[2]
    cdef const Py_ssize_t* we = b.end[2]
    for ow in range(w0, w1):
        orow[ow] = 0
    for id_ in range(d0, d1):
        for ih in range(h0, h1):
            _sum_row(plane + id_ * sD + ih * sH, orow, ws, we, w0, w1)
    # One division per axis in order, as torch (_divide).
    for ow in range(w0, w1):
        orow[ow] = _divide(_divide(_divide(orow[ow], d1 - d0), h1 - h0), we[ow] - ws[ow])


cdef inline void _sum_planes(const pool_t* src, const Py_ssize_t* off, Py_ssize_t i0,
                             Py_ssize_t i1, real_t* acc) noexcept nogil:
    """acc[p] += src[off[p] + i] for i in [i0, i1), in turn; PLANES independent sums."""
    cdef Py_ssize_t i, p
    for i in range(i0, i1):
        for p in range(PLANES):
            acc[p] = acc[p] + src[off[p] + i]


cdef inline void _max_planes(const pool_t* src, const Py_ssize_t* off, Py_ssize_t i0,
                             Py_ssize_t i1, pool_t* acc, pool_t* chk) noexcept nogil:
    """acc[p] = plain max (v > acc) of acc[p] and src[off[p] + i] for i in [i0, i1), and
    chk[p] += those values (NaN once any is NaN); PLANES independent chains."""
    cdef Py_ssize_t i, p
    cdef pool_t v
    for i in range(i0, i1):
        for p in range(PLANES):
            v = src[off[p] + i]
            acc[p] = v if v > acc[p] else acc[p]
            if pool_t is float or pool_t is double:
                chk[p] = chk[p] + v


cdef void _max_cf_planes(const pool_t* plane, Py_ssize_t sC, Py_ssize_t sD, Py_ssize_t sH,
                         pool_t* orow, Py_ssize_t oC, Py_ssize_t P, Py_ssize_t od, Py_ssize_t oh,
                         const Bins* b) noexcept nogil:
    """_avg_cf_planes' layout for max without indices: PLANES channels' plain maxima side
    by side (the NaN test of torch's step kept them from registers).  Each lane scans its
    bin in order and keeps the first of equal values, so its plain maximum is torch's
    fold unless the bin holds a NaN; such outputs, seen through their running sums, are
    folded again with torch's step."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t OW = b.size_out[2], id_, ih, iw, ow, p, q
    cdef const Py_ssize_t* ws = b.start[2]
    cdef const Py_ssize_t* we = b.end[2]
    cdef Py_ssize_t off[PLANES]
    cdef pool_t maxs[PLANES * PLANES]  # [ow][p]
    cdef pool_t sums[PLANES * PLANES]
    cdef pool_t m
    for p in range(PLANES):
        off[p] = (p if p < P else P - 1) * sC
    for q in range(OW * PLANES):
        maxs[q] = lowest_value(<pool_t>0)
        sums[q] = 0
    for id_ in range(d0, d1):
        for ih in range(h0, h1):
            for ow in range(OW):
                _max_planes(plane + id_ * sD + ih * sH, off, ws[ow], we[ow],
                            maxs + ow * PLANES, sums + ow * PLANES)
    for ow in range(OW):
        for p in range(P):
            m = maxs[ow * PLANES + p]
            if (pool_t is float or pool_t is double) and (sums[ow * PLANES + p]
                                                          != sums[ow * PLANES + p]):
                m = lowest_value(<pool_t>0)
                for id_ in range(d0, d1):
                    for ih in range(h0, h1):
                        for iw in range(ws[ow], we[ow]):
                            m = max_update(m, plane[off[p] + id_ * sD + ih * sH + iw])
            orow[p * oC + ow] = m


cdef void _avg_cf_planes(const pool_t* plane, Py_ssize_t sC, Py_ssize_t sD, Py_ssize_t sH,
                         real_t* orow, Py_ssize_t oC, Py_ssize_t P, Py_ssize_t od, Py_ssize_t oh,
                         const Bins* b) noexcept nogil:
    """Outputs out[n, c:c+P, od, oh, :] of a row narrower than PLANES, for P <= PLANES
    channels sC apart in x and oC apart in out.

    The channels' sums run side by side in registers, each in scan order; lanes past P
    repeat the last channel and are dropped."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t OW = b.size_out[2], id_, ih, ow, p
    cdef const Py_ssize_t* ws = b.start[2]
    cdef const Py_ssize_t* we = b.end[2]
    cdef Py_ssize_t off[PLANES]
    cdef real_t acc[PLANES]
    cdef real_t sums[PLANES * PLANES]  # [ow][p]
    for p in range(PLANES):
        off[p] = (p if p < P else P - 1) * sC
    if OW == 1:  # one bin: its sums stay in registers from the first row to the last
        for p in range(PLANES):
            acc[p] = 0
        for id_ in range(d0, d1):
            for ih in range(h0, h1):
                _sum_planes(plane + id_ * sD + ih * sH, off, ws[0], we[0], acc)
        for p in range(PLANES):
            sums[p] = acc[p]
    else:  # row by row, so that each input row is read in one sweep
        for p in range(OW * PLANES):
            sums[p] = 0
        for id_ in range(d0, d1):
            for ih in range(h0, h1):
                for ow in range(OW):
                    for p in range(PLANES):
                        acc[p] = sums[ow * PLANES + p]
                    _sum_planes(plane + id_ * sD + ih * sH, off, ws[ow], we[ow], acc)
                    for p in range(PLANES):
                        sums[ow * PLANES + p] = acc[p]
    # One division per axis in order, as torch (_divide).
    for ow in range(OW):
        for p in range(P):
            orow[p * oC + ow] = _divide(_divide(_divide(sums[ow * PLANES + p], d1 - d0), h1 - h0),
                                        we[ow] - ws[ow])


cdef void _global_cf(const real_t* x, Py_ssize_t sN, Py_ssize_t sC, Py_ssize_t C, Py_ssize_t q0,
                     Py_ssize_t Q, Py_ssize_t L, real_t* out, bint is_max,
                     const Bins* b) noexcept nogil:
    """Global maxima or averages out[q] of planes q0 .. q0 + NDP_PLANES - 1 (fewer at the
    end of the Q = N * C planes), each plane L contiguous values; plane q = (n, c) is
    q = n * C + c.  Input and output share their float type (the callers check)."""
    cdef const real_t* rows[NDP_PLANES]
    cdef real_t buf[NDP_PLANES]
    cdef Py_ssize_t p, P = min(<Py_ssize_t>NDP_PLANES, Q - q0), n = q0 // C, c = q0 % C
    cdef const real_t* first = x + n * sN + c * sC
    cdef int nan = 0
    # The planes of the item PREFETCH_AHEAD items on, fetched while these are folded: short
    # planes read side by side defeat the hardware's stream prefetch (long ones need no help).
    cdef const void* ahead = NULL
    cdef bint fetch = (q0 + (PREFETCH_AHEAD + 1) * NDP_PLANES <= Q
                       and L * sizeof(real_t) <= PREFETCH_PLANE_BYTES)
    # A full block folds straight into its outputs (no copy); a short one into buf.
    cdef real_t* acc = out + q0 if P == NDP_PLANES else buf
    for p in range(NDP_PLANES):
        acc[p] = lowest_value(<real_t>0) if is_max else 0
    cdef bint spaced = P == NDP_PLANES and (c + NDP_PLANES <= C or sN == C * sC)
    if spaced:
        # Equally spaced planes (always so when packed): one base pointer and a stride.
        if fetch:
            ahead = first + PREFETCH_AHEAD * NDP_PLANES * sC
        if real_t is float and is_max:
            nan = ndp_max16s_f32(first, sC, L, acc, ahead)
        elif real_t is float:
            ndp_sum16s_f32(first, sC, L, acc, ahead)
        elif is_max:
            nan = ndp_max16s_f64(first, sC, L, acc, ahead)
        else:
            ndp_sum16s_f64(first, sC, L, acc, ahead)
    else:
        for p in range(NDP_PLANES):
            rows[p] = x + n * sN + c * sC
            if p < P - 1:  # a short block repeats its last plane
                c += 1
                if c == C:
                    n, c = n + 1, 0
        if fetch:  # where packed planes would put it
            ahead = rows[NDP_PLANES - 1] + ((PREFETCH_AHEAD - 1) * NDP_PLANES + 1) * L
        if real_t is float and is_max:
            nan = ndp_max16_f32(<const float**>rows, L, acc, ahead)
        elif real_t is float:
            ndp_sum16_f32(<const float**>rows, L, acc, ahead)
        elif is_max:
            nan = ndp_max16_f64(<const double**>rows, L, acc, ahead)
        else:
            ndp_sum16_f64(<const double**>rows, L, acc, ahead)
    if is_max:
        # Planes holding a NaN, again in scan order: which NaN wins depends on it.
        for p in range(P):
            if nan >> p & 1:
                acc[p] = fold_scalar(first + p * sC if spaced else rows[p], L)
    else:
        for p in range(3):  # one division per axis in order, as torch (_divide)
            if real_t is float:
                ndp_divide16_f32(acc, b.size_in[p])
            else:
                ndp_divide16_f64(acc, b.size_in[p])
    if P < NDP_PLANES:
        for p in range(P):
            out[q0 + p] = acc[p]


cdef inline void _cl_square_bin(const pool_t* a, Py_ssize_t sH, Py_ssize_t sW, real_t* dst,
                                Py_ssize_t C, Py_ssize_t k) noexcept nogil:
    """dst[c] = the k x k (2 or 3) cells of the bin from a, in scan order from 0, divided by
    k and by k again (_divide): one pass over the channels instead of five (VGG's 14x14 ->
    7x7 head, channels-last)."""
    cdef Py_ssize_t c
    cdef const pool_t* b = a + sH
    cdef const pool_t* e = a + 2 * sH
    cdef real_t s
    if k == 2:
        for c in range(C):
            s = (((<real_t>0 + <real_t>a[c]) + a[c + sW]) + b[c]) + b[c + sW]
            dst[c] = (s * <real_t>0.5) * <real_t>0.5
    else:
        for c in range(C):
            s = ((<real_t>0 + <real_t>a[c]) + a[c + sW]) + a[c + 2 * sW]
            s = ((s + b[c]) + b[c + sW]) + b[c + 2 * sW]
            s = ((s + e[c]) + e[c + sW]) + e[c + 2 * sW]
            dst[c] = (s / <real_t>3) / <real_t>3


cdef void _avg_cl_item(const pool_t* plane, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                       Py_ssize_t C, real_t* opix, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t ow,
                       const Bins* b) noexcept nogil:
    """Outputs out[n, od, oh, ow, :]."""
    cdef Py_ssize_t d0 = b.start[0][od], d1 = b.end[0][od]
    cdef Py_ssize_t h0 = b.start[1][oh], h1 = b.end[1][oh]
    cdef Py_ssize_t w0 = b.start[2][ow], w1 = b.end[2][ow]
    cdef Py_ssize_t id_, ih, iw, c, n
    if d1 - d0 == 1 and h1 - h0 == w1 - w0 and (w1 - w0 == 2 or w1 - w0 == 3):
        _cl_square_bin(plane + d0 * sD + h0 * sH + w0 * sW, sH, sW, opix, C, w1 - w0)
        return
    for c in range(C):
        opix[c] = 0
    for id_ in range(d0, d1):
        for ih in range(h0, h1):
            iw = w0
            while iw < w1:  # up to three columns of the bin per pass over the channels
                n = w1 - iw if w1 - iw < 3 else 3
                sum_taps_apart(plane + id_ * sD + ih * sH + iw * sW, sW, opix, C, n)
                iw += n
    divide_span(opix, C, d1 - d0)
    divide_span(opix, C, h1 - h0)
    divide_span(opix, C, w1 - w0)


cdef void _max_cf_lanes(const pool_t* xp, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                        Py_ssize_t xs3, Py_ssize_t C, pool_t* op, Py_ssize_t u0, Py_ssize_t m,
                        const Bins* b) noexcept nogil:
    """Channels-first planes u0 .. u0 + m - 1 (m <= 8) as the 8 channels of a channels-last
    tile (_lanes.pxd), folded in vectors of the 8: every input row's W bins first, then
    each output's bin of those rows, in order.  torch's max step is associative when the
    left side holds the earlier values, so that is the bin's fold in scan order, bit for
    bit; the outputs go back into the planes."""
    cdef pool_t tile[LANES_IN * 8]
    cdef pool_t rows[LANES_IN * 8]  # [d, h, ow]: the W bins of every input row
    cdef pool_t otile[LANES_OUT * 8]
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2]
    cdef Py_ssize_t r, ow, od, oh, d, c, q = 0
    cdef pool_t* acc
    cdef pool_t lowest = lowest_value(<pool_t>0)
    lanes_in(xp, xs0, xs1, xs2, xs3, C, D, H, W, u0, m, tile)
    for r in range(D * H):
        for ow in range(OW):
            acc = rows + (r * OW + ow) * 8
            for c in range(8):
                acc[c] = lowest
            lanes_max(tile + (r * W + b.start[2][ow]) * 8, 8, b.end[2][ow] - b.start[2][ow], acc)
    for od in range(OD):
        for oh in range(OH):
            for ow in range(OW):
                acc = otile + q * 8
                for c in range(8):
                    acc[c] = lowest
                for d in range(b.start[0][od], b.end[0][od]):
                    lanes_max(rows + ((d * H + b.start[1][oh]) * OW + ow) * 8, OW * 8,
                              b.end[1][oh] - b.start[1][oh], acc)
                q += 1
    lanes_out(otile, op, u0, m, q)


cdef void _avg_cf_lanes(const real_t* xp, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2,
                        Py_ssize_t xs3, Py_ssize_t C, real_t* op, Py_ssize_t u0, Py_ssize_t m,
                        const Bins* b) noexcept nogil:
    """_max_cf_lanes for averages: each bin's sum in scan order in vectors of the 8 planes,
    then one division per axis in order (_divide), as _avg_cf_planes: the same bits."""
    cdef real_t tile[LANES_IN * 8]
    cdef real_t otile[LANES_OUT * 8]
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t od, oh, ow, d, h, c, kd, kh, kw, q = 0
    cdef real_t* acc
    lanes_in(xp, xs0, xs1, xs2, xs3, C, D, H, W, u0, m, tile)
    for od in range(b.size_out[0]):
        kd = b.end[0][od] - b.start[0][od]
        for oh in range(b.size_out[1]):
            kh = b.end[1][oh] - b.start[1][oh]
            for ow in range(b.size_out[2]):
                kw = b.end[2][ow] - b.start[2][ow]
                acc = otile + q * 8
                for c in range(8):
                    acc[c] = 0
                for d in range(b.start[0][od], b.end[0][od]):
                    for h in range(b.start[1][oh], b.end[1][oh]):
                        lanes_sum(tile + ((d * H + h) * W + b.start[2][ow]) * 8, 8, kw, acc)
                lanes_divide(acc, kd)
                lanes_divide(acc, kh)
                lanes_divide(acc, kw)
                q += 1
    lanes_out(otile, op, u0, m, q)


cdef void _planes_cf(const pool_t* xp, Py_ssize_t N, Py_ssize_t C, Py_ssize_t xs0,
                     Py_ssize_t xs1, Py_ssize_t xs2, Py_ssize_t xs3, pool_t* max_out,
                     real_t* avg_out, const Bins* b, int num_threads) noexcept nogil:
    """Channels-first rows narrower than PLANES outputs, PLANES channels a work item: the
    maxima into max_out, or (max_out NULL) the averages into avg_out."""
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2]
    cdef Py_ssize_t ncb = (C + PLANES - 1) // PLANES, item, c, P, at
    cdef RowBlock rb
    for item in prange(N * ncb * OD * OH, num_threads=num_threads, schedule='guided',
                       use_threads_if=num_threads > 1):
        rb = row_block(item, ncb, OD, OH, OW, OW)  # rb.c: the group of channels
        c = rb.c * PLANES
        P = PLANES if c + PLANES <= C else C - c
        at = (((rb.n * C + c) * OD + rb.od) * OH + rb.oh) * OW
        if max_out != NULL:
            _max_cf_planes(xp + rb.n * xs0 + c * xs1, xs1, xs2, xs3, max_out + at, OD * OH * OW,
                           P, rb.od, rb.oh, b)
        else:
            _avg_cf_planes(xp + rb.n * xs0 + c * xs1, xs1, xs2, xs3, avg_out + at, OD * OH * OW,
                           P, rb.od, rb.oh, b)


cdef inline bint _global_planes(const Bins* b, Py_ssize_t sD, Py_ssize_t sH) noexcept nogil:
    """Whether a channels-first call is global pooling (one output) of planes whose D * H *
    W values are contiguous: _global_cf's case, for max and average alike."""
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    return (b.size_out[0] * b.size_out[1] * b.size_out[2] == 1 and (H == 1 or sH == W)
            and (D == 1 or sD == H * W))


cdef inline bint _equal_bins(const Bins* b, Py_ssize_t* k) noexcept nogil:
    """Whether every axis splits into equal bins; k = their sizes (D, H, W).  Such bins are
    windows of stride equal to their size (_strided_rows.pxd)."""
    cdef int a
    for a in range(3):
        if b.size_in[a] % b.size_out[a] != 0:
            return False
        k[a] = b.size_in[a] // b.size_out[a]
    return True


# ---------------------------------------------------------------------------------------
# Entry points

def adaptive_max_pool(const pool_t[:, :, :, :, :] x, pool_t[:, :, :, :, ::1] out,
                      int64_t[:, :, :, :, ::1] indices, const int64_t[:, ::1] sizes,
                      bint channels_last, int num_threads):
    """Adaptive max pooling of x into out (and indices, unless None).

    x may have any strides but a unit-stride last axis; out and indices are C-contiguous
    in the same axis order.  sizes rows are the D, H, W axes: (size_in, size_out).  All
    sizes are non-zero.
    """
    cdef Bins b
    cdef Py_ssize_t* buf = _make_bins(sizes, &b)
    cdef int isz = sizeof(pool_t)
    cdef const pool_t* xp
    cdef pool_t* op = &out[0, 0, 0, 0, 0]
    cdef int64_t* ip = NULL
    cdef bint with_idx = indices is not None, packed
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2]
    cdef Py_ssize_t xs0 = x.strides[0] // isz, xs1 = x.strides[1] // isz
    cdef Py_ssize_t xs2 = x.strides[2] // isz, xs3 = x.strides[3] // isz
    cdef Py_ssize_t C, nblk, n_items, item, ocell
    cdef RowBlock rb
    cdef Pixel px
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t k[3]
    try:
        check_unit_inner(x.strides[4], isz, x.shape[4])
        xp = &x[0, 0, 0, 0, 0]
        if with_idx:
            ip = &indices[0, 0, 0, 0, 0]
        if (pool_t is float or pool_t is double) and not channels_last and not with_idx \
                and _global_planes(&b, xs2, xs3) and D * H * W * isz <= GLOBAL_MAX_PLANE_BYTES:
            # Global pooling of short contiguous planes, as adaptive_avg_pool's.
            C = x.shape[1]
            n_items = (N * C + NDP_PLANES - 1) // NDP_PLANES
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                if pool_t is float or pool_t is double:
                    _global_cf(xp, xs0, xs1, C, item * NDP_PLANES, N * C, D * H * W, op, True,
                               &b)
        elif (pool_t is float or pool_t is double) and not channels_last and not with_idx \
                and _equal_bins(&b, k) \
                and strided_rows_apply(b.size_in, b.size_out, k, xs2, xs3, True):
            if pool_t is float or pool_t is double:
                with nogil:
                    strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, b.size_in, b.size_out, k,
                                    1, 1, 1, True, num_threads)
        elif not channels_last and not with_idx and _global_planes(&b, xs2, xs3):
            # Global pooling of longer contiguous planes: one fold each, found straight
            # from the plane's number (row_block's divisions cost as much as a short fold).
            C = x.shape[1]
            packed = xs0 == C * xs1
            for item in prange(N * C, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                op[item] = wide_fold(xp + (item * xs1 if packed
                                           else (item // C) * xs0 + (item % C) * xs1), D * H * W)
        elif not channels_last and not with_idx and D * H * W <= LANES_IN \
                and D * H * OW <= LANES_IN and OD * OH * OW <= LANES_OUT \
                and (pool_t is float or (pool_t is double and not _equal_bins(&b, k))):
            # Small planes: 8 at a time as the channels of a channels-last tile.  Other
            # types move in and out of it value by value: equal bins ran 0.8-0.9x as
            # float64, and integers 0.7-1.3x.
            C = x.shape[1]
            for item in prange((N * C + 7) // 8, nogil=True, num_threads=num_threads,
                               schedule='guided', use_threads_if=num_threads > 1):
                _max_cf_lanes(xp, xs0, xs1, xs2, xs3, C, op, 8 * item,
                              N * C - 8 * item if N * C - 8 * item < 8 else 8, &b)
        elif not channels_last and not with_idx and OW < PLANES and x.shape[1] >= PLANES // 2:
            # Rows of few outputs: PLANES channels side by side (with fewer than half as
            # many channels, the idle lanes cost more than the chains gain: 3 channels of
            # 224x224 -> 7 ran 2x slower, 4 level, 12 1.3x faster).
            with nogil:
                _planes_cf(xp, x.shape[0], x.shape[1], xs0, xs1, xs2, xs3, op, <double*>NULL, &b,
                           num_threads)
        elif not channels_last:
            C = x.shape[1]
            nblk = row_blocks(OW, W_BLOCK)
            n_items = N * C * OD * OH * nblk
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                rb = row_block(item, C, OD, OH, OW, W_BLOCK)
                rb.offset = (((rb.n * C + rb.c) * OD + rb.od) * OH + rb.oh) * OW
                _max_cf_item(xp + rb.n * xs0 + rb.c * xs1, xs2, xs3, op + rb.offset,
                             ip + rb.offset if with_idx else NULL, rb.od, rb.oh, rb.w0, rb.w1, &b)
        else:
            C = x.shape[4]
            n_items = N * OD * OH * OW
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                px = pixel(item, OD, OH, OW)
                ocell = item * C
                _max_cl_item(xp + px.n * xs0, xs1, xs2, xs3, C, op + ocell,
                             ip + ocell if with_idx else NULL, px.od, px.oh, px.ow, &b)
    finally:
        free(buf)


def adaptive_avg_pool(const pool_t[:, :, :, :, :] x, real_t[:, :, :, :, ::1] out,
                      const int64_t[:, ::1] sizes, bint channels_last, int num_threads):
    """Adaptive average pooling of x into out (same layout); arguments as adaptive_max_pool."""
    cdef Bins b
    cdef Py_ssize_t* buf = _make_bins(sizes, &b)
    cdef int isz = sizeof(pool_t)
    cdef const pool_t* xp
    cdef real_t* op = &out[0, 0, 0, 0, 0]
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2]
    cdef Py_ssize_t xs0 = x.strides[0] // isz, xs1 = x.strides[1] // isz
    cdef Py_ssize_t xs2 = x.strides[2] // isz, xs3 = x.strides[3] // isz
    cdef Py_ssize_t C, nblk, n_items, item
    cdef RowBlock rb
    cdef Pixel px
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t k[3]
    cdef Py_ssize_t d1, d2, d3
    try:
        check_unit_inner(x.strides[4], isz, x.shape[4])
        xp = &x[0, 0, 0, 0, 0]
        if ((pool_t is float and real_t is float) or (pool_t is double and real_t is double)) \
                and not channels_last and _global_planes(&b, xs2, xs3):
            # Global pooling of contiguous planes: NDP_PLANES planes per item, vectorised
            # across planes (_plane_sums.h).
            C = x.shape[1]
            n_items = (N * C + NDP_PLANES - 1) // NDP_PLANES
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                if pool_t is float and real_t is float:
                    _global_cf(xp, xs0, xs1, C, item * NDP_PLANES, N * C, D * H * W, op, False, &b)
                elif pool_t is double and real_t is double:
                    _global_cf(xp, xs0, xs1, C, item * NDP_PLANES, N * C, D * H * W, op, False, &b)
        elif ((pool_t is float and real_t is float) or (pool_t is double and real_t is double)) \
                and not channels_last and D * H * W <= LANES_IN and OD * OH * OW <= LANES_OUT \
                and (pool_t is float or not _equal_bins(&b, k)):
            # Small planes: 8 at a time as the channels of a channels-last tile (float64
            # moves in and out of it value by value: equal bins ran 0.66-0.8x).
            C = x.shape[1]
            for item in prange((N * C + 7) // 8, nogil=True, num_threads=num_threads,
                               schedule='guided', use_threads_if=num_threads > 1):
                if pool_t is float and real_t is float:
                    _avg_cf_lanes(xp, xs0, xs1, xs2, xs3, C, op, 8 * item,
                                  N * C - 8 * item if N * C - 8 * item < 8 else 8, &b)
                elif pool_t is double and real_t is double:
                    _avg_cf_lanes(xp, xs0, xs1, xs2, xs3, C, op, 8 * item,
                                  N * C - 8 * item if N * C - 8 * item < 8 else 8, &b)
        elif ((pool_t is float and real_t is float) or (pool_t is double and real_t is double)) \
                and not channels_last and _equal_bins(&b, k) \
                and strided_rows_apply(b.size_in, b.size_out, k, xs2, xs3, False):
            # One division per axis in turn, as torch (_divide); the fold's is the first,
            # kd's or, in 2-D (kd 1), kh's.  A division by a power of two and _divide's
            # exact multiplication agree.
            if k[0] > 1:
                d1, d2, d3 = k[0], k[1], k[2]
            else:
                d1, d2, d3 = k[1], k[2], 1
            if pool_t is float and real_t is float:
                with nogil:
                    strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, b.size_in, b.size_out,
                                    k, <float>d1, d2, d3, False, num_threads)
            elif pool_t is double and real_t is double:
                with nogil:
                    strided_rows_cf(xp, xs0, xs1, xs2, N, x.shape[1], op, b.size_in, b.size_out,
                                    k, <double>d1, d2, d3, False, num_threads)
        elif not channels_last and OW < PLANES:
            with nogil:
                _planes_cf(xp, x.shape[0], x.shape[1], xs0, xs1, xs2, xs3, <pool_t*>NULL, op, &b,
                           num_threads)
        elif not channels_last:
            C = x.shape[1]
            nblk = row_blocks(OW, W_BLOCK)
            n_items = N * C * OD * OH * nblk
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                rb = row_block(item, C, OD, OH, OW, W_BLOCK)
                _avg_cf_item(xp + rb.n * xs0 + rb.c * xs1, xs2, xs3,
                             op + rb.offset, rb.od, rb.oh, rb.w0, rb.w1, &b)
        else:
            C = x.shape[4]
            n_items = N * OD * OH * OW
            for item in prange(n_items, nogil=True, num_threads=num_threads, schedule='guided',
                               use_threads_if=num_threads > 1):
                px = pixel(item, OD, OH, OW)
                _avg_cl_item(xp + px.n * xs0, xs1, xs2, xs3, C, op + item * C, px.od, px.oh, px.ow, &b)
    finally:
        free(buf)
