"""Hypothesis strategies for the differential tests: catalog-aware policies, policy bundles and requests.

Small pools on purpose: policies and requests draw from the same actions, ARNs, keys and values, so statements
often match and every branch (deny, allow, boundary, session, SCP, cross-account) is reached.  Every pool also holds
strings no policy mentions (``lex:FrobnicateBot``, an unknown bot, an unknown tag value): the standing "unseen
strings" case.

Requests come in two kinds: drawn by hypothesis (shrinkable), and many more generated from a drawn seed with
``random.Random`` (cheap, so each policy bundle is checked against hundreds of requests).
"""
from __future__ import annotations

import random

from hypothesis import strategies as st

from lexauthz.account import PolicySet
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.policy.model import ConditionClause, PolicyDocument, Principal, Statement
from lexauthz.request import Request

ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1")

# Lex actions from the catalog, an action of another service, and unseen ones.
ACTIONS = (
    "lex:PostText", "lex:PostContent", "lex:RecognizeText", "lex:RecognizeUtterance", "lex:GetBot", "lex:GetBots",
    "lex:CreateBotVersion", "lex:DeleteBot", "lex:ListBots", "lex:StartConversation", "lex:PutSession",
    "s3:GetObject", "lex:FrobnicateBot", "lex:Ünïcode", "LEX:posttext",
)

