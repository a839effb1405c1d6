"""Browser sessions and CSRF.

The session cookie carries a random session id (signed, so junk never reaches the database); the session
itself lives in the database (hub/accounts.py: create_session / session_user), so logout, a password change or
disabling the user ends it in every process.

CSRF: a logged-in visitor's token is an HMAC of their session id. A visitor without a session gets a random
`agora_csrf` cookie (HttpOnly, SameSite=Lax) the first time a page is rendered, and their token is an HMAC of
that cookie: a token taken by one visitor does not validate for another (no login CSRF). Forms carry the token
in a hidden field, fetch() calls in the X-CSRF-Token header. Separately, every state-changing post is refused
when its Origin (or, without one, its Referer) names another site.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ..auth import Signer

COOKIE = "agora_session"
CSRF_COOKIE = "agora_csrf"
TTL = 14 * 86400
CSRF_TTL = 365 * 86400
_SID = re.compile(r"[A-Za-z0-9_-]{20,100}")


def make_cookie(signer: Signer, session_id: str) -> str:
    exp, sig = signer.sign("web-session", session_id, ttl=TTL)
    return f"{session_id}.{exp}.{sig}"


def session_id_from(signer: Signer, request: Request) -> str | None:
    """The session id the cookie carries, if its signature holds (the database says whether it is live)."""
    raw = request.cookies.get(COOKIE)
    if not raw or raw.count(".") != 2:
        return None
    sid, exp, sig = raw.split(".")
    if not _SID.fullmatch(sid) or not signer.check(exp, sig, "web-session", sid):
        return None
    return sid


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(COOKIE, value, max_age=TTL, httponly=True, samesite="lax", secure=secure, path="/")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


# ---- CSRF ---------------------------------------------------------------------------------------------------
def _basis(request: Request, create: bool) -> str | None:
    sid = request.scope.get("agora_sid")  # set by Web.who() when the session cookie is live
    if sid:
        return f"s\x1f{sid}"
    value = request.cookies.get(CSRF_COOKIE) or request.scope.get("agora_csrf_new")
    if not value or not _SID.fullmatch(value):
        if not create:
            return None
        value = request.scope["agora_csrf_new"] = secrets.token_urlsafe(24)
    return f"a\x1f{value}"


def csrf_token(signer: Signer, request: Request) -> str:
    """The token for forms rendered now; creates this visitor's CSRF cookie when needed (see remember_csrf)."""
    basis = _basis(request, create=True)
    return hmac.new(signer.key, f"csrf\x1f{basis}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(signer: Signer, request: Request, supplied: str | None) -> bool:
    basis = _basis(request, create=False)
    if not supplied or basis is None:
        return False
    want = hmac.new(signer.key, f"csrf\x1f{basis}".encode(), hashlib.sha256).hexdigest()[:32]
    return hmac.compare_digest(want, supplied)


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie csrf_token() created for this visitor, on the response that carries the form."""
    value = request.scope.get("agora_csrf_new")
    if value:
        response.set_cookie(
            CSRF_COOKIE,
            value,
            max_age=CSRF_TTL,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )


def same_origin(request: Request, public_url: str | None) -> bool:
    """False when the post names another site in Origin (or, lacking it, Referer). Without either header (non-
    browser clients, old browsers) the CSRF token alone decides."""
    source = request.headers.get("origin")
    if source is None:
        source = request.headers.get("referer")
        if not source:
            return True
    if source == "null":
        return False
    try:
        theirs = urlsplit(source)
        netloc = (theirs.netloc or "").lower()
    except ValueError:
        return False
    ours = {request.headers.get("host", "").lower()}
    if public_url:
        ours.add(urlsplit(public_url).netloc.lower())
    ours.discard("")
    return theirs.scheme in ("http", "https") and netloc in ours
