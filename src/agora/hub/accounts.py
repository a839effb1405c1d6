"""Users, organizations, memberships, tokens and the permission checks every surface uses."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Account, Membership, Repo, Token, utcnow
from . import names
from .errors import BadRequest, Conflict, NotFound
from .ids import check_namespace

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


def _digest(secret: str) -> str:
    # Tokens are long random secrets: a fast hash is enough (argon2 is for human passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def get_account(s: Session, name: str) -> Account | None:
    """The user or org called `name`, in any case: names compare without case, as on the Hub."""
    return names.account(s, name)


def require_user(s: Session, name: str) -> Account:
    acc = get_account(s, name)
    if acc is None or acc.kind != "user":
        raise NotFound(f"User {name!r} not found")
    return acc


def create_user(s: Session, name: str, password: str | None = None, admin: bool = False,
                email: str | None = None, fullname: str = "") -> Account:
    check_namespace(name)
    if names.name_taken(s, name):
        raise Conflict(f"The name {name!r} is already taken (names compare without case)")
    acc = Account(name=name, kind="user", fullname=fullname or name, email=email, is_admin=admin,
                  password_hash=hash_password(password) if password else None)
    _add_account(s, acc)
    return acc


def _add_account(s: Session, acc: Account) -> None:
    """Insert a new account; a concurrent creation of the same name (in any case) is a Conflict."""
    try:
        with s.begin_nested():
            s.add(acc)
            s.flush()
    except IntegrityError:
        raise Conflict(f"The name {acc.name!r} is already taken (names compare without case)") from None


def create_org(s: Session, name: str, owner: str, fullname: str = "") -> Account:
    check_namespace(name)
    user = require_user(s, owner)
    if names.name_taken(s, name):
        raise Conflict(f"The name {name!r} is already taken (names compare without case)")
    org = Account(name=name, kind="org", fullname=fullname or name)
    _add_account(s, org)
    s.add(Membership(org_id=org.id, user_id=user.id, role="admin"))
    s.flush()
    return org


def set_member(s: Session, org: str, user: str, role: str) -> None:
    if role not in ROLES:
        raise BadRequest(f"Invalid role {role!r}: use read, write or admin")
    o = get_account(s, org)
    if o is None or o.kind != "org":
        raise NotFound(f"Organization {org!r} not found")
    u = require_user(s, user)
    m = s.scalar(select(Membership).where(Membership.org_id == o.id, Membership.user_id == u.id))
    if m:
        m.role = role
    else:
        s.add(Membership(org_id=o.id, user_id=u.id, role=role))
    s.flush()


def user_orgs(s: Session, user_id: int) -> list[tuple[Account, str]]:
    rows = s.execute(select(Account, Membership.role).join(Membership, Membership.org_id == Account.id)
                     .where(Membership.user_id == user_id)).all()
    return [(a, r) for a, r in rows]


def create_token(s: Session, user: str, role: str = "write", name: str | None = None) -> str:
    if role not in ("read", "write"):
        raise BadRequest(f"Invalid token role {role!r}: use read or write")
    u = require_user(s, user)
    secret = "hf_" + "".join(secrets.choice(_ALNUM) for _ in range(34))
    s.add(Token(user_id=u.id, name=name or f"token-{secrets.token_hex(3)}", role=role, digest=_digest(secret)))
    s.flush()
    return secret


def revoke_token(s: Session, user: str, name_or_secret: str) -> int:
    u = require_user(s, user)
    rows = s.scalars(select(Token).where(Token.user_id == u.id, Token.revoked.is_(False))).all()
    hits = [t for t in rows if t.name == name_or_secret or t.digest == _digest(name_or_secret)]
    for t in hits:
        t.revoked = True
    return len(hits)


def list_tokens(s: Session, user: str) -> list[Token]:
    u = require_user(s, user)
    return list(s.scalars(select(Token).where(Token.user_id == u.id, Token.revoked.is_(False))))


def authenticate(s: Session, secret: str) -> Principal | None:
    tok = s.scalar(select(Token).where(Token.digest == _digest(secret), Token.revoked.is_(False)))
    if tok is None:
        return None
    user = s.get(Account, tok.user_id)
    if user is None:
        return None
    tok.last_used_at = utcnow()
    return Principal(user.id, user.name, user.is_admin, tok.role, tok.name,
                     tok.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


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
    return s.scalar(select(Membership.role).where(Membership.org_id == acc.id, Membership.user_id == who.user_id))


def can_read(s: Session, who: Principal | None, repo: Repo) -> bool:
    return not repo.private or namespace_role(s, who, repo.namespace) is not None


def can_write(s: Session, who: Principal | None, repo: Repo) -> bool:
    return who is not None and who.can_write_at_all and can_write_namespace(s, who, repo.namespace)


def can_write_namespace(s: Session, who: Principal | None, namespace: str) -> bool:
    return who is not None and who.can_write_at_all and namespace_role(s, who, namespace) in ("write", "admin")


def is_namespace_admin(s: Session, who: Principal | None, namespace: str) -> bool:
    return who is not None and who.can_write_at_all and namespace_role(s, who, namespace) == "admin"