def _catalog_actions(k: int = 12) -> tuple[str, ...]:
    """A fixed sample of the catalog's Lex actions (the package's own data)."""
    from lexauthz.catalog import load_catalog

    names = sorted(f"{a.service}:{a.name}" for a in load_catalog().actions("lex"))
    return tuple(names[:: max(1, len(names) // k)])


ACTIONS = ACTIONS + _catalog_actions()
ACTION_PATTERNS = (
    "*", "lex:*", "lex:Post*", "lex:Recognize*", "lex:Get*", "lex:*Bot", "lex:*Bots", "lex:Post?ext",
    "lex:posttext", "LEX:RECOGNIZETEXT", "lex:Get?ot", "s3:*", "lex:DeleteBot", "lex:*Session", "lex:??*",
    "lex:Frobnicate*", "lex:*ü*",
)

_NAMES = ("OrderFlowers", "BookTrip", "Unseen")
_IDS = ("BOT1", "BOT2", "ZZZ9")


def _arns():
    out = []
    for acct in ACCOUNTS:
        for region in REGIONS[:1] + (REGIONS[1],):
            out += [
                f"arn:aws:lex:{region}:{acct}:bot:{_NAMES[0]}",
                f"arn:aws:lex:{region}:{acct}:bot:{_NAMES[1]}:prod",
                f"arn:aws:lex:{region}:{acct}:bot/{_IDS[0]}",
                f"arn:aws:lex:{region}:{acct}:bot-alias/{_IDS[1]}/ALIAS1",
                f"arn:aws:lex:{region}:{acct}:intent:{_NAMES[2]}",
            ]
    return tuple(out) + ("*", "arn:aws:lex:us-east-1:111122223333:bot:alice_bot", "arn:aws:s3:::bucket/key",
                         "arn:aws:lex:us-east-1:111122223333:bot:a:b:c")


RESOURCES = _arns()
RESOURCE_PATTERNS = (
    "*", "arn:aws:lex:*:*:bot:*", "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers",
    "arn:aws:lex:*:111122223333:*", "arn:aws:lex:us-east-1:*", "arn:aws:lex:*:*:bot*", "arn:aws:lex:*:*:bot/*",
    "arn:aws:lex:*:*:bot-alias/BOT2/*", "arn:aws:lex:us-?ast-1:*:bot:*:prod", "arn:aws:lex:*:bot/BOT1",
    "arn:aws:*", "arn:aws:lex:eu-west-1:444455556666:bot:BookTrip:*", "arn:aws:s3:::bucket/*",
    "arn:aws:lex:*:*:bot:${aws:username}*", "arn:aws:lex:*:${aws:PrincipalAccount}:bot/*",
    "arn:aws:lex:*:*:bot:${aws:PrincipalTag/team, 'OrderFlowers'}", "arn:aws:lex:*:*:bot:${*}",
    "arn:aws:lex:*:*:${aws:ResourceTag/type}:*", "arn:aws:lex:us-east-1:111122223333:bot:a:*",
)

PRINCIPALS = tuple(
    p
    for acct in ACCOUNTS
    for p in (
        f"arn:aws:iam::{acct}:user/alice",
        f"arn:aws:iam::{acct}:user/team/bob",
        f"arn:aws:iam::{acct}:role/LexDev",
        f"arn:aws:sts::{acct}:assumed-role/LexDev/alice",
        f"arn:aws:sts::{acct}:federated-user/carol",
        f"arn:aws:iam::{acct}:root",
    )
) + ("lex.amazonaws.com", "arn:aws:iam::999988887777:user/mallory")

PRINCIPAL_VALUES = (
    "*", ACCOUNTS[0], ACCOUNTS[1], f"arn:aws:iam::{ACCOUNTS[0]}:root", f"arn:aws:iam::{ACCOUNTS[0]}:user/alice",
    f"arn:aws:iam::{ACCOUNTS[1]}:role/LexDev", f"arn:aws:iam::{ACCOUNTS[0]}:role/path/LexDev",
    f"arn:aws:sts::{ACCOUNTS[0]}:assumed-role/LexDev/alice", f"arn:aws:iam::{ACCOUNTS[1]}:user/team/bob",
)

# Condition keys and the values policies and contexts use for them (mixed types on purpose).
STRING_VALUES = ("ml", "ops", "Ml", "m*", "*", "o?s", "", "OrderFlowers", "alice", "${aws:username}",
                 "${aws:PrincipalTag/team}", "x${aws:username, 'dflt'}", "${*}", "ünï", "true", "FALSE", "10")
NUMBER_VALUES = ("10", "10.0", "-1", "1e1", ".5", "5.", "abc", "0010", "1e400", "٣", "+3")
DATE_VALUES = ("2024-01-01T00:00:00Z", "2024-01-01", "1704067200", "2024-02-30", "2023-12-31T23:00:00-01:00",
               "2024-01", "1704067200.5", "junk", "2024-01-01T00:00:00.5+0000")
IP_VALUES = ("10.0.0.1", "10.0.0.0/8", "192.168.1.1/32", "0.0.0.0/0", "2001:db8::1", "2001:db8::/32", "bad",
             "10.1.2.3/16", "::/0")
BOOL_VALUES = ("true", "false", "True", "yes")
BINARY_VALUES = ("QUJD", "QUJDRA==", "not base64!", "")
ARN_VALUES = (f"arn:aws:iam::{ACCOUNTS[0]}:user/alice", "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:*",
              "arn:aws:iam::${aws:PrincipalAccount}:role/LexDev", "arn:*:iam::*:role/Lex?ev", "not-an-arn",
              "arn:aws:iam::111122223333:user/a:b")

KEYS = {
    "aws:ResourceTag/team": STRING_VALUES,
    "aws:PrincipalTag/team": STRING_VALUES,
    "aws:RequestTag/env": STRING_VALUES,
    "aws:username": STRING_VALUES,
    "aws:PrincipalAccount": ACCOUNTS,
    "aws:ResourceTag/type": ("bot", "intent", "bot-alias"),
    "aws:SourceIp": IP_VALUES,
    "aws:CurrentTime": DATE_VALUES,
    "aws:EpochTime": NUMBER_VALUES,
    "lex:sessionTtl": NUMBER_VALUES,
    "aws:MultiFactorAuthPresent": BOOL_VALUES,
    "custom:Blob": BINARY_VALUES,
    "aws:PrincipalArn": ARN_VALUES,
    "aws:TagKeys": STRING_VALUES,
    "lex:associatedIntents": STRING_VALUES,
}
KEY_SPELLINGS = {k: (k, k.upper(), k.lower()) for k in KEYS}

BASES = {
    "string": ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike"),
    "number": ("NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
               "NumericGreaterThan", "NumericGreaterThanEquals"),
    "date": ("DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
             "DateGreaterThanEquals"),
    "bool": ("Bool",),
    "binary": ("BinaryEquals",),
    "ip": ("IpAddress", "NotIpAddress"),
    "arn": ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
    "null": ("Null",),
}
FAMILY_VALUES = {"string": STRING_VALUES, "number": NUMBER_VALUES, "date": DATE_VALUES, "bool": BOOL_VALUES,
                 "binary": BINARY_VALUES, "ip": IP_VALUES, "arn": ARN_VALUES, "null": ("true", "false", "TRUE")}
ALL_VALUES = tuple(sorted({v for vs in KEYS.values() for v in vs}))


@st.composite
def clauses(draw):
    """One condition clause: any operator family, qualifier and IfExists, on any key."""
    family = draw(st.sampled_from(sorted(BASES)))
    base = draw(st.sampled_from(BASES[family]))
    qualifier = draw(st.sampled_from((None, None, "ForAnyValue", "ForAllValues")))
    if_exists = draw(st.booleans()) if base != "Null" else False
    key = draw(st.sampled_from(sorted(KEYS)))
    key = draw(st.sampled_from(KEY_SPELLINGS[key]))
    pool = FAMILY_VALUES[family] + (KEYS[key.lower() if key.lower() in KEYS else key] if key in KEYS else ())
    values = tuple(draw(st.lists(st.sampled_from(sorted(set(pool))), min_size=0, max_size=3)))
    op = (f"{qualifier}:" if qualifier else "") + base + ("IfExists" if if_exists else "")
    return ConditionClause(op, base, qualifier, if_exists, key, values)


@st.composite
def statements(draw, *, with_principal=False):
    """One statement: Action or NotAction, Resource or NotResource, 0-3 clauses; a Principal when asked."""
    effect = draw(st.sampled_from(("Allow", "Allow", "Deny")))
    acts = tuple(draw(st.lists(st.sampled_from(ACTION_PATTERNS + ("*", "lex:*") * 3), min_size=1, max_size=3)))
    ress = tuple(draw(st.lists(st.sampled_from(RESOURCE_PATTERNS + ("*",) * 4), min_size=1, max_size=3)))
    not_action = draw(st.integers(0, 5)) == 0
    not_resource = draw(st.integers(0, 5)) == 0
    principal = not_principal = None
    if with_principal:
        if draw(st.integers(0, 5)) == 0:
            principal = Principal(wildcard=True)
        else:
            entries = (("AWS", tuple(draw(st.lists(st.sampled_from(PRINCIPAL_VALUES), min_size=1, max_size=3)))),)
            if draw(st.booleans()):
                entries += (("Service", (draw(st.sampled_from(("lex.amazonaws.com", "*", "s3.amazonaws.com"))),)),)
            principal = Principal(entries=entries)
        if draw(st.integers(0, 4)) == 0:
            principal, not_principal = None, principal
    return Statement(
        effect=effect,
        sid=draw(st.sampled_from((None, "S1", "Allow"))),
        action=None if not_action else acts,
        not_action=acts if not_action else None,
        resource=None if not_resource else ress,
        not_resource=ress if not_resource else None,
        principal=principal,
        not_principal=not_principal,
        condition=tuple(draw(clauses()) for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3))))),
    )


