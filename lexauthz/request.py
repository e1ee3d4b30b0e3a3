"""Authorization requests: who (principal) asks to do what (action) to which resource, in which context.

A :class:`Request` is the IAM request, not the Lex API call: :mod:`lexauthz.lex` turns an API call into one.  It is
immutable and checked when built, so evaluators never see malformed input (house rule: bad requests are rejected when
built, never in the hot path).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

from .errors import RequestError

__all__ = ["Context", "Request", "ContextValue", "MAX_ARN_LENGTH", "MAX_ACTION_LENGTH", "MAX_CONTEXT_KEYS",
           "MAX_CONTEXT_KEY_LENGTH", "MAX_CONTEXT_VALUES", "MAX_CONTEXT_VALUE_LENGTH", "check_length"]

ContextValue = "str | tuple[str, ...]"

# Request size limits.  A request past one is refused with ``E_REQUEST_TOO_LARGE`` (and the path of the field), never
# evaluated slowly: each bounds the text a wildcard pattern is matched against.  IAM's own: an ARN is at most 2,048
# characters (IAM User Guide, "IAM and AWS STS quotas"); no IAM action name or condition key comes near 256.  Context
# values are not limited by IAM itself but by the size of an AWS request; 4,096 characters per value, 1,024 values
# per key and 1,024 keys are far above what any AWS context key carries (tag values are at most 256 characters).
MAX_ARN_LENGTH = 2048
MAX_ACTION_LENGTH = 256
MAX_CONTEXT_KEYS = 1024
MAX_CONTEXT_KEY_LENGTH = 256
MAX_CONTEXT_VALUES = 1024
MAX_CONTEXT_VALUE_LENGTH = 4096


def check_length(value: str, limit: int, what: str, path: str) -> None:
    """Raise ``E_REQUEST_TOO_LARGE`` when ``value`` has more than ``limit`` characters."""
    if len(value) > limit:
        raise RequestError("E_REQUEST_TOO_LARGE", f"{what} has {len(value):,} characters, more than the limit of "
                                                  f"{limit:,}", path)


class Context(Mapping):
    """An immutable request context whose key names are case-insensitive, as IAM's condition keys are.

    Values are strings (single-valued keys) or tuples of strings (multivalued keys such as ``aws:TagKeys``).  Lookup
    with any spelling finds the key; iteration yields the display spelling the caller used.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping | None = None, *, path: str = "$.context"):
        self._hash = None
        store: dict[str, tuple[str, object]] = {}
        if items is None:
            items = {}
        if not isinstance(items, Mapping):
            raise RequestError("E_BAD_CONTEXT", "context must be an object of key to value", path)
        if len(items) > MAX_CONTEXT_KEYS:
            raise RequestError("E_REQUEST_TOO_LARGE", f"context has {len(items):,} keys, more than the limit of "
                                                      f"{MAX_CONTEXT_KEYS:,}", path)
        for key, value in items.items():
            kpath = f"{path}[{key!r}]" if isinstance(key, str) else path
            if not isinstance(key, str) or not key:
                raise RequestError("E_BAD_CONTEXT_KEY", f"context key `{key!r}` is not a non-empty string", path)
            key = _exact(key)
            check_length(key, MAX_CONTEXT_KEY_LENGTH, "context key", kpath)
            if isinstance(value, str):
                check_length(value, MAX_CONTEXT_VALUE_LENGTH, f"value of context key `{key}`", kpath)
                norm: object = _exact(value)
            elif isinstance(value, bool):
                norm = "true" if value else "false"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                norm = str(value)
            elif isinstance(value, (list, tuple)):
                if len(value) > MAX_CONTEXT_VALUES:
                    raise RequestError("E_REQUEST_TOO_LARGE", f"context key `{key}` has {len(value):,} values, more "
                                                              f"than the limit of {MAX_CONTEXT_VALUES:,}", kpath)
                vals = []
                for i, v in enumerate(value):
                    if isinstance(v, bool):
                        vals.append("true" if v else "false")
                    elif isinstance(v, (int, float)):
                        vals.append(str(v))
                    elif isinstance(v, str):
                        check_length(v, MAX_CONTEXT_VALUE_LENGTH, f"value of context key `{key}`", f"{kpath}[{i}]")
                        vals.append(_exact(v))
                    else:
                        raise RequestError(
                            "E_BAD_CONTEXT_VALUE", f"value of context key `{key}` must hold strings", f"{kpath}[{i}]"
                        )
                norm = tuple(vals)
            else:
                raise RequestError(
                    "E_BAD_CONTEXT_VALUE", f"value of context key `{key}` must be a string or a list of strings", kpath
                )
            low = key.lower()
            if low in store and store[low][0] != key:
                raise RequestError(
                    "E_DUPLICATE_CONTEXT_KEY",
                    f"context keys `{store[low][0]}` and `{key}` differ only in case",
                    kpath,
                )
            store[low] = (key, norm)
        self._items = store

    def __getitem__(self, key: str):
        return self._items[key.lower()][1]

    def get(self, key: str, default=None):
        item = self._items.get(key.lower())
        return default if item is None else item[1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (display for display, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def lower_items(self) -> Iterator[tuple[str, object]]:
        """``(lower-case key, value)`` pairs."""
        return ((k, v[1]) for k, v in self._items.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Context):
            return dict(self.lower_items()) == dict(other.lower_items())
        if isinstance(other, Mapping):
            try:
                return self == Context(other)
            except RequestError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self.lower_items()))
        return self._hash

    def __repr__(self) -> str:
        return f"Context({dict((d, v) for d, v in self._items.values())!r})"

    def to_dict(self) -> dict:
        return {d: (list(v) if isinstance(v, tuple) else v) for d, v in self._items.values()}


