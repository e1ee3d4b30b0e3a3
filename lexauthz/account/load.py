"""``load_account``: one entry point for every account source, told apart by content.

A path may name the project's account file, a folder holding ``account.json``, or a file of
``aws iam get-account-authorization-details`` output.  Several paths load several GAAD files (several accounts, or
the pages of one export) into one account.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable

from ..errors import RequestError
from ..jsonfile import read_json_file
from .gaad import is_authorization_details, read_authorization_details
from .model import Account
from .native import account_from_dict, is_account_file

__all__ = ["load_account"]


def _read(path: str) -> Any:
    if os.path.isdir(path):
        raise RequestError("E_ACCOUNT_NOT_FOUND", f"`{path}` is a folder without an account.json", path)
    if not os.path.exists(path):
        raise RequestError("E_ACCOUNT_NOT_FOUND", f"`{path}` does not exist", path)
    return read_json_file(path, path)


def load_account(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Account:
    """The :class:`Account` of an account file, an account folder, or one or more GAAD files.

    Raises
    ------
    RequestError
        ``E_ACCOUNT_NOT_FOUND``, ``E_MALFORMED_JSON``, ``E_UNKNOWN_ACCOUNT_FORMAT`` (neither form), the account file's
        codes (``E_INVALID_ACCOUNT_FILE``, ...) and GAAD's (``E_INVALID_AUTHORIZATION_DETAILS``), each with the file
        and a JSON path.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p) and os.path.isfile(os.path.join(p, "account.json")):
            p = os.path.join(p, "account.json")
        files.append(p)
    if not files:
        raise RequestError("E_ACCOUNT_NOT_FOUND", "no account file given", "$")
    docs = [(p, _read(p)) for p in files]
    native = [p for p, d in docs if is_account_file(d)]
    gaad = [p for p, d in docs if is_authorization_details(d)]
    for p, d in docs:
        if p not in native and p not in gaad:
            raise RequestError("E_UNKNOWN_ACCOUNT_FORMAT", f"`{p}` is neither a lexauthz account file nor the output "
                               "of `aws iam get-account-authorization-details`", f"{p}: $")
    if native:
        if len(docs) > 1:
            raise RequestError("E_UNKNOWN_ACCOUNT_FORMAT", "an account file is loaded alone; several files must all "
                               "be authorization details", f"{native[0]}: $")
        p, d = docs[0]
        try:
            return account_from_dict(d, base_dir=os.path.dirname(os.path.abspath(p)), source=p)
        except RequestError as e:
            raise RequestError(e.code, e.message, f"{p}: {e.path}") from None
    ps = read_authorization_details([d for _, d in docs], sources=files)
    return dataclasses.replace(Account.from_policy_set(ps), sources=tuple(files))
