"""Who may run a model, in one visit to the database: the Inference API's check before each request.

A warm model answers in a few milliseconds, so the checks a request needs (the token's owner, the repo
they may read, the rate limit's counter, the gate) share one session and one thread hop instead of four:
measured on 2 cores, the separate visits cost ~4 ms of a ~10 ms call (bench/README.md, inference.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..db.models import Token
from ..errors import Unauthorized
from ..ids import RepoId
from . import accounts, gating, reconcile, throttle
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub, Repo

INVALID = "Invalid credentials in Authorization header"
LEASES = throttle.Leases()  # this process's leases on the callers' rate limits


@dataclass(frozen=True)
class Admission:
    who: Principal | None
    repo: Repo  # detached: read its attributes only
    wait: int  # seconds until the rate limit lets the caller in again; 0: within it
    gated: bool  # the repo is gated and `who` has no access to it


@dataclass(frozen=True)
class RateLimit:
    limit: int  # requests per window; 0: no limit
    window: int  # seconds


def admit(
    hub: Hub, secret: str | None, ip: str, rid: RepoId, rate: RateLimit, browser: Principal | None = None
) -> Admission:
    """The model `rid` if the caller (a token's owner, `browser`: a logged-in visitor's page without a
    token, or anonymous from `ip`) may read it (else
    RepoNotFound; an unknown token is Unauthorized), with the caller counted against the rate limit (per
    user, or per IP when anonymous; leased from the database's counter: throttle.Leases) and whether its
    gate is shut to them. The caller raises the 429 and 403
    from `wait` and `gated`: the count is committed either way, as a refused request still counts."""
    with hub.db.session() as s:
        found = accounts.live_token(s, secret) if secret is not None else None
        if secret is not None and found is None:
            raise Unauthorized(INVALID)
        who = accounts.token_principal(*found) if found is not None else browser
        repo = hub.find(s, who, rid)
        wait = 0
        if rate.limit > 0:
            key = f"infer:user:{who.name}" if who is not None else f"infer:ip:{ip}"
            wait = LEASES.take(s, key[:200], rate.limit, rate.window)
        gated = not gating.passes_gate(s, who, repo)
    if found is not None:
        accounts.note_use(hub, Token, found[0].id, found[0].last_used_at)
    if reconcile.notice(hub, repo):  # git's main moved without the database knowing: repaired now
        repo = hub.open_repo(who, rid, False)
    return Admission(who, repo, wait, gated)