@st.composite
def documents(draw, *, with_principal=False, max_statements=4):
    """A policy document (Version 2012-10-17 mostly, sometimes 2008-10-17 or absent)."""
    stmts = draw(st.lists(statements(with_principal=with_principal), min_size=0, max_size=max_statements))
    if draw(st.integers(0, 3)) == 0:  # often a full allow, as FullAWSAccess is for SCPs
        stmts.append(Statement("Allow", action=("*",), resource=("*",),
                               principal=Principal(wildcard=True) if with_principal else None))
    stmts = tuple(Statement(**{**{f: getattr(s, f) for f in s.__dataclass_fields__}, "index": i})
                  for i, s in enumerate(stmts))
    version = draw(st.sampled_from(("2012-10-17", "2012-10-17", "2012-10-17", "2008-10-17", None)))
    return PolicyDocument(stmts, version)


@st.composite
def bundles(draw):
    """An :class:`ApplicablePolicies`: identity policies, and optionally a resource policy, boundary, session
    policy and SCP levels."""
    identity = tuple(NamedPolicy(f"identity[{i}]", d)
                     for i, d in enumerate(draw(st.lists(documents(), min_size=0, max_size=3))))
    resource = NamedPolicy("resource_policy", draw(documents(with_principal=True))) if draw(st.booleans()) else None
    boundary = NamedPolicy("permission_boundary", draw(documents())) if draw(st.integers(0, 2)) == 0 else None
    session = NamedPolicy("session_policy", draw(documents())) if draw(st.integers(0, 2)) == 0 else None
    scps = None
    if draw(st.integers(0, 2)) == 0:
        scps = tuple(tuple(NamedPolicy(f"scp[{lv}][{i}]", d)
                           for i, d in enumerate(draw(st.lists(documents(max_statements=2), min_size=0,
                                                               max_size=2))))
                     for lv in range(draw(st.integers(0, 3))))
    return ApplicablePolicies(identity, resource, boundary, session, scps)


