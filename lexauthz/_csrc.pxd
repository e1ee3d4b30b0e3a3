# Declarations of the project's own C in csrc/, transcribed from every header there; see each header for semantics.
# C calls stay visibly namespaced: `from lexauthz cimport _csrc` and call `_csrc.lxa_...`.
# Modules that cimport this need csrc/ on their include path (setup.py adds it), and link the .c files of the
# headers they call (setup.py's EXTENSIONS rows).

from libc.stdint cimport int32_t, uint32_t, uint64_t


# csrc/lxa_glob.h: the IAM wildcard matcher.
cdef extern from "lxa_glob.h" nogil:
    size_t LXA_GLOB_STACK_TABLE

    int lxa_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, int icase)

    ctypedef struct lxa_glob:
        pass

    lxa_glob *lxa_glob_compile(const char *pat, size_t plen, int icase)
    int lxa_glob_exec(const lxa_glob *g, const char *txt, size_t tlen)
    void lxa_glob_free(lxa_glob *g)

    int LXA_TOK_ANY
    int LXA_TOK_ONE
    int lxa_tok_match(const int32_t *pat, size_t m, const uint32_t *txt, size_t n)


# csrc/lxa_bits.h: dense bitsets over statement ids (test/set/clear are `static inline` in the header).
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


# csrc/lxa_tab.h: read-mostly hash tables probed without the GIL, written with it (all `static inline`).
from cpython.object cimport PyObject

cdef extern from "lxa_tab.h" nogil:
    ctypedef struct lxa_tab_data:
        pass

    ctypedef struct lxa_tab:
        lxa_tab_data *cur
        size_t limit

    int lxa_tab_init(lxa_tab *t, size_t limit)
    void lxa_tab_free(lxa_tab *t)
    size_t lxa_tab_len(const lxa_tab *t)
    int lxa_str_probeable(PyObject *o)
    int lxa_str_same(PyObject *x, PyObject *y)
    Py_hash_t lxa_str_hash(PyObject *o)
    const void *lxa_tab_get_str(const lxa_tab *t, PyObject *o)
    void lxa_tab_prefetch_str(const lxa_tab *t, PyObject *o)
    const void *lxa_tab_get3(const lxa_tab *t, uint64_t a, uint64_t b, uint64_t c)
    int lxa_tab_put_str(lxa_tab *t, PyObject *o, const void *val)
    int lxa_tab_put3(lxa_tab *t, uint64_t a, uint64_t b, uint64_t c, const void *val)
    PyObject **lxa_list_items(PyObject *l)
    PyObject **lxa_tuple_items(PyObject *t)
    ctypedef struct lxa_item:
        PyObject *key
    int lxa_item_fill(lxa_item *it, PyObject *k, PyObject *v)
    int lxa_item_same(const lxa_item *it, PyObject *k, PyObject *v)
    int lxa_str_exact_ready(PyObject *o)
    uint64_t lxa_ctx_hash_start()
    uint64_t lxa_ctx_hash_mix(uint64_t h, Py_hash_t kh, Py_hash_t vh)
    uint64_t lxa_ctx_hash_end(uint64_t h)
    enum: LXA_KEPT_ITEMS
    ctypedef struct lxa_ctx_rec:
        uint64_t serial
        Py_ssize_t n_inline
        PyObject **flat
        Py_ssize_t n_flat
        PyObject *owner
        lxa_item items[LXA_KEPT_ITEMS]
    ctypedef struct lxa_pair:
        PyObject *key
    int lxa_pair_fill(lxa_pair *p, PyObject *k, PyObject *v)
    uint64_t lxa_pairs_hash(lxa_pair *p, Py_ssize_t n)
    int lxa_ctx_same_pairs(const lxa_ctx_rec *r, const lxa_pair *p, Py_ssize_t n)
    ctypedef struct lxa_ctab:
        pass
    int lxa_ctab_init(lxa_ctab *t, size_t limit)
    void lxa_ctab_free(lxa_ctab *t)
    size_t lxa_ctab_len(const lxa_ctab *t)
    const lxa_ctx_rec *lxa_ctab_get(const lxa_ctab *t, uint64_t h)
    uint64_t lxa_ctab_find(const lxa_ctab *t, uint64_t h, const lxa_pair *p, Py_ssize_t n)
    int lxa_ctab_put(lxa_ctab *t, uint64_t h, const lxa_ctx_rec *rec)
