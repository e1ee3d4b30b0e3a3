"""What-if analysis over whole policy sets: who-can, what-can, the access matrix, policy-set diffs with witnesses,
Access Analyzer-compatible policy checks, CloudTrail replay and unused permissions.

Everything here uses the public engine (:meth:`lexauthz.Engine.evaluate_batch`, :meth:`~lexauthz.Engine.evaluate`)
and the account model, and re-checks what it reports through the reference evaluator where it says so.  The formats
are described in ``docs/analysis.md``.

>>> from lexauthz.account import PolicySet, Account
>>> ps = PolicySet()
>>> ps.add_principal("arn:aws:iam::111122223333:user/bob", policies=[{"Version": "2012-10-17",
...     "Statement": [{"Sid": "Run", "Effect": "Allow", "Action": "lex:PostText", "Resource": "*"}]}])
>>> [a.principal for a in who_can(Account.from_policy_set(ps), "arn:aws:lex:us-east-1:111122223333:bot:B", ["lex:PostText"])]
['arn:aws:iam::111122223333:user/bob']
"""
from .query import Access, effective_policy, what_can, who_can
# A function named as its module is imported here, not lazily: importing the module (as query does for matrix, and
# any caller may) sets the package's attribute of that name to the module.
from .diff import Diff, diff
from .matrix import Matrix, matrix
from .replay import Replay, replay
from .unused import Unused, unused
from .space import ANY_PRINCIPAL, Space, SpaceSpec, expand_actions, load_space, parse_space, resolve_space

__all__ = ["Access", "who_can", "what_can", "effective_policy", "Space", "SpaceSpec", "ANY_PRINCIPAL",
           "load_space", "parse_space", "resolve_space", "expand_actions", "matrix", "Matrix", "diff", "Diff",
           "check_no_new_access", "check_access_not_granted", "check_no_public_access", "with_changes",
           "diff_report", "matrix_report", "replay", "Replay", "unused", "Unused", "replay_report",
           "LocalBackend", "DaskBackend", "ClusterError"]

_LAZY = {"check_no_new_access": "checks", "check_access_not_granted": "checks", "check_no_public_access": "checks",
         "with_changes": "changes", "diff_report": "report", "matrix_report": "report",
         "replay_report": "report",
         "LocalBackend": "cluster", "ClusterError": "cluster", "DaskBackend": "dask_backend"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lexauthz.analysis' has no attribute '{name}'")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
