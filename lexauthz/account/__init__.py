"""The account model: what an AWS account (or organization) is to lexauthz, however it was given.

- :mod:`.policy_set`: :class:`PolicySet`, principals, groups, resources, trust policies and SCPs, with "which
  policies apply to this request" (:meth:`PolicySet.applicable`); built from Python, compiled by
  :meth:`PolicySet.compile`.
- :mod:`.model`: :class:`Account`, a policy set with the principal and resource inventory Lex calls need; the one
  object the CLI, the compiled engine and the reference consume.
- :mod:`.gaad`: ``aws iam get-account-authorization-details`` output (one file or several accounts).
- :mod:`.native`: the project's own account file (``lexauthz/examples/README.md``).
- :mod:`.load`: :func:`load_account`, any of these, detected by content.
"""
from .gaad import read_authorization_details
from .load import load_account
from .model import Account
from .native import account_from_dict
from .policy_set import PolicySet, PrincipalRecord, ResourceRecord

__all__ = ["Account", "PolicySet", "PrincipalRecord", "ResourceRecord", "account_from_dict", "load_account",
           "read_authorization_details"]
