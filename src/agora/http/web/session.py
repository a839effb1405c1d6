"""Browser sessions: a signed, expiring cookie (no server state, so any process can check it) and CSRF.

The CSRF token is an HMAC of the session cookie: forms carry it in a hidden field, fetch() calls in a header.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from ..auth import Signer

COOKIE = "agora_session"
TTL = 14 * 86400


def make_cookie(signer: Signer, user_id: int) -> str:
    exp, sig = signer.sign("session", str(user_id), ttl=TTL)
    return f"{user_id}.{exp}.{sig}"


def user_id_from(signer: Signer, request: Request) -> int | None:
    raw = request.cookies.get(COOKIE)
    if not raw or raw.count(".") != 2:
        return None
    uid, exp, sig = raw.split(".")
    if not uid.isdigit() or not signer.check(exp, sig, "session", uid):
        return None
    return int(uid)


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(COOKIE, value, max_age=TTL, httponly=True, samesite="lax", secure=secure, path="/")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def csrf_token(signer: Signer, request: Request) -> str:
    raw = request.cookies.get(COOKIE, "anonymous")
    return hmac.new(signer.key, f"csrf\x1f{raw}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(signer: Signer, request: Request, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(csrf_token(signer, request), supplied or "")


