"""The audit log: who did which admin or account action, when, to what.

The domain functions record their own actions (tokens, memberships, org creation, repo visibility, moves,
deletes), so every surface (API, web, CLI) leaves the same entry. An entry is written in the caller's
session: it commits with the action it describes, and a refused action leaves none.

Actions (the `action` column): token.create, token.revoke, org.create, org.member.add, org.member.role,
org.member.remove, repo.visibility, repo.gated, repo.access.request, repo.access.accepted,
repo.access.rejected, repo.access.pending, repo.access.grant (hub/gating.py), repo.move, repo.delete,
user.password, user.disable, user.enable, login, login.failed (a wrong password, an unknown name, or a disabled user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from ..db.models import AuditEntry

if TYPE_CHECKING:
    from .repos import Hub

MAX_LIMIT = 10_000


def _actor(actor: Any) -> tuple[str | None, int | None]:
    """A Principal, an Account, a user name or None (the system: CLI, migrations)."""
    if actor is None:
        return None, None
    if isinstance(actor, str):
        return actor, None
    uid = getattr(actor, "user_id", None)
    if uid is None:
        uid = getattr(actor, "id", None)
    return getattr(actor, "name", None), uid


def record(
    s: Session,
    actor: Any,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    name, uid = _actor(actor)
    entry = AuditEntry(
        actor=name,
        actor_id=uid,
        action=action[:64],
        target=(target or "")[:300],
        detail=detail or None,
        ip=ip[:64] if ip else None,
    )
    s.add(entry)
    s.flush()
    return entry


def login(
    s: Session, user: Any, ip: str | None, ok: bool = True, detail: dict[str, Any] | None = None
) -> None:
    """A login (or a failed one): `user` is a user name, an Account or a user id."""
    name: str | None
    uid: int | None
    if isinstance(user, int):
        from ..db.models import Account

        acc = s.get(Account, user)
        name, uid = (acc.name if acc else str(user)), user
    else:
        name, uid = _actor(user)
    s.add(
        AuditEntry(
            actor=name,
            actor_id=uid,
            action="login" if ok else "login.failed",
            target=name or "",
            detail=detail or None,
            ip=ip[:64] if ip else None,
        )
    )
    s.flush()


def entries(
    s: Session, limit: int = 100, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """The newest entries first."""
    q = select(AuditEntry)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    return list(s.scalars(q.order_by(desc(AuditEntry.id)).limit(max(1, min(limit, MAX_LIMIT)))))


def _flat(value: object) -> str:
    """Names come from users: no control character may break the one-line-per-entry output."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(value))


def line(e: AuditEntry) -> str:
    """One entry as one line of text (the CLI's output)."""
    detail = " ".join(f"{_flat(k)}={_flat(v)}" for k, v in sorted((e.detail or {}).items()))
    parts = [
        e.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        _flat(e.actor or "-"),
        e.action,
        _flat(e.target or "-"),
    ]
    if e.ip:
        parts.append(f"ip={e.ip}")
    if detail:
        parts.append(detail)
    return "\t".join(parts)


def newest(
    hub: Hub, limit: int = 100, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """`entries` in a session of its own: detached rows."""
    with hub.db.session() as s:
        rows = entries(s, limit=limit, actor=actor, action=action)
        s.expunge_all()
        return rows
