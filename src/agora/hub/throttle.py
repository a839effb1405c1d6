"""Log-in throttling: failures counted per key ("ip:…", "user:…") in the database, so that every server
process adds to the same counters.

Below `limit` failures in a window nothing is slowed. From then on each further try must wait a delay that
doubles with every failure (BASE_DELAY, 2×, 4×, …), and never past the end of the window: the window starting
at the first failure ends, the counter starts again. No lockout outlives the window, so nobody can lock the
admin out for good by guessing wrong on purpose.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import LoginFailure, utcnow

if TYPE_CHECKING:
    from .repos import Hub

BASE_DELAY = 15  # seconds, for the first try past the limit


def retry_after(s: Session, limits: Iterable[tuple[str, int]], window: int) -> int:
    """Seconds the caller must wait before trying (0: may try now), over every (key, limit)."""
    now = utcnow()
    wait = 0.0
    for key, limit in limits:
        row = s.get(LoginFailure, key)
        if row is None or row.failures < limit or now - row.first_at >= timedelta(seconds=window):
            continue
        delay = min(float(window), BASE_DELAY * 2.0 ** (row.failures - limit))
        until = min(row.last_at + timedelta(seconds=delay), row.first_at + timedelta(seconds=window))
        wait = max(wait, (until - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def record_failure(s: Session, keys: Iterable[str], window: int) -> None:
    """One more failure for each key, atomically (an UPDATE adds in the database, not in this process)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=window)
    if random.random() < 0.01:  # now and then, forget windows that ended long ago
        s.execute(delete(LoginFailure).where(LoginFailure.first_at < cutoff - timedelta(seconds=window)))
    for key in keys:
        _count(s, key, now, cutoff)


def _count(s: Session, key: str, now: datetime, cutoff: datetime) -> None:
    for _ in range(3):
        if _bump(s, key, now, cutoff):
            return
        try:
            with s.begin_nested():
                s.add(LoginFailure(key=key, failures=1, first_at=now, last_at=now))
            return
        except IntegrityError:  # another process inserted it first: bump theirs
            continue


def _bump(s: Session, key: str, now: datetime, cutoff: datetime) -> bool:
    expired = LoginFailure.first_at < cutoff
    res = s.execute(
        update(LoginFailure)
        .where(LoginFailure.key == key)
        .values(
            failures=case((expired, 1), else_=LoginFailure.failures + 1),
            first_at=case((expired, now), else_=LoginFailure.first_at),
            last_at=now,
        )
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def clear(s: Session, key: str) -> None:
    row = s.get(LoginFailure, key)
    if row is not None:
        s.delete(row)


def take(s: Session, key: str, limit: int, window: int) -> int:
    """Count one request for `key` (a rate limit: at most `limit` per `window` seconds, counted in the same
    table as log-in failures, so every server process adds to one counter): 0 if it may run, else the
    seconds until the window ends. `key` has a prefix of its own ("infer:…"): the clean-up here forgets only
    that prefix's rows (a log-in row's window is longer)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=window)
    if random.random() < 0.01:  # now and then, forget the ended windows of this prefix (never the log-ins')
        prefix = key.split(":", 1)[0] + ":"
        s.execute(
            delete(LoginFailure).where(
                LoginFailure.key.startswith(prefix, autoescape=True),
                LoginFailure.first_at < cutoff - timedelta(seconds=window),
            )
        )
    _count(s, key, now, cutoff)
    s.flush()
    row = s.get(LoginFailure, key)
    if row is None or row.failures <= limit:
        return 0
    left = (row.first_at + timedelta(seconds=window) - utcnow()).total_seconds()
    return max(1, math.ceil(left))


def rate_limited(hub: Hub, key: str, limit: int, window: int) -> int:
    """`take` in a session of its own (the Inference API's per token / per IP limit)."""
    with hub.db.session() as s:
        return take(s, key, limit, window)
