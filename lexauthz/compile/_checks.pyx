# cython: language_level=3, boundscheck=False, wraparound=False
"""Whole-array checks of a loaded index, one pass in C over each array.

:meth:`lexauthz.compile.state.IndexState.check` runs these over the id lists and CSR offsets of a file's index
before the kernel reads them without bounds checks.  As numpy expressions they were a dozen calls per array (a
difference, a comparison, a reduction each), and at 1,000 statements the calls, not the data, were a sixth of a load.
"""
from libc.stdint cimport uint32_t, uint64_t


def ids_below(const uint32_t[::1] ids, uint64_t n):
    """Whether every id of ``ids`` is below ``n``."""
    cdef Py_ssize_t i, k = ids.shape[0]
    cdef bint ok = True
    with nogil:
        for i in range(k):
            if ids[i] >= n:
                ok = False
                break
    return ok


def offsets_partition(const uint64_t[::1] off, uint64_t end):
    """Whether ``off`` (at least one entry) starts at 0, never decreases and ends at ``end``."""
    cdef Py_ssize_t i, k = off.shape[0]
    cdef bint ok = True
    if k == 0 or off[0] != 0 or off[k - 1] != end:
        return False
    with nogil:
        for i in range(1, k):
            if off[i] < off[i - 1]:
                ok = False
                break
    return ok
