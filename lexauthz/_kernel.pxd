# C-level API of lexauthz._kernel: `from lexauthz cimport _kernel` (or cimport names from it).
# The decision kernel and the bit tests are `inline` here, so a module that cimports them runs the nogil hot path
# with no call through another module's C-API capsule.

from libc.stdint cimport int16_t, int64_t, uint8_t, uint32_t, uint64_t

from lexauthz cimport _csrc

# Decision codes (lexauthz.decision.Decision).
cdef enum:
    DEC_IMPLICIT_DENY = 0
    DEC_ALLOW = 1
    DEC_EXPLICIT_DENY = 2
    DEC_ERROR = 3
    DEC_DEFER = -1      # the kernel could not decide without residual results

# Caller kinds (CallerKind / KIND_CODES in the Python module).
cdef enum:
    KIND_USER = 0
    KIND_ROLE = 1
    KIND_ASSUMED_ROLE = 2
    KIND_FEDERATED_USER = 3
    KIND_ROOT = 4
    KIND_SERVICE = 5
    KIND_OTHER = 6

# Policy types of a statement (lexauthz.compile.state stmt_type).
cdef enum:
    PT_IDENTITY = 0
    PT_RESOURCE = 1
    PT_BOUNDARY = 2
    PT_SESSION = 3
    PT_SCP = 4

# Statement effects (lexauthz.compile.state stmt_effect).
cdef enum:
    EFF_ALLOW = 1
    EFF_DENY = 2

# Local flags of a bundle's statement (one byte per local position).
cdef enum:
    LF_DIRECT = 1   # a resource-policy statement that names the caller directly (everyone, principal, service)
    LF_ROLE = 2     # ... that names the caller's role
    LF_NAMED = 4    # ... that names the caller at all
    LF_NEEDS = 8    # the statement needs a residual check (a condition the index could not decide, a dynamic Resource)

# The most SCP levels a bundle may have (one bit each in a uint64).
cdef enum:
    MAX_SCP_LEVELS = 64


# The per-request facts the decision kernel needs besides the matched statements.
ctypedef struct lxa_bundle_flags:
    int kind               # caller kind code (KIND_*)
    int boundary_active    # a permissions boundary applies (present, caller not root or a service)
    int session_active     # a session policy applies (present, caller a session principal)
    int scps_active        # SCPs apply (organization present, caller not a service)
    int n_levels           # SCP levels (<= MAX_SCP_LEVELS)


# A bundle as the nogil kernel sees it: its local view (sorted statement ids with LF_* flags) and its flags.
# INVARIANT(view-alive): the arrays behind `stmts` and `local_flags` are owned by a bundle the caller keeps alive.
cdef struct _BundleView:
    const uint32_t *stmts
    const uint8_t *local_flags
    Py_ssize_t k
    lxa_bundle_flags flags
    int err


cdef inline bint bit_test(const uint64_t *row, size_t i) noexcept nogil:
    return _csrc.lxa_bits_test(row, i)


