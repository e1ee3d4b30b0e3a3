"""Access Analyzer-compatible custom policy checks, decided exactly over a finite request space, with witnesses.

:func:`check_no_new_access`, :func:`check_access_not_granted` and :func:`check_no_public_access` take the same inputs
as Access Analyzer's ``CheckNoNewAccess``, ``CheckAccessNotGranted`` and ``CheckNoPublicAccess`` and answer with
the same ``{result, message, reasons}`` (:meth:`CheckResult.to_dict`); ``witnesses`` lists the requests behind a
FAIL, each decided again by the reference evaluator (``verified``).

How a check is decided: the documents are compiled (as the identity policy of a caller, or as the resource policy
of each resource) and evaluated over a request space drawn from the documents themselves:

- actions: every Lex action of the catalog, every action the documents name, the catalog's expansion of every
  pattern, a name each pattern matches that the catalog does not know, and actions no document names;
- resources: ``*``, every ``Resource``/``NotResource`` value with its wildcards filled (``*`` region
  ``us-east-1``, ``*`` account the caller's, other wildcards a fresh name; policy variables a fixed value that the
  context then carries), and an ARN of every Lex resource type that no document names;
- principals (resource policies): every principal the documents name (in ``Principal`` and in ``aws:PrincipalArn``
  and ``aws:PrincipalAccount`` conditions), a member of each named account, a user of the resource's own account
  and one of an account no document names; a principal of another account than the resource's is given an identity
  policy that allows everything, so the resource policy alone decides its access;
- contexts: the witness contexts of :mod:`lexauthz.analysis.contexts` over the documents' conditions, with the
  principal's own keys (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalType``, ...) derived from the
  principal rather than generated.

A PASS therefore says no request of that space is newly allowed (or allowed, or public); the space holds a
representative of every equivalence class of each single pattern and condition operand, so it is the answer for
every request unless two conditions interact beyond the context limit (see ``docs/analysis.md``).  Access Analyzer
answers "might allow" from a sound over-approximation; where it says FAIL only because of that, lexauthz says PASS
and the known-differences file (``tests/analysis/fixtures/known_differences.toml``) records the case.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..decision import Decision
from ..errors import RequestError
from ..request import Request
from .contexts import condition_values
from .space import ANY_PRINCIPAL

__all__ = ["CheckResult", "check_no_new_access", "check_access_not_granted", "check_no_public_access",
           "POLICY_TYPES", "PUBLIC_RESOURCE_TYPES", "read_document"]

POLICY_TYPES = {"IDENTITY_POLICY": "identity", "RESOURCE_POLICY": "resource"}
#: The resource types ``check-no-public-access`` takes (an extension: Access Analyzer has no Lex type).
PUBLIC_RESOURCE_TYPES = {"AWS::Lex::Bot": "bot", "AWS::Lex::BotAlias": "bot alias"}

_ACCOUNT = "123456789012"
_OTHER = "210987654321"
_FRESH = "lexauthzfresh"
_VAR = "lexauthzvar"
_MAX_FILLS = 8  # literal regions and accounts a wildcard field is filled with, each
_PRINCIPAL_KEYS = ("aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid", "aws:username",
                   "aws:principalisawsservice", "aws:principalservicename")
# Keys an arbitrary outsider does not control: absent from the requests of the public-access check.
_RESTRICTING = _PRINCIPAL_KEYS + ("aws:principalorgid", "aws:principalorgpaths", "aws:sourceaccount",
                                  "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcevpc",
                                  "aws:sourcevpce", "aws:sourceip", "aws:vpcsourceip", "aws:calledvia",
                                  "aws:calledviafirst", "aws:calledvialast", "aws:viaawsservice")
_MAX_CONTEXTS = 64
_MAX_WITNESSES = 20
_VARIABLE = re.compile(r"\$\{([^{}]*)\}")

_MESSAGES = {
    ("no_new_access", "FAIL"): "The modified permissions grant new access compared to your existing policy.",
    ("no_new_access", "PASS"): "The modified permissions do not grant new access compared to your existing policy.",
    ("no_public_access", "FAIL"): "The resource policy grants public access for the given resource type.",
    ("no_public_access", "PASS"): "The resource policy does not grant public access for the given resource type.",
}


@dataclass
class CheckResult:
    """A check's answer: ``result`` (``PASS``/``FAIL``), ``message``, ``reasons`` (Access Analyzer's
    ``ReasonSummary``: ``description``, ``statementIndex``, ``statementId``) and the witness requests of a FAIL."""

    result: str
    message: str
    reasons: list = field(default_factory=list)
    witnesses: list = field(default_factory=list)
    cells: int = 0

    @property
    def passed(self) -> bool:
        return self.result == "PASS"

    def to_dict(self, *, witnesses: bool = False) -> dict:
        """AWS's response shape; with ``witnesses``, plus ``witnesses`` and ``requests_checked``."""
        out = {"result": self.result, "message": self.message, "reasons": list(self.reasons)}
        if witnesses:
            out["witnesses"] = list(self.witnesses)
            out["requests_checked"] = self.cells
        return out


