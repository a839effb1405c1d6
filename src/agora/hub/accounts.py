"""Users, organizations, memberships, tokens and the permission checks every surface uses."""

from __future__ import annotations

import hashlib
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..db.models import Account as Account  # re-exported: the detached row of a user or an org
from ..db.models import Membership, Repo, Token, WebSession, utcnow
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ..ids import check_namespace
from . import audit, names, rows

if TYPE_CHECKING:
    from .repos import Hub

log = logging.getLogger("agora.hub")
ROLES = ("read", "write", "admin")
_ph = PasswordHasher()
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, acting through a token (with its role) or a web session (full rights)."""

    user_id: int
    name: str
    is_admin: bool
    role: str  # "read" | "write"
    token_name: str | None = None
    token_created: str | None = None

    @property
    def can_write_at_all(self) -> bool:
        return self.role == "write"


def hash_password(password: str) -> str:
    return _ph.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    if not hashed:
        return False
    try:
        return _ph.verify(hashed, password)
    except VerificationError:
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of nothing anybody knows, with the same cost as a real one: a missing user costs a wrong password."""
    return _ph.hash(secrets.token_hex(16))


def check_login(s: Session, name: str, password: str) -> Account | None:
    """The user whose password this is, or None; the same argon2 work whether or not the user exists, has a
    password, or is disabled (the caller tells a disabled user apart only once the password is right)."""
    user = get_account(s, name) if name else None
    if user is None or user.kind != "user" or not user.password_hash:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def set_password(
    s: Session,
    name: str,
    password: str,
    keep_session: str | None = None,
    actor: Principal | str | None = None,
) -> None:
    """A new password; every browser session of the user ends (but `keep_session`, the one changing it)."""
    if len(password) < 8:
        raise BadRequest("Use a password of at least 8 characters")
    user = require_user(s, name)
    user.password_hash = hash_password(password)
    ended = revoke_sessions(s, user.id, keep=keep_session)
    audit.record(s, actor, "user.password", user.name, {"sessions_ended": ended})


def set_disabled(s: Session, name: str, disabled: bool, actor: Principal | str | None = None) -> None:
    """Disabled users cannot log in; their sessions end and their tokens stop working (kept for enable)."""
    user = require_user(s, name)
    user.disabled = disabled
    if disabled:
        revoke_sessions(s, user.id)
    audit.record(s, actor, "user.disable" if disabled else "user.enable", user.name)


