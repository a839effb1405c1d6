"""Background work queue, kept in the database so that every server process shares it.

A job is a row. A worker takes one with a compare-and-set UPDATE (status 'queued' -> 'running', its own
claim written in the same statement); when several workers race for a row exactly one UPDATE matches, so
each job runs once. While a job runs its worker renews the job's lease (`heartbeat_at`, every HEARTBEAT
seconds); a running job whose lease lapsed (LEASE) lost its worker and is offered again, a bounded number
of times, and so is, at once, a job whose worker process on this host is gone (`hub/startup.py`, run when
a server starts). What a job computes is declared in the registry of derived artefacts
(`hub/artefacts.py`): a job's kind is an artefact's name, the worker runs the artefact's job function, and
when a job succeeds it queues the artefacts declared to follow it. Job functions must be safe to re-run: the
data they write is keyed by the commit (or content) it came from, and carries the artefact's version. When a
worker starts it queues again the stored results that an older version of their job made.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import and_, or_, select, update

from .config import Settings
from .db.models import Job, utcnow
from .db.session import Database
from .hub import startup
from .hub.artefacts import REGISTRY, Handler, Registry, enqueue, pending
from .hub.startup import HEARTBEAT, LEASE, MAX_ATTEMPTS

log = logging.getLogger("agora.jobs")

__all__ = [
    "HEARTBEAT",
    "LEASE",
    "MAX_ATTEMPTS",
    "Handler",
    "Worker",
    "claim",
    "enqueue",
    "finish",
    "heartbeat",
    "pending",
    "requeue_outdated",
]


class HasDb(Protocol):
    """What the queue needs of the Hub (tests pass a stand-in holding only the database)."""

    db: Database


def claim(hub: HasDb, worker: str, kinds: list[str]) -> Job | None:
    """Take the oldest runnable job, or None. The UPDATE's WHERE is the compare-and-set."""
    runnable = or_(Job.status == "queued", and_(startup.lapsed(utcnow()), Job.attempts < MAX_ATTEMPTS))
    with hub.db.session() as s:
        # PostgreSQL: FOR UPDATE SKIP LOCKED, so that racing workers take different rows instead of all
        # trying the same one; SQLite ignores it (one writer at a time) and the CAS below still holds.
        candidates = s.scalars(
            select(Job.id)
            .where(runnable, Job.kind.in_(kinds))
            .order_by(Job.id)
            .limit(5)
            .with_for_update(skip_locked=True)
        ).all()
        for job_id in candidates:
            token = f"{worker}:{uuid.uuid4().hex[:8]}"
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, runnable)
                .values(
                    status="running",
                    claim=token,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    attempts=Job.attempts + 1,
                )
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.commit()
                job = s.get(Job, job_id)
                if job is not None and job.claim == token:
                    s.expunge(job)
                    return job
    return None


def heartbeat(hub: HasDb, job: Job) -> bool:
    """Renew the lease of a job this worker runs; False when the job is no longer its own."""
    with hub.db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.claim == job.claim, Job.status == "running")
            .values(heartbeat_at=utcnow())
        )
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


class _Beating:
    """A thread that renews a running job's lease until the block ends."""

    def __init__(self, hub: HasDb, job: Job, every: float) -> None:
        self.hub, self.job, self.every = hub, job, every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"agora-job-{job.id}-heartbeat", daemon=True)

    def __enter__(self) -> _Beating:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            try:
                heartbeat(self.hub, self.job)
            except Exception:  # a missed beat is retried; the lease outlives several
                log.warning("job %s: heartbeat failed", self.job.id, exc_info=True)


def finish(hub: HasDb, job: Job, error: str | None = None, registry: Registry = REGISTRY) -> None:
    """Record the outcome; a success queues, in the same transaction, the artefacts that follow this one."""
    with hub.db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.claim == job.claim)
            .values(
                status="failed" if error else "done",
                error=(error or None) and error[:4000],
                finished_at=utcnow(),
            )
        )
        if error is None and res.rowcount == 1:  # type: ignore[attr-defined]
            for then in registry.after(job.kind):
                enqueue(s, then.name, job.repo_id, job.revision)


def requeue_outdated(hub: HasDb, registry: Registry = REGISTRY) -> int:
    """Queue again every stored result that an older version of its artefact's job made; returns how many."""
    with hub.db.session() as s:
        stale = registry.outdated(s)
        for a, repo_id, revision in stale:
            enqueue(s, a.name, repo_id, revision)
    for name in sorted({a.name for a, _, _ in stale}):
        keys = [f"{repo_id}@{revision[:12]}" for a, repo_id, revision in stale if a.name == name]
        log.info(
            "%s: %d results of an older version queued again (repo@revision: %s%s)",
            name,
            len(keys),
            ", ".join(keys[:20]),
            ", ..." if len(keys) > 20 else "",
        )
    return len(stale)


class Worker:
    """A daemon thread that polls the queue and runs one job at a time.

    By default it takes every kind the registry of derived artefacts declares a job for, and calls the
    artefact's job function with `settings` (required then). Explicit `handlers` ({kind: fn(hub, job)}) are
    used instead of the registry's (tests run stand-in work this way)."""

    def __init__(
        self,
        hub: HasDb,
        handlers: Mapping[str, Handler] | None = None,
        poll: float = 0.5,
        *,
        settings: Settings | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        if handlers is not None:
            self.handlers = dict(handlers)
        elif settings is not None:
            self.handlers = registry.handlers(settings)
        else:
            raise ValueError("a Worker running the registry's jobs needs the settings to give them")
        self.hub = hub
        self.registry = registry
        self.from_registry = handlers is None
        self.poll = poll
        self.name = f"{startup.host()}:{startup.owner()}"  # a claim names this process (hub/startup.py)
        self.heartbeat = HEARTBEAT
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agora-jobs", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> bool:
        job = claim(self.hub, self.name, list(self.handlers))
        if job is None:
            return False
        what = f"job {job.id} {job.kind} repo={job.repo_id} rev={job.revision[:12]} attempt={job.attempts}"
        log.info("%s: started", what)
        start = time.monotonic()
        try:
            with _Beating(self.hub, job, self.heartbeat):
                self.handlers[job.kind](self.hub, job)
        except Exception as e:  # the job fails, the worker goes on
            log.exception("%s: failed after %.1fs", what, time.monotonic() - start)
            finish(self.hub, job, f"{type(e).__name__}: {e}", self.registry)
        else:
            log.info("%s: done in %.1fs", what, time.monotonic() - start)
            finish(self.hub, job, registry=self.registry)
        return True

    def _run(self) -> None:
        if self.from_registry:
            try:
                requeue_outdated(self.hub, self.registry)
            except Exception:
                log.exception("queueing results of older artefact versions failed")
        next_reclaim = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_reclaim:  # jobs of dead workers elsewhere; fail the hopeless ones
                next_reclaim = time.monotonic() + LEASE.total_seconds()
                try:
                    startup.reclaim_jobs(self.hub.db)
                except Exception:
                    log.exception("reclaiming the jobs of dead workers failed")
            try:
                busy = self.run_once()
            except Exception:
                log.exception("job queue poll failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll)
