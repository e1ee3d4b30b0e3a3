# C-level API of lexauthz._engine for other Cython modules: `from lexauthz cimport _engine`.
# Transcribes csrc/lxa_bits.h (see the header for semantics) and declares the kernel entry points.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int16_t


cdef extern from "lxa_bits.h" nogil:
    size_t lxa_bits_words(size_t n)
    int lxa_bits_test(const uint64_t *w, size_t i)
    void lxa_bits_set(uint64_t *w, size_t i)
    void lxa_bits_clear(uint64_t *w, size_t i)
    int lxa_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t nw)
    int lxa_bits_and_inplace(uint64_t *out, const uint64_t *a, size_t nw)
    void lxa_bits_or_inplace(uint64_t *out, const uint64_t *a, size_t nw)
    void lxa_bits_andnot_inplace(uint64_t *out, const uint64_t *a, size_t nw)
    int lxa_bits_intersects(const uint64_t *a, const uint64_t *b, size_t nw)
    int lxa_bits_any(const uint64_t *a, size_t nw)
    size_t lxa_bits_count(const uint64_t *a, size_t nw)
    size_t lxa_bits_next(const uint64_t *a, size_t nw, size_t start)
    void lxa_bits_set_many(uint64_t *out, const uint32_t *ids, size_t n)
    void lxa_bits_clear_many(uint64_t *out, const uint32_t *ids, size_t n)


# The per-request facts the decision kernel needs besides the matched statements (see _engine.pyx, `_decide`).
ctypedef struct lxa_bundle_flags:
    int kind               # caller kind code (lexauthz.compile.principals.KIND_CODES)
    int boundary_active    # a permissions boundary applies (present, caller not root or a service)
    int session_active     # a session policy applies (present, caller a session principal)
    int scps_active        # SCPs apply (organization present, caller not a service)
    int n_levels           # SCP levels (<= 64)
