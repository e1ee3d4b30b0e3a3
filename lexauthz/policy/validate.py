"""Validate a parsed policy against its policy type, the catalog and AWS's quotas.

Every finding is returned in one pass, never only the first.  The grammar checks come from the parser; this module
adds what needs to know the policy type (IAM User Guide, "IAM JSON policy elements reference"), the services'
actions and condition keys (:mod:`lexauthz.catalog`) and the size quotas ("IAM and AWS STS quotas").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable

from ..errors import Finding, ValidationResult
from ..findings import make_finding
from .model import VERSION_2012, ConditionClause, PolicyDocument, Statement
from .operators import OPERATOR_FAMILIES
from .parser import ParseResult, parse_policy

__all__ = ["POLICY_TYPES", "DEFAULT_SIZE_QUOTAS", "ValidationOptions", "validate_policy", "validate_document"]

#: The policy types lexauthz evaluates, with the names the corpus uses.
POLICY_TYPES = ("identity", "resource", "permissions_boundary", "session", "scp")

#: Characters (whitespace not counted), per policy type: IAM and AWS STS quotas
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html) and the Organizations quota for SCPs
#: (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).  An identity policy is
#: checked against the managed-policy quota (6,144); inline policies have their own (user 2,048, group 5,120, role
#: 10,240): pass ``size_quota`` to check one of those.  Session policies: 2,048 (the packed size is checked by STS).
#: Lex V2 resource-based policies: 20,480 characters ("Quotas" in the Lex V2 guide).
DEFAULT_SIZE_QUOTAS = MappingProxyType(
    {"identity": 6144, "permissions_boundary": 6144, "session": 2048, "scp": 5120, "resource": 20480}
)

_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ACTION_NAME_RE = re.compile(r"^[A-Za-z0-9*?]+$")
_SID_IDENTITY_RE = re.compile(r"^[A-Za-z0-9]*$")
_VARIABLE_RE = re.compile(r"\$\{[^}]*\}")
_TYPES_BY_FAMILY = {
    # condition operator family -> catalog key types it fits (IAM User Guide, "Condition operators")
    "String": {"String", "ArrayOfString", "ARN", "ArrayOfARN"},
    "Numeric": {"Numeric"},
    "Date": {"Date", "Numeric"},
    "Bool": {"Bool", "ArrayOfBool"},
    "Binary": {"String"},
    "IPAddress": {"IPAddress"},
    "ARN": {"ARN", "ArrayOfARN", "String", "ArrayOfString"},
}


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Switches for :func:`validate_policy`.

    ``size_quota`` overrides :data:`DEFAULT_SIZE_QUOTAS` for the policy's type (``0`` disables the check);
    ``check_catalog`` turns off the catalog checks (unknown actions and keys) for policies of other services.
    """

    size_quota: int | None = None
    check_catalog: bool = True


def validate_policy(source: Any, *, policy_type: str = "identity", options: ValidationOptions | None = None,
                    source_name: str | None = None) -> tuple[ParseResult, ValidationResult]:
    """Parse and validate one policy.

    Parameters
    ----------
    source:
        JSON text, bytes, a dict or a path (see :func:`lexauthz.policy.parse_policy`).
    policy_type:
        One of :data:`POLICY_TYPES`.

    Returns
    -------
    (ParseResult, ValidationResult)
        The parse result (whose document may be ``None``) and every finding, located in the text where possible.
    """
    if policy_type not in POLICY_TYPES:
        raise ValueError(f"unknown policy type `{policy_type}`: expected one of {', '.join(POLICY_TYPES)}")
    parsed = parse_policy(source, source_name=source_name)
    findings = list(parsed.findings)
    if parsed.document is not None:
        extra = validate_document(parsed.document, policy_type=policy_type, options=options,
                                  source_name=source_name, size=_policy_chars(parsed))
        findings.extend(parsed.locate(extra))
    findings.sort(key=lambda f: (f.line or 0, f.column or 0))
    return parsed, ValidationResult(tuple(findings))


def _policy_chars(parsed: ParseResult) -> int:
    """IAM counts policy size in characters, white space excluded."""
    if parsed.text is not None:
        return sum(1 for c in parsed.text if not c.isspace())
    return parsed.size


def validate_document(doc: PolicyDocument, *, policy_type: str = "identity", options: ValidationOptions | None = None,
                      source_name: str | None = None, size: int | None = None) -> tuple[Finding, ...]:
    """The findings of the policy-type, catalog and quota checks for a parsed document (grammar findings are the
    parser's)."""
    opts = options or ValidationOptions()
    v = _Validator(policy_type, opts, source_name)
    v.document(doc, size)
    return tuple(v.findings)


