# cython: language_level=3, binding=True, embedsignature=True
"""Matching: IAM wildcards, policy-variable templates, the static ARN table, and how a Principal names a caller.

Its one job is to say whether policy text matches request text.  Mirrors :mod:`lexauthz.reference.matching`,
``wildcard``, ``variables`` and ``principals`` (written independently; the differential tests compare them).
Static patterns are compiled C matchers (csrc/lxa_glob.c, semantics in csrc/lxa_glob.h); patterns built per
request (policy variables resolved) are token lists matched by `_tok_match`.  Python-facing documentation of the
public functions is in _match.pyi.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_GET_LENGTH, PyUnicode_READ_CHAR
from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from lexauthz cimport _csrc



cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)


# =================================================================================================================
# Wildcards: compiled C patterns for static text, a token matcher for patterns built per request
# =================================================================================================================

cdef list _prefix_candidates(tuple index, object text, list ids):
    """Append to ``ids`` the ids of every prefix ``index`` holds that ``text`` starts with; ``index`` is
    ``(prefix lengths ascending, {length: {prefix: [ids]}})``, looked up once per distinct length."""
    cdef Py_ssize_t n = len(text)
    lengths, by_len = index
    for L in lengths:
        if L > n:
            break
        found = (<dict>by_len[L]).get(text[:L])
        if found is not None:
            ids.extend(found)
    return ids


cdef class _GlobList:
    """Compiled lxa_glob patterns (UTF-8, case-sensitive: case-insensitive callers lower both sides first).

    :meth:`matching` tries a text only against the patterns whose literal prefix (the bytes before the first
    wildcard) the text starts with, found once per distinct prefix length, so a text never seen before costs its
    length times the distinct prefix lengths plus its candidates, not the pattern count.
    """

    def __cinit__(self, list patterns):
        cdef bytes b
        cdef Py_ssize_t i
        self.n = len(patterns)
        self.pats = []
        self.index = None
        self.globs = <_csrc.lxa_glob **>malloc((self.n + 1) * sizeof(_csrc.lxa_glob *))
        if self.globs == NULL:
            raise MemoryError()
        memset(self.globs, 0, (self.n + 1) * sizeof(_csrc.lxa_glob *))
        for i in range(self.n):
            b = _utf8(patterns[i])
            self.pats.append(b)
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

    cdef object _index(self):
        cdef dict by_len = {}
        cdef Py_ssize_t i, k
        cdef bytes p
        for i in range(self.n):
            p = self.pats[i]
            k = 0
            while k < len(p) and p[k] != 42 and p[k] != 63:  # `*`, `?`
                k += 1
            by_len.setdefault(k, {}).setdefault(p[:k], []).append(i)
        self.index = (tuple(sorted(by_len)), by_len)
        return self.index

    cdef list matching(self, bytes text):
        """Indices (ascending) of the patterns that match all of ``text``."""
        cdef const char *t = text
        cdef size_t tlen = len(text)
        cdef Py_ssize_t c, nc
        cdef list out = []
        cdef list ids = []
        cdef int *cand
        cdef unsigned char *hit
        _prefix_candidates(self.index if self.index is not None else self._index(), text, ids)
        nc = len(ids)
        if nc == 0:
            return out
        cand = <int *>malloc(nc * sizeof(int))
        hit = <unsigned char *>malloc(nc)
        if cand == NULL or hit == NULL:
            free(cand)
            free(hit)
            raise MemoryError()
        try:
            for c in range(nc):
                cand[c] = ids[c]
            with nogil:
                for c in range(nc):
                    hit[c] = _csrc.lxa_glob_exec(self.globs[cand[c]], t, tlen) == 1
            for c in range(nc):
                if hit[c]:
                    out.append(cand[c])
        finally:
            free(cand)
            free(hit)
        out.sort()
        return out


cdef inline object _ascii_or_utf8(object s, object name):
    """The UTF-8 form of `s` as an object that owns it: `s` itself when it is ASCII, else new bytes."""
    if not isinstance(s, str):
        raise TypeError(f"`{name}` must be a str, not {type(s).__name__}")
    if PyUnicode_IS_ASCII(s):
        # NOTE: an ASCII str stores exactly its UTF-8 bytes; using them directly saves an allocation per call.
        return s
    return (<str>s).encode("utf-8", "surrogatepass")


cdef inline const char *_bytes_of(object owner, size_t *n):
    """Pointer and length of the bytes held by an object returned from _ascii_or_utf8 (ASCII str or bytes)."""
    if isinstance(owner, bytes):
        n[0] = <size_t>PyBytes_GET_SIZE(owner)
        return PyBytes_AS_STRING(owner)
    n[0] = <size_t>PyUnicode_GET_LENGTH(owner)
    return <const char *>PyUnicode_1BYTE_DATA(owner)


def glob_match(pattern, text, bint ignore_case=False):
    """Whether `text` matches the IAM wildcard `pattern` (`*` any run, `?` one character; see _match.pyi)."""
    cdef size_t plen, tlen
    p = _ascii_or_utf8(pattern, "pattern")
    t = _ascii_or_utf8(text, "text")
    cdef const char *pp = _bytes_of(p, &plen)
    cdef const char *tt = _bytes_of(t, &tlen)
    return _csrc.lxa_glob_match(pp, plen, tt, tlen, ignore_case) == 1


def glob_match_many(pattern, texts, *, bint ignore_case=False, out=None):
    """Match one pattern against many strings; a bool array, `out` if given (see _match.pyi)."""
    import numpy as np

    cdef size_t plen, tlen
    cdef const char *tt
    cdef Py_ssize_t i, n
    cdef unsigned char[::1] flags
    cdef _csrc.lxa_glob *g

    p = _ascii_or_utf8(pattern, "pattern")
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
            t = _ascii_or_utf8(seq[i], f"texts[{i}]")
            tt = _bytes_of(t, &tlen)
            flags[i] = <unsigned char>_csrc.lxa_glob_exec(g, tt, tlen)
    finally:
        _csrc.lxa_glob_free(g)
    return out


def glob_match_bytes(bytes pattern not None, bytes text not None, bint ignore_case=False, bint compiled=False):
    """Match raw bytes, valid UTF-8 or not, with the one-shot (default) or the compiled C entry point.

    For tests: the other functions only take str.
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


