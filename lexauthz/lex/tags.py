"""Tags: the key/value pairs behind ``aws:ResourceTag/*``, ``aws:PrincipalTag/*`` and ``aws:RequestTag/*``.

Tags arrive in three shapes, all accepted by :func:`parse_tags`:

- a JSON object ``{"Department": "Support"}`` (Lex V2 ``TagMap``, and the lexauthz JSON files);
- a list of ``{"key": ..., "value": ...}`` (Lex V1 ``TagList``);
- a list of ``{"Key": ..., "Value": ...}`` (IAM, ``get-account-authorization-details``).

Condition key names are case-insensitive, so two tag keys that differ only in case would make the same context key;
they are refused with ``E_DUPLICATE_TAG_KEY``.  Lex V1 says the same of its tags ("Keys are not case-sensitive and
must be unique").
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import RequestError
from ._frozen import FrozenMap

__all__ = ["Tags", "parse_tags", "merge_tags", "EMPTY_TAGS"]


class Tags(FrozenMap):
    """An immutable tag set, key to value, in the order given.  Keys keep the spelling written."""

    __slots__ = ()

    def get_ci(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key`` compared case-insensitively, as IAM compares tag keys in condition keys."""
        low = key.lower()
        for k, v in self.items():
            if k.lower() == low:
                return v
        return default

    def context(self, prefix: str) -> dict[str, str]:
        """The tags as context entries ``{prefix + key: value}``, e.g. ``prefix="aws:ResourceTag/"``."""
        return {f"{prefix}{k}": v for k, v in self.items()}


EMPTY_TAGS = Tags()


def _pair(entry: Any, path: str) -> tuple[Any, Any, str]:
    if not isinstance(entry, Mapping):
        raise RequestError("E_INVALID_TAGS", "a tag must be an object with a key and a value", path)
    for kname, vname in (("key", "value"), ("Key", "Value")):
        if kname in entry:
            unknown = set(entry) - {kname, vname}
            if unknown:
                raise RequestError("E_INVALID_TAGS", f"unknown tag field `{sorted(unknown)[0]}`", path)
            if vname not in entry:
                raise RequestError("E_INVALID_TAGS", f"tag has no `{vname}`", path)
            return entry[kname], entry[vname], f"{path}.{kname}"
    raise RequestError("E_INVALID_TAGS", "a tag must have `key` and `value` (or `Key` and `Value`)", path)


#: IAM's tag quotas (IAM User Guide, "IAM and AWS STS quotas"; the same for Lex resources): a key has 1 to 128
#: characters, a value at most 256.
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256


def tag_quota_problem(key: str, value: str) -> str | None:
    """Why a tag breaks IAM's length quotas, or ``None``."""
    if len(key) > MAX_TAG_KEY_LENGTH:
        return f"tag key has {len(key):,} characters; IAM allows at most {MAX_TAG_KEY_LENGTH}"
    if len(value) > MAX_TAG_VALUE_LENGTH:
        return f"the value of tag `{key[:40]}` has {len(value):,} characters; IAM allows at most {MAX_TAG_VALUE_LENGTH}"
    return None


def parse_tags(value: Any, path: str = "$.tags") -> Tags:
    """Read tags given in any of the three accepted shapes.

    Parameters
    ----------
    value:
        ``None`` (no tags), a JSON object, or a list of key/value objects.
    path:
        The JSON path of ``value``, used in errors.

    Raises
    ------
    RequestError
        ``E_INVALID_TAGS`` for a wrong shape or a key/value that is not a string (the key non-empty),
        ``E_DUPLICATE_TAG_KEY`` for two keys that differ only in case.

    >>> dict(parse_tags([{"key": "team", "value": "flowers"}]))
    {'team': 'flowers'}
    """
    if value is None:
        return EMPTY_TAGS
    items: list[tuple[Any, Any, str]] = []
    if isinstance(value, Mapping):
        items = [(k, v, f"{path}[{k!r}]" if isinstance(k, str) else path) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [_pair(entry, f"{path}[{i}]") for i, entry in enumerate(value)]
    else:
        raise RequestError("E_INVALID_TAGS", "tags must be an object or a list of key/value objects", path)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, val, kpath in items:
        if not isinstance(key, str) or not key:
            raise RequestError("E_INVALID_TAGS", "a tag key must be a non-empty string", kpath)
        if not isinstance(val, str):
            raise RequestError("E_INVALID_TAGS", f"the value of tag `{key}` must be a string", kpath)
        problem = tag_quota_problem(key, val)
        if problem:
            raise RequestError("E_INVALID_TAGS", problem, kpath)
        low = key.lower()
        if low in seen:
            raise RequestError(
                "E_DUPLICATE_TAG_KEY", f"tag keys `{seen[low]}` and `{key}` are the same key (keys are case-insensitive)", kpath
            )
        seen[low] = key
        out[key] = val
    return Tags(out)


def merge_tags(base: Tags, override: Tags) -> Tags:
    """``base`` with ``override`` on top; a key in ``override`` replaces a key of ``base`` that differs only in case.

    This is how session tags override the tags of the role a session belongs to.
    """
    lows = {k.lower() for k in override}
    merged = {k: v for k, v in base.items() if k.lower() not in lows}
    merged.update(override)
    return Tags(merged)