class _Validator:
    def __init__(self, policy_type: str, options: ValidationOptions, source_name: str | None):
        self.policy_type = policy_type
        self.options = options
        self.source_name = source_name
        self.findings: list[Finding] = []
        self._catalog = None

    @property
    def catalog(self):
        if self._catalog is None:
            from ..catalog import load_catalog

            self._catalog = load_catalog()
        return self._catalog

    def add(self, code: str, message: str, path: str) -> None:
        self.findings.append(make_finding(code, message, path=path, source=self.source_name))

    # ------------------------------------------------------------------------------------------------------------

    def document(self, doc: PolicyDocument, size: int | None) -> None:
        self._size(size)
        uses_variables = any(_VARIABLE_RE.search(t) for t in _all_strings(doc))
        if doc.version is None:
            if uses_variables:
                self.add("W_VARIABLE_WITHOUT_VERSION",
                         "policy has no `Version`: its policy variables are literal text; add `\"Version\": "
                         "\"2012-10-17\"`", "$")
            else:
                self.add("W_MISSING_VERSION", "policy has no `Version`: add `\"Version\": \"2012-10-17\"`", "$")
        elif doc.version != VERSION_2012 and uses_variables:
            self.add("W_VARIABLE_WITHOUT_VERSION",
                     f"`Version` is `{doc.version}`: policy variables are literal text", "$.Version")
        if not doc.statements:
            self.add("W_EMPTY_STATEMENT_LIST", "policy has no statements: it allows and denies nothing", "$.Statement")
        seen_sids: dict[str, str] = {}
        seen_statements: dict[tuple, str] = {}
        for st in doc.statements:
            self.statement(st)
            if st.sid is not None and st.sid != "":
                if st.sid in seen_sids:
                    self.add("W_DUPLICATE_SID", f"`Sid` `{st.sid}` is also used at `{seen_sids[st.sid]}`",
                             f"{st.path}.Sid")
                else:
                    seen_sids[st.sid] = st.path
            key = _statement_key(st)
            if key in seen_statements:
                self.add("W_REDUNDANT_STATEMENT", f"statement repeats `{seen_statements[key]}`", st.path)
            else:
                seen_statements[key] = st.path

    def _size(self, size: int | None) -> None:
        quota = self.options.size_quota
        if quota is None:
            quota = DEFAULT_SIZE_QUOTAS[self.policy_type]
        if not quota or size is None:
            return
        if size > quota:
            self.add("E_POLICY_TOO_LARGE",
                     f"policy has {size} characters without white space: the quota for a {self.policy_type} policy is "
                     f"{quota}", "$")
        elif size > quota * 0.9:
            self.add("W_POLICY_SIZE_NEAR_QUOTA",
                     f"policy has {size} characters without white space: within 10% of the quota of {quota}", "$")

    # ------------------------------------------------------------------------------------------------------------

    def statement(self, st: Statement) -> None:
        path = st.path
        if st.sid is not None:
            if st.sid == "":
                self.add("W_EMPTY_SID", "`Sid` is empty", f"{path}.Sid")
            elif self.policy_type != "resource" and not _SID_IDENTITY_RE.match(st.sid):
                self.add("W_INVALID_SID", f"`Sid` `{st.sid}` should hold only ASCII letters and digits",
                         f"{path}.Sid")
        has_principal = st.principal is not None or st.not_principal is not None
        if self.policy_type == "resource":
            if not has_principal:
                self.add("E_MISSING_PRINCIPAL", "a resource-based policy statement needs `Principal` or `NotPrincipal`",
                         path)
        elif has_principal:
            name = "Principal" if st.principal is not None else "NotPrincipal"
            self.add("E_PRINCIPAL_IN_IDENTITY_POLICY",
                     f"a {self.policy_type.replace('_', ' ')} policy cannot name a principal: remove `{name}`",
                     f"{path}.{name}")
        if st.resource is None and st.not_resource is None:
            self.add("E_MISSING_RESOURCE", "statement has neither `Resource` nor `NotResource`", path)
        for name, values in (("Action", st.action), ("NotAction", st.not_action)):
            if values is not None:
                self.actions(values, f"{path}.{name}", name)
        for name, values in (("Resource", st.resource), ("NotResource", st.not_resource)):
            if values is not None:
                self.resources(values, f"{path}.{name}", name)
        self.security(st)
        self.resource_types(st)
        self.conditions(st)

    def actions(self, values: tuple[str, ...], path: str, name: str) -> None:
        if not values:
            self.add("W_EMPTY_ARRAY", f"`{name}` is an empty array", path)
        for i, action in enumerate(values):
            apath = f"{path}[{i}]"
            if action == "*":
                continue
            service, sep, act = action.partition(":")
            if not sep or not act or not _SERVICE_RE.match(service.lower()) or not _ACTION_NAME_RE.match(act):
                self.add("E_INVALID_ACTION_FORMAT",
                         f"action `{action}` is not of the form `service:action` (wildcards `*` and `?` only in the "
                         "action name)", apath)
                continue
            if not self.options.check_catalog:
                continue
            cat = self.catalog
            if not cat.has_service(service):
                hint = _closest(service.lower(), sorted(cat.services()))
                msg = f"unknown service prefix `{service}` in `{action}`"
                if hint:
                    msg += f": did you mean `{hint}`"
                self.add("W_UNKNOWN_SERVICE", msg, apath)
                continue
            if "*" in act or "?" in act:
                if not cat.expand_action_pattern(action):
                    self.add("W_ACTION_MATCHES_NOTHING", f"`{action}` matches no `{service.lower()}` action", apath)
                continue
            if cat.action(action) is None:
                hint = cat.suggest_action(action)
                msg = f"unknown action `{action}`"
                if hint:
                    msg += f": did you mean `{hint}`"
                self.add("W_UNKNOWN_ACTION", msg, apath)

    def resources(self, values: tuple[str, ...], path: str, name: str) -> None:
        if not values:
            self.add("W_EMPTY_ARRAY", f"`{name}` is an empty array", path)
        for i, res in enumerate(values):
            rpath = f"{path}[{i}]"
            if res == "*":
                continue
            problem = _arn_problem(res)
            if problem is not None:
                self.add("E_INVALID_ARN", f"resource `{res}` is not `*` or an ARN: {problem}", rpath)
                continue
            if self.policy_type == "resource" and self.options.check_catalog:
                parts = res.split(":", 5)
                if parts[2] == "lex" and _is_v1_lex_resource(parts[5]):
                    self.add("W_V1_RESOURCE_POLICY",
                             f"`{res}` is a Lex V1 resource: the Lex V1 guide says V1 has no resource-based policies; "
                             "lexauthz evaluates it as given", rpath)

    def resource_types(self, st: Statement) -> None:
        """Lex only: warn when no action of the statement takes a resource of the ARN's shape (SAR resource types).
        Other services' ARN formats are matched only approximately by the catalog, so they are not checked."""
        if not self.options.check_catalog or st.action is None or st.resource is None:
            return
        cat = self.catalog
        infos = []
        for a in st.action:
            if a == "*" or "*" in a or "?" in a or not a.lower().startswith("lex:"):
                return
            info = cat.action(a)
            if info is None or not info.resource_types:
                return
            infos.append(info)
        takes = {rt.name for info in infos for rt in info.resource_types}
        for i, res in enumerate(st.resource):
            if res == "*" or "${" in res or _arn_problem(res) is not None or res.split(":", 5)[2] != "lex":
                continue
            shapes = cat.resource_types_for_arn(res)
            if shapes and not any(t.name in takes for t in shapes):
                names = ", ".join(sorted({t.name for t in shapes}))
                self.add("W_RESOURCE_TYPE_MISMATCH",
                         f"`{res}` is a {names} ARN, which none of the statement's actions takes "
                         f"({', '.join(sorted(takes))})", f"{st.path}.Resource[{i}]")

    def security(self, st: Statement) -> None:
        if st.effect != "Allow":
            return
        if st.not_action is not None and st.resource is not None and "*" in st.resource:
            self.add("W_ALLOW_NOT_ACTION_ALL_RESOURCES",
                     "`Allow` with `NotAction` on `*` grants every action of every service but those listed",
                     f"{st.path}.NotAction")
        if st.not_resource is not None:
            self.add("W_ALLOW_NOT_RESOURCE", "`Allow` with `NotResource` grants every resource but those listed",
                     f"{st.path}.NotResource")
        if st.action is not None and st.resource is not None and "*" in st.resource:
            for i, a in enumerate(st.action):
                if a.lower() in ("iam:passrole", "iam:*", "iam:pass*", "*"):
                    if a.lower() == "*" and self.policy_type != "identity":
                        continue
                    self.add("W_PASS_ROLE_WITH_STAR",
                             f"`{a}` on `*` lets the principal pass any role to a service: name the roles",
                             f"{st.path}.Action[{i}]")
                    break
        if self.policy_type == "resource" and st.principal is not None and not st.condition:
            p = st.principal
            if p.wildcard or "*" in p.values("AWS"):
                self.add("W_PUBLIC_RESOURCE_POLICY",
                         "`Principal` `*` with no `Condition` allows every AWS account", f"{st.path}.Principal")

    # ------------------------------------------------------------------------------------------------------------

    def conditions(self, st: Statement) -> None:
        for clause in st.condition:
            self.condition(st, clause)

    def condition(self, st: Statement, c: ConditionClause) -> None:
        key = c.key
        low = key.lower()
        if c.base not in OPERATOR_FAMILIES:
            return  # the parser reported the unknown operator
        self.condition_values(c)
        if not self.options.check_catalog or "${" in key:
            return
        if low.startswith("lex:resourcetag/"):
            self.add("W_NONSTANDARD_KEY",
                     f"`{key}` is not an AWS condition key: AWS never sets it, so it is always missing; the tag key "
                     f"is `aws:ResourceTag/{key.split('/', 1)[1]}`", c.path)
            return
        info = self.catalog.condition_key(key)
        if info is None:
            self.add("W_UNKNOWN_CONDITION_KEY", f"unknown condition key `{key}`", c.path)
            return
        family = OPERATOR_FAMILIES[c.base]
        if family != "Null" and info.type not in _TYPES_BY_FAMILY.get(family, {info.type}):
            self.add("W_OPERATOR_TYPE_MISMATCH",
                     f"operator `{c.operator}` compares {family.lower()} values but `{key}` is of type {info.type}",
                     c.path)
        if family != "Null":
            if info.is_multivalued and c.qualifier is None:
                self.add("W_SINGLE_VALUE_OPERATOR_ON_MULTIVALUED_KEY",
                         f"`{key}` is multivalued: use `ForAnyValue:{c.base}` or `ForAllValues:{c.base}`", c.path)
            elif not info.is_multivalued and c.qualifier is not None:
                self.add("W_SET_OPERATOR_ON_SINGLE_VALUED_KEY",
                         f"`{key}` is single-valued: `{c.qualifier}:` is meant for multivalued keys", c.path)
        self.key_applies(st, c)

    def key_applies(self, st: Statement, c: ConditionClause) -> None:
        if st.action is None:
            return  # NotAction: the statement covers nearly every action
        actions: list[str] = []
        for a in st.action:
            if a == "*":
                return
            if "*" in a or "?" in a:
                expanded = self.catalog.expand_action_pattern(a)
                actions.extend(f"{x.service}:{x.name}" for x in expanded)
            else:
                actions.append(a)
        verdicts = [self.catalog.condition_key_applies(a, c.key) for a in actions]
        if verdicts and all(v is False for v in verdicts):
            shown = ", ".join(f"`{a}`" for a in st.action)
            self.add("W_CONDITION_KEY_NOT_APPLICABLE",
                     f"`{c.key}` is not set for {shown}: the condition sees a missing key", c.path)

    def condition_values(self, c: ConditionClause) -> None:
        family = OPERATOR_FAMILIES[c.base]
        for i, value in enumerate(c.values):
            if "${" in value:
                continue
            problem = _value_problem(family, value)
            if problem:
                vpath = f"{c.path}[{i}]" if len(c.values) > 1 else c.path
                self.add("W_INVALID_CONDITION_VALUE",
                         f"`{value}` is not valid for `{c.operator}`: {problem}; it never matches", vpath)


