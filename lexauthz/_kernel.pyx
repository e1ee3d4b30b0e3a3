# cython: language_level=3, binding=True, embedsignature=True
"""The decision kernel's home: decision, caller-kind, policy-type and effect codes, the bundle view and Prepared.

Its one job is the nogil decision over ids and bitset rows; the kernel itself (`c_decide_sparse`, `c_decide_rows`)
is `inline` in _kernel.pxd so that every module that cimports it runs it without a cross-module call.  Mirrors the
final combination step of :mod:`lexauthz.reference.evaluate`.  Imports nothing of lexauthz at run time.
"""

from enum import IntEnum

from libc.stdlib cimport free


class CallerKind(IntEnum):
    """Caller kind codes the kernel uses (``lxa_bundle_flags.kind``)."""

    USER = KIND_USER
    ROLE = KIND_ROLE
    ASSUMED_ROLE = KIND_ASSUMED_ROLE
    FEDERATED_USER = KIND_FEDERATED_USER
    ROOT = KIND_ROOT
    SERVICE = KIND_SERVICE
    OTHER = KIND_OTHER


#: Caller kind name (as :func:`lexauthz._match.caller_info` gives it) -> kind code.
KIND_CODES = {"user": KIND_USER, "role": KIND_ROLE, "assumed-role": KIND_ASSUMED_ROLE,
              "federated-user": KIND_FEDERATED_USER, "root": KIND_ROOT, "service": KIND_SERVICE,
              "other": KIND_OTHER}

#: Decision codes the kernel returns (lexauthz.decision.Decision values).
DECISION_CODES = {"implicit_deny": DEC_IMPLICIT_DENY, "allow": DEC_ALLOW, "explicit_deny": DEC_EXPLICIT_DENY,
                  "error": DEC_ERROR}


cdef class Prepared:
    """A batch encoded for the nogil kernel: per-row ids into tables of bundles and rows held here, and the residual
    results of every row that needed one (one bit per local statement position)."""

    def __cinit__(self):
        self.views = NULL
        self.action_rows = NULL
        self.resource_rows = NULL
        self.tag_rows = NULL

    def __dealloc__(self):
        free(self.views)
        free(<void *>self.action_rows)
        free(<void *>self.resource_rows)
        free(<void *>self.tag_rows)

    def __len__(self):
        return self.n
