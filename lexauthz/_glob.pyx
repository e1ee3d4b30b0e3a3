# cython: language_level=3, binding=True, embedsignature=True
"""IAM wildcard matching (`*` and `?`) over the C matcher in csrc/lxa_glob.c.

Semantics and cost are stated in csrc/lxa_glob.h; the Python-facing documentation is in _glob.pyi.
Strings are matched as UTF-8 ("surrogatepass", so every `str` has bytes and `?` matches one `str` character).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_GET_LENGTH

from lexauthz cimport _csrc


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)


cdef int c_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, bint icase) noexcept nogil:
    return _csrc.lxa_glob_match(pat, plen, txt, tlen, icase)


cdef inline object _utf8(object s, object name):
    """The UTF-8 form of `s` as an object that owns it: `s` itself when it is ASCII, else new bytes."""
    if not isinstance(s, str):
        raise TypeError(f"`{name}` must be a str, not {type(s).__name__}")
    if PyUnicode_IS_ASCII(s):
        # NOTE: an ASCII str stores exactly its UTF-8 bytes; using them directly saves an allocation per call.
        return s
    return (<str>s).encode("utf-8", "surrogatepass")


cdef inline const char *_bytes_of(object owner, size_t *n):
    """Pointer and length of the bytes held by an object returned from _utf8 (ASCII str or bytes)."""
    if isinstance(owner, bytes):
        n[0] = <size_t>PyBytes_GET_SIZE(owner)
        return PyBytes_AS_STRING(owner)
    n[0] = <size_t>PyUnicode_GET_LENGTH(owner)
    return <const char *>PyUnicode_1BYTE_DATA(owner)


def glob_match(pattern, text, bint ignore_case=False):
    """Whether `text` matches the IAM wildcard `pattern` (`*` any run, `?` one character; see _glob.pyi)."""
    cdef size_t plen, tlen
    p = _utf8(pattern, "pattern")
    t = _utf8(text, "text")
    cdef const char *pp = _bytes_of(p, &plen)
    cdef const char *tt = _bytes_of(t, &tlen)
    return _csrc.lxa_glob_match(pp, plen, tt, tlen, ignore_case) == 1


def glob_match_many(pattern, texts, *, bint ignore_case=False, out=None):
    """Match one pattern against many strings; a bool array, `out` if given (see _glob.pyi)."""
    import numpy as np

    cdef size_t plen, tlen
    cdef const char *tt
    cdef Py_ssize_t i, n
    cdef unsigned char[::1] flags
    cdef _csrc.lxa_glob *g

    p = _utf8(pattern, "pattern")
    seq = texts if isinstance(texts, (list, tuple)) else list(texts)
    n = len(seq)
    if out is None:
        out = np.zeros(n, dtype=np.bool_)
    elif not (
        isinstance(out, np.ndarray)
        and out.dtype == np.bool_
        and out.ndim == 1
        and out.shape[0] == n
        and out.flags.c_contiguous
        and out.flags.writeable
    ):
        raise ValueError(f"`out` must be a writeable contiguous 1-d bool array of length {n}")
    flags = out.view(np.uint8)

    cdef const char *pp = _bytes_of(p, &plen)
    g = _csrc.lxa_glob_compile(pp, plen, ignore_case)
    if g == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            t = _utf8(seq[i], f"texts[{i}]")
            tt = _bytes_of(t, &tlen)
            flags[i] = <unsigned char>_csrc.lxa_glob_exec(g, tt, tlen)
    finally:
        _csrc.lxa_glob_free(g)
    return out


def _glob_match_bytes(bytes pattern not None, bytes text not None, bint ignore_case=False, bint compiled=False):
    """Match raw bytes, valid UTF-8 or not, with the one-shot (default) or the compiled C entry point.

    For tests: the public functions only take str.
    """
    cdef const char *pp = PyBytes_AS_STRING(pattern)
    cdef const char *tt = PyBytes_AS_STRING(text)
    cdef size_t plen = <size_t>PyBytes_GET_SIZE(pattern)
    cdef size_t tlen = <size_t>PyBytes_GET_SIZE(text)
    cdef _csrc.lxa_glob *g
    cdef int r
    if not compiled:
        return _csrc.lxa_glob_match(pp, plen, tt, tlen, ignore_case) == 1
    g = _csrc.lxa_glob_compile(pp, plen, ignore_case)
    if g == NULL:
        raise MemoryError()
    r = _csrc.lxa_glob_exec(g, tt, tlen)
    _csrc.lxa_glob_free(g)
    return r == 1
