"""Synthetic CloudTrail for the replay tests: Lex events whose outcomes the reference evaluator decides.

Each event is a Lex call by one of the fixture account's principals, from an office or a home address, with or
without MFA, before or after the builder's cut-off date.  The generator derives the request context the way AWS's
documentation says the record carries it (``sourceIPAddress`` -> ``aws:SourceIp``, ``mfaAuthenticated`` ->
``aws:MultiFactorAuthPresent``, ``eventTime`` -> ``aws:CurrentTime``), translates the call with
:func:`lexauthz.lex.to_requests`, decides every request with the **reference** evaluator, and writes the record
with no error when all are allowed and ``AccessDenied`` / ``AccessDeniedException`` otherwise.  The replay under
test never sees these decisions: it must find them again from the record alone.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone

from lexauthz.lex import LexCall, call_decision, to_requests

ACCOUNT = "111122223333"
REGION = "us-east-1"
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "account.json")

#: (identity kind, caller ARN, issuer role ARN or None, principalId)
PRINCIPALS = [
    ("IAMUser", f"arn:aws:iam::{ACCOUNT}:user/ops/dana", None, "AIDAEXAMPLEDANA00001"),
    ("AssumedRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/LexOps/alice", f"arn:aws:iam::{ACCOUNT}:role/path/to/LexOps",
     "AROAEXAMPLELEXOPS001:alice"),
    ("AssumedRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/LexOps/bob", f"arn:aws:iam::{ACCOUNT}:role/path/to/LexOps",
     "AROAEXAMPLELEXOPS001:bob"),
    ("AssumedRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/ci", f"arn:aws:iam::{ACCOUNT}:role/Builder",
     "AROAEXAMPLEBUILDER01:ci"),
]

#: (V1?, eventName, requestParameters)
CALLS = [
    (False, "DescribeBot", {"botId": "PRODBOT001"}),
    (False, "DescribeBot", {"botId": "DEVBOT0001"}),
    (False, "UpdateBot", {"botId": "PRODBOT001", "botName": "Orders", "idleSessionTTLInSeconds": 300}),
    (False, "UpdateBot", {"botId": "DEVBOT0001", "botName": "Sandbox", "idleSessionTTLInSeconds": 300}),
    (False, "CreateBotVersion", {"botId": "DEVBOT0001",
                                 "botVersionLocaleSpecification": {"en_US": {"sourceBotVersion": "DRAFT"}}}),
    (False, "DeleteBot", {"botId": "DEVBOT0001", "skipResourceInUseCheck": False}),
    (False, "ListBotAliases", {"botId": "PRODBOT001"}),
    (False, "DeleteBotAlias", {"botId": "PRODBOT001", "botAliasId": "PRODALIAS1"}),
    (False, "CreateBot", {"botName": "NewBot", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/service/LexRuntime",
                          "dataPrivacy": {"childDirected": False}, "idleSessionTTLInSeconds": 300}),
    (False, "CreateBotAlias", {"botId": "DEVBOT0001", "botAliasName": "Beta", "botVersion": "1"}),
    (True, "GetBot", {"name": "OrderFlowers", "versionOrAlias": "Prod"}),
    (True, "GetBots", {}),
    (True, "GetBotAlias", {"botName": "OrderFlowers", "name": "Prod"}),
]

IPS = ["198.51.100.7", "198.51.100.200", "203.0.113.9"]
START = datetime(2026, 5, 20, tzinfo=timezone.utc)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(kind: str, caller: str, issuer: str | None, pid: str, mfa: bool) -> dict:
    if kind == "IAMUser":
        return {"type": "IAMUser", "principalId": pid, "arn": caller, "accountId": ACCOUNT,
                "accessKeyId": "AKIAEXAMPLE00000001", "userName": caller.rsplit("/", 1)[1]}
    return {"type": "AssumedRole", "principalId": pid, "arn": caller, "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE00000001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": pid.split(":")[0], "arn": issuer,
                                                 "accountId": ACCOUNT, "userName": issuer.rsplit("/", 1)[1]},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": "2026-05-20T00:00:00Z",
                                              "mfaAuthenticated": "true" if mfa else "false"}}}


def expected_outcome(account, kind, caller, v1, name, params, ip, mfa, t) -> str:
    """What the reference evaluator decides for the call the record describes: ``allowed`` or ``denied``."""
    ctx = {"aws:SourceIp": ip}
    if kind == "AssumedRole":
        ctx["aws:MultiFactorAuthPresent"] = "true" if mfa else "false"
    call = LexCall(operation=name, params=params, caller=caller, region=REGION, account=ACCOUNT,
                   api="lex-models" if v1 else "lexv2-models", context=ctx)
    reqs = to_requests(call, account.resources, account.principals, now=t)
    d = call_decision(account.evaluate(r, engine="reference").decision for r in reqs)
    return "allowed" if d.name == "ALLOW" else "denied"


def make_record(account, rng: random.Random, t: datetime) -> dict:
    kind, caller, issuer, pid = rng.choice(PRINCIPALS)
    v1, name, params = rng.choice(CALLS)
    ip, mfa = rng.choice(IPS), rng.random() < 0.5
    outcome = expected_outcome(account, kind, caller, v1, name, params, ip, mfa, t)
    rec = {"eventVersion": "1.09", "userIdentity": _identity(kind, caller, issuer, pid, mfa), "eventTime": _iso(t),
           "eventSource": "lex.amazonaws.com", "eventName": name, "awsRegion": REGION, "sourceIPAddress": ip,
           "userAgent": "aws-cli/2.15", "requestParameters": params, "responseElements": None,
           "requestID": str(uuid.UUID(int=rng.getrandbits(128))), "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
           "readOnly": name.startswith(("Describe", "List", "Get")), "eventType": "AwsApiCall",
           "managementEvent": True, "eventCategory": "Management", "recipientAccountId": ACCOUNT}
    if outcome == "denied":
        rec["errorCode"] = "AccessDenied" if v1 else "AccessDeniedException"
        rec["errorMessage"] = (f"User: {caller} is not authorized to perform: lex:{name} because no identity-based "
                               "policy allows the action")
    return rec


def generate(account, n: int, seed: int = 7) -> list[dict]:
    """``n`` records, one every few minutes from 2026-05-20 (so some fall after the builder's 2026-06-01 cut-off)."""
    rng = random.Random(seed)
    out = []
    t = START
    for _ in range(n):
        t = t + timedelta(minutes=rng.randint(1, 40))
        out.append(make_record(account, rng, t))
    return out


def other_service(rng: random.Random, t: datetime, arn: str, issuer: str | None = None) -> dict:
    ui = {"type": "AssumedRole" if issuer else "IAMUser", "arn": arn, "accountId": ACCOUNT, "principalId": "AIDAX"}
    if issuer:
        ui["sessionContext"] = {"sessionIssuer": {"type": "Role", "arn": issuer, "accountId": ACCOUNT}}
    return {"eventVersion": "1.09", "userIdentity": ui, "eventTime": _iso(t), "eventSource": "s3.amazonaws.com",
            "eventName": "ListBuckets", "awsRegion": REGION, "sourceIPAddress": "198.51.100.7",
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))), "recipientAccountId": ACCOUNT}


