# C-level API of lexauthz._conditions for the engine core: `from lexauthz._conditions cimport ...`.

# Operator families.
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

# Comparisons of the Numeric* and Date* families.
cdef enum:
    C_EQ = 0
    C_LT = 1
    C_LE = 2
    C_GT = 3
    C_GE = 4

# Set qualifiers of a clause.
cdef enum:
    Q_NONE = 0
    Q_ANY_VALUE = 1     # ForAnyValue:
    Q_ALL_VALUES = 2    # ForAllValues:
    Q_UNKNOWN = 3       # any other qualifier: the clause never matches


# One comparison of a context value with a policy value: 1 true, 0 false, -1 not comparable (never a match, and it
# defeats a negated operator too).
cdef class _Clause:
    cdef int fam, comparison, qualifier
    cdef bint negated, if_exists, unknown
    cdef readonly str key
    cdef list templates  # String*, Arn*, Bool: one _Template per value
    cdef list parsed     # Numeric*, Date*, BinaryEquals, IpAddress: parsed policy values (None: not comparable)
    cdef bint null_true, null_false


cdef class _Env:
    cdef readonly object ctx
    cdef dict numbers, instants, addresses, binaries


cdef object _number(str s)
cdef object _instant(str s)
cdef object _b64(str s)
cdef object _network(str s)
cdef object _address(str s)
cdef int _compare_value(_Clause c, str cv, object pv, _Env env) except -2
cdef bint _clause_check(_Clause c, _Env env) except -1


cdef class _DynResource:
    cdef bint negative
    cdef list values     # raw text
    cdef list heads      # tokens of the part before the fifth colon (variables stay literal text)
    cdef list templates  # the resource part, variables resolved per request
    cdef int value_match(self, Py_ssize_t i, str resource, ctx) except -2
    cdef bint check(self, str resource, ctx, set missing) except -1


cdef class _Residual:

    cdef _DynResource dyn
    cdef list clauses       # residual clauses (with the index on)
    cdef list all_clauses   # every clause (with the index off)
    cdef bint check(self, _Env env, str resource, bint use_index) except -1
