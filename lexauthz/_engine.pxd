# C-level API of lexauthz._engine for other Cython modules: `from lexauthz._engine cimport _Bundle`.
# A _Bundle's local view is what lexauthz._kernel's c_decide_sparse reads (see _engine.pyx, `_fill_view`).

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from lexauthz._kernel cimport _BundleView, lxa_bundle_flags


cdef class _Bundle:
    cdef readonly object mask, missing_mask, rp_direct, rp_role, rp_named
    cdef lxa_bundle_flags flags
    cdef readonly object caller, layout, errors
    cdef readonly dict labels      # resource-policy stmt id -> principal_match label
    cdef readonly dict slot_pos    # slot id -> position in evaluation order
    cdef readonly bint has_resource
    # The local view: the bundle's statements (sorted ids) and per-statement LF_* flags.
    cdef readonly object stmts_arr, local_flags_arr
    cdef const uint32_t *stmts
    cdef const uint8_t *local_flags
    cdef Py_ssize_t k
    cdef uint64_t serial
    cdef _BundleView view          # the local view, filled when the bundle is first put in the core's table
