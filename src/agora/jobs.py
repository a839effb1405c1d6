"""Background work queue, kept in the database so that every server process shares it.

A job is a row. A worker takes one with a compare-and-set UPDATE (status 'queued' -> 'running', its own
claim written in the same statement); when several workers race for a row exactly one UPDATE matches, so
each job runs once. A job whose worker died (running with a stale start) is offered again, a bounded
number of times. Handlers are registered by kind; they compute derived data (parquet conversion, ...)
and must be safe to re-run: the data they write is keyed by the commit it came from.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from .db.models import Job, utcnow

log = logging.getLogger("agora.jobs")

MAX_ATTEMPTS = 3
STALE_AFTER = timedelta(minutes=30)  # a running job older than this lost its worker
Handler = Callable[[Any, Job], None]


def enqueue(s: Session, kind: str, repo_id: int, revision: str) -> None:
    """Queue `kind` for (repo, revision) unless the same work is already waiting."""
    waiting = s.scalar(select(Job.id).where(Job.kind == kind, Job.repo_id == repo_id, Job.revision == revision,
                                            Job.status == "queued"))
    if waiting is None:
        s.add(Job(kind=kind, repo_id=repo_id, revision=revision, status="queued", attempts=0))
        s.flush()


def claim(hub: Any, worker: str, kinds: list[str]) -> Job | None:
    """Take the oldest runnable job, or None. The UPDATE's WHERE is the compare-and-set."""
    stale = utcnow() - STALE_AFTER
    runnable = or_(Job.status == "queued",
                   and_(Job.status == "running", Job.started_at < stale, Job.attempts < MAX_ATTEMPTS))
    with hub.db.session() as s:
        # PostgreSQL: FOR UPDATE SKIP LOCKED, so that racing workers take different rows instead of all
        # trying the same one; SQLite ignores it (one writer at a time) and the CAS below still holds.
        candidates = s.scalars(select(Job.id).where(runnable, Job.kind.in_(kinds)).order_by(Job.id).limit(5)
                               .with_for_update(skip_locked=True)).all()
        for job_id in candidates:
            token = f"{worker}:{uuid.uuid4().hex[:8]}"
            res = s.execute(update(Job).where(Job.id == job_id, runnable).values(
                status="running", claim=token, started_at=utcnow(), attempts=Job.attempts + 1))
            if res.rowcount == 1:
                s.commit()
                job = s.get(Job, job_id)
                if job is not None and job.claim == token:
                    s.expunge(job)
                    return job
    return None


def finish(hub: Any, job: Job, error: str | None = None) -> None:
    with hub.db.session() as s:
        s.execute(update(Job).where(Job.id == job.id, Job.claim == job.claim).values(
            status="failed" if error else "done", error=(error or None) and error[:4000], finished_at=utcnow()))


def pending(s: Session, kind: str, repo_id: int) -> bool:
    return s.scalar(select(Job.id).where(Job.kind == kind, Job.repo_id == repo_id,
                                         Job.status.in_(("queued", "running"))).limit(1)) is not None


class Worker:
    """A daemon thread that polls the queue and runs one job at a time."""

    def __init__(self, hub: Any, handlers: dict[str, Handler], poll: float = 0.5) -> None:
        self.hub = hub
        self.handlers = handlers
        self.poll = poll
        self.name = f"{socket.gethostname()}:{os.getpid()}"
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
            self.handlers[job.kind](self.hub, job)
        except Exception as e:  # the job fails, the worker goes on
            log.exception("%s: failed after %.1fs", what, time.monotonic() - start)
            finish(self.hub, job, f"{type(e).__name__}: {e}")
        else:
            log.info("%s: done in %.1fs", what, time.monotonic() - start)
            finish(self.hub, job)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("job queue poll failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll)