def token_match(str pattern, str text, *, bint linear=False):
    """Whether `text` matches `pattern` with the per-request token matcher (`*`, `?`; what StringLike uses).

    ``linear=True`` always takes the C matcher (tests compare the two paths)."""
    cdef list toks = _text_tokens(pattern)
    if linear:
        return _tok_match_c(toks, 0, len(toks), text, 0, len(text))
    return _tok_match(toks, 0, len(toks), text, 0, len(text))


#: Below this many (tokens x characters), the greedy matcher with one backtrack point is cheaper than setting up
#: the C matcher; above it the C matcher runs, O(tokens + characters) for `?`-runs and literals, GIL released.
cdef enum:
    _GREEDY_MAX = 4096


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint _tok_match(list tokens, Py_ssize_t t0, Py_ssize_t t1, str text, Py_ssize_t x0, Py_ssize_t x1) except -1:
    """Whether text[x0:x1] matches tokens[t0:t1]: `*` any run, `?` one code point, everything else itself.

    Small inputs: greedy with one backtrack point (the last `*`), at most _GREEDY_MAX steps.  Larger ones: the C
    matcher (csrc/lxa_glob.h, lxa_tok_match), linear for every pattern whose middle segments hold at most one
    literal piece, bit-parallel otherwise, with the GIL released.
    """
    cdef Py_ssize_t m = t1 - t0, n = x1 - x0, i = 0, j = 0, star = -1, mark = 0
    cdef Py_ssize_t k
    cdef long tk
    cdef Py_UCS4 ch
    if m == 0:
        return n == 0
    if m > _GREEDY_MAX or m * n > _GREEDY_MAX:
        return _tok_match_c(tokens, t0, t1, text, x0, x1)
    cdef long pat[_GREEDY_MAX]
    for k in range(m):
        pat[k] = tokens[t0 + k]
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
    return j == m


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint _tok_match_c(list tokens, Py_ssize_t t0, Py_ssize_t t1, str text, Py_ssize_t x0, Py_ssize_t x1) except -1:
    cdef Py_ssize_t m = t1 - t0, n = x1 - x0, k
    cdef int r
    cdef int32_t *pat = <int32_t *>malloc((m if m > 0 else 1) * sizeof(int32_t))
    cdef uint32_t *txt = <uint32_t *>malloc((n if n > 0 else 1) * sizeof(uint32_t))
    if pat == NULL or txt == NULL:
        free(pat)
        free(txt)
        raise MemoryError()
    try:
        for k in range(m):
            pat[k] = <int32_t>(<long>tokens[t0 + k])
        for k in range(n):
            txt[k] = <uint32_t>PyUnicode_READ_CHAR(text, x0 + k)
        with nogil:
            r = _csrc.lxa_tok_match(pat, <size_t>m, txt, <size_t>n)
        if r < 0:
            raise MemoryError()
        return r == 1
    finally:
        free(pat)
        free(txt)


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


