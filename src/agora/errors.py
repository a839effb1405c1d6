"""Domain errors. Each names the Hub error code the wire layer sends as X-Error-Code.

The domain does not know HTTP; `http/wire.py` maps `code` to a status.
"""

from __future__ import annotations

import errno


class HubError(Exception):
    code = "BadRequest"

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A kind of error (a direct subclass) sends its own name as its code unless it names another;
        a subclass of a kind (hub.collections.CollectionNotFound) keeps the kind's code."""
        super().__init_subclass__(**kwargs)
        if HubError in cls.__bases__ and "code" not in vars(cls):
            cls.code = cls.__name__

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(HubError):
    """The request is malformed or asks for something the Hub refuses."""


class InvalidPath(BadRequest):
    """A file path no repo may hold ('..', a backslash, '.git/'...): 422 as on the Hub, code BadRequest."""


class Unauthorized(HubError):
    """No credentials where some are needed, or credentials (a token, a link) that are invalid or expired."""


class Forbidden(HubError):
    """The caller may not do this: no rights, a read-only token, a form from another site, or an act no one
    may do (deleting main)."""


class GatedRepo(Forbidden):
    """A gated repo the caller has not been given access to."""

    code = "GatedRepo"


class RepoNotFound(HubError):
    """No such repository, or one the caller may not see (the two answer alike)."""

    def __init__(self, message: str = "Repository not found", **extra: object) -> None:
        super().__init__(message, **extra)


class RepoMoved(HubError):
    """The id is a repo's old name (it was renamed or transferred): the answer redirects to the same address
    with the new id (`new`), as the Hub does (http/wire.py `moved_to`)."""

    def __init__(self, message: str, old: str = "", new: str = "") -> None:
        super().__init__(message, old=old, new=new)
        self.old, self.new = old, new


class RevisionNotFound(HubError):
    """The repository has no such branch, tag or commit (or none this action can use)."""


class EntryNotFound(HubError):
    """The revision has no file or folder at that path."""


class NotFound(HubError):
    """Anything else that is not there: an account, a discussion, a collection, an object in the store."""


class Conflict(HubError):
    """The name, the lock or the reference is taken, or the change clashes with the state it meets."""


# The Hub's 412 text, which tools match to retry a commit: its current wording, then the older one that
# scripts still look for ("A commit has happened since").
BRANCH_MOVED = "The branch was updated since you opened this page. Please refresh and try again."


class ParentMismatch(HubError):
    """The branch moved (or went away) since the commit's parent was read."""

    code = "PreconditionFailed"


def branch_moved(detail: str) -> ParentMismatch:
    """The Hub's 412, in its words, with `detail` saying how the branch moved."""
    return ParentMismatch(f"{BRANCH_MOVED} (A commit has happened since: {detail}.)")


class TooLarge(HubError):
    """A body, a line, a batch or an object over its limit."""

    code = "PayloadTooLarge"


class Unavailable(HubError):
    """The server cannot do it now (the database is locked past its timeout, or unreachable): retry later.
    Answered 503 with Retry-After."""

    code = "ServiceUnavailable"


class TooManyRequests(HubError):
    """Past a rate limit (the Inference API's per token / per IP): 429, `retry_after` seconds in Retry-After."""


class GatewayTimeout(HubError):
    """Work that ran past its deadline and was stopped (an inference request: its worker was killed)."""


DISK_FULL = "The Hub's disk is full: nothing was stored. Try again once an administrator has freed space"


class InsufficientStorage(HubError):
    """The Hub's disk is full (or below the free-space floor an upload must leave, AGORA_MIN_FREE_BYTES)."""

    def __init__(self, message: str = DISK_FULL, **extra: object) -> None:
        super().__init__(message, **extra)


_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
_PG_DISK_FULL = "53100"  # PostgreSQL's disk_full SQLSTATE


def disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, says the disk is full: an OSError ENOSPC or EDQUOT,
    SQLite's SQLITE_FULL, PostgreSQL's disk_full (the drivers' errors, also as SQLAlchemy's `orig`)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _DISK_FULL_ERRNOS:
            return True
        if getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if _PG_DISK_FULL in (getattr(e, "sqlstate", None), getattr(e, "pgcode", None)):
            return True
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return False