# --------------------------------------------------------------------------------------------------------------------
# documents
# --------------------------------------------------------------------------------------------------------------------


def read_document(source: Any, policy_type: str, what: str):
    """Parse and validate a policy document (JSON text, or parsed JSON) as ``policy_type`` (``IDENTITY_POLICY`` or
    ``RESOURCE_POLICY``).

    Raises
    ------
    RequestError
        ``E_BAD_POLICY_TYPE``; the first ERROR finding of the document (its code, with the document and the JSON
        path, line and column).
    """
    from ..policy import validate_policy

    if policy_type not in POLICY_TYPES:
        raise RequestError("E_BAD_POLICY_TYPE", f"unknown policy type `{policy_type}`: use IDENTITY_POLICY or "
                           "RESOURCE_POLICY", "$.policyType")
    if isinstance(source, Mapping):
        source = json.dumps(source)
    parsed, result = validate_policy(source, policy_type=POLICY_TYPES[policy_type], source_name=what)
    errors = [f for f in (*parsed.findings, *result.findings) if f.severity.name == "ERROR"]
    if errors or parsed.document is None:
        f = errors[0] if errors else None
        where = f.path if f is not None else "$"
        if f is not None and getattr(f, "line", None):
            where = f"{where} (line {f.line}, column {f.column})"
        raise RequestError(f.code if f is not None else "E_BAD_POLICY",
                           f"{what}: {f.message if f is not None else 'not a policy document'}", f"{what}: {where}")
    return parsed.document


# --------------------------------------------------------------------------------------------------------------------
# the space of a check
# --------------------------------------------------------------------------------------------------------------------


def _fill_arn(value: str, region: str = "us-east-1", account: str = _ACCOUNT) -> str:
    value = _VARIABLE.sub(_VAR, value)
    if value == "*":
        return "*"
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return value.replace("*", _FRESH).replace("?", "x")
    defaults = ["arn", "aws", _FRESH, region, account]
    out = []
    for i, p in enumerate(parts[:5]):
        if p == "*" or (("*" in p or "?" in p) and i != 4):
            out.append(defaults[i] if p == "*" else p.replace("*", "").replace("?", "x") or defaults[i])
        elif "*" in p or "?" in p:
            out.append(account)
        else:
            out.append(p)
    out.append(parts[5].replace("*", _FRESH).replace("?", "x"))
    return ":".join(out)


def _fill_action(value: str) -> str:
    if ":" not in value:
        return f"{_FRESH}:{_FRESH.capitalize()}"
    svc, name = value.split(":", 1)
    svc = svc.replace("*", "").replace("?", "x") or _FRESH
    return f"{svc}:{name.replace('*', 'Lexauthzfresh').replace('?', 'X')}"


def _statements(docs):
    for d in docs:
        yield from d.statements


def _actions(docs, given: Sequence[str] | None) -> list[str]:
    from ..catalog import load_catalog

    cat = load_catalog()
    out: dict[str, None] = {}

    def expand(p: str) -> None:
        if "*" in p or "?" in p:
            for a in cat.expand_action_pattern(p):
                out.setdefault(f"{a.service}:{a.name}")
            out.setdefault(_fill_action(p))
        else:
            info = cat.action(p)
            out.setdefault(f"{info.service}:{info.name}" if info is not None else p)

    if given is not None:
        for p in given:
            expand(p)
        return list(out)
    for a in cat.actions("lex"):
        out.setdefault(f"{a.service}:{a.name}")
    for st in _statements(docs):
        for p in (st.action or ()) + (st.not_action or ()):
            expand(p)
    out.setdefault("lex:LexauthzUnlistedAction")
    out.setdefault(f"{_FRESH}:UnlistedAction")
    return list(out)


