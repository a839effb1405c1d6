"""Browser sessions from the domain's side, each call in a database session of its own: the user of a
session cookie, logging in (throttled, audited), logging out, signing up, changing one's password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..db.models import WebSession
from ..errors import BadRequest
from . import accounts, audit, throttle
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub


def browser_principal(hub: Hub, sid: str) -> Principal | None:
    """The user of the live browser session `sid` (full rights), or None."""
    with hub.db.session() as s:
        found = accounts.live_session(s, sid)
        if found is None:
            return None
        row, user = found
        who = accounts.session_principal(user)
    accounts.note_use(hub, WebSession, row.id, row.last_seen_at)
    return who


@dataclass(frozen=True)
class Login:
    """How a log-in went: "ok" (with the new session's secret), "wait" (throttled: retry after that many
    seconds), "wrong" (user name or password) or "disabled"."""

    outcome: Literal["ok", "wait", "wrong", "disabled"]
    retry_after: int = 0
    session: str | None = None


def log_in(
    hub: Hub,
    name: str,
    password: str,
    ip: str,
    *,
    ip_max_failures: int,
    user_max_failures: int,
    window: int,
    ttl: int,
) -> Login:
    """Check a password, counting failures per address and per user name (hub/throttle.py); a new browser
    session of `ttl` seconds when it is right."""
    keys = [(f"ip:{ip}", ip_max_failures), (f"user:{name.lower()[:150]}", user_max_failures)]
    with hub.db.session() as s:
        wait = throttle.retry_after(s, keys, window)
    if wait:
        return Login("wait", retry_after=wait)
    with hub.db.session() as s:
        user = accounts.check_login(s, name, password)  # the same argon2 work for a missing user
        if user is None:
            throttle.record_failure(s, [k for k, _ in keys], window)
            audit.login(s, name[:96], ip, ok=False)
            return Login("wrong")
        if user.disabled:
            audit.login(s, user, ip, ok=False, detail={"reason": "disabled"})
            return Login("disabled")
        throttle.clear(s, keys[1][0])
        audit.login(s, user, ip)
        return Login("ok", session=accounts.create_session(s, user.id, ttl))


def log_out(hub: Hub, sid: str) -> None:
    with hub.db.session() as s:
        accounts.revoke_session(s, sid)


def sign_up(hub: Hub, name: str, password: str, email: str | None, ttl: int) -> str:
    """A new user (BadRequest, Conflict: the name), logged in: the secret of their first browser session."""
    with hub.db.session() as s:
        uid = accounts.create_user(s, name, password=password, email=email).id
    with hub.db.session() as s:
        return accounts.create_session(s, uid, ttl)


def change_password(hub: Hub, who: Principal, current: str, new: str, keep_session: str) -> str | None:
    """Change `who`'s own password (the current one is required): None, or why not. Every other browser
    session of the user ends."""
    with hub.db.session() as s:
        if accounts.check_login(s, who.name, current) is None:
            return "The current password is wrong."
        try:
            accounts.set_password(s, who.name, new, keep_session=keep_session, actor=who)
        except BadRequest as e:
            return e.message
    return None
