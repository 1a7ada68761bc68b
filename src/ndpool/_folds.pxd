# cython: language_level=3
"""Max folds with torch's rule (take a value if it is larger or NaN, starting from the
type's lowest value) over long runs, in several chains instead of one.

The chains' plain maximum M (v > m, any order) is the fold's value whenever no NaN occurs
and M != 0: equal floats other than zeros share their bits, so which of them comes first
does not matter.  A NaN (which one wins depends on the order) or a zero maximum (+0.0 or
-0.0: the first wins) sends the run back to the fold in scan order.  Integers need
neither check.  The fold of a sequence is the update (max_update) of its first piece's
fold by the next piece's.
"""

from ndpool._common cimport lowest_value, pool_t
from ndpool._spans cimport max_update

cdef extern from "_run_max.h" nogil:
    enum: NDP_RUN_MAX  # 1 where the vector form exists (x86)
    int ndp_run_max_f64(const double* src, Py_ssize_t n, double* out)

cdef enum:
    # Running maxima of bin_max: more than gcc's complete-unrolling limit (16), so that
    # the lane loops stay loops and the loop vectoriser takes them (unrolled, they were
    # left scalar).  Runs shorter than 2 * LANES gain nothing and take rows_max4.
    LANES = 32
    WIDE_BIN = 2 * LANES


cdef inline pool_t fold_scalar(const pool_t* src, Py_ssize_t n) noexcept nogil:
    """torch's max fold of src[0:n] from the start value, element by element."""
    cdef pool_t m = lowest_value(<pool_t>0)
    cdef Py_ssize_t i
    for i in range(n):
        m = max_update(m, src[i])
    return m


cdef inline pool_t _first_zero(const pool_t* src, Py_ssize_t n) noexcept nogil:
    """The first zero of src[0:n] (+0.0 or -0.0: torch's fold keeps the first of equal
    values), for a run whose plain maximum is zero."""
    cdef Py_ssize_t i
    for i in range(n):
        if src[i] == 0:
            return src[i]
    return 0


cdef inline pool_t bin_max(const pool_t* src, Py_ssize_t n) noexcept nogil:
    """fold_scalar(src, n) for n >= LANES, vectorised: LANES interleaved plain maxima (for
    double, _run_max.h's vectors).  A NaN is seen through running sums (which also catch
    inf - inf and then take the slow path needlessly)."""
    cdef pool_t acc[LANES]
    cdef pool_t chk[LANES]
    cdef pool_t v
    cdef Py_ssize_t i, j, h
    cdef double m
    if pool_t is double and NDP_RUN_MAX:  # the arrays below spill: explicit vectors
        if ndp_run_max_f64(src, n, &m):
            return fold_scalar(src, n)
        return _first_zero(src, n) if m == 0 else m
    for j in range(LANES):
        acc[j] = src[j]
        chk[j] = src[j]
    i = LANES
    while i + LANES <= n:
        for j in range(LANES):
            v = src[i + j]
            acc[j] = v if v > acc[j] else acc[j]
            if pool_t is float or pool_t is double:
                chk[j] = chk[j] + v
        i += LANES
    for j in range(n - i):
        v = src[i + j]
        acc[j] = v if v > acc[j] else acc[j]
        if pool_t is float or pool_t is double:
            chk[j] = chk[j] + v
    h = LANES // 2
    while h >= 1:
        for j in range(h):
            acc[j] = acc[j + h] if acc[j + h] > acc[j] else acc[j]
            if pool_t is float or pool_t is double:
                chk[j] = chk[j] + chk[j + h]
        h = h // 2
    if pool_t is float or pool_t is double:
        if chk[0] != chk[0]:
            return fold_scalar(src, n)
        if acc[0] == 0:
            return _first_zero(src, n)
    return acc[0]


cdef inline pool_t rows_max4(const pool_t* first, Py_ssize_t sD, Py_ssize_t sH, Py_ssize_t nd,
                             Py_ssize_t nh, Py_ssize_t nw) noexcept nogil:
    """The fold of rows first + d * sD + h * sH (d < nd, h < nh), cells [0, nw) of each, in
    scan order: four running maxima, which stay in registers and continue from row to row
    (a 7x7 window: four chains instead of one, whose latency bounded the scalar fold)."""
    cdef pool_t m0 = lowest_value(<pool_t>0)
    cdef pool_t m1 = m0, m2 = m0, m3 = m0, v
    cdef bint nan = False
    cdef Py_ssize_t d, h, j
    cdef const pool_t* r
    for d in range(nd):
        for h in range(nh):
            r = first + d * sD + h * sH
            j = 0
            while j + 4 <= nw:
                m0 = r[j] if r[j] > m0 else m0
                m1 = r[j + 1] if r[j + 1] > m1 else m1
                m2 = r[j + 2] if r[j + 2] > m2 else m2
                m3 = r[j + 3] if r[j + 3] > m3 else m3
                if pool_t is float or pool_t is double:
                    nan = nan | (r[j] != r[j]) | (r[j + 1] != r[j + 1]) \
                        | (r[j + 2] != r[j + 2]) | (r[j + 3] != r[j + 3])
                j += 4
            while j < nw:
                m0 = r[j] if r[j] > m0 else m0
                if pool_t is float or pool_t is double:
                    nan = nan | (r[j] != r[j])
                j += 1
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m0 = m2 if m2 > m0 else m0
    if (pool_t is float or pool_t is double) and (nan or m0 == 0):
        m0 = lowest_value(<pool_t>0)
        for d in range(nd):
            for h in range(nh):
                r = first + d * sD + h * sH
                for j in range(nw):
                    m0 = max_update(m0, r[j])
    return m0


cdef inline pool_t wide_fold(const pool_t* src, Py_ssize_t n) noexcept nogil:
    """fold_scalar(src, n) by the fastest of the three."""
    if n >= WIDE_BIN:
        return bin_max(src, n)
    if n >= 8:
        return rows_max4(src, 0, 0, 1, 1, n)
    return fold_scalar(src, n)
