# Separable max pooling for heavily overlapping windows (SPP/YOLO-style k=5/9/13 at stride 1).
#
# torch's max update, "take v if v > m or v is NaN", scanned over a window in raster order
# (d, h, w), returns the LAST NaN if there is one and otherwise the FIRST of the equal
# maxima (so -0.0 vs 0.0 is decided by position).  Write fold(S) for that result over a
# sequence S.  For consecutive pieces S1, S2: fold(S1 + S2) = update(fold(S1), fold(S2)),
# so the window can be reduced piece by piece as long as each piece is a run in scan order
# and pieces are combined in scan order:
#
# * a box window is rows along W, rows are runs along H, planes runs along D: reduce along
#   W first, then H, then D (never another axis order, which would change which NaN or
#   which zero wins);
# * along one axis, a window of k taps is update(fold(first P taps), fold(last P taps)) with
#   P the largest power of two <= k.  The two halves may overlap; that is still exact
#   (the overlap's NaNs and maxima are seen by the later piece, which wins NaN ties, and
#   by the earlier piece, which wins value ties).  fold(P taps) comes from log2(P)
#   doubling passes, fold(2p)[i] = update(fold(p)[i], fold(p)[i + p]).
# * padded cells hold the start value (-inf or the integer minimum), which never changes
#   an update's result, so windows need no clipping.
#
# Every pass is one long elementwise loop over contiguous memory, which vectorises: rows
# are stored cell after cell, a cell being one element (channels-first) or a run of
# channels (channels-last).  Cost per output is O(log k) per axis instead of O(k^dims).
# Channels-last tiles (long rows of many channels) take sep_max_rows, which does the
# same passes row by row so that they run in L1/L2 rather than over a whole tile.

from ndpool._common cimport Axis, pool_t, lowest_value, tap_range

cdef extern from "_plane_sums.h" nogil:
    void ndp_prefetch(const void* p, Py_ssize_t nbytes)


cdef inline void fold2(const pool_t* a, const pool_t* b, pool_t* dst, Py_ssize_t n,
                       bint nan) noexcept nogil:
    """dst[i] = torch's max update of a[i] (earlier in scan order) by b[i].  With nan
    False the inputs hold no NaN and the update is a plain max (one vector instruction)."""
    cdef Py_ssize_t i
    cdef pool_t x, y
    if (pool_t is float or pool_t is double) and nan:
        for i in range(n):
            x = a[i]
            y = b[i]
            dst[i] = y if ((y > x) | (y != y)) else x
    else:
        for i in range(n):
            x = a[i]
            y = b[i]
            dst[i] = y if y > x else x


cdef inline void fold3(pool_t* acc, const pool_t* a, const pool_t* b, Py_ssize_t n,
                       bint nan) noexcept nogil:
    """acc[i] updated by fold2(a, b)[i]: acc is earlier than a, a earlier than b."""
    cdef Py_ssize_t i
    cdef pool_t x, y, z
    if (pool_t is float or pool_t is double) and nan:
        for i in range(n):
            x = acc[i]
            y = a[i]
            z = b[i]
            y = z if ((z > y) | (z != z)) else y
            acc[i] = y if ((y > x) | (y != y)) else x
    else:
        for i in range(n):
            x = acc[i]
            y = a[i]
            z = b[i]
            y = z if z > y else y
            acc[i] = y if y > x else x


cdef inline void fill(pool_t* dst, Py_ssize_t n, pool_t v) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = v


cdef inline int copy_span(pool_t* dst, const pool_t* src, Py_ssize_t n) noexcept nogil:
    """Copy n elements; returns whether any was NaN."""
    cdef Py_ssize_t i
    cdef pool_t v
    cdef int seen = 0
    for i in range(n):
        v = src[i]
        dst[i] = v
        if pool_t is float or pool_t is double:
            seen = seen | (v != v)
    return seen


cdef inline Py_ssize_t top_power(Py_ssize_t k) noexcept nogil:
    """Largest power of two <= k (k >= 1)."""
    cdef Py_ssize_t p = 1
    while 2 * p <= k:
        p *= 2
    return p