cdef object _var_value(ctx, str key, object default):
    v = ctx.get(key) if ctx is not None else None
    if type(v) is str:
        return v
    return default

# =================================================================================================================
# Static ARN patterns (compiled C matchers per field)
# =================================================================================================================

cdef inline bint _is_literal(str field):
    return "*" not in field and "?" not in field


cdef inline str _literal_prefix(str field):
    cdef Py_ssize_t k = field.find("*"), q = field.find("?")
    if k < 0 or 0 <= q < k:
        k = q
    return field if k < 0 else field[:k]


cdef class _ArnTable:
    """Static Resource patterns: `*`, or an ARN pattern cut into up to six fields, each a compiled C pattern.

    Indexed so that an ARN is tried only against the patterns it can match: by the account field (when a pattern
    writes it literally) and by the literal prefix of the resource field (the text before its first wildcard), looked
    up once per distinct prefix length.  A new ARN costs O(its length x the distinct prefix lengths + the patterns
    whose account and prefix it shares), not O(all patterns); the candidates are then matched without the GIL.
    """

    def __cinit__(self, list patterns):
        cdef list flat = []
        cdef Py_ssize_t i
        self.n = len(patterns)
        self.nfields = <int *>malloc((self.n + 1) * sizeof(int))
        self.first = <int *>malloc((self.n + 1) * sizeof(int))
        if self.nfields == NULL or self.first == NULL:
            raise MemoryError()
        self.everywhere = []
        cdef dict grouped = {}
        for i in range(self.n):
            p = patterns[i]
            self.first[i] = len(flat)
            if p == "*":
                self.nfields[i] = 0
                self.everywhere.append(i)
                continue
            fields = p.split(":", 5)
            if len(fields) < 6 and not fields[len(fields) - 1].endswith("*"):
                self.nfields[i] = -1
                continue
            self.nfields[i] = len(fields)
            flat.extend(fields)
            if len(fields) == 6:
                account = fields[4] if _is_literal(fields[4]) else None
                prefix = _literal_prefix(fields[5])
            else:  # the last field takes the rest of the ARN: nothing after it can be indexed
                account, prefix = None, ""
            grouped.setdefault(account, {}).setdefault(len(prefix), {}).setdefault(prefix, []).append(i)
        self.buckets = {acct: (tuple(sorted(by_len)), by_len) for acct, by_len in grouped.items()}
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
        cdef Py_ssize_t i, f, nf, g, c, nc
        cdef int ncolon = 0
        cdef bint ok
        cdef int *cand
        cdef unsigned char *hit
        if resource == "*":
            return list(self.everywhere)
        b = _utf8(resource)
        t = b
        tlen = len(b)
        offs[0] = 0
        for k in range(tlen):
            if ncolon < 5 and t[k] == b':':
                ncolon += 1
                offs[ncolon] = k + 1
        if ncolon < 5:
            return list(self.everywhere)
        offs[6] = tlen + 1
        # the candidates: patterns whose literal account and resource-field prefix this ARN has
        cdef list ids = []
        fields = resource.split(":", 5)
        res_field = fields[5]
        for acct in (fields[4], None):
            bucket = self.buckets.get(acct)
            if bucket is not None:
                _prefix_candidates(bucket, res_field, ids)
        nc = len(ids)
        if nc:
            cand = <int *>malloc(nc * sizeof(int))
            hit = <unsigned char *>malloc(nc)
            if cand == NULL or hit == NULL:
                free(cand)
                free(hit)
                raise MemoryError()
            try:
                for c in range(nc):
                    cand[c] = ids[c]
                with nogil:
                    for c in range(nc):
                        i = cand[c]
                        nf = self.nfields[i]
                        g = self.first[i]
                        ok = True
                        for f in range(nf):
                            if f == nf - 1:
                                # the last field of the pattern takes the rest of the ARN (all of it for 6 fields)
                                ok = self.globs.exec(g + f, t + offs[f], tlen - offs[f])
                            else:
                                ok = self.globs.exec(g + f, t + offs[f], offs[f + 1] - 1 - offs[f])
                            if not ok:
                                break
                        hit[c] = ok
                for c in range(nc):
                    if hit[c]:
                        out.append(cand[c])
            finally:
                free(cand)
                free(hit)
        out.extend(self.everywhere)
        out.sort()
        return out


