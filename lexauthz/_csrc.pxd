# Declarations of the project's own C in csrc/, transcribed from the headers; see each header for semantics.
# C calls stay visibly namespaced: `from lexauthz cimport _csrc` and call `_csrc.lxa_...`.
# Modules that cimport this need csrc/ on their include path (setup.py adds it).

cdef extern from "lxa_glob.h" nogil:
    size_t LXA_GLOB_STACK_TABLE

    int lxa_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, int icase)

    ctypedef struct lxa_glob:
        pass

    lxa_glob *lxa_glob_compile(const char *pat, size_t plen, int icase)
    int lxa_glob_exec(const lxa_glob *g, const char *txt, size_t tlen)
    void lxa_glob_free(lxa_glob *g)
