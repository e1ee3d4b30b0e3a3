# cython: language_level=3, binding=True, embedsignature=True
"""The compiled engine's core: flattened index rows, compiled condition code and the decision kernels.

Private: :mod:`lexauthz.engine` is the public facade, and the Python-facing documentation is in _engine.pyi.
Nothing here imports :mod:`lexauthz.reference`: IAM's rules are implemented a second time, independently, and the
differential tests compare the two.

How a batch is decided (:meth:`Core.encode_ids`, :meth:`Core.prepare`, :meth:`Core.run_prepared`):

A. encode (GIL held): every string resolves once per engine to an entry: a principal to its layout parts, caller
   account, tag context and bundle (the statements that apply to the caller, and how resource policies name it); a
   resource to its index row (a dense bitset over statement ids), policy slot, tags and owner; an action to its row;
   a dict context of strings, found by a content hash, to one Context, and with the principal's and resource's tags
   to a condition environment and tag row.  Per-call maps from entries to row indexes are a small C hash table over
   serials.  Strings never seen before are matched against every pattern once, with the C wildcard matcher
   (csrc/lxa_glob.c), and cached, so they are never silently allowed or denied.
B. candidates (GIL released): the sparse kernel `c_decide_sparse` walks the bundle's own statements (its *local
   view*: tens of sorted ids with flags, not a row over every statement) and tests each one's bit in the action,
   resource and tag rows.  A request none of whose candidates needs a residual check (a condition the index could
   not decide, a Resource with policy variables) is decided at once; so is one with an applying Deny.
C. residual checks (GIL held, in prepare): the compiled condition code runs once per candidate statement and
   distinct (environment, resource), memoised per engine; the results are stored per row as one bit per local
   position.
D. decide (GIL released): the whole loop over ids, with the stored residual results (``run_prepared``; a one-shot
   string batch has ``prepare`` decide the rows B decided and the deferred ones after C, in one call).
:meth:`Engine.encode` keeps the output of A-C (an EncodedBatch), so deciding it again is D alone.  `is_allowed`
runs the same steps for one request without arrays.

:meth:`Core.explain_one` (:meth:`Engine.evaluate`) runs the same walk for one request and also returns the matched
statements its Response lists.

NOTE: the residual condition code is Cython, but it works on Python objects: context values are read through the
case-insensitive Context mapping, and numbers, dates, IP addresses and base-64 values are parsed with Python's
decimal, ipaddress and base64 modules (policy values once, when a statement's check is first compiled; context
values once per environment and value).  That is why phase C holds the GIL; phases B and D never touch a Python
object.
"""

cimport cython
from cpython.unicode cimport PyUnicode_CheckExact, PyUnicode_GET_LENGTH, PyUnicode_READ_CHAR
from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject, PyObject_Hash
from libc.stdint cimport INT16_MAX, SIZE_MAX, int16_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from lexauthz cimport _csrc

import base64
import binascii
import ipaddress
import re
from decimal import Decimal, InvalidOperation

import numpy as np
cimport numpy as cnp

cnp.import_array()

from lexauthz.compile.plan import Layout
from lexauthz.compile.principals import KIND_CODES, caller_info, not_principal_naming, principal_naming
from lexauthz.errors import RequestError as _RequestError
from lexauthz.request import Context as _Context

# Decision codes (lexauthz.decision.Decision).
cdef enum:
    DEF_IMPLICIT_DENY = 0
    DEF_ALLOW = 1
    DEF_EXPLICIT_DENY = 2
    DEF_ERROR = 3

cdef enum:
    K_USER = 0
    K_ROLE = 1
    K_ASSUMED_ROLE = 2
    K_FEDERATED_USER = 3
    K_ROOT = 4
    K_SERVICE = 5
    K_OTHER = 6

cdef enum:
    T_IDENTITY = 0
    T_RESOURCE = 1
    T_BOUNDARY = 2
    T_SESSION = 3
    T_SCP = 4

cdef enum:
    E_ALLOW = 1
    E_DENY = 2

assert KIND_CODES == {"user": 0, "role": 1, "assumed-role": 2, "federated-user": 3, "root": 4, "service": 5,
                      "other": 6}

_U64 = np.uint64


cdef inline object _zeros(Py_ssize_t nw):
    return np.zeros(nw, dtype=_U64)


cdef inline uint64_t *_ptr(object arr):
    """Pointer to the data of a C-contiguous uint64 numpy array (kept alive by the caller)."""
    cdef uint64_t[::1] mv = arr
    return &mv[0]


cdef inline uint64_t *_fptr(object arr) except NULL:
    """Pointer to the data of a C-contiguous uint64 numpy array, without a memoryview (checked, cheap)."""
    if (not cnp.PyArray_Check(arr) or cnp.PyArray_TYPE(<cnp.ndarray>arr) != cnp.NPY_UINT64
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>arr) or cnp.PyArray_SIZE(<cnp.ndarray>arr) == 0):
        raise ValueError("expected a non-empty contiguous uint64 array")
    return <uint64_t *>cnp.PyArray_DATA(<cnp.ndarray>arr)


