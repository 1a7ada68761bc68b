# cython: language_level=3
"""Private backward (input-gradient) kernels.  Arguments are trusted: ``ndpool._backward``
validates them.

``grad`` (and ``indices``) are 5-D arrays with any strides but a unit-stride last axis
(3-D and 4-D ones are read as 5-D with size-1 leading spatial axes: no reshaped views);
``out`` is the C-contiguous input gradient in the same axis order.  Two layouts:

* channels-first ``(N, C, D, H, W)``: a work unit is one ``(n, c)`` plane;
* channels-last ``(N, D, H, W, C)``: a work unit is a block of channels of one sample (the
  whole sample when there are enough samples to keep the threads busy), and the innermost
  loops walk those channels.

A unit scans its outputs in row-major order and adds each output's share to its input cells,
as torch does (docs/semantics.md, Gradients).  Every cell therefore receives its contributions
in output order, and no two units write the same memory: results do not depend on the thread
count, and no atomics are needed.  (Max backward over planes of short rows with long runs of
equal indices keeps a run's running sum in a register, _scatter_runs: the same additions.)

A unit zeroes its part of ``out`` lazily, a few KiB ahead of where it writes (a "watermark":
cells at or past it were never written, so zeroing them is safe in any access order).  The
zeros are then still in cache when the shares arrive, instead of a separate pass over the
whole gradient, and the tail past the last write is zeroed at the end.

Calls where a cell receives at most one share skip both the zeroing and the scatter and
write each cell once, in memory order, as 0 + its share (the bits the scatter gives):
average pooling with disjoint windows (kernel <= stride) in either layout, and max pooling
where every index lies in its output's block (_gather_blocks channels-last, _gather_plane
channels-first; a sample or plane where one does not is redone by the scatter).

Max backward gradients of STREAM_BYTES or more (larger than the last-level cache) write
the cells written once, and the planes built on the stack, with streaming stores
(_stream.h): a plain store would read every line of out from memory before writing it.
"""

from cpython.buffer cimport PyBuffer_Release
from cython.parallel cimport prange
cimport ndpool._openmp  # one-thread regions without libgomp's team
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcpy, memset

from ndpool._common cimport (Axis, real_t, read_geometry, divisor_factor, divide_span, out_range,
                             tap_range, adaptive_start, adaptive_end)
from ndpool._lanes cimport lanes_in, lanes_out
from ndpool._buffers cimport Strided, acquire_padded

cdef extern from "_plane_sums.h" nogil:
    void ndp_prefetch_l1(const void* p, Py_ssize_t nbytes)

cdef extern from "_share_rows.h" nogil:
    void ndp_share_rows_f32(const float* const* rows, int nrows, int taps, Py_ssize_t tstep,
                            Py_ssize_t pitch, float* dst, Py_ssize_t dstep, Py_ssize_t n,
                            Py_ssize_t m)
    void ndp_share_rows_f64(const double* const* rows, int nrows, int taps, Py_ssize_t tstep,
                            Py_ssize_t pitch, double* dst, Py_ssize_t dstep, Py_ssize_t n,
                            Py_ssize_t m)

cdef extern from "_stream.h" nogil:
    void ndp_stream_copy(void* dst, const void* src, size_t nbytes)
    void ndp_stream_zero(void* dst, size_t nbytes)
    void ndp_stream_fence()

cdef enum:
    # Channels-last units split a sample's channels in multiples of this (a 64-byte line of
    # float32), and only when there are too few samples for the threads.
    CH_ALIGN = 16
    # Channels-last shares are computed this many channels at a time (on the stack).
    CH_CHUNK = 64
    # Outputs per channels-first row block (the shares of one block sit on the stack).
    W_BLOCK = 512
    # Lazy zeroing runs ahead of the writes in steps of about this many bytes.
    ZERO_AHEAD = 4096
    # Channels-first max backward builds planes of more than SCRATCH_MIN and up to
    # SCRATCH_BYTES bytes on the stack (smaller planes stay in L1 where they are).
    SCRATCH_MIN = 16384
    SCRATCH_BYTES = 131072
    SCRATCH_DOUBLES = SCRATCH_BYTES // 8
    # Channels-first max backward calls of at most this many outputs choose their paths
    # without sampling the indices.
    SMALL_OUTPUTS = 4096
    # Gradients of at least this many bytes are written with streaming stores (_stream.h):
    # they do not fit in the last-level cache, and a plain store would read each line first.
    STREAM_BYTES = 16 << 20
    # Channels-last max gradients gather blocks only for pixels of at least this many bytes:
    # narrower ones pay the gather's set-up per output for a few values, and the scatter
    # ran 1.1-10x faster (float32 x2 to x8, float64 x2 and x4; 2x2 and 2x2x2 windows); at
    # 64 bytes the two were mixed (the gather 0.8-1.4x faster on one thread).
    GATHER_MIN_PIXEL_BYTES = 64
    # Cells of the streamed _gather_plane rows built on the stack.
    PICK_ROWS = 1024
    # Channels-first max planes of at most this many cells are scattered even where their
    # indices lie in their blocks: _gather_plane's calls per output row cost more than
    # a plane that stays in L1 (2x2/s2, one thread: 7x7 and 14x14 planes 2.6x faster
    # scattered, 28x28 1.4x, 32x32 1.2x; 48x48 0.96x, 56x56 0.84x, 112x112 0.58x).
    BLOCKS_MIN_CELLS = 1024
    # Channels-first max planes of at most this many cells are scattered in runs of planes
    # of about SMALL_PLANES_BYTES, zeroed at once (_scatter_small_planes).
    SMALL_PLANE_CELLS = 256
    SMALL_PLANES_BYTES = 16384
    # Max backward writes blocks cell by cell (_gather_blocks) up to this many cells a
    # block: each cell tests every index of its output, which for large blocks costs
    # more than zeroing them and one scatter (measured: 3x3 blocks gain, 4x4 break even,
    # a global max over 7x7 is 2.5x slower).
    GATHER_CELLS = 12
    # Share rows a cell of _avg_plane_same sums at most (3x3x3 windows).
    SAME_ROWS = 27
    # Channels-first average gradients of planes of up to this many cells (and outputs)
    # run 8 planes at a time through the channels-last kernels (_avg_cf_lanes).
    LANES_CELLS = 256
    # Values per work item of _equal_bins_rows.
    EQUAL_ROWS = 2048
    # Share rows a channels-last gather of cubic average windows keeps at most (bytes): half
    # of this machine's 1 MB L2.  I3D's 3x3x3 on 8x28x28 with 96 channels a unit (one
    # thread) needs 276 KB; past the limit the scatter ran it 0.48x.
    GATHER_RING_BYTES = 524288
    # Planes per work item of _one_cell_planes, and the cells it streams from the stack at once.
    ONE_CELL_PLANES = 256
    ONE_CELL_CHUNK = 1024
    # _one_cell_planes streams from this many bytes on (a fill reads nothing, so a result
    # that fits in the last-level cache stays there: ResNet-50's float64 head, 26 MB, was
    # 2.1x slower streamed; the text CNN's 50 and 100 MB heads 1.3x and 1.7x faster).
    ONE_CELL_STREAM_BYTES = 32 << 20


cdef Py_ssize_t _channel_block(Py_ssize_t N, Py_ssize_t C, int num_threads) noexcept nogil:
    """Channels per channels-last unit.  Whole samples read and write whole lines, so split
    them only to give every thread about four units; the result does not depend on it."""
    cdef Py_ssize_t nblk = (4 * num_threads + N - 1) // N if N > 0 else 1
    cdef Py_ssize_t width
    if nblk <= 1:
        return C
    width = (C + nblk - 1) // nblk
    width = (width + CH_ALIGN - 1) // CH_ALIGN * CH_ALIGN
    return width if width < C else C


cdef inline void _zero_block(real_t* out, Py_ssize_t cells, Py_ssize_t C, Py_ssize_t nc) noexcept nogil:
    """out[p * C + c] = 0 for p < cells, c < nc: one channels-last unit's part of a sample."""
    cdef Py_ssize_t p, c
    if nc == C:
        memset(out, 0, cells * C * sizeof(real_t))
    else:
        for p in range(cells):
            for c in range(nc):
                out[p * C + c] = 0


cdef inline Py_ssize_t _zero_upto(real_t* out, Py_ssize_t wm, Py_ssize_t need, Py_ssize_t P,
                                  Py_ssize_t C, Py_ssize_t nc) noexcept nogil:
    """Zero positions [wm, new) of a unit (channels [0, nc) of each) for some new >= need, at
    least ZERO_AHEAD bytes ahead and at most P; returns new, the unit's next watermark."""
    cdef Py_ssize_t ahead = ZERO_AHEAD // (nc * <Py_ssize_t>sizeof(real_t))
    cdef Py_ssize_t new = wm + (ahead if ahead > 1 else 1)
    if new < need:
        new = need
    if new > P:
        new = P
    if new > wm:
        _zero_block(out + wm * C, new - wm, C, nc)
        return new
    return wm


