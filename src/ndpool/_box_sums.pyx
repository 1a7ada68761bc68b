# cython: language_level=3
"""Average pooling by separable block prefix and suffix sums (large windows).

A direct window sum costs kernel_d * kernel_h * kernel_w reads per output; these passes
cost a few additions per cell per axis, whatever the window.  Each axis is cut into
blocks of `kernel` cells; a window of at most `kernel` cells then covers the end of one
block and the start of the next, so its sum is suffix[s] + prefix[e - 1] of those
blocks (or one of them alone).  Nothing is subtracted, so a window's sum only ever adds
its own values: far-away large values cannot cancel it, and NaN and inf come out as
in a direct sum.

Sums run in float64.  Integers of up to 32 bits are summed exactly there in any order
(every partial sum stays far below 2**53), so the results are bit-identical to the
direct kernel's; 64-bit integers keep the direct kernel.  Floats take this path only on
request (``running_sums=True``): a window's sum then adds the same values in another
order, in float64, so it may differ from torch's in the last bits (float32 results
usually come out closer to the exact mean).  Arguments are trusted: ``ndpool._pooling``
validates them.
"""

from cython.parallel cimport prange, threadid
cimport ndpool._openmp  # one-thread regions without libgomp's team
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
import numpy as np

from ndpool._buffer_pool import empty

from ndpool._common cimport Axis, divisor_factor, read_geometry

ctypedef fused src_t:  # integer inputs, and floats under running_sums
    int8_t
    int16_t
    int32_t
    uint8_t
    uint16_t
    uint32_t
    float
    double

cdef enum:
    LANES = 256  # lanes (cells beside the line) per work item and its scratch


cdef void _line(const src_t* isrc, const double* dsrc, Py_ssize_t n, Py_ssize_t step,
                Py_ssize_t lanes, Py_ssize_t lstep, double* dst, Py_ssize_t dstep,
                Py_ssize_t ldst, const Axis* a, const Py_ssize_t* ends, double* pre,
                double* suf) noexcept nogil:
    """Window sums along one axis of `lanes` side-by-side lines: cell i of lane j is
    src[i * step + j * lstep] (isrc, or dsrc where isrc is NULL); output o of lane j goes
    to dst[o * dstep + j * ldst].  ends from _window_ends; pre and suf hold n * lanes
    values, lanes innermost, so their loops vectorise whatever the lanes' strides."""
    cdef Py_ssize_t k = a.kernel, i, j, o, s, e, b0, b1
    cdef double acc
    # The values as float64, in suf; then per block of k cells, prefix sums forwards into
    # pre and suffix sums backwards in place.
    if isrc != NULL:
        for i in range(n):
            for j in range(lanes):
                suf[i * lanes + j] = <double>isrc[i * step + j * lstep]
    else:
        for i in range(n):
            for j in range(lanes):
                suf[i * lanes + j] = dsrc[i * step + j * lstep]
    b0 = 0
    while b0 < n:
        b1 = b0 + k if b0 + k < n else n
        if lanes == 1:  # one line: the running sums stay in a register
            acc = 0
            for i in range(b0, b1):
                acc = acc + suf[i]
                pre[i] = acc
            acc = 0
            for i in range(b1 - 1, b0 - 1, -1):
                acc = acc + suf[i]
                suf[i] = acc
        else:
            for j in range(lanes):
                pre[b0 * lanes + j] = suf[b0 * lanes + j]
            for i in range(b0 + 1, b1):
                for j in range(lanes):
                    pre[i * lanes + j] = pre[(i - 1) * lanes + j] + suf[i * lanes + j]
            for i in range(b1 - 2, b0 - 1, -1):
                for j in range(lanes):
                    suf[i * lanes + j] = suf[i * lanes + j] + suf[(i + 1) * lanes + j]
        b0 = b1
    for o in range(a.size_out):
        s = ends[2 * o]  # the suffix part starts at s, the prefix part ends at e; -1: none
        e = ends[2 * o + 1]
        if s < 0 and e < 0:
            for j in range(lanes):
                dst[o * dstep + j * ldst] = 0
        elif s < 0:
            for j in range(lanes):
                dst[o * dstep + j * ldst] = pre[e * lanes + j]
        elif e < 0:
            for j in range(lanes):
                dst[o * dstep + j * ldst] = suf[s * lanes + j]
        else:
            for j in range(lanes):
                dst[o * dstep + j * ldst] = suf[s * lanes + j] + pre[e * lanes + j]


