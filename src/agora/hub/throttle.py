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
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import LoginFailure, utcnow

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
        _add(s, key, 1, now, cutoff)


def clear(s: Session, key: str) -> None:
    row = s.get(LoginFailure, key)
    if row is not None:
        s.delete(row)


def take(s: Session, key: str, limit: int, window: int) -> int:
    """Count one request for `key` (a rate limit: at most `limit` per `window` seconds, counted in the same
    table as log-in failures, so every server process adds to one counter): 0 if it may run, else the
    seconds until the window ends. `key` has a prefix of its own ("infer:…"): the clean-up here forgets only
    that prefix's rows (a log-in row's window is longer)."""
    return take_many(s, key, limit, window, 1)[0]


def take_many(s: Session, key: str, limit: int, window: int, n: int) -> tuple[int, int, float]:
    """Count `n` requests for `key` at once: (wait, granted, window_left). `granted` (at most `n`) is how
    many fit under the limit; none fit: `wait` is the seconds until the window ends. `window_left`: seconds
    the window has to run. One statement in the common case (an UPDATE that returns the new count)."""
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
    counted = _add(s, key, n, now, cutoff)
    failures, first_at = counted
    left = (first_at + timedelta(seconds=window) - utcnow()).total_seconds()
    granted = max(0, min(n, limit - (failures - n)))
    if granted:
        return 0, granted, left
    return max(1, math.ceil(left)), 0, left


def _add(s: Session, key: str, n: int, now: datetime, cutoff: datetime) -> tuple[int, datetime]:
    """Add `n` to `key`'s count (a window that ended starts again at `n`): its new (count, window start)."""
    expired = LoginFailure.first_at < cutoff
    bump = (
        update(LoginFailure)
        .where(LoginFailure.key == key)
        .values(
            failures=case((expired, n), else_=LoginFailure.failures + n),
            first_at=case((expired, now), else_=LoginFailure.first_at),
            last_at=now,
        )
        .returning(LoginFailure.failures, LoginFailure.first_at)
    )
    for _ in range(3):
        row = s.execute(bump).first()
        if row is not None:
            return int(row[0]), row[1]
        try:
            with s.begin_nested():
                s.add(LoginFailure(key=key, failures=n, first_at=now, last_at=now))
            return n, now
        except IntegrityError:  # another process inserted it first: add to theirs
            continue
    raise RuntimeError(f"could not count {key!r}")  # pragma: no cover - three lost races in a row


LEASE_PARTS = 64  # a process leases a 64th of a limit at a time (at least 1)
MAX_LEASES = 10_000  # keys a process keeps leases for (callers' IPs are many): past it, ended ones go


class Leases:
    """A process's leases on rate limits counted in the database (`take_many`). A limit of L per window is
    taken L/64 requests at a time; the process then spends its lease without a database write until it is
    used up or its window ends. The database still counts every leased request, so all processes together
    never let more than L through; a lease left unspent when its window ends is lost (a caller spread over
    many processes may get slightly fewer than L). A limit below 128 is counted one request at a time."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._left: dict[str, tuple[int, float]] = {}  # key -> (requests left, monotonic end of window)

    def take(self, s: Session, key: str, limit: int, window: int) -> int:
        """0 if one more request of `key` may run (counted), else the seconds to wait."""
        now = time.monotonic()
        with self._mu:
            left, until = self._left.get(key, (0, 0.0))
            if left > 0 and now < until:
                self._left[key] = (left - 1, until)
                return 0
        wait, granted, window_left = take_many(s, key, limit, window, max(1, limit // LEASE_PARTS))
        if granted > 1:
            with self._mu:
                if len(self._left) >= MAX_LEASES:
                    self._left = {k: v for k, v in self._left.items() if v[1] > now}
                self._left[key] = (granted - 1, now + window_left)
        return wait