cdef inline Py_ssize_t doubling(pool_t** cur, pool_t** spare, Py_ssize_t n, Py_ssize_t tap,
                                Py_ssize_t k, bint nan) noexcept nogil:
    """Turn cur[0:n] (one value per tap position, taps `tap` elements apart) into
    fold(P consecutive taps) at every start that has them, ping-ponging between the two
    buffers (never in place, so the loops vectorise without alias checks failing).
    Returns P, the largest power of two <= k."""
    cdef Py_ssize_t p = 1
    cdef pool_t* t
    while 2 * p <= k and n > p * tap:
        fold2(cur[0], cur[0] + p * tap, spare[0], n - p * tap, nan)
        t = cur[0]
        cur[0] = spare[0]
        spare[0] = t
        p *= 2
    return p


cdef inline Py_ssize_t sep_rows(const Axis* a, Py_ssize_t n_out) noexcept nogil:
    """Padded input positions that n_out consecutive outputs of axis a read."""
    return (n_out - 1) * a.stride + (a.kernel - 1) * a.dilation + 1


cdef inline int gather_row(const pool_t* src, Py_ssize_t sW, Py_ssize_t E, Py_ssize_t w_start,
                           Py_ssize_t W, Py_ssize_t lw, pool_t* row, pool_t lowest) noexcept nogil:
    """row[j] = input cell w_start + j (E elements each), or the start value outside the
    input.  Returns whether any copied element was NaN."""
    cdef Py_ssize_t j0 = -w_start if w_start < 0 else 0
    cdef Py_ssize_t j1 = W - w_start if W - w_start < lw else lw
    cdef Py_ssize_t j
    cdef int seen = 0
    if j0 > lw:
        j0 = lw
    if j1 < j0:
        j1 = j0
    fill(row, j0 * E, lowest)
    if sW == E:
        seen = copy_span(row + j0 * E, src + (w_start + j0) * sW, (j1 - j0) * E)
    else:
        for j in range(j0, j1):
            seen = seen | copy_span(row + j * E, src + (w_start + j) * sW, E)
    fill(row + j1 * E, (lw - j1) * E, lowest)
    return seen


cdef inline void emit_row(pool_t* d, Py_ssize_t d_cell, const pool_t* a, const pool_t* b,
                          Py_ssize_t s_cell, Py_ssize_t E, Py_ssize_t cells, bint first,
                          bint nan_new, bint nan_any) noexcept nogil:
    """One output row: d = fold2(a, b) for the first plane, else d = fold3(d, a, b).
    Output cell j is at d + j * d_cell, its two sources at a, b + j * s_cell."""
    cdef Py_ssize_t j
    if d_cell == E and s_cell == E:
        if first:
            fold2(a, b, d, cells * E, nan_new)
        else:
            fold3(d, a, b, cells * E, nan_any)
    else:
        for j in range(cells):
            if first:
                fold2(a + j * s_cell, b + j * s_cell, d + j * d_cell, E, nan_new)
            else:
                fold3(d + j * d_cell, a + j * s_cell, b + j * s_cell, E, nan_any)