cdef inline void _add_span(const real_t* src, real_t* dst, Py_ssize_t step, Py_ssize_t n) noexcept nogil:
    """dst[i * step] += src[i] for i < n."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i * step] += src[i]


cdef inline void _add_span_any(const real_t* src, real_t* dst, Py_ssize_t step, Py_ssize_t n) noexcept nogil:
    # Literal steps for the common strides, so that the compiler can vectorise them.
    if step == 1:
        _add_span(src, dst, 1, n)
    elif step == 2:
        _add_span(src, dst, 2, n)
    else:
        _add_span(src, dst, step, n)


# ---------------------------------------------------------------------------------------
# Max and adaptive max: scatter-add at the forward's indices.  An index outside the plane is
# counted and skipped (never written); the caller raises.
#
# This and _adaptive_avg serve both layouts: a channels-first (n, c) plane is a block of one
# channel in a sample of one channel (unit strides gW, iW and C = nc = 1).

cdef Py_ssize_t _scatter(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                        const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH, Py_ssize_t iW,
                        Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                        real_t* out, Py_ssize_t P, Py_ssize_t C, Py_ssize_t nc) noexcept nogil:
    """g, idx and out point at channel c0 of one sample; the unit owns channels [c0, c0 + nc)."""
    cdef Py_ssize_t od, oh, ow, c, wm = 0, bad = 0
    cdef const real_t* gp
    cdef const int64_t* ip
    cdef uint64_t j
    for od in range(OD):
        for oh in range(OH):
            for ow in range(OW):
                gp = g + od * gD + oh * gH + ow * gW
                ip = idx + od * iD + oh * iH + ow * iW
                for c in range(nc):
                    # One unsigned compare finds both an index past the zeroed part and one
                    # outside [0, P) (negative ones wrap around).
                    j = <uint64_t>ip[c]
                    if j >= <uint64_t>wm:
                        if j >= <uint64_t>P:
                            bad += 1
                            continue
                        wm = _zero_upto(out, wm, <Py_ssize_t>j + 1, P, C, nc)
                    out[<Py_ssize_t>j * C + c] += gp[c]
    _zero_upto(out, wm, P, P, C, nc)
    return bad


cdef extern from "_picks.h" nogil:
    Py_ssize_t ndpool_pick_f32(const float* gp, const int64_t* ip, int64_t cell, float* op,
                               Py_ssize_t nc) noexcept nogil
    Py_ssize_t ndpool_pick_f64(const double* gp, const int64_t* ip, int64_t cell, double* op,
                               Py_ssize_t nc) noexcept nogil
    void ndpool_offsets(const int64_t* ip, int64_t base, int32_t* off, Py_ssize_t nc) noexcept nogil
    Py_ssize_t ndpool_pick32_f32(const float* gp, const int32_t* off, int32_t cell, float* op,
                                 Py_ssize_t nc) noexcept nogil
    Py_ssize_t ndpool_pick_row_f32(const float* g, const int64_t* idx, Py_ssize_t n,
                                   int64_t base, Py_ssize_t bw, float* dst) noexcept nogil
    Py_ssize_t ndpool_pick_row_f64(const double* g, const int64_t* idx, Py_ssize_t n,
                                   int64_t base, Py_ssize_t bw, double* dst) noexcept nogil


cdef inline Py_ssize_t _select(const real_t* gp, const int64_t* ip, int64_t cell, real_t* op,
                               Py_ssize_t nc) noexcept nogil:
    """op[c] = 0 + (gp[c] if ip[c] == cell else 0) for c < nc (a cell that receives at most
    one share: zero plus it, as the scatter adds it to a zeroed cell); returns the hits."""
    if real_t is float:
        return ndpool_pick_f32(gp, ip, cell, op, nc)
    else:
        return ndpool_pick_f64(gp, ip, cell, op, nc)


cdef inline Py_ssize_t _select32(const real_t* gp, const int32_t* off, int32_t cell, real_t* op,
                                 Py_ssize_t nc) noexcept nogil:
    """_select against 32-bit offsets (ndpool_offsets); float32 only (double never has
    offsets: its int64 compares already give its 64-bit masks)."""
    if real_t is float:
        return ndpool_pick32_f32(gp, off, cell, op, nc)
    else:
        return 0


cdef inline void _zero_cells(real_t* out, Py_ssize_t n, bint stream) noexcept nogil:
    if stream:
        ndp_stream_zero(out, n * sizeof(real_t))
    else:
        memset(out, 0, n * sizeof(real_t))


cdef inline Py_ssize_t _select_streamed(const real_t* gp, const int64_t* ip, int64_t cell,
                                        real_t* op, Py_ssize_t nc) noexcept nogil:
    """_select, streamed: CH_CHUNK channels at a time picked on the stack, then copied out."""
    cdef real_t buf[CH_CHUNK]
    cdef Py_ssize_t c = 0, m, hits = 0
    while c < nc:
        m = nc - c if nc - c < CH_CHUNK else CH_CHUNK
        hits += _select(gp + c, ip + c, cell, buf, m)
        ndp_stream_copy(op + c, buf, m * sizeof(real_t))
        c += m
    return hits


cdef Py_ssize_t _pick_cells(const real_t* g, Py_ssize_t gW, const int64_t* idx, Py_ssize_t iW,
                            int64_t row, Py_ssize_t n, Py_ssize_t bw, real_t* out,
                            Py_ssize_t C, const int32_t* off, int32_t rel) noexcept nogil:
    """Cells row .. row + n - 1 of one channels-last input row (out at the first), cell
    row + q picked from output q // bw (g and idx at output 0) and streamed out, whole
    cells of up to PICK_ROWS values at a time (a wider cell a chunk of it at a time,
    _select_streamed); returns the hits.  Given off (float32, C <= PICK_ROWS: each
    output's C indices as offsets from its block's first cell, ndpool_offsets), cell
    row + q is rel + q % bw from there."""
    cdef real_t buf[PICK_ROWS]
    cdef Py_ssize_t per = PICK_ROWS // C, q = 0, m, k, o, hits = 0
    if per == 0:
        for q in range(n):
            hits += _select_streamed(g + (q // bw) * gW, idx + (q // bw) * iW, row + q,
                                     out + q * C, C)
        return hits
    while q < n:
        m = n - q if n - q < per else per
        if off != NULL:  # (the test inside one loop cost the offsets' gain: 0.92-1.08x)
            for k in range(m):
                o = (q + k) // bw
                hits += _select32(g + o * gW, off + o * C, rel + <int32_t>((q + k) % bw),
                                  buf + k * C, C)
        else:
            for k in range(m):
                o = (q + k) // bw
                hits += _select(g + o * gW, idx + o * iW, row + q + k, buf + k * C, C)
        ndp_stream_copy(out + q * C, buf, m * C * sizeof(real_t))
        q += m
    return hits


cdef bint _gather_blocks(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                         const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH, Py_ssize_t iW,
                         Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t r0,
                         Py_ssize_t r1, real_t* out, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t C, bint stream) noexcept nogil:
    """_gather_rows, given room for the 32-bit offsets of float32 indices (ndpool_offsets):
    one output's on the stack, or a streamed output row's."""
    cdef int32_t one[PICK_ROWS]
    cdef int32_t* offs = NULL
    cdef bint done
    if real_t is float:
        if C <= PICK_ROWS and D * H * W < (<Py_ssize_t>1 << 31):
            offs = <int32_t*>malloc(OW * C * sizeof(int32_t)) if stream else one
    done = _gather_rows(g, gD, gH, gW, idx, iD, iH, iW, OD, OH, OW, r0, r1, out, D, H, W, C,
                        stream, offs)
    if stream:
        free(offs)
    return done


cdef bint _gather_rows(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                       const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH, Py_ssize_t iW,
                       Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t r0,
                       Py_ssize_t r1, real_t* out, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t C, bint stream, int32_t* offs) noexcept nogil:
    """_scatter's result for output rows r = od * OH + oh in [r0, r1) of one channels-last
    sample, written cell by cell, when every index lies in its output's block.

    Output (od, oh, ow) owns the block of (D // OD) x (H // OH) x (W // OW) cells at
    (od, oh, ow) times those sizes, where a non-overlapping forward (kernel == stride, and
    the global adaptive max) puts its argmax.  Blocks are disjoint, so a cell then receives
    at most one share and its result is 0 + that share, written once: no zeroing pass, no
    scatter, and rows of outputs own disjoint parts of out (cells no block covers go with
    the last block before them).  Each output's index must hit one cell of its block; at
    the first that does not (an overlapping forward, or indices from elsewhere) this
    returns False with out partly written, and the sample is redone by _scatter.
    Streamed, the cells of each input row are picked on the stack and copied out
    (_pick_cells).  Given offs (float32), an output's indices are narrowed once to 32-bit
    offsets from its block (a whole output row's at a time when streamed), and its cells
    compare those instead of the int64 indices (ndpool_pick32_f32).
    """
    cdef Py_ssize_t bd = D // OD, bh = H // OH, bw = W // OW
    cdef Py_ssize_t r, od, oh, ow, a, b, e, row
    cdef const real_t* gp
    cdef const int64_t* ip
    cdef Py_ssize_t hits
    if bd == 0 or bh == 0 or bw == 0:
        return False
    for r in range(r0, r1):
        od = r // OH
        oh = r % OH
        if stream:
            # Each input row in memory order (a block's rows interleaved a cell at a time
            # left the streaming stores 2x slower).  An output's channels hit at most one
            # cell each, so the row's hits reach OW * C only if every output's reach C.
            hits = 0
            if offs != NULL:  # each output's indices narrowed once, for all its cells
                row = ((od * bd) * H + oh * bh) * W  # the first block's first cell
                for ow in range(OW):
                    ndpool_offsets(idx + od * iD + oh * iH + ow * iW, row + ow * bw,
                                   offs + ow * C, C)
            for a in range(bd):
                for b in range(bh):
                    row = ((od * bd + a) * H + oh * bh + b) * W
                    hits += _pick_cells(g + od * gD + oh * gH, gW, idx + od * iD + oh * iH, iW,
                                        row, OW * bw, bw, out + row * C, C, offs,
                                        <int32_t>((a * H + b) * W))
            if hits != OW * C:
                ndp_stream_fence()  # the scatter that redoes the sample may run on another thread
                return False
        else:
            for ow in range(OW):
                gp = g + od * gD + oh * gH + ow * gW
                ip = idx + od * iD + oh * iH + ow * iW
                hits = 0
                if offs != NULL:  # this output's indices narrowed once, for all its cells
                    ndpool_offsets(ip, ((od * bd) * H + oh * bh) * W + ow * bw, offs, C)
                for a in range(bd):
                    for b in range(bh):
                        row = ((od * bd + a) * H + oh * bh + b) * W + ow * bw
                        for e in range(bw):
                            if offs != NULL:
                                hits += _select32(gp, offs, <int32_t>((a * H + b) * W + e),
                                                  out + (row + e) * C, C)
                            else:
                                hits += _select(gp, ip, row + e, out + (row + e) * C, C)
                if hits != C:
                    return False
        if OW * bw < W:  # the columns no block covers
            for a in range(bd):
                for b in range(bh):
                    row = ((od * bd + a) * H + oh * bh + b) * W + OW * bw
                    _zero_cells(out + row * C, (W - OW * bw) * C, stream)
        if oh == OH - 1 and OH * bh < H:  # the rows no block covers
            for a in range(bd):
                row = ((od * bd + a) * H + OH * bh) * W
                _zero_cells(out + row * C, (H - OH * bh) * W * C, stream)
        if r == OD * OH - 1 and OD * bd < D:  # the depth slices no block covers
            _zero_cells(out + OD * bd * H * W * C, (D - OD * bd) * H * W * C, stream)
    if stream:
        ndp_stream_fence()
    return True


cdef inline Py_ssize_t _pick_row(const real_t* g, const int64_t* idx, Py_ssize_t n, int64_t base,
                                 Py_ssize_t bw, real_t* dst) noexcept nogil:
    if real_t is float:
        return ndpool_pick_row_f32(g, idx, n, base, bw, dst)
    else:
        return ndpool_pick_row_f64(g, idx, n, base, bw, dst)


cdef bint _gather_plane(const real_t* g, Py_ssize_t gD, Py_ssize_t gH,
                        const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH,
                        Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                        real_t* out, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                        bint stream) noexcept nogil:
    """_gather_blocks for one channels-first plane: each input row written once, from the
    indices of the output row whose blocks it crosses (_pick_row), when every index lies
    in its output's block.  Streamed, the rows of a slice that one output row covers are
    built on the stack and copied out together.  Returns False at the first output row
    with an index outside its block (the caller redoes the plane by _scatter_cf, which
    zeroes before it adds)."""
    cdef Py_ssize_t bd = D // OD, bh = H // OH, bw = W // OW
    cdef Py_ssize_t od, oh, a, b, r, hits, n = OW * bw
    cdef real_t rows[PICK_ROWS]
    cdef real_t* dst
    cdef bint via_rows = stream and bh * W <= PICK_ROWS
    for od in range(OD):
        for oh in range(OH):
            hits = 0
            for a in range(bd):
                r = ((od * bd + a) * H + oh * bh) * W
                dst = &rows[0] if via_rows else out + r
                for b in range(bh):
                    hits += _pick_row(g + od * gD + oh * gH, idx + od * iD + oh * iH, OW,
                                      r + b * W, bw, dst + b * W)
                    if n < W:  # the columns no block covers
                        memset(dst + b * W + n, 0, (W - n) * sizeof(real_t))
                if via_rows:
                    ndp_stream_copy(out + r, dst, bh * W * sizeof(real_t))
            if hits != OW:
                if stream:  # streamed rows land before the scatter's plain stores
                    ndp_stream_fence()
                return False
        if OH * bh < H:  # the rows no block covers, in each slice of this block row
            for a in range(bd):
                _zero_cells(out + ((od * bd + a) * H + OH * bh) * W, (H - OH * bh) * W, stream)
    if OD * bd < D:  # the slices no block covers
        _zero_cells(out + OD * bd * H * W, (D - OD * bd) * H * W, stream)
    if stream:
        ndp_stream_fence()
    return True


cdef Py_ssize_t _scatter_plane(const real_t* g, Py_ssize_t gD, Py_ssize_t gH,
                              const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH,
                              Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                              real_t* out, Py_ssize_t P) noexcept nogil:
    """_scatter for one channels-first plane: rows of unit-stride outputs, one channel."""
    cdef Py_ssize_t od, oh, ow, wm = 0, bad = 0
    cdef const real_t* gp
    cdef const int64_t* ip
    cdef uint64_t j
    for od in range(OD):
        for oh in range(OH):
            gp = g + od * gD + oh * gH
            ip = idx + od * iD + oh * iH
            for ow in range(OW):
                j = <uint64_t>ip[ow]
                if j >= <uint64_t>wm:
                    if j >= <uint64_t>P:
                        bad += 1
                        continue
                    wm = _zero_upto(out, wm, <Py_ssize_t>j + 1, P, 1, 1)
                out[j] += gp[ow]
    _zero_upto(out, wm, P, P, 1, 1)
    return bad


cdef Py_ssize_t _scatter_small_planes(const real_t* gp, const Strided* gs, const int64_t* ip,
                                      const Strided* is_, real_t* op, Py_ssize_t u0,
                                      Py_ssize_t u1, Py_ssize_t P) noexcept nogil:
    """Planes [u0, u1) of a channels-first call (plane u: sample u // C, channel u % C) of
    at most SMALL_PLANE_CELLS cells: zeroed by one memset, then each plane's outputs
    scattered in order, as _scatter_plane does, without its set-up per plane (a function
    call, the watermark, the zeroing call), which cost more than a 7x7 plane's scatter."""
    cdef const Py_ssize_t* g = gs.step
    cdef const Py_ssize_t* i = is_.step
    cdef Py_ssize_t C = gs.shape[1], OD = gs.shape[2], OH = gs.shape[3], OW = gs.shape[4]
    cdef Py_ssize_t u, od, oh, ow, bad = 0, c = u0 % C
    cdef const real_t* gpl = gp + u0 // C * g[0] + c * g[1]
    cdef const int64_t* ipl = ip + u0 // C * i[0] + c * i[1]
    cdef const real_t* gr
    cdef const int64_t* ir
    cdef real_t* out
    cdef uint64_t j
    memset(op + u0 * P, 0, (u1 - u0) * P * sizeof(real_t))
    for u in range(u0, u1):
        out = op + u * P
        for od in range(OD):
            for oh in range(OH):
                gr = gpl + od * g[2] + oh * g[3]
                ir = ipl + od * i[2] + oh * i[3]
                for ow in range(OW):
                    j = <uint64_t>ir[ow]
                    if j >= <uint64_t>P:
                        bad += 1
                        continue
                    out[j] += gr[ow]
        c += 1  # the next plane's gradient and indices, without a division
        gpl += g[1]
        ipl += i[1]
        if c == C:
            c = 0
            gpl += g[0] - C * g[1]
            ipl += i[0] - C * i[1]
    return bad


cdef Py_ssize_t _scatter_runs(const real_t* g, Py_ssize_t gD, Py_ssize_t gH,
                              const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH,
                              Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                              real_t* out, Py_ssize_t P) noexcept nogil:
    """_scatter_plane for planes where consecutive outputs mostly share their index (long
    runs, as overlapping stride-1 windows give).  There each out[j] += g waits for the
    store of the one before it; here the running value of the current cell stays in a
    register and is stored when the index changes.  The additions, and so the bits, are
    the same.  A change of index is a mispredicted branch, which costs more than the
    store wait when runs are short: the caller picks (_long_runs)."""
    cdef Py_ssize_t od, oh, ow, wm, bad = 0
    cdef const real_t* gp
    cdef const int64_t* ip
    cdef uint64_t j, cur = 0
    cdef real_t acc
    if P == 0:
        return _scatter_plane(g, gD, gH, idx, iD, iH, OD, OH, OW, out, P)
    # Start on cell 0, whose value (zero) is then pending in acc like any current cell's.
    wm = _zero_upto(out, 0, 1, P, 1, 1)
    acc = out[0]
    for od in range(OD):
        for oh in range(OH):
            gp = g + od * gD + oh * gH
            ip = idx + od * iD + oh * iH
            for ow in range(OW):
                j = <uint64_t>ip[ow]
                if j == cur:
                    acc += gp[ow]
                    continue
                if j >= <uint64_t>wm:
                    if j >= <uint64_t>P:
                        bad += 1
                        continue
                    # Zeroes only cells past wm, and cur < wm: its pending value is safe.
                    wm = _zero_upto(out, wm, <Py_ssize_t>j + 1, P, 1, 1)
                out[cur] = acc
                cur = j
                acc = out[j] + gp[ow]
    out[cur] = acc
    _zero_upto(out, wm, P, P, 1, 1)
    return bad


cdef Py_ssize_t _scatter_cf(const real_t* g, Py_ssize_t gD, Py_ssize_t gH,
                            const int64_t* idx, Py_ssize_t iD, Py_ssize_t iH,
                            Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                            real_t* out, Py_ssize_t P, bint runs, bint stream) noexcept nogil:
    """One channels-first plane by _scatter_runs or _scatter_plane.  A plane of more than
    SCRATCH_MIN and up to SCRATCH_BYTES bytes is built in a stack buffer, which stays in
    cache, and copied out once: the scattered updates then never wait on lines of out
    coming from memory.  When streaming, the copy streams: no line of out is read."""
    cdef double buf[SCRATCH_DOUBLES]
    cdef Py_ssize_t nbytes = P * <Py_ssize_t>sizeof(real_t)
    cdef real_t* dst = <real_t*>buf if SCRATCH_MIN < nbytes <= SCRATCH_BYTES else out
    cdef Py_ssize_t bad
    if runs:
        bad = _scatter_runs(g, gD, gH, idx, iD, iH, OD, OH, OW, dst, P)
    else:
        bad = _scatter_plane(g, gD, gH, idx, iD, iH, OD, OH, OW, dst, P)
    if dst != out:
        if stream:
            ndp_stream_copy(out, dst, nbytes)
            ndp_stream_fence()
        else:
            memcpy(out, dst, nbytes)
    return bad


cdef inline const int64_t* _sample_row(const int64_t* ip, const Strided* is_, Py_ssize_t k,
                                       Py_ssize_t samples, Py_ssize_t* r) noexcept nogil:
    """Row k of `samples` rows of a channels-first call's indices (all of them when there
    are no more), spread over planes and output rows alike (an even spacing can hit one
    row of each); r gets the row's place in its plane, od * OH + oh."""
    cdef const Py_ssize_t* s = is_.step
    cdef Py_ssize_t OH = is_.shape[3], R = is_.shape[2] * OH
    cdef Py_ssize_t rows = is_.shape[0] * is_.shape[1] * R
    cdef Py_ssize_t q = (k * <Py_ssize_t>2654435761) % rows if samples < rows else k
    cdef Py_ssize_t u = q // R
    r[0] = q % R
    return (ip + (u // is_.shape[1]) * s[0] + (u % is_.shape[1]) * s[1]
            + (r[0] // OH) * s[2] + (r[0] % OH) * s[3])


cdef bint _long_runs(const int64_t* ip, const Strided* is_) noexcept nogil:
    """Whether _scatter_runs is the faster for a channels-first call: planes of rows of at
    most 20 outputs whose runs of equal consecutive indices (in a sample of rows) are 4.5
    outputs or more on average.  There a window's argmax changes at about the same place
    from row to row, and the branch predictor learns where.  Measured on random data,
    stride 1 (AMD EPYC): 19x19 and 13x13 planes, 13x13 windows 2x faster, 9x9 1.1x to
    1.4x; 28x28 and 56x56 planes, or 1-D, mispredict: 9x9 and 11x11 windows up to 1.6x
    slower there, so those keep _scatter_plane."""
    cdef Py_ssize_t OW = is_.shape[4], R = is_.shape[2] * is_.shape[3]
    cdef Py_ssize_t rows = is_.shape[0] * is_.shape[1] * R
    cdef Py_ssize_t k, r, w, outputs = 0, runs = 0, samples = 32
    cdef const int64_t* row
    if OW < 4 or OW > 20 or R < 2 or rows == 0:
        return False
    if samples > rows:
        samples = rows
    for k in range(samples):
        row = _sample_row(ip, is_, k, samples, &r)
        runs += 1
        for w in range(1, OW):
            runs += row[w] != row[w - 1]
        outputs += OW
    return 2 * outputs >= 9 * runs


cdef bint _in_blocks(const int64_t* ip, const Strided* is_, const Strided* os) noexcept nogil:
    """Whether the indices of a sample of outputs (one a sampled row) of a channels-first
    call all lie in their outputs' blocks (_gather_plane's condition; a non-overlapping
    forward).  A guess only: _gather_plane checks every index."""
    cdef Py_ssize_t OD = is_.shape[2], OH = is_.shape[3], OW = is_.shape[4]
    cdef Py_ssize_t D = os.shape[2], H = os.shape[3], W = os.shape[4]
    cdef Py_ssize_t rows = is_.shape[0] * is_.shape[1] * OD * OH
    cdef Py_ssize_t bd, bh, bw, k, r, ow, samples = 32
    cdef int64_t j
    if rows == 0 or OW == 0 or D < OD or H < OH or W < OW:
        return False
    bd, bh, bw = D // OD, H // OH, W // OW
    if samples > rows:
        samples = rows
    for k in range(samples):
        ow = k % OW
        j = _sample_row(ip, is_, k, samples, &r)[ow]
        if (j < 0 or j // (H * W) // bd != r // OH or j // W % H // bh != r % OH
                or j % W // bw != ow):
            return False
    return True


# ---------------------------------------------------------------------------------------
# Average pooling: each output's share gout / divisor (one division, the forward's divisor)
# is added to every cell of its clamped window.

cdef inline Py_ssize_t _divisor(const Axis* ax, Py_ssize_t od, Py_ssize_t oh, Py_ssize_t ow,
                                bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    if divisor_override != 0:
        return divisor_override
    return (divisor_factor(&ax[0], od, count_include_pad)
            * divisor_factor(&ax[1], oh, count_include_pad)
            * divisor_factor(&ax[2], ow, count_include_pad))


cdef inline Py_ssize_t _rows_end(Py_ssize_t d_last, Py_ssize_t h_last, Py_ssize_t H,
                                 Py_ssize_t W) noexcept nogil:
    """One past the last position of input row (d_last, h_last): what an output row whose
    last cell lies in that row needs zeroed before it adds its shares."""
    return (d_last * H + h_last + 1) * W


cdef inline void _shares(const real_t* grow, const Py_ssize_t* fw, Py_ssize_t fdh,
                         real_t* share, Py_ssize_t n) noexcept nogil:
    """share[i] = grow[i] / (fdh * fw[i]) for i < n: each output's share, torch's division
    by its divisor.  The divisors are converted into a row of floats first, so that the
    divisions vectorise (with the conversion of the int64 product in the same loop, gcc
    left it scalar: 40% of I3D's 3x3x3/s1 average backward in vdivss)."""
    cdef real_t div[W_BLOCK]
    cdef Py_ssize_t i, i0 = 0, m
    while i0 < n:
        m = n - i0 if n - i0 < W_BLOCK else W_BLOCK
        for i in range(m):
            div[i] = <real_t>(fdh * fw[i0 + i])
        for i in range(m):
            share[i0 + i] = grow[i0 + i] / div[i]
        i0 += m


cdef inline void _shares_cached(const real_t* grow, const Py_ssize_t* fw, Py_ssize_t fdh,
                                real_t* share, Py_ssize_t n, real_t* div,
                                Py_ssize_t* div_fdh) noexcept nogil:
    """_shares for a whole row of outputs, with its divisors kept in div (room for W_BLOCK)
    for the next row of the same fdh (*div_fdh; -1 for none yet): converting each int64
    divisor costs more than its division (28% of Inception's 3x3/s1 backward)."""
    cdef Py_ssize_t i
    if n > W_BLOCK:
        _shares(grow, fw, fdh, share, n)
        return
    if div_fdh[0] != fdh:
        for i in range(n):
            div[i] = <real_t>(fdh * fw[i])
        div_fdh[0] = fdh
    for i in range(n):
        share[i] = grow[i] / div[i]


cdef Py_ssize_t* _avg_tables(const Axis* ax, bint count_include_pad,
                             Py_ssize_t divisor_override) noexcept nogil:
    """Per-call tables for _avg_plane (NULL when out of memory), so that its rows do no
    integer division.  For each axis a, at a * 3 * O (O the largest output size): the
    first tap, one past the last tap and the divisor factor of every output; then, for
    every W tap kw, the outputs [r0, r1) whose tap kw lands inside the input.  A divisor
    override becomes a factor of the W axis (the product is what torch divides by)."""
    cdef Py_ssize_t O = ax[0].size_out, a, o, kw
    if ax[1].size_out > O:
        O = ax[1].size_out
    if ax[2].size_out > O:
        O = ax[2].size_out
    cdef Py_ssize_t* tab = <Py_ssize_t*>malloc((9 * O + 2 * ax[2].kernel) * sizeof(Py_ssize_t))
    if tab == NULL:
        return NULL
    for a in range(3):
        for o in range(ax[a].size_out):
            tap_range(&ax[a], o, &tab[3 * a * O + o], &tab[(3 * a + 1) * O + o])
            if divisor_override != 0:
                tab[(3 * a + 2) * O + o] = divisor_override if a == 2 else 1
            else:
                tab[(3 * a + 2) * O + o] = divisor_factor(&ax[a], o, count_include_pad)
    for kw in range(ax[2].kernel):
        out_range(&ax[2], kw - ax[2].pad_lo, 0, ax[2].size_out, &tab[9 * O + kw],
                  &tab[9 * O + ax[2].kernel + kw])
    return tab


cdef void _avg_plane(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, real_t* plane,
                     const Axis* ax, const Py_ssize_t* tab) noexcept nogil:
    """One (n, c) plane, an output row block at a time and window tap by window tap.

    For one output row (od, oh) a cell's depth and height taps are fixed, and outputs
    ow < ow' reach a shared cell through taps kw > kw'.  Walking kw downwards therefore adds
    the shares of the row to each cell in output order, which is torch's order.
    """
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t H = ax[1].size_in, W = aw.size_in
    cdef Py_ssize_t O = ax[0].size_out
    if ax[1].size_out > O:
        O = ax[1].size_out
    if aw.size_out > O:
        O = aw.size_out
    cdef const Py_ssize_t* fw = tab + 8 * O
    cdef const Py_ssize_t* kr0 = tab + 9 * O
    cdef const Py_ssize_t* kr1 = kr0 + aw.kernel
    cdef Py_ssize_t od, oh, blk, w0, w1, kd0, kd1, kh0, kh1, kd, kh, kw, r0, r1, i, id_, ih, fdh
    cdef Py_ssize_t P = ax[0].size_in * H * W, wm = 0, div_fdh = -1
    cdef real_t share[W_BLOCK]
    cdef real_t div[W_BLOCK]
    cdef const real_t* grow
    cdef real_t* row
    for od in range(ax[0].size_out):
        kd0 = tab[od]
        kd1 = tab[O + od]
        for oh in range(ax[1].size_out):
            kh0 = tab[3 * O + oh]
            kh1 = tab[4 * O + oh]
            if kd1 <= kd0 or kh1 <= kh0:
                continue
            wm = _zero_upto(plane, wm, _rows_end(od * ax[0].stride - ax[0].pad_lo + kd1 - 1,
                                                 oh * ax[1].stride - ax[1].pad_lo + kh1 - 1, H, W),
                            P, 1, 1)
            fdh = tab[2 * O + od] * tab[5 * O + oh]
            grow = g + od * gD + oh * gH
            for blk in range((aw.size_out + W_BLOCK - 1) // W_BLOCK):
                w0 = blk * W_BLOCK
                w1 = w0 + W_BLOCK if w0 + W_BLOCK < aw.size_out else aw.size_out
                if w1 - w0 == aw.size_out:  # one block: the row's divisors carry over
                    _shares_cached(grow, fw, fdh, share, w1, div, &div_fdh)
                else:
                    _shares(grow + w0, fw + w0, fdh, share, w1 - w0)
                for kd in range(kd0, kd1):
                    id_ = od * ax[0].stride - ax[0].pad_lo + kd
                    for kh in range(kh0, kh1):
                        ih = oh * ax[1].stride - ax[1].pad_lo + kh
                        row = plane + (id_ * H + ih) * W
                        for kw in range(aw.kernel - 1, -1, -1):
                            r0 = kr0[kw] if kr0[kw] > w0 else w0
                            r1 = kr1[kw] if kr1[kw] < w1 else w1
                            if r1 > r0:
                                _add_span_any(share + r0 - w0, row + r0 * aw.stride + kw - aw.pad_lo,
                                              aw.stride, r1 - r0)
    _zero_upto(plane, wm, P, P, 1, 1)


cdef inline bint _avg_same_applies(const Axis* ax) noexcept nogil:
    """Whether _avg_plane_same takes this geometry: stride 1 on every axis, 3 W taps with
    one column of padding each side (so OW == W), at least 4 columns, and at most
    SAME_ROWS share rows per cell."""
    return (ax[0].stride == 1 and ax[1].stride == 1 and ax[2].stride == 1
            and ax[2].kernel == 3 and ax[2].pad_lo == 1 and ax[2].size_out == ax[2].size_in
            and ax[2].size_in > 3 and ax[0].kernel * ax[1].kernel <= SAME_ROWS)


cdef inline void _share_rows(const real_t** rows, Py_ssize_t nrows, Py_ssize_t taps,
                             Py_ssize_t tstep, Py_ssize_t pitch, real_t* dst, Py_ssize_t dstep,
                             Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    if real_t is float:
        ndp_share_rows_f32(rows, <int>nrows, <int>taps, tstep, pitch, dst, dstep, n, m)
    else:
        ndp_share_rows_f64(rows, <int>nrows, <int>taps, tstep, pitch, dst, dstep, n, m)


cdef inline Py_ssize_t _imax(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef void _avg_plane_same(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, real_t* plane,
                          const Axis* ax, const Py_ssize_t* tab, real_t* share) noexcept nogil:
    """_avg_plane for _avg_same_applies geometries, as a gather that writes each cell once;
    share is scratch for kd output slices of OH rows of OW + 2 (_same_ring_cells).

    A cell receives the shares of the outputs whose windows hold it in output order (od,
    then oh, then ow ascending: torch's scatter order), starting from 0.  With stride 1
    those are output slices and rows id + i, ih + j for i, j in [pad - k + 1, pad] clipped to
    the map, and columns iw - 1 .. iw + 1 (_share_rows.h).  The shares are a ring of kd
    slices, filled as the input slices reach new outputs, so that those a slice reads stay
    in L1; each share row has a zero on either side, so that every cell reads three."""
    cdef const Axis* ad = &ax[0]
    cdef const Axis* ah = &ax[1]
    cdef Py_ssize_t D = ad.size_in, H = ah.size_in, W = ax[2].size_in
    cdef Py_ssize_t OD = ad.size_out, OH = ah.size_out, O = ad.size_out, pitch = W + 2
    if OH > O:
        O = OH
    if W > O:
        O = W
    cdef const Py_ssize_t* fw = tab + 8 * O
    cdef Py_ssize_t od, oh, fdh, id_, ih, e, od0, od1, j, jlo, jhi, nrows, r
    cdef Py_ssize_t jmin = ah.pad_lo - ah.kernel + 1, jmax = ah.pad_lo
    cdef Py_ssize_t ready = 0  # output slices whose shares are in the ring
    cdef const real_t* rows[SAME_ROWS]
    cdef const real_t* slices[SAME_ROWS]
    cdef real_t div[W_BLOCK]
    cdef Py_ssize_t div_fdh = -1
    cdef real_t* out
    for r in range(ad.kernel * OH):
        share[r * pitch] = 0
        share[r * pitch + W + 1] = 0
    for id_ in range(D):
        od0 = id_ + ad.pad_lo - ad.kernel + 1 if id_ + ad.pad_lo - ad.kernel + 1 > 0 else 0
        od1 = id_ + ad.pad_lo + 1 if id_ + ad.pad_lo + 1 < OD else OD
        while ready < od1:  # every output's share: the division torch does
            for oh in range(OH):
                fdh = tab[2 * O + ready] * tab[5 * O + oh]
                _shares_cached(g + ready * gD + oh * gH, fw, fdh,
                               share + ((ready % ad.kernel) * OH + oh) * pitch + 1, W, div,
                               &div_fdh)
            ready += 1
        for od in range(od0, od1):
            slices[od - od0] = share + (od % ad.kernel) * OH * pitch
        out = plane + id_ * H * W
        ih = 0
        while ih < H:
            # Rows [ih, e) read output rows ih + j for the same clipped range of j.
            jlo = _imax(jmin, -ih)
            jhi = _imin(jmax, OH - 1 - ih)
            e = ih + 1
            while e < H and _imax(jmin, -e) == jlo and _imin(jmax, OH - 1 - e) == jhi:
                e += 1
            nrows = 0
            for od in range(od1 - od0):
                for j in range(jlo, jhi + 1):
                    rows[nrows] = slices[od] + (ih + j) * pitch
                    nrows += 1
            _share_rows(rows, nrows, 3, 1, pitch, out + ih * W, W, W, e - ih)
            ih = e


cdef inline Py_ssize_t _same_ring_cells(const Axis* ax) noexcept nogil:
    """The scratch _avg_plane_same takes, in cells."""
    return ax[0].kernel * ax[1].size_out * (ax[2].size_in + 2)


cdef inline Py_ssize_t _cover(const Axis* a, Py_ssize_t p) noexcept nogil:
    """The output whose window holds input position p, or -1 (windows disjoint: kernel <=
    stride, no dilation)."""
    cdef Py_ssize_t o = (p + a.pad_lo) // a.stride
    if o >= a.size_out or p + a.pad_lo - o * a.stride >= a.kernel:
        return -1
    return o


cdef inline void _repeat_k(const real_t* share, real_t* dst, Py_ssize_t k,
                           Py_ssize_t n) noexcept nogil:
    """dst[i * k + j] = share[i] for i < n, j < k."""
    cdef Py_ssize_t i, j
    for i in range(n):
        for j in range(k):
            dst[i * k + j] = share[i]


cdef inline void _repeat(const real_t* share, real_t* dst, Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    # Literal k for the common kernels, so that the compiler can vectorise the stores.
    if k == 2:
        _repeat_k(share, dst, 2, n)
    elif k == 3:
        _repeat_k(share, dst, 3, n)
    elif k == 4:
        _repeat_k(share, dst, 4, n)
    else:
        _repeat_k(share, dst, k, n)


cdef inline void _expand_one(real_t v, real_t* row, Py_ssize_t i, const Axis* aw) noexcept nogil:
    """Output i's window cells of the row get v, the gap after it zeros (to the end of the
    row after the last output)."""
    cdef Py_ssize_t W = aw.size_in, start = i * aw.stride - aw.pad_lo, c
    cdef Py_ssize_t stop = start + aw.kernel if start + aw.kernel < W else W
    cdef Py_ssize_t gap = start + aw.stride if start + aw.stride < W else W
    if i == aw.size_out - 1:
        gap = W
    for c in range(start if start > 0 else 0, stop):
        row[c] = v
    for c in range(stop if stop > 0 else 0, gap):
        row[c] = 0


cdef void _expand_row(const real_t* share, real_t* row, Py_ssize_t w0, Py_ssize_t w1,
                      const Axis* aw) noexcept nogil:
    """The row cells of outputs [w0, w1) (share[i - w0] for output i) of disjoint windows,
    as _expand_one."""
    cdef Py_ssize_t st = aw.stride, pl = aw.pad_lo, i, ia = w1, ib = w1
    if aw.kernel == st:
        # No gaps: outputs [ia, ib), whose windows lie inside the row and are not the last,
        # are one repeat of their shares.
        ia = (pl + st - 1) // st
        ib = (aw.size_in + pl) // st
        if ib > aw.size_out - 1:
            ib = aw.size_out - 1
        ia = w0 if ia < w0 else (w1 if ia > w1 else ia)
        ib = ia if ib < ia else (w1 if ib > w1 else ib)
        _repeat(share + ia - w0, row + ia * st - pl, st, ib - ia)
    for i in range(w0, ia):
        _expand_one(share[i - w0], row, i, aw)
    for i in range(ib, w1):
        _expand_one(share[i - w0], row, i, aw)


cdef void _avg_plane_disjoint(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, real_t* plane,
                              const Axis* ax, const Py_ssize_t* tab) noexcept nogil:
    """_avg_plane when windows do not overlap (kernel <= stride on every axis): a cell then
    receives at most one share, so each input row is written once, in memory order: 0 +
    the share of the output whose window holds the cell (the bits the scatter gives), or 0.

    The divisors of a row are converted to real_t once per (fdh, block) and its shares
    once per output row and block, so the divisions run as vector divisions."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t H = ax[1].size_in, W = aw.size_in, OW = aw.size_out
    cdef Py_ssize_t O = ax[0].size_out
    if ax[1].size_out > O:
        O = ax[1].size_out
    if OW > O:
        O = OW
    cdef const Py_ssize_t* fw = tab + 8 * O
    cdef Py_ssize_t d, h, od, oh, blk, w0, w1, i, fdh
    cdef Py_ssize_t div_fdh = -1, div_blk = -1, share_od = -1, share_oh = -1, share_blk = -1
    cdef real_t share[W_BLOCK]
    cdef real_t div[W_BLOCK]
    cdef real_t zero = 0
    cdef const real_t* grow
    cdef real_t* row
    for d in range(ax[0].size_in):
        od = _cover(&ax[0], d)
        for h in range(H):
            oh = _cover(&ax[1], h) if od >= 0 else -1
            row = plane + (d * H + h) * W
            if oh < 0:
                memset(row, 0, W * sizeof(real_t))
                continue
            fdh = tab[2 * O + od] * tab[5 * O + oh]
            grow = g + od * gD + oh * gH
            for blk in range((OW + W_BLOCK - 1) // W_BLOCK):
                w0 = blk * W_BLOCK
                w1 = w0 + W_BLOCK if w0 + W_BLOCK < OW else OW
                if share_od != od or share_oh != oh or share_blk != blk:
                    if div_fdh != fdh or div_blk != blk:
                        div_fdh, div_blk = fdh, blk
                        for i in range(w0, w1):
                            div[i - w0] = <real_t>(fdh * fw[i])
                    for i in range(w1 - w0):
                        share[i] = zero + grow[w0 + i] / div[i]
                    share_od, share_oh, share_blk = od, oh, blk
                _expand_row(share, row, w0, w1, aw)


cdef inline bint _avg_disjoint_applies(const Axis* ax) noexcept nogil:
    """Whether windows do not overlap (kernel <= stride on every axis): each cell then
    receives at most one share, written once (_avg_plane_disjoint, _avg_disjoint)."""
    return (ax[0].kernel <= ax[0].stride and ax[1].kernel <= ax[1].stride
            and ax[2].kernel <= ax[2].stride)


cdef inline bint _avg_tiles_apply(const Axis* ax) noexcept nogil:
    """Whether windows tile the input exactly (_avg_tiles): kernel == stride, no
    padding or dilation, no cell left over."""
    cdef int a
    for a in range(3):
        if not (ax[a].kernel == ax[a].stride and ax[a].pad_lo == 0 and ax[a].dilation == 1
                and ax[a].size_in == ax[a].size_out * ax[a].kernel):
            return False
    return True


cdef inline void _tile_shares(const real_t* g, real_t* dst, Py_ssize_t n,
                              Py_ssize_t divisor) noexcept nogil:
    """dst[i] = 0 + g[i] / divisor for i < n: the shares of outputs whose windows tile the
    input (one divisor for all; a power of two is a multiplication by its exact inverse,
    which rounds the same)."""
    cdef Py_ssize_t i
    cdef real_t div = <real_t>divisor, zero = 0
    cdef real_t inv = 1 / div
    if divisor > 0 and (divisor & (divisor - 1)) == 0:
        for i in range(n):
            dst[i] = zero + g[i] * inv
    else:
        for i in range(n):
            dst[i] = zero + g[i] / div


cdef inline void _copy_cells(real_t* dst, const real_t* src, Py_ssize_t cells, Py_ssize_t C,
                             Py_ssize_t nc) noexcept nogil:
    """Channels [0, nc) of `cells` consecutive channels-last cells."""
    cdef Py_ssize_t p
    if nc == C:
        memcpy(dst, src, cells * C * sizeof(real_t))
    else:
        for p in range(cells):
            memcpy(dst + p * C, src + p * C, nc * sizeof(real_t))


cdef inline void _copy_on(real_t* first, Py_ssize_t k, Py_ssize_t step, Py_ssize_t cells,
                          Py_ssize_t C, Py_ssize_t nc) noexcept nogil:
    """Copy `cells` cells at first (channels [0, nc) of C) to the k - 1 places step
    values on from each other: the other rows, or depth slices, of disjoint windows."""
    cdef Py_ssize_t j
    for j in range(1, k):
        _copy_cells(first + j * step, first, cells, C, nc)


cdef void _avg_tiles(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                     real_t* out, Py_ssize_t C, Py_ssize_t nc, const Axis* ax,
                     Py_ssize_t divisor) noexcept nogil:
    """_avg_plane_disjoint and _avg_disjoint when windows tile the input (_avg_tiles_apply):
    each output's shares (_tile_shares) are made once, into its window's first input row,
    which is copied to the window's other rows and slices.  No per-row tables (on
    DenseNet's 56x56 planes the general path spent most of its time there), and no
    division per cell (the channels-last path had one).  A channels-first plane is a
    sample of one channel (C = nc = 1, gW = 1): there an output row's shares are repeated
    along the row in vector stores."""
    cdef Py_ssize_t kd = ax[0].kernel, kh = ax[1].kernel, kw = ax[2].kernel
    cdef Py_ssize_t H = ax[1].size_in, W = ax[2].size_in, OW = ax[2].size_out, row = W * C
    cdef Py_ssize_t od, oh, ow, j, w0, m
    cdef real_t share[W_BLOCK]
    cdef const real_t* grow
    cdef real_t* slab
    cdef real_t* first
    cdef real_t* cell
    for od in range(ax[0].size_out):
        slab = out + od * kd * H * row
        for oh in range(ax[1].size_out):
            first = slab + oh * kh * row
            grow = g + od * gD + oh * gH
            if C == 1 and gW == 1:
                w0 = 0
                while w0 < OW:
                    m = OW - w0 if OW - w0 < W_BLOCK else W_BLOCK
                    _tile_shares(grow + w0, share, m, divisor)
                    _repeat(share, first + w0 * kw, kw, m)
                    w0 += m
            else:
                for ow in range(OW):
                    cell = first + ow * kw * C
                    _tile_shares(grow + ow * gW, cell, nc, divisor)
                    for j in range(1, kw):
                        memcpy(cell + j * C, cell, nc * sizeof(real_t))
            _copy_on(first, kh, row, W, C, nc)
        _copy_on(slab, kd, H * row, H * W, C, nc)


cdef void _avg_disjoint(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                        real_t* out, Py_ssize_t C, Py_ssize_t nc, const Axis* ax,
                        bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    """_avg_block when windows do not overlap (kernel <= stride on every axis): a cell then
    receives at most one share, and its result, 0 + share, is written once, in memory
    order, with no zeroing pass.  The share is the same division as _avg_block's."""
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t D = ax[0].size_in, H = ax[1].size_in, W = aw.size_in
    cdef Py_ssize_t d, h, w, od, oh, ow, kw, c, stop
    cdef real_t div, zero = 0
    cdef const real_t* gp
    cdef real_t* op
    for d in range(D):
        od = _cover(&ax[0], d)
        for h in range(H):
            oh = _cover(&ax[1], h) if od >= 0 else -1
            op = out + (d * H + h) * W * C
            if oh < 0:
                _zero_block(op, W, C, nc)
                continue
            w = 0
            for ow in range(aw.size_out):
                gp = g + od * gD + oh * gH + ow * gW
                div = <real_t>_divisor(ax, od, oh, ow, count_include_pad, divisor_override)
                # This window's cells of the row, then the gap to the next window.
                stop = ow * aw.stride - aw.pad_lo + aw.kernel
                stop = stop if stop < W else W
                while w < stop:
                    for c in range(nc):
                        op[w * C + c] = zero + gp[c] / div
                    w += 1
                stop = (ow + 1) * aw.stride - aw.pad_lo
                stop = stop if stop < W else W
                if w < stop:
                    _zero_block(op + w * C, stop - w, C, nc)
                    w = stop
            if w < W:
                _zero_block(op + w * C, W - w, C, nc)


cdef void _avg_block(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW, real_t* out,
                     Py_ssize_t C, Py_ssize_t nc, const Axis* ax, bint count_include_pad,
                     Py_ssize_t divisor_override) noexcept nogil:
    """Channels [c0, c0 + nc) of one sample; g and out point at channel c0.  Windows
    overlap (else _avg_disjoint)."""
    cdef Py_ssize_t H = ax[1].size_in, W = ax[2].size_in
    cdef Py_ssize_t od, oh, ow, kd0, kd1, kh0, kh1, kw0, kw1, kd, kh, kw, c, chunk, c1, m, cell
    cdef Py_ssize_t P = ax[0].size_in * H * W, wm = 0
    cdef real_t share[CH_CHUNK]
    cdef real_t div
    cdef const real_t* gp
    cdef real_t* op
    for od in range(ax[0].size_out):
        tap_range(&ax[0], od, &kd0, &kd1)
        for oh in range(ax[1].size_out):
            tap_range(&ax[1], oh, &kh0, &kh1)
            if kd1 <= kd0 or kh1 <= kh0:
                continue
            wm = _zero_upto(out, wm, _rows_end(od * ax[0].stride - ax[0].pad_lo + kd1 - 1,
                                               oh * ax[1].stride - ax[1].pad_lo + kh1 - 1, H, W),
                            P, C, nc)
            for ow in range(ax[2].size_out):
                tap_range(&ax[2], ow, &kw0, &kw1)
                div = <real_t>_divisor(ax, od, oh, ow, count_include_pad, divisor_override)
                gp = g + od * gD + oh * gH + ow * gW
                for chunk in range((nc + CH_CHUNK - 1) // CH_CHUNK):
                    c1 = chunk * CH_CHUNK
                    m = nc - c1 if nc - c1 < CH_CHUNK else CH_CHUNK
                    for c in range(m):
                        share[c] = gp[c1 + c] / div
                    for kd in range(kd0, kd1):
                        for kh in range(kh0, kh1):
                            cell = ((od * ax[0].stride - ax[0].pad_lo + kd) * H
                                    + oh * ax[1].stride - ax[1].pad_lo + kh) * W
                            for kw in range(kw0, kw1):
                                op = out + (cell + ow * ax[2].stride - ax[2].pad_lo + kw) * C + c1
                                for c in range(m):
                                    op[c] += share[c]
    _zero_upto(out, wm, P, P, C, nc)


cdef inline bint _avg_cl_gather_applies(const Axis* ax) noexcept nogil:
    """Whether _avg_block_gather takes this channels-last geometry: windows of 2x2 or 3x3
    with stride 1, of a depth of one or of the same size (2x2x2, 3x3x3), stride 1.  (Its
    cell-by-cell sums of larger windows, 5x5 or 3x5, were 0.8x to 0.9x the scatter.)"""
    return (ax[0].stride == 1 and (ax[0].kernel == 1 or ax[0].kernel == ax[1].kernel)
            and ax[1].stride == 1 and ax[2].stride == 1
            and ax[1].kernel == ax[2].kernel and (ax[1].kernel == 2 or ax[1].kernel == 3))


cdef void _share_row(const real_t* g, Py_ssize_t gW, Py_ssize_t od, Py_ssize_t oh,
                     real_t* row, Py_ssize_t nc, const Axis* ax, bint count_include_pad,
                     Py_ssize_t divisor_override) noexcept nogil:
    """row[ow * nc + c] = g[ow * gW + c] / divisor(od, oh, ow): output row (od, oh)'s shares."""
    cdef Py_ssize_t ow, c
    cdef real_t div
    for ow in range(ax[2].size_out):
        div = <real_t>_divisor(ax, od, oh, ow, count_include_pad, divisor_override)
        for c in range(nc):
            row[ow * nc + c] = g[ow * gW + c] / div


cdef inline Py_ssize_t _gather_row_len(const Axis* ax, Py_ssize_t nc) noexcept nogil:
    """Values in a share row of _avg_block_gather: W + kw - 1 pixels of nc channels."""
    return (ax[2].size_in + ax[2].kernel - 1) * nc


cdef void _avg_block_gather(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                            real_t* out, Py_ssize_t C, Py_ssize_t nc, const Axis* ax,
                            bint count_include_pad, Py_ssize_t divisor_override,
                            real_t* ring) noexcept nogil:
    """_avg_block for _avg_cl_gather_applies geometries, as a gather that writes each cell
    once; ring is scratch for kh x OD share rows of _gather_row_len values.

    With stride 1, cell (id, ih, iw) lies in the windows of outputs od in id + pad - kd + 1
    .. id + pad, and oh and ow likewise, clipped to the output: a box of share vectors,
    summed from 0 in output order (od, then oh, then ow: torch's scatter order;
    _share_rows.h).  A share row holds kw - 1 - pad pixels of zeros, the OW outputs'
    shares and zeros after them, so that cell iw reads its pixels iw .. iw + kw - 1.  The
    share rows are made as the input rows come to need them, all depths of an output row
    at once, into a ring of kh of them."""
    cdef const Axis* ad = &ax[0]
    cdef const Axis* ah = &ax[1]
    cdef const Axis* aw = &ax[2]
    cdef Py_ssize_t D = ad.size_in, H = ah.size_in, W = aw.size_in
    cdef Py_ssize_t OD = ad.size_out, OH = ah.size_out, OW = aw.size_out
    cdef Py_ssize_t kd = ad.kernel, kh = ah.kernel, kw = aw.kernel
    cdef Py_ssize_t lead = (kw - 1 - aw.pad_lo) * nc, row_len = _gather_row_len(ax, nc)
    cdef Py_ssize_t id_, ih, od, od0, od1, oh0, oh1, made = 0, r, c, nr
    cdef const real_t* rows[9]
    cdef real_t* slots[3]  # the ring's rows for output rows oh0 .. oh1 - 1, depth 0
    cdef real_t* row
    for r in range(kh * OD):
        row = ring + r * row_len
        for c in range(lead):
            row[c] = 0
        for c in range(lead + OW * nc, row_len):
            row[c] = 0
    for ih in range(H):
        oh0 = ih + ah.pad_lo - kh + 1 if ih + ah.pad_lo - kh + 1 > 0 else 0
        oh1 = ih + ah.pad_lo + 1 if ih + ah.pad_lo + 1 < OH else OH
        while made < oh1:
            for od in range(OD):
                if OD > 1 and made + 1 < OH:  # the next row's gradient: OD runs far apart
                    for c in range(OW):
                        ndp_prefetch_l1(g + od * gD + (made + 1) * gH + c * gW,
                                        nc * sizeof(real_t))
                _share_row(g + od * gD + made * gH, gW, od, made,
                           ring + ((made % kh) * OD + od) * row_len + lead, nc, ax,
                           count_include_pad, divisor_override)
            made += 1
        for r in range(oh0, oh1):
            slots[r - oh0] = ring + (r % kh) * OD * row_len
        for id_ in range(D):
            od0 = id_ + ad.pad_lo - kd + 1 if id_ + ad.pad_lo - kd + 1 > 0 else 0
            od1 = id_ + ad.pad_lo + 1 if id_ + ad.pad_lo + 1 < OD else OD
            nr = 0
            for od in range(od0, od1):
                for r in range(oh1 - oh0):
                    rows[nr] = slots[r] + od * row_len
                    nr += 1
            _share_rows(rows, nr, kw, nc, nc, out + (id_ * H + ih) * W * C, C, nc, W)


# ---------------------------------------------------------------------------------------
# Adaptive average: the share gout / kd / kh / kw (successive divisions by the bin sizes, as
# torch's contiguous and 3-D kernels) is added to every cell of the bin, in output order.
#
# Adaptive bins cover every input cell, so nothing is zeroed first: a cell's first share
# (from the first output, in row-major order, whose bin holds it) is stored as share + 0,
# which is what adding it to a zeroed cell gives, bit for bit (-0.0 included), and later
# shares are added.  Along an axis bins only move forward, so the cells of bin o that no
# earlier bin holds are [fresh[o], hi[o]); a cell is reached first by an output whose bins
# hold it fresh along every axis.

cdef enum:
    # Up to this many outputs per channels-first plane, their divisors are tabulated per call
    # and a depth slice's shares are divided in one vectorised pass; above, row by row.
    FLAT_MAX = 16384


cdef struct Bins:
    Py_ssize_t size_in[3]
    Py_ssize_t size_out[3]
    Py_ssize_t* lo[3]      # first cell of each bin
    Py_ssize_t* hi[3]      # one past its last cell
    Py_ssize_t* fresh[3]   # its first cell that no earlier bin holds
    bint unit[3]           # every bin of the axis is one cell wide: no division
    Py_ssize_t layers      # the most W bins that hold one cell
    Py_ssize_t* pick       # [layers][W]: the k-th bin holding cell w, or -1
    double* fh             # [OH * OW]: kh of each output of a depth slice, or NULL (see FLAT_MAX)
    double* fw             # [OH * OW]: its kw
    void* block            # the allocation behind lo, hi, fresh, fh and fw


cdef void _bins_free(Bins* b) noexcept nogil:
    free(b.block)
    free(b.pick)
    b.block = NULL
    b.pick = NULL


cdef int _bins_init(Bins* b, const Py_ssize_t* size_in, const Py_ssize_t* size_out) noexcept nogil:
    """Every bin of one call (the formulas divide, so once per call); -1 when out of memory,
    with nothing left allocated."""
    cdef Py_ssize_t W = size_in[2], OH = size_out[1], OW = size_out[2]
    cdef Py_ssize_t flat = OH * OW, n = 2 * W, a, o, w, k
    cdef Py_ssize_t* t
    cdef Py_ssize_t* first
    cdef Py_ssize_t* last
    for a in range(3):
        b.size_in[a] = size_in[a]
        b.size_out[a] = size_out[a]
        b.unit[a] = size_in[a] == size_out[a] or size_in[a] == 1
        n += 3 * size_out[a]
    if flat > FLAT_MAX:
        flat = 0
    b.pick = NULL
    b.block = malloc(n * sizeof(Py_ssize_t) + 2 * flat * sizeof(double))
    if b.block == NULL:
        return -1
    t = <Py_ssize_t*>b.block
    for a in range(3):
        b.lo[a] = t
        b.hi[a] = t + size_out[a]
        b.fresh[a] = t + 2 * size_out[a]
        t += 3 * size_out[a]
        for o in range(size_out[a]):
            b.lo[a][o] = adaptive_start(o, size_in[a], size_out[a])
            b.hi[a][o] = adaptive_end(o, size_in[a], size_out[a])
            b.fresh[a][o] = b.lo[a][o]
            if o > 0 and b.hi[a][o - 1] > b.lo[a][o]:
                b.fresh[a][o] = b.hi[a][o - 1]
    # The W bins that hold each cell: consecutive outputs first[w] .. last[w].
    first = t
    last = t + W
    t += 2 * W
    for w in range(W):
        first[w] = -1
    for o in range(OW):
        for w in range(b.lo[2][o], b.hi[2][o]):
            if first[w] < 0:
                first[w] = o
            last[w] = o
    b.layers = 1
    for w in range(W):
        if last[w] - first[w] + 1 > b.layers:
            b.layers = last[w] - first[w] + 1
    b.fh = b.fw = NULL
    if flat:
        b.fh = <double*>t
        b.fw = b.fh + flat
        for o in range(flat):
            b.fh[o] = <double>(b.hi[1][o // OW] - b.lo[1][o // OW])
            b.fw[o] = <double>(b.hi[2][o % OW] - b.lo[2][o % OW])
    b.pick = <Py_ssize_t*>malloc(b.layers * W * sizeof(Py_ssize_t))
    if b.pick == NULL:
        _bins_free(b)
        return -1
    for k in range(b.layers):
        for w in range(W):
            b.pick[k * W + w] = first[w] + k if first[w] + k <= last[w] else -1
    return 0


cdef inline Py_ssize_t _bin(const Bins* b, int a, Py_ssize_t o, Py_ssize_t* lo, Py_ssize_t* hi,
                            Py_ssize_t* fresh) noexcept nogil:
    """Bin o of axis a: its cells [lo, hi), the first fresh one, and its size (the divisor)."""
    lo[0] = b.lo[a][o]
    hi[0] = b.hi[a][o]
    fresh[0] = b.fresh[a][o]
    return hi[0] - lo[0]


cdef inline void _divide(real_t* s, Py_ssize_t n, real_t k) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        s[i] = s[i] / k


cdef inline void _divide_by(real_t* s, const double* k, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        s[i] = s[i] / <real_t>k[i]


cdef void _plane_shares(const real_t* g, Py_ssize_t gH, Py_ssize_t OH, Py_ssize_t OW, real_t kd,
                        const Bins* b, real_t* s) noexcept nogil:
    """s[oh * OW + ow] = g[oh, ow] / kd / kh / kw for one depth slice of a plane, one division
    at a time over the whole slice (they vectorise); a division by 1 is exact and skipped."""
    cdef Py_ssize_t oh, ow, n = OH * OW
    for oh in range(OH):
        for ow in range(OW):
            s[oh * OW + ow] = g[oh * gH + ow]
    if not b.unit[0]:
        _divide(s, n, kd)
    if not b.unit[1]:
        _divide_by(s, b.fh, n)
    if not b.unit[2]:
        _divide_by(s, b.fw, n)


cdef void _row_shares(const real_t* g, Py_ssize_t OW, real_t kd, real_t kh, const Bins* b,
                      real_t* s) noexcept nogil:
    """The shares of one output row (planes with more than FLAT_MAX outputs)."""
    cdef Py_ssize_t ow
    for ow in range(OW):
        s[ow] = g[ow]
        if not b.unit[0]:
            s[ow] = s[ow] / kd
        if not b.unit[1]:
            s[ow] = s[ow] / kh
        if not b.unit[2]:
            s[ow] = s[ow] / <real_t>(b.hi[2][ow] - b.lo[2][ow])


cdef inline void _store_span(real_t* dst, real_t v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    v = v + 0  # what a zeroed cell holds after v is added: -0.0 becomes +0.0
    for i in range(n):
        dst[i] = v


cdef inline void _add_const(real_t* dst, real_t v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += v


cdef inline void _apply_layers(real_t* row, const real_t* lay, Py_ssize_t K, Py_ssize_t W,
                               bint fresh) noexcept nogil:
    """row[w] receives lay[0][w], then lay[1][w], ...: the shares of one output row in output
    order (a layer holds -0.0 where fewer bins hold the cell: adding it changes nothing)."""
    cdef Py_ssize_t k, w
    if fresh:
        for w in range(W):
            row[w] = lay[w] + 0
    else:
        for w in range(W):
            row[w] += lay[w]
    for k in range(1, K):
        for w in range(W):
            row[w] += lay[k * W + w]


cdef void _adaptive_avg_equal_bins(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, real_t* out,
                                   const Bins* b, real_t* share) noexcept nogil:
    """_adaptive_avg_plane when every axis splits into equal bins (size_in a multiple of
    size_out): bins do not overlap, so each cell is written once, share + 0.  An output
    row's shares are repeated along its first input row, which is then copied to the
    bin's other rows and depth slices."""
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2]
    cdef Py_ssize_t rd = D // OD, rh = H // OH, rw = W // OW, od, oh, i
    cdef real_t* p
    cdef real_t* row
    for od in range(OD):
        _plane_shares(g + od * gD, gH, OH, OW, <real_t>rd, b, share)
        for i in range(OH * OW):
            share[i] = share[i] + 0  # what a zeroed cell holds after the share is added
        p = out + od * rd * H * W
        for oh in range(OH):
            row = p + oh * rh * W
            _repeat(share + oh * OW, row, rw, OW)
            _copy_on(row, rh, W, W, 1, 1)
        _copy_on(p, rd, H * W, H * W, 1, 1)


cdef inline bint _equal_rows_apply(const Strided* gs, const Bins* b) noexcept nogil:
    """Whether _equal_bins_rows takes a channels-first call: equal bins along H and W, none
    along D, and a C-contiguous gradient (its rows, over all planes, are one sequence).
    It pays for short rows, where the per-plane set-up weighs: rows of up to 64 values,
    and of up to 16 for bins of several rows (28 -> 7, 112 -> 56 and 1-D rows of 1024
    ran 0.75x to 0.95x the plane-by-plane path)."""
    cdef const Py_ssize_t* st = gs.step
    cdef Py_ssize_t OW = b.size_out[2], OH = b.size_out[1], OD = b.size_out[0]
    return (OH > 0 and OW > 0 and b.size_in[0] == OD and b.size_in[1] % OH == 0
            and b.size_in[2] % OW == 0 and 0 < b.size_in[2] <= 64
            and (b.size_in[1] == OH or b.size_in[2] <= 16)
            and st[4] == 1 and st[3] == OW and st[2] == OH * OW and st[1] == OD * OH * OW
            and st[0] == gs.shape[1] * st[1])


cdef void _equal_bins_rows(const real_t* g, real_t* out, Py_ssize_t r0, Py_ssize_t r1,
                           const Bins* b) noexcept nogil:
    """Share rows [r0, r1) of a call that _equal_rows_apply takes.  Share row r (plane,
    depth and output row in sequence) fills output rows r * rh .. r * rh + rh - 1, as the
    planes are contiguous too: no per-plane set-up, and the divisions run over many rows
    at once.  Each cell is share + 0 (see _adaptive_avg_equal_bins)."""
    cdef Py_ssize_t OW = b.size_out[2], rh = b.size_in[1] // b.size_out[1]
    cdef Py_ssize_t rw = b.size_in[2] // OW, W = b.size_in[2], n = (r1 - r0) * OW, i, j, k, r
    cdef real_t s[EQUAL_ROWS + 8]  # + 8: the whole steps below read up to 7 values past a row
    cdef real_t e[EQUAL_ROWS + 8]
    cdef real_t* src
    cdef real_t* dst
    cdef real_t* end
    for i in range(n):
        s[i] = g[r0 * OW + i]
    # (A power of two, as 2x2 bins have, is a multiplication: divide_span.)
    divide_span(s, n, rh)
    divide_span(s, n, rw)
    for i in range(n):
        s[i] = s[i] + 0
    if rh == 1:  # the output rows are one span too
        if rw == 1:
            memcpy(out + r0 * W, s, n * sizeof(real_t))
        else:
            _repeat(s, out + r0 * W, rw, n)
        return
    src = s
    if rw != 1:
        _repeat(s, e, rw, n)
        src = e
    for i in range(8):
        src[(r1 - r0) * W + i] = 0
    # Rows of at most 16 values, in whole 8-value steps: the overhang past a row lands in
    # the rows after it, written later, so only rows whose steps would pass the item's end
    # are copied exactly (a memcpy per row cost more than the row).  The values are
    # already v + 0: the + 0 keeps their bits, and the compiler from making the loop a
    # memcpy call.
    end = out + r1 * rh * W
    for r in range(r1 - r0):
        for j in range(rh):
            dst = out + ((r0 + r) * rh + j) * W
            if dst + (W + 7) // 8 * 8 > end:
                memcpy(dst, src + r * W, W * sizeof(real_t))
            else:
                for i in range(0, W, 8):
                    for k in range(8):
                        dst[i + k] = src[r * W + i + k] + 0


cdef void _adaptive_avg_plane(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, real_t* out,
                              const Bins* b, real_t* buf) noexcept nogil:
    """One channels-first (n, c) plane.  buf: room for the shares of a depth slice (of a row
    when b.fh is NULL), then for b.layers rows of W.

    An output row's shares are spread into W-wide layers (layer k: each cell's k-th bin), and
    each input row of the bin takes the layers in turn, whole rows at a time."""
    cdef Py_ssize_t D = b.size_in[0], H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t OD = b.size_out[0], OH = b.size_out[1], OW = b.size_out[2], K = b.layers
    cdef Py_ssize_t od, oh, w, d, h, k, d0, d1, df, h0, h1, hf, j
    cdef bint flat = b.fh != NULL
    cdef real_t* share = buf
    cdef real_t* lay = buf + (OH * OW if flat else OW)
    cdef const real_t* srow
    cdef real_t kd, kh, v
    cdef real_t* p
    if flat and D % OD == 0 and H % OH == 0 and W % OW == 0:
        _adaptive_avg_equal_bins(g, gD, gH, out, b, share)
        return
    for od in range(OD):
        kd = <real_t>_bin(b, 0, od, &d0, &d1, &df)
        if flat:
            _plane_shares(g + od * gD, gH, OH, OW, kd, b, share)
        for oh in range(OH):
            kh = <real_t>_bin(b, 1, oh, &h0, &h1, &hf)
            if flat:
                srow = share + oh * OW
            else:
                _row_shares(g + od * gD + oh * gH, OW, kd, kh, b, share)
                srow = share
            if OW == 1:
                # The bin spans whole rows: rows [h0, h1) of a depth are one span.
                v = srow[0]
                for d in range(d0, d1):
                    p = out + d * H * W
                    if d >= df:
                        _add_const(p + h0 * W, v, (hf - h0) * W)
                        _store_span(p + hf * W, v, (h1 - hf) * W)
                    else:
                        _add_const(p + h0 * W, v, (h1 - h0) * W)
                continue
            if W == OW * (W // OW):
                # Equal bins that do not overlap (K == 1): cell w's bin is w // (W / OW).
                _repeat(srow, lay, W // OW, OW)
            else:
                for k in range(K):
                    for w in range(W):
                        j = b.pick[k * W + w]
                        lay[k * W + w] = srow[j] if j >= 0 else <real_t>-0.0
            for d in range(d0, d1):
                for h in range(h0, h1):
                    _apply_layers(out + (d * H + h) * W, lay, K, W, d >= df and h >= hf)


cdef void _adaptive_avg_block(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                              real_t* out, Py_ssize_t C, Py_ssize_t nc, const Bins* b,
                              real_t* share) noexcept nogil:
    """Channels [c0, c0 + nc) of one channels-last sample; g and out point at channel c0.
    share: room for nc values.  Every cell takes all nc channels in one run."""
    cdef Py_ssize_t H = b.size_in[1], W = b.size_in[2]
    cdef Py_ssize_t od, oh, ow, d0, d1, df, h0, h1, hf, w0, w1, wf, d, h, w, c
    cdef real_t kd, kh, kw
    cdef const real_t* gp
    cdef real_t* op
    cdef bint fresh
    for od in range(b.size_out[0]):
        kd = <real_t>_bin(b, 0, od, &d0, &d1, &df)
        for oh in range(b.size_out[1]):
            kh = <real_t>_bin(b, 1, oh, &h0, &h1, &hf)
            for ow in range(b.size_out[2]):
                kw = <real_t>_bin(b, 2, ow, &w0, &w1, &wf)
                gp = g + od * gD + oh * gH + ow * gW
                for c in range(nc):
                    share[c] = gp[c]
                if not b.unit[0]:
                    _divide(share, nc, kd)
                if not b.unit[1]:
                    _divide(share, nc, kh)
                if not b.unit[2]:
                    _divide(share, nc, kw)
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        fresh = d >= df and h >= hf
                        op = out + ((d * H + h) * W + w0) * C
                        for w in range(w0, w1):
                            if fresh and w >= wf:
                                for c in range(nc):
                                    op[c] = share[c] + 0
                            else:
                                for c in range(nc):
                                    op[c] += share[c]
                            op += C


cdef bint _is_float(object grad) except -1:
    """Whether grad holds float32 (else float64)."""
    cdef Py_ssize_t size = grad.itemsize
    if size != 4 and size != 8:
        raise ValueError("kernel arrays must be float32 or float64")
    return size == 4


# ---------------------------------------------------------------------------------------
# Global pooling, channels-first: one output per plane, so a plane is a fill.

cdef inline void _fill(real_t* dst, real_t v, Py_ssize_t n, bint overhang) noexcept nogil:
    """_store_span of a v that is already v + 0, in whole 8-value steps when the overhang
    past n (up to 7 values) may be written: short planes then take no scalar tail."""
    cdef Py_ssize_t p, k
    if not overhang:
        _store_span(dst, v, n)
        return
    for p in range(0, n, 8):
        for k in range(8):
            dst[p + k] = v


cdef Py_ssize_t _one_cell_planes(const real_t* g, const Py_ssize_t* gstep, const int64_t* idx,
                                 const Py_ssize_t* istep, Py_ssize_t C, Py_ssize_t u0,
                                 Py_ssize_t u1, real_t* out, Py_ssize_t P, const real_t* div,
                                 int ndiv, bint stream) noexcept nogil:
    """Planes [u0, u1) (plane u = sample u // C, channel u % C; at most ONE_CELL_PLANES) of
    a channels-first call whose gradient has one value v per plane.  Average (idx NULL):
    every cell v / div[0] / ... + 0.  Max: 0, and 0 + v at the plane's index; a plane whose
    index lies outside [0, P) stays zero and is counted.  (The general per-plane paths pay
    a set-up and short copies per plane, several times this fill on 7x7 planes.)  The
    values are divided first, in vectors: a scalar division chain per plane had cost more
    than its fill.  A fence ends a streamed item."""
    cdef real_t v[ONE_CELL_PLANES]
    cdef real_t buf[ONE_CELL_CHUNK]
    cdef int64_t j[ONE_CELL_PLANES]
    cdef Py_ssize_t k, p0, m, t, bad = 0, c = u0 % C, K = u1 - u0
    # Offsets of plane (n, c) in g and idx, stepped along: no multiplication per plane.
    cdef Py_ssize_t go = u0 // C * gstep[0] + c * gstep[1]
    cdef Py_ssize_t io = u0 // C * istep[0] + c * istep[1] if idx != NULL else 0
    cdef real_t* dst
    for k in range(K):
        v[k] = g[go]
        go += gstep[1]
        if idx != NULL:
            j[k] = idx[io]
            io += istep[1]
        c += 1
        if c == C:  # the next sample
            c = 0
            go += gstep[0] - C * gstep[1]
            if idx != NULL:
                io += istep[0] - C * istep[1]
    if idx != NULL:
        # Counted apart, in vectors: a count in the loop above was a chain through memory.
        for k in range(K):
            bad += <uint64_t>j[k] >= <uint64_t>P
    for k in range(ndiv):
        divide_span(v, K, <Py_ssize_t>div[k])  # the divisors are whole numbers
    for k in range(K):
        v[k] = v[k] + 0  # what a zeroed cell holds after the share is added
    if not stream and idx != NULL:
        memset(out + u0 * P, 0, K * P * sizeof(real_t))
        for k in range(K):
            if <uint64_t>j[k] < <uint64_t>P:
                out[(u0 + k) * P + j[k]] = v[k]
        return bad
    if not stream:
        for k in range(K):
            # An overhang past a plane lands in the item's next planes, filled after.
            _fill(out + (u0 + k) * P, v[k], P, k * P + (P + 7) // 8 * 8 <= K * P)
        return bad
    # Streamed: the item's planes are one run of memory, built in chunks on the stack and
    # streamed a chunk at a time (plane by plane, the partial lines of 7x7 planes made
    # the streaming stores slower than plain ones).
    dst = out + u0 * P
    p0 = 0  # fill of buf
    for k in range(K):
        m = P  # cells of plane k still to place
        while m > 0:
            t = ONE_CELL_CHUNK - p0 if ONE_CELL_CHUNK - p0 < m else m
            _fill(buf + p0, v[k] if idx == NULL else 0, t, False)
            if idx != NULL and P - m <= j[k] < P - m + t:
                buf[p0 + j[k] - (P - m)] = v[k]
            p0 += t
            m -= t
            if p0 == ONE_CELL_CHUNK:
                ndp_stream_copy(dst, buf, ONE_CELL_CHUNK * sizeof(real_t))
                dst += ONE_CELL_CHUNK
                p0 = 0
    ndp_stream_copy(dst, buf, p0 * sizeof(real_t))
    ndp_stream_fence()
    return bad


cdef Py_ssize_t _one_cell_units(const real_t* gp, const Strided* gs, const int64_t* ip,
                                const Strided* is_, real_t* op, const Strided* os,
                                const real_t* div, int ndiv, int num_threads) noexcept nogil:
    """_one_cell_planes over all planes of a channels-first call, in items of
    ONE_CELL_PLANES planes."""
    cdef Py_ssize_t C = os.shape[1], units = os.shape[0] * C, u, bad = 0
    cdef Py_ssize_t P = os.shape[2] * os.shape[3] * os.shape[4]
    cdef bint stream = units * P * <Py_ssize_t>sizeof(real_t) >= ONE_CELL_STREAM_BYTES
    for u in prange((units + ONE_CELL_PLANES - 1) // ONE_CELL_PLANES, num_threads=num_threads,
                    schedule='guided', use_threads_if=num_threads > 1):
        bad += _one_cell_planes(gp, gs.step, ip, is_.step if ip != NULL else NULL, C,
                                u * ONE_CELL_PLANES,
                                units if (u + 1) * ONE_CELL_PLANES > units else (u + 1) * ONE_CELL_PLANES,
                                op, P, div, ndiv, stream)
    return bad


# ---------------------------------------------------------------------------------------
# Entry points.  Units: N * C planes (channels-first) or N * nblk channel blocks of `width`
# channels (channels-last); unit u of a channels-last call is sample u // nblk, block u % nblk.

cdef Py_ssize_t _max_units(const real_t* gp, const Strided* gs, const int64_t* ip,
                           const Strided* is_, real_t* op, const Strided* os,
                           bint channels_last, int num_threads) noexcept nogil:
    cdef const Py_ssize_t* g = gs.step
    cdef const Py_ssize_t* i = is_.step
    cdef Py_ssize_t N = os.shape[0], C, P, width, nblk, u, n, c0, R, parts, r0, B, bad = 0
    cdef char* failed = NULL
    cdef bint runs, blocks, small
    cdef bint stream = (N * os.shape[1] * os.shape[2] * os.shape[3] * os.shape[4]
                        * <Py_ssize_t>sizeof(real_t) >= STREAM_BYTES)
    if not channels_last and gs.shape[2] * gs.shape[3] * gs.shape[4] == 1:
        return _one_cell_units(gp, gs, ip, is_, op, os, NULL, 0, num_threads)
    if not channels_last:
        C = os.shape[1]
        P = os.shape[2] * os.shape[3] * os.shape[4]
        # Small calls skip the samples (their divisions cost microseconds): every plane
        # tries its blocks, which fails within the first output row when it is not blocks.
        small = N * C * gs.shape[2] * gs.shape[3] * gs.shape[4] <= SMALL_OUTPUTS
        runs = not small and _long_runs(ip, is_)
        # Planes of BLOCKS_MIN_CELLS or fewer cells stay in L1, where the scatter costs less
        # than the write-once rows' set-up per output row.
        blocks = P > BLOCKS_MIN_CELLS and (small or _in_blocks(ip, is_, os))
        if not runs and 0 < P <= SMALL_PLANE_CELLS:
            R = SMALL_PLANES_BYTES // (P * <Py_ssize_t>sizeof(real_t))  # planes per item
            for u in prange((N * C + R - 1) // R, num_threads=num_threads, schedule='guided',
                            use_threads_if=num_threads > 1):
                bad += _scatter_small_planes(gp, gs, ip, is_, op, u * R,
                                             N * C if (u + 1) * R > N * C else (u + 1) * R, P)
            return bad
        for u in prange(N * C, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            n = u // C
            c0 = u % C
            if blocks and _gather_plane(gp + n * g[0] + c0 * g[1], g[2], g[3],
                                        ip + n * i[0] + c0 * i[1], i[2], i[3],
                                        gs.shape[2], gs.shape[3], gs.shape[4], op + u * P,
                                        os.shape[2], os.shape[3], os.shape[4], stream):
                continue
            bad += _scatter_cf(gp + n * g[0] + c0 * g[1], g[2], g[3],
                               ip + n * i[0] + c0 * i[1], i[2], i[3],
                               gs.shape[2], gs.shape[3], gs.shape[4], op + u * P, P, runs,
                               stream)
    else:
        C = os.shape[4]
        P = os.shape[1] * os.shape[2] * os.shape[3]
        # First, where blocks are small and pixels wide, every sample as blocks (units: slabs
        # of output rows with all channels), then the samples where that failed, or all of
        # them, by _scatter (units: channel blocks).
        R = gs.shape[1] * gs.shape[2]
        parts = (4 * num_threads + N - 1) // N if num_threads > 1 else 1
        if parts > R:
            parts = R
        B = (os.shape[1] // gs.shape[1]) * (os.shape[2] // gs.shape[2]) * (os.shape[3] // gs.shape[3])
        blocks = 0 < B <= GATHER_CELLS and C * <Py_ssize_t>sizeof(real_t) >= GATHER_MIN_PIXEL_BYTES
        width = _channel_block(N, C, num_threads)
        if parts == 1 and width == C:
            # Units are whole samples either way: one parallel region tries the blocks and
            # falls back to the scatter in place (a second region costs a thread wake-up).
            for n in prange(N, num_threads=num_threads, schedule='guided',
                            use_threads_if=num_threads > 1):
                if blocks and _gather_blocks(
                        gp + n * g[0], g[1], g[2], g[3], ip + n * i[0], i[1], i[2], i[3],
                        gs.shape[1], gs.shape[2], gs.shape[3], 0, R, op + n * P * C,
                        os.shape[1], os.shape[2], os.shape[3], C, stream):
                    continue
                bad += _scatter(gp + n * g[0], g[1], g[2], g[3], ip + n * i[0], i[1], i[2], i[3],
                                gs.shape[1], gs.shape[2], gs.shape[3], op + n * P * C, P, C, C)
            return bad
        if blocks:
            failed = <char*>malloc(N * parts)
        if failed != NULL:
            for u in prange(N * parts, num_threads=num_threads, schedule='guided',
                            use_threads_if=num_threads > 1):
                n = u // parts
                r0 = R * (u % parts) // parts
                failed[u] = not _gather_blocks(gp + n * g[0], g[1], g[2], g[3], ip + n * i[0], i[1],
                                               i[2], i[3], gs.shape[1], gs.shape[2], gs.shape[3],
                                               r0, R * (u % parts + 1) // parts, op + n * P * C,
                                               os.shape[1], os.shape[2], os.shape[3], C, stream)
            if not memchr(failed, 1, N * parts):
                free(failed)
                return 0
        nblk = (C + width - 1) // width
        for u in prange(N * nblk, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            n = u // nblk
            if failed != NULL and not memchr(failed + n * parts, 1, parts):
                continue
            c0 = (u % nblk) * width
            bad += _scatter(gp + n * g[0] + c0, g[1], g[2], g[3], ip + n * i[0] + c0, i[1], i[2], i[3],
                            gs.shape[1], gs.shape[2], gs.shape[3], op + n * P * C + c0, P, C,
                            width if c0 + width <= C else C - c0)
        free(failed)
    return bad


# Exposed for tests, which must reach the streamed paths.
STREAM_MIN_BYTES = STREAM_BYTES
ONE_CELL_STREAM_MIN_BYTES = ONE_CELL_STREAM_BYTES


def max_backward(grad, indices, out, bint channels_last, int num_threads):
    """out = 0, then out[plane][indices] += grad in output order (max and adaptive max).

    grad (float32 or float64) and indices (int64) are 5-D with grad's shape, in kernel axis
    order with a unit-stride last axis; out is C-contiguous, of grad's dtype.  indices are
    flat positions within an input plane.  Returns how many indices fell outside
    [0, plane size); those were skipped.
    """
    cdef Py_buffer gb, ib, ob
    cdef Strided gs, is_, os
    cdef bint f32 = _is_float(grad)
    cdef Py_ssize_t size = 4 if f32 else 8, bad
    acquire_padded(grad, &gb, &gs, False, size, b"fd", 3, 0 if channels_last else 1)
    try:
        acquire_padded(indices, &ib, &is_, False, 8, b"lq", 3, 0 if channels_last else 1)
        try:
            acquire_padded(out, &ob, &os, True, size, b"fd", 3, 0 if channels_last else 1)
            try:
                with nogil:
                    if f32:
                        bad = _max_units(<const float*>gs.data, &gs, <const int64_t*>is_.data, &is_,
                                         <float*>os.data, &os, channels_last, num_threads)
                    else:
                        bad = _max_units(<const double*>gs.data, &gs, <const int64_t*>is_.data, &is_,
                                         <double*>os.data, &os, channels_last, num_threads)
            finally:
                PyBuffer_Release(&ob)
        finally:
            PyBuffer_Release(&ib)
    finally:
        PyBuffer_Release(&gb)
    return bad


cdef inline bint _one_window_covers(const Axis* ax) noexcept nogil:
    """Whether one window, the only output, holds every cell of the input on each axis."""
    cdef int a
    for a in range(3):
        if (ax[a].size_out != 1 or ax[a].dilation != 1
                or ax[a].kernel - ax[a].pad_lo < ax[a].size_in):
            return False
    return True


cdef void _avg_cl_unit(const real_t* g, Py_ssize_t gD, Py_ssize_t gH, Py_ssize_t gW,
                      real_t* out, Py_ssize_t C, Py_ssize_t nc, const Axis* ax, const Axis* gax,
                      Py_ssize_t slices, bint gather, Py_ssize_t tile_div, bint count_include_pad,
                      Py_ssize_t divisor_override, real_t* ring) noexcept nogil:
    """Channels [c0, c0 + nc) of one channels-last sample (g and out at channel c0): tiling
    windows, disjoint ones, the gather (ring: its scratch, or NULL for the scatter) over
    `slices` depth slices of geometry gax, or the scatter."""
    cdef Py_ssize_t d
    if tile_div:
        _avg_tiles(g, gD, gH, gW, out, C, nc, ax, tile_div)
    elif _avg_disjoint_applies(ax):
        _avg_disjoint(g, gD, gH, gW, out, C, nc, ax, count_include_pad, divisor_override)
    elif gather and ring != NULL:
        for d in range(slices):
            _avg_block_gather(g + d * gD, gD, gH, gW, out + d * ax[1].size_in * ax[2].size_in * C,
                              C, nc, gax, count_include_pad, divisor_override, ring)
    else:
        _avg_block(g, gD, gH, gW, out, C, nc, ax, count_include_pad, divisor_override)


cdef inline void _lanes_in(const real_t* gp, const Strided* gs, Py_ssize_t u0, Py_ssize_t m,
                           real_t* gt) noexcept nogil:
    """Gradient planes u0 .. u0 + m - 1 as the 8 channels of the tile gt (_lanes.pxd)."""
    lanes_in(gp, gs.step[0], gs.step[1], gs.step[2], gs.step[3], gs.shape[1], gs.shape[2],
             gs.shape[3], gs.shape[4], u0, m, gt)


cdef void _avg_cf_lanes(const real_t* gp, const Strided* gs, real_t* op, Py_ssize_t u0,
                        Py_ssize_t m, const Axis* ax, bint count_include_pad,
                        Py_ssize_t divisor_override) noexcept nogil:
    """Channels-first planes u0 .. u0 + m - 1 (m <= 8) of at most LANES_CELLS cells and
    outputs: their gradients side by side as the 8 channels of a channels-last tile on
    the stack, _avg_cl_unit on it (vectors along the 8 planes), and the tile back into
    the planes.  Every cell gets the channels-last kernels' additions, which are torch's
    as the channels-first ones are: the same bits.  (The per-plane paths pay a set-up
    per row of 7 to 14 cells: 2-8x the channels-last kernel on such planes.)"""
    cdef real_t gt[LANES_CELLS * 8]
    cdef real_t ot[LANES_CELLS * 8]
    cdef real_t ring[4 * LANES_CELLS * 8]
    cdef Py_ssize_t OH = ax[1].size_out, OW = ax[2].size_out
    cdef bint gather = (_avg_cl_gather_applies(ax) and ax[1].kernel * ax[0].size_out
                        * _gather_row_len(ax, 8) <= 4 * LANES_CELLS * 8)
    _lanes_in(gp, gs, u0, m, gt)
    _avg_cl_unit(gt, OH * OW * 8, OW * 8, 8, ot, 8, 8, ax, ax, 1, gather, 0, count_include_pad,
                 divisor_override, ring)
    lanes_out(ot, op, u0, m, ax[0].size_in * ax[1].size_in * ax[2].size_in)


cdef void _adaptive_cf_lanes(const real_t* gp, const Strided* gs, real_t* op, Py_ssize_t u0,
                             Py_ssize_t m, const Bins* b) noexcept nogil:
    """_avg_cf_lanes for adaptive average pooling: _adaptive_avg_block on the tile."""
    cdef real_t gt[LANES_CELLS * 8]
    cdef real_t ot[LANES_CELLS * 8]
    cdef real_t share[8]
    cdef Py_ssize_t OH = b.size_out[1], OW = b.size_out[2]
    _lanes_in(gp, gs, u0, m, gt)
    _adaptive_avg_block(gt, OH * OW * 8, OW * 8, 8, ot, 8, 8, b, share)
    lanes_out(ot, op, u0, m, b.size_in[0] * b.size_in[1] * b.size_in[2])


cdef void _avg_units(const real_t* gp, const Strided* gs, real_t* op, const Strided* os,
                     const Axis* ax, const Py_ssize_t* tab, bint count_include_pad,
                     Py_ssize_t divisor_override, bint channels_last, int num_threads) noexcept nogil:
    cdef const Py_ssize_t* g = gs.step
    cdef Py_ssize_t N = os.shape[0], P = ax[0].size_in * ax[1].size_in * ax[2].size_in
    cdef Py_ssize_t C, width, nblk, u, n, c0, slices = 1
    cdef Axis slice_ax[3]
    cdef const Axis* gax = ax  # the gather's geometry
    cdef bint same = not channels_last and _avg_same_applies(ax)
    cdef bint gather = channels_last and _avg_cl_gather_applies(ax)
    cdef bint disjoint = _avg_disjoint_applies(ax)
    # Windows that tile the input: one divisor (no padding: the window's size) for all.
    cdef bint tiles = _avg_tiles_apply(ax)
    cdef Py_ssize_t tile_div = (divisor_override if divisor_override != 0
                                else ax[0].kernel * ax[1].kernel * ax[2].kernel)
    cdef real_t* share
    cdef real_t div1
    if not channels_last and _one_window_covers(ax):
        # A global average (avg_pool2d(x, 4) on 4x4 maps): every plane is one share.
        div1 = <real_t>_divisor(ax, 0, 0, 0, count_include_pad, divisor_override)
        _one_cell_units(gp, gs, NULL, NULL, op, os, &div1, 1, num_threads)
        return
    # Small channels-first planes through the channels-last kernels, 8 at a time, except
    # where the plane paths already do well: tiling windows (2x2/s2 on 14x14 maps 0.74-0.9x
    # through the lanes) and stride-1 "same" windows past 8x8 (3x3 on 14x14 0.73-0.84x;
    # 1.19x on 7x7).  2x2/s2 on 7x7 maps ran 2.6x faster, 3x3/s2/p1 on 7x7 and 14x14
    # 2.7-3.1x.
    if not channels_last and P <= LANES_CELLS and not tiles and (not same or P <= 64) \
            and ax[0].size_out * ax[1].size_out * ax[2].size_out <= LANES_CELLS:
        C = os.shape[1]
        for u in prange((N * C + 7) // 8, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            _avg_cf_lanes(gp, gs, op, 8 * u, N * C - 8 * u if N * C - 8 * u < 8 else 8, ax,
                          count_include_pad, divisor_override)
        return
    if not channels_last:
        C = os.shape[1]
        for u in prange(N * C, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            n = u // C
            c0 = u % C
            if tiles:
                _avg_tiles(gp + n * g[0] + c0 * g[1], g[2], g[3], 1, op + u * P, 1, 1, ax,
                           tile_div)
                continue
            if disjoint:
                _avg_plane_disjoint(gp + n * g[0] + c0 * g[1], g[2], g[3], op + u * P, ax, tab)
                continue
            share = <real_t*>malloc(_same_ring_cells(ax) * sizeof(real_t)) if same else NULL
            if share != NULL:
                _avg_plane_same(gp + n * g[0] + c0 * g[1], g[2], g[3], op + u * P, ax, tab, share)
                free(share)
            else:
                _avg_plane(gp + n * g[0] + c0 * g[1], g[2], g[3], op + u * P, ax, tab)
    else:
        C = os.shape[4]
        width = _channel_block(N, C, num_threads)
        nblk = (C + width - 1) // width
        # The gather keeps kh rows of shares of every depth while they stay in L2 (I3D's
        # 3x3x3 on 8x28x28, 48 channels a unit: 138 KB).  Past that, depth windows of one
        # gather slice by slice (a ring of kh rows), and cubic ones scatter.
        if ax[1].kernel * ax[0].size_out * _gather_row_len(ax, width) \
                * <Py_ssize_t>sizeof(real_t) > GATHER_RING_BYTES:
            if ax[0].kernel == 1:
                slice_ax[0] = ax[0]
                slice_ax[1] = ax[1]
                slice_ax[2] = ax[2]
                slice_ax[0].size_in = 1
                slice_ax[0].size_out = 1
                gax = slice_ax
                slices = ax[0].size_in
            else:
                gather = False
        for u in prange(N * nblk, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            n = u // nblk
            c0 = (u % nblk) * width
            share = <real_t*>malloc(ax[1].kernel * gax[0].size_out * _gather_row_len(ax, width)
                                    * sizeof(real_t)) if gather and not (tiles or disjoint) else NULL
            _avg_cl_unit(gp + n * g[0] + c0, g[1], g[2], g[3], op + n * P * C + c0, C,
                         width if c0 + width <= C else C - c0, ax, gax, slices, gather,
                         tile_div if tiles else 0, count_include_pad, divisor_override, share)
            free(share)


def avg_backward(grad, out, const int64_t[:, ::1] geometry, bint count_include_pad,
                 Py_ssize_t divisor_override, bint channels_last, int num_threads):
    """Average pooling backward; geometry as for the forward, divisor_override 0 means none.
    grad and out as for max_backward."""
    cdef Axis ax[3]
    read_geometry(&geometry[0, 0], ax)
    cdef Py_buffer gb, ob
    cdef Strided gs, os
    cdef bint f32 = _is_float(grad)
    cdef Py_ssize_t size = 4 if f32 else 8
    cdef Py_ssize_t* tab = NULL
    if not channels_last:
        tab = _avg_tables(ax, count_include_pad, divisor_override)
        if tab == NULL:
            raise MemoryError()
    try:
        acquire_padded(grad, &gb, &gs, False, size, b"fd", 3, 0 if channels_last else 1)
        try:
            acquire_padded(out, &ob, &os, True, size, b"fd", 3, 0 if channels_last else 1)
            try:
                with nogil:
                    if f32:
                        _avg_units(<const float*>gs.data, &gs, <float*>os.data, &os, ax, tab,
                                   count_include_pad, divisor_override, channels_last, num_threads)
                    else:
                        _avg_units(<const double*>gs.data, &gs, <double*>os.data, &os, ax, tab,
                                   count_include_pad, divisor_override, channels_last, num_threads)
            finally:
                PyBuffer_Release(&ob)
        finally:
            PyBuffer_Release(&gb)
    finally:
        free(tab)


cdef Py_ssize_t _adaptive_units(const real_t* gp, const Strided* gs, real_t* op,
                                const Strided* os, const Bins* b, bint channels_last,
                                int num_threads) noexcept nogil:
    """Returns how many threads found no memory for their scratch (then out is incomplete)."""
    cdef const Py_ssize_t* g = gs.step
    cdef Py_ssize_t N = os.shape[0], P = b.size_in[0] * b.size_in[1] * b.size_in[2]
    cdef Py_ssize_t C, width, nblk, u, n, c0, t, units, scratch, failed = 0
    cdef real_t* buf
    cdef real_t div[3]
    cdef int ndiv = 0
    if not channels_last and b.size_out[0] * b.size_out[1] * b.size_out[2] == 1:
        # Divided by each axis's size in turn (a size of 1 is skipped, as exact).
        for t in range(3):
            if b.size_in[t] > 1:
                div[ndiv] = <real_t>b.size_in[t]
                ndiv += 1
        _one_cell_units(gp, gs, NULL, NULL, op, os, div, ndiv, num_threads)
    elif not channels_last and _equal_rows_apply(gs, b):
        units = N * gs.shape[1] * b.size_out[0] * b.size_out[1]  # share rows
        t = EQUAL_ROWS // b.size_in[2]  # rows per item
        for u in prange((units + t - 1) // t, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            _equal_bins_rows(gp, op, u * t, units if (u + 1) * t > units else (u + 1) * t, b)
    elif not channels_last and P <= LANES_CELLS \
            and b.size_out[0] * b.size_out[1] * b.size_out[2] <= LANES_CELLS:
        units = N * gs.shape[1]
        for u in prange((units + 7) // 8, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            _adaptive_cf_lanes(gp, gs, op, 8 * u, units - 8 * u if units - 8 * u < 8 else 8, b)
    elif not channels_last:
        C = os.shape[1]
        units = N * C
        scratch = (b.size_out[1] * b.size_out[2] if b.fh != NULL else b.size_out[2])
        scratch += b.layers * b.size_in[2]
        # One scratch buffer per iteration, each a contiguous run of planes (one run per
        # thread, unless a thread wakes late and the other takes its run too).
        for t in prange(num_threads, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            buf = <real_t*>malloc(scratch * sizeof(real_t))
            if buf == NULL:
                failed += 1
            else:
                for u in range(units * t // num_threads, units * (t + 1) // num_threads):
                    n = u // C
                    c0 = u % C
                    _adaptive_avg_plane(gp + n * g[0] + c0 * g[1], g[2], g[3], op + u * P, b, buf)
                free(buf)
    else:
        C = os.shape[4]
        width = _channel_block(N, C, num_threads)
        nblk = (C + width - 1) // width
        for u in prange(N * nblk, num_threads=num_threads, schedule='guided',
                        use_threads_if=num_threads > 1):
            n = u // nblk
            c0 = (u % nblk) * width
            buf = <real_t*>malloc(width * sizeof(real_t))
            if buf == NULL:
                failed += 1
            else:
                _adaptive_avg_block(gp + n * g[0] + c0, g[1], g[2], g[3], op + n * P * C + c0, C,
                                    width if c0 + width <= C else C - c0, b, buf)
                free(buf)
    return failed


def adaptive_avg_backward(grad, out, bint channels_last, int num_threads):
    """Adaptive average pooling backward; the bins follow from the two arrays' shapes.
    grad and out as for max_backward (out need not be zeroed: every cell is written)."""
    cdef Py_buffer gb, ob
    cdef Strided gs, os
    cdef bint f32 = _is_float(grad)
    cdef Py_ssize_t size = 4 if f32 else 8, failed = 0, a
    cdef Py_ssize_t size_in[3]
    cdef Py_ssize_t size_out[3]
    cdef Bins b
    acquire_padded(grad, &gb, &gs, False, size, b"fd", 3, 0 if channels_last else 1)
    try:
        acquire_padded(out, &ob, &os, True, size, b"fd", 3, 0 if channels_last else 1)
        try:
            for a in range(3):
                size_in[a] = os.shape[a + 1 if channels_last else a + 2]
                size_out[a] = gs.shape[a + 1 if channels_last else a + 2]
            if _bins_init(&b, size_in, size_out) < 0:
                raise MemoryError()
            try:
                with nogil:
                    if f32:
                        failed = _adaptive_units(<const float*>gs.data, &gs, <float*>os.data, &os,
                                                 &b, channels_last, num_threads)
                    else:
                        failed = _adaptive_units(<const double*>gs.data, &gs, <double*>os.data, &os,
                                                 &b, channels_last, num_threads)
            finally:
                _bins_free(&b)
        finally:
            PyBuffer_Release(&ob)
    finally:
        PyBuffer_Release(&gb)
    if failed:
        raise MemoryError()