# The decision kernel, over a bundle's local view: O(k) bit tests for a bundle of k statements.
# ``passed`` holds one bit per local position (the residual results of the LF_NEEDS candidates); when it is NULL and a
# candidate needs a residual check, the answer is DEC_DEFER unless an applying Deny already decides.
# INVARIANT(deny-first): an applying Deny in any policy type decides before any Allow is looked at.
# INVARIANT(rows-wide): action_row, resource_row and tag_row each have a bit for every statement id in the view.
cdef inline int c_decide_sparse(const _BundleView *b, const uint64_t *action_row, const uint64_t *resource_row,
                                const uint64_t *tag_row, const uint64_t *passed, const uint8_t *stmt_type,
                                const uint8_t *stmt_effect, const int16_t *stmt_level,
                                int same_account) noexcept nogil:
    cdef Py_ssize_t j
    cdef uint32_t s
    cdef uint8_t f
    cdef int id_allow = 0, b_allow = 0, s_allow = 0, direct = 0, role = 0, named = 0, deferred = 0
    cdef uint64_t levels = 0, want
    cdef int t, kind = b.flags.kind
    cdef int b_ok, s_ok, identity_side
    if b.err:
        return DEC_ERROR
    for j in range(b.k):
        s = b.stmts[j]
        if not (_csrc.lxa_bits_test(action_row, s) and _csrc.lxa_bits_test(resource_row, s)
                and _csrc.lxa_bits_test(tag_row, s)):
            continue
        f = b.local_flags[j]
        if f & LF_NEEDS:
            if passed == NULL:
                deferred = 1
                continue
            if not _csrc.lxa_bits_test(passed, j):
                continue
        if stmt_effect[s] == EFF_DENY:
            return DEC_EXPLICIT_DENY
        t = stmt_type[s]
        if t == PT_IDENTITY:
            id_allow = 1
        elif t == PT_RESOURCE:
            if f & LF_NAMED:
                named = 1
            if f & LF_DIRECT:
                direct = 1
            if f & LF_ROLE:
                role = 1
        elif t == PT_BOUNDARY:
            b_allow = 1
        elif t == PT_SESSION:
            s_allow = 1
        elif t == PT_SCP:
            if stmt_level[s] >= 0 and stmt_level[s] < MAX_SCP_LEVELS:
                levels |= (<uint64_t>1) << stmt_level[s]
    if deferred:
        return DEC_DEFER
    if kind == KIND_SERVICE:
        return DEC_ALLOW if direct else DEC_IMPLICIT_DENY
    if b.flags.scps_active:
        want = ((~(<uint64_t>0)) if b.flags.n_levels >= MAX_SCP_LEVELS
                else (((<uint64_t>1) << b.flags.n_levels) - 1))
        if (levels & want) != want:
            return DEC_IMPLICIT_DENY
    b_ok = (not b.flags.boundary_active) or b_allow
    s_ok = s_allow if b.flags.session_active else (kind != KIND_FEDERATED_USER)
    identity_side = (kind == KIND_ROOT) or (id_allow and b_ok and s_ok)
    if same_account:
        if direct or (role and b_ok and s_ok) or identity_side:
            return DEC_ALLOW
        return DEC_IMPLICIT_DENY
    return DEC_ALLOW if (identity_side and named) else DEC_IMPLICIT_DENY


# The id-level entry point: decide rows [0, n) of a batch encoded as ids into tables (a Prepared batch's fields).
# Row i is bundle views[bundle_ids[i]] with action_rows[action_ids[i]], resource_rows[resource_ids[i]] and
# tag_rows[tag_ids[i]]; its residual results are passed_words[passed_offsets[i]:] (offset -1: none needed).
# A row that would still defer is decided DEC_ERROR: never an Allow without its residual checks.  Rows are decided
# as stored; row i's answer goes to out[order[i]] (the columns are stored permuted by `order`, which keeps rows of
# one bundle and resource together so their statements and row words stay in cache), or to out[i] when it is NULL.
# INVARIANT(ids-checked): every id is < its table's length, every offset is in passed_words and `order` is a
# permutation (Core.prepare builds and checks them).
cdef inline void c_decide_rows(Py_ssize_t n, const _BundleView *views, const uint64_t **action_rows,
                               const uint64_t **resource_rows, const uint64_t **tag_rows,
                               const uint32_t *bundle_ids, const uint32_t *action_ids, const uint32_t *resource_ids,
                               const uint32_t *tag_ids, const uint8_t *same_account,
                               const int64_t *passed_offsets, const uint64_t *passed_words,
                               const uint8_t *stmt_type, const uint8_t *stmt_effect, const int16_t *stmt_level,
                               const uint32_t *order, uint8_t *out) noexcept nogil:
    cdef Py_ssize_t i
    cdef int d
    for i in range(n):
        d = c_decide_sparse(&views[bundle_ids[i]], action_rows[action_ids[i]], resource_rows[resource_ids[i]],
                            tag_rows[tag_ids[i]],
                            &passed_words[passed_offsets[i]] if passed_offsets[i] >= 0 else NULL,
                            stmt_type, stmt_effect, stmt_level, same_account[i])
        out[order[i] if order != NULL else i] = <uint8_t>d if d >= 0 else DEC_ERROR


cdef class Prepared:
    cdef readonly Py_ssize_t n
    cdef readonly object core
    cdef list refs          # keeps every bundle and row alive while the pointers below are used
    cdef _BundleView *views
    cdef const uint64_t **action_rows
    cdef const uint64_t **resource_rows
    cdef const uint64_t **tag_rows
    cdef Py_ssize_t n_views
    cdef readonly object bundle_ids, action_ids, resource_ids, tag_ids, same_account
    cdef readonly object passed_offsets, passed_words
    cdef readonly object order          # uint32 permutation of the rows, grouped by bundle then resource