cdef void _window_ends(const Axis* a, Py_ssize_t* ends) noexcept nogil:
    """For each output o of the axis, ends[2o] = the first cell of its window's suffix part
    and ends[2o + 1] = the last cell of its prefix part (-1 where that part is empty), with
    blocks of `kernel` cells from cell 0.  Computed once per pass: the lines then do no
    integer division."""
    cdef Py_ssize_t k = a.kernel, n = a.size_in, o, s, e
    for o in range(a.size_out):
        s = o * a.stride - a.pad_lo
        e = s + k
        s = s if s > 0 else 0
        e = e if e < n else n
        ends[2 * o] = ends[2 * o + 1] = -1
        if e <= s:
            continue
        if s % k == 0:  # the window starts a block
            ends[2 * o + 1] = e - 1
        else:
            ends[2 * o] = s
            if e - 1 >= (s // k + 1) * k:  # and reaches into the next
                ends[2 * o + 1] = e - 1


cdef void _axis_pass(const src_t* isrc, const double* dsrc, Py_ssize_t outer,
                     const Py_ssize_t* ostride, const Py_ssize_t* oshape, Py_ssize_t n_outer_dims,
                     Py_ssize_t n, Py_ssize_t step, Py_ssize_t lanes, Py_ssize_t lstep,
                     double* dst, Py_ssize_t dstep, Py_ssize_t ldst, const Axis* a,
                     Py_ssize_t* ends, double* scratch, Py_ssize_t scratch_per_thread,
                     int num_threads) noexcept nogil:
    """_line over every line group: `outer` groups (index u, decomposed over oshape, the
    last dimension fastest, offset sum of index * ostride) of `lanes` lanes, cut into
    chunks of LANES; group u's outputs start at dst + u * size_out * lanes.  ends has room
    for 2 * size_out values; scratch holds scratch_per_thread >= 2 * n * LANES per
    thread."""
    cdef Py_ssize_t chunks = (lanes + LANES - 1) // LANES, item, u, r, d, off, j0, w
    cdef double* mine
    _window_ends(a, ends)
    for item in prange(outer * chunks, num_threads=num_threads, schedule='guided',
                       use_threads_if=num_threads > 1):
        mine = scratch + threadid() * scratch_per_thread
        u = item // chunks
        j0 = (item % chunks) * LANES
        w = lanes - j0 if lanes - j0 < LANES else LANES
        off = 0
        r = u
        for d in range(n_outer_dims - 1, -1, -1):
            off = off + (r % oshape[d]) * ostride[d]
            r = r // oshape[d]
        _line(isrc + off + j0 * lstep if isrc != NULL else NULL,
              dsrc + off + j0 * lstep if dsrc != NULL else NULL, n, step, w, lstep,
              dst + u * a.size_out * lanes + j0 * ldst, dstep, ldst, a, ends, mine,
              mine + n * w)


cdef inline bint _identity(const Axis* a) noexcept nogil:
    return a.kernel == 1 and a.stride == 1 and a.pad_lo == 0 and a.size_out == a.size_in


cdef int _box(const src_t* xp, const Py_ssize_t* xstep, const Py_ssize_t* xshape, double* out,
              double* a, double* b, const Axis* ax, bint channels_last,
              int num_threads) except -1:
    """Window sums (N, OD, OH, OW) of x into out (kernel axis order, C-contiguous), through
    a (the W-reduced input) and b (then H-reduced; unused, may be NULL, where D is an
    identity axis, as in every 1-D and 2-D call)."""
    cdef Py_ssize_t N = xshape[0], C = xshape[4] if channels_last else xshape[1]
    cdef Py_ssize_t D = ax[0].size_in, H = ax[1].size_in
    cdef Py_ssize_t OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t inner = C if channels_last else 1, outer = 1 if channels_last else C
    cdef Py_ssize_t shp[4]
    cdef Py_ssize_t stp[4]
    cdef Py_ssize_t per_thread = 2 * max(D, H, ax[2].size_in) * LANES
    cdef double* scratch = <double*>malloc(num_threads * per_thread * sizeof(double))
    cdef Py_ssize_t* ends = <Py_ssize_t*>malloc(
        2 * max(ax[0].size_out, OH, OW) * sizeof(Py_ssize_t))
    if scratch == NULL or ends == NULL:
        free(scratch)
        free(ends)
        raise MemoryError()
    cdef bint d_identity = _identity(&ax[0])
    try:
        with nogil:
            # W: lines of the input (any strides), into a = (..., OW, [C]).
            if channels_last:  # (N, D, H) groups of C lanes
                shp[0], shp[1], shp[2] = N, D, H
                stp[0], stp[1], stp[2] = xstep[0], xstep[1], xstep[2]
                _axis_pass(xp, <double*>NULL, N * D * H, stp, shp, 3, ax[2].size_in, xstep[3],
                           C, 1, a, C, 1, &ax[2], ends, scratch, per_thread, num_threads)
            else:  # (N, C, D) groups whose H rows are the lanes
                shp[0], shp[1], shp[2] = N, C, D
                stp[0], stp[1], stp[2] = xstep[0], xstep[1], xstep[2]
                _axis_pass(xp, <double*>NULL, N * C * D, stp, shp, 3, ax[2].size_in, 1, H,
                           xstep[3], a, 1, OW, &ax[2], ends, scratch, per_thread, num_threads)
            # H: a = (outer, H, OW * inner) -> (outer, OH, OW * inner), then D likewise.
            _contiguous_pass(a, out if d_identity else b, N * outer * D, H, OW * inner, &ax[1],
                             ends, scratch, per_thread, num_threads)
            if not d_identity:
                _contiguous_pass(b, out, N * outer, D, OH * OW * inner, &ax[0], ends, scratch,
                                 per_thread, num_threads)
    finally:
        free(scratch)
        free(ends)
    return 0


cdef void _contiguous_pass(double* src, double* dst, Py_ssize_t outer, Py_ssize_t n,
                           Py_ssize_t lanes, const Axis* a, Py_ssize_t* ends, double* scratch,
                           Py_ssize_t per_thread, int num_threads) noexcept nogil:
    """An axis pass over a C-contiguous (outer, n, lanes) buffer into (outer, size_out, lanes)."""
    cdef Py_ssize_t shp[1]
    cdef Py_ssize_t stp[1]
    shp[0] = outer
    stp[0] = n * lanes
    _axis_pass(<const uint8_t*>NULL, src, outer, stp, shp, 1, n, lanes, lanes, 1, dst, lanes, 1,
               a, ends, scratch, per_thread, num_threads)


def avg_pool(x, out, const int64_t[:, ::1] geometry, bint count_include_pad,
             Py_ssize_t divisor_override, bint channels_last, int num_threads):
    """Average pooling of a 5-D x (kernel axis order, unit-stride last axis; 8-, 16- or
    32-bit integers, float32 or float64) into out (C-contiguous, same order; float32 for
    float32 x, else float64) by block prefix sums (divisor_override 0: none)."""
    cdef Axis ax[3]
    read_geometry(&geometry[0, 0], ax)
    cdef Py_ssize_t xstep[5]
    cdef Py_ssize_t xshape[5]
    cdef Py_ssize_t i
    for i in range(5):
        xstep[i] = x.strides[i] // x.itemsize
        xshape[i] = x.shape[i]
    cdef bint cl = channels_last
    cdef Py_ssize_t N = xshape[0], C = xshape[4] if cl else xshape[1]
    cdef Py_ssize_t D = ax[0].size_in, H = ax[1].size_in, OH = ax[1].size_out
    cdef Py_ssize_t OW = ax[2].size_out
    # Scratch from the result pool: a call with the same shapes reuses its pages.
    cdef double[::1] a = empty((N * C * D * H * OW,), np.float64)
    cdef double[::1] b = None if _identity(&ax[0]) else empty((N * C * D * OH * OW,), np.float64)
    cdef float[::1] o32 = out.reshape(-1) if out.dtype == np.float32 else None
    cdef double[::1] o = empty((out.size,), np.float64) if o32 is not None else out.reshape(-1)
    cdef double* bp = &b[0] if b is not None else NULL
    cdef const void* xp = <const void*><size_t>x.ctypes.data  # x stays referenced: valid
    cdef double* op = &o[0]
    code, size = x.dtype.char, x.itemsize
    if code == 'b':
        _box(<const int8_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code == 'h':
        _box(<const int16_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code in 'il' and size == 4:
        _box(<const int32_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code == 'B':
        _box(<const uint8_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code == 'H':
        _box(<const uint16_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code in 'IL' and size == 4:
        _box(<const uint32_t*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code == 'f':
        _box(<const float*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    elif code == 'd':
        _box(<const double*>xp, xstep, xshape, op, &a[0], bp, ax, cl, num_threads)
    else:
        raise ValueError("box sums take 8-, 16- and 32-bit integers, float32 and float64")
    cdef double* tab = <double*>malloc(ax[0].size_out * OH * OW * sizeof(double))
    if tab == NULL:
        raise MemoryError()
    try:
        with nogil:
            _divide(op, &o32[0] if o32 is not None else NULL, tab, ax, count_include_pad,
                    divisor_override, N * (1 if cl else C), C if cl else 1, num_threads)
    finally:
        free(tab)


cdef void _divide(double* o, float* o32, double* tab, const Axis* ax, bint count_include_pad,
                  Py_ssize_t divisor_override, Py_ssize_t planes, Py_ssize_t lanes,
                  int num_threads) noexcept nogil:
    """Window sums to averages, one division by torch's divisor as the direct kernel
    divides: in place, or into o32 (float32 results of float32 input) unless NULL.  o is
    (planes, OD * OH * OW, lanes); tab gets the divisors."""
    cdef Py_ssize_t OD = ax[0].size_out, OH = ax[1].size_out, OW = ax[2].size_out
    cdef Py_ssize_t P = OD * OH * OW, p, u, j, od, oh, ow, i
    for od in range(OD):
        for oh in range(OH):
            for ow in range(OW):
                tab[(od * OH + oh) * OW + ow] = <double>(
                    divisor_override if divisor_override != 0 else
                    divisor_factor(&ax[0], od, count_include_pad)
                    * divisor_factor(&ax[1], oh, count_include_pad)
                    * divisor_factor(&ax[2], ow, count_include_pad))
    for u in prange(planes, num_threads=num_threads, schedule='guided',
                    use_threads_if=num_threads > 1):
        for p in range(P):
            for j in range(lanes):
                i = (u * P + p) * lanes + j
                if o32 != NULL:
                    o32[i] = <float>(o[i] / tab[p])
                else:
                    o[i] = o[i] / tab[p]
