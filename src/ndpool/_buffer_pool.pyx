# cython: language_level=3
"""Large result arrays on recycled memory.

A result of tens of MB is written into memory the kernel has just received from the
operating system, and every new page faults and is zeroed by the kernel first: for a max
pooling backward of a 33 MB gradient that costs more than the pooling itself, and NumPy's
huge-page advice for big arrays can add page compaction stalls on top.  Training loops
and benchmarks ask for results of the same sizes again and again, so the memory of a
large result that nobody references any more is kept (up to a limit) and handed to the
next result of the same size, with its pages already mapped.

Safety rests on reference counting only: an array (and each view of it) holds its
_Block, and the block's memory returns to the pool when the block is deallocated, that
is, when nothing can reach the memory any more.  The pool is guarded by a lock, so that
blocks freed by other threads (or a free-threaded interpreter) are safe too.
"""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock, PyThread_release_lock,
                               PyThread_type_lock, WAIT_LOCK)
from libc.stdlib cimport free, malloc

import numpy as np

cdef enum:
    # Results smaller than this use np.empty: the C library already reuses such memory.
    MIN_BYTES = 1 << 20
    MAX_BLOCKS = 16

cdef PyThread_type_lock _lock = PyThread_allocate_lock()
# Free blocks, oldest first.
cdef void* _ptr[MAX_BLOCKS]
cdef size_t _size[MAX_BLOCKS]
cdef int _count = 0
cdef size_t _held = 0
cdef size_t _limit = 256 << 20


cdef void _drop_oldest() noexcept nogil:
    """Free the oldest pooled block; call with the lock held and _count > 0."""
    global _count, _held
    cdef int k
    free(_ptr[0])
    _held -= _size[0]
    _count -= 1
    for k in range(_count):
        _ptr[k] = _ptr[k + 1]
        _size[k] = _size[k + 1]


cdef void _give(void* p, size_t n) noexcept nogil:
    """Memory of a dead block: keep it for a later result, or free it."""
    global _count, _held
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    if n > _limit:
        free(p)
    else:
        while _count and (_count == MAX_BLOCKS or _held + n > _limit):
            _drop_oldest()
        _ptr[_count] = p
        _size[_count] = n
        _count += 1
        _held += n
    PyThread_release_lock(_lock)


cdef void* _take(size_t n) noexcept nogil:
    """A pooled block of exactly n bytes (the newest), or fresh memory; NULL if none."""
    global _count, _held
    cdef void* p = NULL
    cdef int i, k
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    for i in range(_count - 1, -1, -1):
        if _size[i] == n:
            p = _ptr[i]
            _held -= n
            _count -= 1
            for k in range(i, _count):
                _ptr[k] = _ptr[k + 1]
                _size[k] = _size[k + 1]
            break
    PyThread_release_lock(_lock)
    return p if p != NULL else malloc(n)


@cython.auto_pickle(False)  # raw memory: arrays pickle their data, never the block
cdef class _Block:
    """Owner of one result's memory; exports it as writable bytes to the array."""
    cdef void* ptr
    cdef size_t nbytes

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.ptr, <Py_ssize_t>self.nbytes, 0, flags)

    def __dealloc__(self):
        if self.ptr != NULL:
            _give(self.ptr, self.nbytes)


def empty(tuple shape, dtype):
    """An uninitialised C-contiguous array, like np.empty(shape, dtype); one of at least
    1 MiB lives on pooled memory (its base is the block that owns that memory)."""
    dtype = np.dtype(dtype)
    cdef size_t count = 1, nbytes
    for s in shape:
        count *= <size_t>s
    nbytes = count * <size_t>dtype.itemsize
    if nbytes < MIN_BYTES or _limit == 0:
        return np.empty(shape, dtype)
    cdef _Block block = _Block.__new__(_Block)
    block.ptr = _take(nbytes)
    if block.ptr == NULL:
        raise MemoryError(f"cannot allocate {nbytes} bytes for a result of shape {shape}")
    block.nbytes = nbytes
    return np.ndarray(shape, dtype, buffer=block)


def set_limit(Py_ssize_t max_bytes):
    """Set the most memory the pool keeps; returns the previous limit.  0 turns it off."""
    global _limit
    cdef size_t previous
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
    # No Python objects are made while the lock is held: a garbage collection there could
    # free a block, whose __dealloc__ takes the lock.
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    previous = _limit
    _limit = <size_t>max_bytes
    while _count and _held > _limit:
        _drop_oldest()
    PyThread_release_lock(_lock)
    return previous


def info():
    """(bytes kept, blocks kept, limit)."""
    cdef size_t held, limit
    cdef int count
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    held, count, limit = _held, _count, _limit
    PyThread_release_lock(_lock)
    return held, count, limit
