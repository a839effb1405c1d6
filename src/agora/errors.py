"""Domain errors. Each names the Hub error code the wire layer sends as X-Error-Code.

The domain does not know HTTP; `http/wire.py` maps `code` to a status.
"""

from __future__ import annotations


class HubError(Exception):
    code = "BadRequest"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(HubError):
    code = "BadRequest"


class Unauthorized(HubError):
    code = "Unauthorized"


class Forbidden(HubError):
    code = "Forbidden"


class RepoNotFound(HubError):
    code = "RepoNotFound"

    def __init__(self, message: str = "Repository not found", **extra: object) -> None:
        super().__init__(message, **extra)


class RevisionNotFound(HubError):
    code = "RevisionNotFound"


class EntryNotFound(HubError):
    code = "EntryNotFound"


class NotFound(HubError):
    code = "NotFound"


class Conflict(HubError):
    code = "Conflict"


class ParentMismatch(HubError):
    code = "PreconditionFailed"


class TooLarge(HubError):
    code = "PayloadTooLarge"
