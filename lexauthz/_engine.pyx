# cython: language_level=3, binding=True, embedsignature=True
"""The compiled engine's core: per-engine entries for request strings, bundles, and the batch and single-request
drivers around the decision kernel.

Its one job is to turn request strings into ids and bitset rows and run the kernel over them.  Private:
:mod:`lexauthz.engine` is the public facade, and the Python-facing documentation is in _engine.pyi.  The core is
four modules, mirroring :mod:`lexauthz.reference`: _kernel (the nogil decision, mirrors evaluate.py's final
combination), _match (wildcards, variables, ARNs, principals), _conditions (condition operators) and this one.
Nothing here imports :mod:`lexauthz.reference` (IAM's rules are implemented a second time, independently, and the
differential tests compare the two) nor :mod:`lexauthz.compile` (compile imports the core, never the reverse).

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

A string batch (:meth:`Core.decide_strings`) runs A and B without the GIL for the rows it has met before: each entry
also has a C record, and read-mostly tables (csrc/lxa_tab.h) map a principal, resource or action string (probed by
its cached hash and bytes, straight from the batch's own lists) to its record, a (principal, resource policy slot) to
the bundle's view, and a (context serial, tag serials) to the tag row.  Only contexts are found with the GIL held
(by content, a serial per row).  A row some table lacks, or whose candidates need a residual check, is decided
afterwards with the GIL by the path above, which puts what it found in the tables; tables only grow (to the cache
limit) and are replaced, never changed in place, while other threads read them.

:meth:`Core.explain_one` (:meth:`Engine.evaluate`) runs the same walk for one request and also returns the matched
statements its Response lists.

NOTE: the residual condition code is Cython, but it works on Python objects: context values are read through the
case-insensitive Context mapping, and numbers, dates, IP addresses and base-64 values are parsed with Python's
decimal, ipaddress and base64 modules (policy values once, when a statement's check is first compiled; context
values once per environment and value).  That is why phase C holds the GIL; phases B and D never touch a Python
object.
"""

cimport cython
from cpython.dict cimport PyDict_Copy, PyDict_Next
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.list cimport PyList_GET_SIZE
from cpython.object cimport PyObject, PyObject_Hash
from libc.stdint cimport SIZE_MAX, UINT64_MAX, int16_t, int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset

from lexauthz cimport _csrc
from lexauthz._kernel cimport (
    DEC_ALLOW, DEC_DEFER, DEC_ERROR, KIND_ASSUMED_ROLE, KIND_FEDERATED_USER, KIND_ROLE, KIND_ROOT, KIND_SERVICE,
    LF_DIRECT, LF_NAMED, LF_NEEDS, LF_ROLE, MAX_SCP_LEVELS, Prepared, _BundleView, c_decide_rows, c_decide_sparse,
    lxa_bundle_flags,
)
from lexauthz._match cimport _ArnTable, _GlobList, _Template, _utf8
from lexauthz._conditions cimport _Clause, _DynResource, _Env, _Residual

import hashlib

import numpy as np
cimport numpy as cnp

cnp.import_array()

from lexauthz._kernel import KIND_CODES
from lexauthz._match import caller_info, not_principal_naming, principal_naming
from lexauthz.errors import RequestError as _RequestError
from lexauthz.request import Context as _Context

cdef extern from *:
    """
    static inline int lxa_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    """
    int _ctz64 "lxa_ctz64" (uint64_t x) noexcept nogil

_U64 = np.uint64

# A string-batch row the GIL-free pass leaves to the slow pass (decisions are 0-3).
cdef enum:
    _SLOW = 255

# What a resource-policy naming (``principal_naming``'s second item) makes of the caller.
_DIRECT_NAMINGS = frozenset(("everyone", "principal", "service"))
_ROLE_NAMING = "role"

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


cdef class _Csr:
    """A checked CSR ``(offsets, ids)`` (see lexauthz.compile.state) read in place: row ``i`` is
    ``ids[offsets[i]:offsets[i + 1]]`` (a load makes no per-row object)."""

    cdef object arrays
    cdef const uint64_t[::1] off
    cdef const uint32_t[::1] ids
    cdef readonly Py_ssize_t nbytes

    def __cinit__(self, csr):
        off, ids = csr
        self.arrays = (off, ids)
        self.off = off
        self.ids = ids
        self.nbytes = off.nbytes + ids.nbytes

    cdef inline void set_rows(self, uint64_t *w, list rows, bint clear):
        """Set (or with ``clear``, clear) in ``w`` the bits of every row in ``rows``."""
        cdef Py_ssize_t i
        cdef uint64_t lo, hi
        for i in rows:
            lo = self.off[i]
            hi = self.off[i + 1]
            if hi > lo:
                if clear:
                    _csrc.lxa_bits_clear_many(w, &self.ids[lo], hi - lo)
                else:
                    _csrc.lxa_bits_set_many(w, &self.ids[lo], hi - lo)


