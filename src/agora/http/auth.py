"""Who is asking (Bearer or Basic with the token as password), and URLs that carry their own authorization."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from starlette.requests import Request

from ..errors import Unauthorized
from ..hub import accounts
from ..hub.accounts import Principal
from ..hub.repos import Hub


def credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            _user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Unauthorized("Malformed Basic authorization header") from None
        return password or None
    return None


def principal(hub: Hub, request: Request) -> Principal | None:
    """Runs in a worker thread. An invalid token is an error, not anonymity: the user must know."""
    secret = credential(request)
    if secret is None:
        return None
    who = accounts.authenticated(hub, secret)
    if who is None:
        raise Unauthorized("Invalid credentials in Authorization header")
    return who


class Signer:
    """HMAC-signed, expiring URL capabilities (LFS PUT hrefs are sent without any Authorization)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def sign(self, *parts: str, ttl: int = 3600) -> tuple[str, str]:
        exp = str(int(time.time()) + ttl)
        return exp, self._mac(exp, *parts)

    def _mac(self, exp: str, *parts: str) -> str:
        msg = "\x1f".join((exp, *parts)).encode()
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()

    def check(self, exp: str | None, sig: str | None, *parts: str) -> bool:
        if not exp or not sig or not exp.isdigit() or int(exp) < time.time():
            return False
        return hmac.compare_digest(self._mac(exp, *parts), sig)