# ---- browser sessions (the cookie carries a random id; the table keeps its sha256) -------------------------
def create_session(s: Session, user_id: int, ttl: int) -> str:
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    s.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at < now))
    s.add(
        WebSession(
            digest=_digest(secret),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    s.flush()
    return secret


def live_session(s: Session, secret: str) -> tuple[WebSession, Account] | None:
    """The live session (not revoked, not expired, user not disabled) and its user, or None. Writes nothing:
    `note_use` records when it was last seen."""
    row = s.scalar(select(WebSession).where(WebSession.digest == _digest(secret)))
    if row is None or row.revoked or row.expires_at <= utcnow():
        return None
    user = s.get(Account, row.user_id)
    if user is None or user.kind != "user" or user.disabled:
        return None
    return row, user


def session_user(s: Session, secret: str) -> Account | None:
    """The user of a live session, or None."""
    found = live_session(s, secret)
    return found[1] if found else None


def revoke_session(s: Session, secret: str) -> None:
    s.execute(update(WebSession).where(WebSession.digest == _digest(secret)).values(revoked=True))


def revoke_sessions(s: Session, user_id: int, keep: str | None = None) -> int:
    q = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked.is_(False))
    if keep:
        q = q.where(WebSession.digest != _digest(keep))
    return s.execute(q.values(revoked=True)).rowcount or 0  # type: ignore[attr-defined]


def _digest(secret: str) -> str:
    # Tokens are long random secrets: a fast hash is enough (argon2 is for human passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def account_by_id(s: Session, account_id: int) -> Account | None:
    return s.get(Account, account_id)


def get_account(s: Session, name: str) -> Account | None:
    """The user or org called `name`, in any case: names compare without case, as on the Hub."""
    return names.account(s, name)


def require_user(s: Session, name: str) -> Account:
    acc = get_account(s, name)
    if acc is None or acc.kind != "user":
        raise NotFound(f"User {name!r} not found")
    return acc


def create_user(
    s: Session,
    name: str,
    password: str | None = None,
    admin: bool = False,
    email: str | None = None,
    fullname: str = "",
) -> Account:
    check_namespace(name)
    if names.name_taken(s, name):
        raise _name_taken(name)
    acc = Account(
        name=name,
        kind="user",
        fullname=fullname or name,
        email=email,
        is_admin=admin,
        password_hash=hash_password(password) if password else None,
    )
    _add_account(s, acc)
    return acc


def _add_account(s: Session, acc: Account) -> None:
    """Insert a new account; a concurrent creation of the same name (in any case) is a Conflict."""
    rows.add_unique(s, acc, _name_taken(acc.name))


def _name_taken(name: str) -> Conflict:
    return Conflict(f"The name {name!r} is already taken (names compare without case)")


def create_org(s: Session, name: str, owner: str, fullname: str = "") -> Account:
    check_namespace(name)
    user = require_user(s, owner)
    if names.name_taken(s, name):
        raise _name_taken(name)
    org = Account(name=name, kind="org", fullname=fullname or name)
    _add_account(s, org)
    s.add(Membership(org_id=org.id, user_id=user.id, role="admin"))
    s.flush()
    audit.record(s, user, "org.create", name, {"admin": user.name})
    return org


def _org(s: Session, org: str) -> Account:
    o = get_account(s, org)
    if o is None or o.kind != "org":
        raise NotFound(f"Organization {org!r} not found")
    return o


def _keep_an_admin(s: Session, o: Account, m: Membership) -> None:
    """An org always keeps one admin: nobody could manage its members or settings again otherwise."""
    if m.role == "admin":
        admins = s.scalars(
            select(Membership).where(Membership.org_id == o.id, Membership.role == "admin")
        ).all()
        if len(admins) <= 1:
            raise Conflict(f"{o.name!r} needs at least one admin: make another member admin first")


def set_member(s: Session, org: str, user: str, role: str, actor: Principal | str | None = None) -> None:
    """Add `user` to `org` or change their role. `actor` (who asked) goes to the audit log; the caller
    checks that they may (is_namespace_admin)."""
    if role not in ROLES:
        raise BadRequest(f"Invalid role {role!r}: use read, write or admin")
    o = _org(s, org)
    u = require_user(s, user)
    m = s.scalar(select(Membership).where(Membership.org_id == o.id, Membership.user_id == u.id))
    if m:
        if m.role == role:
            return
        if role != "admin":
            _keep_an_admin(s, o, m)
        old, m.role = m.role, role
        s.flush()
        audit.record(s, actor, "org.member.role", f"{o.name}/{u.name}", {"from": old, "to": role})
    else:
        s.add(Membership(org_id=o.id, user_id=u.id, role=role))
        s.flush()
        audit.record(s, actor, "org.member.add", f"{o.name}/{u.name}", {"role": role})


def remove_member(s: Session, org: str, user: str, actor: Principal | str | None = None) -> None:
    o = _org(s, org)
    u = require_user(s, user)
    m = s.scalar(select(Membership).where(Membership.org_id == o.id, Membership.user_id == u.id))
    if m is None:
        raise NotFound(f"{user!r} is not a member of {org!r}")
    _keep_an_admin(s, o, m)
    role = m.role
    s.delete(m)
    s.flush()
    audit.record(s, actor, "org.member.remove", f"{o.name}/{u.name}", {"role": role})


def user_orgs(s: Session, user_id: int) -> list[tuple[Account, str]]:
    rows = s.execute(
        select(Account, Membership.role)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == user_id)
    ).all()
    return [(a, r) for a, r in rows]


def create_token(
    s: Session, user: str, role: str = "write", name: str | None = None, actor: Principal | str | None = None
) -> str:
    """`actor` is who asked (for the audit log); by default the user themselves."""
    if role not in ("read", "write"):
        raise BadRequest(f"Invalid token role {role!r}: use read or write")
    u = require_user(s, user)
    secret = "hf_" + "".join(secrets.choice(_ALNUM) for _ in range(34))
    tok = Token(user_id=u.id, name=name or f"token-{secrets.token_hex(3)}", role=role, digest=_digest(secret))
    s.add(tok)
    s.flush()
    audit.record(s, u if actor is None else actor, "token.create", u.name, {"name": tok.name, "role": role})
    return secret


