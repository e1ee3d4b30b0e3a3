"""Seeded synthetic Lex workloads: policy sets and request streams for the benchmarks.

Everything here is deterministic for a seed (``random.Random(seed)``, no global state, no clock), so two runs of the
suite time the same policies and the same requests, and the Cedar translation (:mod:`benchmarks.cedar`) sees exactly
what lexauthz sees.

The default workload (:func:`lex_workload`, size ``"M"``) is the one the issue describes:

- 1,000 principals (users and roles, alternately) in 50 teams; every principal carries the tag ``team``.
- Each principal has 1 to 5 identity policies: 0 to 3 drawn from a pool of shared managed policies plus inline ones.
  Each policy has 1 to 10 statements.
- About 12 % of statements are ``Deny``; about a quarter carry a tag condition on ``aws:ResourceTag/team`` or
  ``aws:PrincipalTag/team`` (``StringEquals`` with the ``${aws:PrincipalTag/team}`` variable or a literal,
  ``StringLike`` with a prefix, ``StringNotEquals`` on deny statements).
- Resource patterns range from exact bot and bot-alias ARNs over prefix wildcards (``bot/Team1*``) to ``*``.
- Requests use the Lex V2 actions whose resource is a bot or a bot alias, with the resource's ``team`` tag in the
  context.  A few percent of requests carry strings never seen at compile time: unknown principals, actions that
  are in no catalog (``lex:RecognizeTextV3``), bots of teams that do not exist, and tag values nobody wrote.

:func:`scaling_workload` builds the same shape at a given number of statements (the compile series), and
:func:`layered_workload` adds resource-based policies, permissions boundaries and SCPs.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

__all__ = [
    "ACCOUNT", "OTHER_ACCOUNT", "REGION", "Principal", "Requests", "Workload",
    "lex_actions", "lex_workload", "scaling_workload", "layered_workload", "SIZES",
]

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
VERSION = "2012-10-17"

#: Workload sizes: principals, requests.  ``M`` is the issue's workload.
SIZES = {"S": (100, 10_000), "M": (1_000, 100_000), "L": (5_000, 200_000)}

#: Actions no catalog lists: they must still match wildcards (``lex:Recognize*``, ``lex:*``) like any other.
UNSEEN_ACTIONS = ("lex:RecognizeTextV3", "lex:DescribeBotFuture", "lex:ListBotWidgets", "lex:DeleteBotEverything",
                  "lex:StartConversationLive")

_ACTION_WILDCARDS = ("lex:Describe*", "lex:List*", "lex:Recognize*", "lex:Get*", "lex:Update*", "lex:Create*",
                     "lex:*Session", "lex:Start*", "lex:Put*", "lex:Build*")
_DENY_WILDCARDS = ("lex:Delete*", "lex:Delete*", "lex:Update*", "lex:Create*", "lex:*")


@dataclass(frozen=True)
class Principal:
    """One IAM user or role: its ARN, team, tags and the names of its identity policies."""

    arn: str
    team: str
    tags: dict
    policies: tuple[str, ...]
    boundary: str | None = None


@dataclass(frozen=True)
class Requests:
    """A request stream as columns (what ``Engine.evaluate_batch`` takes)."""

    principals: list
    actions: list
    resources: list
    contexts: list

    def __len__(self) -> int:
        return len(self.principals)

    def head(self, n: int) -> "Requests":
        """The first ``n`` requests."""
        return Requests(self.principals[:n], self.actions[:n], self.resources[:n], self.contexts[:n])

    def rows(self):
        """``(principal, action, resource, context)`` tuples."""
        return zip(self.principals, self.actions, self.resources, self.contexts)


@dataclass
class Workload:
    """A generated policy set and request stream.

    ``policies`` maps a policy name to its JSON document (managed and inline alike); ``principals`` say which they
    attach.  ``resources`` holds resource records (ARN -> (tags, resource policy name or None)); ``scps`` is a list
    of ``(target, policy name)``.
    """

    seed: int
    principals: list
    policies: dict
    requests: Requests
    resources: dict = field(default_factory=dict)
    scps: list = field(default_factory=list)

    @property
    def n_statements(self) -> int:
        """Statements as attached: a shared policy counts once per principal that attaches it."""
        per = {name: len(doc["Statement"]) for name, doc in self.policies.items()}
        n = sum(per[p] for pr in self.principals for p in pr.policies)
        n += sum(per[pr.boundary] for pr in self.principals if pr.boundary)
        n += sum(per[pol] for _, pol in self.resources.values() if pol)
        n += sum(per[pol] for _, pol in self.scps)
        return n

    @property
    def n_distinct_statements(self) -> int:
        """Statements in distinct policy documents."""
        return sum(len(doc["Statement"]) for doc in self.policies.values())

    def policy_set(self):
        """The workload as a :class:`lexauthz.engine.PolicySet` (shared documents parsed once)."""
        from lexauthz.account import PolicySet
        from lexauthz.policy.applicable import NamedPolicy
        from lexauthz.policy.parser import parse_policy

        parsed = {}

        def named(name):
            if name not in parsed:
                res = parse_policy(self.policies[name], source_name=name)
                parsed[name] = NamedPolicy(name, res.document, tuple(res.findings))
            return parsed[name]

        ps = PolicySet()
        for p in self.principals:
            ps.add_principal(p.arn, [named(n) for n in p.policies], tags=p.tags,
                             permissions_boundary=named(p.boundary) if p.boundary else None)
        for arn, (tags, pol) in self.resources.items():
            ps.add_resource(arn, tags=tags, policy=named(pol) if pol else None)
        for target, pol in self.scps:
            ps.add_scp(target, named(pol), name=pol)
        return ps


# =================================================================================================================
# Catalog facts
# =================================================================================================================


@functools.lru_cache(maxsize=1)
def lex_actions() -> dict:
    """Lex V2 actions whose resource is a bot or a bot alias: ``{"bot": [...], "alias": [...], "both": [...]}``."""
    from lexauthz.catalog import load_catalog

    out: dict = {"bot": [], "alias": [], "both": []}
    for a in load_catalog().actions("lex"):
        row = a.row("V2")
        if row is None:
            continue
        kinds = {t.name for t in row.resource_types}
        if kinds == {"bot"}:
            out["bot"].append(a.full_name)
        elif kinds == {"bot alias"}:
            out["alias"].append(a.full_name)
        elif kinds == {"bot", "bot alias"}:
            out["both"].append(a.full_name)
    for v in out.values():
        v.sort()
    return out


def bot_arn(bot: str, region: str = REGION, account: str = ACCOUNT) -> str:
    """``arn:aws:lex:REGION:ACCOUNT:bot/BOT``."""
    return f"arn:aws:lex:{region}:{account}:bot/{bot}"


def alias_arn(bot: str, alias: str, region: str = REGION, account: str = ACCOUNT) -> str:
    """``arn:aws:lex:REGION:ACCOUNT:bot-alias/BOT/ALIAS``."""
    return f"arn:aws:lex:{region}:{account}:bot-alias/{bot}/{alias}"


# =================================================================================================================
# Statements
# =================================================================================================================


class _Gen:
    def __init__(self, seed: int, n_teams: int, bots_per_team: int = 4, aliases_per_bot: int = 2):
        self.rng = random.Random(seed)
        self.n_teams = n_teams
        self.teams = [f"Team{k}" for k in range(1, n_teams + 1)]
        self.bots = {t: [f"{t}Bot{j}" for j in range(1, bots_per_team + 1)] for t in self.teams}
        self.aliases = [f"Alias{j}" for j in range(1, aliases_per_bot + 1)]
        acts = lex_actions()
        self.all_actions = acts["bot"] + acts["alias"] + acts["both"]

    def action(self, deny: bool):
        r = self.rng.random()
        if deny:
            if r < 0.6:
                return self.rng.choice(_DENY_WILDCARDS)
            return self.rng.choice(self.all_actions)
        if r < 0.35:
            return self.rng.choice(self.all_actions)
        if r < 0.60:
            return self.rng.sample(self.all_actions, self.rng.randint(2, 4))
        if r < 0.92:
            return self.rng.choice(_ACTION_WILDCARDS)
        return "lex:*"

    def resource(self, team: str):
        rng = self.rng
        r = rng.random()
        bot = rng.choice(self.bots[team])
        if r < 0.25:
            return bot_arn(bot)
        if r < 0.40:
            return alias_arn(bot, rng.choice(self.aliases))
        if r < 0.50:
            return [bot_arn(bot), alias_arn(bot, "*")]
        if r < 0.68:
            return f"arn:aws:lex:{REGION}:{ACCOUNT}:bot/{team}*"
        if r < 0.78:
            return f"arn:aws:lex:*:{ACCOUNT}:bot-alias/{team}*"
        if r < 0.86:
            return f"arn:aws:lex:*:{ACCOUNT}:bot/*"
        return "*"

    def condition(self, deny: bool, team: str):
        rng = self.rng
        r = rng.random()
        if deny:
            if r < 0.5:
                return {"StringNotEquals": {"aws:ResourceTag/team": team}}
            return {"StringEquals": {"aws:PrincipalTag/team": rng.choice(self.teams)}}
        if r < 0.45:
            return {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
        if r < 0.65:
            return {"StringEquals": {"aws:ResourceTag/team": [team, rng.choice(self.teams)]}}
        if r < 0.85:
            return {"StringLike": {"aws:ResourceTag/team": f"{team[:5]}{rng.randint(1, 4)}*"}}
        return {"StringEquals": {"aws:PrincipalTag/team": team}}

    def statement(self, team: str, sid: str) -> dict:
        deny = self.rng.random() < 0.12
        st = {"Sid": sid, "Effect": "Deny" if deny else "Allow", "Action": self.action(deny),
              "Resource": self.resource(team)}
        if self.rng.random() < 0.25:
            st["Condition"] = self.condition(deny, team)
        return st

    def policy(self, team: str, max_statements: int = 10) -> dict:
        n = self.rng.randint(1, max_statements)
        return {"Version": VERSION, "Statement": [self.statement(team, f"S{i}") for i in range(n)]}


# =================================================================================================================
# Requests
# =================================================================================================================


def _requests(g: _Gen, principals: list, n: int, *, accounts=(ACCOUNT,)) -> Requests:
    rng = g.rng
    acts = lex_actions()
    P, A, R, C = [], [], [], []
    for _ in range(n):
        x = rng.random()
        if x < 0.97:
            p = rng.choice(principals)
            arn, team = p.arn, p.team
        else:
            k = rng.randint(1, 10**6)
            arn, team = f"arn:aws:iam::{ACCOUNT}:user/ghost{k}", rng.choice(g.teams)
        y = rng.random()
        if y < 0.04:
            action, kind = rng.choice(UNSEEN_ACTIONS), rng.choice(("bot", "alias"))
        else:
            kind = rng.choices(("bot", "alias", "both"), (0.55, 0.35, 0.10))[0]
            action = rng.choice(acts[kind])
            if kind == "both":
                kind = rng.choice(("bot", "alias"))
        z = rng.random()
        if z < 0.6:
            owner = team
        elif z < 0.92:
            owner = rng.choice(g.teams)
        else:
            owner = f"Team{rng.randint(g.n_teams + 1, g.n_teams + 50)}"  # a team nobody wrote a policy for
        bot = rng.choice(g.bots[owner]) if owner in g.bots else f"{owner}Bot{rng.randint(1, 9)}"
        if rng.random() < 0.03:
            bot = f"{owner}Bot{rng.randint(50, 99)}"  # a bot created after compile time
        account = accounts[0] if len(accounts) == 1 or rng.random() < 0.8 else rng.choice(accounts[1:])
        if kind == "bot":
            res = bot_arn(bot, account=account)
        else:
            res = alias_arn(bot, rng.choice(g.aliases + ["TSTALIASID"]), account=account)
        w = rng.random()
        if w < 0.75:
            ctx = {"aws:ResourceTag/team": owner}
        elif w < 0.80:
            ctx = {"aws:ResourceTag/team": f"Squad{rng.randint(1, 99)}"}  # a tag value nobody wrote
        else:
            ctx = {}
        P.append(arn)
        A.append(action)
        R.append(res)
        C.append(ctx)
    return Requests(P, A, R, C)


# =================================================================================================================
# Workloads
# =================================================================================================================


def _principals(g: _Gen, n_principals: int, policies: dict, *, n_managed: int, max_policies: int = 5,
                max_statements: int = 10) -> list:
    rng = g.rng
    managed = []
    for i in range(n_managed):
        name = f"managed/TeamPolicy{i}"
        policies[name] = g.policy(rng.choice(g.teams), max_statements)
        managed.append(name)
    out = []
    for i in range(n_principals):
        team = g.teams[i % g.n_teams]
        kind = "user" if i % 2 == 0 else "role"
        arn = f"arn:aws:iam::{ACCOUNT}:{kind}/{team.lower()}-{kind}{i}"
        k = rng.randint(1, max_policies)
        n_shared = min(k - 1, rng.randint(0, 3)) if managed else 0
        names = rng.sample(managed, n_shared) if n_shared else []
        for j in range(k - n_shared):
            name = f"inline/{kind}{i}/P{j}"
            policies[name] = g.policy(team, max_statements)
            names.append(name)
        out.append(Principal(arn, team, {"team": team}, tuple(names)))
    return out


def lex_workload(seed: int = 20240601, size: str = "M", *, n_requests: int | None = None) -> Workload:
    """The issue's workload: 1,000 principals in 50 teams and 100,000 requests at size ``M``."""
    n_principals, default_requests = SIZES[size]
    g = _Gen(seed, n_teams=max(5, min(50, n_principals // 20)))
    policies: dict = {}
    principals = _principals(g, n_principals, policies, n_managed=max(10, n_principals // 7))
    reqs = _requests(g, principals, default_requests if n_requests is None else n_requests)
    return Workload(seed, principals, policies, reqs)


def scaling_workload(n_statements: int, seed: int = 7, *, n_requests: int = 20_000) -> Workload:
    """The same shape grown until the attached statements reach ``n_statements`` (the compile series)."""
    g = _Gen(seed, n_teams=50)
    policies: dict = {}
    # About 5.5 statements per policy and 3 policies per principal: grow principals until the target is reached.
    principals: list = []
    managed_pool = _principals(g, 0, policies, n_managed=max(4, n_statements // 600))
    del managed_pool
    managed = list(policies)
    i = 0
    total = 0
    rng = g.rng
    while total < n_statements:
        team = g.teams[i % g.n_teams]
        kind = "user" if i % 2 == 0 else "role"
        arn = f"arn:aws:iam::{ACCOUNT}:{kind}/{team.lower()}-{kind}{i}"
        names = []
        for j in range(rng.randint(1, 3)):
            name = f"inline/{kind}{i}/P{j}"
            policies[name] = g.policy(team, min(10, max(1, n_statements - total)))
            total += len(policies[name]["Statement"])
            names.append(name)
            if total >= n_statements:
                break
        if managed and total < n_statements and rng.random() < 0.3:
            name = rng.choice(managed)
            names.append(name)
            total += len(policies[name]["Statement"])
        principals.append(Principal(arn, team, {"team": team}, tuple(names)))
        i += 1
    reqs = _requests(g, principals, n_requests)
    return Workload(seed, principals, policies, reqs)


def layered_workload(seed: int = 99, n_principals: int = 300, n_requests: int = 20_000) -> Workload:
    """Identity policies plus resource-based policies on bots and aliases, permissions boundaries on half the
    principals, and SCPs at the organization root and on the account; 20 % of requests come from another account
    (cross-account access needs both the caller's identity policy and the resource policy)."""
    g = _Gen(seed, n_teams=20)
    rng = g.rng
    policies: dict = {}
    principals = _principals(g, n_principals, policies, n_managed=30, max_policies=3, max_statements=6)
    # Callers in a second account, with identity policies on the first account's bots.
    for i in range(n_principals // 5):
        team = g.teams[i % g.n_teams]
        arn = f"arn:aws:iam::{OTHER_ACCOUNT}:role/partner-{team.lower()}-{i}"
        name = f"inline/partner{i}/P0"
        policies[name] = g.policy(team, 6)
        principals.append(Principal(arn, team, {"team": team}, (name,)))
    # Boundaries: one per team, on half the first account's principals.
    bounded = []
    for p in principals:
        if p.arn.split(":")[4] == ACCOUNT and rng.random() < 0.5:
            name = f"boundary/{p.team}"
            if name not in policies:
                policies[name] = {"Version": VERSION, "Statement": [
                    {"Effect": "Allow", "Action": ["lex:Describe*", "lex:List*", "lex:Recognize*", "lex:*Session"],
                     "Resource": "*"},
                    {"Effect": "Allow", "Action": "lex:*",
                     "Resource": f"arn:aws:lex:*:{ACCOUNT}:bot*/{p.team}*"}]}
            p = Principal(p.arn, p.team, p.tags, p.policies, name)
        bounded.append(p)
    principals = bounded
    # Resource-based policies on a third of the bots and aliases, granting the partner account and some roles.
    resources: dict = {}
    partner_roles = [p.arn for p in principals if p.arn.split(":")[4] == OTHER_ACCOUNT]
    for team in g.teams:
        for bot in g.bots[team]:
            for arn in [bot_arn(bot)] + [alias_arn(bot, a) for a in g.aliases]:
                if rng.random() < 0.35:
                    name = f"resource/{arn.split(':', 5)[5]}"
                    stmts = [{"Sid": "Partner", "Effect": "Allow",
                              "Principal": {"AWS": rng.choice([f"arn:aws:iam::{OTHER_ACCOUNT}:root",
                                                               rng.choice(partner_roles)])},
                              "Action": rng.choice([["lex:RecognizeText", "lex:RecognizeUtterance"],
                                                    "lex:Describe*", "lex:*"]),
                              "Resource": arn}]
                    if rng.random() < 0.3:
                        stmts.append({"Sid": "NoDelete", "Effect": "Deny", "Principal": "*",
                                      "Action": "lex:Delete*", "Resource": arn})
                    policies[name] = {"Version": VERSION, "Statement": stmts}
                    resources[arn] = ({"team": team}, name)
                else:
                    resources[arn] = ({"team": team}, None)
    policies["scp/FullLexAccess"] = {"Version": VERSION, "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    policies["scp/NoBotDeletion"] = {"Version": VERSION, "Statement": [
        {"Effect": "Deny", "Action": ["lex:DeleteBot", "lex:DeleteBotAlias"], "Resource": "*"}]}
    policies["scp/LexOnlyInAccount"] = {"Version": VERSION, "Statement": [
        {"Effect": "Allow", "Action": ["lex:*", "iam:*"], "Resource": "*"}]}
    scps = [("root", "scp/FullLexAccess"), ("root", "scp/NoBotDeletion"), (ACCOUNT, "scp/LexOnlyInAccount")]
    reqs = _requests(g, principals, n_requests, accounts=(ACCOUNT,))
    return Workload(seed, principals, policies, reqs, resources, scps)