cdef inline void sep_max_item(const pool_t* base, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                              Py_ssize_t E, pool_t* dst, Py_ssize_t dst_row, Py_ssize_t dst_cell,
                              Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1, Py_ssize_t ow0,
                              Py_ssize_t ow1, const Axis* ax, pool_t* bufA,
                              pool_t* bufB) noexcept nogil:
    """Max pooling of one tile: outputs (od, oh0:oh1, ow0:ow1) for E channels.

    base points at input (d, h, w) = (0, 0, 0) of those channels; sD, sH, sW are element
    strides and a cell's E channels are contiguous.  Output cell (oh, ow) is written at
    dst + oh * dst_row + ow * dst_cell.  bufA and bufB hold sep_rows(H) * sep_rows(W) * E
    elements each.
    """
    cdef const Axis* ah = &ax[1]
    cdef const Axis* aw = &ax[2]
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef Py_ssize_t ob = oh1 - oh0, owb = ow1 - ow0
    cdef Py_ssize_t nr = sep_rows(ah, ob), lw = sep_rows(aw, owb)
    cdef Py_ssize_t h_start = oh0 * ah.stride - ah.pad_lo, w_start = ow0 * aw.stride - aw.pad_lo
    cdef Py_ssize_t rw = owb * E  # one row after the W pass
    cdef Py_ssize_t kd0, kd1, kd, id_, r, h, o, j, P, shift, hw, hn
    cdef pool_t* cur
    cdef pool_t* spare
    cdef const pool_t* m
    cdef bint first = True
    cdef bint nan, any_nan = False
    tap_range(&ax[0], od, &kd0, &kd1)
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
        # Rows of padded input cells.  Tiles without NaN (the usual case) use plain max.
        nan = False
        for r in range(nr):
            h = h_start + r
            if h < 0 or h >= ah.size_in:
                fill(bufA + r * lw * E, lw * E, lowest)
            else:
                nan |= gather_row(base + id_ * sD + h * sH, sW, E, w_start, aw.size_in, lw,
                                  bufA + r * lw * E, lowest)
        any_nan |= nan
        # W pass over all rows at once (results that straddle two rows are never read).
        cur = bufA
        spare = bufB
        P = doubling(&cur, &spare, nr * lw * E, aw.dilation * E, aw.kernel, nan)
        shift = (aw.kernel - P) * aw.dilation * E
        if ah.kernel == 1:
            # No H pass: input row o * stride is output row o.  The D pass folds planes
            # in order straight into the output.
            for o in range(ob):
                m = cur + o * ah.stride * lw * E
                emit_row(dst + (oh0 + o) * dst_row + ow0 * dst_cell, dst_cell, m, m + shift,
                         aw.stride * E, E, owb, first, nan, any_nan)
            first = False
            continue
        if aw.stride == 1:
            # One pass over all rows, which keep their padded length lw: on short rows
            # (19-wide SPP maps) a call per row cost more than the H pass's extra cells.
            # Its last `shift` elements are never written, and never read below.
            hw = lw * E
            hn = nr * hw - shift
            fold2(cur, cur + shift, spare, hn, nan)
        else:
            hw = rw
            hn = nr * rw
            for r in range(nr):
                m = cur + r * lw * E
                for j in range(owb):
                    fold2(m + j * aw.stride * E, m + j * aw.stride * E + shift,
                          spare + r * rw + j * E, E, nan)
        # H pass: whole rows (hw elements apart) are the cells.
        cur, spare = spare, cur
        P = doubling(&cur, &spare, hn, ah.dilation * hw, ah.kernel, nan)
        shift = (ah.kernel - P) * ah.dilation * hw
        for o in range(ob):
            m = cur + o * ah.stride * hw
            emit_row(dst + (oh0 + o) * dst_row + ow0 * dst_cell, dst_cell, m, m + shift,
                     E, E, owb, first, nan, any_nan)
        first = False


cdef inline void fold_into(pool_t* acc, const pool_t* b, Py_ssize_t n, bint nan) noexcept nogil:
    """acc[i] = torch's max update of acc[i] (earlier in scan order) by b[i], in place:
    one pointer read and written, so the loop vectorises with no alias question."""
    cdef Py_ssize_t i
    cdef pool_t x, y
    if (pool_t is float or pool_t is double) and nan:
        for i in range(n):
            x = acc[i]
            y = b[i]
            acc[i] = y if ((y > x) | (y != y)) else x
    else:
        for i in range(n):
            x = acc[i]
            y = b[i]
            acc[i] = y if y > x else x


