# cython: language_level=3
"""Per-statement plan records as objects the cyclic garbage collector does not track.

A compiled engine keeps one :class:`StatementInfo` per statement for its lifetime: about a million at 10^6
statements.  As tracked objects they made every full collection of the process scan them (3.1 s for one full
collection with two such engines alive, run by the first allocation after a compile).  A record only refers to
its statement (a frozen policy-model object) and to tuples of ints, never back to anything that holds it, so it
can form no reference cycle, and reference counting alone frees it.
"""
cimport cython


@cython.no_gc
@cython.final
cdef class StatementInfo:
    """What the engine keeps of one statement besides the index rows (immutable)."""

    cdef readonly Py_ssize_t id
    cdef readonly Py_ssize_t slot
    cdef readonly object statement
    cdef readonly bint variables_enabled
    cdef readonly bint dynamic_resource
    cdef readonly tuple indexed_clauses  # positions in statement.condition decided by the tag index

    def __cinit__(self, Py_ssize_t id, Py_ssize_t slot, statement, bint variables_enabled, bint dynamic_resource,
                  tuple indexed_clauses):
        self.id = id
        self.slot = slot
        self.statement = statement
        self.variables_enabled = variables_enabled
        self.dynamic_resource = dynamic_resource
        self.indexed_clauses = indexed_clauses

    def _fields(self):
        return (self.id, self.slot, self.statement, self.variables_enabled, self.dynamic_resource,
                self.indexed_clauses)

    def __eq__(self, other):
        if type(other) is not StatementInfo:
            return NotImplemented
        return self._fields() == (<StatementInfo>other)._fields()

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return (f"StatementInfo(id={self.id}, slot={self.slot}, statement={self.statement!r}, "
                f"variables_enabled={self.variables_enabled}, dynamic_resource={self.dynamic_resource}, "
                f"indexed_clauses={self.indexed_clauses!r})")

    def __reduce__(self):
        return (StatementInfo, self._fields())