def _lex_type_arns(account: str) -> list[str]:
    from ..catalog import load_catalog

    out = []
    for rt in load_catalog().resource_types("lex"):
        for fmt in rt.arn_formats:
            arn = re.sub(r"\$\{(\w+)\}", lambda m: {"Partition": "aws", "Region": "us-east-1",
                                                   "Account": account}.get(m.group(1), "LEXAUTHZ"), fmt)
            out.append(arn)
    return out


def _resources(docs, given: Sequence[str] | None) -> list[str]:
    out: dict[str, None] = {}
    values = list(given) if given is not None else [v for st in _statements(docs)
                                                    for v in (st.resource or ()) + (st.not_resource or ())]
    # A wildcard region or account is filled with the default and with every literal region and account another
    # value writes, so that two patterns that meet only there (an Allow on `arn:aws:lex:*:*:bot:*`, a Deny on
    # NotResource `arn:aws:lex:*:111122223333:*`) are tried on a resource in both.
    regions = dict.fromkeys(["us-east-1"] + [v.split(":", 5)[3] for v in values if v.startswith("arn:")
                                              and v.count(":") >= 5 and "*" not in v.split(":", 5)[3]
                                              and "?" not in v.split(":", 5)[3] and v.split(":", 5)[3]])
    accounts = dict.fromkeys([_ACCOUNT] + _accounts_of(values))
    for v in values:
        if "*" not in v and "?" not in v and "${" not in v:
            out.setdefault(v)
        for region in list(regions)[:_MAX_FILLS]:
            for account in list(accounts)[:_MAX_FILLS]:
                out.setdefault(_fill_arn(v, region, account))
    if given is None:
        out.setdefault("*")
        for account in dict.fromkeys([*list(accounts)[:_MAX_FILLS], _OTHER]):
            for arn in _lex_type_arns(account):
                out.setdefault(arn)
    return [r for r in out if r == "*" or (r.startswith("arn:") and r.count(":") >= 5)]


def _accounts_of(values: Iterable[str]) -> list[str]:
    out: dict[str, None] = {}
    for v in values:
        if v.startswith("arn:"):
            parts = v.split(":", 5)
            if len(parts) == 6 and parts[4].isdigit() and len(parts[4]) == 12:
                out.setdefault(parts[4])
        elif v.isdigit() and len(v) == 12:
            out.setdefault(v)
    return list(out)


def _named_principals(docs) -> list[str]:
    out: dict[str, None] = {}
    arn_values = []
    for st in _statements(docs):
        for element in (st.principal, st.not_principal):
            if element is None or element.wildcard:
                continue
            for kind, values in element.entries:
                for v in values:
                    if kind == "AWS":
                        if v.isdigit() and len(v) == 12:
                            out.setdefault(f"arn:aws:iam::{v}:root")
                            arn_values.append(v)
                        elif v.startswith("arn:"):
                            filled = _fill_arn(v) if ("*" in v or "?" in v) else v
                            out.setdefault(filled)
                            arn_values.append(v)
                    elif kind == "Service":
                        out.setdefault(v.replace("*", _FRESH))
        for clause in st.condition:
            low = clause.key.lower()
            for v in clause.values:
                if "${" in v:
                    continue
                if low == "aws:principalarn" and v.startswith("arn:"):
                    out.setdefault(_fill_arn(v) if ("*" in v or "?" in v) else v)
                    arn_values.append(v)
                elif low == "aws:principalaccount" and v.isdigit():
                    arn_values.append(v)
    for acct in _accounts_of(arn_values):
        out.setdefault(f"arn:aws:iam::{acct}:user/{_FRESH}")
    return list(out)