def write_trail(root: str, records: list[dict], per_file: int = 50) -> list[str]:
    """Write ``records`` as gzipped trail files under the S3 layout below ``root`` (plus a digest folder beside)."""
    paths = []
    for i in range(0, len(records), per_file):
        chunk = records[i:i + per_file]
        t = datetime.fromisoformat(chunk[0]["eventTime"].replace("Z", "+00:00"))
        folder = os.path.join(root, "AWSLogs", ACCOUNT, "CloudTrail", REGION, f"{t:%Y}", f"{t:%m}", f"{t:%d}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{ACCOUNT}_CloudTrail_{REGION}_{t:%Y%m%dT%H%M}Z_{i:016d}.json.gz")
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump({"Records": chunk}, fh)
        paths.append(path)
    digest = os.path.join(root, "AWSLogs", ACCOUNT, "CloudTrail-Digest", REGION, "2026", "05", "20")
    os.makedirs(digest, exist_ok=True)
    with gzip.open(os.path.join(digest, f"{ACCOUNT}_CloudTrail-Digest_{REGION}_x.json.gz"), "wt") as fh:
        json.dump({"digestStartTime": "2026-05-20T00:00:00Z", "logFiles": []}, fh)
    return paths


# -- session tags: an ABAC role whose sessions get their team from sts:AssumeRole session tags -----------------------

TEAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Team"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