def _csr_rows(csr):
    """The rows of a checked CSR ``(offsets, ids)`` (see lexauthz.compile.state) as contiguous uint32 views."""
    off, ids = csr
    bounds = off.tolist()
    return [ids[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


# =================================================================================================================
# The decision kernel
# =================================================================================================================

# Local flags of a bundle's statement (_Bundle.lfl).
cdef enum:
    LF_DIRECT = 1   # a resource-policy statement that names the caller directly (everyone, principal, service)
    LF_ROLE = 2     # ... that names the caller's role
    LF_NAMED = 4    # ... that names the caller at all
    LF_NEEDS = 8    # the statement needs a residual check (a condition the index could not decide, a dynamic Resource)

cdef struct _SB:
    const uint32_t *stmts
    const uint8_t *lfl
    Py_ssize_t k
    lxa_bundle_flags flags
    int err


# The decision kernel, over a bundle's local view: O(k) bit tests for a bundle of k statements.
# ``passed`` holds one bit per local position (the residual results of the LF_NEEDS candidates); when it is NULL and a
# candidate needs a residual check, the answer is -1 (defer) unless an applying Deny already decides.
# INVARIANT(deny-first): an applying Deny in any policy type decides before any Allow is looked at.
cdef int c_decide_sparse(const _SB *b, const uint64_t *A, const uint64_t *R, const uint64_t *T,
                         const uint64_t *passed, const uint8_t *stmt_type, const uint8_t *stmt_effect,
                         const int16_t *stmt_level, int same_account) noexcept nogil:
    cdef Py_ssize_t j
    cdef uint32_t s
    cdef uint8_t f
    cdef int id_allow = 0, b_allow = 0, s_allow = 0, direct = 0, role = 0, named = 0, deferred = 0
    cdef uint64_t levels = 0, want
    cdef int t, kind = b.flags.kind
    if b.err:
        return DEF_ERROR
    for j in range(b.k):
        s = b.stmts[j]
        if not (lxa_bits_test(A, s) and lxa_bits_test(R, s) and lxa_bits_test(T, s)):
            continue
        f = b.lfl[j]
        if f & LF_NEEDS:
            if passed == NULL:
                deferred = 1
                continue
            if not lxa_bits_test(passed, j):
                continue
        if stmt_effect[s] == E_DENY:
            return DEF_EXPLICIT_DENY
        t = stmt_type[s]
        if t == T_IDENTITY:
            id_allow = 1
        elif t == T_RESOURCE:
            if f & LF_NAMED:
                named = 1
            if f & LF_DIRECT:
                direct = 1
            if f & LF_ROLE:
                role = 1
        elif t == T_BOUNDARY:
            b_allow = 1
        elif t == T_SESSION:
            s_allow = 1
        elif t == T_SCP:
            if stmt_level[s] >= 0 and stmt_level[s] < 64:
                levels |= (<uint64_t>1) << stmt_level[s]
    if deferred:
        return -1
    if kind == K_SERVICE:
        return DEF_ALLOW if direct else DEF_IMPLICIT_DENY
    if b.flags.scps_active:
        want = (~(<uint64_t>0)) if b.flags.n_levels >= 64 else (((<uint64_t>1) << b.flags.n_levels) - 1)
        if (levels & want) != want:
            return DEF_IMPLICIT_DENY
    cdef int b_ok = (not b.flags.boundary_active) or b_allow
    cdef int s_ok = s_allow if b.flags.session_active else (kind != K_FEDERATED_USER)
    cdef int identity_side = (kind == K_ROOT) or (id_allow and b_ok and s_ok)
    if same_account:
        if direct or (role and b_ok and s_ok) or identity_side:
            return DEF_ALLOW
        return DEF_IMPLICIT_DENY
    return DEF_ALLOW if (identity_side and named) else DEF_IMPLICIT_DENY


cdef inline bint _all_str(dict d):
    for k, v in d.items():
        if type(v) is not str or type(k) is not str:
            return False
    return True


cdef inline void _fill_sb(_SB *out, _Bundle b) noexcept:
    out.stmts = b.stmts
    out.lfl = b.lfl
    out.k = b.k
    out.flags = b.flags
    out.err = 1 if b.errors else 0


cdef class Prepared:
    """A batch encoded for the nogil kernel: per-row ids into tables of bundles and rows held here, and the residual
    results of every row that needed one (one bit per local statement position)."""

    cdef readonly Py_ssize_t n
    cdef readonly object core
    cdef list refs          # keeps every bundle and row alive while the pointers below are used
    cdef _SB *sbs
    cdef const uint64_t **arows
    cdef const uint64_t **rrows
    cdef const uint64_t **trows
    cdef Py_ssize_t nb, na, nr, nt
    cdef readonly object b_idx, a_idx, r_idx, t_idx, same, poff, pflat

    def __cinit__(self):
        self.sbs = NULL
        self.arows = NULL
        self.rrows = NULL
        self.trows = NULL

    def __dealloc__(self):
        free(self.sbs)
        free(<void *>self.arows)
        free(<void *>self.rrows)
        free(<void *>self.trows)

    def __len__(self):
        return self.n


cdef const uint64_t **_row_ptrs(list rows, Py_ssize_t nw) except NULL:
    """Data pointers of index rows, each checked to be a contiguous uint64 array of ``nw`` words."""
    cdef Py_ssize_t i, n = len(rows)
    cdef const uint64_t **out = <const uint64_t **>malloc((n + 1) * sizeof(uint64_t *))
    if out == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            out[i] = _fptr(rows[i])
            if cnp.PyArray_NDIM(<cnp.ndarray>rows[i]) != 1 or cnp.PyArray_SIZE(<cnp.ndarray>rows[i]) != nw:
                raise ValueError("row width differs from the plan")
    except BaseException:
        free(<void *>out)
        raise
    return out


# =================================================================================================================
# Wildcards: compiled C patterns for static text, a token matcher for patterns built per request
# =================================================================================================================

cdef class _GlobList:
    """Compiled lxa_glob patterns (UTF-8, case-sensitive: case-insensitive callers lower both sides first)."""

    cdef _csrc.lxa_glob **globs
    cdef Py_ssize_t n

    def __cinit__(self, list patterns):
        cdef bytes b
        cdef Py_ssize_t i
        self.n = len(patterns)
        self.globs = <_csrc.lxa_glob **>malloc((self.n + 1) * sizeof(_csrc.lxa_glob *))
        if self.globs == NULL:
            raise MemoryError()
        memset(self.globs, 0, (self.n + 1) * sizeof(_csrc.lxa_glob *))
        for i in range(self.n):
            b = _utf8(patterns[i])
            self.globs[i] = _csrc.lxa_glob_compile(b, len(b), 0)
            if self.globs[i] == NULL:
                raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.globs != NULL:
            for i in range(self.n):
                _csrc.lxa_glob_free(self.globs[i])
            free(self.globs)

    cdef inline bint exec(self, Py_ssize_t i, const char *t, size_t tlen) noexcept nogil:
        return _csrc.lxa_glob_exec(self.globs[i], t, tlen) == 1

    cdef list matching(self, bytes text):
        """Indices of the patterns that match all of ``text``."""
        cdef const char *t = text
        cdef size_t tlen = len(text)
        cdef Py_ssize_t i
        cdef list out = []
        for i in range(self.n):
            if _csrc.lxa_glob_exec(self.globs[i], t, tlen) == 1:
                out.append(i)
        return out


cdef inline bytes _utf8(str s):
    return s.encode("utf-8", "surrogatepass")


# Tokens of a pattern built per request: a code point, or one of these two wildcards.
DEF TOK_ANY = -1
DEF TOK_ONE = -2


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint _tok_match(list tokens, Py_ssize_t t0, Py_ssize_t t1, str text, Py_ssize_t x0, Py_ssize_t x1) except -1:
    """Whether text[x0:x1] matches tokens[t0:t1]: `*` any run, `?` one code point, everything else itself.

    Greedy with one backtrack point (the last `*`): O(len(text) * len(tokens)) at worst, never exponential.
    """
    cdef Py_ssize_t m = t1 - t0, n = x1 - x0, i = 0, j = 0, star = -1, mark = 0
    cdef long *pat
    cdef Py_ssize_t k
    cdef long tk
    cdef Py_UCS4 ch
    cdef bint result
    if m == 0:
        return n == 0
    pat = <long *>malloc(m * sizeof(long))
    if pat == NULL:
        raise MemoryError()
    for k in range(m):
        pat[k] = tokens[t0 + k]
    try:
        while i < n:
            ch = PyUnicode_READ_CHAR(text, x0 + i)
            if j < m and (pat[j] == TOK_ONE or (pat[j] >= 0 and <Py_UCS4>pat[j] == ch)):
                i += 1
                j += 1
            elif j < m and pat[j] == TOK_ANY:
                star = j
                mark = i
                j += 1
            elif star >= 0:
                j = star + 1
                mark += 1
                i = mark
            else:
                return False
        while j < m and pat[j] == TOK_ANY:
            j += 1
        result = j == m
        return result
    finally:
        free(pat)


cdef list _tok_fields(list tokens):
    """Split a token list at its first five literal `:` (never at a wildcard): [(start, end), ...]."""
    cdef list out = []
    cdef Py_ssize_t start = 0, k, n = len(tokens)
    for k in range(n):
        if len(out) < 5 and tokens[k] == 58:
            out.append((start, k))
            start = k + 1
    out.append((start, n))
    return out


cdef list _text_tokens(str text):
    """Tokens of text written in a policy: `*` and `?` are wildcards."""
    cdef list out = []
    cdef Py_UCS4 ch
    for ch in text:
        if ch == u'*':
            out.append(TOK_ANY)
        elif ch == u'?':
            out.append(TOK_ONE)
        else:
            out.append(<long>ch)
    return out


cdef list _literal_tokens(str text):
    cdef list out = []
    cdef Py_UCS4 ch
    for ch in text:
        out.append(<long>ch)
    return out


# =================================================================================================================
# Policy variables (IAM User Guide, "IAM policy elements: Variables and tags")
# =================================================================================================================

_SPECIAL = {"*": "*", "?": "?", "$": "$"}


cdef object _variable_body(str body):
    """``(key, default-or-None)`` when ``body`` (the inside of ``${...}``) is a variable, else ``None``.

    A key, surrounded by optional whitespace, then optionally a comma and a single-quoted default; the key holds no
    comma, quote or brace and does not start with whitespace.
    """
    cdef Py_ssize_t comma = body.find(",")
    head = body if comma < 0 else body[:comma]
    key = head.strip()
    if not key or "'" in key:
        return None
    if comma < 0:
        return (key, None)
    tail = body[comma + 1:].strip()
    if len(tail) >= 2 and tail[0] == "'" and tail[len(tail) - 1] == "'" and "'" not in tail[1:len(tail) - 1]:
        return (key, tail[1:len(tail) - 1])
    return None


cdef list _template_pieces(str text):
    """Split policy text into ("text", s), ("char", c) and ("var", key, default) pieces."""
    cdef list pieces = []
    cdef Py_ssize_t pos = 0, i, j, n = len(text)
    i = text.find("${")
    while i >= 0:
        j = i + 2
        while j < n and text[j] != "{" and text[j] != "}":
            j += 1
        if j < n and text[j] == "}":
            body = text[i + 2:j]
            if body in _SPECIAL:
                piece = ("char", _SPECIAL[body])
            else:
                var = _variable_body(body)
                piece = None if var is None else ("var", var[0], var[1])
            if piece is not None:
                if i > pos:
                    pieces.append(("text", text[pos:i]))
                pieces.append(piece)
                pos = j + 1
            i = text.find("${", j + 1)
        else:
            i = text.find("${", i + 1)
    if pos < n:
        pieces.append(("text", text[pos:]))
    return pieces


cdef class _Template:
    """A policy value with its variables, resolved per request into tokens (wildcards) or plain text."""

    cdef list pieces
    cdef readonly tuple keys  # variable keys as written, first spelling per lower-cased key
    cdef list static_tokens   # tokens when there is no variable (None otherwise)
    cdef str static_text

    def __cinit__(self, str text, bint enabled):
        cdef list keys = []
        seen = set()
        self.pieces = _template_pieces(text) if enabled else [("text", text)]
        for p in self.pieces:
            if p[0] == "var" and p[1].lower() not in seen:
                seen.add(p[1].lower())
                keys.append(p[1])
        self.keys = tuple(keys)
        self.static_tokens = None
        self.static_text = None
        if not keys:
            self.static_tokens = self._tokens(None)
            self.static_text = self._text(None)

    cdef list _tokens(self, ctx):
        cdef list out = []
        for p in self.pieces:
            if p[0] == "text":
                out.extend(_text_tokens(p[1]))
            elif p[0] == "char":
                out.extend(_literal_tokens(p[1]))
            else:
                v = _var_value(ctx, p[1], p[2])
                if v is None:
                    return None
                out.extend(_literal_tokens(v))
        return out

    cdef str _text(self, ctx):
        cdef list out = []
        for p in self.pieces:
            if p[0] == "var":
                v = _var_value(ctx, p[1], p[2])
                if v is None:
                    return None
                out.append(v)
            else:
                out.append(p[1])
        return "".join(out)

    cdef list tokens(self, ctx):
        """Tokens with variables resolved from ``ctx``; ``None`` when a variable has no value."""
        if self.static_tokens is not None:
            return self.static_tokens
        return self._tokens(ctx)

    cdef str text(self, ctx):
        if self.static_text is not None:
            return self.static_text
        return self._text(ctx)


cdef inline object _var_value(ctx, str key, object default):
    v = ctx.get(key) if ctx is not None else None
    if type(v) is str:
        return v
    return default


# =================================================================================================================
# Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators")
# =================================================================================================================

cdef enum:
    F_UNKNOWN = 0
    F_STR_EQ = 1
    F_STR_EQ_IC = 2
    F_STR_LIKE = 3
    F_NUM = 4
    F_DATE = 5
    F_BOOL = 6
    F_BIN = 7
    F_IP = 8
    F_ARN = 9
    F_NULL = 10

cdef enum:
    C_EQ = 0
    C_LT = 1
    C_LE = 2
    C_GT = 3
    C_GE = 4

# base operator -> (family, comparison, negated)
_OPERATORS = {
    "StringEquals": (F_STR_EQ, C_EQ, False), "StringNotEquals": (F_STR_EQ, C_EQ, True),
    "StringEqualsIgnoreCase": (F_STR_EQ_IC, C_EQ, False), "StringNotEqualsIgnoreCase": (F_STR_EQ_IC, C_EQ, True),
    "StringLike": (F_STR_LIKE, C_EQ, False), "StringNotLike": (F_STR_LIKE, C_EQ, True),
    "NumericEquals": (F_NUM, C_EQ, False), "NumericNotEquals": (F_NUM, C_EQ, True),
    "NumericLessThan": (F_NUM, C_LT, False), "NumericLessThanEquals": (F_NUM, C_LE, False),
    "NumericGreaterThan": (F_NUM, C_GT, False), "NumericGreaterThanEquals": (F_NUM, C_GE, False),
    "DateEquals": (F_DATE, C_EQ, False), "DateNotEquals": (F_DATE, C_EQ, True),
    "DateLessThan": (F_DATE, C_LT, False), "DateLessThanEquals": (F_DATE, C_LE, False),
    "DateGreaterThan": (F_DATE, C_GT, False), "DateGreaterThanEquals": (F_DATE, C_GE, False),
    "Bool": (F_BOOL, C_EQ, False),
    "BinaryEquals": (F_BIN, C_EQ, False),
    "IpAddress": (F_IP, C_EQ, False), "NotIpAddress": (F_IP, C_EQ, True),
    "ArnEquals": (F_ARN, C_EQ, False), "ArnLike": (F_ARN, C_EQ, False),
    "ArnNotEquals": (F_ARN, C_EQ, True), "ArnNotLike": (F_ARN, C_EQ, True),
    "Null": (F_NULL, C_EQ, False),
}


cdef bint _digits(str s, Py_ssize_t *i, Py_ssize_t n):
    """Advance i over decimal digits (Unicode category Nd); whether at least one was read."""
    cdef Py_ssize_t start = i[0]
    while i[0] < n and s[i[0]].isdecimal():
        i[0] += 1
    return i[0] > start


cdef object _number(str s):
    """An integer or decimal (``3600``, ``-1``, ``2.5``, ``.5``, ``5.``, ``1e3``) as an exact Decimal, else None."""
    cdef Py_ssize_t i = 0, n = len(s)
    cdef bint int_part, frac_part = False
    if i < n and (s[i] == "+" or s[i] == "-"):
        i += 1
    int_part = _digits(s, &i, n)
    if i < n and s[i] == ".":
        i += 1
        frac_part = _digits(s, &i, n)
    if not int_part and not frac_part:
        return None
    if i < n and (s[i] == "e" or s[i] == "E"):
        i += 1
        if i < n and (s[i] == "+" or s[i] == "-"):
            i += 1
        if not _digits(s, &i, n):
            return None
    if i != n:
        return None
    try:
        return Decimal(s)
    except (InvalidOperation, ValueError):
        return None


_ISO = re.compile(
    r"(\d{4})-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?)?")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


cdef long long _days_from_civil(long long y, long long m, long long d):
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y -= m <= 2
    cdef long long era = (y if y >= 0 else y - 399) // 400
    cdef long long yoe = y - era * 400
    cdef long long mp = (m + 9) % 12
    cdef long long doy = (153 * mp + 2) // 5 + d - 1
    cdef long long doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef object _instant(str s):
    """Seconds since the epoch (exact Decimal) of an epoch number or a W3C ISO 8601 date, else None."""
    cdef Py_ssize_t i = 0, n = len(s)
    if i < n and (s[i] == "+" or s[i] == "-"):
        i += 1
    if _digits(s, &i, n):
        if i == n:
            return Decimal(s)
        if s[i] == ".":
            i += 1
            if _digits(s, &i, n) and i == n:
                return Decimal(s)
    m = _ISO.fullmatch(s)
    if m is None:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    hour, minute, second = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
    if year < 1 or not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 59:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day < 1 or day > _MONTH_DAYS[month - 1] + (1 if (month == 2 and leap) else 0):
        return None
    offset = 0
    zone = m.group(8)
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        zh, zm = int(digits[:2]), int(digits[2:])
        if zh > 23 or zm > 59:
            return None
        offset = (zh * 3600 + zm * 60) * (1 if zone[0] == "+" else -1)
    secs = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    out = Decimal(secs)
    if m.group(7):
        out += Decimal("0" + m.group(7))
    return out


cdef object _b64(str s):
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


cdef object _network(str s):
    try:
        return ipaddress.ip_network(s, strict=False)
    except ValueError:
        return None


cdef object _address(str s):
    try:
        return ipaddress.ip_address(s)
    except ValueError:
        return None


cdef inline bint _cmp(int c, object a, object b):
    if c == C_EQ:
        return a == b
    if c == C_LT:
        return a < b
    if c == C_LE:
        return a <= b
    if c == C_GT:
        return a > b
    return a >= b


# One comparison of a context value with a policy value: 1 true, 0 false, -1 not comparable (never a match, and it
# defeats a negated operator too).
cdef class _Clause:
    """One compiled ``operator: {key: values}`` clause."""

    cdef int fam, comparison, qualifier
    cdef bint negated, if_exists, unknown
    cdef readonly str key
    cdef list templates  # String*, Arn*, Bool: one _Template per value
    cdef list parsed     # Numeric*, Date*, BinaryEquals, IpAddress: parsed policy values (None: not comparable)
    cdef bint null_true, null_false

    def __cinit__(self, clause, bint variables_enabled):
        spec = _OPERATORS.get(clause.base)
        self.key = clause.key_lower
        self.if_exists = clause.if_exists
        self.unknown = spec is None or (clause.base == "Null" and clause.if_exists)
        self.qualifier = {None: 0, "ForAnyValue": 1, "ForAllValues": 2}.get(clause.qualifier, 3)
        self.fam, self.comparison, self.negated = spec if spec is not None else (F_UNKNOWN, C_EQ, False)
        self.templates = []
        self.parsed = []
        if self.fam in (F_STR_EQ, F_STR_EQ_IC, F_STR_LIKE, F_ARN, F_BOOL):
            self.templates = [_Template(v, variables_enabled) for v in clause.values]
        elif self.fam == F_NUM:
            self.parsed = [_number(v) for v in clause.values]
        elif self.fam == F_DATE:
            self.parsed = [_instant(v) for v in clause.values]
        elif self.fam == F_BIN:
            self.parsed = [_b64(v) for v in clause.values]
        elif self.fam == F_IP:
            self.parsed = [_network(v) for v in clause.values]
        elif self.fam == F_NULL:
            lowered = [v.lower() for v in clause.values]
            self.null_true = "true" in lowered
            self.null_false = "false" in lowered


cdef class _Env:
    """The request context plus per-request caches of parsed context values."""

    cdef readonly object ctx
    cdef dict numbers, instants, addresses, binaries

    def __cinit__(self, ctx):
        self.ctx = ctx
        self.numbers = {}
        self.instants = {}
        self.addresses = {}
        self.binaries = {}


ctypedef object (*_parse_t)(str)

_UNPARSED = object()


cdef inline object _parsed_once(dict cache, str cv, _parse_t parse):
    """A context value parsed by ``parse`` once per evaluation environment; ``None`` when it does not parse."""
    x = cache.get(cv, _UNPARSED)
    if x is _UNPARSED:
        x = cache[cv] = parse(cv)
    return x


cdef int _compare_value(_Clause c, str cv, object pv, _Env env) except -2:
    """Compare one context value with one policy value for clause ``c``'s family (positive form)."""
    cdef list toks
    cdef list cf
    cdef list pf
    cdef Py_ssize_t k
    if c.fam == F_STR_EQ:
        t = (<_Template>pv).text(env.ctx)
        if t is None:
            return 0
        return 1 if cv == t else 0
    if c.fam == F_STR_EQ_IC:
        t = (<_Template>pv).text(env.ctx)
        if t is None:
            return 0
        return 1 if cv.lower() == t.lower() else 0
    if c.fam == F_STR_LIKE:
        toks = (<_Template>pv).tokens(env.ctx)
        if toks is None:
            return 0
        return 1 if _tok_match(toks, 0, len(toks), cv, 0, len(cv)) else 0
    if c.fam == F_BOOL:
        t = (<_Template>pv).text(env.ctx)
        if t is None:
            return 0
        a, b = cv.lower(), t.lower()
        if (a != "true" and a != "false") or (b != "true" and b != "false"):
            return -1
        return 1 if a == b else 0
    if c.fam == F_ARN:
        toks = (<_Template>pv).tokens(env.ctx)
        if toks is None:
            return 0
        return _arn_like(cv, toks)
    if pv is None:
        return -1
    if c.fam == F_NUM:
        x = _parsed_once(env.numbers, cv, _number)
        if x is None:
            return -1
        return 1 if _cmp(c.comparison, x, pv) else 0
    if c.fam == F_DATE:
        x = _parsed_once(env.instants, cv, _instant)
        if x is None:
            return -1
        return 1 if _cmp(c.comparison, x, pv) else 0
    if c.fam == F_BIN:
        x = _parsed_once(env.binaries, cv, _b64)
        if x is None:
            return -1
        return 1 if x == pv else 0
    if c.fam == F_IP:
        x = _parsed_once(env.addresses, cv, _address)
        if x is None:
            return -1
        if x.version != pv.version:
            return 0
        return 1 if x in pv else 0
    return -1


cdef int _arn_like(str cv, list toks) except -2:
    """ArnLike/ArnEquals: the six colon-separated fields compared one by one; -1 when either side is no ARN."""
    cf = cv.split(":", 5)
    cdef list pf = _tok_fields(toks)
    if len(cf) != 6 or len(pf) != 6:
        return -1
    if cf[0] != "arn" or not _tok_match(toks, pf[0][0], pf[0][1], "arn", 0, 3):
        return -1
    cdef Py_ssize_t k
    for k in range(6):
        field = cf[k]
        if not _tok_match(toks, pf[k][0], pf[k][1], field, 0, len(field)):
            return 0
    return 1


cdef bint _clause_check(_Clause c, _Env env) except -1:
    """Whether clause ``c`` matches: the missing-key, set-qualifier and multivalued rules, then the values."""
    if c.unknown:
        return False
    value = env.ctx.get(c.key)
    if c.fam == F_NULL:
        if value is None or (type(value) is tuple and len(value) == 0):
            return c.null_true
        return c.null_false
    if value is None:
        if c.if_exists or c.qualifier == 2:
            return True
        if c.qualifier == 1:
            return False
        return c.negated
    if c.qualifier == 3:
        return False
    cdef list pvs = c.templates if c.templates else c.parsed
    if c.qualifier == 1:
        for v in (value if type(value) is tuple else (value,)):
            if _value_check(c, v, pvs, env):
                return True
        return False
    if c.qualifier == 2:
        for v in (value if type(value) is tuple else (value,)):
            if not _value_check(c, v, pvs, env):
                return False
        return True
    if type(value) is tuple:
        return False  # a single-valued operator on a multivalued key never matches
    return _value_check(c, value, pvs, env)


cdef bint _value_check(_Clause c, str cv, list pvs, _Env env) except -1:
    """One context value against every policy value: OR; NOR (every comparison false) for a negated operator."""
    if c.negated:
        for pv in pvs:
            if _compare_value(c, cv, pv, env) != 0:
                return False
        return True
    for pv in pvs:
        if _compare_value(c, cv, pv, env) == 1:
            return True
    return False


# =================================================================================================================
# Resources with policy variables (matched per request)
# =================================================================================================================

cdef int _arn_matches(list toks, str arn) except -2:
    """Whether an ARN pattern (as tokens) matches ``arn``: five fields one by one, the resource part as a whole; a
    shorter pattern must end with `*`, which covers the rest of the ARN."""
    fields = arn.split(":", 5)
    if len(fields) != 6:
        return 0
    cdef list pf = _tok_fields(toks)
    cdef Py_ssize_t k, nf = len(pf), head, start
    if nf == 6:
        for k in range(6):
            f = fields[k]
            if not _tok_match(toks, pf[k][0], pf[k][1], f, 0, len(f)):
                return 0
        return 1
    last = pf[nf - 1]
    if last[1] <= last[0] or toks[last[1] - 1] != TOK_ANY:
        return 0
    head = nf - 1
    for k in range(head):
        f = fields[k]
        if not _tok_match(toks, pf[k][0], pf[k][1], f, 0, len(f)):
            return 0
    rest = ":".join(fields[head:])
    return 1 if _tok_match(toks, last[0], last[1], rest, 0, len(rest)) else 0


cdef tuple _resource_portion(str value):
    """``(head, resource part)``: ``value`` cut after its fifth colon, not counting colons inside ``${...}``.

    Policy variables are resolved in the resource part only ("You can use a policy variable in the Resource element,
    but only in the resource portion of the ARN ... after the fifth colon"); the head is matched as written.
    """
    cdef Py_ssize_t i = 0, n = len(value), colons = 0, open_vars = 0
    while i < n:
        if value[i] == "$" and i + 1 < n and value[i + 1] == "{":
            open_vars += 1
            i += 2
            continue
        if value[i] == "}" and open_vars > 0:
            open_vars -= 1
        elif value[i] == ":" and open_vars == 0:
            colons += 1
            if colons == 5:
                return value[:i + 1], value[i + 1:]
        i += 1
    return value, ""


cdef class _DynResource:
    """A Resource or NotResource element with policy variables (in a 2012-10-17 policy)."""

    cdef bint negative
    cdef list values     # raw text
    cdef list heads      # tokens of the part before the fifth colon (variables stay literal text)
    cdef list templates  # the resource part, variables resolved per request

    def __cinit__(self, bint negative, tuple values, bint enabled):
        self.negative = negative
        self.values = list(values)
        self.heads = []
        self.templates = []
        for v in values:
            head, tail = _resource_portion(v) if "${" in v else (v, "")
            self.heads.append(_text_tokens(head))
            self.templates.append(_Template(tail, enabled))

    cdef int value_match(self, Py_ssize_t i, str resource, ctx) except -2:
        """1 match, 0 no match, -1 a variable without a value."""
        if self.values[i] == "*":
            return 1
        if resource == "*":
            return 0
        toks = (<_Template>self.templates[i]).tokens(ctx)
        if toks is None:
            return -1
        return _arn_matches(self.heads[i] + toks, resource)

    cdef bint check(self, str resource, ctx, set missing) except -1:
        cdef Py_ssize_t i
        cdef int r
        cdef bint hit = False, unresolved = False
        for i in range(len(self.values)):
            r = self.value_match(i, resource, ctx)
            if r == -1:
                unresolved = True
                if missing is not None:
                    for k in (<_Template>self.templates[i]).keys:
                        if type(ctx.get(k)) is not str:
                            missing.add(k)
            elif r == 1:
                hit = True
        if self.negative:
            return not (hit or unresolved)
        return hit


cdef class _Residual:
    """Everything about one statement the index could not decide."""

    cdef _DynResource dyn
    cdef list clauses       # residual clauses (with the index on)
    cdef list all_clauses   # every clause (with the index off)

    cdef bint check(self, _Env env, str resource, bint use_index) except -1:
        if self.dyn is not None and not self.dyn.check(resource, env.ctx, None):
            return False
        for c in (self.clauses if use_index else self.all_clauses):
            if not _clause_check(<_Clause>c, env):
                return False
        return True


# =================================================================================================================
# Static ARN patterns (compiled C matchers per field)
# =================================================================================================================

cdef class _ArnTable:
    """Static Resource patterns: `*`, or an ARN pattern cut into up to six fields, each a compiled C pattern."""

    cdef _GlobList globs
    cdef int *nfields   # 0 for `*` (matches everything), -1 for a short pattern that can match nothing
    cdef int *first     # index of the pattern's first field in globs
    cdef Py_ssize_t n

    def __cinit__(self, list patterns):
        cdef list flat = []
        cdef Py_ssize_t i
        self.n = len(patterns)
        self.nfields = <int *>malloc((self.n + 1) * sizeof(int))
        self.first = <int *>malloc((self.n + 1) * sizeof(int))
        if self.nfields == NULL or self.first == NULL:
            raise MemoryError()
        for i in range(self.n):
            p = patterns[i]
            self.first[i] = len(flat)
            if p == "*":
                self.nfields[i] = 0
                continue
            fields = p.split(":", 5)
            if len(fields) < 6 and not fields[len(fields) - 1].endswith("*"):
                self.nfields[i] = -1
                continue
            self.nfields[i] = len(fields)
            flat.extend(fields)
        self.globs = _GlobList(flat)

    def __dealloc__(self):
        free(self.nfields)
        free(self.first)

    cdef list matching(self, str resource):
        cdef list out = []
        cdef bytes b
        cdef const char *t
        cdef size_t offs[7]
        cdef size_t tlen, k
        cdef Py_ssize_t i, f, nf, g
        cdef int ncolon = 0
        cdef bint ok
        if resource == "*":
            for i in range(self.n):
                if self.nfields[i] == 0:
                    out.append(i)
            return out
        b = _utf8(resource)
        t = b
        tlen = len(b)
        offs[0] = 0
        for k in range(tlen):
            if ncolon < 5 and t[k] == b':':
                ncolon += 1
                offs[ncolon] = k + 1
        for i in range(self.n):
            nf = self.nfields[i]
            if nf == 0:
                out.append(i)
                continue
            if nf < 0 or ncolon < 5:
                continue
            offs[6] = tlen + 1
            g = self.first[i]
            ok = True
            for f in range(nf):
                if f == nf - 1:
                    # the last field of the pattern takes the rest of the ARN (all of it for a 6-field pattern)
                    ok = self.globs.exec(g + f, t + offs[f], tlen - offs[f])
                else:
                    ok = self.globs.exec(g + f, t + offs[f], offs[f + 1] - 1 - offs[f])
                if not ok:
                    break
            if ok:
                out.append(i)
        return out


# =================================================================================================================
# Bundles: what applies to one caller under one layout
# =================================================================================================================

cdef class _Bundle:
    """The statements of a layout that apply to a caller, and how the resource policy names it."""

    cdef readonly object mask, missing_mask, rp_direct, rp_role, rp_named
    cdef lxa_bundle_flags flags
    cdef readonly object caller, layout, errors
    cdef readonly dict labels      # resource-policy stmt id -> principal_match label
    cdef readonly dict slot_pos    # slot id -> position in evaluation order
    cdef readonly bint has_resource
    # The local view: the bundle's statements (sorted ids) and per-statement LF_* flags.
    cdef readonly object stmts_arr, lfl_arr
    cdef const uint32_t *stmts
    cdef const uint8_t *lfl
    cdef Py_ssize_t k
    cdef uint64_t serial

    @property
    def kind(self):
        return self.flags.kind

    @property
    def boundary_active(self):
        return bool(self.flags.boundary_active)

    @property
    def session_active(self):
        return bool(self.flags.session_active)

    @property
    def scps_active(self):
        return bool(self.flags.scps_active)

    @property
    def n_levels(self):
        return self.flags.n_levels


# =================================================================================================================
# Core
# =================================================================================================================


# =================================================================================================================
# Per-engine entries for request strings, and a small hash table over integer keys
# =================================================================================================================

cdef uint64_t _serial_counter = 0


cdef inline uint64_t _new_serial() noexcept:
    """A process-wide serial, never reused (taken with the GIL held)."""
    global _serial_counter
    _serial_counter += 1
    return _serial_counter


cdef class _Tab3:
    """Open addressing from a key of three uint64 to an int64 value (>= 0); used with the GIL held.

    # NOTE: keys are serials (never reused), so a table is never wrong about a key it holds; callers still check
    # an entry's own key before trusting a hit, which keeps them right across a concurrent clear.
    """

    cdef uint64_t *keys
    cdef int64_t *vals
    cdef Py_ssize_t cap, n

    def __cinit__(self, Py_ssize_t cap=1024):
        self.cap = 16
        while self.cap < cap * 2:
            self.cap <<= 1
        self._alloc()

    cdef int _alloc(self) except -1:
        self.keys = <uint64_t *>malloc(self.cap * 3 * sizeof(uint64_t))
        self.vals = <int64_t *>malloc(self.cap * sizeof(int64_t))
        if self.keys == NULL or self.vals == NULL:
            raise MemoryError()
        memset(self.vals, 0xff, self.cap * sizeof(int64_t))  # -1: empty
        self.n = 0
        return 0

    def __dealloc__(self):
        free(self.keys)
        free(self.vals)

    @staticmethod
    cdef inline uint64_t _hash(uint64_t a, uint64_t b, uint64_t c) noexcept nogil:
        cdef uint64_t h = a * <uint64_t>0x9E3779B97F4A7C15
        h ^= (b + <uint64_t>0x632BE59BD9B4E019) * <uint64_t>0xC2B2AE3D27D4EB4F
        h ^= (c + <uint64_t>0x165667B19E3779F9) * <uint64_t>0xFF51AFD7ED558CCD
        return h ^ (h >> 29)

    cdef inline int64_t get(self, uint64_t a, uint64_t b, uint64_t c) noexcept:
        cdef Py_ssize_t mask = self.cap - 1, i = <Py_ssize_t>(_Tab3._hash(a, b, c) & <uint64_t>mask)
        cdef uint64_t *k
        while self.vals[i] >= 0:
            k = &self.keys[i * 3]
            if k[0] == a and k[1] == b and k[2] == c:
                return self.vals[i]
            i = (i + 1) & mask
        return -1

    cdef int put(self, uint64_t a, uint64_t b, uint64_t c, int64_t v) except -1:
        cdef uint64_t *old_keys
        cdef int64_t *old_vals
        cdef Py_ssize_t old_cap, j
        if (self.n + 1) * 2 > self.cap:
            old_keys, old_vals, old_cap = self.keys, self.vals, self.cap
            self.cap <<= 1
            try:
                self._alloc()
            except MemoryError:
                self.keys, self.vals, self.cap = old_keys, old_vals, old_cap
                raise
            for j in range(old_cap):
                if old_vals[j] >= 0:
                    self._insert(old_keys[j * 3], old_keys[j * 3 + 1], old_keys[j * 3 + 2], old_vals[j])
            free(old_keys)
            free(old_vals)
        self._insert(a, b, c, v)
        return 0

    cdef inline void _insert(self, uint64_t a, uint64_t b, uint64_t c, int64_t v) noexcept:
        cdef Py_ssize_t mask = self.cap - 1, i = <Py_ssize_t>(_Tab3._hash(a, b, c) & <uint64_t>mask)
        cdef uint64_t *k
        while self.vals[i] >= 0:
            k = &self.keys[i * 3]
            if k[0] == a and k[1] == b and k[2] == c:
                self.vals[i] = v
                return
            i = (i + 1) & mask
        k = &self.keys[i * 3]
        k[0] = a
        k[1] = b
        k[2] = c
        self.vals[i] = v
        self.n += 1

    cdef void clear(self) noexcept:
        memset(self.vals, 0xff, self.cap * sizeof(int64_t))
        self.n = 0


cdef class _PEntry:
    """What a principal string resolves to in one engine: its layout parts, caller facts and tag context."""

    cdef str arn
    cdef object part        # (identity slots, boundary slot, session slot, scps) from the resolver
    cdef object account     # the caller's account (str) or None
    cdef tuple tags         # ("aws:PrincipalTag/k", v) entries
    cdef uint64_t tag_serial
    cdef _Bundle bundle0    # the bundle for resources without a resource policy (built on first need)
    cdef dict by_rslot      # resource-policy slot -> _Bundle


cdef class _REntry:
    """What a resource string resolves to in one engine: its index row, policy slot, tag context and owner."""

    cdef uint64_t serial
    cdef object row
    cdef object rslot       # resource-policy slot id or None
    cdef tuple tags         # ("aws:ResourceTag/k", v) entries
    cdef uint64_t tag_serial
    cdef object owner       # the ARN's account or None


cdef class _AEntry:
    """An action string's index row in one engine."""

    cdef uint64_t serial
    cdef object row


cdef class _EnvEntry:
    """The condition environment and tag row of one (context, principal tags, resource tags)."""

    cdef uint64_t ctx_serial, p_serial, r_serial
    cdef readonly object env, trow


cdef inline bint _same_account(_PEntry pe, _REntry rent):
    # A resource that names no account (`*`) is in the caller's own account.
    return pe.account is not None and (rent.owner is None or pe.account == rent.owner)


cdef uint64_t _dict_hash(dict d) except? 0:
    """A hash of a dict of str to str by content and order; 0 when some key or value is not an exact str."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *k
    cdef PyObject *v
    cdef uint64_t h = <uint64_t>0x84222325CBF29CE4
    cdef Py_hash_t hk, hv
    while PyDict_Next(d, &pos, &k, &v):
        if not (PyUnicode_CheckExact(<object>k) and PyUnicode_CheckExact(<object>v)):
            return 0
        hk = PyObject_Hash(<object>k)
        hv = PyObject_Hash(<object>v)
        h = (h ^ <uint64_t>hk) * <uint64_t>0x100000001B3
        h = (h ^ <uint64_t>hv) * <uint64_t>0x9E3779B97F4A7C15
        h ^= h >> 31
    return h | 1


cdef bint _items_equal(dict d, tuple items):
    """Whether ``d.items()`` equals ``items`` in content and order (keys and values exact str)."""
    if len(d) != len(items):
        return False
    cdef Py_ssize_t pos = 0, j = 0
    cdef PyObject *k
    cdef PyObject *v
    cdef tuple kv
    while PyDict_Next(d, &pos, &k, &v):
        kv = <tuple>items[j]
        j += 1
        if not ((<object>k is kv[0] or <str>(<object>k) == <str>kv[0])
                and (<object>v is kv[1] or <str>(<object>v) == <str>kv[1])):
            return False
    return True


cdef class Core:
    """The flattened, immutable index over a :class:`lexauthz.compile.plan.Plan`, and the per-request kernels."""

    cdef readonly object plan, state
    cdef readonly Py_ssize_t n_stmts, nw
    cdef readonly bint use_index
    cdef object _type_arr, _eff_arr, _lvl_arr
    cdef _GlobList act_globs
    cdef list act_pos, act_neg
    cdef object not_action_all
    cdef _ArnTable res_table
    cdef list res_pos, res_neg
    cdef object not_resource_all, dynamic_row, needs_row, all_row
    cdef list residuals
    cdef list tag_keys
    cdef dict tags_intern, action_cache, action_raw, resource_cache, bundle_cache, env_cache, ctx_cache, res_memo
    cdef dict p_entries, r_entries, a_entries, ctx_by_hash
    cdef _Tab3 env_tab
    cdef list env_list
    cdef tuple empty_ctx
    cdef Py_ssize_t cache_limit
    cdef object resolver, check_row
    cdef Py_ssize_t ctx_serial, tags_serial
    cdef readonly Py_ssize_t index_bytes
    cdef const uint8_t *p_type
    cdef const uint8_t *p_eff
    cdef const int16_t *p_lvl

    def __cinit__(self, plan, state):
        """Build the core from ``state`` (an :class:`~lexauthz.compile.state.IndexState` that passed ``check()``)
        over the statements of ``plan`` (anything with ``slots``, ``statements`` and ``n_stmts`` as
        :class:`~lexauthz.compile.plan.Plan` has them; statements are read only when a residual check or an
        explanation needs them)."""
        cdef Py_ssize_t n = state.n_stmts
        if plan.n_stmts != n:
            raise ValueError(f"the plan has {plan.n_stmts} statements, the index {n}")
        self.plan = plan
        self.state = state
        self.use_index = state.use_index
        self.n_stmts = n
        self.nw = (n >> 6) + 1  # INVARIANT(tail-zero): one spare word, so every row is non-empty
        # One spare entry each, so the pointers below are valid for an engine of no statements.
        self._type_arr = np.zeros(n + 1, dtype=np.uint8)
        self._eff_arr = np.zeros(n + 1, dtype=np.uint8)
        self._lvl_arr = np.full(n + 1, -1, dtype=np.int16)
        self._type_arr[:n] = state.stmt_type
        self._eff_arr[:n] = state.stmt_effect
        self._lvl_arr[:n] = state.stmt_level
        cdef uint8_t[::1] tmv_ = self._type_arr
        cdef uint8_t[::1] emv_ = self._eff_arr
        cdef int16_t[::1] lmv_ = self._lvl_arr
        self.p_type = &tmv_[0]
        self.p_eff = &emv_[0]
        self.p_lvl = &lmv_[0]
        # Residual checks are compiled on first use (_residual): a saved engine loads without reading statements.
        self.residuals = [None] * n
        self.all_row = self._row(np.arange(n, dtype=np.uint32))
        self.needs_row = self._row(state.needs)
        # Actions: lower-cased patterns, matched against the lower-cased action.
        self.act_globs = _GlobList(list(state.action_patterns))
        self.act_pos = _csr_rows(state.action_pos)
        self.act_neg = _csr_rows(state.action_neg)
        self.not_action_all = self._row(state.not_action_all)
        # Resources.
        self.res_table = _ArnTable(list(state.resource_patterns))
        self.res_pos = _csr_rows(state.resource_pos)
        self.res_neg = _csr_rows(state.resource_neg)
        self.not_resource_all = self._row(state.not_resource_all)
        self.dynamic_row = self._row(state.dynamic)
        # Tag index: (key, constrained row, {value: ids}, like globs, [ids per like pattern]).
        self.tag_keys = []
        constrained = _csr_rows(state.tag_constrained)
        eq_rows = _csr_rows(state.tag_eq)
        like_rows = _csr_rows(state.tag_like)
        eq = [{} for _ in state.tag_keys]
        likes = [([], []) for _ in state.tag_keys]
        for i, k in enumerate(state.tag_eq_key.tolist()):
            eq[k][state.tag_eq_values[i]] = eq_rows[i]
        for i, k in enumerate(state.tag_like_key.tolist()):
            likes[k][0].append(state.tag_like_patterns[i])
            likes[k][1].append(like_rows[i])
        for k, key in enumerate(state.tag_keys):
            self.tag_keys.append((key, self._row(constrained[k]), eq[k], _GlobList(likes[k][0]), likes[k][1]))
        self.action_cache = {}
        self.resource_cache = {}
        self.bundle_cache = {}
        self.env_cache = {}
        self.ctx_cache = {}
        self.p_entries = {}
        self.r_entries = {}
        self.a_entries = {}
        self.ctx_by_hash = {}
        self.env_tab = _Tab3(1024)
        self.env_list = []
        self.action_raw = {}
        self.res_memo = {}
        self.tags_intern = {}
        # NOTE: rows for strings met at run time are cached, within about 64 MB per cache (a bundle holds 5 rows).
        self.cache_limit = max(64, (64 << 20) // (self.nw * 8 * 5))
        self.empty_ctx = self.context_entry(None, 0)
        # NOTE: action and resource rows are built on first use, then cached: a load builds no row, and at 100,000
        # statements building one for every known resource up front was a third of the compile time.
        self.index_bytes = self._measure()

    cdef _Residual _residual(self, Py_ssize_t s):
        """The residual check of statement ``s`` (one that ``needs_row`` or a dynamic Resource names), compiled on
        first use; building it twice from two threads builds the same object twice, harmlessly."""
        r = self.residuals[s]
        if r is not None:
            return <_Residual>r
        info = self.plan.statements[s]
        st = info.statement
        cdef _Residual res = _Residual()
        if info.dynamic_resource:
            neg = st.resource is None
            res.dyn = _DynResource(neg, st.not_resource if neg else st.resource, info.variables_enabled)
        res.all_clauses = [_Clause(c, info.variables_enabled) for c in st.condition]
        res.clauses = [res.all_clauses[i] for i in range(len(st.condition)) if i not in info.indexed_clauses]
        self.residuals[s] = res
        return res

    cdef object _row(self, ids):
        row = _zeros(self.nw)
        cdef uint32_t[::1] a = np.fromiter(ids, dtype=np.uint32) if not isinstance(ids, np.ndarray) else ids
        if a.shape[0]:
            lxa_bits_set_many(_ptr(row), &a[0], a.shape[0])
        return row

    cdef Py_ssize_t _measure(self):
        total = 0
        for arr in (self._type_arr, self._eff_arr, self._lvl_arr, self.all_row, self.needs_row,
                    self.not_action_all, self.not_resource_all, self.dynamic_row):
            total += arr.nbytes
        for lst in (self.act_pos, self.act_neg, self.res_pos, self.res_neg):
            for arr in lst:
                total += arr.nbytes
        for key, row, eq, likes, like_ids in self.tag_keys:
            total += row.nbytes + sum(a.nbytes for a in eq.values()) + sum(a.nbytes for a in like_ids)
        total += sum(r.nbytes for r in self.action_cache.values())
        total += sum(r.nbytes for r in self.resource_cache.values())
        return total

    # -- rows ----------------------------------------------------------------------------------------------------

    cdef object _table_row(self, list matched, list pos, list neg, base_neg, extra):
        row = base_neg.copy()
        cdef uint64_t *w = _ptr(row)
        cdef uint32_t[::1] a
        cdef Py_ssize_t i
        for i in matched:
            a = neg[i]
            if a.shape[0]:
                lxa_bits_clear_many(w, &a[0], a.shape[0])
        for i in matched:
            a = pos[i]
            if a.shape[0]:
                lxa_bits_set_many(w, &a[0], a.shape[0])
        if extra is not None:
            lxa_bits_or_inplace(w, _ptr(extra), self.nw)
        return row

    cpdef object action_row(self, str action):
        """Statements whose Action/NotAction covers ``action`` (matched case-insensitively)."""
        if self.use_index:
            row = self.action_raw.get(action)
            if row is not None:
                return row
        low = action.lower()
        row = self.action_cache.get(low) if self.use_index else None
        if row is not None:
            if len(self.action_raw) > self.cache_limit:
                self.action_raw.clear()
            self.action_raw[action] = row
        else:
            row = self._table_row(self.act_globs.matching(_utf8(low)), self.act_pos, self.act_neg,
                                  self.not_action_all, None)
            if self.use_index:
                if len(self.action_cache) > self.cache_limit:
                    self.action_cache.clear()
                self.action_cache[low] = row
        return row

    cpdef object resource_row(self, str resource):
        """Statements whose static Resource/NotResource covers ``resource``, plus every statement whose Resource has
        policy variables (checked per request)."""
        row = self.resource_cache.get(resource) if self.use_index else None
        if row is None:
            row = self._table_row(self.res_table.matching(resource), self.res_pos, self.res_neg,
                                  self.not_resource_all, self.dynamic_row)
            if self.use_index:
                if len(self.resource_cache) > self.cache_limit:
                    self.resource_cache.clear()
                self.resource_cache[resource] = row
        return row

    def tag_row(self, ctx):
        """Statements not ruled out by an indexed tag condition, for context ``ctx``."""
        row = self.all_row.copy()
        if not self.use_index:
            return row
        cdef uint64_t *w = _ptr(row)
        cdef uint64_t *c
        cdef uint32_t[::1] a
        cdef bytes b
        cdef _GlobList likes
        cdef Py_ssize_t i
        for key, constrained, eq, likes_obj, like_ids in self.tag_keys:
            likes = likes_obj
            passed = _zeros(self.nw)
            c = _ptr(passed)
            v = ctx.get(key)
            if type(v) is str:
                ids = eq.get(v)
                if ids is not None:
                    a = ids
                    if a.shape[0]:
                        lxa_bits_set_many(c, &a[0], a.shape[0])
                if likes.n:
                    b = _utf8(v)
                    for i in likes.matching(b):
                        a = like_ids[i]
                        if a.shape[0]:
                            lxa_bits_set_many(c, &a[0], a.shape[0])
            # row &= ~(constrained & ~passed)
            excluded = constrained.copy()
            lxa_bits_andnot_inplace(_ptr(excluded), c, self.nw)
            lxa_bits_andnot_inplace(w, _ptr(excluded), self.nw)
        return row

    def bundle(self, str principal, layout):
        """The :class:`_Bundle` of ``principal`` under ``layout`` (cached)."""
        key = (principal, layout)
        b = self.bundle_cache.get(key)
        if b is None:
            b = self._make_bundle(principal, layout)
            if len(self.bundle_cache) > self.cache_limit:
                self.bundle_cache.clear()
            self.bundle_cache[key] = b
        return b

    cdef _Bundle _make_bundle(self, str principal, layout):
        cdef _Bundle b = _Bundle()
        b.serial = _new_serial()
        plan = self.plan
        c = caller_info(principal)
        kind = KIND_CODES[c.kind]
        b.caller = c
        b.layout = layout
        errors = []
        for sid in layout.slot_ids():
            errors.extend(plan.slot_errors(sid))
        b.errors = tuple(errors)
        b.flags.kind = kind
        b.flags.boundary_active = layout.permissions_boundary is not None and kind not in (K_ROOT, K_SERVICE)
        b.flags.session_active = layout.session is not None and kind in (K_ROLE, K_ASSUMED_ROLE, K_FEDERATED_USER)
        b.flags.scps_active = bool(layout.scps) and kind != K_SERVICE
        n_levels = len(layout.scps) if b.flags.scps_active else 0
        if n_levels > 64:
            raise ValueError("more than 64 SCP levels")
        b.flags.n_levels = n_levels
        b.has_resource = layout.resource is not None
        b.slot_pos = {}
        for pos, sid in enumerate(layout.slot_ids()):
            b.slot_pos.setdefault(sid, pos)
        mask_ids, missing_ids, direct, role, named = [], [], [], [], []
        b.labels = {}
        slot_ids = self._slot_range

        for sid in layout.identity:
            mask_ids.extend(slot_ids(sid))
            missing_ids.extend(slot_ids(sid))
        if layout.resource is not None:
            has_boundary = layout.permissions_boundary is not None
            for s in slot_ids(layout.resource):
                st = plan.statements[s].statement
                if st.principal is not None:
                    n = principal_naming(st.principal, c)
                elif st.not_principal is not None:
                    n = not_principal_naming(st.not_principal, c, st.effect, has_boundary)
                else:
                    n = None
                if n is None:
                    continue
                mask_ids.append(s)
                missing_ids.append(s)
                b.labels[s] = n[0]
                named.append(s)
                if n[1] in ("everyone", "principal", "service"):
                    direct.append(s)
                elif n[1] == "role":
                    role.append(s)
        if b.flags.boundary_active:
            mask_ids.extend(slot_ids(layout.permissions_boundary))
            missing_ids.extend(slot_ids(layout.permissions_boundary))
        if b.flags.session_active:
            mask_ids.extend(slot_ids(layout.session))
            missing_ids.extend(slot_ids(layout.session))
        if b.flags.scps_active:
            for lv, level in enumerate(layout.scps):
                for sid in level:
                    if plan.slots[sid].level != lv:
                        raise ValueError(f"SCP slot {sid} is at level {plan.slots[sid].level}, not {lv}")
                    mask_ids.extend(slot_ids(sid))
        b.mask = self._row(mask_ids)
        b.missing_mask = self._row(missing_ids)
        b.rp_direct = self._row(direct)
        b.rp_role = self._row(role)
        b.rp_named = self._row(named)
        # The local view (phase B's sparse kernel): the mask's statements, each with its LF_* flags.
        ids = bits_to_ids(b.mask)
        cdef Py_ssize_t j, k = len(ids)
        ids_arr = np.zeros(max(1, k), dtype=np.uint32)  # one spare slot, so the pointers below are never dangling
        fl_arr = np.zeros(max(1, k), dtype=np.uint8)
        cdef uint32_t[::1] imv = ids_arr
        cdef uint8_t[::1] fmv = fl_arr
        cdef const uint64_t *w_direct = _fptr(b.rp_direct)
        cdef const uint64_t *w_role = _fptr(b.rp_role)
        cdef const uint64_t *w_named = _fptr(b.rp_named)
        cdef const uint64_t *w_needs = _fptr(self.needs_row)
        cdef uint32_t sid32
        cdef uint8_t f
        for j in range(k):
            sid32 = ids[j]
            imv[j] = sid32
            f = 0
            if lxa_bits_test(w_direct, sid32):
                f |= LF_DIRECT
            if lxa_bits_test(w_role, sid32):
                f |= LF_ROLE
            if lxa_bits_test(w_named, sid32):
                f |= LF_NAMED
            if lxa_bits_test(w_needs, sid32):
                f |= LF_NEEDS
            fmv[j] = f
        b.stmts_arr = ids_arr
        b.lfl_arr = fl_arr
        b.stmts = &imv[0]
        b.lfl = &fmv[0]
        b.k = k
        return b

    def _slot_range(self, sid):
        slot = self.plan.slots[sid]
        return range(slot.first, slot.first + slot.count)

    # -- encoding (phase A) -------------------------------------------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    # -- shared per-engine caches of contexts and condition environments ---------------------------------------

    cpdef object context_of(self, raw, Py_ssize_t i=0):
        """``raw`` (a mapping, a Context or None) as a :class:`Context`; a dict of string values is converted once per
        engine and content (the same keys and values give an equal Context)."""
        return self.context_entry(raw, i)[0]

    cpdef tuple context_entry(self, raw, Py_ssize_t i=0):
        """``(Context, serial)`` of ``raw``: equal serials mean equal contexts (a serial is never reused)."""
        Context = _Context
        if raw is None:
            raw = {}
        cdef bint plain = type(raw) is dict
        cdef tuple key = None
        if not plain and isinstance(raw, Context):
            self.ctx_serial += 1
            return (raw, self.ctx_serial)
        if plain:
            for k, v in (<dict>raw).items():
                if type(v) is not str or type(k) is not str:
                    plain = False
                    break
        if plain:
            key = tuple((<dict>raw).items())
            hit = self.ctx_cache.get(key)
            if hit is not None:
                return <tuple>hit
        ctx = Context(raw, path=f"$[{i}].context")
        self.ctx_serial += 1
        entry = (ctx, self.ctx_serial)
        if plain:
            if len(self.ctx_cache) > 65536:
                self.ctx_cache.clear()
            self.ctx_cache[key] = entry
        return entry

    cpdef tuple env_of(self, ctx, tags):
        """``(_Env, tag row)`` for context ``ctx`` enriched with ``tags`` (absent keys only), once per engine."""
        ekey = (ctx, tags)
        hit = self.env_cache.get(ekey)
        if hit is None:
            Context = _Context
            full = ctx
            if tags:
                data = ctx.to_dict()
                for k, v in tags:
                    if k not in ctx:
                        data[k] = v
                full = Context(data)
            hit = (_Env(full), self.tag_row(full))
            if len(self.env_cache) > 65536:
                self.env_cache.clear()
            self.env_cache[ekey] = hit
        return <tuple>hit

    cdef uint64_t _tag_serial(self, tuple tags):
        """One serial per distinct tag context (equal tags, equal serials; a serial is never reused)."""
        hit = self.tags_intern.get(tags)
        if hit is None:
            if len(self.tags_intern) > 65536:
                self.tags_intern.clear()
            hit = _new_serial()
            self.tags_intern[tags] = hit
        return <uint64_t>hit

    cdef _PEntry _p_entry(self, resolver, str p):
        """The entry of principal ``p`` (a checked string), made once per engine."""
        cdef _PEntry pe = self.p_entries.get(p)
        if pe is not None:
            return pe
        part, tags = resolver.principal(p)
        pe = _PEntry()
        pe.arn = p
        pe.part = part
        pe.account = caller_info(p).account
        pe.tags = tuple(tags)
        pe.tag_serial = self._tag_serial(pe.tags)
        pe.by_rslot = {}
        if len(self.p_entries) > self.cache_limit:
            self.p_entries.clear()
        self.p_entries[p] = pe
        return pe

    cdef _REntry _r_entry(self, resolver, str r):
        """The entry of resource ``r`` (a checked string), made once per engine."""
        cdef _REntry rent = self.r_entries.get(r)
        if rent is not None:
            return rent
        rslot, tags = resolver.resource(r)
        rent = _REntry()
        rent.serial = _new_serial()
        rent.row = self.resource_row(r)
        rent.rslot = rslot
        rent.tags = tuple(tags)
        rent.tag_serial = self._tag_serial(rent.tags)
        rent.owner = (r.split(":", 5)[4] or None) if r.startswith("arn:") else None
        if len(self.r_entries) > self.cache_limit:
            self.r_entries.clear()
        self.r_entries[r] = rent
        return rent

    cdef _AEntry _a_entry(self, str a):
        """The entry of action ``a`` (a checked string), made once per engine."""
        cdef _AEntry ae = self.a_entries.get(a)
        if ae is not None:
            return ae
        ae = _AEntry()
        ae.serial = _new_serial()
        ae.row = self.action_row(a)
        if len(self.a_entries) > self.cache_limit:
            self.a_entries.clear()
        self.a_entries[a] = ae
        return ae

    cdef _Bundle _bundle_of(self, _PEntry pe, _REntry rent):
        """The bundle of a (principal, resource) request: the principal's layout with the resource's policy slot."""
        cdef _Bundle b
        identity, boundary, session, scps = pe.part
        if rent.rslot is None:
            b = pe.bundle0
            if b is None:
                b = self.bundle(pe.arn, Layout(identity, None, boundary, session, scps))
                pe.bundle0 = b
            return b
        b = pe.by_rslot.get(rent.rslot)
        if b is None:
            b = self.bundle(pe.arn, Layout(identity, rent.rslot, boundary, session, scps))
            pe.by_rslot[rent.rslot] = b
        return b

    cdef tuple _ctx_entry(self, raw, Py_ssize_t i):
        """``(Context, serial)`` of a request's raw context; a dict of str to str is found by content without
        building anything."""
        cdef uint64_t h
        if raw is None:
            return self.empty_ctx
        if type(raw) is _Context:
            # a Context of strings is found by its content as the dict it was made from
            d = raw.to_dict()
            if _dict_hash(d):
                raw = d
        if type(raw) is dict:
            h = _dict_hash(<dict>raw)
            if h:
                hit = self.ctx_by_hash.get(h)
                if hit is not None and _items_equal(<dict>raw, <tuple>(<tuple>hit)[0]):
                    return <tuple>(<tuple>hit)[1]
                entry = self.context_entry(raw, i)
                if len(self.ctx_by_hash) > 65536:
                    self.ctx_by_hash.clear()
                self.ctx_by_hash[h] = (tuple((<dict>raw).items()), entry)
                return entry
        return self.context_entry(raw, i)

    cdef _EnvEntry _env_entry(self, tuple centry, _PEntry pe, _REntry rent):
        """The environment of a context and the request's principal and resource tags, once per engine."""
        cdef uint64_t cs = <uint64_t>(<Py_ssize_t>centry[1])
        cdef int64_t k = self.env_tab.get(cs, pe.tag_serial, rent.tag_serial)
        cdef _EnvEntry e
        if 0 <= k < len(self.env_list):
            e = <_EnvEntry>self.env_list[k]
            if e.ctx_serial == cs and e.p_serial == pe.tag_serial and e.r_serial == rent.tag_serial:
                return e
        shared = self.env_of(centry[0], pe.tags + rent.tags)
        e = _EnvEntry()
        e.ctx_serial, e.p_serial, e.r_serial = cs, pe.tag_serial, rent.tag_serial
        e.env, e.trow = shared
        if len(self.env_list) > 65536:
            self.env_list = []
            self.env_tab.clear()
        self.env_tab.put(cs, pe.tag_serial, rent.tag_serial, len(self.env_list))
        self.env_list.append(e)
        return e

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def encode_ids(self, resolver, list principals, list actions, list resources, contexts, accounts,
                   Py_ssize_t start, Py_ssize_t stop):
        """Encode rows ``start:stop`` of checked columns into the arguments of :meth:`prepare`: per-row ids into
        lists of bundles, action rows, resource rows and condition environments (each looked up in the engine's
        caches, computed once per engine and distinct value)."""
        cdef Py_ssize_t n = stop - start, i, j
        cdef list bundles = [], a_rows = [], r_rows = [], t_rows = [], envs = [], rstrs = []
        cdef dict ctx_by_id = {}
        cdef dict pents = self.p_entries, rents = self.r_entries, aents = self.a_entries
        cdef _Tab3 bt = _Tab3(256), at = _Tab3(128), rt = _Tab3(1024), tt = _Tab3(1024)
        b_arr = np.empty(n, dtype=np.uint32)
        a_arr = np.empty(n, dtype=np.uint32)
        r_arr = np.empty(n, dtype=np.uint32)
        t_arr = np.empty(n, dtype=np.uint32)
        same_arr = np.empty(n, dtype=np.uint8)
        cdef uint32_t[::1] b_idx = b_arr, a_idx = a_arr, r_idx = r_arr, t_idx = t_arr
        cdef uint8_t[::1] same = same_arr
        cdef _Bundle bundle
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        cdef _EnvEntry ee
        cdef tuple centry
        cdef int64_t hit
        cdef uint64_t cs
        cdef bint has_ctx = contexts is not None, has_acct = accounts is not None
        cdef list keep = []
        RequestError = _RequestError
        empty = self._ctx_entry(None, 0)
        for j in range(n):
            i = start + j
            p = principals[i]
            a = actions[i]
            r = resources[i]
            centry = empty
            if has_ctx:
                raw = contexts[i]
                if raw is not None:
                    if type(raw) is dict:
                        centry = self._ctx_entry(raw, i)
                    else:
                        centry = ctx_by_id.get(id(raw))
                        if centry is None:
                            centry = self._ctx_entry(raw, i)
                            ctx_by_id[id(raw)] = centry
                            keep.append(raw)
            pe = pents.get(p)
            if pe is None:
                pe = self._p_entry(resolver, p)
            rent = rents.get(r)
            if rent is None:
                rent = self._r_entry(resolver, r)
            ae = aents.get(a)
            if ae is None:
                ae = self._a_entry(a)
            bundle = pe.bundle0 if (rent.rslot is None and pe.bundle0 is not None) else self._bundle_of(pe, rent)
            hit = bt.get(bundle.serial, 0, 0)
            if hit < 0:
                hit = len(bundles)
                bt.put(bundle.serial, 0, 0, hit)
                bundles.append(bundle)
            b_idx[j] = <uint32_t>hit
            hit = at.get(ae.serial, 0, 0)
            if hit < 0:
                hit = len(a_rows)
                at.put(ae.serial, 0, 0, hit)
                a_rows.append(ae.row)
            a_idx[j] = <uint32_t>hit
            hit = rt.get(rent.serial, 0, 0)
            if hit < 0:
                hit = len(r_rows)
                rt.put(rent.serial, 0, 0, hit)
                r_rows.append(rent.row)
                rstrs.append(r)
            r_idx[j] = <uint32_t>hit
            cs = <uint64_t>(<Py_ssize_t>centry[1])
            hit = tt.get(cs, pe.tag_serial, rent.tag_serial)
            if hit < 0:
                ee = self._env_entry(centry, pe, rent)
                hit = len(t_rows)
                tt.put(cs, pe.tag_serial, rent.tag_serial, hit)
                t_rows.append(ee.trow)
                envs.append(ee.env)
            t_idx[j] = <uint32_t>hit
            if has_acct:
                acct = accounts[i]
                if acct is not None and type(acct) is not str:
                    raise RequestError("E_BAD_RESOURCE_ACCOUNT", "`resource_account` must be a string",
                                       f"$[{i}].resource_account")
                if acct:
                    same[j] = 1 if (pe.account is not None and pe.account == acct) else 0
                    continue
            same[j] = _same_account(pe, rent)
        # keep every context whose id is a key above alive until here
        del ctx_by_id, keep
        return (bundles, b_arr, a_rows, a_arr, r_rows, r_arr, t_rows, t_arr, envs, rstrs, same_arr)

    # -- the sparse kernel: prepared batches and single requests ------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def prepare(self, list bundles, b_arr, list a_rows, a_arr, list r_rows, r_arr, list t_rows, t_arr, list envs,
                list rstrs, same_arr, out=None):
        """A :class:`Prepared` batch from :meth:`encode_ids` output: phase B finds the rows whose candidates need a
        residual check, and phase C stores their results, so :meth:`run_prepared` runs without the GIL from start to
        end.  With ``out`` (a uint8 array of the batch's length) the batch is also decided into it: phase B writes
        the rows it decides and the deferred rows are decided after phase C (a one-shot string batch)."""
        cdef Prepared P = Prepared()
        cdef const uint32_t[::1] bi = b_arr, ai = a_arr, ri = r_arr, ti = t_arr
        cdef const uint8_t[::1] sm = same_arr
        cdef Py_ssize_t n = bi.shape[0], i, nb = len(bundles), j, words, total = 0
        if len(envs) != len(t_rows) or len(rstrs) != len(r_rows):
            raise ValueError("table lengths differ")
        if not (ai.shape[0] == n and ri.shape[0] == n and ti.shape[0] == n and sm.shape[0] == n):
            raise ValueError("column lengths differ")
        for i in range(n):
            if (bi[i] >= nb or ai[i] >= len(a_rows) or ri[i] >= len(r_rows) or ti[i] >= len(t_rows)
                    or sm[i] > 1):
                raise ValueError("row index out of range")
        P.n = n
        P.core = self
        P.refs = [bundles, a_rows, r_rows, t_rows]
        P.b_idx, P.a_idx, P.r_idx, P.t_idx, P.same = b_arr, a_arr, r_arr, t_arr, same_arr
        P.sbs = <_SB *>malloc((nb + 1) * sizeof(_SB))
        if P.sbs == NULL:
            raise MemoryError()
        P.nb = nb
        for i in range(nb):
            _fill_sb(&P.sbs[i], <_Bundle>bundles[i])
        P.arows = _row_ptrs(a_rows, self.nw)
        P.rrows = _row_ptrs(r_rows, self.nw)
        P.trows = _row_ptrs(t_rows, self.nw)
        poff_arr = np.full(max(n, 1), -1, dtype=np.int64)
        cdef int64_t[::1] poff = poff_arr
        cdef const uint8_t *tmv = self.p_type
        cdef const uint8_t *emv = self.p_eff
        cdef const int16_t *lmv = self.p_lvl
        cdef _SB *sb
        cdef int d
        cdef uint8_t[::1] outv
        cdef uint8_t *o = NULL
        if out is not None:
            outv = out
            if outv.shape[0] != n:
                raise ValueError("column lengths differ")
            if n:
                o = &outv[0]
        # Phase B: which rows defer (a candidate that needs a residual check, and no applying Deny without one).
        with nogil:
            for i in range(n):
                sb = &P.sbs[bi[i]]
                d = c_decide_sparse(sb, P.arows[ai[i]], P.rrows[ri[i]], P.trows[ti[i]], NULL, tmv, emv, lmv, sm[i])
                if d == -1:
                    poff[i] = total
                    total += (sb.k >> 6) + 1
                elif o != NULL:
                    o[i] = <uint8_t>d
        pflat_arr = np.zeros(max(total, 1), dtype=_U64)
        cdef uint64_t[::1] pflat = pflat_arr
        cdef dict memo = self._memo()
        cdef _Bundle b
        cdef const uint64_t *A
        cdef const uint64_t *R
        cdef const uint64_t *T
        # Phase C: residual checks, once per candidate statement and distinct (context, resource).
        for i in range(n):
            if poff[i] < 0:
                continue
            b = bundles[bi[i]]
            A = P.arows[ai[i]]
            R = P.rrows[ri[i]]
            T = P.trows[ti[i]]
            self._walk(b, A, R, T, envs[ti[i]], rstrs[ri[i]], &pflat[poff[i]], None, memo)
        P.poff = poff_arr
        P.pflat = pflat_arr
        if o != NULL:
            # Phase D for the deferred rows only.
            with nogil:
                for i in range(n):
                    if poff[i] >= 0:
                        d = c_decide_sparse(&P.sbs[bi[i]], P.arows[ai[i]], P.rrows[ri[i]], P.trows[ti[i]],
                                            &pflat[poff[i]], tmv, emv, lmv, sm[i])
                        # -1 cannot happen (phase C stored every deferred row's results); never an Allow on it
                        o[i] = <uint8_t>d if d >= 0 else DEF_ERROR
        return P

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run_prepared(self, Prepared P, uint8_t[::1] out):
        """Decide a :class:`Prepared` batch into ``out``, with the GIL released for the whole loop."""
        if P.core is not self:
            raise ValueError("the batch was encoded by another engine")
        cdef Py_ssize_t n = P.n, i
        if out.shape[0] != n:
            raise ValueError("column lengths differ")
        if n == 0:
            return
        cdef const uint32_t[::1] bi = P.b_idx, ai = P.a_idx, ri = P.r_idx, ti = P.t_idx
        cdef const uint8_t[::1] sm = P.same
        cdef const int64_t[::1] poff = P.poff
        cdef const uint64_t[::1] pflat = P.pflat
        cdef const uint8_t *tmv = self.p_type
        cdef const uint8_t *emv = self.p_eff
        cdef const int16_t *lmv = self.p_lvl
        cdef int d
        with nogil:
            for i in range(n):
                d = c_decide_sparse(&P.sbs[bi[i]], P.arows[ai[i]], P.rrows[ri[i]], P.trows[ti[i]],
                                    &pflat[poff[i]] if poff[i] >= 0 else NULL, tmv, emv, lmv, sm[i])
                # -1 cannot happen (prepare stored every deferred row's results); never an Allow on it
                out[i] = <uint8_t>d if d >= 0 else DEF_ERROR

    def bind(self, resolver, check):
        """Fix the resolver and the row check :meth:`is_allowed` uses (once, before the engine is shared)."""
        if self.resolver is not None:
            raise ValueError("the core is already bound")
        self.resolver = resolver
        self.check_row = check

    def is_allowed(self, principal_arn, action, resource_arn="*", context=None):
        """Whether the request is allowed (see :meth:`lexauthz.engine.Engine.is_allowed`)."""
        if self.resolver is None:
            raise ValueError("the core is not bound to a resolver")
        return self._decide(self.resolver, principal_arn, action, resource_arn, context, self.check_row) == DEF_ALLOW

    def explain_one(self, p, a, r, raw, acct):
        """``(decision, bundle, matched statement ids, action row, resource row, env, same account)`` of one request
        (the sparse kernel, for :meth:`lexauthz.engine.Engine.evaluate`); the strings are checked as
        :meth:`is_allowed` checks them."""
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        cdef _EnvEntry ee
        if self.resolver is None:
            raise ValueError("the core is not bound to a resolver")
        pe, rent, ae, r = self._resolve(self.resolver, p, a, r, self.check_row)
        cdef _Bundle b = self._bundle_of(pe, rent)
        if b.errors:
            return (DEF_ERROR, b, [], None, None, None, 0)
        cdef int same
        if acct:
            same = 1 if (pe.account is not None and pe.account == acct) else 0
        else:
            same = _same_account(pe, rent)
        ee = self._env_entry(self._ctx_entry(raw, 0), pe, rent)
        cdef const uint64_t *A = _fptr(ae.row)
        cdef const uint64_t *R = _fptr(rent.row)
        cdef const uint64_t *T = _fptr(ee.trow)
        passed_arr = np.zeros((b.k >> 6) + 1, dtype=_U64)
        cdef list matched = []
        self._walk(b, A, R, T, ee.env, r, _fptr(passed_arr), matched, self._memo())
        cdef _SB sb
        _fill_sb(&sb, b)
        cdef int d = c_decide_sparse(&sb, A, R, T, _fptr(passed_arr), self.p_type, self.p_eff, self.p_lvl, same)
        return (d if d >= 0 else DEF_ERROR, b, matched, ae.row, rent.row, ee.env, same)

    cdef tuple _resolve(self, resolver, p, a, r, check):
        """``(principal entry, resource entry, action entry, resource)`` of one request; ``check(p, a, r)`` runs
        unless every string already has an entry (which only a checked string gets)."""
        if type(p) is not str or type(a) is not str or type(r) is not str:
            check(p, a, r)
            p, a, r = str(p), str(a), str(r)
        pe = self.p_entries.get(p)
        rent = self.r_entries.get(r)
        ae = self.a_entries.get(a)
        if pe is None or rent is None or ae is None:
            # INVARIANT(checked): an entry exists only for a string that passed its check
            check(p, a, r)
            pe = self._p_entry(resolver, p)
            rent = self._r_entry(resolver, r)
            ae = self._a_entry(a)
        return (pe, rent, ae, r)

    cdef bint _passes(self, uint32_t s, env, str r, dict memo) except -1:
        """The residual check of statement ``s`` for a condition environment and resource, memoised in ``memo``
        (keyed by the environment, which the key keeps alive, and by the resource only when the statement's Resource
        has policy variables)."""
        cdef _Residual res = self._residual(s)
        mk = (env, r if res.dyn is not None else None, s)
        ok = memo.get(mk)
        if ok is None:
            ok = res.check(<_Env>env, r, self.use_index)
            if len(memo) > 1 << 20:
                memo.clear()
            memo[mk] = ok
        return ok

    cdef dict _memo(self):
        """Where residual results are memoised: per engine, or per call for the brute-force twin."""
        return self.res_memo if self.use_index else {}

    cdef int _walk(self, _Bundle b, const uint64_t *A, const uint64_t *R, const uint64_t *T, env, str r,
                   uint64_t *passed, list matched, dict memo) except -1:
        """Phase C for one request: set the ``passed`` bit (by local position) of each candidate of ``b`` whose
        residual check passes; with ``matched``, also append every candidate that matches (its check, if any,
        passing)."""
        cdef Py_ssize_t j
        cdef uint32_t s
        for j in range(b.k):
            if matched is None and not (b.lfl[j] & LF_NEEDS):
                continue
            s = b.stmts[j]
            if not (lxa_bits_test(A, s) and lxa_bits_test(R, s) and lxa_bits_test(T, s)):
                continue
            if b.lfl[j] & LF_NEEDS:
                if not self._passes(s, env, r, memo):
                    continue
                lxa_bits_set(passed, j)
            if matched is not None:
                matched.append(s)
        return 0

    def decide_one(self, resolver, p, a, r, raw, check):
        """The decision code of one request (strings to the sparse kernel; no arrays, no Response).

        ``check(p, a, r)`` raises for a malformed request; it runs unless the strings were checked before.
        """
        return self._decide(resolver, p, a, r, raw, check)

    cdef int _decide(self, resolver, p, a, r, raw, check) except -1:
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        cdef _EnvEntry ee
        pe, rent, ae, r = self._resolve(resolver, p, a, r, check)
        cdef _Bundle b = pe.bundle0 if (rent.rslot is None and pe.bundle0 is not None) else self._bundle_of(pe, rent)
        if b.errors:
            return DEF_ERROR
        ee = self._env_entry(self._ctx_entry(raw, 0), pe, rent)
        cdef int same = _same_account(pe, rent)
        cdef _SB sb
        _fill_sb(&sb, b)
        cdef const uint64_t *A = _fptr(ae.row)
        cdef const uint64_t *R = _fptr(rent.row)
        cdef const uint64_t *T = _fptr(ee.trow)
        cdef int d = c_decide_sparse(&sb, A, R, T, NULL, self.p_type, self.p_eff, self.p_lvl, same)
        if d >= 0:
            return d
        # Deferred: a candidate needs a residual check, and no Deny decided without one.
        cdef uint64_t local[8]
        cdef Py_ssize_t words = (b.k >> 6) + 1
        cdef uint64_t *passed = &local[0]
        if words > 8:
            passed = <uint64_t *>malloc(words * sizeof(uint64_t))
        if passed == NULL:
            raise MemoryError()
        memset(passed, 0, words * sizeof(uint64_t))
        try:
            self._walk(b, A, R, T, ee.env, r, passed, None, self._memo())
            d = c_decide_sparse(&sb, A, R, T, passed, self.p_type, self.p_eff, self.p_lvl, same)
        finally:
            if passed != &local[0]:
                free(passed)
        return d if d >= 0 else DEF_ERROR

    # -- explanations (single requests) ----------------------------------------------------------------------------

    def missing_keys(self, _Bundle b, action_row, resource_row, str resource, _Env env):
        """Context keys that statements whose action and resource matched referenced and the request lacks.

        Collected from identity, named resource-policy, boundary and session statements (not SCPs): each clause's
        key when absent, the keys of policy variables in String*/Arn*/Bool values when absent, and the keys of
        variables in a Resource/NotResource value that has no value.
        """
        cdef set missing = set()
        cdef _Template tp
        cdef uint64_t *m
        row = b.missing_mask.copy()
        m = _ptr(row)
        lxa_bits_and_inplace(m, _ptr(action_row), self.nw)
        # For a statement without policy variables in its Resource, the resource row bit is its static match.
        static_row = resource_row
        cdef size_t s = lxa_bits_next(m, self.nw, 0)
        ctx = env.ctx
        while s != SIZE_MAX:
            info = self.plan.statements[s]
            if info.dynamic_resource:
                ok = self._residual(s).dyn.check(resource, ctx, missing)
            else:
                ok = lxa_bits_test(_ptr(static_row), s)
            if ok:
                for clause in info.statement.condition:
                    if clause.key not in ctx:
                        missing.add(clause.key)
                    if info.variables_enabled and clause.base in _VARIABLE_BASES:
                        for v in clause.values:
                            tp = _Template(v, True)
                            for k in tp.keys:
                                if k not in ctx:
                                    missing.add(k)
            s = lxa_bits_next(m, self.nw, s + 1)
        return missing

    def stmt_type(self, Py_ssize_t s):
        return self._type_arr[s]


_VARIABLE_BASES = frozenset((
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool"))


cdef class CoreMethod:
    """A descriptor: ``engine.<name>`` is ``engine._core.<name>``, the compiled method itself, so a call from Python
    goes straight to C (used for :meth:`lexauthz.engine.Engine.is_allowed`)."""

    cdef readonly str name
    cdef readonly object unbound  # what the class attribute gives: a plain function carrying the docs

    def __init__(self, str name, unbound):
        self.name = name
        self.unbound = unbound

    def __get__(self, obj, objtype):
        if obj is None:
            return self.unbound
        return getattr(obj._core, self.name)


def make_env(ctx):
    """The per-request condition environment for context ``ctx``."""
    return _Env(ctx)


def bits_to_ids(row):
    """The set bits of a uint64 row as a list of ints."""
    cdef uint64_t[::1] mv = row
    cdef size_t nw = mv.shape[0]
    cdef list out = []
    if nw == 0:
        return out
    cdef size_t s = lxa_bits_next(&mv[0], nw, 0)
    while s != SIZE_MAX:
        out.append(s)
        s = lxa_bits_next(&mv[0], nw, s + 1)
    return out
