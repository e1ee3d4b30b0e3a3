# C-level API of lexauthz._match for the other core modules: `from lexauthz._match cimport ...`.

from lexauthz cimport _csrc

# Tokens of a pattern built per request: a code point (>= 0), or one of these two wildcards.
cdef enum:
    TOK_ANY = -1    # `*`: any run of code points
    TOK_ONE = -2    # `?`: exactly one code point

# The first N literal `:` split an ARN (pattern) into its six fields.
cdef enum:
    ARN_FIELDS = 6


cdef inline bytes _utf8(str s):
    return s.encode("utf-8", "surrogatepass")


cdef class _GlobList:
    cdef _csrc.lxa_glob **globs
    cdef Py_ssize_t n
    cdef list pats         # the patterns' UTF-8 bytes
    cdef object index      # built by the first `matching`: (prefix lengths, {length: {prefix: [ids]}})
    cdef bint exec(self, Py_ssize_t i, const char *t, size_t tlen) noexcept nogil
    cdef object _index(self)
    cdef list matching(self, bytes text)


cdef bint _tok_match(list tokens, Py_ssize_t t0, Py_ssize_t t1, str text, Py_ssize_t x0, Py_ssize_t x1) except -1
cdef list _tok_fields(list tokens)
cdef list _text_tokens(str text)
cdef list _literal_tokens(str text)
cdef list _template_pieces(str text)


cdef class _Template:
    cdef list pieces
    cdef readonly tuple keys  # variable keys as written, first spelling per lower-cased key
    cdef list static_tokens   # tokens when there is no variable (None otherwise)
    cdef str static_text
    cdef list _tokens(self, ctx)
    cdef str _text(self, ctx)
    cdef list tokens(self, ctx)
    cdef str text(self, ctx)


cdef class _ArnTable:
    cdef _GlobList globs
    cdef int *nfields   # 0 for `*` (matches everything), -1 for a short pattern that can match nothing
    cdef int *first     # index of the pattern's first field in globs
    cdef Py_ssize_t n
    cdef list everywhere   # ids of `*` patterns
    cdef dict buckets      # account field (None: not a literal) -> (prefix lengths, {length: {prefix: [ids]}})
    cdef list matching(self, str resource)
