"""The caller and how a resource-based statement's ``Principal`` / ``NotPrincipal`` names it: re-exported.

The code is matching, so it lives in the compiled core (:mod:`lexauthz._match`), and the kind codes the kernel uses
come from :mod:`lexauthz._kernel`: compile may import the core, the core never imports compile.
"""
from __future__ import annotations

from lexauthz._kernel import KIND_CODES, CallerKind
from lexauthz._match import (
    ASSUMED_ROLE, FEDERATED_USER, OTHER, ROLE, ROOT, SERVICE, USER, CallerInfo, caller_info, not_principal_naming,
    principal_naming,
)

__all__ = ["CallerInfo", "CallerKind", "KIND_CODES", "caller_info", "principal_naming", "not_principal_naming",
           "USER", "ROLE", "ASSUMED_ROLE", "FEDERATED_USER", "ROOT", "SERVICE", "OTHER"]