def revoke_token(s: Session, user: str, name_or_secret: str, actor: Principal | str | None = None) -> int:
    u = require_user(s, user)
    rows = s.scalars(select(Token).where(Token.user_id == u.id, Token.revoked.is_(False))).all()
    hits = [t for t in rows if t.name == name_or_secret or t.digest == _digest(name_or_secret)]
    for t in hits:
        t.revoked = True
        audit.record(
            s, u if actor is None else actor, "token.revoke", u.name, {"name": t.name, "role": t.role}
        )
    return len(hits)


def list_tokens(s: Session, user: str) -> list[Token]:
    u = require_user(s, user)
    return list(s.scalars(select(Token).where(Token.user_id == u.id, Token.revoked.is_(False))))


# built once: every request with a token runs it
_LIVE_TOKEN = (
    select(Token, Account)
    .join(Account, Account.id == Token.user_id)
    .where(Token.digest == bindparam("digest"), Token.revoked.is_(False), Account.disabled.is_(False))
)


def live_token(s: Session, secret: str) -> tuple[Token, Account] | None:
    """The token (not revoked, its user not disabled) and its user, or None. Writes nothing: `note_use`
    records when it was last used."""
    row = s.execute(_LIVE_TOKEN, {"digest": _digest(secret)}).first()
    return None if row is None else (row[0], row[1])


def authenticate(s: Session, secret: str) -> Principal | None:
    """The owner of a token, or None (nothing written)."""
    found = live_token(s, secret)
    return token_principal(*found) if found else None


def token_principal(tok: Token, user: Account) -> Principal:
    return Principal(
        user.id,
        user.name,
        user.is_admin,
        tok.role,
        tok.name,
        tok.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )


def session_principal(user: Account) -> Principal:
    return Principal(user.id, user.name, user.is_admin, "write")


def namespace_role(s: Session, who: Principal | None, namespace: str) -> str | None:
    """The role `who` has over everything in `namespace`: admin, write, read or None."""
    if who is None:
        return None
    if who.is_admin or who.name == namespace:
        return "admin"
    acc = get_account(s, namespace)
    if acc is None or acc.kind != "org":
        return None
    return s.scalar(
        select(Membership.role).where(Membership.org_id == acc.id, Membership.user_id == who.user_id)
    )


def can_read(s: Session, who: Principal | None, repo: Repo) -> bool:
    return not repo.private or namespace_role(s, who, repo.namespace) is not None


def can_write(s: Session, who: Principal | None, repo: Repo) -> bool:
    return who is not None and who.can_write_at_all and can_write_namespace(s, who, repo.namespace)


def can_write_namespace(s: Session, who: Principal | None, namespace: str) -> bool:
    return (
        who is not None and who.can_write_at_all and namespace_role(s, who, namespace) in ("write", "admin")
    )


def is_namespace_admin(s: Session, who: Principal | None, namespace: str) -> bool:
    return who is not None and who.can_write_at_all and namespace_role(s, who, namespace) == "admin"


def can_admin(s: Session, who: Principal | None, repo: Repo) -> bool:
    """Settings, visibility, gating, rename/move and delete: the admins of the repo's namespace (the owner
    of a user namespace, an org's `admin` members, site admins), through a write-capable identity."""
    return is_namespace_admin(s, who, repo.namespace)


def require_write_token(who: Principal | None, what: str = "do this") -> Principal:
    """Read tokens are read-only everywhere: they never change anything (likes, discussions, collections)."""
    if who is None:
        raise Unauthorized(f"You must be authenticated to {what}")
    if not who.can_write_at_all:
        raise Forbidden(f"Your token is read-only: use a write token to {what}")
    return who


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
def authenticated(hub: Hub, secret: str) -> Principal | None:
    """`authenticate` in a session of its own: the owner of a token sent with a request. Its last use is
    noted afterwards (`note_use`): at most once a minute, and never at the cost of the request."""
    with hub.db.session() as s:
        found = live_token(s, secret)
        if found is None:
            return None
        tok, user = found
        who = token_principal(tok, user)
    note_use(hub, Token, tok.id, tok.last_used_at)
    return who


# When a token or a browser session was last used is noted at most this often: not one write per request.
NOTE_USE_EVERY = timedelta(minutes=1)


