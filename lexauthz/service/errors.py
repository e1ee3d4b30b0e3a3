"""The service's own error: a stable code, a message following the house rules, a JSON path and an HTTP status."""
from __future__ import annotations

__all__ = ["ServiceError"]


class ServiceError(Exception):
    """A request the service refuses, or a step (load, canary) that failed.

    ``status`` is the HTTP status a refused request gets (400 for malformed input); ``path`` locates the bad field
    (``$.subject.id``) or names the file.  ``str(error)`` is ``<code> at <path>: <message>``.
    """

    def __init__(self, code: str, message: str, path: str = "$", status: int = 400):
        super().__init__(f"{code} at {path}: {message}")
        self.code = code
        self.message = message
        self.path = path
        self.status = status

    def to_dict(self) -> dict:
        """``{"status", "code", "message", "path"}``: the error as AuthZEN's per-item ``context.error``."""
        return {"status": self.status, "code": self.code, "message": self.message, "path": self.path}
