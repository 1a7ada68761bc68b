# Channels-last max (without indices) and float average pooling of narrow pixels (2 to 15
# bytes: RGB and RGBA images, 2-channel fields).
#
# A pixel loop over 3 channels does not vectorise: the window-at-a-time forms took 5-9 ms
# on one thread for the 2x2 maxima of a 16x512x512x3 uint8 batch, about 20 cycles an
# output pixel.  Here a run of whole windows of one output row goes in passes over its
# rows as flat arrays of values: each window tap (row a, e; column t, in scan order)
# folds the row, shifted by t pixels, into a buffer of running maxima (or sums), one
# long contiguous loop a tap that covers every pixel of the run, those between window
# starts too.  Value i of the buffer then holds the fold, in scan
# order, of the window that starts at pixel i // C; the run's outputs are every step-th
# pixel of it, copied out.  Each output sees its taps in torch's order, as in
# _kernels.pyx: maxima from the first tap, sums from 0 and then divided once by the
# run's one divisor: the same bits, NaN and signed zeros included.

from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from ndpool._common cimport divide_span, pool_t
from ndpool._separable cimport fold_into

cdef enum:
    # The widest pixel taken.  A 16-byte pixel is one SSE vector, which the window-at-a-time
    # forms fold as fast or faster (0.7-1.0x here); 8-byte pixels ran 2-5x faster here.
    NARROW_PIXEL_BYTES = 15
    NARROW_RUN_BYTES = 8192  # the running maxima of one pass (a stack buffer, in L1)
    NARROW_RUN_WORDS = 1026  # NARROW_RUN_BYTES in 8-byte words, and 16 bytes of slack
    # Stride-1 windows of up to this many taps take narrow_run in place of the
    # separable passes, which its direct taps beat at 2x2/s1 (2x, 8x256x256x3, one thread)
    # but not at 3x3/s1 (uint8 about even, float32 0.6-0.8x).
    NARROW_DIRECT_TAPS = 4


cdef inline bint narrow_applies(Py_ssize_t C, Py_ssize_t sW, Py_ssize_t itemsize) noexcept nogil:
    """Whether narrow_run takes channels-last pixels of C channels sW values apart:
    contiguous pixels of 2 or more channels and at most NARROW_PIXEL_BYTES bytes.  (One
    channel is the channels-first layout, which the callers take instead.)"""
    return C >= 2 and sW == C and C * itemsize <= NARROW_PIXEL_BYTES


cdef inline void _copy_pixels(const pool_t* src, Py_ssize_t pitch, pool_t* dst, Py_ssize_t C,
                              Py_ssize_t m) noexcept nogil:
    """dst[j * C + c] = src[j * pitch + c] for j < m, c < C.  A pixel is one move of 4, 8
    or 16 bytes (a constant size, so one instruction), each past the pixel's end until the
    next pixel's move writes over it; the pixels whose move would end past the run's end
    go value by value.  src may be read up to 16 bytes past its last pixel."""
    cdef Py_ssize_t nb = C * sizeof(pool_t), j = 0, c
    cdef char* d = <char*>dst
    if nb <= 4:
        while j * nb + 4 <= m * nb:
            memcpy(d + j * nb, src + j * pitch, 4)
            j += 1
    elif nb <= 8:
        while j * nb + 8 <= m * nb:
            memcpy(d + j * nb, src + j * pitch, 8)
            j += 1
    else:
        while j * nb + 16 <= m * nb:
            memcpy(d + j * nb, src + j * pitch, 16)
            j += 1
    for j in range(j, m):
        for c in range(C):
            dst[j * C + c] = src[j * pitch + c]


cdef inline void narrow_run(const pool_t* first, Py_ssize_t sD, Py_ssize_t sH,
                            Py_ssize_t nd, Py_ssize_t nh, Py_ssize_t kw, Py_ssize_t dW,
                            Py_ssize_t step, Py_ssize_t C, pool_t* out, Py_ssize_t npix,
                            Py_ssize_t div) noexcept nogil:
    """out[j * C + c] for j < npix, from window j of a run of whole windows: its max (div
    0), or its average (div the run's divisor; floats): 0 + its taps, then / div.  Its
    rows are first + a * sD + e * sH (a < nd, e < nh, scan order; sD and sH include the
    dilations), its taps kw pixels dW apart, and window j starts step * j pixels on."""
    cdef uint64_t buf[NARROW_RUN_WORDS]
    cdef pool_t* acc = <pool_t*>buf
    cdef Py_ssize_t per = ((NARROW_RUN_BYTES // <Py_ssize_t>sizeof(pool_t)) // C - 1) // step + 1
    cdef Py_ssize_t j0 = 0, m, n, a, e, t, i
    cdef const pool_t* src
    cdef bint nan = pool_t is float or pool_t is double
    while j0 < npix:
        m = npix - j0 if npix - j0 < per else per
        n = ((m - 1) * step + 1) * C  # values from the first window's start to the last's
        if step == 1:  # every pixel's window is an output: fold straight into out
            acc = out + j0 * C
        for a in range(nd):
            for e in range(nh):
                for t in range(kw):
                    src = first + j0 * step * C + a * sD + e * sH + t * dW * C
                    if div == 0 and a == 0 and e == 0 and t == 0:
                        memcpy(acc, src, n * sizeof(pool_t))
                    elif div == 0:
                        fold_into(acc, src, n, nan)
                    elif a == 0 and e == 0 and t == 0:
                        for i in range(n):
                            acc[i] = 0 + src[i]
                    else:
                        for i in range(n):
                            acc[i] = acc[i] + src[i]
        if step > 1:
            _copy_pixels(acc, step * C, out + j0 * C, C, m)
        if pool_t is float or pool_t is double:  # (averages are of floats only)
            if div != 0:
                divide_span(out + j0 * C, m * C, div)
        j0 += m
