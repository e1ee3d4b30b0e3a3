# C-level API of lexauthz._glob for other Cython modules: `from lexauthz._glob cimport c_glob_match`.
# The call goes through the module's C-API capsule, so the cimporting module needs no header and no C source.

cdef int c_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, bint icase) noexcept nogil