# =================================================================================================================
# Principals: the caller, and whether a resource-based statement's Principal / NotPrincipal names it
# =================================================================================================================
#
# It runs once per distinct caller and resource policy, never per request.  Rules, from the IAM User Guide pages
# "AWS JSON policy elements: Principal" and "NotPrincipal":
#
# - ``"*"`` and ``{"AWS": "*"}`` name everyone; ``{"Service": "*"}`` too.
# - An exact ARN names that principal; a role ARN names the role's sessions and a caller given as the role (by
#   partition, account and role name); an account id or ``arn:PARTITION:iam::ACCT:root`` names every principal of
#   the account.
# - ``Federated`` and ``CanonicalUser`` values never name an IAM caller.
# - ``NotPrincipal`` with ``Deny`` applies unless every identity AWS may validate for the caller is named, and always
#   applies to a caller with a permissions boundary; with ``Allow`` it applies unless any of them is named.


# Caller kinds.
USER, ROLE, ASSUMED_ROLE, FEDERATED_USER, ROOT, SERVICE, OTHER = (
    "user", "role", "assumed-role", "federated-user", "root", "service", "other")


# What a Principal element may name, and the strength used to keep the strongest naming.
_RANK = {"everyone": 4, "principal": 4, "service": 4, "role": 3, "account": 1}


@cython.final
@cython.no_gc
cdef class CallerInfo:
    """A caller broken down: ``kind`` (one of the kind names above), partition, account, role name.  Immutable;
    equal and hashed by its fields.  (An extension type: a request of a principal not seen before makes one.)"""

    cdef readonly object arn, kind, partition, account, role_name

    def __init__(self, arn, kind, partition=None, account=None, role_name=None):
        self.arn = arn
        self.kind = kind
        self.partition = partition
        self.account = account
        self.role_name = role_name

    cdef tuple _fields(self):
        return (self.arn, self.kind, self.partition, self.account, self.role_name)

    def __eq__(self, other):
        if type(other) is not CallerInfo:
            return NotImplemented
        return self._fields() == (<CallerInfo>other)._fields()

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return (f"CallerInfo(arn={self.arn!r}, kind={self.kind!r}, partition={self.partition!r}, "
                f"account={self.account!r}, role_name={self.role_name!r})")