SESSION_ACCOUNT = {
    "account": ACCOUNT, "region": REGION,
    "policies": {
        "TeamBots": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lex:DescribeBot", "Resource": f"arn:aws:lex:{REGION}:{ACCOUNT}:bot/*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]},
        "AssumeTeam": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": TEAM_ROLE}]}},
    "principals": {
        "users": [{"arn": ALICE, "userId": "AIDAALICE", "policies": ["AssumeTeam"]}],
        "roles": [{"arn": TEAM_ROLE, "roleId": "AROATEAM", "tags": {"team": "b"}, "policies": ["TeamBots"]}]},
    "resources": {"bots": [{"id": "BOTA000001", "name": "A", "tags": {"team": "a"}},
                           {"id": "BOTB000001", "name": "B", "tags": {"team": "b"}}]},
}


def session_account():
    """A role that may describe the bots of its principal's team (``aws:PrincipalTag/team``; the role's own tag is
    ``team=b``) and two bots, ``BOTA`` of team ``a`` and ``BOTB`` of team ``b`` (:data:`SESSION_ACCOUNT`)."""
    from lexauthz.account.native import account_from_dict

    return account_from_dict(SESSION_ACCOUNT)


def assume_role(akid: str, session: str, tags: list | None, caller: dict | None = None,
                t: str = "2026-05-20T08:00:00Z") -> dict:
    params = {"roleArn": TEAM_ROLE, "roleSessionName": session, "durationSeconds": 3600}
    if tags is not None:
        params["tags"] = [{"key": k, "value": v} for k, v in tags]
    return {"eventVersion": "1.08", "eventTime": t, "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "awsRegion": REGION, "sourceIPAddress": "198.51.100.7", "eventID": f"ev-assume-{session}",
            "recipientAccountId": ACCOUNT,
            "userIdentity": caller or {"type": "IAMUser", "principalId": "AIDAALICE", "arn": ALICE,
                                       "accountId": ACCOUNT, "accessKeyId": "AKIAALICE0000000001",
                                       "userName": "alice"},
            "requestParameters": params,
            "responseElements": {"credentials": {"accessKeyId": akid, "expiration": "May 20, 2026, 9:00:00 AM",
                                                 "sessionToken": "x"},
                                 "assumedRoleUser": {"assumedRoleId": f"AROATEAM:{session}",
                                                     "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Team/{session}"}}}


def session_call(akid: str, session: str, bot: str, denied: bool, t: str = "2026-05-20T08:05:00Z") -> dict:
    rec = {"eventVersion": "1.09", "eventTime": t, "eventSource": "lex.amazonaws.com", "eventName": "DescribeBot",
           "awsRegion": REGION, "sourceIPAddress": "198.51.100.7", "eventID": f"ev-{session}-{bot}",
           "recipientAccountId": ACCOUNT, "requestParameters": {"botId": bot},
           "userIdentity": {"type": "AssumedRole", "principalId": f"AROATEAM:{session}", "accountId": ACCOUNT,
                            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Team/{session}", "accessKeyId": akid,
                            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROATEAM",
                                                                 "arn": TEAM_ROLE, "accountId": ACCOUNT,
                                                                 "userName": "Team"},
                                               "attributes": {"creationDate": "2026-05-20T08:00:00Z",
                                                              "mfaAuthenticated": "false"}}}}
    if denied:
        rec["errorCode"] = "AccessDeniedException"
        rec["errorMessage"] = "not authorized"
    return rec


def session_trail(root: str) -> list[dict]:
    """Sessions of the Team role, the Lex calls before the sts:AssumeRole events in file order:

    - ``s1`` (tag ``team=a``): BOTA allowed, BOTB denied, as AWS decided with the session tag;
    - ``s2`` (no AssumeRole in the trail): BOTB allowed by the role's own tag;
    - ``s3``, made by role chaining with a tag: its tags stay unknown; BOTA allowed (the session tag did it).
    """
    chained = {"type": "AssumedRole", "principalId": "AROATEAM:s1", "accountId": ACCOUNT,
               "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Team/s1", "accessKeyId": "ASIAS1000000000001"}
    calls = [session_call("ASIAS1000000000001", "s1", "BOTA000001", False),
             session_call("ASIAS1000000000001", "s1", "BOTB000001", True),
             session_call("ASIAS2000000000002", "s2", "BOTB000001", False),
             session_call("ASIAS3000000000003", "s3", "BOTA000001", False)]
    sts = [assume_role("ASIAS1000000000001", "s1", [("team", "a")]),
           assume_role("ASIAS3000000000003", "s3", [("team", "a")], caller=chained)]
    folder = os.path.join(root, "AWSLogs", ACCOUNT, "CloudTrail", REGION, "2026", "05", "20")
    os.makedirs(folder, exist_ok=True)
    for name, recs in (("a-lex.json.gz", calls), ("b-sts.json.gz", sts)):
        with gzip.open(os.path.join(folder, name), "wt", encoding="utf-8") as fh:
            json.dump({"Records": recs}, fh)
    return calls + sts