# --------------------------------------------------------------------------------------------------------------------
# value checks
# --------------------------------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_EPOCH_RE = re.compile(r"^-?\d+$")
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def _value_problem(family: str, value: str) -> str | None:
    """Why a literal policy value can never be read by its operator, or ``None``."""
    if family == "Numeric":
        return None if _NUMBER_RE.match(value) else "expected a number"
    if family == "Date":
        return None if (_EPOCH_RE.match(value) or _ISO_RE.match(value)) else "expected an ISO 8601 date or epoch seconds"
    if family == "Bool":
        return None if value.lower() in ("true", "false") else "expected `true` or `false`"
    if family == "Null":
        return None if value.lower() in ("true", "false") else "expected `true` or `false`"
    if family == "IPAddress":
        import ipaddress

        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "expected an IPv4 or IPv6 address or CIDR block"
        return None
    if family == "Binary":
        import base64
        import binascii

        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "expected base64 text"
        return None
    return None


def _arn_problem(text: str) -> str | None:
    """Resource ARNs in policies: ``arn:partition:service:region:account:resource``, wildcards and variables allowed."""
    if not text.startswith("arn:"):
        return "an ARN starts with `arn:`"
    parts = text.split(":", 5)
    if len(parts) < 6:
        return "an ARN has six fields separated by `:`"
    if not parts[1]:
        return "the partition is empty"
    if not parts[2]:
        return "the service is empty"
    if parts[5] == "":
        return "the resource is empty"
    return None


def _is_v1_lex_resource(resource_part: str) -> bool:
    first = resource_part.split(":", 1)[0]
    return first in ("bot", "bot-channel", "intent", "slottype") and ":" in resource_part


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    m = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return m[0] if m else None


def _all_strings(doc: PolicyDocument) -> Iterable[str]:
    for st in doc.statements:
        for seq in (st.resource, st.not_resource):
            if seq:
                yield from seq
        for c in st.condition:
            yield c.key
            yield from c.values


def _statement_key(st: Statement) -> tuple:
    return (st.effect, st.action, st.not_action, st.resource, st.not_resource, st.principal, st.not_principal,
            tuple((c.operator, c.key_lower, c.values) for c in st.condition))