def caller_info(principal: str) -> CallerInfo:
    """Classify the request's principal: ``iam`` users, roles and root; ``sts`` sessions; else a service."""
    if principal[:4] != "arn:":
        return CallerInfo(principal, SERVICE)
    parts = principal.split(":", 5)
    if len(parts) != 6:
        return CallerInfo(principal, OTHER)
    partition, service, account, rest = parts[1], parts[2], parts[4] or None, parts[5]
    if service == "iam":
        if rest == "root":
            return CallerInfo(principal, ROOT, partition, account)
        if rest[:5] == "user/":
            return CallerInfo(principal, USER, partition, account)
        if rest[:5] == "role/":
            return CallerInfo(principal, ROLE, partition, account, rest[rest.rindex("/") + 1:])
    elif service == "sts":
        if rest[:13] == "assumed-role/":
            pieces = rest.split("/")
            return CallerInfo(principal, ASSUMED_ROLE, partition, account, pieces[1] if len(pieces) > 2 else None)
        if rest[:15] == "federated-user/":
            return CallerInfo(principal, FEDERATED_USER, partition, account)
    return CallerInfo(principal, OTHER, partition, account)


def _is_account_id(value: str) -> bool:
    return len(value) == 12 and all("0" <= ch <= "9" for ch in value)


def _naming(kind: str, value: str, c: CallerInfo):
    """``(label, named)`` for one Principal value, or ``None`` when it does not name the caller."""
    if kind == "Service":
        if value == "*":
            return ("Match", "everyone")
        if c.kind == SERVICE and value == c.arn:
            return ("Match", "service")
        return None
    if kind != "AWS":
        return None
    if value == "*":
        return ("Match", "everyone")
    parts = value.split(":", 5)
    names_role = (c.kind in (ROLE, ASSUMED_ROLE) and c.role_name is not None and len(parts) == 6
                  and parts[0] == "arn" and parts[2] == "iam" and parts[5][:5] == "role/"
                  and parts[1] == c.partition and parts[4] == c.account
                  and parts[5][parts[5].rindex("/") + 1:] == c.role_name)
    if c.kind == ROLE and names_role:
        return ("Match", "role")  # a role caller is a session of that role, named as the role
    if c.kind != SERVICE and value == c.arn:
        return ("Match", "principal")
    if names_role:
        return ("SessionRoleMatch", "role")
    is_iam_arn = len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam"
    if c.account is not None:
        if _is_account_id(value):
            if value == c.account:
                return ("AccountLevelMatch", "account")
        elif is_iam_arn and parts[5] == "root" and parts[1] == c.partition and parts[4] == c.account:
            return ("AccountLevelMatch", "account")
    return None


def principal_naming(principal, c: CallerInfo):
    """How a ``Principal`` element names the caller: ``(label, named)`` of the strongest naming, or ``None``."""
    if principal.wildcard:
        return ("Match", "everyone")
    best = None
    for kind, values in principal.entries:
        for v in values:
            n = _naming(kind, v, c)
            if n is not None and (best is None or _RANK[n[1]] > _RANK[best[1]]):
                best = n
    return best


def _validated_identities(c: CallerInfo) -> frozenset:
    if c.kind == SERVICE:
        return frozenset(("service",))
    if c.kind == ROOT:
        return frozenset(("account",))
    if c.kind == ASSUMED_ROLE:
        return frozenset(("principal", "role", "account"))
    if c.kind == ROLE:
        return frozenset(("role", "account"))
    return frozenset(("principal", "account"))


def not_principal_naming(not_principal, c: CallerInfo, effect: str, has_boundary: bool):
    """Whether a ``NotPrincipal`` statement applies to the caller: ``("Match", "everyone")`` or ``None``."""
    if effect == "Deny" and has_boundary and c.kind != SERVICE:
        return ("Match", "everyone")
    if not_principal.wildcard:
        return None
    named = set()
    for kind, values in not_principal.entries:
        for v in values:
            n = _naming(kind, v, c)
            if n is not None:
                named.add(n[1])
    if "everyone" in named:
        return None
    if effect == "Deny":
        excluded = _validated_identities(c).issubset(named)
    else:
        excluded = len(named) > 0
    return None if excluded else ("Match", "everyone")
