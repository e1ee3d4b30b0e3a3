# cython: language_level=3, binding=True, embedsignature=True
"""Condition code: operators, value parsers, compiled clauses, and the residual check of a statement.

Its one job is to decide, per request, what the index could not: a statement's residual condition clauses and a
Resource with policy variables.  Mirrors :mod:`lexauthz.reference.conditions` (written independently; the
differential tests compare the two).  It works on Python objects with the GIL held: context values are read
through the case-insensitive Context mapping, and numbers, dates, IP addresses and base-64 values are parsed with
Python's decimal, ipaddress and base64 modules (policy values once, when a clause is compiled; context values once
per environment and value).
"""

from lexauthz._match cimport TOK_ANY, _Template, _text_tokens, _tok_fields, _tok_match

import base64
import binascii
import ipaddress
import re
from decimal import Decimal, InvalidOperation


# =================================================================================================================
# Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators")
# =================================================================================================================

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








    def __cinit__(self, clause, bint variables_enabled):
        spec = _OPERATORS.get(clause.base)
        self.key = clause.key_lower
        self.if_exists = clause.if_exists
        self.unknown = spec is None or (clause.base == "Null" and clause.if_exists)
        self.qualifier = {None: Q_NONE, "ForAnyValue": Q_ANY_VALUE, "ForAllValues": Q_ALL_VALUES}.get(
            clause.qualifier, Q_UNKNOWN)
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


cdef inline bint _no_request_values(value):
    """Whether a context value is the empty set a set qualifier ranges over: missing, an empty list, or ``""``."""
    return value is None or (type(value) is tuple and len(<tuple>value) == 0) or (type(value) is str
                                                                                 and len(<str>value) == 0)


cdef bint _clause_check(_Clause c, _Env env) except -1:
    """Whether clause ``c`` matches: the missing-key, set-qualifier and multivalued rules, then the values."""
    if c.unknown or c.qualifier == Q_UNKNOWN:
        return False
    value = env.ctx.get(c.key)
    # ...IfExists on a missing key matches, whatever the operator and qualifier (NullIfExists is unknown).
    if value is None and c.if_exists:
        return True
    cdef list pvs
    if c.qualifier != Q_NONE:
        # INVARIANT(qualifier-first): a set qualifier applies before the operator, for every operator, Null too:
        # with no request values ForAllValues is (vacuously) true and ForAnyValue false.
        if _no_request_values(value):
            return c.qualifier == Q_ALL_VALUES
        if c.fam == F_NULL:
            return c.null_false  # every member of a non-empty set is present (not null)
        pvs = c.templates if c.templates else c.parsed
        if c.qualifier == Q_ANY_VALUE:
            for v in (value if type(value) is tuple else (value,)):
                if _value_check(c, v, pvs, env):
                    return True
            return False
        for v in (value if type(value) is tuple else (value,)):
            if not _value_check(c, v, pvs, env):
                return False
        return True
    if c.fam == F_NULL:
        if value is None or (type(value) is tuple and len(value) == 0):
            return c.null_true
        return c.null_false
    if value is None:
        return c.negated
    if type(value) is tuple:
        return False  # a single-valued operator on a multivalued key never matches
    pvs = c.templates if c.templates else c.parsed
    return _value_check(c, value, pvs, env)


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





    cdef bint check(self, _Env env, str resource, bint use_index) except -1:
        if self.dyn is not None and not self.dyn.check(resource, env.ctx, None):
            return False
        for c in (self.clauses if use_index else self.all_clauses):
            if not _clause_check(<_Clause>c, env):
                return False
        return True

