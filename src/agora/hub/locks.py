"""Git LFS file locks (`git lfs lock / locks / unlock`, and the `locks/verify` git-lfs runs before a push).

One lock per path and repo, whatever the ref: a lock says "I am editing this file", as on other forges.
Creating, verifying and releasing need write access to the repo; listing needs read access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Account, LfsLock, Repo
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..ids import RepoId, check_path
from . import accounts, rows
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class LockInfo:
    id: str
    path: str
    owner: str
    owner_id: int
    locked_at: datetime


def _info(lock: LfsLock, owner: str) -> LockInfo:
    return LockInfo(str(lock.id), lock.path, owner, lock.owner_id, lock.created_at)


def _owner_name(s: Session, user_id: int) -> str:
    acc = s.get(Account, user_id)
    return acc.name if acc else "ghost"


def create(s: Session, who: Principal, repo: Repo, path: str, ref: str | None = None) -> LockInfo:
    check_path(path)
    existing = s.scalar(select(LfsLock).where(LfsLock.repo_id == repo.id, LfsLock.path == path))
    if existing is not None:
        raise Conflict(
            f"{path} is already locked by {_owner_name(s, existing.owner_id)}",
            lock=_info(existing, _owner_name(s, existing.owner_id)),
        )
    lock = LfsLock(repo_id=repo.id, path=path, owner_id=who.user_id, ref_name=(ref or None))
    rows.add_unique(s, lock, Conflict(f"{path} was locked at the same moment by someone else"))
    return _info(lock, who.name)


def _page(
    s: Session,
    repo: Repo,
    cursor: str | None,
    limit: int | None,
    path: str | None = None,
    lock_id: str | None = None,
) -> tuple[list[LockInfo], str | None]:
    limit = DEFAULT_LIMIT if limit is None else limit
    if limit < 1:
        raise BadRequest("limit must be a positive integer")
    limit = min(limit, MAX_LIMIT)
    q = (
        select(LfsLock, Account.name)
        .join(Account, Account.id == LfsLock.owner_id, isouter=True)
        .where(LfsLock.repo_id == repo.id)
    )
    if path:
        q = q.where(LfsLock.path == path)
    if lock_id:
        if not lock_id.isdigit():
            return [], None
        q = q.where(LfsLock.id == int(lock_id))
    if cursor:
        if not cursor.isdigit():
            raise BadRequest(f"Invalid cursor {cursor!r}")
        q = q.where(LfsLock.id >= int(cursor))
    rows = s.execute(q.order_by(LfsLock.id).limit(limit + 1)).all()
    out = [_info(lock, name or "ghost") for lock, name in rows[:limit]]
    nxt = str(rows[limit][0].id) if len(rows) > limit else None
    return out, nxt


def list_locks(
    s: Session,
    repo: Repo,
    path: str | None = None,
    lock_id: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> tuple[list[LockInfo], str | None]:
    return _page(s, repo, cursor, limit, path, lock_id)


def verify(
    s: Session, who: Principal, repo: Repo, cursor: str | None = None, limit: int | None = None
) -> tuple[list[LockInfo], list[LockInfo], str | None]:
    """(ours, theirs, next cursor): git-lfs refuses to push changes to files in `theirs`."""
    page, nxt = _page(s, repo, cursor, limit)
    return (
        [lk for lk in page if lk.owner_id == who.user_id],
        [lk for lk in page if lk.owner_id != who.user_id],
        nxt,
    )


def unlock(s: Session, who: Principal, repo: Repo, lock_id: str, force: bool = False) -> LockInfo:
    lock = s.get(LfsLock, int(lock_id)) if lock_id.isdigit() else None
    if lock is None or lock.repo_id != repo.id:
        raise NotFound(f"Lock {lock_id} does not exist")
    if lock.owner_id != who.user_id:
        if not force:
            raise Forbidden(
                f"{lock.path} is locked by {_owner_name(s, lock.owner_id)}: "
                "only they can unlock it (or use --force)"
            )
        if not accounts.can_write(s, who, repo):
            raise Forbidden("You need write access to this repository to break someone else's lock")
    info = _info(lock, _owner_name(s, lock.owner_id))
    s.delete(lock)
    s.flush()
    return info


# ---- for the git face's LFS locks API (http/git.py): find the repo and act, in one session --------------
def page_limit(value: object) -> int | None:
    """A page size as the locks API sends it (query string or JSON): None when absent."""
    if value in (None, ""):
        return None
    try:
        n: int = int(value)  # type: ignore[call-overload]  # anything JSON: what int() refuses is a 400
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid limit {value!r}") from None
    return n


def create_in(hub: Hub, who: Principal | None, rid: RepoId, path: str, ref: str | None) -> LockInfo:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        assert who is not None  # find(write=True) lets no anonymous caller through
        return create(s, who, repo, path, ref)


def list_in(
    hub: Hub,
    who: Principal | None,
    rid: RepoId,
    path: str | None,
    lock_id: str | None,
    cursor: str | None,
    limit: object,
) -> tuple[list[LockInfo], str | None]:
    """The repo's locks (read access); `limit` as sent, checked once the repo is found."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        return list_locks(s, repo, path, lock_id, cursor, page_limit(limit))


def verify_in(
    hub: Hub, who: Principal | None, rid: RepoId, cursor: str | None, limit: object
) -> tuple[list[LockInfo], list[LockInfo], str | None]:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        assert who is not None
        return verify(s, who, repo, cursor, page_limit(limit))


def unlock_in(hub: Hub, who: Principal | None, rid: RepoId, lock_id: str, force: bool) -> LockInfo:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        assert who is not None
        return unlock(s, who, repo, lock_id, force)