def _csr_rows(csr):
    """The rows of a checked CSR ``(offsets, ids)`` (see lexauthz.compile.state) as contiguous uint32 views."""
    off, ids = csr
    bounds = off.tolist()
    return [ids[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


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
# Bundles: what applies to one caller under one layout
# =================================================================================================================

cdef class LayoutParts:
    """A layout given to the core as plain data, with the attributes of :class:`lexauthz.compile.plan.Layout` (what
    ``_Bundle.layout`` shows for a bundle the core made itself)."""

    cdef readonly tuple identity
    cdef readonly object resource, permissions_boundary, session, scps

    def __init__(self, identity=(), resource=None, permissions_boundary=None, session=None, scps=None):
        self.identity = tuple(identity)
        self.resource = resource
        self.permissions_boundary = permissions_boundary
        self.session = session
        self.scps = scps

    def slot_ids(self):
        """Slot ids in evaluation order (identity, resource, boundary, session, SCP levels)."""
        return iter(_slot_order((self.identity, self.resource, self.permissions_boundary, self.session, self.scps)))

    def __repr__(self):
        return (f"LayoutParts(identity={self.identity!r}, resource={self.resource!r}, "
                f"permissions_boundary={self.permissions_boundary!r}, session={self.session!r}, scps={self.scps!r})")


cdef inline void _fill_view(_BundleView *out, _Bundle b) noexcept:
    """The kernel's view of bundle ``b`` (INVARIANT(view-alive): the caller keeps ``b`` alive while it is used)."""
    out.stmts = b.stmts
    out.local_flags = b.local_flags
    out.k = b.k
    out.flags = b.flags
    out.err = 1 if b.errors else 0


cdef tuple _layout_parts(layout):
    """``(identity, resource, permissions_boundary, session, scps)`` of a layout given as that 5-tuple or as an object
    with those attributes (lexauthz.compile.plan.Layout, duck-typed)."""
    if type(layout) is tuple:
        if len(<tuple>layout) != 5:
            raise ValueError("a layout tuple has five parts")
        identity, resource, boundary, session, scps = <tuple>layout
    else:
        identity, resource = layout.identity, layout.resource
        boundary, session, scps = layout.permissions_boundary, layout.session, layout.scps
    return (tuple(identity), resource, boundary, session, None if scps is None else tuple(map(tuple, scps)))


cdef list _slot_order(tuple layout):
    """Slot ids in evaluation order (identity, resource, boundary, session, SCP levels), as Layout.slot_ids."""
    identity, resource, boundary, session, scps = layout
    cdef list out = list(identity)
    if resource is not None:
        out.append(resource)
    if boundary is not None:
        out.append(boundary)
    if session is not None:
        out.append(session)
    for level in scps or ():
        out.extend(level)
    return out


cdef class _Bundle:
    """The statements of a layout that apply to a caller, and how the resource policy names it (fields in
    _engine.pxd)."""

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
# Rows kept in a core's decision table (t_d): 40 bytes a slot, at most half full, and the smaller copies kept
# until the core goes (csrc/lxa_tab.h): about 40 MB at the limit.
cdef size_t _DECISION_LIMIT = 1 << 18


cdef inline uint64_t _new_serial() noexcept:
    """A process-wide serial, never reused (taken with the GIL held)."""
    global _serial_counter
    _serial_counter += 1
    return _serial_counter


cdef class _Triple64Map:
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
        cdef Py_ssize_t mask = self.cap - 1, i = <Py_ssize_t>(_Triple64Map._hash(a, b, c) & <uint64_t>mask)
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
        cdef Py_ssize_t mask = self.cap - 1, i = <Py_ssize_t>(_Triple64Map._hash(a, b, c) & <uint64_t>mask)
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


cdef struct _PRec:
    # What the batch path reads of a principal entry without the GIL (the entry owns it; `obj` is the entry).
    PyObject *obj
    uint64_t pid            # the entry's serial: bundles are keyed by (pid, resource slot key)
    uint64_t tag_serial
    PyObject *account       # the caller's account (a str the entry holds) or NULL


cdef struct _RRec:
    # What the batch path reads of a resource entry without the GIL.
    PyObject *obj
    const uint64_t *row
    uint64_t tag_serial
    uint64_t rslot_key      # 0: no resource policy; slot + 1; UINT64_MAX: never in the table (not an int slot)
    PyObject *owner         # the ARN's account (a str the entry holds) or NULL
    uint64_t rid            # the entry's serial


cdef struct _ARec:
    # What the batch path reads of an action entry without the GIL.
    const uint64_t *row
    uint64_t aid            # the entry's serial


@cython.no_gc
cdef class _PEntry:
    """What a principal string resolves to in one engine: its layout parts, caller facts and tag context."""

    cdef str arn
    cdef object part        # (identity slots, boundary slot, session slot, scps) from the resolver
    cdef object account     # the caller's account (str) or None
    cdef int kind           # the caller's kind (KIND_CODES)
    cdef tuple tags         # ("aws:PrincipalTag/k", v) entries
    cdef uint64_t tag_serial
    cdef _Bundle bundle0    # the bundle for resources without a resource policy (built on first need)
    cdef dict by_rslot      # resource-policy slot -> _Bundle
    cdef _PRec rec


@cython.no_gc
cdef class _REntry:
    """What a resource string resolves to in one engine: its index row, policy slot, tag context and owner."""

    cdef uint64_t serial
    cdef object row
    cdef object rslot       # resource-policy slot id or None
    cdef tuple tags         # ("aws:ResourceTag/k", v) entries
    cdef uint64_t tag_serial
    cdef object owner       # the ARN's account or None
    cdef _RRec rec


@cython.no_gc
cdef class _AEntry:
    """An action string's index row in one engine."""

    cdef uint64_t serial
    cdef object row
    cdef _ARec rec


cdef enum:
    _COVERS_P = 1    # a context serial's bit: the context holds every aws:principaltag/ key of the tag index
    _COVERS_R = 2    # ... every aws:resourcetag/ key

_PRINCIPAL_TAG = "aws:principaltag/"
_RESOURCE_TAG = "aws:resourcetag/"


cdef inline uint64_t _env_key(uint64_t cs, uint64_t covers, uint64_t tag_serial) noexcept nogil:
    """The tag-serial part of a tag row's key in the ``t_e`` table: 0 when the context (serial ``cs``) holds every
    key of the tag index that those tags could supply.

    A tag row is a function of the values its index keys take in the context enriched with the principal's and
    the resource's tags for absent keys only (:meth:`Core.env_of`); a principal's tags are aws:PrincipalTag/ keys
    and a resource's aws:ResourceTag/ keys (:func:`_check_family`), so when the context holds every index key of a
    family, that side's tags change no value the row reads, and rows of all its tag sets are the same row.  With
    thousands of distinct contexts, one entry per (context, principal tags, resource tags) made the table too large
    for the CPU caches (38,000 entries for 8,000 two-key contents)."""
    return 0 if (cs & covers) else tag_serial


cdef _check_family(tuple tags, str prefix):
    """INVARIANT(tag-family): principal tags are aws:PrincipalTag/ keys and resource tags aws:ResourceTag/ keys (what
    the resolvers give; :func:`_env_key` relies on it)."""
    for k, _ in tags:
        if not (<str>k).lower().startswith(prefix):
            raise ValueError(f"tag key `{k}` is not a `{prefix}` key")



@cython.no_gc
cdef class _CtxKept:
    """A dict context in the core's context table: its items (key, value, ...), its entry and the entry's serial.

    The table's value is ``rec``, a C record a probe reads without the GIL: the serial, and the items inline when
    there are at most four and their values are short (a probe then compares the request's dict with this record
    alone: through ``flat`` it reads a tuple and each stored value, a cache miss apiece once the table holds
    thousands of contents), else the items of ``flat``.
    """

    cdef _csrc.lxa_ctx_rec rec
    cdef tuple flat, entry


cdef class _EnvEntry:
    """The condition environment and tag row of one (context, principal tags, resource tags)."""

    cdef uint64_t ctx_serial, p_serial, r_serial
    cdef readonly object env, trow


cdef inline bint _same_account(_PEntry pe, _REntry rent):
    # A resource that names no account (`*`) is in the caller's own account.
    return pe.account is not None and (rent.owner is None or pe.account == rent.owner)


cdef uint64_t _dict_hash(dict d) except? 0:
    """A hash of a dict of str to str by content and order (csrc/lxa_tab.h: the function a batch computes without
    the GIL, from a copy); 0 when some key or value is not an exact str.  The GIL is held, so a str hash not
    computed yet is computed and kept in the object (later probes of the same str then read it)."""
    cdef Py_ssize_t pos = 0
    cdef PyObject *k
    cdef PyObject *v
    cdef uint64_t h = _csrc.lxa_ctx_hash_start()
    cdef Py_hash_t hk, hv
    while PyDict_Next(d, &pos, &k, &v):
        if not (_csrc.lxa_str_exact_ready(k) and _csrc.lxa_str_exact_ready(v)):
            return 0
        hk = _csrc.lxa_str_hash(k)
        hv = _csrc.lxa_str_hash(v)
        if hk == -1:
            hk = PyObject_Hash(<object>k)
        if hv == -1:
            hv = PyObject_Hash(<object>v)
        h = _csrc.lxa_ctx_hash_mix(h, hk, hv)
    return _csrc.lxa_ctx_hash_end(h)


cdef enum:
    _AHEAD = 8       # rows a string batch looks ahead to start loading their table slots
    _BLOCK = 2048    # rows of a string batch gathered with the GIL, then decided without it
    _GATHER_MAX = 8  # a batch row's dict context of at most this many items is found without the GIL


cdef Py_ssize_t _copy_items(dict d, _csrc.lxa_pair *out) noexcept:
    """Copy ``d``'s items into ``out`` (room for _GATHER_MAX) for a probe without the GIL and return their count;
    -1 when there are more, or one is not an exact str or too long to copy."""
    cdef Py_ssize_t pos = 0, j = 0
    cdef PyObject *k
    cdef PyObject *v
    if len(d) > _GATHER_MAX:
        return -1
    while PyDict_Next(d, &pos, &k, &v):
        if not (_csrc.lxa_str_exact_ready(k) and _csrc.lxa_str_exact_ready(v) and _csrc.lxa_pair_fill(&out[j], k, v)):
            return -1
        j += 1
    return j


cdef bint _kept_same(dict d, _CtxKept kept):
    """Whether ``d`` (a dict of exact str to exact str) holds the items of ``kept``, in order."""
    if kept.rec.n_inline < 0:
        return _items_equal(d, kept.flat)
    if len(d) != kept.rec.n_inline:
        return False
    cdef Py_ssize_t pos = 0, j = 0
    cdef PyObject *k
    cdef PyObject *v
    while PyDict_Next(d, &pos, &k, &v):
        if not _csrc.lxa_item_same(&kept.rec.items[j], k, v):
            return False
        j += 1
    return True


cdef _CtxKept _kept_of(dict raw):
    """A :class:`_CtxKept` of ``raw`` (a dict of exact str to exact str) without its entry: its items, inline when
    they fit."""
    cdef _CtxKept kept = _CtxKept()
    kept.flat = tuple([x for kv in raw.items() for x in kv])  # holds the keys the inline items point to
    kept.rec.n_inline = -1
    kept.rec.flat = _csrc.lxa_tuple_items(<PyObject *>kept.flat)
    kept.rec.n_flat = len(kept.flat)
    kept.rec.owner = <PyObject *>kept
    cdef Py_ssize_t pos = 0, j = 0
    cdef PyObject *k
    cdef PyObject *v
    if len(raw) <= _csrc.LXA_KEPT_ITEMS:
        while PyDict_Next(raw, &pos, &k, &v):
            if not _csrc.lxa_item_fill(&kept.rec.items[j], k, v):
                break
            j += 1
        else:
            kept.rec.n_inline = j
    return kept


def _kept_matches(dict stored, dict asked):
    """For the tests: ``(inline, same, same by copy, same by slot)``: whether a context kept as ``stored`` keeps its
    items inline, whether a request's ``asked`` is found as it (the comparison a table probe makes once the content
    hashes agree, which only a hash collision makes it refuse), the same comparison made from a copy of ``asked``'s
    items against the record, and against the record's slot in a context table (as a batch makes them without the
    GIL; None when ``asked`` is not copied)."""
    if not (_dict_hash(stored) and _dict_hash(asked)):
        raise TypeError("contexts of exact str keys and values only")
    cdef _CtxKept kept = _kept_of(stored)
    kept.rec.serial = 7
    cdef _csrc.lxa_pair items[_GATHER_MAX]
    cdef Py_ssize_t m = _copy_items(asked, items)
    cdef _csrc.lxa_ctab tab
    by_copy = by_slot = None
    if m >= 0:
        by_copy = bool(_csrc.lxa_ctx_same_pairs(&kept.rec, items, m))
        if _csrc.lxa_ctab_init(&tab, 4) < 0:
            raise MemoryError()
        try:
            if _csrc.lxa_ctab_put(&tab, 12345, &kept.rec) != 1:  # one hash for both: as if they collided
                raise MemoryError()
            by_slot = _csrc.lxa_ctab_find(&tab, 12345, items, m) == 7
        finally:
            _csrc.lxa_ctab_free(&tab)
    return kept.rec.n_inline >= 0, _kept_same(asked, kept), by_copy, by_slot


def _found_by_copy(Core core, dict d):
    """For the tests: what a batch row with context ``d`` finds in ``core``'s context table without the GIL, as
    ``(hash agrees, serial)``: whether the hash of the copied items is the dict's own content hash, and the serial
    of the record found (0: none).  None when ``d`` is not copied (the row asks with the GIL)."""
    cdef _csrc.lxa_pair items[_GATHER_MAX]
    cdef Py_ssize_t m = _copy_items(d, items)
    if m <= 0:
        return None
    cdef uint64_t h = _csrc.lxa_pairs_hash(items, m)
    return h == _dict_hash(d), _csrc.lxa_ctab_find(&core.t_c, h, items, m)


cdef bint _items_equal(dict d, tuple flat):
    """Whether ``d``'s items, in order, are ``flat`` (key, value, key, value, ...); keys and values exact str."""
    if 2 * len(d) != len(flat):
        return False
    cdef Py_ssize_t pos = 0, j = 0
    cdef PyObject *k
    cdef PyObject *v
    while PyDict_Next(d, &pos, &k, &v):
        if not (_csrc.lxa_str_same(k, PyTuple_GET_ITEM(flat, j))
                and _csrc.lxa_str_same(v, PyTuple_GET_ITEM(flat, j + 1))):
            return False
        j += 2
    return True


cdef class Core:
    """The flattened, immutable index over a :class:`lexauthz.compile.plan.Plan`, and the per-request kernels."""

    cdef readonly object plan, state
    cdef readonly Py_ssize_t n_stmts, nw
    cdef readonly bint use_index
    cdef object _type_arr, _eff_arr, _lvl_arr
    cdef _GlobList act_globs
    cdef _Csr act_pos, act_neg
    cdef object not_action_all
    cdef _ArnTable res_table
    cdef _Csr res_pos, res_neg
    cdef object not_resource_all, dynamic_row, needs_row, all_row
    cdef list residuals
    cdef list tag_keys
    cdef dict tags_intern, action_cache, action_raw, resource_cache, bundle_cache, env_cache, ctx_cache, res_memo
    cdef dict missing_of  # statement id -> ((key, lower-cased key), ...) it can report missing (see _missing)
    cdef dict shared_bundles  # (layout parts, caller kind) -> the _Bundle of requests without a resource policy
    cdef dict row_intern  # digest of a tag row's words -> the one array of that content (see _interned_row)
    cdef dict rows_by_match  # the Resource patterns an ARN matches -> their resource row (see resource_row)
    cdef dict p_entries, r_entries, a_entries
    # The batch path's tables, probed without the GIL (csrc/lxa_tab.h): principal, resource and action strings to
    # their entries' records, (pid, resource slot key) to a bundle's view, (context serial, principal tag serial,
    # resource tag serial) to a tag row, and a dict context's content hash to its (items, entry).  Everything a
    # table points into is held by `pinned` for the core's life; a table at its limit takes no more entries.
    # t_d: the decisions of rows that needed a residual check, keyed by (principal serial, resource serial,
    # action serial << 32 | context serial); the value is the decision + 1 (see _remember).
    cdef _csrc.lxa_tab t_p, t_r, t_a, t_b, t_e, t_d
    cdef _csrc.lxa_ctab t_c
    cdef list pinned
    cdef uint64_t empty_serial
    cdef _Triple64Map env_tab
    cdef list env_list
    cdef tuple empty_ctx
    cdef Py_ssize_t cache_limit
    cdef object resolver, check_row
    cdef bint poisoned
    cdef public object damage
    cdef Py_ssize_t ctx_serial, tags_serial
    # The index's tag keys that a principal's own tags (aws:principaltag/...) and a resource's (aws:resourcetag/...)
    # can supply: a context holding all of one family makes the tag row independent of that side's tags.
    cdef tuple p_tag_keys, r_tag_keys
    cdef readonly Py_ssize_t index_bytes
    cdef const uint8_t *p_type
    cdef const uint8_t *p_eff
    cdef const int16_t *p_lvl
    # A loaded plan reaches its core by a weak reference (SavedPlan.on_damage), so that an engine dropped by its
    # last holder is freed at once, without waiting for the cyclic collector.
    cdef object __weakref__

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
        self.act_pos = _Csr(state.action_pos)
        self.act_neg = _Csr(state.action_neg)
        self.not_action_all = self._row(state.not_action_all)
        # Resources.
        self.res_table = None  # _resource_table builds it when a resource is first matched
        self.res_pos = _Csr(state.resource_pos)
        self.res_neg = _Csr(state.resource_neg)
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
        self.p_tag_keys = tuple(k for k in state.tag_keys if k.startswith(_PRINCIPAL_TAG))
        self.r_tag_keys = tuple(k for k in state.tag_keys if k.startswith(_RESOURCE_TAG))
        self.action_cache = {}
        self.resource_cache = {}
        self.bundle_cache = {}
        self.env_cache = {}
        self.ctx_cache = {}
        self.p_entries = {}
        self.r_entries = {}
        self.a_entries = {}
        self.env_tab = _Triple64Map(1024)
        self.env_list = []
        self.action_raw = {}
        self.res_memo = {}
        self.missing_of = {}
        self.shared_bundles = {}
        self.row_intern = {}
        self.rows_by_match = {}
        self.tags_intern = {}
        # NOTE: rows for strings met at run time are cached, within about 64 MB per cache (a bundle holds 5 rows).
        self.cache_limit = max(64, (64 << 20) // (self.nw * 8 * 5))
        self.pinned = []
        if (_csrc.lxa_tab_init(&self.t_p, self.cache_limit) or _csrc.lxa_tab_init(&self.t_r, self.cache_limit)
                or _csrc.lxa_tab_init(&self.t_a, self.cache_limit) or _csrc.lxa_tab_init(&self.t_b, self.cache_limit)
                or _csrc.lxa_tab_init(&self.t_e, 65536) or _csrc.lxa_ctab_init(&self.t_c, 65536)
                or _csrc.lxa_tab_init(&self.t_d, _DECISION_LIMIT)):
            raise MemoryError()
        self.empty_ctx = self.context_entry(None, 0)
        self.empty_serial = <uint64_t>(<Py_ssize_t>self.empty_ctx[1])
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

    cdef _ArnTable _resource_table(self):
        """The Resource patterns' table, built on first use: a load, and a compile, match no resource.  Two threads
        building it at once build equal tables, and either is kept."""
        t = self.res_table
        if t is None:
            t = self.res_table = _ArnTable(list(self.state.resource_patterns))
        return <_ArnTable>t

    cdef object _row(self, ids):
        row = _zeros(self.nw)
        cdef uint32_t[::1] a = np.fromiter(ids, dtype=np.uint32) if not isinstance(ids, np.ndarray) else ids
        if a.shape[0]:
            _csrc.lxa_bits_set_many(_ptr(row), &a[0], a.shape[0])
        return row

    cdef Py_ssize_t _measure(self):
        total = 0
        for arr in (self._type_arr, self._eff_arr, self._lvl_arr, self.all_row, self.needs_row,
                    self.not_action_all, self.not_resource_all, self.dynamic_row):
            total += arr.nbytes
        for csr in (self.act_pos, self.act_neg, self.res_pos, self.res_neg):
            total += csr.nbytes
        for key, row, eq, likes, like_ids in self.tag_keys:
            total += row.nbytes + sum(a.nbytes for a in eq.values()) + sum(a.nbytes for a in like_ids)
        total += sum(r.nbytes for r in self.action_cache.values())
        total += sum(r.nbytes for r in self.resource_cache.values())
        return total

    # -- rows ----------------------------------------------------------------------------------------------------

    cdef object _table_row(self, list matched, _Csr pos, _Csr neg, base_neg, extra):
        row = base_neg.copy()
        cdef uint64_t *w = _ptr(row)
        neg.set_rows(w, matched, True)
        pos.set_rows(w, matched, False)
        if extra is not None:
            _csrc.lxa_bits_or_inplace(w, _ptr(extra), self.nw)
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
            matched = self._resource_table().matching(resource)
            if not self.use_index:
                return self._table_row(matched, self.res_pos, self.res_neg, self.not_resource_all, self.dynamic_row)
            # A row is a function of the patterns the ARN matches, and many ARNs match the same ones (4,908
            # resources of the benchmark workload make 896 distinct rows): ARNs that match the same patterns share
            # one row, so a new ARN of a known match builds none and the rows a batch reads stay fewer (rows are
            # never written after they are made).
            key = tuple(matched)
            row = self.rows_by_match.get(key)
            if row is None:
                row = self._table_row(matched, self.res_pos, self.res_neg, self.not_resource_all, self.dynamic_row)
                if len(self.rows_by_match) > self.cache_limit:
                    self.rows_by_match.clear()
                self.rows_by_match[key] = row
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
                        _csrc.lxa_bits_set_many(c, &a[0], a.shape[0])
                if likes.n:
                    b = _utf8(v)
                    for i in likes.matching(b):
                        a = like_ids[i]
                        if a.shape[0]:
                            _csrc.lxa_bits_set_many(c, &a[0], a.shape[0])
            # row &= ~(constrained & ~passed)
            excluded = constrained.copy()
            _csrc.lxa_bits_andnot_inplace(_ptr(excluded), c, self.nw)
            _csrc.lxa_bits_andnot_inplace(w, _ptr(excluded), self.nw)
        return row

    def __dealloc__(self):
        _csrc.lxa_tab_free(&self.t_p)
        _csrc.lxa_tab_free(&self.t_r)
        _csrc.lxa_tab_free(&self.t_a)
        _csrc.lxa_tab_free(&self.t_b)
        _csrc.lxa_tab_free(&self.t_e)
        _csrc.lxa_ctab_free(&self.t_c)
        _csrc.lxa_tab_free(&self.t_d)

    def decisions_kept(self):
        """Rows in the decision table (rows whose decision needed a residual check, see ``_remember``)."""
        return _csrc.lxa_tab_len(&self.t_d)

    def table_sizes(self):
        """Entries in the batch path's tables (principals, resources, actions, bundles, environments, contexts)."""
        return (_csrc.lxa_tab_len(&self.t_p), _csrc.lxa_tab_len(&self.t_r), _csrc.lxa_tab_len(&self.t_a),
                _csrc.lxa_tab_len(&self.t_b), _csrc.lxa_tab_len(&self.t_e), _csrc.lxa_ctab_len(&self.t_c))

    cdef int _put_str(self, _csrc.lxa_tab *t, str key, obj, const void *val) except -1:
        """Put ``key`` (an exact str) in table ``t`` with ``val``, which ``obj`` owns; both are pinned."""
        cdef int r
        if not _csrc.lxa_str_probeable(<PyObject *>key):
            return 0
        r = _csrc.lxa_tab_put_str(t, <PyObject *>key, val)
        if r < 0:
            raise MemoryError()
        if r:
            self.pinned.append((key, obj))
        return r

    cdef int _put3(self, _csrc.lxa_tab *t, uint64_t a, uint64_t b, uint64_t c, obj, const void *val) except -1:
        cdef int r = _csrc.lxa_tab_put3(t, a, b, c, val)
        if r < 0:
            raise MemoryError()
        if r:
            self.pinned.append(obj)
        return r

    def bundle(self, str principal, layout):
        """The :class:`_Bundle` of ``principal`` under ``layout`` (cached): a 5-tuple ``(identity slots, resource
        slot, boundary slot, session slot, SCP levels)``, or anything with those five attributes as
        :class:`lexauthz.compile.plan.Layout` has them (duck-typed: the core never imports compile)."""
        parts = _layout_parts(layout)
        key = (principal, parts)
        cached = self.bundle_cache.get(key)
        if cached is not None:
            return cached
        cdef _Bundle b = self._make_bundle(principal, parts)
        b.layout = layout if type(layout) is not tuple else LayoutParts(*parts)
        if len(self.bundle_cache) > self.cache_limit:
            self.bundle_cache.clear()
        self.bundle_cache[key] = b
        return b

    cdef _Bundle _make_bundle(self, str principal, tuple layout):
        cdef _Bundle b = _Bundle()
        b.serial = _new_serial()
        plan = self.plan
        identity, resource, boundary, session, scps = layout
        slot_order = _slot_order(layout)
        c = caller_info(principal)
        cdef int kind = KIND_CODES[c.kind]
        b.caller = c  # the caller it was made for; one without a resource policy is shared by every caller of its kind
        errors = []
        for sid in slot_order:
            errors.extend(plan.slot_errors(sid))
        b.errors = tuple(errors)
        b.flags.kind = kind
        b.flags.boundary_active = boundary is not None and not (kind == KIND_ROOT or kind == KIND_SERVICE)
        b.flags.session_active = session is not None and (kind == KIND_ROLE or kind == KIND_ASSUMED_ROLE
                                                          or kind == KIND_FEDERATED_USER)
        b.flags.scps_active = bool(scps) and kind != KIND_SERVICE
        n_levels = len(scps) if b.flags.scps_active else 0
        if n_levels > MAX_SCP_LEVELS:
            raise ValueError(f"more than {MAX_SCP_LEVELS} SCP levels")
        b.flags.n_levels = n_levels
        b.has_resource = resource is not None
        b.slot_pos = {}
        for pos, sid in enumerate(slot_order):
            b.slot_pos.setdefault(sid, pos)
        mask_ids, missing_ids, direct, role, named = [], [], [], [], []
        b.labels = {}
        slot_ids = self._slot_range

        for sid in identity:
            mask_ids.extend(slot_ids(sid))
            missing_ids.extend(slot_ids(sid))
        if resource is not None:
            has_boundary = boundary is not None
            for s in slot_ids(resource):
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
                if n[1] in _DIRECT_NAMINGS:
                    direct.append(s)
                elif n[1] == _ROLE_NAMING:
                    role.append(s)
        if b.flags.boundary_active:
            mask_ids.extend(slot_ids(boundary))
            missing_ids.extend(slot_ids(boundary))
        if b.flags.session_active:
            mask_ids.extend(slot_ids(session))
            missing_ids.extend(slot_ids(session))
        if b.flags.scps_active:
            for lv, level in enumerate(scps):
                for sid in level:
                    if plan.slots[sid].level != lv:
                        raise ValueError(f"SCP slot {sid} is at level {plan.slots[sid].level}, not {lv}")
                    mask_ids.extend(slot_ids(sid))
                    missing_ids.extend(slot_ids(sid))
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
            if _csrc.lxa_bits_test(w_direct, sid32):
                f |= LF_DIRECT
            if _csrc.lxa_bits_test(w_role, sid32):
                f |= LF_ROLE
            if _csrc.lxa_bits_test(w_named, sid32):
                f |= LF_NAMED
            if _csrc.lxa_bits_test(w_needs, sid32):
                f |= LF_NEEDS
            fmv[j] = f
        b.stmts_arr = ids_arr
        b.local_flags_arr = fl_arr
        b.stmts = &imv[0]
        b.local_flags = &fmv[0]
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
        elif type(raw) is dict:
            raw = PyDict_Copy(raw)  # read once: building the Context runs Python code (another thread may change raw)
        cdef bint plain = type(raw) is dict
        cdef tuple key = None
        if not plain and isinstance(raw, Context):
            return (raw, self._next_ctx_serial(raw))
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
        entry = (ctx, self._next_ctx_serial(ctx))
        if plain:
            if len(self.ctx_cache) > 65536:
                self.ctx_cache.clear()
            self.ctx_cache[key] = entry
        return entry

    cdef Py_ssize_t _next_ctx_serial(self, ctx):
        """A new context serial for ``ctx``, with its tag coverage in the low bits: _COVERS_P when ``ctx`` holds
        every aws:principaltag/ key of the tag index, _COVERS_R for aws:resourcetag/ (see :func:`_env_key`)."""
        cdef Py_ssize_t flags = 0
        if all(k in ctx for k in self.p_tag_keys):
            flags |= _COVERS_P
        if all(k in ctx for k in self.r_tag_keys):
            flags |= _COVERS_R
        self.ctx_serial += 4
        return self.ctx_serial | flags

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
            hit = (_Env(full), self._interned_row(self.tag_row(full)))
            if len(self.env_cache) > 65536:
                self.env_cache.clear()
            self.env_cache[ekey] = hit
        return <tuple>hit

    cdef object _interned_row(self, row):
        """``row``, or an equal tag row made before: environments whose tag conditions come out the same share one
        array.  Many contexts (every distinct content, times the callers' and resources' tags) give few distinct
        tag rows, and one array per environment made the rows a batch reads too large for the CPU caches (38,207
        environments of 1.5 kB each for 8,000 two-key contents).  Rows are never written after they are made."""
        key = hashlib.blake2b(row, digest_size=16).digest()
        hit = self.row_intern.get(key)
        if hit is not None and np.array_equal(hit, row):
            return hit
        if len(self.row_intern) > 65536:
            self.row_intern.clear()
        self.row_intern[key] = row
        return row

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
        cdef const _PRec *pr = <const _PRec *>_csrc.lxa_tab_get_str(&self.t_p, <PyObject *>p)
        if pr != NULL:
            return <_PEntry>pr.obj
        part, tags = resolver.principal(p)
        pe = _PEntry()
        pe.arn = p
        pe.part = part
        c = caller_info(p)
        pe.account = c.account
        pe.kind = KIND_CODES[c.kind]
        pe.tags = tuple(tags)
        _check_family(pe.tags, _PRINCIPAL_TAG)
        pe.tag_serial = self._tag_serial(pe.tags)
        pe.by_rslot = {}
        if pe.account is not None:
            pe.account = _exact_str(pe.account)
        pe.rec.obj = <PyObject *>pe
        pe.rec.pid = _new_serial()
        pe.rec.tag_serial = pe.tag_serial
        pe.rec.account = <PyObject *>pe.account if pe.account is not None else NULL
        self._put_str(&self.t_p, p, pe, &pe.rec)
        if len(self.p_entries) > self.cache_limit:
            self.p_entries.clear()
        self.p_entries[p] = pe
        return pe

    cdef _REntry _r_entry(self, resolver, str r):
        """The entry of resource ``r`` (a checked string), made once per engine."""
        cdef _REntry rent = self.r_entries.get(r)
        if rent is not None:
            return rent
        cdef const _RRec *rr = <const _RRec *>_csrc.lxa_tab_get_str(&self.t_r, <PyObject *>r)
        if rr != NULL:
            return <_REntry>rr.obj
        rslot, tags = resolver.resource(r)
        rent = _REntry()
        rent.serial = _new_serial()
        rent.row = self.resource_row(r)
        rent.rslot = rslot
        rent.tags = tuple(tags)
        _check_family(rent.tags, _RESOURCE_TAG)
        rent.tag_serial = self._tag_serial(rent.tags)
        rent.owner = (r.split(":", 5)[4] or None) if r.startswith("arn:") else None
        rent.rec.obj = <PyObject *>rent
        rent.rec.row = _fptr(rent.row)
        rent.rec.tag_serial = rent.tag_serial
        if rslot is None:
            rent.rec.rslot_key = 0
        elif type(rslot) is int and 0 <= rslot < (1 << 62):
            rent.rec.rslot_key = <uint64_t>rslot + 1
        else:
            rent.rec.rslot_key = UINT64_MAX
        rent.rec.owner = <PyObject *>rent.owner if rent.owner is not None else NULL
        rent.rec.rid = rent.serial
        if rent.rec.rslot_key != UINT64_MAX:
            self._put_str(&self.t_r, r, rent, &rent.rec)
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
        ae.rec.row = _fptr(ae.row)
        ae.rec.aid = ae.serial
        self._put_str(&self.t_a, a, ae, &ae.rec)
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
                # Without a resource policy a bundle depends on the layout and the caller's kind only (no principal
                # naming), so principals that share both share one: a new ARN of a known layout builds none.
                parts = _layout_parts((identity, None, boundary, session, scps))
                key = (parts, pe.kind)
                b = self.shared_bundles.get(key)
                if b is None:
                    b = self.bundle(pe.arn, parts)
                    if len(self.shared_bundles) > self.cache_limit:
                        self.shared_bundles.clear()
                    self.shared_bundles[key] = b
                pe.bundle0 = b
            return b
        b = pe.by_rslot.get(rent.rslot)
        if b is None:
            b = self.bundle(pe.arn, (identity, rent.rslot, boundary, session, scps))
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
                return self._ctx_by_content(<dict>raw, h, i)
        return self.context_entry(raw, i)

    cdef tuple _ctx_by_content(self, dict raw, uint64_t h, Py_ssize_t i):
        """``(Context, serial)`` of a dict of str to str with content hash ``h``: one table probe when seen before."""
        cdef _CtxKept kept = self._ctx_kept(raw, h, i)
        return kept.entry if kept is not None else self.context_entry(raw, i)

    cdef _CtxKept _ctx_kept(self, dict raw, uint64_t h, Py_ssize_t i):
        """The table record of a dict of str to str with content hash ``h`` (made and put in the table on a miss,
        from a copy of ``raw``: the record is of the content ``raw`` had then); None when another content holds the
        hash or the table is full (the caller asks ``context_entry``)."""
        cdef const _csrc.lxa_ctx_rec *hit = _csrc.lxa_ctab_get(&self.t_c, h)
        cdef _CtxKept kept
        if hit != NULL:
            kept = <_CtxKept>hit.owner
            return kept if _kept_same(raw, kept) else None
        # Making the entry runs Python code, during which another thread may change the caller's dict: the record
        # is made from one copy (taken before any Python code runs), so its items, hash and entry agree.
        cdef dict snap = PyDict_Copy(raw)
        h = _dict_hash(snap)
        entry = self.context_entry(snap, i)
        kept = _kept_of(snap)
        kept.entry = entry
        kept.rec.serial = <uint64_t>(<Py_ssize_t>entry[1])
        cdef int r = _csrc.lxa_ctab_put(&self.t_c, h, &kept.rec)
        if r < 0:
            raise MemoryError()
        if r:
            self.pinned.append(kept)
        return kept if r else None

    cdef uint64_t _stable_serial(self, raw, Py_ssize_t i) except? 0:
        """The serial of a row's context when equal contexts always get it (None, or a dict of str to str); 0 for
        anything else (that row takes the slow path, which reads its context)."""
        cdef uint64_t h
        cdef _CtxKept kept
        cdef _csrc.lxa_pair items[_GATHER_MAX]
        cdef Py_ssize_t m
        cdef uint64_t serial
        if raw is None:
            return self.empty_serial
        if type(raw) is dict:
            # a small context seen before is found from one slot of the table (no record nor object read)
            m = _copy_items(<dict>raw, items)
            if m > 0:
                serial = _csrc.lxa_ctab_find(&self.t_c, _csrc.lxa_pairs_hash(items, m), items, m)
                if serial:
                    return serial
            h = _dict_hash(<dict>raw)
            if h:
                kept = self._ctx_kept(<dict>raw, h, i)
                if kept is not None:
                    return kept.rec.serial
        return 0

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
        cdef _Triple64Map bt = _Triple64Map(256), at = _Triple64Map(128)
        cdef _Triple64Map rt = _Triple64Map(1024), tt = _Triple64Map(1024)
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
                raw = _row_at(contexts, i)
                if raw is not None:
                    if type(raw) is dict:
                        centry = self._ctx_entry(raw, i)
                    else:
                        centry = ctx_by_id.get(id(raw))
                        if centry is None:
                            centry = self._ctx_entry(raw, i)
                            ctx_by_id[id(raw)] = centry
                            keep.append(raw)
            # A str subclass (numpy.str_) finds the entry of its equal str; it is copied to an exact str only when
            # an entry is first made, so warm rows pay nothing for it.
            pe = pents.get(p)
            if pe is None:
                pe = self._p_entry(resolver, _exact_str(p))
            rent = rents.get(r)
            if rent is None:
                rent = self._r_entry(resolver, _exact_str(r))
            ae = aents.get(a)
            if ae is None:
                ae = self._a_entry(_exact_str(a))
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
                rstrs.append(_exact_str(r))
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
                acct = _row_at(accounts, i)
                if acct is not None and type(acct) is not str:
                    if not isinstance(acct, str):
                        raise RequestError("E_BAD_RESOURCE_ACCOUNT", "`resource_account` must be a string",
                                           f"$[{i}].resource_account")
                    acct = _exact_str(acct)
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
        P.bundle_ids, P.action_ids, P.resource_ids, P.tag_ids, P.same_account = b_arr, a_arr, r_arr, t_arr, same_arr
        P.views = <_BundleView *>malloc((nb + 1) * sizeof(_BundleView))
        if P.views == NULL:
            raise MemoryError()
        P.n_views = nb
        for i in range(nb):
            _fill_view(&P.views[i], <_Bundle>bundles[i])
        P.action_rows = _row_ptrs(a_rows, self.nw)
        P.resource_rows = _row_ptrs(r_rows, self.nw)
        P.tag_rows = _row_ptrs(t_rows, self.nw)
        passed_offsets_arr = np.full(max(n, 1), -1, dtype=np.int64)
        cdef int64_t[::1] passed_offsets = passed_offsets_arr
        cdef const uint8_t *stmt_type = self.p_type
        cdef const uint8_t *stmt_effect = self.p_eff
        cdef const int16_t *stmt_level = self.p_lvl
        cdef _BundleView *view
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
                view = &P.views[bi[i]]
                d = c_decide_sparse(view, P.action_rows[ai[i]], P.resource_rows[ri[i]], P.tag_rows[ti[i]], NULL,
                                    stmt_type, stmt_effect, stmt_level, sm[i])
                if d == DEC_DEFER:
                    passed_offsets[i] = total
                    total += (view.k >> 6) + 1
                elif o != NULL:
                    o[i] = <uint8_t>d
        passed_words_arr = np.zeros(max(total, 1), dtype=_U64)
        cdef uint64_t[::1] passed_words = passed_words_arr
        cdef dict memo = self._memo()
        cdef _Bundle b
        cdef const uint64_t *action_row
        cdef const uint64_t *resource_row
        cdef const uint64_t *tag_row
        # Phase C: residual checks, once per candidate statement and distinct (context, resource).
        for i in range(n):
            if passed_offsets[i] < 0:
                continue
            b = bundles[bi[i]]
            action_row = P.action_rows[ai[i]]
            resource_row = P.resource_rows[ri[i]]
            tag_row = P.tag_rows[ti[i]]
            self._walk(b, action_row, resource_row, tag_row, envs[ti[i]], rstrs[ri[i]],
                       &passed_words[passed_offsets[i]], None, memo)
        P.passed_offsets = passed_offsets_arr
        P.passed_words = passed_words_arr
        if o == NULL:
            # Kept to be decided again: store the rows grouped (see _grouped_order), so that deciding reads every
            # column in sequence and only writes `out` through the order.
            order = _grouped_order(bi, ri, nb, len(r_rows))
            P.bundle_ids, P.action_ids, P.resource_ids = b_arr[order], a_arr[order], r_arr[order]
            P.tag_ids, P.same_account, P.passed_offsets = t_arr[order], same_arr[order], passed_offsets_arr[order]
            P.order = order
        if o != NULL:
            # Phase D for the deferred rows only.
            with nogil:
                for i in range(n):
                    if passed_offsets[i] >= 0:
                        d = c_decide_sparse(&P.views[bi[i]], P.action_rows[ai[i]], P.resource_rows[ri[i]],
                                            P.tag_rows[ti[i]], &passed_words[passed_offsets[i]],
                                            stmt_type, stmt_effect, stmt_level, sm[i])
                        # -1 cannot happen (phase C stored every deferred row's results); never an Allow on it
                        o[i] = <uint8_t>d if d >= 0 else DEC_ERROR
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
        if self.poisoned:
            out[:] = DEC_ERROR
            return
        cdef const uint32_t[::1] bi = P.bundle_ids, ai = P.action_ids, ri = P.resource_ids, ti = P.tag_ids
        cdef const uint8_t[::1] sm = P.same_account
        cdef const int64_t[::1] passed_offsets = P.passed_offsets
        cdef const uint64_t[::1] passed_words = P.passed_words
        if P.order is None:
            raise ValueError("the batch was decided when it was prepared and not kept")
        cdef const uint32_t[::1] order = P.order
        if order.shape[0] != n:
            raise ValueError("the batch's order is not of its length")
        # A row that still defers (it cannot: prepare stored every deferred row's results) is decided DEC_ERROR.
        with nogil:
            c_decide_rows(n, P.views, P.action_rows, P.resource_rows, P.tag_rows, &bi[0], &ai[0], &ri[0], &ti[0],
                          &sm[0], &passed_offsets[0], &passed_words[0], self.p_type, self.p_eff, self.p_lvl,
                          &order[0], &out[0])

    def poison(self, str reason):
        """Answer ERROR to every request from now on: part of the saved file this core was loaded from turned out
        damaged (``reason``) when it was first read.  Never undone; load the file again once it is repaired."""
        self.damage = reason
        self.poisoned = True

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
        cdef uint64_t cs = 0
        cdef int d
        if not self.poisoned:
            try:
                cs = self._stable_serial(context, 0)
            except _RequestError:
                cs = 0  # the slow path raises it, after the strings' checks
            if cs:
                d = self._probe(<PyObject *>principal_arn, <PyObject *>action, <PyObject *>resource_arn, cs)
                if d >= 0:
                    return d == DEC_ALLOW
            if type(context) is dict:
                # the slow path runs Python code: it decides one copy of the caller's dict, under that copy's serial
                context = PyDict_Copy(context)
                try:
                    cs = self._stable_serial(context, 0)
                except _RequestError:
                    cs = 0
            if cs:
                return self._decide_stable(self.resolver, principal_arn, action, resource_arn, context, cs,
                                           self.check_row) == DEC_ALLOW
        return self._decide(self.resolver, principal_arn, action, resource_arn, context, self.check_row) == DEC_ALLOW

    cdef int _probe(self, PyObject *p, PyObject *a, PyObject *r, uint64_t cs) noexcept nogil:
        """The decision of one row from the tables alone, or -1 when a table lacks it or it needs a residual
        check (``cs``: the context's stable serial)."""
        cdef const _PRec *pr
        cdef const _RRec *rr
        cdef const _ARec *ar
        cdef const uint64_t *trow
        cdef const _BundleView *bv
        cdef int same, d
        if not (_csrc.lxa_str_probeable(p) and _csrc.lxa_str_probeable(a) and _csrc.lxa_str_probeable(r)):
            return -1
        pr = <const _PRec *>_csrc.lxa_tab_get_str(&self.t_p, p)
        rr = <const _RRec *>_csrc.lxa_tab_get_str(&self.t_r, r)
        ar = <const _ARec *>_csrc.lxa_tab_get_str(&self.t_a, a)
        if pr == NULL or rr == NULL or ar == NULL:
            return -1
        bv = <const _BundleView *>_csrc.lxa_tab_get3(&self.t_b, pr.pid, rr.rslot_key, 0)
        trow = <const uint64_t *>_csrc.lxa_tab_get3(&self.t_e, cs, _env_key(cs, _COVERS_P, pr.tag_serial),
                                                    _env_key(cs, _COVERS_R, rr.tag_serial))
        if bv == NULL or trow == NULL:
            return -1
        same = pr.account != NULL and (rr.owner == NULL or _csrc.lxa_str_same(pr.account, rr.owner))
        d = c_decide_sparse(bv, ar.row, rr.row, trow, NULL, self.p_type, self.p_eff, self.p_lvl, same)
        if d < 0:
            d = self._decided(pr, rr, ar, cs)
        return d

    cdef int _decide_stable(self, resolver, p, a, r, raw, uint64_t cs, check) except -1:
        """:meth:`_decide` for a context of stable serial ``cs``: what it finds also goes into the tables."""
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        cdef bint residual = False
        pe, rent, ae, r = self._resolve(resolver, p, a, r, check)
        centry = self._ctx_entry(raw, 0)
        cdef _Bundle b = self._bundle_of(pe, rent)
        cdef int d = self._decide_with(b, pe, rent, ae, centry, r, cs, &residual)
        if residual:
            self._remember(p, a, r, cs, d)
        return d

    def explain_rows(self, list ps, list as_, list rs, contexts, accounts):
        """What each request found, for :meth:`lexauthz.engine.Engine.evaluate` and ``explain_batch``: per row
        ``(decision, bundle, matched statement ids, missing context keys, same account)``, the sparse kernel's
        answer; the missing keys are a set, or None when none is missing.  The strings are checked as
        :meth:`is_allowed` checks them; a bad context or account raises with the row's index in the path."""
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        cdef _EnvEntry ee
        cdef _Bundle b
        cdef int same, d
        cdef Py_ssize_t i, n = len(ps)
        cdef _BundleView view
        cdef list out = []
        cdef list matched
        if self.resolver is None:
            raise ValueError("the core is not bound to a resolver")
        if len(as_) != n or len(rs) != n or (contexts is not None and len(contexts) != n) or (
                accounts is not None and len(accounts) != n):
            raise ValueError("explain_rows: columns of different lengths")
        resolver = self.resolver
        check = self.check_row
        # the passed bits of one row (by local position), reused from row to row
        cdef uint64_t *passed = NULL
        cdef uint64_t *grown
        cdef size_t cap = 0, words
        try:
            for i in range(n):
                if self.poisoned:
                    out.append((DEC_ERROR, None, [], None, False))
                    continue
                pe, rent, ae, r = self._resolve(resolver, ps[i], as_[i], rs[i], check)
                centry = self._ctx_entry(contexts[i] if contexts is not None else None, i)
                acct = accounts[i] if accounts is not None else None
                if acct is not None and type(acct) is not str:
                    if not isinstance(acct, str):
                        raise _RequestError("E_BAD_RESOURCE_ACCOUNT", "`resource_account` must be a string",
                                            f"$[{i}].resource_account")
                    acct = _exact_str(acct)
                b = self._bundle_of(pe, rent)
                if b.errors:
                    out.append((DEC_ERROR, b, [], None, False))
                    continue
                if acct:
                    same = 1 if (pe.account is not None and pe.account == acct) else 0
                else:
                    same = _same_account(pe, rent)
                ee = self._env_entry(centry, pe, rent)
                action_row = _fptr(ae.row)
                resource_row = _fptr(rent.row)
                tag_row = _fptr(ee.trow)
                words = <size_t>(b.k >> 6) + 1
                if words > cap:
                    grown = <uint64_t *>realloc(passed, words * sizeof(uint64_t))
                    if grown == NULL:
                        raise MemoryError()
                    passed, cap = grown, words
                memset(passed, 0, words * sizeof(uint64_t))
                matched = []
                self._walk(b, action_row, resource_row, tag_row, ee.env, r, passed, matched, self._memo())
                _fill_view(&view, b)
                d = c_decide_sparse(&view, action_row, resource_row, tag_row, passed,
                                    self.p_type, self.p_eff, self.p_lvl, same)
                out.append((d if d >= 0 else DEC_ERROR, b, matched,
                            self._missing(b, action_row, resource_row, r, <_Env>ee.env), same == 1))
        finally:
            free(passed)
        return out

    cdef tuple _resolve(self, resolver, p, a, r, check):
        """``(principal entry, resource entry, action entry, resource)`` of one request; ``check(p, a, r)`` runs
        unless every string already has an entry (which only a checked string gets)."""
        if type(p) is not str or type(a) is not str or type(r) is not str:
            check(p, a, r)
            p, a, r = _exact_str(p), _exact_str(a), _exact_str(r)
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

    cdef int _walk(self, _Bundle b, const uint64_t *action_row, const uint64_t *resource_row,
                   const uint64_t *tag_row, env, str r,
                   uint64_t *passed, list matched, dict memo) except -1:
        """Phase C for one request: set the ``passed`` bit (by local position) of each candidate of ``b`` whose
        residual check passes; with ``matched``, also append every candidate that matches (its check, if any,
        passing)."""
        cdef Py_ssize_t j
        cdef uint32_t s
        for j in range(b.k):
            if matched is None and not (b.local_flags[j] & LF_NEEDS):
                continue
            s = b.stmts[j]
            if not (_csrc.lxa_bits_test(action_row, s) and _csrc.lxa_bits_test(resource_row, s)
                    and _csrc.lxa_bits_test(tag_row, s)):
                continue
            if b.local_flags[j] & LF_NEEDS:
                if not self._passes(s, env, r, memo):
                    continue
                _csrc.lxa_bits_set(passed, j)
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
        if self.poisoned:
            return DEC_ERROR
        pe, rent, ae, r = self._resolve(resolver, p, a, r, check)
        centry = self._ctx_entry(raw, 0)  # a malformed context is refused even where policy errors decide ERROR
        cdef _Bundle b = pe.bundle0 if (rent.rslot is None and pe.bundle0 is not None) else self._bundle_of(pe, rent)
        return self._decide_with(b, pe, rent, ae, centry, r, 0)

    cdef inline int _decided(self, const _PRec *pr, const _RRec *rr, const _ARec *ar, uint64_t cs) noexcept nogil:
        """A row's decision from the decision table (rows that needed a residual check), or -1."""
        if (ar.aid >> 32) or (cs >> 32):
            return -1
        cdef const void *v = _csrc.lxa_tab_get3(&self.t_d, pr.pid, rr.rid, (ar.aid << 32) | cs)
        return -1 if v == NULL else <int>(<uintptr_t>v) - 1

    cdef int _remember(self, p, a, r, uint64_t cs, int d) except -1:
        """Put the decision ``d`` of a row that needed a residual check in the decision table.

        A decision is a function of the three strings and the context's content (``cs``: equal contents always get
        it), so the key is the serials of the strings' records in the tables, which are never reused; a row whose
        records are not all in the tables (a table at its limit), an ERROR, or a serial past 32 bits is not kept,
        and the brute-force twin keeps none (it evaluates every condition every time)."""
        if not self.use_index or d < 0 or d > 2 or not cs or (cs >> 32):
            return 0
        if not (type(p) is str and type(a) is str and type(r) is str):
            return 0
        cdef const _PRec *pr = <const _PRec *>_csrc.lxa_tab_get_str(&self.t_p, <PyObject *>p)
        cdef const _RRec *rr = <const _RRec *>_csrc.lxa_tab_get_str(&self.t_r, <PyObject *>r)
        cdef const _ARec *ar = <const _ARec *>_csrc.lxa_tab_get_str(&self.t_a, <PyObject *>a)
        if pr == NULL or rr == NULL or ar == NULL or (ar.aid >> 32):
            return 0
        cdef uint64_t c = (ar.aid << 32) | cs
        if _csrc.lxa_tab_get3(&self.t_d, pr.pid, rr.rid, c) != NULL:
            return 0
        if _csrc.lxa_tab_put3(&self.t_d, pr.pid, rr.rid, c, <const void *>(<uintptr_t>(d + 1))) < 0:
            raise MemoryError()
        return 0

    cdef int _decide_with(self, _Bundle b, _PEntry pe, _REntry rent, _AEntry ae, tuple centry, str r,
                          uint64_t stable, bint *residual=NULL) except -1:
        """The decision of one request from its entries; with ``stable`` (the context's serial when equal contexts
        always get it), its bundle and environment also go into the batch path's tables.  ``residual`` is set when
        a candidate's residual check decided."""
        cdef _EnvEntry ee
        if stable:
            self._put_bundle(pe, rent, b)
        if b.errors:
            return DEC_ERROR
        ee = self._env_entry(centry, pe, rent)
        if stable:
            self._put3(&self.t_e, stable, _env_key(stable, _COVERS_P, pe.tag_serial),
                       _env_key(stable, _COVERS_R, rent.tag_serial), ee, _fptr(ee.trow))
        cdef int same = _same_account(pe, rent)
        cdef _BundleView view
        _fill_view(&view, b)
        cdef const uint64_t *action_row = _fptr(ae.row)
        cdef const uint64_t *resource_row = _fptr(rent.row)
        cdef const uint64_t *tag_row = _fptr(ee.trow)
        cdef int d = c_decide_sparse(&view, action_row, resource_row, tag_row, NULL,
                                     self.p_type, self.p_eff, self.p_lvl, same)
        if d >= 0:
            return d
        # Deferred: a candidate needs a residual check, and no Deny decided without one.
        if residual != NULL:
            residual[0] = True
        cdef uint64_t local[8]
        cdef Py_ssize_t words = (b.k >> 6) + 1
        cdef uint64_t *passed = &local[0]
        if words > 8:
            passed = <uint64_t *>malloc(words * sizeof(uint64_t))
        if passed == NULL:
            raise MemoryError()
        memset(passed, 0, words * sizeof(uint64_t))
        try:
            self._walk(b, action_row, resource_row, tag_row, ee.env, r, passed, None, self._memo())
            d = c_decide_sparse(&view, action_row, resource_row, tag_row, passed,
                                self.p_type, self.p_eff, self.p_lvl, same)
        finally:
            if passed != &local[0]:
                free(passed)
        return d if d >= 0 else DEC_ERROR

    cdef int _put_bundle(self, _PEntry pe, _REntry rent, _Bundle b) except -1:
        if rent.rec.rslot_key == UINT64_MAX:
            return 0
        if _csrc.lxa_tab_get3(&self.t_b, pe.rec.pid, rent.rec.rslot_key, 0) != NULL:
            return 0
        _fill_view(&b.view, b)
        return self._put3(&self.t_b, pe.rec.pid, rent.rec.rslot_key, 0, b, &b.view)

    # -- the string batch: table probes without the GIL -------------------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def decide_strings(self, resolver, list principals, list actions, list resources, contexts, uint8_t[::1] out,
                       Py_ssize_t start, Py_ssize_t stop, check_at, check_all):
        """Decide rows ``start:stop`` of string columns into ``out`` (the rows' slice).

        The columns must be lists nobody else holds (the engine's own copies): their items are read without the
        GIL.  Block by block (_BLOCK rows): with the GIL held, each row's dict context (of exact str, at most
        _GATHER_MAX items, each short) gives a copy of its items (the dict may change once the GIL is released);
        then, with the GIL released, each row is its context's content hash and probe, a few table probes and the
        kernel.  Rows with a string, context or combination not in the tables
        yet, an unusual context, or a candidate that needs a residual check (and no decision kept for the row, see
        ``_remember``) are decided afterwards with the GIL, which also puts what they found in the tables.
        ``check_at(p, a, r, i, which)`` checks the strings of row ``i`` that have no entry (``which``: 1 the
        principal, 2 the action, 4 the resource); on any :class:`RequestError`,
        ``check_all(principals, actions, resources)`` runs first, so the error is the one a check of every row's
        strings before any context gives.
        """
        cdef Py_ssize_t n = stop - start, j, slow = 0, used, cap = 2 * _BLOCK + _GATHER_MAX, m, b0, b1
        if out.shape[0] != n or start < 0 or n < 0 or (n and not (len(principals) >= stop and
                                                                  len(actions) >= stop and len(resources) >= stop)):
            raise ValueError("column lengths differ")
        if n == 0:
            return
        if self.poisoned:
            out[:] = DEC_ERROR
            return
        cs_arr = np.empty(n, dtype=_U64)
        cdef uint64_t[::1] cs = cs_arr
        cdef uint64_t empty = <uint64_t>(<Py_ssize_t>self.empty_ctx[1])
        cdef PyObject **P = _csrc.lxa_list_items(<PyObject *>principals) + start
        cdef PyObject **A = _csrc.lxa_list_items(<PyObject *>actions) + start
        cdef PyObject **R = _csrc.lxa_list_items(<PyObject *>resources) + start
        cdef _csrc.lxa_pair *kv = NULL   # a block's gathered items, copied (one buffer for every block)
        cdef _csrc.lxa_pair *grown
        cdef int64_t *kpos = NULL     # block row -> (first item's index in kv) << 8 | item count, or -1
        cdef bint listed = type(contexts) is list
        try:
            if listed:
                kv = <_csrc.lxa_pair *>malloc(cap * sizeof(_csrc.lxa_pair))
                kpos = <int64_t *>malloc(_BLOCK * sizeof(int64_t))
                if kv == NULL or kpos == NULL:
                    raise MemoryError()
            # Blocks of rows: each gathers its contexts with the GIL, then is decided without it; the buffers stay
            # small (in cache when the block reads them) and are reused.
            for b0 in range(0, n, _BLOCK):
                b1 = min(n, b0 + _BLOCK)
                used = 0
                if contexts is None:
                    for j in range(b0, b1):
                        cs[j] = empty
                elif listed:
                    for j in range(b0, b1):
                        kpos[j - b0] = -1
                        raw = _row_at(contexts, start + j)  # held while it is used
                        if raw is None:
                            cs[j] = empty
                            continue
                        if type(raw) is dict and len(<dict>raw):
                            if used + _GATHER_MAX > cap:
                                cap = 2 * cap
                                grown = <_csrc.lxa_pair *>realloc(kv, cap * sizeof(_csrc.lxa_pair))
                                if grown == NULL:
                                    raise MemoryError()
                                kv = grown
                            m = _copy_items(<dict>raw, &kv[used])
                            if m > 0:
                                kpos[j - b0] = (used << 8) | m
                                used += m
                                cs[j] = 0
                                continue
                        cs[j] = self._stable_serial(raw, start + j)
                else:
                    for j in range(b0, b1):
                        cs[j] = self._stable_serial(_row_at(contexts, start + j), start + j)
                if b1 - b0 >= 64:
                    with nogil:
                        slow += self._fast_rows(P + b0, A + b0, R + b0, &cs[b0], kv, kpos, &out[b0], b1 - b0)
                else:
                    slow += self._fast_rows(P + b0, A + b0, R + b0, &cs[b0], kv, kpos, &out[b0], b1 - b0)
            if slow:
                for j in range(n):
                    if out[j] == _SLOW:
                        raw = None
                        if contexts is not None:
                            # one copy of the row's dict for its serial (made here when not in the table yet) and
                            # its decision: the caller's dict may have changed since it was gathered
                            raw = _row_at(contexts, start + j)
                            if type(raw) is dict:
                                raw = PyDict_Copy(raw)
                            cs[j] = self._stable_serial(raw, start + j)
                        out[j] = self._slow_row(resolver, principals[start + j], actions[start + j],
                                                resources[start + j], raw, cs[j], start + j, check_at)
        except _RequestError:
            check_all(principals, actions, resources)
            raise
        finally:
            free(kv)
            free(kpos)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef Py_ssize_t _fast_rows(self, PyObject **P, PyObject **A, PyObject **R, uint64_t *cs, _csrc.lxa_pair *kv,
                               const int64_t *kpos, uint8_t *out, Py_ssize_t n) noexcept nogil:
        """Phase A and B of a string batch without the GIL: the rows found in the tables and decided without a
        residual check are written to ``out``; the others are marked _SLOW (their count is returned).  A row whose
        serial is 0 and whose context items were gathered (``kpos``) is first looked up by content in the context
        table; its serial is written to ``cs`` when found."""
        cdef Py_ssize_t i, slow = 0, m
        cdef const _PRec *pr
        cdef const _RRec *rr
        cdef const _ARec *ar
        cdef const uint64_t *trow
        cdef const _BundleView *bv
        cdef _csrc.lxa_pair *items
        cdef int same, d
        cdef uint64_t c
        cdef const uint8_t *stmt_type = self.p_type
        cdef const uint8_t *stmt_effect = self.p_eff
        cdef const int16_t *stmt_level = self.p_lvl
        if kpos != NULL:
            # contexts first, in a loop of their own: its rows are independent, so their misses overlap
            for i in range(n):
                if cs[i] == 0 and kpos[i] >= 0:
                    items = &kv[kpos[i] >> 8]
                    m = <Py_ssize_t>(kpos[i] & 0xFF)
                    cs[i] = _csrc.lxa_ctab_find(&self.t_c, _csrc.lxa_pairs_hash(items, m), items, m)
        for i in range(n):
            if i + _AHEAD < n:
                # the rows are independent: start loading a later row's first slots while this one waits on its own
                _csrc.lxa_tab_prefetch_str(&self.t_p, P[i + _AHEAD])
                _csrc.lxa_tab_prefetch_str(&self.t_r, R[i + _AHEAD])
                _csrc.lxa_tab_prefetch_str(&self.t_a, A[i + _AHEAD])
            c = cs[i]
            if not (c and _csrc.lxa_str_probeable(P[i]) and _csrc.lxa_str_probeable(A[i])
                    and _csrc.lxa_str_probeable(R[i])):
                out[i] = _SLOW
                slow += 1
                continue
            pr = <const _PRec *>_csrc.lxa_tab_get_str(&self.t_p, P[i])
            rr = <const _RRec *>_csrc.lxa_tab_get_str(&self.t_r, R[i])
            ar = <const _ARec *>_csrc.lxa_tab_get_str(&self.t_a, A[i])
            if pr == NULL or rr == NULL or ar == NULL:
                out[i] = _SLOW
                slow += 1
                continue
            bv = <const _BundleView *>_csrc.lxa_tab_get3(&self.t_b, pr.pid, rr.rslot_key, 0)
            trow = <const uint64_t *>_csrc.lxa_tab_get3(&self.t_e, c, _env_key(c, _COVERS_P, pr.tag_serial),
                                                        _env_key(c, _COVERS_R, rr.tag_serial))
            if bv == NULL or trow == NULL:
                out[i] = _SLOW
                slow += 1
                continue
            same = pr.account != NULL and (rr.owner == NULL or _csrc.lxa_str_same(pr.account, rr.owner))
            d = c_decide_sparse(bv, ar.row, rr.row, trow, NULL, stmt_type, stmt_effect, stmt_level, same)
            if d < 0:
                d = self._decided(pr, rr, ar, c)
            if d < 0:
                out[i] = _SLOW
                slow += 1
            else:
                out[i] = <uint8_t>d
        return slow

    cdef uint8_t _slow_row(self, resolver, p, a, r, raw, uint64_t stable, Py_ssize_t i, check_at) except 255:
        """One row of a string batch with the GIL: its entries (made, after ``check_at``, when missing), then
        :meth:`_decide_with`, which puts its bundle and environment in the tables when its context is stable."""
        cdef _PEntry pe
        cdef _REntry rent
        cdef _AEntry ae
        if type(p) is not str or type(a) is not str or type(r) is not str:
            check_at(p, a, r, i)
            p, a, r = _exact_str(p), _exact_str(a), _exact_str(r)
        pe = self.p_entries.get(p)
        rent = self.r_entries.get(r)
        ae = self.a_entries.get(a)
        if pe is None or rent is None or ae is None:
            # INVARIANT(checked): an entry exists only for a string that passed its check
            check_at(p, a, r, i, (pe is None) | (ae is None) << 1 | (rent is None) << 2)
            pe = self._p_entry(resolver, p)
            rent = self._r_entry(resolver, r)
            ae = self._a_entry(a)
        centry = self.empty_ctx if raw is None else self._ctx_entry(raw, i)
        cdef _Bundle b = self._bundle_of(pe, rent)
        cdef bint residual = False
        cdef int d = self._decide_with(b, pe, rent, ae, centry, r, stable, &residual)
        if residual and stable:
            self._remember(p, a, r, stable, d)
        return <uint8_t>d

    # -- explanations (single requests) ----------------------------------------------------------------------------

    cdef object _missing(self, _Bundle b, const uint64_t *action_row, const uint64_t *resource_row, str resource,
                         _Env env):
        """Context keys that statements whose action and resource matched referenced and the request lacks (a set,
        or None when none is missing).

        Collected from identity, named resource-policy, boundary, session and SCP statements: each clause's
        key when absent, the keys of policy variables in String*/Arn*/Bool values when absent, and the keys of
        variables in a Resource/NotResource value that has no value.
        """
        cdef set missing = None
        cdef const uint64_t *m = _fptr(b.missing_mask)
        cdef size_t w, s, nw = self.nw
        cdef uint64_t x
        ctx = env.ctx
        for w in range(nw):
            x = m[w] & action_row[w]
            while x:
                s = (w << 6) + <size_t>_ctz64(x)
                x &= x - 1
                info = self.plan.statements[s]
                if missing is None:
                    missing = set()
                if info.dynamic_resource:
                    # for a statement without policy variables in its Resource, the resource row bit is its
                    # static match
                    ok = self._residual(s).dyn.check(resource, ctx, missing)
                else:
                    ok = _csrc.lxa_bits_test(resource_row, s)
                if ok:
                    keys = self.missing_of.get(s)
                    if keys is None:
                        keys = self._missing_keys_of(s)
                    if type(ctx) is _Context:
                        items = ctx._items
                        for k in <tuple>keys:
                            if (<tuple>k)[1] not in items:
                                missing.add((<tuple>k)[0])
                    else:
                        for k in <tuple>keys:
                            if (<tuple>k)[0] not in ctx:
                                missing.add((<tuple>k)[0])
        return missing if missing else None

    cdef tuple _missing_keys_of(self, size_t s):
        """The keys statement ``s`` reports when a request lacks them, as ``(key, lower-cased key)`` pairs: each
        clause's key, and with policy variables the keys of those in String*/Arn*/Bool values (made once)."""
        cdef _Template tp
        info = self.plan.statements[s]
        out = []
        for clause in info.statement.condition:
            out.append(clause.key)
            if info.variables_enabled and clause.base in _VARIABLE_BASES:
                for v in clause.values:
                    tp = _Template(v, True)
                    out.extend(tp.keys)
        keys = tuple([(k, k.lower()) for k in dict.fromkeys(out)])
        self.missing_of[s] = keys
        return keys

    def stmt_type(self, Py_ssize_t s):
        return self._type_arr[s]


_VARIABLE_BASES = frozenset((
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool"))


@cython.boundscheck(False)
@cython.wraparound(False)
def _grouped_order(const uint32_t[::1] bi, const uint32_t[::1] ri, Py_ssize_t nb, Py_ssize_t nr):
    """A permutation of the rows grouped by bundle id, and within a bundle by resource id (two stable counting
    sorts, O(rows + ids)): a pre-encoded batch decided in this order walks each bundle's statements and each
    resource row while they are in cache."""
    cdef Py_ssize_t n = bi.shape[0], i, k
    if ri.shape[0] != n:
        raise ValueError("column lengths differ")
    tmp_arr = np.empty(n, dtype=np.uint32)
    out_arr = np.empty(n, dtype=np.uint32)
    rc_arr = np.zeros(nr + 1, dtype=np.int64)
    bc_arr = np.zeros(nb + 1, dtype=np.int64)
    cdef uint32_t[::1] tmp = tmp_arr, out = out_arr
    cdef int64_t[::1] rc = rc_arr, bc = bc_arr
    for i in range(n):
        if bi[i] >= nb or ri[i] >= nr:
            raise ValueError("row index out of range")
    with nogil:
        for i in range(n):
            rc[ri[i] + 1] += 1
        for k in range(nr):
            rc[k + 1] += rc[k]
        for i in range(n):
            tmp[rc[ri[i]]] = <uint32_t>i
            rc[ri[i]] += 1
        for i in range(n):
            bc[bi[i] + 1] += 1
        for k in range(nb):
            bc[k + 1] += bc[k]
        for k in range(n):
            i = tmp[k]
            out[bc[bi[i]]] = <uint32_t>i
            bc[bi[i]] += 1
    return out_arr


@cython.boundscheck(True)
@cython.wraparound(False)
cdef inline object _row_at(object column, Py_ssize_t i):
    """Row ``i`` of a column the caller owns (contexts, resource accounts), read bounds-checked: a batch runs Python
    code between rows, and another thread may change the caller's list meanwhile."""
    if type(column) is list and i >= PyList_GET_SIZE(column):
        raise RuntimeError("a batch column changed size during the batch")
    return column[i]


cdef inline str _exact_str(object s):
    """``s`` (a checked ``str``) as an exact ``str``: a subclass such as ``numpy.str_`` is copied."""
    return <str>s if type(s) is str else str.__str__(s)


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
    cdef size_t s = _csrc.lxa_bits_next(&mv[0], nw, 0)
    while s != SIZE_MAX:
        out.append(s)
        s = _csrc.lxa_bits_next(&mv[0], nw, s + 1)
    return out

