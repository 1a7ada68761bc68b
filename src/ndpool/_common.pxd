# Shared declarations for the kernel modules: element types, the per-axis geometry
# struct, and small inline helpers.

from libc.math cimport INFINITY
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t,
                          uint32_t, uint64_t, INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN)

# Every dtype a max-type kernel takes (bool arrays are read as uint8).
ctypedef fused pool_t:
    float
    double
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused real_t:
    float
    double

# Geometry of one spatial axis, as ndpool._args.Axis.
cdef struct Axis:
    Py_ssize_t size_in, size_out, kernel, stride, dilation, pad_lo, pad_hi

cdef inline Py_ssize_t floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # b > 0; C division truncates toward zero.
    cdef Py_ssize_t q = a // b
    if (a % b != 0) and a < 0:
        q -= 1
    return q


cdef inline Py_ssize_t ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return -floor_div(-a, b)


cdef inline void tap_range(const Axis* a, Py_ssize_t o, Py_ssize_t* t0, Py_ssize_t* t1) noexcept nogil:
    """Window taps t of output o whose position o*stride - pad_lo + t*dilation is inside the input.

    Without dilation there is nothing to divide: a pixel's few taps cost less than the
    integer divisions of the general bounds."""
    cdef Py_ssize_t start = o * a.stride - a.pad_lo
    cdef Py_ssize_t hi
    if a.dilation == 1:
        t0[0] = -start if start < 0 else 0
        t1[0] = a.size_in - start if a.size_in - start < a.kernel else a.kernel
        return
    hi = ceil_div(a.size_in - start, a.dilation)
    t0[0] = ceil_div(-start, a.dilation) if start < 0 else 0
    t1[0] = hi if hi < a.kernel else a.kernel


cdef inline void out_range(const Axis* a, Py_ssize_t off, Py_ssize_t lo, Py_ssize_t hi,
                            Py_ssize_t* r0, Py_ssize_t* r1) noexcept nogil:
    """Outputs o in [lo, hi) for which position o*stride + off is inside the input."""
    cdef Py_ssize_t first = ceil_div(-off, a.stride)
    cdef Py_ssize_t last = floor_div(a.size_in - 1 - off, a.stride) + 1
    r0[0] = first if first > lo else lo
    r1[0] = last if last < hi else hi
    if r1[0] < r0[0]:
        r1[0] = r0[0]


cdef inline void whole_windows(const Axis* a, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t* r0,
                               Py_ssize_t* r1) noexcept nogil:
    """Outputs o in [lo, hi) whose every tap lies inside the input (its first and its last
    do)."""
    cdef Py_ssize_t e0, e1
    out_range(a, -a.pad_lo, lo, hi, r0, r1)
    out_range(a, (a.kernel - 1) * a.dilation - a.pad_lo, lo, hi, &e0, &e1)
    r0[0] = e0 if e0 > r0[0] else r0[0]
    r1[0] = e1 if e1 < r1[0] else r1[0]
    if r1[0] < r0[0]:
        r1[0] = r0[0]


cdef inline void block_taps(const Axis* a, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t* t0,
                            Py_ssize_t* t1) noexcept nogil:
    """Taps t that reach inside the input for some output o in [lo, hi) (hi > lo), so that
    loops over a block never walk the taps of a huge window that only covers padding."""
    cdef Py_ssize_t first = ceil_div(a.pad_lo - (hi - 1) * a.stride, a.dilation)
    cdef Py_ssize_t last = floor_div(a.size_in - 1 + a.pad_lo - lo * a.stride, a.dilation) + 1
    t0[0] = first if first > 0 else 0
    t1[0] = last if last < a.kernel else a.kernel


cdef inline Py_ssize_t first_pos(const Axis* a, Py_ssize_t o) noexcept nogil:
    """Position of the first window element of output o that lies inside the input."""
    cdef Py_ssize_t t0, t1
    tap_range(a, o, &t0, &t1)
    return o * a.stride - a.pad_lo + t0 * a.dilation


cdef inline Py_ssize_t divisor_factor(const Axis* a, Py_ssize_t o, bint count_include_pad) noexcept nogil:
    """torch's average divisor along one axis: window clipped at the end of the padding,
    then (unless padding counts) clamped to the input."""
    cdef Py_ssize_t start = o * a.stride - a.pad_lo
    cdef Py_ssize_t end = start + a.kernel
    if end > a.size_in + a.pad_hi:
        end = a.size_in + a.pad_hi
    if count_include_pad:
        return end - start
    if start < 0:
        start = 0
    if end > a.size_in:
        end = a.size_in
    return end - start