def note_use(hub: Hub, model: type[Token] | type[WebSession], row_id: int, last: datetime | None) -> None:
    """Note that a token (`last_used_at`) or a browser session (`last_seen_at`) was used now, if `last` is
    older than NOTE_USE_EVERY: in a transaction of its own, after the read it belongs to. A note that
    cannot be written (a full disk, a locked database) is skipped with a warning: reads keep working."""
    now = utcnow()
    if last is not None and now - last < NOTE_USE_EVERY:
        return
    column = Token.last_used_at if model is Token else WebSession.last_seen_at
    try:
        with hub.db.session() as s:
            s.execute(update(model).where(model.id == row_id).values({column: now}))
    except SQLAlchemyError as exc:
        log.warning("could not note the use of %s %s: %s", model.__tablename__, row_id, exc)


def whoami(hub: Hub, user_id: int) -> tuple[Account | None, list[tuple[Account, str]]]:
    """The user's account (None if gone) and their organizations with their role in each (detached rows)."""
    with hub.db.session() as s:
        return account_by_id(s, user_id), user_orgs(s, user_id)


# ---- the same, each in a database session of its own (for the browser pages) --------------------------------
def account_spelling(hub: Hub, name: str) -> str | None:
    """The stored spelling of the user or org `name` names in another case (/ALICE -> alice); None when there
    is no such account or `name` spells it so already."""
    with hub.db.session() as s:
        acc = get_account(s, name)
        return acc.name if acc is not None and acc.name != name else None


def may_admin(hub: Hub, who: Principal | None, repo: Repo) -> bool:
    with hub.db.session() as s:
        return can_admin(s, who, repo)


def writable_namespaces(hub: Hub, who: Principal) -> list[str]:
    """Where `who` may create repos and collections: their own namespace, then the orgs they write to."""
    with hub.db.session() as s:
        orgs = [o.name for o, role in user_orgs(s, who.user_id) if role in ("write", "admin")]
    return [who.name, *orgs]


def user_tokens(hub: Hub, user: str) -> list[Token]:
    with hub.db.session() as s:
        return list_tokens(s, user)


def new_token(hub: Hub, user: str, role: str, name: str | None) -> str:
    with hub.db.session() as s:
        return create_token(s, user, role, name)


def end_token(hub: Hub, user: str, name_or_secret: str) -> int:
    with hub.db.session() as s:
        return revoke_token(s, user, name_or_secret)


def new_org(hub: Hub, name: str, owner: str, fullname: str = "") -> str:
    """The name of the new org (BadRequest, Conflict: the name), with `owner` its admin."""
    with hub.db.session() as s:
        return create_org(s, name, owner, fullname).name


def change_member(hub: Hub, who: Principal, org: str, user: str, role: str | None) -> None:
    """Give `user` `role` in `org`, or with `role` None take them out: the org's admins only."""
    with hub.db.session() as s:
        if not is_namespace_admin(s, who, org):
            raise Forbidden(f"Only admins of {org} manage its members")
        if role is None:
            remove_member(s, org, user, actor=who)
        else:
            set_member(s, org, user, role, actor=who)


@dataclass(frozen=True)
class OrgMembers:
    """An org (detached row), its members by name with their roles, and whether the visitor admins it."""

    org: Account
    members: list[tuple[Account, str]]
    is_admin: bool


def org_members(hub: Hub, who: Principal | None, org: str) -> OrgMembers:
    with hub.db.session() as s:
        o = get_account(s, org)
        if o is None or o.kind != "org":
            raise NotFound(f"No organization {org}")
        rows = s.execute(
            select(Account, Membership.role)
            .join(Membership, Membership.user_id == Account.id)
            .where(Membership.org_id == o.id)
            .order_by(Account.name)
        ).all()
        return OrgMembers(o, [(a, r) for a, r in rows], is_namespace_admin(s, who, org))


def user_and_orgs(hub: Hub, name: str) -> tuple[Account, list[Account]]:
    """A user (detached) and the organizations they belong to: `GET /api/users/{user}/overview`."""
    with hub.db.session() as s:
        acc = get_account(s, name)
        if acc is None or acc.kind != "user":
            raise NotFound(f"No user {name}")
        return acc, [o for o, _ in user_orgs(s, acc.id)]