def _principal_context(p: str) -> dict:
    """The keys a request by ``p`` carries about ``p`` itself (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ...)."""
    if not p.startswith("arn:"):
        return {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": p}
    parts = p.split(":", 5)
    acct, rest = parts[4], parts[5]
    ctx = {"aws:PrincipalAccount": acct, "aws:PrincipalIsAWSService": "false"}
    if parts[2] == "sts" and rest.startswith("assumed-role/"):
        role = rest.split("/")[1]
        ctx.update({"aws:PrincipalArn": f"arn:{parts[1]}:iam::{acct}:role/{role}", "aws:PrincipalType": "AssumedRole"})
    elif rest == "root":
        ctx.update({"aws:PrincipalArn": p, "aws:PrincipalType": "Account"})
    elif rest.startswith("role/"):
        ctx.update({"aws:PrincipalArn": p, "aws:PrincipalType": "AssumedRole"})
    else:
        ctx.update({"aws:PrincipalArn": p, "aws:PrincipalType": "User"})
        if rest.startswith("user/"):
            ctx["aws:username"] = rest.rsplit("/", 1)[-1]
    return ctx


def _contexts(docs, exclude: Sequence[str], limit: int = _MAX_CONTEXTS) -> list[dict]:
    from .contexts import witness_contexts

    class _Docs:  # the shape witness_contexts reads: an object with policies()
        def __init__(self, docs):
            from ..policy.applicable import NamedPolicy

            self._p = [NamedPolicy(f"doc{i}", d) for i, d in enumerate(docs)]

        def policies(self):
            return iter(self._p)

    var_keys: dict[str, None] = {}
    for st in _statements(docs):
        for v in (st.resource or ()) + (st.not_resource or ()):
            for m in _VARIABLE.finditer(v):
                key = m.group(1).split(",")[0].strip()
                if key and key not in ("*", "?", "$"):
                    var_keys.setdefault(key)
    ctxs = witness_contexts([_Docs(docs)], limit=limit, include_tags=True)
    drop = set(exclude)
    out = []
    seen = set()
    for c in ctxs:
        c = {k: v for k, v in c.items() if k.lower() not in drop}
        # a key a Resource/NotResource variable names is tried with the value the resources were filled with, and
        # absent (the variable then resolves to nothing, which can make a NotResource Deny stop applying)
        filled = dict(c)
        for k in var_keys:
            if k.lower() not in drop and k not in filled:
                filled[k] = _VAR
        for v in (filled, c):
            key = json.dumps(v, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(v)
    return out or [{}]


# --------------------------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------------------------


def _owner(resource: str) -> str | None:
    if resource == "*":
        return None
    acct = resource.split(":", 5)[4]
    return acct or None


def _caller(account: str | None) -> str:
    return f"arn:aws:iam::{account or _ACCOUNT}:user/lexauthz-caller"


def _callers(account: str | None) -> list[str]:
    """The callers an identity policy is tried as: a user and a role, since an identity policy attaches to both and
    their requests carry different keys (a role's has no ``aws:username``)."""
    return [_caller(account), f"arn:aws:iam::{account or _ACCOUNT}:role/lexauthz-caller"]


_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class _Side:
    """The accounts one document is evaluated in: as a caller's identity policy, or as every resource's policy
    (with principals of other accounts given an identity policy that allows everything)."""

    def __init__(self, doc, policy_type: str, principals: Sequence[str], resources: Sequence[str], name: str):
        from ..account import Account, PolicySet
        from ..policy.applicable import NamedPolicy

        self.policy_type = policy_type
        self.name = name
        named = NamedPolicy(name, doc)
        if policy_type == "IDENTITY_POLICY":
            ps = PolicySet()
            for p in principals:
                ps.add_principal(p, [named])
            self.same = self.cross = Account.from_policy_set(ps)
        else:
            same, cross = PolicySet(), PolicySet()
            for r in resources:
                if r != "*":
                    same.add_resource(r, policy=named)
                    cross.add_resource(r, policy=named)
            for p in principals:
                if p.startswith("arn:"):
                    cross.add_principal(p, [NamedPolicy("lexauthz-allow-all", _load(_ALLOW_ALL))])
            self.same, self.cross = Account.from_policy_set(same), Account.from_policy_set(cross)

    def account_for(self, principal: str, resource: str):
        if self.policy_type == "IDENTITY_POLICY" or not principal.startswith("arn:"):
            return self.same
        acct = principal.split(":", 5)[4]
        owner = _owner(resource)
        return self.same if owner is None or owner == acct else self.cross


def _load(data):
    from ..policy import load_policy

    return load_policy(json.dumps(data))


@dataclass
class _Rows:
    principals: list
    actions: list
    resources: list
    contexts: list


def _applies(actions: Sequence[str], resources: Sequence[str]) -> dict[str, list[str]]:
    """The actions each resource is requested with, as the catalog says AWS authorizes them: an action with
    resource types on ARNs of those types, an action without on ``*``; an action or ARN the catalog does not know
    with every resource."""
    from ..catalog import load_catalog

    cat = load_catalog()
    a_types: dict[str, frozenset | None] = {}
    for a in actions:
        info = cat.action(a)
        a_types[a] = None if info is None else frozenset(t.name for t in info.resource_types)
    out = {}
    for r in resources:
        r_types = None if r == "*" else frozenset(t.name for t in cat.resource_types_for_arn(r)) or None
        keep = []
        for a in actions:
            t = a_types[a]
            if t is None or (r != "*" and r_types is None):
                keep.append(a)
            elif r == "*":
                if not t:
                    keep.append(a)
            elif t & r_types:
                keep.append(a)
        out[r] = keep
    return out


def _rows(policy_type: str, principals, actions, resources, contexts) -> _Rows:
    P, A, R, C = [], [], [], []
    merged: dict[str, list[dict]] = {}
    n_c = len(contexts)
    per_resource = _applies(actions, resources)
    for r in resources:
        acts = per_resource[r]
        if not acts:
            continue
        n_a = len(acts)
        a_col = [a for a in acts for _ in range(n_c)]
        owner = _owner(r)
        whos = _callers(owner) + [p for p in principals if p.startswith("arn:") and _owner(p) == owner] \
            if policy_type == "IDENTITY_POLICY" else principals
        for p in dict.fromkeys(whos):
            ctxs = merged.get(p)
            if ctxs is None:
                pctx = _principal_context(p)
                ctxs = merged[p] = [{**c, **pctx} for c in contexts]
            P.extend([p] * (n_a * n_c))
            A.extend(a_col)
            R.extend([r] * (n_a * n_c))
            C.extend(ctxs * n_a)
    return _Rows(P, A, R, C)


def _decide(side: _Side, rows: _Rows) -> np.ndarray:
    out = np.empty(len(rows.principals), dtype=np.uint8)
    groups: dict[int, list[int]] = {}
    accounts = {}
    for i, (p, r) in enumerate(zip(rows.principals, rows.resources)):
        acc = side.account_for(p, r)
        accounts[id(acc)] = acc
        groups.setdefault(id(acc), []).append(i)
    for key, idx in groups.items():
        eng = accounts[key].engine()
        sel = np.asarray(idx)
        for start in range(0, len(idx), 1 << 18):
            part = idx[start:start + (1 << 18)]
            out[sel[start:start + len(part)]] = eng.evaluate_batch([rows.principals[i] for i in part],
                                                                   [rows.actions[i] for i in part],
                                                                   [rows.resources[i] for i in part],
                                                                   [rows.contexts[i] for i in part])
    return out


def _reason(kind: str, stmt, what: str) -> dict:
    idx = stmt.index
    if kind == "no_new_access":
        lead = "New access in the statement"
    elif kind == "no_public_access":
        lead = "Public access granted in the following statement"
    else:
        lead = f"One or more of the listed {what} in the statement"
    if stmt.sid:
        return {"description": f"{lead} with sid: {stmt.sid}.", "statementId": stmt.sid, "statementIndex": idx}
    return {"description": f"{lead} with index: {idx}.", "statementIndex": idx}


def _witnesses(kind: str, side: _Side, doc, rows: _Rows, hits: np.ndarray, verify, what: str = ""):
    """Reasons (the document's statements behind the hits) and verified witnesses."""
    idx = np.flatnonzero(hits)
    reasons: dict[int, dict] = {}
    wits = []
    seen_pairs: set = set()
    for i in idx.tolist():
        p, a, r, c = rows.principals[i], rows.actions[i], rows.resources[i], rows.contexts[i]
        req = Request(p, a, r, context=c)
        resp = side.account_for(p, r).evaluate(req)
        for ref in resp.matched_statements:
            if ref.policy == side.name and ref.effect == "Allow" and ref.index not in reasons:
                reasons[ref.index] = _reason(kind, doc.statements[ref.index], what)
        if (p, a, r) not in seen_pairs and len(wits) < _MAX_WITNESSES:
            seen_pairs.add((p, a, r))
            wits.append({"principal": "*" if p == ANY_PRINCIPAL else p, "action": a, "resource": r,
                         "context": c, "verified": bool(verify(req, p, r))})
        if len(reasons) == len(doc.statements) and len(wits) >= _MAX_WITNESSES:
            break
    return [reasons[k] for k in sorted(reasons)], wits


def _ref_allows(side: _Side, req: Request, p: str, r: str) -> bool:
    return side.account_for(p, r).evaluate(req, engine="reference").decision is Decision.ALLOW


def check_no_new_access(existing_policy_document: Any, new_policy_document: Any,
                        policy_type: str = "IDENTITY_POLICY") -> CheckResult:
    """``CheckNoNewAccess``: PASS when the new document allows no request the existing one denies.

    The documents are JSON text or parsed JSON; ``policy_type`` is ``IDENTITY_POLICY`` or ``RESOURCE_POLICY``.

    Raises
    ------
    RequestError
        For a bad policy type or a document with an ERROR finding (its code and location).
    """
    old = read_document(existing_policy_document, policy_type, "existingPolicyDocument")
    new = read_document(new_policy_document, policy_type, "newPolicyDocument")
    docs = [old, new]
    actions, resources = _actions(docs, None), _resources(docs, None)
    principals = _principals(docs, policy_type)
    rows = _rows(policy_type, principals, actions, resources, _contexts(docs, _PRINCIPAL_KEYS))
    s_old = _Side(old, policy_type, _row_principals(rows), resources, "existingPolicyDocument")
    s_new = _Side(new, policy_type, _row_principals(rows), resources, "newPolicyDocument")
    d_old, d_new = _decide(s_old, rows), _decide(s_new, rows)
    hits = (d_new == Decision.ALLOW) & (d_old != Decision.ALLOW)
    if not hits.any():
        return CheckResult("PASS", _MESSAGES[("no_new_access", "PASS")], cells=len(rows.principals))
    reasons, wits = _witnesses("no_new_access", s_new, new, rows, hits,
                               lambda req, p, r: _ref_allows(s_new, req, p, r) and not _ref_allows(s_old, req, p, r))
    return CheckResult("FAIL", _MESSAGES[("no_new_access", "FAIL")], reasons, wits, len(rows.principals))


def _principals(docs, policy_type: str) -> list[str]:
    if policy_type == "IDENTITY_POLICY":
        return [p for p in _named_principals(docs) if p.startswith("arn:")]
    out = dict.fromkeys(_named_principals(docs))
    out.setdefault(_caller(_ACCOUNT))
    out.setdefault(_caller(_OTHER))
    out.setdefault(ANY_PRINCIPAL)
    return list(out)


def _row_principals(rows: _Rows) -> list[str]:
    return list(dict.fromkeys(rows.principals))


def _parse_access(access: Any) -> tuple[list[str] | None, list[str] | None]:
    if isinstance(access, str):
        try:
            access = json.loads(access)
        except json.JSONDecodeError as exc:
            raise RequestError("E_BAD_ACCESS", f"--access is not JSON: {exc.msg.lower()}",
                               f"$.access (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(access, Mapping):
        access = [access]
    if not isinstance(access, list) or len(access) != 1 or not isinstance(access[0], Mapping):
        raise RequestError("E_BAD_ACCESS", "`access` must hold exactly one object of `actions` and/or `resources`",
                           "$.access")
    item = access[0]
    unknown = sorted(set(item) - {"actions", "resources"})
    if unknown:
        raise RequestError("E_BAD_ACCESS", f"unknown key `{unknown[0]}`: use actions and resources",
                           f"$.access[0].{unknown[0]}")
    out = []
    for key in ("actions", "resources"):
        v = item.get(key)
        if v is None:
            out.append(None)
            continue
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
            raise RequestError("E_BAD_ACCESS", f"`{key}` must be a non-empty list of strings", f"$.access[0].{key}")
        for i, x in enumerate(v):
            if key == "actions" and (x.count(":") != 1 or x.startswith(":") or x.endswith(":")):
                raise RequestError("E_BAD_ACTION", f"action `{x}` is not of the form `service:Action`",
                                   f"$.access[0].actions[{i}]")
            if key == "resources" and x != "*" and not (x.startswith("arn:") and x.count(":") >= 5):
                raise RequestError("E_BAD_RESOURCE", f"resource `{x}` is not an ARN", f"$.access[0].resources[{i}]")
        out.append(list(v))
    if out == [None, None]:
        raise RequestError("E_BAD_ACCESS", "`access` needs `actions`, `resources` or both", "$.access[0]")
    return out[0], out[1]


def check_access_not_granted(policy_document: Any, access: Any, policy_type: str = "IDENTITY_POLICY") -> CheckResult:
    """``CheckAccessNotGranted``: FAIL when the document allows one of the listed actions (on any resource), an
    action on one of the listed resources, or, with both, one of the actions on one of the resources.

    ``access`` is Access Analyzer's list of one ``{"actions": [...], "resources": [...]}`` object (or that object,
    or its JSON text); actions may be patterns (``lex:Delete*``), resources ARN patterns.

    Raises
    ------
    RequestError
        ``E_BAD_ACCESS``, ``E_BAD_ACTION``, ``E_BAD_RESOURCE``, and the codes of :func:`read_document`.
    """
    doc = read_document(policy_document, policy_type, "policyDocument")
    want_actions, want_resources = _parse_access(access)
    what = {(True, False): "actions", (False, True): "resources", (True, True): "actions or resources"}[
        (want_actions is not None, want_resources is not None)]
    docs = [doc]
    actions = _actions(docs, want_actions)
    resources = _resources(docs, want_resources) if want_resources is not None else _resources(docs, None)
    rows = _rows(policy_type, _principals(docs, policy_type), actions, resources,
                 _contexts(docs, _PRINCIPAL_KEYS))
    side = _Side(doc, policy_type, _row_principals(rows), resources, "policyDocument")
    hits = _decide(side, rows) == Decision.ALLOW
    if not hits.any():
        return CheckResult("PASS", f"The policy document does not grant access to perform the listed {what}.",
                           cells=len(rows.principals))
    reasons, wits = _witnesses("access_not_granted", side, doc, rows, hits,
                               lambda req, p, r: _ref_allows(side, req, p, r), what)
    return CheckResult("FAIL", f"The policy document grants access to perform one or more of the listed {what}.",
                       reasons, wits, len(rows.principals))


def check_no_public_access(policy_document: Any, resource_type: str) -> CheckResult:
    """``CheckNoPublicAccess`` for Lex resource policies (``AWS::Lex::Bot``, ``AWS::Lex::BotAlias``): FAIL when the
    policy allows some Lex action on a resource of that type to a principal of an account no document names, with
    none of the keys such a principal cannot choose (its organization, source account, ARN or VPC, its IP address)
    in the request.

    Raises
    ------
    RequestError
        ``E_UNSUPPORTED_RESOURCE_TYPE`` for any other type, and the codes of :func:`read_document`.
    """
    if resource_type not in PUBLIC_RESOURCE_TYPES:
        raise RequestError("E_UNSUPPORTED_RESOURCE_TYPE", f"resource type `{resource_type}`: lexauthz checks "
                           f"{' and '.join(PUBLIC_RESOURCE_TYPES)}", "$.resourceType")
    doc = read_document(policy_document, "RESOURCE_POLICY", "policyDocument")
    from ..catalog import load_catalog

    cat = load_catalog()
    rtype = PUBLIC_RESOURCE_TYPES[resource_type]
    resources = [r for r in _resources([doc], None) + _lex_type_arns(_ACCOUNT)
                 if r != "*" and any(t.name == rtype for t in cat.resource_types_for_arn(r))]
    resources = list(dict.fromkeys(resources))
    actions = [f"{a.service}:{a.name}" for a in cat.actions("lex")]
    rows = _rows("RESOURCE_POLICY", [ANY_PRINCIPAL], actions, resources, _contexts([doc], _RESTRICTING))
    side = _Side(doc, "RESOURCE_POLICY", [ANY_PRINCIPAL], resources, "policyDocument")
    hits = _decide(side, rows) == Decision.ALLOW
    if not hits.any():
        return CheckResult("PASS", _MESSAGES[("no_public_access", "PASS")], cells=len(rows.principals))
    reasons, wits = _witnesses("no_public_access", side, doc, rows, hits,
                               lambda req, p, r: _ref_allows(side, req, p, r))
    return CheckResult("FAIL", _MESSAGES[("no_public_access", "FAIL")], reasons, wits, len(rows.principals))
