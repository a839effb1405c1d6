"""Organizations' full names and avatars (issue 17): set by the org's admins (the org settings page, `agora org
create --fullname`), shown in whoami, listings and pages.

An avatar is stored in the database (account_avatars), at most MAX_BYTES, and only if its first bytes are
those of a PNG, JPEG, GIF or WebP image: its content type comes from those bytes, never from the uploader,
and SVG (which can carry script) is refused. Accounts without one get a generated picture (`default_svg`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..db.models import Account, AccountAvatar, utcnow
from ..errors import BadRequest, Forbidden, NotFound, TooLarge
from . import accounts, audit
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

MAX_BYTES = 256 * 1024
MAX_FULLNAME = 200
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str | None:
    """The content type the bytes are, among the accepted images; None otherwise."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for magic, t in _MAGIC if data.startswith(magic)), None)


def _admin_org(s: Session, who: Principal | None, org: str) -> Account:
    o = accounts.get_account(s, org)
    if o is None or o.kind != "org":
        raise NotFound(f"No organization {org}")
    if not accounts.is_namespace_admin(s, who, o.name):
        raise Forbidden(f"Only an admin of {o.name!r} can change its profile")
    return o


def set_fullname(hub: Hub, who: Principal | None, org: str, fullname: str) -> None:
    fullname = (fullname or "").strip()
    if len(fullname) > MAX_FULLNAME or any(ord(c) < 32 for c in fullname):
        raise BadRequest(f"The full name must be one line of at most {MAX_FULLNAME} characters")
    with hub.db.session() as s:
        o = _admin_org(s, who, org)
        o.fullname = fullname or o.name
        audit.record(s, who, "org.profile", o.name, {"fullname": o.fullname})


def set_avatar(hub: Hub, who: Principal | None, org: str, data: bytes) -> str:
    """Store `data` as the org's avatar; its content type."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"The avatar is {len(data)} bytes: at most {MAX_BYTES} allowed")
    ctype = image_type(data)
    if ctype is None:
        raise BadRequest("The avatar must be a PNG, JPEG, GIF or WebP image")
    with hub.db.session() as s:
        o = _admin_org(s, who, org)
        row = s.get(AccountAvatar, o.id)
        if row is None:
            s.add(AccountAvatar(account_id=o.id, content_type=ctype, data=data, updated_at=utcnow()))
        else:
            row.content_type, row.data, row.updated_at = ctype, data, utcnow()
        audit.record(s, who, "org.avatar", o.name, {"bytes": len(data)})
    return ctype


def avatar(hub: Hub, name: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of the account's avatar; None when it has none (or there is no such account)."""
    with hub.db.session() as s:
        acc = accounts.get_account(s, name)
        row = s.get(AccountAvatar, acc.id) if acc is not None else None
        return (row.content_type, row.data) if row is not None else None


def default_svg(name: str) -> bytes:
    """A generated picture: the name's first letter on a colour derived from the name (names are ASCII
    letters, digits, '-', '_', '.': nothing to escape)."""
    hue = sum(name.encode()) * 37 % 360
    letter = (name[:1] or "?").upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="hsl({hue},55%,55%)"/>'
        '<text x="32" y="43" font-family="sans-serif" font-size="32" text-anchor="middle" fill="#fff">'
        f"{letter}</text></svg>"
    ).encode()
