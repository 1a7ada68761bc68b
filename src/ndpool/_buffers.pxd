# cython: language_level=3
# Arrays reach the kernel entry points through the buffer protocol: a fused `def` with typed
# memoryviews costs microseconds per call in dispatch and view set-up, which is most of a
# small call.  Shared by the forward and backward kernels; strides are kept in elements.

from cpython.buffer cimport (PyBUF_RECORDS, PyBUF_RECORDS_RO, PyBuffer_IsContiguous,
                            PyBuffer_Release, PyObject_GetBuffer)
from libc.string cimport strchr, strlen

from ndpool._spans cimport check_unit_inner


cdef struct Strided:
    char* data
    Py_ssize_t shape[5]
    Py_ssize_t step[5]


cdef inline char format_kind(const Py_buffer* view) noexcept:
    """The last character of a buffer's format ('f', 'd', 'b', 'B', 'q', ...), 0 if none."""
    cdef size_t n = strlen(view.format) if view.format != NULL else 0
    return view.format[n - 1] if n else 0


cdef inline int acquire_padded(object a, Py_buffer* view, Strided* s, bint writable,
                               Py_ssize_t itemsize, const char* kinds, int min_ndim,
                               int after) except -1:
    """Fill s from an array of min_ndim to 5 axes, read as 5-D with size-1 axes inserted
    after axis `after` (the kernels' missing leading spatial axes: callers then need no
    reshaped view, which costs as much as a small call's work), of the given item size
    and format kind (the format's last character, one of those in kinds; item size 0:
    any).  The last axis must have unit stride (when longer than 1), and a writable
    array must be C-contiguous.  On success the caller releases view."""
    cdef int i, j, pad
    cdef char last
    PyObject_GetBuffer(a, view, PyBUF_RECORDS if writable else PyBUF_RECORDS_RO)
    try:
        last = format_kind(view)
        if itemsize == 0:
            itemsize = view.itemsize
        if (view.ndim < min_ndim or view.ndim > 5 or view.itemsize != itemsize or last == 0
                or strchr(kinds, last) == NULL):
            raise ValueError(f"kernel arrays must have {min_ndim} to 5 axes and items "
                             f"{kinds.decode()!r} of {itemsize} bytes")
        s.data = <char*>view.buf
        pad = 5 - view.ndim
        for i in range(5):
            if i <= after:
                j = i
            elif i <= after + pad:
                s.shape[i] = 1
                s.step[i] = 0
                continue
            else:
                j = i - pad
            s.shape[i] = view.shape[j]
            s.step[i] = view.strides[j] // itemsize
            if view.strides[j] % itemsize:
                raise ValueError("kernel array strides must be multiples of the item size")
        # The inserted axes take the steps a C-contiguous 5-D array would have, so that
        # the kernels' contiguity tests see what a reshaped view would show them.
        for i in range(after + pad, after, -1):
            s.step[i] = s.step[i + 1] * s.shape[i + 1]
        check_unit_inner(view.strides[view.ndim - 1], <int>itemsize, view.shape[view.ndim - 1])
        if writable and not PyBuffer_IsContiguous(view, b'C'):
            raise ValueError("kernel output must be C-contiguous")
    except BaseException:
        PyBuffer_Release(view)
        raise
    return 0