cdef inline void sep_max_rows(const pool_t* base, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t sW,
                              Py_ssize_t E, pool_t* dst, Py_ssize_t dst_row, Py_ssize_t dst_cell,
                              Py_ssize_t od, Py_ssize_t oh0, Py_ssize_t oh1, Py_ssize_t ow0,
                              Py_ssize_t ow1, const Axis* ax, pool_t* g, pool_t* t,
                              pool_t* R, Py_ssize_t CE) noexcept nogil:
    """sep_max_item's results, streamed row by row so that the working set stays in L1/L2
    (for channels-last tiles of a run of channels, where a tile's rows are long).

    Each padded input row j is gathered and reduced along W into R row j, CE channels at
    a time (g and t hold sep_rows(W) * min(E, CE) elements each, R (the ring of the last
    (kh - 1) * dil + 1 rows) as many times owb * E).  The H doubling then runs in place as
    a wavefront: right after row j arrives, level 2p of row r = j - (2p - 1) * dil folds
    level p of rows r and r + p * dil, the last reader of level p of row r being that very
    update (earlier rows' level-2p updates came at earlier steps).  Output row o is
    complete once its last window row o * s + (k - 1) * dil has arrived.  Every value is
    the same fold of the same pieces, in the same order, as in sep_max_item."""
    cdef const Axis* ah = &ax[1]
    cdef const Axis* aw = &ax[2]
    cdef pool_t lowest = lowest_value(<pool_t>0)
    cdef Py_ssize_t ob = oh1 - oh0, owb = ow1 - ow0
    cdef Py_ssize_t nr = sep_rows(ah, ob), lw = sep_rows(aw, owb)
    cdef Py_ssize_t h_start = oh0 * ah.stride - ah.pad_lo, w_start = ow0 * aw.stride - aw.pad_lo
    cdef Py_ssize_t rw = owb * E
    cdef Py_ssize_t hdil = ah.dilation, PH = top_power(ah.kernel)
    cdef Py_ssize_t hshift = (ah.kernel - PH) * hdil, hspan = (ah.kernel - 1) * hdil
    cdef Py_ssize_t M = hspan + 1  # R is a ring of the last M rows: all a step reads
    cdef Py_ssize_t kd0, kd1, kd, id_, j, h, o, q, p, P, shift, r, c0, ce
    cdef pool_t* cur
    cdef pool_t* spare
    cdef pool_t* Rj
    cdef bint first = True
    cdef bint nan = False
    tap_range(&ax[0], od, &kd0, &kd1)
    for kd in range(kd0, kd1):
        id_ = od * ax[0].stride - ax[0].pad_lo + kd * ax[0].dilation
        for j in range(nr):
            h = h_start + j
            Rj = R + (j % M) * rw
            if h + 1 >= 0 and h + 1 < ah.size_in:
                # The next row's cells: runs of E channels far apart, which the hardware
                # prefetchers do not follow (the gathers stalled on their loads).
                for q in range(aw.size_in):
                    ndp_prefetch(base + id_ * sD + (h + 1) * sH + q * sW, E * sizeof(pool_t))
            q = j + 1 - hspan
            if dst_cell != E and q >= 0 and q % ah.stride == 0 and q // ah.stride < ob:
                # and the output row written at the next step (stores that missed stalled too)
                for o in range(owb):
                    ndp_prefetch(dst + (oh0 + q // ah.stride) * dst_row + (ow0 + o) * dst_cell,
                                 E * sizeof(pool_t))
            if h < 0 or h >= ah.size_in:
                fill(Rj, rw, lowest)
            else:
                # The W pass in chunks of at most CE channels, so that g and t stay in L1.
                c0 = 0
                while c0 < E:
                    ce = E - c0 if E - c0 < CE else CE
                    nan |= gather_row(base + id_ * sD + h * sH + c0, sW, ce, w_start,
                                      aw.size_in, lw, g, lowest)
                    cur = g
                    spare = t
                    P = doubling(&cur, &spare, lw * ce, aw.dilation * ce, aw.kernel, nan)
                    shift = (aw.kernel - P) * aw.dilation * ce
                    if aw.stride == 1 and ce == E:
                        fold2(cur, cur + shift, Rj, rw, nan)
                    else:
                        for q in range(owb):
                            fold2(cur + q * aw.stride * ce, cur + q * aw.stride * ce + shift,
                                  Rj + q * E + c0, ce, nan)
                    c0 += ce
            # H wavefront (levels ascending, see above).
            p = 1
            while 2 * p <= ah.kernel:
                r = j - (2 * p - 1) * hdil
                if r >= 0:
                    fold_into(R + (r % M) * rw, R + ((r + p * hdil) % M) * rw, rw, nan)
                p *= 2
            q = j - hspan
            if q >= 0 and q % ah.stride == 0:
                o = q // ah.stride
                emit_row(dst + (oh0 + o) * dst_row + ow0 * dst_cell, dst_cell, R + (q % M) * rw,
                         R + ((q + hshift) % M) * rw, E, E, owb, first, nan, nan)
        first = False