@st.composite
def policy_sets(draw):
    """A random PolicySet over the pools above: principals (users and roles whose sessions resolve to them), a group,
    tagged resources with resource policies, and SCPs for one listed account (the other one is unlisted)."""
    ps = PolicySet()
    ps.add_group("devs", [NamedPolicy("group/devs#0", draw(documents()))])
    tag_values = KEYS["aws:PrincipalTag/team"]
    for arn in PRINCIPALS[:: draw(st.integers(1, 3))]:
        if arn.startswith("arn:aws:sts") or not arn.startswith("arn:"):
            continue
        ps.add_principal(
            arn,
            policies=[NamedPolicy(f"{arn}#{j}", d) for j, d in enumerate(draw(st.lists(documents(), max_size=2)))],
            tags={"team": draw(st.sampled_from(tag_values))} if draw(st.booleans()) else None,
            groups=["devs"] if draw(st.booleans()) else [],
            permissions_boundary=NamedPolicy(f"{arn}#pb", draw(documents())) if draw(st.integers(0, 3)) == 0 else None,
            session_policy=NamedPolicy(f"{arn}#sp", draw(documents())) if draw(st.integers(0, 3)) == 0 else None,
        )
    for arn in RESOURCES[:: draw(st.integers(2, 5))]:
        ps.add_resource(arn, tags={"team": draw(st.sampled_from(tag_values))} if draw(st.booleans()) else None,
                        policy=(NamedPolicy(f"{arn}#rp", draw(documents(with_principal=True)))
                                if draw(st.booleans()) else None))
    if draw(st.booleans()):
        ps.add_account(ACCOUNTS[0], ["ou-a", "ou-b"])
        for target in draw(st.lists(st.sampled_from(["root", "ou-a", "ou-b", ACCOUNTS[0], ACCOUNTS[1]]),
                                    max_size=4)):
            ps.add_scp(target, NamedPolicy(f"scp/{target}", draw(documents(max_statements=2))))
    return ps


def _context(rng: random.Random) -> dict:
    ctx = {}
    for key in rng.sample(sorted(KEYS), rng.randint(0, 6)):
        spelled = rng.choice(KEY_SPELLINGS[key])
        pool = KEYS[key] if rng.random() < 0.8 else ALL_VALUES
        r = rng.random()
        if r < 0.2:
            ctx[spelled] = [rng.choice(pool) for _ in range(rng.randint(0, 3))]
        else:
            ctx[spelled] = rng.choice(pool)
    return ctx


def random_request(rng: random.Random) -> Request:
    """A request from the pools (occasionally a resource account that differs from the ARN's)."""
    resource = rng.choice(RESOURCES)
    acct = rng.choice((None, None, None, ACCOUNTS[0], ACCOUNTS[1]))
    return Request(rng.choice(PRINCIPALS), rng.choice(ACTIONS), resource, acct, _context(rng))


@st.composite
def requests(draw):
    """A request drawn by hypothesis (shrinkable)."""
    return random_request(random.Random(draw(st.integers(0, 2**32 - 1))))