cdef inline pool_t lowest_value(pool_t like) noexcept nogil:
    """The max-pooling start value: -inf, or the smallest integer of the type."""
    if pool_t is float or pool_t is double:
        return -INFINITY
    elif pool_t is int8_t:
        return INT8_MIN
    elif pool_t is int16_t:
        return INT16_MIN
    elif pool_t is int32_t:
        return INT32_MIN
    elif pool_t is int64_t:
        return INT64_MIN
    else:
        return 0


cdef inline void read_geometry(const int64_t* g, Axis* ax) noexcept nogil:
    """Unpack the (3, 7) int64 table built by ndpool._pooling._geometry_array."""
    cdef int i
    for i in range(3):
        ax[i].size_in = g[7 * i]
        ax[i].size_out = g[7 * i + 1]
        ax[i].kernel = g[7 * i + 2]
        ax[i].stride = g[7 * i + 3]
        ax[i].dilation = g[7 * i + 4]
        ax[i].pad_lo = g[7 * i + 5]
        ax[i].pad_hi = g[7 * i + 6]


cdef inline Py_ssize_t adaptive_start(Py_ssize_t o, Py_ssize_t size_in, Py_ssize_t size_out) noexcept nogil:
    """First input position of adaptive bin o: floor(o * In / Out)."""
    return (o * size_in) // size_out


cdef inline Py_ssize_t adaptive_end(Py_ssize_t o, Py_ssize_t size_in, Py_ssize_t size_out) noexcept nogil:
    """One past the last input position of adaptive bin o: ceil((o + 1) * In / Out)."""
    return ((o + 1) * size_in + size_out - 1) // size_out


# Work items of the forward kernels.  A channels-first item is one output row
# (n, c, od, oh) and a block [w0, w1) of its outputs; `offset` is out[n, c, od, oh, 0]
# in the C-contiguous output.  A channels-last item is one output pixel (n, od, oh, ow).
cdef struct RowBlock:
    Py_ssize_t n, c, od, oh, w0, w1, offset

cdef struct Pixel:
    Py_ssize_t n, od, oh, ow


cdef inline Py_ssize_t row_blocks(Py_ssize_t OW, Py_ssize_t block) noexcept nogil:
    """Blocks per output row."""
    return (OW + block - 1) // block


cdef inline RowBlock row_block(Py_ssize_t item, Py_ssize_t C, Py_ssize_t OD, Py_ssize_t OH,
                               Py_ssize_t OW, Py_ssize_t block) noexcept nogil:
    cdef RowBlock b
    cdef Py_ssize_t nblk = row_blocks(OW, block)
    cdef Py_ssize_t r = item // nblk
    b.w0 = (item % nblk) * block
    b.w1 = b.w0 + block if b.w0 + block < OW else OW
    b.oh = r % OH
    r = r // OH
    b.od = r % OD
    r = r // OD
    b.c = r % C
    b.n = r // C
    b.offset = (((b.n * C + b.c) * OD + b.od) * OH + b.oh) * OW
    return b


cdef inline void divide_span(real_t* p, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """p[i] = p[i] / k for i < n, nothing for k = 1, a multiplication by the exact 1 / k
    for powers of two (the same bits as the division, cheaper)."""
    cdef Py_ssize_t i
    cdef real_t kf = <real_t>k, inv = <real_t>1 / kf
    if k == 1:
        return
    if (k & (k - 1)) == 0:
        for i in range(n):
            p[i] = p[i] * inv
    else:
        for i in range(n):
            p[i] = p[i] / kf


# Outputs per channels-first work item of several rows (rows_per_item).
cdef enum:
    ROWS_OUTPUTS = 2048


cdef inline Py_ssize_t rows_per_item(Py_ssize_t planes, Py_ssize_t OH, Py_ssize_t row_outputs,
                                     int num_threads) noexcept nogil:
    """Output rows per channels-first work item: about ROWS_OUTPUTS outputs, so that the
    per-item set-up (index arithmetic, W geometry) is spread over many rows, while
    leaving at least 8 items per thread."""
    cdef Py_ssize_t r = ROWS_OUTPUTS // row_outputs
    if r > OH:
        r = OH
    while r > 1 and planes * ((OH + r - 1) // r) < 8 * num_threads:
        r = (r + 1) // 2
    return r if r > 1 else 1


cdef inline Pixel pixel(Py_ssize_t item, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW) noexcept nogil:
    cdef Pixel p
    p.ow = item % OW
    item = item // OW
    p.oh = item % OH
    item = item // OH
    p.od = item % OD
    p.n = item // OD
    return p