def _exact(value: str) -> str:
    """``value`` as an exact ``str``: a subclass (``numpy.str_``, pandas' values) is copied, since compiled code takes
    only ``str`` itself."""
    return value if type(value) is str else str.__str__(value)


def _check_str(value: object, name: str, code: str) -> str:
    if not isinstance(value, str) or not value:
        raise RequestError(code, f"`{name}` must be a non-empty string", f"$.{name}")
    return _exact(value)


@dataclass(frozen=True, slots=True)
class Request:
    """One IAM authorization request.

    Parameters
    ----------
    principal:
        The caller's ARN (``arn:aws:iam::ACCT:user/alice``, ``arn:aws:sts::ACCT:assumed-role/Role/session``, ...) or a
        service principal (``lex.amazonaws.com``).
    action:
        ``service:Action``; matched case-insensitively.
    resource:
        The resource ARN, or ``"*"`` for actions without resource-level permissions.
    resource_account:
        The 12-digit account that owns the resource; decides same- versus cross-account.  ``None`` takes the
        account field of the resource ARN.
    context:
        The request context (key to string, or key to list of strings).  Nothing is derived here.

    Raises
    ------
    RequestError
        When a field has the wrong type or the action is not ``service:Action``.
    """

    principal: str
    action: str
    resource: str = "*"
    resource_account: str | None = None
    context: Context = field(default_factory=Context)

    def __post_init__(self) -> None:
        # Checked in field order; a str subclass (numpy.str_) is stored as an exact str.
        for name, code in (("principal", "E_BAD_PRINCIPAL"), ("action", "E_BAD_ACTION")):
            value = getattr(self, name)
            if type(value) is not str or not value:
                object.__setattr__(self, name, _check_str(value, name, code))
        check_length(self.principal, MAX_ARN_LENGTH, "principal", "$.principal")
        check_length(self.action, MAX_ACTION_LENGTH, "action", "$.action")
        if self.action.count(":") != 1 or self.action.startswith(":") or self.action.endswith(":"):
            raise RequestError("E_BAD_ACTION", f"action `{self.action}` is not of the form `service:Action`", "$.action")
        if type(self.resource) is not str or not self.resource:
            object.__setattr__(self, "resource", _check_str(self.resource, "resource", "E_BAD_RESOURCE"))
        check_length(self.resource, MAX_ARN_LENGTH, "resource", "$.resource")
        if self.resource != "*" and not self.resource.startswith("arn:"):
            raise RequestError("E_BAD_RESOURCE", f"resource `{self.resource}` is not an ARN or `*`", "$.resource")
        if self.resource != "*" and self.resource.count(":") < 5:
            raise RequestError("E_BAD_RESOURCE", f"resource `{self.resource}` has fewer than six ARN fields", "$.resource")
        if self.resource_account is not None and not isinstance(self.resource_account, str):
            raise RequestError("E_BAD_RESOURCE_ACCOUNT", "`resource_account` must be a string", "$.resource_account")
        if self.resource_account is not None and type(self.resource_account) is not str:
            object.__setattr__(self, "resource_account", _exact(self.resource_account))
        if not isinstance(self.context, Context):
            object.__setattr__(self, "context", Context(self.context))

    @property
    def owner_account(self) -> str | None:
        """The account that owns the resource: ``resource_account`` or the ARN's account field."""
        if self.resource_account:
            return self.resource_account
        if self.resource.startswith("arn:"):
            acct = self.resource.split(":", 5)[4]
            return acct or None
        return None

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "$") -> "Request":
        """Build from the corpus shape ``{principal, action, resource, resource_account, context}``."""
        if not isinstance(data, Mapping):
            raise RequestError("E_BAD_REQUEST", "request must be an object", path)
        unknown = set(data) - {"principal", "action", "resource", "resource_account", "context"}
        if unknown:
            raise RequestError("E_BAD_REQUEST", f"unknown request field `{sorted(unknown)[0]}`", path)
        return cls(
            principal=data.get("principal"),  # type: ignore[arg-type]
            action=data.get("action"),  # type: ignore[arg-type]
            resource=data.get("resource", "*"),  # type: ignore[arg-type]
            resource_account=data.get("resource_account"),
            context=Context(data.get("context") or {}, path=f"{path}.context"),
        )

    def to_dict(self) -> dict:
        return {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "resource_account": self.resource_account,
            "context": self.context.to_dict(),
        }
